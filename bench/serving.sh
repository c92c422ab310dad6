#!/usr/bin/env bash
# Online serving benchmark: SGLang's own client (`python -m sglang.bench_serving --backend sglang`,
# from the sglang PyPI package installed without its GPU dependencies) against our server on a
# random checkpoint of a real shape with the real Qwen tokenizer: request throughput, TTFT and ITL
# percentiles at three request rates, random token-id prompts (the same prompts at every rate; the
# radix cache is flushed before each run, so no run reuses the previous one's prefixes).
# Usage: bench/serving.sh [shape=qwen2.5-0.5b]   (MODEL=dir for an existing checkpoint;
#        RATES="0.25 0.5 1" NUM_PROMPTS=24 INPUT_LEN=256 OUTPUT_LEN=64 to change the load)
# Needs scripts/setup.sh done. Run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
SHAPE=${1:-qwen2.5-0.5b}
MODEL=${MODEL:-models/bench/$SHAPE}
RATES=${RATES:-"0.25 0.5 1"}
NUM_PROMPTS=${NUM_PROMPTS:-24}
INPUT_LEN=${INPUT_LEN:-256}
OUTPUT_LEN=${OUTPUT_LEN:-64}
PORT=${PORT:-30123}
VENV=${SERVING_VENV:-.venv-bench-serving}
OUT=bench/out
mkdir -p "$OUT"
ninja -C build sglang-cpp >/dev/null
[ -f "$MODEL/model.safetensors" ] || ./build/src/sglang-cpp make-checkpoint --like "$SHAPE" --seed 0 --out "$MODEL"
TOK=../shared/assets/qwen3-tokenizer
[ -f "$TOK/tokenizer.json" ] || TOK=models/assets/qwen3-tokenizer
for f in tokenizer.json tokenizer_config.json vocab.json merges.txt; do
  [ -f "$MODEL/$f" ] || cp "$TOK/$f" "$MODEL/"
done

if [ ! -x "$VENV/bin/python" ] || ! cmp -s bench/requirements-serving.txt "$VENV/.requirements"; then
  python3 -m venv "$VENV"
  grep -v '^sglang==' bench/requirements-serving.txt | "$VENV/bin/pip" install -q -r /dev/stdin
  "$VENV/bin/pip" install -q --no-deps "$(grep '^sglang==' bench/requirements-serving.txt)"
  cp bench/requirements-serving.txt "$VENV/.requirements"
fi

./build/src/sglang-cpp serve --model-path "$MODEL" --port "$PORT" --max-total-tokens 65536 \
  --log-level warning >"$OUT/serving_server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  sleep 1
done

for rate in $RATES; do
  echo "== request rate $rate" >&2
  HF_HUB_OFFLINE=1 "$VENV/bin/python" -m sglang.bench_serving --backend sglang --host 127.0.0.1 \
    --port "$PORT" --model "$MODEL" --tokenizer "$MODEL" --dataset-name random-ids \
    --random-input-len "$INPUT_LEN" --random-output-len "$OUTPUT_LEN" --random-range-ratio 1.0 \
    --num-prompts "$NUM_PROMPTS" --request-rate "$rate" --seed 1 --flush-cache \
    --output-file "$OUT/serving_rate_$rate.jsonl" >"$OUT/serving_rate_$rate.txt" 2>&1 || {
      tail -30 "$OUT/serving_rate_$rate.txt" >&2
      exit 1
    }
  grep -E "Request throughput|Mean TTFT|Median TTFT|P99 TTFT|Mean ITL|Median ITL|P99 ITL|Output token throughput" \
    "$OUT/serving_rate_$rate.txt" >&2
done
