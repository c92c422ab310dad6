#!/usr/bin/env bash
# Single-request decode end to end against the raw forward loop, same run, default model
# (SmolLM2-135M-Instruct Q4_1 GGUF): 128 greedy tokens (ignore_eos) after a 4-token prompt.
#   1. sglang.cpp's raw forward loop (build/bench/sglang-bench-forward, batch 1, context 4);
#   2. our server, a streaming /generate client (bench/e2e_decode_client.py): tokens/s as seen by
#      the client;
#   3. llama.cpp end to end: llama-cpp-python's generate loop (sampling in Python included).
# Usage: bench/e2e_decode.sh   (TOKENS=128 RUNS=3 THREADS=$(nproc) SERVER_ARGS="..." to change;
#        SKIP_LLAMA_CPP=1 to leave the peer out). Run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
TOKENS=${TOKENS:-128}
RUNS=${RUNS:-3}
THREADS=${THREADS:-$(nproc)}
PORT=${PORT:-30124}
VENV=${BENCH_VENV:-.venv-bench}
[ "${SKIP_LLAMA_CPP:-0}" = 1 ] || bench/llamacpp_venv.sh "$VENV"
OUT=bench/out
mkdir -p "$OUT"
ninja -C build sglang-cpp sglang-bench-forward >/dev/null
GGUF=$(./scripts/fetch_model.sh)

echo "== sglang.cpp raw forward loop" >&2
./build/bench/sglang-bench-forward --model-path "$GGUF" --threads "$THREADS" --prefill-len 4 \
  --context 4 --decode-steps "$TOKENS" --batches 1 | tail -n 1 | tee "$OUT/e2e_forward.json"

echo "== sglang.cpp server, streaming client" >&2
# shellcheck disable=SC2086 # SERVER_ARGS is a list of flags
./build/src/sglang-cpp serve --model-path "$GGUF" --port "$PORT" --threads "$THREADS" \
  --log-level warning ${SERVER_ARGS:-} >"$OUT/e2e_server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  sleep 1
done
python3 bench/e2e_decode_client.py sglang "$PORT" --tokens "$TOKENS" --runs "$RUNS" |
  tee "$OUT/e2e_server.json"
kill -TERM $SERVER
wait $SERVER 2>/dev/null || true
trap - EXIT

rm -f "$OUT/e2e_llama_cpp.json"
if [ -z "${SKIP_LLAMA_CPP:-}" ]; then
  echo "== llama.cpp (llama-cpp-python generate loop)" >&2
  "$VENV/bin/python" bench/e2e_decode_client.py llama-cpp "$GGUF" --threads "$THREADS" \
    --tokens "$TOKENS" --runs "$RUNS" >"$OUT/e2e_llama_cpp.json" || {
      echo "llama.cpp run failed; the table leaves it out" >&2
      rm -f "$OUT/e2e_llama_cpp.json"
    }
  if [ -f "$OUT/e2e_llama_cpp.json" ]; then cat "$OUT/e2e_llama_cpp.json"; fi
fi

python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
fwd = json.load(open(f"{out}/e2e_forward.json"))["decode_tok_s"]["1"]
srv = json.load(open(f"{out}/e2e_server.json"))
print("\n| measure | tok/s | vs forward loop |")
print("| --- | --- | --- |")
print(f"| sglang.cpp raw forward loop, batch 1 | {fwd:.1f} | 1.00 |")
print(f"| sglang.cpp server, streaming decode | {srv['decode_tok_s']:.1f} | {srv['decode_tok_s'] / fwd:.2f} |")
print(f"| sglang.cpp server, incl. first token | {srv['e2e_tok_s']:.1f} | {srv['e2e_tok_s'] / fwd:.2f} |")
if os.path.exists(f"{out}/e2e_llama_cpp.json"):
    ll = json.load(open(f"{out}/e2e_llama_cpp.json"))
    print(f"| llama.cpp generate loop, decode | {ll['decode_tok_s']:.1f} | ours/theirs {srv['decode_tok_s'] / ll['decode_tok_s']:.2f} |")
    print(f"| llama.cpp generate loop, incl. first token | {ll['e2e_tok_s']:.1f} | ours/theirs {srv['e2e_tok_s'] / ll['e2e_tok_s']:.2f} |")
PY
