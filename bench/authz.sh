#!/usr/bin/env bash
# Forward-auth benchmarks, on loopback, bounded in time; stops its servers when done.
#   1. an app (the bare axum JSON handler) behind nginx, without auth and with palisade's
#      auth_request as docs/forward-auth.md configures it: requests/s of both, and their ratio
#      (aim: the protected app keeps >= 0.6 of its throughput);
#   2. the auth-request endpoint alone against the bare axum JSON handler, on SQLite (aim:
#      >= 0.5) and on PostgreSQL (aim: >= 0.33; PALISADE_BENCH_DATABASE_URL, default
#      postgres://postgres@127.0.0.1:5432/test, where the bench creates and drops a database).
# Each figure is the median of 3 rounds, each round measuring its pair back to back.
# Usage: bench/authz.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
for tool in wrk nginx curl; do
  command -v $tool >/dev/null || { echo "bench/authz.sh needs $tool (apt-get install wrk nginx-light curl)" >&2; exit 2; }
done
cargo build --quiet --release -p palisade-service --example bare_json
bin=${PALISADE_BENCH_BIN:-target/release/palisade}
[ -n "${PALISADE_BENCH_BIN:-}" ] || cargo build --quiet --release -p palisade-cli --bin palisade
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

app=18290 palisade=18291 plain=18292 guarded=18293 pg_palisade=18294
target/release/examples/bare_json 127.0.0.1:$app & pids+=($!)
cat > "$work/palisade.toml" <<TOML
public_origin = "http://127.0.0.1:$palisade"
trusted_proxies = ["127.0.0.1"]

[[access_control.rules]]
domain = ["127.0.0.1", "app.example.com"]
resources = ["/public/.*"]
policy = "bypass"

# A rule naming a group, as most deployments have: every answer then needs the user's groups.
[[access_control.rules]]
domain = ["127.0.0.1", "app.example.com"]
resources = ["/admin(/.*)?"]
subject = "group:admins"
policy = "authenticated"

[[access_control.rules]]
domain = ["127.0.0.1", "app.example.com"]
policy = "authenticated"
TOML
start() { # name port [env...]
  local name=$1 port=$2; shift 2
  env "$@" "$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/$name" --config "$work/palisade.toml" \
    2>"$work/$name.log" & pids+=($!)
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.2; done
  cat "$work/$name.log" >&2; exit 1
}
session() { # port: a session token of a new user
  curl -sf -X POST "http://127.0.0.1:$1/api/v1/register" -H 'content-type: application/json' \
    -d '{"username":"bench","email":"bench@example.com","password":"gravel orbit violet canteen"}' >/dev/null
  curl -sf -X POST "http://127.0.0.1:$1/api/v1/login" -H 'content-type: application/json' \
    -d '{"identifier":"bench","password":"gravel orbit violet canteen"}' | sed 's/.*"token":"\([^"]*\)".*/\1/'
}
start sqlite $palisade
cookie="Cookie: __Host-palisade-session=$(session $palisade)"
pg_admin=${PALISADE_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
pg_db="palisade_authz_bench_$$"
pg_cookie=""
if psql "$pg_admin" -qc "CREATE DATABASE $pg_db" 2>/dev/null; then
  trap 'cleanup; psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
  start postgres $pg_palisade DATABASE_URL="${pg_admin%/*}/$pg_db"
  pg_cookie="Cookie: __Host-palisade-session=$(session $pg_palisade)"
fi

# nginx twice, one worker each: the app alone, and the app behind docs/forward-auth.md's auth_request.
site=$(awk '/<!-- nginx -->/ {on=1; next} on && /^```nginx/ {grab=1; next} grab && /^```/ {exit} grab {print}' docs/forward-auth.md)
nginx_conf() { # prefix server-block
  mkdir -p "$1/logs"
  cat > "$1/nginx.conf" <<CONF
daemon off; worker_processes 1; pid $1/nginx.pid; error_log $1/logs/error.log;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path $1/body; proxy_temp_path $1/proxy;
fastcgi_temp_path $1/fastcgi; uwsgi_temp_path $1/uwsgi; scgi_temp_path $1/scgi;
$2
}
CONF
}
nginx_conf "$work/plain" "server { listen 127.0.0.1:$plain; location / { proxy_pass http://127.0.0.1:$app; } }"
# The documented server as plain HTTP on loopback (wrk would send no SNI for 127.0.0.1): the
# same locations, the same auth_request, the same catch-all; requests name the app's Host.
nginx_conf "$work/guarded" "$(printf '%s\n' "$site" | sed -e "s/listen 443 ssl/listen 127.0.0.1:$guarded/" \
  -e '/ssl_certificate\|ssl_reject_handshake/d' -e "s/accounts.internal:8080/127.0.0.1:$palisade/" \
  -e "s/accounts.internal:9091/127.0.0.1:$palisade/" -e "s/app.internal:3000/127.0.0.1:$app/")"
nginx -p "$work/plain" -c "$work/plain/nginx.conf" & pids+=($!)
nginx -p "$work/guarded" -c "$work/guarded/nginx.conf" & pids+=($!)
sleep 0.5
code=$(curl -s -o /dev/null -w '%{http_code}' -H "$cookie" -H "Host: app.example.com" "http://127.0.0.1:$guarded/api/v1/me")
[ "$code" = 200 ] || { echo "the guarded app answered $code" >&2; cat "$work/guarded/logs/error.log" >&2; exit 1; }

rps() { # connections url [wrk args...]
  local c=$1; shift
  wrk -t2 -c"$c" -d"${secs}s" "$@" | awk '/Requests\/sec/ {print $2}'
}
ratio() { awk -v s="$1" -v b="$2" 'BEGIN { printf "%.2f", s/b }'; }
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
pair() { # label connections baseline-url measured-url [wrk args for the measured one...]
  local label=$1 c=$2 base=$3 url=$4; shift 4
  local bs=() ms=() qs=()
  for _ in 1 2 3; do
    local b m
    b=$(rps "$c" "$base"); m=$(rps "$c" "$@" "$url")
    bs+=("$b"); ms+=("$m"); qs+=("$(ratio "$m" "$b")")
  done
  printf "  %-56s %3s conn: %9s vs %9s req/s, ratio %s\n" "$label" "$c" "$(median "${ms[@]}")" "$(median "${bs[@]}")" "$(median "${qs[@]}")"
}
echo "forward-auth, ${secs}s rounds, median of 3 (measured vs its baseline):"
for c in 32 64; do
  pair "app behind nginx + palisade vs nginx alone" $c \
    "http://127.0.0.1:$plain/api/v1/me" "http://127.0.0.1:$guarded/api/v1/me" -H "$cookie" -H "Host: app.example.com"
done
endpoint() { # label port cookie
  for c in 32 64; do
    pair "auth-request endpoint on $1 vs bare axum handler" $c \
      "http://127.0.0.1:$app/api/v1/me" "http://127.0.0.1:$2/api/v1/authz/auth-request" \
      -H "$3" -H "X-Original-Method: GET" -H "X-Original-URL: http://127.0.0.1/api/v1/me"
  done
}
endpoint SQLite $palisade "$cookie"
if [ -n "$pg_cookie" ]; then
  endpoint PostgreSQL $pg_palisade "$pg_cookie"
else
  echo "  PostgreSQL: skipped (cannot create a database at $pg_admin)"
fi
