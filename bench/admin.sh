#!/usr/bin/env bash
# The admin API at a real size (100,000 users, 1,000,000 audit events) on SQLite and on
# PostgreSQL: the user search's and the audit page's median and p99, and the audit export's
# events/s with the server's memory while it streams. Aims (issue 26): p99 under 50 ms,
# export at least 50,000 events/s in constant memory.
# Usage: bench/admin.sh     PostgreSQL: PALISADE_BENCH_DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/test); the bench creates and drops its own database.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${PALISADE_BENCH_BIN:-target/release/palisade}
[ -n "${PALISADE_BENCH_BIN:-}" ] || cargo build --quiet --release -p palisade-cli --bin palisade
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
start() { # name port [env...]
  local name=$1 port=$2; shift 2
  env PALISADE_ARGON2_MEMORY_KIB=8192 "$@" "$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/$name" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.2; done
  cat "$work/$name.log" >&2; exit 1
}
echo "admin API, 100,000 users, 1,000,000 audit events (300 requests each, one at a time):"
start sqlite 18391
python3 bench/admin/run.py http://127.0.0.1:18391 sqlite "$work/sqlite/palisade.db" "${pids[-1]}"
pg_admin=${PALISADE_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
pg_db="palisade_admin_bench_$$"
if psql "$pg_admin" -qc "CREATE DATABASE $pg_db" 2>/dev/null; then
  trap 'cleanup; psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
  start postgres 18392 DATABASE_URL="${pg_admin%/*}/$pg_db"
  python3 bench/admin/run.py http://127.0.0.1:18392 postgres "${pg_admin%/*}/$pg_db" "${pids[-1]}"
else
  echo "  (PostgreSQL not reachable at $pg_admin: skipped)"
fi
