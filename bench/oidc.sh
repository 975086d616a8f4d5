#!/usr/bin/env bash
# The OpenID provider under load, on loopback, bounded in time; stops its servers when done.
# On SQLite and on PostgreSQL, an ES256 confidential client (client_secret_basic):
#   1. refresh grants/s (each answer's rotated token is the next request's);
#   2. UserInfo requests/s, and the ratio to a bare axum JSON handler measured beside it;
#   3. whole authorization-code flows/s: authorize (signed in, consent remembered) → code →
#      token endpoint.
# Keycloak's sizing guide plans 120 refresh grants/s per vCPU; the aims on this 2-core
# machine: refresh ≥ 2,400/s, UserInfo ≥ 0.5 of the bare handler, flows ≥ 500/s.
# Usage: bench/oidc.sh [seconds]
# PostgreSQL: PALISADE_BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test;
# the bench creates and drops its own database.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
command -v wrk >/dev/null || { echo "bench/oidc.sh needs wrk (apt-get install wrk)" >&2; exit 2; }
cargo build --quiet --release -p palisade-service --example bare_json
bin=${PALISADE_BENCH_BIN:-target/release/palisade}
[ -n "${PALISADE_BENCH_BIN:-}" ] || cargo build --quiet --release -p palisade-cli --bin palisade
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
secret=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
hash=$(printf '%s' "$secret" | sha256sum | cut -d' ' -f1)
redirect="http://127.0.0.1:9/callback"

start() { # name port [env...]
  local name=$1 port=$2; shift 2
  mkdir -p "$work/$name"
  cat > "$work/$name.toml" <<TOML
listen = "127.0.0.1:$port"
public_origin = "http://127.0.0.1:$port"
data_dir = "$work/$name"
[[oidc.clients]]
id = "bench"
name = "Bench"
secret_sha256 = "$hash"
redirect_uris = ["$redirect"]
signing_alg = "ES256"
TOML
  env "$@" "$bin" serve --config "$work/$name.toml" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.2; done
  cat "$work/$name.log" >&2; exit 1
}
rps() { # connections url [wrk args...]
  local c=$1; shift
  wrk -t2 -c"$c" -d"${secs}s" "$@" | awk '/Requests\/sec/ {print $2}'
}
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
ratio() { awk -v s="$1" -v b="$2" 'BEGIN { printf "%.2f", s/b }'; }

measure() { # label port
  local port=$2 origin="http://127.0.0.1:$2"
  python3 bench/oidc/prepare.py "$origin" bench "$secret" "$redirect" 256 > "$work/$1.json"
  python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["refresh_tokens"]))' "$work/$1.json" > "$work/$1.refresh"
  field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/$1.json" "$2"; }
  local basic access cookie authorize verifier redir
  basic=$(field "$1" basic); access=$(field "$1" access_token); cookie=$(field "$1" cookie)
  authorize=$(field "$1" authorize); verifier=$(field "$1" verifier); redir=$(field "$1" redirect)
  local grants
  grants=$(wrk -t2 -c32 -d"${secs}s" -s bench/oidc/refresh.lua "$origin" -- "$work/$1.refresh" 2 "$basic" | awk '/^grants/ {print $6 " (" $4 " refused)"}')
  local us=() qs=()
  for _ in 1 2 3; do
    local b u
    b=$(rps 64 "http://127.0.0.1:18290/api/v1/me")
    u=$(rps 64 -H "Authorization: Bearer $access" "$origin/oauth2/userinfo")
    us+=("$u"); qs+=("$(ratio "$u" "$b")")
  done
  local flows
  flows=$(wrk -t2 -c32 -d"${secs}s" -s bench/oidc/flow.lua "$origin" -- "$authorize" "$cookie" "$basic" "$redir" "$verifier" | awk '/^flows/ {print $6 " (" $4 " refused)"}')
  printf "  %-10s refresh grants/s %-16s UserInfo/s %s (ratio %s)   code flows/s %s\n" \
    "$1" "$grants" "$(median "${us[@]}")" "$(median "${qs[@]}")" "$flows"
}

target/release/examples/bare_json 127.0.0.1:18290 & pids+=($!)
start sqlite 18291
pg_admin=${PALISADE_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
pg_db="palisade_oidc_bench_$$"
have_pg=0
if psql "$pg_admin" -qc "CREATE DATABASE $pg_db" 2>/dev/null; then
  have_pg=1
  trap 'cleanup; psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
  start postgres 18292 DATABASE_URL="${pg_admin%/*}/$pg_db"
fi
sleep 0.5
echo "OpenID provider, ES256, ${secs}s rounds (UserInfo: median of 3, 64 connections; grants and flows: 32):"
measure sqlite 18291
[ $have_pg = 1 ] && measure postgres 18292 || echo "  (PostgreSQL not reachable at $pg_admin: skipped)"
