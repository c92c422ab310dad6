#!/usr/bin/env bash
# The one device run of the CUDA backend (issue 18): builds nothing, runs the carried build.
#   tests/cuda/run_all.sh            (logs under $OUT, default /tmp/cuda-out)
# Steps, each logged to $OUT/<step>.log and summarised in $OUT/summary.txt (a failing step does not
# stop the others; the exit status is non-zero when any failed):
#   env       nvidia-smi, the binaries' shared libraries (cuBLAS must resolve)
#   ops       tests/cuda op tests (CUDA vs CPU backend)
#   sanitizer compute-sanitizer memcheck + racecheck on the op tests
#   golden    the golden tests with SGLANG_TEST_DEVICE=cuda (the backend seam in test_support)
#   server    serve --device cuda on a tiny checkpoint: /health, /generate greedy, then stopped
#   bench     bench/cuda.sh (decode tok/s at batch 1/8/64, prefill 4096, start-up)
# Build here first: cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSGLANG_WERROR=ON &&
#   ninja -C build sglang-cpp sglang_cuda_tests sglang_golden_tests
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-/tmp/cuda-out}
BUILD=${BUILD:-build}
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
FAILED=0

step() {  # name, timeout seconds, command...
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  # Through bash -c: timeout runs programs, and most steps are the functions below (exported).
  timeout "$limit" bash -c '"$@"' "$name" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  local verdict=ok
  [ $rc -eq 0 ] || { verdict="FAILED (rc $rc)"; FAILED=1; }
  echo "$name: $verdict in $((SECONDS - t0)) s" | tee -a "$SUMMARY"
}

# The test binaries name their fixture and golden directories by the absolute path of the tree
# they were built in; point that path at this copy when it differs.
BUILT_ROOT=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
if [ -n "$BUILT_ROOT" ] && [ "$BUILT_ROOT" != "$ROOT" ] && [ ! -e "$BUILT_ROOT" ]; then
  mkdir -p "$(dirname "$BUILT_ROOT")" 2>/dev/null && ln -s "$ROOT" "$BUILT_ROOT" 2>/dev/null ||
    echo "warning: cannot link $BUILT_ROOT -> $ROOT; golden tests may not find their data" >>"$SUMMARY"
fi

SANITIZER=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)

env_check() {
  nvidia-smi || true
  for b in "$BUILD/src/sglang-cpp" "$BUILD/tests/sglang_cuda_tests"; do
    echo "== $b"
    ldd "$b" | grep -E "cuda|cublas|not found"
  done
  ! ldd "$BUILD/src/sglang-cpp" | grep -q "not found"
}

sanitize() {
  [ -x "$SANITIZER" ] || { echo "no compute-sanitizer at $SANITIZER"; return 1; }
  "$SANITIZER" --tool memcheck --leak-check full --error-exitcode 1 "$BUILD/tests/sglang_cuda_tests" &&
    "$SANITIZER" --tool racecheck --error-exitcode 1 "$BUILD/tests/sglang_cuda_tests" \
      --gtest_filter='*Attention*:*Norms*:*Moe*'
}

golden() {
  SGLANG_TEST_DEVICE=cuda "$BUILD/tests/sglang_golden_tests" --gtest_filter='*GoldenTest*avx2*' \
    --gtest_output="xml:$OUT/golden.xml"
}

server_smoke() {  # python3 for the HTTP calls: the device image may lack curl
  local model=$OUT/tiny-qwen2 port=30817
  "$BUILD/src/sglang-cpp" make-checkpoint --tiny --arch qwen2 --seed 0 --out "$model" || return 1
  "$BUILD/src/sglang-cpp" serve --model-path "$model" --device cuda --port $port \
    --mem-fraction-static 0.5 --skip-tokenizer-init >"$OUT/server_process.log" 2>&1 &
  local pid=$!
  python3 - "$port" "$pid" "$OUT" <<'PY'
import json, os, sys, time, urllib.request
port, pid, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
base = f"http://127.0.0.1:{port}"
t0 = time.time()
while True:
    try:
        urllib.request.urlopen(base + "/health", timeout=1)
        break
    except Exception:
        if time.time() - t0 > 60:
            sys.exit("server not healthy after 60 s")
        try:
            os.kill(pid, 0)
        except OSError:
            sys.exit("server exited before it was healthy")
        time.sleep(0.25)
print(f"healthy {time.time() - t0:.2f} s after start")
req = {"input_ids": [1, 2, 3, 4, 5, 6, 7, 8],
       "sampling_params": {"max_new_tokens": 16, "temperature": 0, "ignore_eos": True}}
r = urllib.request.Request(base + "/generate", json.dumps(req).encode(),
                           {"Content-Type": "application/json"})
body = json.load(urllib.request.urlopen(r, timeout=60))
json.dump(body, open(f"{out}/server_generate.json", "w"))
assert len(body["output_ids"]) == 16, body
info = json.load(urllib.request.urlopen(base + "/get_server_info", timeout=10))
print("server_info device:", info.get("device"))
assert info.get("device") == "cuda", info.get("device")
PY
  local ok=$?
  kill $pid 2>/dev/null
  wait $pid 2>/dev/null
  cat "$OUT/server_process.log"
  return $ok
}

export OUT BUILD SANITIZER
export -f env_check sanitize golden server_smoke
# Limits sum to 590 s: the whole run fits one 600 s device call.
step env 30 env_check
step ops 90 "$BUILD/tests/sglang_cuda_tests" --gtest_output="xml:$OUT/ops.xml"
step sanitizer 150 sanitize
step golden 120 golden
step server 60 server_smoke
step bench 140 env OUT="$OUT/bench" BUILD="$BUILD" bench/cuda.sh
exit $FAILED
