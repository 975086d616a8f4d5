#!/usr/bin/env bash
# Service benchmarks, on loopback, bounded in time; stops its servers when done.
#   1. authenticated GET /api/v1/me: requests/s on SQLite and on PostgreSQL, with a bare
#      axum JSON handler measured in the same run as the baseline;
#   2. a login flood: passwords hashed per second against the machine's limit (the
#      service's hashing threads alone, examples/hash_rate), /healthz p99 latency and that
#      of a request that reads the database (GET /api/v1/sessions) during the flood, peak
#      memory.
# Usage: bench/service.sh [seconds] [me|flood]   (both by default)
# PostgreSQL: PALISADE_BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test;
# the bench creates and drops its own database.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
only=${2:-}
command -v wrk >/dev/null || { echo "bench/service.sh needs wrk (apt-get install wrk)" >&2; exit 2; }
cargo build --quiet --release -p palisade-service --example bare_json --example hash_rate
# PALISADE_BENCH_BIN: another build to measure (an older one, to compare) against the same baseline.
bin=${PALISADE_BENCH_BIN:-target/release/palisade}
[ -n "${PALISADE_BENCH_BIN:-}" ] || cargo build --quiet --release -p palisade-cli --bin palisade
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

start() { # name port [env...]
  local name=$1 port=$2; shift 2
  env "$@" "$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/$name" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.2; done
  cat "$work/$name.log" >&2; exit 1
}
token() { # port
  curl -sf -X POST "http://127.0.0.1:$1/api/v1/register" -H 'content-type: application/json' \
    -d '{"username":"bench","email":"bench@example.com","password":"gravel orbit violet canteen"}' >/dev/null
  curl -sf -X POST "http://127.0.0.1:$1/api/v1/login" -H 'content-type: application/json' \
    -d '{"identifier":"bench","password":"gravel orbit violet canteen"}' | sed 's/.*"token":"\([^"]*\)".*/\1/'
}
rps() { # connections url [wrk args...]
  local c=$1; shift
  wrk -t2 -c"$c" -d"${secs}s" "$@" | awk '/Requests\/sec/ {print $2}'
}
ratio() { awk -v s="$1" -v b="$2" 'BEGIN { printf "%.2f", s/b }'; }

