#!/usr/bin/env bash
# CPU forward throughput, sglang.cpp vs llama.cpp on the same random weights, same machine, same run.
#   prefill tok/s of one 512-token prompt; decode tok/s at batch 1, 8, 32 (each sequence 128 tokens of
#   context); the machine's memory read bandwidth and the decode roofline it implies (every weight byte
#   read once per step).
# Usage: bench/cpu_forward.sh [shape=qwen2.5-0.5b] [gguf type=bf16]
# Needs scripts/setup.sh done; sets up its own venv for llama-cpp-python (bench/llamacpp_venv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
SHAPE=${1:-qwen2.5-0.5b}
GGUF_TYPE=${2:-bf16}
THREADS=${THREADS:-$(nproc)}
OUT=bench/out
MODEL=models/bench/$SHAPE
VENV=${BENCH_VENV:-.venv-bench}
ASSETS=../shared/assets; [ -d "$ASSETS" ] || { ./scripts/fetch_assets.sh; ASSETS=models/assets; }
mkdir -p "$OUT"

ninja -C build sglang-cpp sglang-bench-forward sglang-membw >/dev/null
[ -f "$MODEL/model.safetensors" ] || ./build/src/sglang-cpp make-checkpoint --like "$SHAPE" --seed 0 --out "$MODEL"

bench/llamacpp_venv.sh "$VENV"
GGUF=$MODEL/model-$GGUF_TYPE.gguf
[ -f "$GGUF" ] || "$VENV/bin/python" tools/hf_to_gguf.py "$MODEL" "$GGUF" --outtype "$GGUF_TYPE" --assets "$ASSETS"

echo "== memory bandwidth"
./build/bench/sglang-membw | tee "$OUT/membw.json"
echo "== sglang.cpp"
./build/bench/sglang-bench-forward --model-path "$MODEL" --threads "$THREADS" | tee "$OUT/sglang_cpp.json"
echo "== llama.cpp"
"$VENV/bin/python" bench/llama_cpp_forward.py "$GGUF" --threads "$THREADS" | tail -n 1 | tee "$OUT/llama_cpp.json"

python3 - "$OUT" "$MODEL/model.safetensors" "$SHAPE" "$GGUF_TYPE" <<'PY'
import json, os, sys
out, weights, shape, gtype = sys.argv[1:5]
bw = json.load(open(f"{out}/membw.json"))["read_gb_s"] * 1e9
ours = json.load(open(f"{out}/sglang_cpp.json"))
theirs = json.load(open(f"{out}/llama_cpp.json"))
wbytes = os.path.getsize(weights)
print(f"\n{shape}: {wbytes/1e9:.2f} GB of bf16 weights; read bandwidth {bw/1e9:.1f} GB/s; "
      f"llama.cpp on {gtype} GGUF; {ours['backend']}")
print("| measure | sglang.cpp | llama.cpp | ratio | roofline |")
print("| --- | --- | --- | --- | --- |")
print(f"| prefill {ours['prefill_len']} tok/s | {ours['prefill_tok_s']:.1f} | {theirs['prefill_tok_s']:.1f} | "
      f"{ours['prefill_tok_s']/theirs['prefill_tok_s']:.2f} | — |")
for b, v in ours["decode_tok_s"].items():
    t = theirs["decode_tok_s"][b]
    roof = int(b) * bw / wbytes
    print(f"| decode batch {b} tok/s | {v:.1f} | {t:.1f} | {v/t:.2f} | {roof:.1f} |")
PY
