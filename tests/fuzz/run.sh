#!/usr/bin/env bash
# Runs every fuzz target (BUILD_DIR/tests/fuzz/fuzz_*, the clang sanitizer build) for a bounded
# time: each first replays its committed corpus (tests/fuzz/corpus/<target>/: seeds and the
# regression inputs of every crash found so far), then mutates for SECONDS. New inputs go to a
# scratch directory, so the committed corpus changes only by hand. A crash, leak, UB report or hang
# (-timeout) fails the run and leaves its input in BUILD_DIR/fuzz-artifacts/: fix the bug, then add
# the input to the target's corpus as a regression input.
#   tests/fuzz/run.sh [BUILD_DIR=build-asan] [SECONDS_PER_TARGET=25] [TARGET...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build-asan}"
secs="${2:-25}"
shift $(($# > 2 ? 2 : $#))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$here"/fuzz_*.cpp; do
    t="$(basename "$f" .cpp)"
    targets+=("${t#fuzz_}")
  done
fi
export SGLANG_FUZZ_ASSETS="${SGLANG_FUZZ_ASSETS:-$here/../../../shared/assets}"
[ -d "$SGLANG_FUZZ_ASSETS" ] || SGLANG_FUZZ_ASSETS="$here/../../models/assets"  # fetch_assets.sh
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$build/fuzz-artifacts"
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target"
  echo "== fuzz_$target: corpus, then ${secs} s"
  log="$scratch/$target.log"
  if ! ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}" \
    "$build/tests/fuzz/fuzz_$target" -max_total_time="$secs" -max_len=8192 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$target-" \
    "$scratch/$target" "$here/corpus/$target" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz_$target FAILED (input in $build/fuzz-artifacts/)"
    exit 1
  fi
  grep -E "INITED|DONE|stat::number_of_executed_units|stat::peak_rss_mb" "$log" || true
done
