#!/usr/bin/env bash
# Runs every test: set-up and build (scripts/setup.sh), formatting check, the unit, golden and
# tokenizer suites, the HTTP API suite, then the unit suites again under AddressSanitizer +
# UndefinedBehaviorSanitizer (a clang build that also holds the libFuzzer targets, run next for a
# bounded time each), and the concurrency tests under ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

echo "== clang-format"
git ls-files -co --exclude-standard '*.cpp' '*.h' | xargs clang-format --dry-run --Werror

# Two test processes at a time on two cores; passive waiting keeps their OpenMP teams from spinning
# against each other.
export OMP_WAIT_POLICY=passive
JOBS=$(nproc)

echo "== unit + golden tests"
ctest --test-dir build -j "$JOBS" --output-on-failure

echo "== HTTP API tests (pytest against launched servers)"
.venv/bin/python -m pytest -q tests/api

echo "== ASan + UBSan build (clang, with the fuzz targets)"
# The tokenizer reference made for the release run above serves this run too.
CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSGLANG_SANITIZE=ON \
  -DSGLANG_WERROR=ON -DSGLANG_TOKENIZER_REF_DIR="$PWD/build/tokenizer-reference" \
  -DSGLANG_TEMPLATE_REF_DIR="$PWD/build/template-reference" >/dev/null
ninja -C build-asan sglang_unit_tests sglang_chat_tests sglang_golden_tests sglang_tokenizer_conformance sglang_gguf_tokenizer_tests sglang_gguf_tests sglang-cpp sglang_fuzz
# All unit and tokenizer tests; of the golden suite, the best kernel table only, and of the tokenizer
# conformance corpus every 4th line (the sanitizers check memory and UB, the release run above checks
# numbers on every table and every line).
SGLANG_TEST_SAMPLE_EVERY=4 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan -j "$JOBS" --output-on-failure -E "GoldenTest.*generic|^tokenizer_reference$|^template_reference$" \
  -FS "tokenizer_reference|template_reference"
echo "== HTTP API tests against the sanitizer build"
# The server's request paths: generation (native, OpenAI, Responses, structured), hostile input,
# concurrency, aborts, backpressure, data parallelism. Not here, each checked elsewhere under the
# sanitizers: the structured-output validity suite (random grammars: fuzz_grammar below), the
# router (its server paths are the others'), the encoder routes (embeddings, rerank, MiniLM:
# fuzz_http_routes below drives their parsing, the ASan golden tests their models), the real
# model's numbers and the expert recorder (ASan unit tests). An instrumented server spends ~15 s
# loading the Qwen tokenizer, so every module left out saves its launches: this phase took ~18 min
# with all of them.
SGLANG_CPP_BIN=build-asan/src/sglang-cpp ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  .venv/bin/python -m pytest -q tests/api --ignore=tests/api/test_structured_validity.py \
  --ignore=tests/api/test_router.py --ignore=tests/api/test_real_model.py \
  --ignore=tests/api/test_rerank.py --ignore=tests/api/test_embedding.py \
  --ignore=tests/api/test_embedding_minilm.py --ignore=tests/api/test_openai_embeddings.py \
  --ignore=tests/api/test_expert_distribution.py

echo "== fuzz targets (libFuzzer, ASan + UBSan): each replays its corpus, then mutates for 15 s"
tests/fuzz/run.sh build-asan "${SGLANG_FUZZ_SECONDS:-15}"

# The TSan phase: its own build (only the server binary and the concurrency tests' binary), the
# engine/cache/server unit tests, and the API concurrency and hardening suites against the TSan
# server. SGLANG_CI_TSAN=0 skips it (a local run that does not need it).
if [ "${SGLANG_CI_TSAN:-1}" = 1 ]; then
  echo "== ThreadSanitizer build (the server binary and the engine/cache/server unit tests)"
  CC=clang CXX=clang++ cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSGLANG_TSAN=ON \
    -DSGLANG_WERROR=ON -DSGLANG_TOKENIZER_REF_DIR="$PWD/build/tokenizer-reference" \
    -DSGLANG_TEMPLATE_REF_DIR="$PWD/build/template-reference" >/dev/null
  ninja -C build-tsan sglang_concurrency_tests sglang-cpp
  # libarcher tells TSan about the OpenMP runtime's synchronisation (the kernels' teams); every
  # report goes to a file, so that one from a server launched by pytest fails the run too.
  rm -rf build-tsan/tsan-reports && mkdir -p build-tsan/tsan-reports
  export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp second_deadlock_stack=1 log_path=$PWD/build-tsan/tsan-reports/report"
  export OMP_TOOL_LIBRARIES=/usr/lib/llvm-14/lib/libarcher.so
  build-tsan/tests/sglang_concurrency_tests --gtest_brief=1
  echo "== HTTP API concurrency tests against the TSan build"
  SGLANG_CPP_BIN=build-tsan/src/sglang-cpp .venv/bin/python -m pytest -q tests/api/test_concurrency.py \
    tests/api/test_hardening.py
  unset TSAN_OPTIONS OMP_TOOL_LIBRARIES
  if compgen -G "build-tsan/tsan-reports/report*" >/dev/null; then
    cat build-tsan/tsan-reports/report*
    echo "ThreadSanitizer reported races (above)"
    exit 1
  fi
fi
