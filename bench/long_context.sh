#!/usr/bin/env bash
# Long-context generation, sglang.cpp vs llama.cpp on the same GGUF file, same machine, same run:
# one prompt of PROMPT_LEN random token ids (default 8023) + NEW_TOKENS greedy tokens (default 64,
# ignore_eos), wall time from submitting the prompt to the last token (model loading excluded).
#   ours:      `sglang-cpp generate` (the scheduler: chunked prefill at its default size, then
#              decode), once per KV cache dtype in KV_DTYPES (default "fp32 bf16"; auto is bf16 for
#              a GGUF model)
#   llama.cpp: llama-cpp-python's Llama.generate (its default f16 KV cache, flash attention auto,
#              n_batch 512), the same ids.
# Usage: bench/long_context.sh [model dir or .gguf=models/SmolLM2-135M-Instruct]
# Makes the llama-cpp-python venv (bench/llamacpp_venv.sh) at .venv-bench on first use. Run it on an
# idle machine: it measures wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/SmolLM2-135M-Instruct}
THREADS=${THREADS:-$(nproc)}
PROMPT_LEN=${PROMPT_LEN:-8023}
NEW_TOKENS=${NEW_TOKENS:-64}
KV_DTYPES=${KV_DTYPES:-fp32 bf16}
VENV=${BENCH_VENV:-.venv-bench}
bench/llamacpp_venv.sh "$VENV"
OUT=bench/out
mkdir -p "$OUT"
GGUF=$MODEL
[ -d "$MODEL" ] && GGUF=$(ls "$MODEL"/*.gguf | head -n 1)

ninja -C build sglang-cpp >/dev/null

python3 - "$OUT/long_prompt.jsonl" "$PROMPT_LEN" "$NEW_TOKENS" <<'PY'
import json, random, sys
path, n, new = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(0)
ids = [rng.randrange(1000, 40000) for _ in range(n)]  # inside every supported vocabulary
with open(path, "w") as f:
    f.write(json.dumps({"input_ids": ids, "sampling_params": {"max_new_tokens": new, "ignore_eos": True, "temperature": 0}}) + "\n")
PY

for kv in $KV_DTYPES; do
  echo "== sglang.cpp, KV cache $kv" >&2
  ./build/src/sglang-cpp generate --model-path "$MODEL" --threads "$THREADS" --kv-cache-dtype "$kv" \
    --max-total-tokens $((PROMPT_LEN + NEW_TOKENS + 1024)) --input-file "$OUT/long_prompt.jsonl" \
    >"$OUT/long_context_$kv.out" 2>"$OUT/long_context_$kv.log"
  grep "requests in" "$OUT/long_context_$kv.log" >&2
done

echo "== llama.cpp" >&2
"$VENV/bin/python" - "$GGUF" "$OUT/long_prompt.jsonl" "$THREADS" <<'PY' | tee "$OUT/long_context_llama_cpp.json"
import json, sys, time
import llama_cpp
gguf, prompt_file, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
req = json.loads(open(prompt_file).readline())
ids, new = req["input_ids"], req["sampling_params"]["max_new_tokens"]
llm = llama_cpp.Llama(model_path=gguf, n_ctx=len(ids) + new + 16, n_threads=threads,
                      n_threads_batch=threads, verbose=False)
t0 = time.perf_counter()
out = []
for tok in llm.generate(ids, top_k=1, temp=0.0, reset=True):
    out.append(tok)
    if len(out) == new:
        break
secs = time.perf_counter() - t0
print(json.dumps({"engine": "llama.cpp", "prompt_tokens": len(ids), "new_tokens": len(out),
                  "seconds": secs, "output_ids": out}))
PY

python3 - "$OUT" "$PROMPT_LEN" "$NEW_TOKENS" "$THREADS" $KV_DTYPES <<'PY'
import json, re, sys
out, n, new, threads, *kvs = sys.argv[1:]
theirs = json.load(open(f"{out}/long_context_llama_cpp.json"))
print(f"\n{n}-token prompt + {new} new tokens, {threads} threads (wall time, load excluded)")
print("| engine | seconds | speed-up vs llama.cpp |")
print("| --- | --- | --- |")
for kv in kvs:
    m = re.search(r"requests in ([\d.]+) s", open(f"{out}/long_context_{kv}.log").read())
    secs = float(m.group(1))
    print(f"| sglang.cpp, {kv} KV | {secs:.1f} | {theirs['seconds'] / secs:.2f} |")
print(f"| llama.cpp (f16 KV) | {theirs['seconds']:.1f} | 1.00 |")
PY
