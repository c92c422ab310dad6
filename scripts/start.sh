#!/usr/bin/env bash
# Starts the sglang.cpp HTTP server (SGLang's native API on http://127.0.0.1:30000) on a tiny
# random-weight Qwen2 checkpoint (real Qwen vocabulary and tokenizer files, hidden size 64) written
# into models/tiny-qwen2 on first use. Extra arguments go to `sglang-cpp serve` (SGLang's flags,
# e.g. --port 8000 --host 0.0.0.0); MODEL=dir serves another Hugging Face model directory.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${MODEL:-}" ]; then
  MODEL=models/tiny-qwen2
  if [ ! -f "$MODEL/model.safetensors" ]; then
    ./build/src/sglang-cpp make-checkpoint --tiny --arch qwen2 --seed 1 --out "$MODEL"
  fi
  if [ ! -f "$MODEL/tokenizer.json" ]; then
    TOK=../shared/assets/qwen3-tokenizer
    [ -f "$TOK/tokenizer.json" ] || TOK=models/assets/qwen3-tokenizer
    for f in tokenizer.json tokenizer_config.json vocab.json merges.txt; do
      [ -f "$TOK/$f" ] && cp "$TOK/$f" "$MODEL/"
    done
  fi
fi
exec ./build/src/sglang-cpp serve --model-path "$MODEL" "$@"
