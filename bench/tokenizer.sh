#!/usr/bin/env bash
# Tokenizer encode throughput, sglang.cpp vs Hugging Face `tokenizers` (the pinned version in
# requirements-test.txt), same 10 MB corpus, same run: MB/s and tokens/s on one thread and on all.
# The corpus: the conformance corpus' curated multilingual strings plus seeded random text, repeated
# into documents of ~2 KB (tests/tokenizer/corpus.py), written as JSON lines.
# Usage: bench/tokenizer.sh [tokenizer.json ...]   (default: the Qwen and Llama 3 tokenizers)
set -euo pipefail
cd "$(dirname "$0")/.."
ninja -C build sglang-bench-tokenizer >/dev/null
OUT=bench/out
mkdir -p "$OUT"
ASSETS=../shared/assets
[ -d "$ASSETS" ] || ASSETS=models/assets
CORPUS=$OUT/tokenizer-corpus.jsonl
.venv/bin/python - "$CORPUS" <<'PY'
import json, random, sys
sys.path.insert(0, "tests/tokenizer")
from corpus import build_corpus
texts = [t for t in build_corpus(seed=7, n_random=2000) if t]
rng = random.Random(7)
# English-heavy documents (the common serving case) with the multilingual/random strings mixed in.
words = "the of and to in is that for it as with was on be by this are from at or an have not".split()
out, size = [], 0
while size < 10_000_000:
    parts = []
    while sum(len(p) for p in parts) < 2000:
        if rng.random() < 0.7:
            parts.append(" ".join(rng.choice(words) for _ in range(rng.randint(5, 30))) + ". ")
        else:
            parts.append(rng.choice(texts))
    doc = "".join(parts)
    out.append(doc)
    size += len(doc.encode("utf-8"))
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for d in out:
        f.write(json.dumps(d) + "\n")
PY
TOKENIZERS=("$@")
[ ${#TOKENIZERS[@]} -gt 0 ] || TOKENIZERS=("$ASSETS/qwen3-tokenizer/tokenizer.json" "$ASSETS/llama3-tokenizer/tokenizer.json")
for t in "${TOKENIZERS[@]}"; do
  echo "== $t"
  ./build/bench/sglang-bench-tokenizer --tokenizer "$t" --corpus "$CORPUS" | tee "$OUT/tok-ours.json"
  .venv/bin/python bench/tokenizer_hf.py "$t" "$CORPUS" | tee "$OUT/tok-hf.json"
  python3 - "$OUT" <<'PY'
import json, sys
o = json.load(open(f"{sys.argv[1]}/tok-ours.json")); h = json.load(open(f"{sys.argv[1]}/tok-hf.json"))
print("| threads | sglang.cpp MB/s | tokenizers MB/s | ratio | sglang.cpp tok/s | tokenizers tok/s |")
print("| --- | --- | --- | --- | --- | --- |")
for k in ("single", "all"):
    print(f"| {o[k]['threads']} | {o[k]['mb_s']:.2f} | {h[k]['mb_s']:.2f} | {o[k]['mb_s']/h[k]['mb_s']:.2f} | "
          f"{o[k]['tokens_s']:.0f} | {h[k]['tokens_s']:.0f} |")
PY
done
