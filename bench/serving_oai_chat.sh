#!/usr/bin/env bash
# Online serving through the OpenAI chat route next to the native one: SGLang's own client
# (`python -m sglang.bench_serving`, sglang from PyPI without its GPU stack, as bench/serving.sh)
# with `--backend sglang-oai-chat` (POST /v1/chat/completions, streamed: the prompt as one user
# message, rendered by the model's chat template) and `--backend sglang` (POST /generate), against
# one server on the default model, same prompts, same settings, alternating per request rate.
# Usage: bench/serving_oai_chat.sh   (MODEL=file.gguf, RATES="0.25 1" NUM_PROMPTS=16 INPUT_LEN=128
#        OUTPUT_LEN=32 to change the load)
# Needs scripts/setup.sh done (models/). Run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf}
RATES=${RATES:-"0.25 1"}
NUM_PROMPTS=${NUM_PROMPTS:-16}
INPUT_LEN=${INPUT_LEN:-128}
OUTPUT_LEN=${OUTPUT_LEN:-32}
PORT=${PORT:-30125}
VENV=${SERVING_VENV:-.venv-bench-serving}
OUT=bench/out
mkdir -p "$OUT"
ninja -C build sglang-cpp >/dev/null

if [ ! -x "$VENV/bin/python" ] || ! cmp -s bench/requirements-serving.txt "$VENV/.requirements"; then
  python3 -m venv "$VENV"
  grep -v '^sglang==' bench/requirements-serving.txt | "$VENV/bin/pip" install -q -r /dev/stdin
  "$VENV/bin/pip" install -q --no-deps "$(grep '^sglang==' bench/requirements-serving.txt)"
  cp bench/requirements-serving.txt "$VENV/.requirements"
fi
# bench_serving needs a Hugging Face tokenizer directory; the model is a GGUF file.
TOK=$OUT/serving-tokenizer
"$VENV/bin/python" bench/gguf_tokenizer_json.py "$MODEL" "$TOK" >&2

./build/src/sglang-cpp serve --model-path "$MODEL" --port "$PORT" --log-level warning \
  >"$OUT/serving_oai_chat_server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  sleep 1
done

# What each route makes of the same text: bench_serving counts INPUT_LEN tokens per prompt (random
# ids decoded to text); the server's own count (usage / meta_info) shows the chat template's share.
HF_HUB_OFFLINE=1 "$VENV/bin/python" - "$PORT" "$TOK" "$INPUT_LEN" <<'PY' 2>/dev/null | tee "$OUT/serving_oai_chat_probe.txt" >&2
import random, sys
import requests
from transformers import AutoTokenizer
port, tok_dir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
tok = AutoTokenizer.from_pretrained(tok_dir)
rng = random.Random(1)
gen, chat = [], []
for _ in range(4):
    text = tok.decode([rng.randrange(100, len(tok)) for _ in range(n)])
    r = requests.post(f"http://127.0.0.1:{port}/generate", json={
        "text": text, "sampling_params": {"max_new_tokens": 1}}).json()
    gen.append(r["meta_info"]["prompt_tokens"])
    r = requests.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={
        "model": "m", "messages": [{"role": "user", "content": text}],
        "max_completion_tokens": 1}).json()
    chat.append(r["usage"]["prompt_tokens"])
print(f"server prompt tokens for {n} random ids as text: /generate {sum(gen) / len(gen):.1f}, "
      f"/v1/chat/completions {sum(chat) / len(chat):.1f} (mean of 4)")
PY

for rate in $RATES; do
  for backend in sglang sglang-oai-chat; do
    echo "== $backend, request rate $rate" >&2
    out="$OUT/serving_oai_chat_${backend}_$rate"
    rm -f "$out.jsonl"
    HF_HUB_OFFLINE=1 "$VENV/bin/python" -m sglang.bench_serving --backend "$backend" \
      --host 127.0.0.1 --port "$PORT" --model "$TOK" --tokenizer "$TOK" \
      --dataset-name random-ids --random-input-len "$INPUT_LEN" --random-output-len "$OUTPUT_LEN" \
      --random-range-ratio 1.0 --num-prompts "$NUM_PROMPTS" --request-rate "$rate" --seed 1 \
      --flush-cache --output-file "$out.jsonl" >"$out.txt" 2>&1 || {
        tail -30 "$out.txt" >&2
        exit 1
      }
  done
done

python3 - "$OUT" "$NUM_PROMPTS" $RATES <<'PY'
import json, sys
out, n, rates = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print("| rate (req/s) | backend | ok | achieved req/s | output tok/s | TTFT median / mean / P99 (ms) "
      "| ITL median / mean / P99 (ms) | E2E median (ms) |")
print("| ---: | --- | ---: | ---: | ---: | --- | --- | ---: |")
ratios = []
for rate in rates:
    row = {}
    for b in ("sglang", "sglang-oai-chat"):
        m = json.loads(open(f"{out}/serving_oai_chat_{b}_{rate}.jsonl").read().splitlines()[-1])
        row[b] = m
        print(f"| {rate} | {b} | {m['completed']}/{n} | {m['request_throughput']:.2f} "
              f"| {m['output_throughput']:.1f} "
              f"| {m['median_ttft_ms']:.0f} / {m['mean_ttft_ms']:.0f} / {m['p99_ttft_ms']:.0f} "
              f"| {m['median_itl_ms']:.0f} / {m['mean_itl_ms']:.0f} / {m['p99_itl_ms']:.0f} "
              f"| {m['median_e2e_latency_ms']:.0f} |")
    g, c = row["sglang"], row["sglang-oai-chat"]
    ratios.append(f"rate {rate}: chat/native output tok/s {c['output_throughput'] / g['output_throughput']:.2f}, "
                  f"median TTFT {c['median_ttft_ms'] / g['median_ttft_ms']:.2f}, "
                  f"median ITL {c['median_itl_ms'] / g['median_itl_ms']:.2f}, "
                  f"median E2E {c['median_e2e_latency_ms'] / g['median_e2e_latency_ms']:.2f}")
print("\n".join(ratios))
PY
