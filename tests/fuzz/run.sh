#!/usr/bin/env bash
# Runs every fuzz target for a bounded time on its corpus (new inputs go to a scratch directory,
# so the committed corpus changes only by hand). A crash leaves crash-* in the current directory:
# add it to the target's corpus as a regression input once fixed.
#   tests/fuzz/run.sh [BUILD_DIR=build-fuzz] [SECONDS_PER_TARGET=60]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build-fuzz}"
secs="${2:-60}"
export SGLANG_FUZZ_TOKENIZER="${SGLANG_FUZZ_TOKENIZER:-$here/../../../shared/assets/qwen3-tokenizer}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in sampling_params tokenizer; do
  mkdir -p "$scratch/$target"
  echo "== fuzz_$target for ${secs} s"
  "$build/fuzz_$target" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$scratch/$target" "$here/corpus/$target"
done
