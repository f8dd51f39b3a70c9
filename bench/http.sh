#!/usr/bin/env bash
# HTTP figures with wrk (keep-alive, loopback): requests/s and p99 latency of GET /healthz and GET /jobs/{id}
# at 1, 32, 256 and 1000 connections with the service idle; over HTTPS (keep-alive, and a new TLS connection per
# request); at 1 and 32 while a training job keeps both cores busy (and then GET /jobs/{id} with an API key);
# beside the Hummingbird peer of ../shared/bench/http_peer (build it as ../shared/bench/README.md says and pass
# HBIRD_BIN=/path/to/.build/release/hbird; it speaks plain HTTP only). One scored process serves HTTPS on one
# port and plain HTTP on another (tls.plain_listen), with a certificate made here by openssl.
# Usage: bench/http.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
swift build -c release --product scored >/dev/null
# 1000 connections from wrk and as many on the server: raise the descriptor limit as far as allowed.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
data=$(mktemp -d)
port=8181
tport=8183
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$data/key.pem" -out "$data/cert.pem" -days 1 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
.build/release/scored serve --port $tport --tls-certificate "$data/cert.pem" --tls-private-key "$data/key.pem" \
  --tls-plain-listen 127.0.0.1:$port --data-dir "$data" --log-level warning &
pid=$!
hpid=""
trap 'kill $pid $hpid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
sleep 1
job=$(curl -s -X POST localhost:$port/train -d '{"steps": 10}' | python3 -c 'import sys, json; print(json.load(sys.stdin)["id"])')
sleep 1
run() {  # label url connections [extra wrk arguments]
  out=$(wrk -t1 -c"$3" -d"${secs}s" --latency "${@:4}" "$2" 2>&1)
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  bad=$(echo "$out" | awk '/Non-2xx/ {print " (" $NF " non-2xx)"} /Socket errors/ {print " (" $0 ")"}' | tr -d '\n')
  printf "%-44s %4s conn  %10s req/s  p99 %s%s\n" "$1" "$3" "$rps" "$p99" "$bad"
}
if [ -n "${HBIRD_BIN:-}" ]; then
  "$HBIRD_BIN" 8282 >/dev/null 2>&1 &
  hpid=$!
  sleep 1
fi
for c in 1 32 256 1000; do
  [ -n "$hpid" ] && run "hummingbird GET /healthz" "http://127.0.0.1:8282/healthz" $c
  run "scored GET /healthz (idle)" "http://127.0.0.1:$port/healthz" $c
  run "scored GET /jobs/{id} (idle)" "http://127.0.0.1:$port/jobs/$job" $c
done
for c in 1 32 256 1000; do
  run "scored GET /healthz over TLS (idle)" "https://127.0.0.1:$tport/healthz" $c
done
# A new connection per request (Connection: close): TCP set-up, and over TLS a full handshake, each time.
[ -n "$hpid" ] && run "hummingbird new connection per request" "http://127.0.0.1:8282/healthz" 32 -H "Connection: close"
run "scored new connection per request" "http://127.0.0.1:$port/healthz" 32 -H "Connection: close"
run "scored new TLS connection per request" "https://127.0.0.1:$tport/healthz" 32 -H "Connection: close"
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
for c in 1 32; do
  run "scored GET /jobs/{id} with a key (training)" "http://127.0.0.1:$port/jobs/$job" $c -H "Authorization: Bearer $token"
done
curl -s -H "Authorization: Bearer $token" "localhost:$port/metrics" | grep scored_training_steps_per_second | tail -1
