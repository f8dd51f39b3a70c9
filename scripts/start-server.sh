# Sourced by the scripts that check a running server (schemathesis, page-test). start_server LOG COMMAND…
# runs COMMAND --port P in the background on a port the kernel reports free, waits for /healthz, and sets
# `port` and `pid`. A port can be taken between the choice and the bind (the kernel's free ports are also the
# ones it hands to outgoing connections), so a start that fails on the bind is retried on another port.
start_server() {
  local log=$1; shift
  local attempt
  for attempt in 1 2 3 4 5; do
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    "$@" --port "$port" >>"$log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      curl -s --max-time 2 -o /dev/null "localhost:$port/healthz" && kill -0 "$pid" 2>/dev/null && return 0
      sleep 0.1
    done
    if ! kill -0 "$pid" 2>/dev/null && grep -q "cannot bind.*:$port" "$log"; then
      wait "$pid" 2>/dev/null || true
      echo "port $port was taken; trying another (attempt $attempt)" >&2
      continue
    fi
    break
  done
  echo "the server did not start" >&2; cat "$log" >&2
  return 1
}
