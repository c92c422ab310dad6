#!/usr/bin/env bash
# The default real model, SmolLM2-135M-Instruct (Q4_1 GGUF), in sglang.cpp and in llama.cpp, same
# file, same run: prompt (prefill) and decode tok/s at batch 1 and 8.
#   bench/gguf_forward.sh [prefill_len=128]
# sglang.cpp dequantizes the Q4_1 weights to float32 at load (quantized matmul kernels are a later
# issue); llama.cpp computes on the Q4_1 blocks directly. llama-cpp-python is compiled from source
# into .venv-bench on first use (bench/requirements-llamacpp.txt, a few minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
PREFILL=${1:-128}
THREADS=${THREADS:-$(nproc)}
OUT=bench/out
VENV=${BENCH_VENV:-.venv-bench}
mkdir -p "$OUT"
GGUF=$(./scripts/fetch_model.sh)
if [ ! -x "$VENV/bin/python" ] || ! cmp -s bench/requirements-llamacpp.txt "$VENV/.requirements"; then
  python3 -m venv "$VENV"
  CMAKE_ARGS="-DGGML_NATIVE=ON" "$VENV/bin/pip" install -q -r bench/requirements-llamacpp.txt
  cp bench/requirements-llamacpp.txt "$VENV/.requirements"
fi
echo "== sglang.cpp"
./build/bench/sglang-bench-forward --model-path "$GGUF" --threads "$THREADS" --prefill-len "$PREFILL" \
  --batches 1,8 | tail -n 1 | tee "$OUT/gguf_sglang_cpp.json"
echo "== llama.cpp"
"$VENV/bin/python" bench/llama_cpp_forward.py "$GGUF" --threads "$THREADS" --prefill-len "$PREFILL" \
  --batches 1,8 | tail -n 1 | tee "$OUT/gguf_llama_cpp.json"
python3 - "$OUT" "$PREFILL" <<'PY'
import json, sys
out, prefill = sys.argv[1:3]
ours = json.load(open(f"{out}/gguf_sglang_cpp.json"))
theirs = json.load(open(f"{out}/gguf_llama_cpp.json"))
print("\n| measure | sglang.cpp | llama.cpp | ratio |")
print("| --- | --- | --- | --- |")
print(f"| prompt {prefill} tok/s | {ours['prefill_tok_s']:.1f} | {theirs['prefill_tok_s']:.1f} | "
      f"{ours['prefill_tok_s'] / theirs['prefill_tok_s']:.2f} |")
for b, v in ours["decode_tok_s"].items():
    t = theirs["decode_tok_s"][b]
    print(f"| decode batch {b} tok/s | {v:.1f} | {t:.1f} | {v / t:.2f} |")
PY
