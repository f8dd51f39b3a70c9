#!/usr/bin/env bash
# HTTP figures with wrk (keep-alive, loopback): requests/s and p99 latency of GET /healthz and GET /jobs/{id}
# at 1 and 32 connections, with the service idle and while a training job keeps both cores busy (and then
# GET /jobs/{id} with an API key); beside
# the Hummingbird peer of ../shared/bench/http_peer (build it as ../shared/bench/README.md says and pass
# HBIRD_BIN=/path/to/.build/release/hbird). Usage: bench/http.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
swift build -c release --product scored >/dev/null
data=$(mktemp -d)
port=8181
.build/release/scored serve --port $port --data-dir "$data" --log-level warning &
pid=$!
hpid=""
trap 'kill $pid $hpid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
sleep 1
job=$(curl -s -X POST localhost:$port/train -d '{"steps": 10}' | python3 -c 'import sys, json; print(json.load(sys.stdin)["id"])')
sleep 1
run() {  # label url connections
  out=$(wrk -t1 -c"$3" -d"${secs}s" --latency "$2" 2>&1)
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  printf "%-44s %4s conn  %10s req/s  p99 %s\n" "$1" "$3" "$rps" "$p99"
}
if [ -n "${HBIRD_BIN:-}" ]; then
  "$HBIRD_BIN" 8282 >/dev/null 2>&1 &
  hpid=$!
  sleep 1
fi
for c in 1 32; do
  [ -n "$hpid" ] && run "hummingbird GET /healthz" "http://127.0.0.1:8282/healthz" $c
  run "scored GET /healthz (idle)" "http://127.0.0.1:$port/healthz" $c
  run "scored GET /jobs/{id} (idle)" "http://127.0.0.1:$port/jobs/$job" $c
done
# A long training run on both cores, then the same requests.
curl -s -X POST localhost:$port/train -d '{"steps": 10000000}' >/dev/null
sleep 2
for c in 1 32; do
  run "scored GET /healthz (training)" "http://127.0.0.1:$port/healthz" $c
  run "scored GET /jobs/{id} (training)" "http://127.0.0.1:$port/jobs/$job" $c
done
# With an API key (admin: the job was made without one), still while training: the key check on every request.
token=$(.build/release/scored keys create --data-dir "$data" --name bench --scope admin 2>/dev/null)
sleep 1.2
runk() {  # label url connections
  out=$(wrk -t1 -c"$3" -d"${secs}s" --latency -H "Authorization: Bearer $token" "$2" 2>&1)
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  bad=$(echo "$out" | awk '/Non-2xx/ {print " (" $NF " non-2xx)"}')
  printf "%-44s %4s conn  %10s req/s  p99 %s%s\n" "$1" "$3" "$rps" "$p99" "$bad"
}
for c in 1 32; do
  runk "scored GET /jobs/{id} with a key (training)" "http://127.0.0.1:$port/jobs/$job" $c
done
curl -s -H "Authorization: Bearer $token" "localhost:$port/metrics" | grep scored_training_steps_per_second | tail -1
