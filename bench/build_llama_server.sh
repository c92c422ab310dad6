#!/usr/bin/env bash
# Builds llama.cpp's `llama-server` (the serving peer of bench/serving.sh) from the llama.cpp that
# the pinned llama-cpp-python sdist vendors (bench/requirements-llamacpp.txt), so the server and the
# Python bindings of bench/long_context.sh / bench/gguf_forward.sh run the same llama.cpp commit.
# Output: $DEST/bin/llama-server (default .llama-server/, ignored by git; bench-only).
# The CPU flags match bench/requirements-llamacpp.txt: -march=native, but without AMX, which this
# project's VM reports and does not grant (ggml's AMX path dies with SIGILL at the first matmul).
# Usage: bench/build_llama_server.sh   (DEST=dir JOBS=n to change; takes many minutes on 2 cores:
#        run it in the background with nice)
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${DEST:-.llama-server}
JOBS=${JOBS:-$(nproc)}
VERSION=$(sed -n 's/^llama-cpp-python==//p' bench/requirements-llamacpp.txt)
SRC=$DEST/src
mkdir -p "$SRC"
DEST=$(cd "$DEST" && pwd)
SRC=$DEST/src

if [ ! -d "$SRC/llama_cpp_python-$VERSION" ]; then
  python3 -m pip download --quiet --no-binary :all: --no-deps --dest "$SRC" \
    "llama-cpp-python==$VERSION"
  tar -xzf "$SRC/llama_cpp_python-$VERSION.tar.gz" -C "$SRC"
fi
LLAMA=$SRC/llama_cpp_python-$VERSION/vendor/llama.cpp

NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
cmake -S "$LLAMA" -B "$DEST/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF \
  -DGGML_NATIVE=ON -DCMAKE_C_FLAGS="$NO_AMX" -DCMAKE_CXX_FLAGS="$NO_AMX" >"$DEST/cmake.log"
# llama.cpp's CMake puts its binaries and shared libraries in build/bin whatever
# CMAKE_RUNTIME_OUTPUT_DIRECTORY says; the link gives bench/serving.sh its fixed path.
ninja -C "$DEST/build" -j "$JOBS" llama-server
mkdir -p "$DEST/bin"
ln -sf ../build/bin/llama-server "$DEST/bin/llama-server"
echo "$DEST/bin/llama-server"
