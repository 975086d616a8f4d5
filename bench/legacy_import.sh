#!/usr/bin/env bash
# Migrating imported users must not get slower with every imported user: imports N users
# with bcrypt hashes (one hash shared by all, cost 4, so the import is quick), then times the
# first login of 100 of them (each moves its user to Argon2id), for N = 1,000 and 100,000 in
# the same run. Prints the median milliseconds per migrating login for each N, and the
# ratio. Needs python3 with bcrypt, and curl. Usage: bench/legacy_import.sh [big N]
set -euo pipefail
cd "$(dirname "$0")/.."
big=${1:-100000}
cargo build --quiet --release --bin palisade
bin=$PWD/target/release/palisade
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

run() { # users port
  local n=$1 port=$2 dir=$work/n$1
  mkdir -p "$dir"
  python3 - "$dir/users.csv" "$n" <<'PY'
import bcrypt, csv, sys
path, n = sys.argv[1], int(sys.argv[2])
h = bcrypt.hashpw(b"old password", bcrypt.gensalt(4)).decode()
with open(path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["username", "email", "password_hash"])
    for i in range(n):
        w.writerow([f"user{i}", f"user{i}@example.com", h])
PY
  "$bin" user --data-dir "$dir/data" import "$dir/users.csv" >/dev/null
  "$bin" serve --listen "127.0.0.1:$port" --data-dir "$dir/data" 2>"$dir/serve.log" & pid=$!
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
  local times=()
  for i in $(seq 0 99); do
    # Each login from its own loopback address: the per-address rate is not what is measured.
    t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --interface "127.0.1.$((i + 1))" \
      -X POST "http://127.0.0.1:$port/api/v1/login" -H 'content-type: application/json' \
      -d "{\"identifier\":\"user$((i * (n / 100)))\",\"password\":\"old password\"}")
    [ "${t%% *}" = 200 ] || { echo "login failed: $t" >&2; cat "$dir/serve.log" >&2; exit 1; }
    times+=("${t#* }")
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  printf '%s\n' "${times[@]}" | median | awk '{printf "%.2f", $1 * 1000}'
}

small=$(run 1000 18220)
large=$(run "$big" 18221)
echo "first (migrating) login, median of 100: ${small} ms with 1,000 imported users, ${large} ms with ${big}"
awk -v a="$small" -v b="$large" 'BEGIN {printf "ratio (large / small): %.2f\n", b / a}'
