#!/usr/bin/env bash
# Makes (once, and again when bench/requirements-llamacpp.txt changes) the llama-cpp-python venv of
# the llama.cpp side of the CPU benchmarks (gguf_forward.sh, cpu_forward.sh, e2e_decode.sh,
# long_context.sh). llama-cpp-python compiles its vendored llama.cpp here, for this CPU
# (GGML_NATIVE, ~10 minutes on 2 cores), without AMX: this project's VM reports AMX and does not
# grant its tile state, and ggml's AMX path then dies with SIGILL at the first matmul (the same
# flags as bench/build_llama_server.sh, so both peers run the same code).
# Usage: bench/llamacpp_venv.sh [venv dir=.venv-bench]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv-bench}
if [ ! -x "$VENV/bin/python" ] || ! cmp -s bench/requirements-llamacpp.txt "$VENV/.requirements"; then
  python3 -m venv "$VENV"
  NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  CMAKE_ARGS="-DGGML_NATIVE=ON -DCMAKE_C_FLAGS='$NO_AMX' -DCMAKE_CXX_FLAGS='$NO_AMX'" \
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    "$VENV/bin/pip" install -q --no-cache-dir -r bench/requirements-llamacpp.txt
  cp bench/requirements-llamacpp.txt "$VENV/.requirements"
fi
