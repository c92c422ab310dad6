#!/usr/bin/env bash
# The GGUF test fixtures, made at test time with the pinned `gguf` package (requirements-test.txt):
#   quants.gguf                   one small tensor per supported type + the package's dequantize
#   tiny-ARCH/                    tiny random checkpoints (sglang-cpp make-checkpoint), ARCH one of
#                                 llama qwen2 qwen3 qwen3-moe-gguf gemma2-gguf gemma3-gguf phi3
#   tiny-ARCH-{f32,q8_0}.gguf     the same checkpoints converted by tools/hf_to_gguf.py
# usage: make_fixtures.sh SGLANG_CPP_BINARY OUT_DIR ASSETS_DIR
set -euo pipefail
bin=$1 out=$2 assets=$3
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py="$root/.venv/bin/python"
mkdir -p "$out"
"$py" "$here/make_quant_fixture.py" "$out/quants.gguf"
seed=7
for arch in llama qwen2 qwen3 qwen3-moe-gguf gemma2-gguf gemma3-gguf phi3; do
  rm -rf "$out/tiny-$arch"
  "$bin" make-checkpoint --tiny --arch "$arch" --seed "$seed" --out "$out/tiny-$arch" >/dev/null
  for t in f32 q8_0; do
    "$py" "$root/tools/hf_to_gguf.py" "$out/tiny-$arch" "$out/tiny-$arch-$t.gguf" --outtype "$t" \
      --assets "$assets" >/dev/null
  done
  seed=$((seed + 1))
done
echo "gguf fixtures in $out"