target/release/examples/bare_json 127.0.0.1:18190 & pids+=($!)
start sqlite 18191
pg_admin=${PALISADE_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
pg_db="palisade_bench_$$"
have_pg=0
if psql "$pg_admin" -qc "CREATE DATABASE $pg_db" 2>/dev/null; then
  have_pg=1
  trap 'cleanup; psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
  start postgres 18192 DATABASE_URL="${pg_admin%/*}/$pg_db"
fi
sleep 0.5
# The baseline drifts by ±15% from run to run on a shared machine: each figure is the
# median of three rounds, each round measuring the bare handler and palisade back to back.
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
measure() { # label port
  local t; t=$(token "$2")
  for how in bearer cookie; do
    local header="Authorization: Bearer $t"
    [ $how = cookie ] && header="Cookie: __Host-palisade-session=$t"
    local row=()
    for c in 32 64; do
      local rs=() qs=()
      for _ in 1 2 3; do
        local b r
        b=$(rps "$c" "http://127.0.0.1:18190/api/v1/me")
        r=$(rps "$c" -H "$header" "http://127.0.0.1:$2/api/v1/me")
        rs+=("$r"); qs+=("$(ratio "$r" "$b")")
      done
      row+=("$(median "${rs[@]}") ($(median "${qs[@]}"))")
    done
    printf "  %-34s %22s %22s\n" "palisade on $1, $how" "${row[0]}" "${row[1]}"
  done
}
if [ "$only" != flood ]; then
  echo "GET /api/v1/me, requests/s and ratio to the bare axum JSON handler measured beside it"
  echo "(median of 3 rounds of ${secs}s each):"
  printf "  %-34s %22s %22s\n" "" "32 connections" "64 connections"
  measure SQLite 18191
  if [ $have_pg = 1 ]; then
    measure PostgreSQL 18192
  else
    echo "  PostgreSQL: skipped (cannot create a database at $pg_admin)"
  fi
fi
[ "$only" = me ] && exit 0

# Login flood against a fresh SQLite instance that trusts loopback as a proxy, so that each
# request can claim its own client address (a distributed attack: no per-address limit).
cat > "$work/flood.toml" <<TOML
trusted_proxies = ["127.0.0.1/32"]
TOML
"$bin" serve --listen 127.0.0.1:18193 --data-dir "$work/flood" --config "$work/flood.toml" 2>"$work/flood.log" & flood_pid=$!
pids+=($flood_pid)
for _ in $(seq 50); do curl -sf http://127.0.0.1:18193/healthz >/dev/null && break; sleep 0.2; done
kill -0 "$flood_pid" 2>/dev/null || { cat "$work/flood.log" >&2; exit 1; }
reader=$(token 18193)
cat > "$work/flood.lua" <<'LUA'
counter = 0
request = function()
  counter = counter + 1
  local ip = "10." .. (counter % 250) .. "." .. math.floor(counter / 250) % 250 .. "." .. (math.random(1, 250))
  local body = '{"identifier":"nobody' .. counter .. '","password":"flood password ' .. counter .. '"}'
  return wrk.format("POST", "/api/v1/login", {["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip, ["X-Forwarded-Proto"] = "https"}, body)
end
LUA
hash_count() { curl -sf http://127.0.0.1:18193/metrics | awk '/^palisade_password_hash_seconds_count/ {print $2}'; }
# The machine's limit, measured now: the service's hashing threads verifying passwords with
# its default parameters and nothing else running (two Argon2id at once share the memory
# bus, so it is less than cores / the time of one hash). It drifts by ±25% on a shared
# machine: three rounds, each the limit then the flood back to back, and the median ratio.
hashed_in() { # seconds [health.out]: runs the flood, prints hashes per second
  local before after
  before=$(hash_count); before=${before:-0}
  wrk -t1 -c64 -d"$1s" -s "$work/flood.lua" http://127.0.0.1:18193/ > "$work/flood.out" &
  local flood_wrk=$!
  if [ -n "${2:-}" ]; then
    sleep 1
    # A monitor's pace (2 connections, a request every 20 ms each), not a second flood.
    echo 'delay = function() return 20 end' > "$work/health.lua"
    # Beside it, a signed-in user listing their sessions: a request that reads the database.
    wrk -t1 -c2 -d"$(($1 - 2))s" --latency -s "$work/health.lua" -H "Authorization: Bearer $reader" \
      http://127.0.0.1:18193/api/v1/sessions > "$work/reader.out" &
    wrk -t1 -c2 -d"$(($1 - 2))s" --latency -s "$work/health.lua" http://127.0.0.1:18193/healthz > "$2"
    wait $!
  fi
  wait $flood_wrk
  after=$(hash_count)
  awk -v a="$after" -v b="$before" -v s="$1" 'BEGIN { printf "%.1f", (a - b) / s }'
}
limits=() floods=() ratios=()
for round in 1 2 3; do
  read -r limit workers < <(target/release/examples/hash_rate "$secs")
  health=""; [ $round = 3 ] && health="$work/health.out"
  hashed=$(hashed_in "$secs" $health)
  limits+=("$limit"); floods+=("$hashed"); ratios+=("$(ratio "$hashed" "$limit")")
done
answered=$(awk '/Requests\/sec/ {print $2}' "$work/flood.out")
p99=$(awk '$1 == "99%" {print $2}' "$work/health.out")
peak=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$flood_pid/status")
echo "login flood (unknown users, every request from a new address), 64 connections, 3 rounds of ${secs}s:"
echo "  passwords hashed: ${floods[*]} /s; the machine alone (${workers} hashing threads): ${limits[*]} /s"
echo "  median ratio: $(median "${ratios[@]}") (logins answered in the last round: ${answered}/s)"
echo "  /healthz p99 during the flood: ${p99} (aim: < 10ms)"
reader_p99=$(awk '$1 == "99%" {print $2}' "$work/reader.out")
reader_ok=$(awk '/Non-2xx/ {print "(" $0 ")"}' "$work/reader.out")
echo "  GET /api/v1/sessions (reads the database) p99 during the flood: ${reader_p99} ${reader_ok}"
echo "  peak resident memory of the server: ${peak} MiB (aim: <= 19 MiB x ${workers} + 60 = $((19 * workers + 60)) MiB)"
