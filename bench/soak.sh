#!/usr/bin/env bash
# Soak under faults (issue 16): one sglang-cpp server on loopback, >= 1,000 concurrent clients
# (bench/soak_driver.py: raw asyncio sockets, stdlib only) mixing streamed and whole /generate,
# /v1/chat/completions and /v1/completions requests, 30 % hanging up mid-stream, 10 % sending
# garbage (bad JSON, broken HTTP), a few reading their stream slowly through a tiny receive buffer,
# for DURATION seconds. Reports clients, duration, requests completed / hung up / failed, the
# server's peak RSS (/proc VmHWM), the most a connection had buffered for a slow reader, and the KV
# pool after the flush (every page free); fails on any failed request, a dead server, a pool not
# whole, or a server that does not exit 0 on SIGTERM.
# Usage: bench/soak.sh   (MODEL=dir-or-gguf, default the default model; CLIENTS=1000
#        DURATION=300 MAX_NEW_TOKENS=16 THREADS=$(nproc) SERVER_ARGS="..." to change)
# Needs scripts/setup.sh done. The record run (>= 5 minutes) belongs on an idle machine; after
# DURATION the requests in flight run to their end (slow readers take a minute), so the run lasts
# longer than DURATION. MODEL=a tiny checkpoint (make-checkpoint --tiny) soaks the server itself
# at a higher request rate.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-$(./scripts/fetch_model.sh)}
CLIENTS=${CLIENTS:-1000}
DURATION=${DURATION:-300}
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-16}
THREADS=${THREADS:-$(nproc)}
PORT=${PORT:-30125}
OUT=bench/out
mkdir -p "$OUT"
ninja -C build sglang-cpp >/dev/null
# Each client holds a socket, and so does the server for each: raise the descriptor limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# shellcheck disable=SC2086 # SERVER_ARGS is a list of flags
./build/src/sglang-cpp serve --model-path "$MODEL" --port "$PORT" --threads "$THREADS" \
  --enable-metrics --log-level warning ${SERVER_ARGS:-} >"$OUT/soak_server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  sleep 1
done
echo "== soak: $CLIENTS clients for $DURATION s on $MODEL" >&2
status=0
python3 bench/soak_driver.py --port "$PORT" --server-pid "$SERVER" --clients "$CLIENTS" \
  --duration "$DURATION" --max-new-tokens "$MAX_NEW_TOKENS" | tee "$OUT/soak.json" || status=$?
kill -TERM $SERVER
rc=0
wait $SERVER || rc=$?
trap - EXIT
echo "server exit code after SIGTERM: $rc" >&2
python3 - "$OUT/soak.json" "$rc" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("\n| clients | duration s | requests | completed | hung up | garbage | failed | "
      "peak RSS MB | max buffered per connection KB | pool whole after flush | exit |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
print(f"| {r['clients']} | {r['duration_s']} | {r['requests']} | {r['completed']} | "
      f"{r['hung_up']} | {r['garbage']} | {r['failed']} | {r['peak_rss_mb']} | "
      f"{r['stream_buffered_peak_bytes'] / 1024:.0f} | {r['pool_whole']} | {sys.argv[2]} |")
for f in r["failures"]:
    print("failure:", f)
PY
[ "$status" -eq 0 ] && [ "$rc" -eq 0 ]
