#!/usr/bin/env bash
# Password-reset request timing: requests for an address with an account and for addresses
# without one must take the same time (the lookup and the message happen after the answer).
# Sends N of each (default 200), alternating, each from its own loopback address (the
# per-address rate allows 50 per 5 minutes), and prints the median and the 90th percentile
# of each, and the ratio of the medians. Usage: bench/reset_timing.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
cargo build --quiet --release --bin palisade
bin=$PWD/target/release/palisade
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
"$bin" serve --listen 127.0.0.1:18211 2>serve.log & pid=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:18211/healthz >/dev/null && break; sleep 0.2; done
curl -sf -X POST http://127.0.0.1:18211/api/v1/register -H 'content-type: application/json' \
  -d '{"username":"known","email":"known@example.com","password":"gravel orbit violet canteen"}' >/dev/null
ask() { # $1 email, $2 source address
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --interface "$2" -X POST \
    http://127.0.0.1:18211/api/v1/password/reset -H 'content-type: application/json' \
    -d "{\"email\":\"$1\"}"
}
: >known.txt; : >unknown.txt
for i in $(seq "$n"); do
  a=$(( i / 250 )); b=$(( i % 250 + 1 ))
  ask known@example.com "127.3.$a.$b" >>known.txt
  ask "nobody$i@example.com" "127.4.$a.$b" >>unknown.txt
done
stats() { awk '{print $2}' "$1" | sort -n | awk '{a[NR]=$1} END {printf "median %.6f s  p90 %.6f s", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2), a[int(NR*0.9)]}'; }
median() { awk '{print $2}' "$1" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
for f in known unknown; do
  printf '%-8s statuses %s  %s\n' "$f" "$(awk '{print $1}' $f.txt | sort | uniq -c | tr -s ' ' | tr '\n' ';')" "$(stats $f.txt)"
done
printf 'ratio of medians (known / unknown): %.3f\n' "$(echo "$(median known.txt) $(median unknown.txt)" | awk '{print $1/$2}')"
