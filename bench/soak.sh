#!/usr/bin/env bash
# Soak (a benchmark, not a test): wrk at 64 keep-alive connections on GET /jobs/{id} with an API key for SECONDS
# (default 60) while a training job runs, and beside it a stream of malformed requests on fresh connections
# (bench/malformed.py: garbage, bad request lines, oversize heads, bad chunking, bad tokens, truncated bodies).
# Reports wrk's figures and its failures (socket errors, non-2xx), the malformed stream's answers by status,
# the process's RSS at the start and the end, and whether the training job's model is byte-identical to the
# same recipe trained on a quiet server. Usage: bench/soak.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
swift build -c release --product scored >/dev/null
bin=.build/release/scored
dir=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
recipe='{"dataset": "swiss_roll", "steps": 12000, "batch_size": 512, "seed": 11, "model": {"hidden": [256, 256, 256]}}'
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
serve() {  # data directory
  "$bin" serve --data-dir "$1" --port "$port" --log-level warning >>"$dir/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "localhost:$port/healthz" >/dev/null && return; sleep 0.1; done
  echo "the server did not start" >&2; exit 1
}
finish() {  # job → sha256 of its model's parameters (the checkpoint's tensors; its metadata names ids and times)
  local status
  while :; do
    status=$(curl -sf -H "$auth" "localhost:$port/jobs/$1" | json '["status"]')
    case $status in succeeded) break ;; failed|canceled) echo "training $status" >&2; exit 1 ;; esac
    sleep 0.5
  done
  local model=$(curl -sf -H "$auth" "localhost:$port/jobs/$1" | json '["result"]["model_id"]')
  curl -sf -H "$auth" "localhost:$port/models/$model/checkpoint" | python3 -c '
import hashlib, struct, sys
b = sys.stdin.buffer.read(); n = struct.unpack("<Q", b[:8])[0]
print(hashlib.sha256(b[8 + n:]).hexdigest()[:16])' 
}

# The reference: the same recipe on a quiet server.
token=$("$bin" keys create --data-dir "$dir/quiet" --name soak --scope submit 2>/dev/null)
auth="Authorization: Bearer $token"
serve "$dir/quiet"
start=$(date +%s)
quiet=$(finish "$(curl -sf -H "$auth" -X POST "localhost:$port/train" -d "$recipe" | json '["id"]')")
echo "quiet run: $(( $(date +%s) - start )) s, model $quiet"
kill $pid; wait $pid 2>/dev/null || true

# The soak.
token=$("$bin" keys create --data-dir "$dir/soak" --name soak --scope submit 2>/dev/null)
auth="Authorization: Bearer $token"
serve "$dir/soak"
probe=$(curl -sf -H "$auth" -X POST "localhost:$port/train" -d '{"steps": 5, "model": {"hidden": [8]}}' | json '["id"]')
finish "$probe" >/dev/null
for _ in $(seq 200); do curl -sf -H "$auth" "localhost:$port/jobs/$probe" >/dev/null; done  # warm
job=$(curl -sf -H "$auth" -X POST "localhost:$port/train" -d "$recipe" | json '["id"]')
# Warm-up under the same load (threads, arenas and caches at their working size), then the start RSS.
python3 bench/malformed.py 127.0.0.1 "$port" 5 "$token" >/dev/null &
mal=$!
wrk -t2 -c64 -d5s -H "$auth" "http://127.0.0.1:$port/jobs/$probe" >/dev/null 2>&1
wait $mal
rss0=$(rss)
python3 bench/malformed.py 127.0.0.1 "$port" "$secs" "$token" >"$dir/malformed.txt" &
mal=$!
wrk -t2 -c64 -d"${secs}s" --latency -H "$auth" "http://127.0.0.1:$port/jobs/$probe" >"$dir/wrk.txt" 2>&1
wait $mal
rss1=$(rss)
loaded=$(finish "$job")
rss2=$(rss)
echo "--- wrk, 64 connections, ${secs} s, GET /jobs/{id} with a key, training running:"
grep -E "Requests/sec|requests in|Socket errors|Non-2xx|50%|99%" "$dir/wrk.txt" || true
echo "--- malformed requests beside it:"
cat "$dir/malformed.txt"
echo "--- RSS: after a 5 s warm-up under the same load ${rss0} kB, after the soak ${rss1} kB, after training ended ${rss2} kB"
echo "--- training under load: model $loaded; quiet: $quiet; $([ "$loaded" = "$quiet" ] && echo identical || echo DIFFERENT)"
if grep -qE "Socket errors|Non-2xx" "$dir/wrk.txt"; then echo "FAILURES among the good requests" >&2; exit 1; fi
[ "$loaded" = "$quiet" ] || exit 1
