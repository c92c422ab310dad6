#!/usr/bin/env bash
# Offline engine throughput through the scheduler (continuous batching, chunked prefill, radix cache)
# on a random checkpoint of a real shape:
#   1. 64 requests of 256 prompt tokens / 128 output tokens (ignore_eos), all submitted at once:
#      input and output tok/s;
#   2. shared prefix: 32 requests = one 1024-token system prompt + 32 own tokens, 32 output tokens
#      each, with the radix cache and with --disable-radix-cache: wall time and cached tokens.
# Usage: bench/engine.sh [shape=qwen2.5-0.5b]   (MODEL=dir to use an existing checkpoint)
# Needs scripts/setup.sh done. Run it on an idle machine: it measures wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
SHAPE=${1:-qwen2.5-0.5b}
THREADS=${THREADS:-$(nproc)}
OUT=bench/out
MODEL=${MODEL:-models/bench/$SHAPE}
mkdir -p "$OUT"
ninja -C build sglang-cpp >/dev/null
[ -f "$MODEL/model.safetensors" ] || ./build/src/sglang-cpp make-checkpoint --like "$SHAPE" --seed 0 --out "$MODEL"

python3 - "$OUT" <<'PY'
import json, random, sys
out = sys.argv[1]
rng = random.Random(0)
with open(f"{out}/engine_throughput.jsonl", "w") as f:
    for i in range(64):
        ids = [rng.randrange(1000, 150000) for _ in range(256)]
        f.write(json.dumps({"input_ids": ids, "sampling_params": {"max_new_tokens": 128, "ignore_eos": True, "temperature": 0}}) + "\n")
system = [rng.randrange(1000, 150000) for _ in range(1024)]
with open(f"{out}/engine_shared_prefix.jsonl", "w") as f:
    for i in range(32):
        ids = system + [rng.randrange(1000, 150000) for _ in range(32)]
        f.write(json.dumps({"input_ids": ids, "sampling_params": {"max_new_tokens": 32, "ignore_eos": True, "temperature": 0}}) + "\n")
PY

run() {  # name, extra flags...
  local name=$1
  shift
  echo "== $name" >&2
  ./build/src/sglang-cpp generate --model-path "$MODEL" --threads "$THREADS" --max-total-tokens 65536 "$@" \
    >"$OUT/engine_$name.out" 2>"$OUT/engine_$name.log"
  grep "requests in" "$OUT/engine_$name.log" >&2
}
run throughput --input-file "$OUT/engine_throughput.jsonl" --chunked-prefill-size 1024
run shared_radix --input-file "$OUT/engine_shared_prefix.jsonl" --chunked-prefill-size 1024
run shared_noradix --input-file "$OUT/engine_shared_prefix.jsonl" --chunked-prefill-size 1024 --disable-radix-cache

python3 - "$OUT" "$SHAPE" "$THREADS" <<'PY'
import json, re, sys
out, shape, threads = sys.argv[1:4]
pat = re.compile(r"(\d+) requests in ([\d.]+) s: input ([\d.]+) tok/s, output ([\d.]+) tok/s, "
                 r"cached prompt tokens (\d+) of (\d+), forward steps (\d+), retractions (\d+)")
res = {}
for name in ("throughput", "shared_radix", "shared_noradix"):
    m = pat.search(open(f"{out}/engine_{name}.log").read())
    n, secs, inp, outp, cached, total, steps, retr = m.groups()
    res[name] = {"requests": int(n), "seconds": float(secs), "input_tok_s": float(inp),
                 "output_tok_s": float(outp), "cached_tokens": int(cached), "prompt_tokens": int(total),
                 "forward_steps": int(steps), "retractions": int(retr)}
# Identical greedy outputs with and without the cache.
a = [json.loads(l)["output_ids"] for l in open(f"{out}/engine_shared_radix.out")]
b = [json.loads(l)["output_ids"] for l in open(f"{out}/engine_shared_noradix.out")]
res["shared_outputs_identical"] = sum(x == y for x, y in zip(a, b))
res["radix_speedup"] = res["shared_noradix"]["seconds"] / res["shared_radix"]["seconds"]
res.update({"shape": shape, "threads": int(threads)})
print(json.dumps(res, indent=1))
PY
