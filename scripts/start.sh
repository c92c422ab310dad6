#!/usr/bin/env bash
# Starts sglang.cpp. Until the HTTP server lands this runs the offline generator: it writes a tiny
# random-weight Qwen2 checkpoint (real vocabulary, hidden size 64) into models/ and prints the greedy
# continuation of a prompt given as token ids.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=models/tiny-qwen2
if [ ! -f "$MODEL/model.safetensors" ]; then
  ./build/src/sglang-cpp make-checkpoint --tiny --arch qwen2 --seed 1 --out "$MODEL"
fi
exec ./build/src/sglang-cpp generate --model-path "$MODEL" --input-ids "${INPUT_IDS:-9707,11,1879,0}" \
  --max-new-tokens "${MAX_NEW_TOKENS:-16}"
