#!/usr/bin/env bash
# Login timing while imported bcrypt hashes remain: wrong-password logins for an unknown
# account, an imported one (bcrypt cost 12, password + PEPPER recipe) and a native Argon2id
# one must take the same time. Prints the median of N attempts each (default 5).
# Needs python3 with bcrypt. Usage: bench/login_timing.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
cargo build --quiet --release --bin palisade
bin=$PWD/target/release/palisade
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
export PALISADE_LEGACY_BCRYPT_PEPPER=bench-legacy-pepper
python3 - "$work/users.csv" <<'PY'
import bcrypt, csv, sys
with open(sys.argv[1], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["username", "email", "password_hash"])
    w.writerow(["imported", "imported@example.com", bcrypt.hashpw(b"old password" + b"bench-legacy-pepper", bcrypt.gensalt(12)).decode()])
PY
cd "$work"
"$bin" user import users.csv >/dev/null
"$bin" serve --listen 127.0.0.1:18210 2>serve.log & pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:18210/healthz >/dev/null && break; sleep 0.2; done
curl -sf -X POST http://127.0.0.1:18210/api/v1/register -H 'content-type: application/json' \
  -d '{"username":"native","email":"native@example.com","password":"gravel orbit violet canteen"}' >/dev/null
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for who in nobody-here imported native; do
  times=()
  for i in $(seq "$n"); do
    times+=("$(curl -s -o /dev/null -w '%{time_total}' -X POST http://127.0.0.1:18210/api/v1/login \
      -H 'content-type: application/json' -d "{\"identifier\":\"$who\",\"password\":\"wrong guess $i\"}")")
  done
  printf '%-12s median %s s  (%s)\n' "$who" "$(printf '%s\n' "${times[@]}" | median)" "${times[*]}"
done
