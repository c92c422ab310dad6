#!/usr/bin/env bash
# CUDA backend benchmark skeleton (issue 18), run on the device by tests/cuda/run_all.sh; builds
# nothing. On random checkpoints of real shapes (SHAPES, default qwen2.5-0.5b; add llama-3.1-8b
# where the disk and minutes allow: 16 GB to write):
#   decode   B requests of 32 prompt tokens x 128 new tokens (ignore_eos), B = 1, 8, 64:
#            output tok/s from `generate`'s own summary line (its timer starts after loading)
#   prefill  one 4096-token prompt, 1 new token: input tok/s
#   startup  process start -> first token of a 1-token generate (load + first forward)
# Logs and a summary (cuda_bench.txt) under $OUT. Not yet: graphs on/off (no graphs captured),
# batch 256, llama.cpp's CUDA build side by side, the HBM roofline.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/cuda-out/bench}
BUILD=${BUILD:-build}
SHAPES=${SHAPES:-qwen2.5-0.5b}
MODELS=${MODELS:-$OUT/models}
BIN=$BUILD/src/sglang-cpp
mkdir -p "$OUT" "$MODELS"
SUMMARY=$OUT/cuda_bench.txt
: >"$SUMMARY"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >>"$SUMMARY" 2>&1 || true

requests() {  # count, prompt length, new tokens -> jsonl on stdout
  python3 - "$@" <<'PY'
import json, random, sys
n, plen, new = map(int, sys.argv[1:])
rng = random.Random(0)
for i in range(n):
    ids = [rng.randrange(1000, 30000) for _ in range(plen)]
    print(json.dumps({"input_ids": ids, "sampling_params": {"max_new_tokens": new, "ignore_eos": True, "temperature": 0}}))
PY
}

summary_line() {  # log -> generate's "N requests in S s: input X tok/s, output Y tok/s" line
  grep -o '[0-9]* requests in .*output [0-9.]* tok/s' "$1" | tail -1
}

for shape in $SHAPES; do
  model=$MODELS/$shape
  [ -f "$model/config.json" ] || "$BIN" make-checkpoint --like "$shape" --seed 0 --out "$model" \
    >"$OUT/make_$shape.log" 2>&1
  for b in 1 8 64; do
    requests "$b" 32 128 >"$OUT/decode_$b.jsonl"
    "$BIN" generate --model-path "$model" --device cuda --input-file "$OUT/decode_$b.jsonl" \
      --max-total-tokens 65536 >"$OUT/decode_${shape}_b$b.out" 2>"$OUT/decode_${shape}_b$b.log"
    echo "$shape decode batch $b: $(summary_line "$OUT/decode_${shape}_b$b.log")" | tee -a "$SUMMARY"
  done
  requests 1 4096 1 >"$OUT/prefill.jsonl"
  "$BIN" generate --model-path "$model" --device cuda --input-file "$OUT/prefill.jsonl" \
    --max-total-tokens 65536 --chunked-prefill-size 4096 >"$OUT/prefill_$shape.out" \
    2>"$OUT/prefill_$shape.log"
  echo "$shape prefill 4096: $(summary_line "$OUT/prefill_$shape.log")" | tee -a "$SUMMARY"
  t0=$(date +%s.%N)
  "$BIN" generate --model-path "$model" --device cuda --input-ids 1,2,3,4 --max-new-tokens 1 \
    >"$OUT/startup_$shape.out" 2>"$OUT/startup_$shape.log"
  echo "$shape start-up to first token: $(awk "BEGIN{print $(date +%s.%N) - $t0}") s" |
    tee -a "$SUMMARY"
done
