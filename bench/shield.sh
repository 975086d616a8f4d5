#!/usr/bin/env bash
# Requests per second of the example app with and without the Shield, on loopback, in one
# run. Usage: bench/shield.sh [seconds-per-round] [rounds]
# Needs wrk (apt-get install wrk). Stops its servers when done.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
rounds=${2:-3}
command -v wrk >/dev/null || { echo "bench/shield.sh needs wrk (apt-get install wrk)" >&2; exit 2; }
cargo build --quiet --release -p palisade --example hardened
bin=target/release/examples/hardened
$bin --listen 127.0.0.1:18181 2>/dev/null & shielded=$!
$bin --listen 127.0.0.1:18182 --no-shield 2>/dev/null & plain=$!
trap 'kill $shielded $plain 2>/dev/null || true' EXIT
sleep 1

rps() { wrk -t1 -c32 -d"${secs}s" "http://127.0.0.1:$1/" | awk '/Requests\/sec/ {print $2}'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

with=(); without=()
for _ in $(seq "$rounds"); do
  without+=("$(rps 18182)")
  with+=("$(rps 18181)")
done
w=$(printf '%s\n' "${with[@]}" | median)
wo=$(printf '%s\n' "${without[@]}" | median)
echo "without shield: median ${wo} req/s  (rounds: ${without[*]})"
echo "with shield:    median ${w} req/s  (rounds: ${with[*]})"
awk -v w="$w" -v wo="$wo" 'BEGIN { printf "ratio with/without: %.3f (shield cost %.1f%%)\n", w/wo, (1-w/wo)*100 }'
