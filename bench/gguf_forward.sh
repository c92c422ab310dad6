#!/usr/bin/env bash
# The default real model, SmolLM2-135M-Instruct (Q4_1 GGUF), in sglang.cpp and in llama.cpp, same
# file, same run: prompt (prefill) and decode tok/s at batch 1 and 8.
#   bench/gguf_forward.sh [prefill_len=128]
# sglang.cpp under --dtype auto (the server's default) multiplies the Q4_1/Q8_0 blocks as they are
# (src/kernels/cpu/quant_gemm_isa.cpp), as llama.cpp does; the second row dequantizes them to
# float32 at load. llama-cpp-python is compiled from source into .venv-bench on first use
# (bench/llamacpp_venv.sh, ~10 minutes on 2 cores).
# Hugging Face transformers (bench/transformers_forward.py, pinned with torch in
# bench/requirements-transformers.txt, venv .venv-bench-transformers made on first use; skip it
# with TRANSFORMERS=0) runs the prompt row on the same GGUF file, loaded by transformers' own gguf
# integration (no safetensors step), at --dtype float32 and bfloat16.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFILL=${1:-128}
THREADS=${THREADS:-$(nproc)}
OUT=bench/out
VENV=${BENCH_VENV:-.venv-bench}
TF_VENV=${TRANSFORMERS_VENV:-.venv-bench-transformers}
TRANSFORMERS=${TRANSFORMERS:-1}
mkdir -p "$OUT"
# GGUF=path runs another file (e.g. a Q4_K_M one) instead of the default model.
GGUF=${GGUF:-$(./scripts/fetch_model.sh)}
bench/llamacpp_venv.sh "$VENV"
for DTYPE in auto float32; do
  echo "== sglang.cpp --dtype $DTYPE"
  ./build/bench/sglang-bench-forward --model-path "$GGUF" --threads "$THREADS" --prefill-len "$PREFILL" \
    --batches 1,8 --dtype "$DTYPE" | tail -n 1 | tee "$OUT/gguf_sglang_cpp_$DTYPE.json"
done
echo "== llama.cpp"
"$VENV/bin/python" bench/llama_cpp_forward.py "$GGUF" --threads "$THREADS" --prefill-len "$PREFILL" \
  --batches 1,8 | tail -n 1 | tee "$OUT/gguf_llama_cpp.json"
rm -f "$OUT"/gguf_transformers_*.json
if [ "$TRANSFORMERS" = 1 ]; then
  if [ ! -x "$TF_VENV/bin/python" ] || ! cmp -s bench/requirements-transformers.txt "$TF_VENV/.requirements"; then
    python3 -m venv "$TF_VENV"
    "$TF_VENV/bin/pip" install -q -r bench/requirements-transformers.txt
    cp bench/requirements-transformers.txt "$TF_VENV/.requirements"
  fi
  for DTYPE in float32 bfloat16; do
    echo "== transformers $DTYPE"
    "$TF_VENV/bin/python" bench/transformers_forward.py "$GGUF" --threads "$THREADS" \
      --prefill-len "$PREFILL" --dtype "$DTYPE" | tail -n 1 | tee "$OUT/gguf_transformers_$DTYPE.json"
  done
fi
python3 - "$OUT" "$PREFILL" <<'PY'
import json, os, sys
out, prefill = sys.argv[1:3]
ours = {d: json.load(open(f"{out}/gguf_sglang_cpp_{d}.json")) for d in ("auto", "float32")}
theirs = json.load(open(f"{out}/gguf_llama_cpp.json"))
print("\n| measure | sglang.cpp auto (Q4_1) | sglang.cpp float32 | llama.cpp | ratio auto | ratio f32 |")
print("| --- | --- | --- | --- | --- | --- |")
def row(name, a, f, t):
    print(f"| {name} | {a:.1f} | {f:.1f} | {t:.1f} | {a / t:.2f} | {f / t:.2f} |")
row(f"prompt {prefill} tok/s", ours["auto"]["prefill_tok_s"], ours["float32"]["prefill_tok_s"],
    theirs["prefill_tok_s"])
for b, t in theirs["decode_tok_s"].items():
    row(f"decode batch {b} tok/s", ours["auto"]["decode_tok_s"][b],
        ours["float32"]["decode_tok_s"][b], t)
print(f"\nload s: auto {ours['auto']['load_s']:.2f}, float32 {ours['float32']['load_s']:.2f}")
tf = {d: json.load(open(f"{out}/gguf_transformers_{d}.json")) for d in ("float32", "bfloat16")
      if os.path.exists(f"{out}/gguf_transformers_{d}.json")}
if tf:
    print(f"\nprompt {prefill} tok/s against transformers (torch {next(iter(tf.values()))['torch']}, "
          "the GGUF read by transformers' gguf integration):\n")
    print("| transformers dtype | tok/s | sglang.cpp auto / it | sglang.cpp float32 / it |")
    print("| --- | --- | --- | --- |")
    for d, m in tf.items():
        t = m["prefill_tok_s"]
        print(f"| {d} | {t:.1f} | {ours['auto']['prefill_tok_s'] / t:.2f} "
              f"| {ours['float32']['prefill_tok_s'] / t:.2f} |")
PY
