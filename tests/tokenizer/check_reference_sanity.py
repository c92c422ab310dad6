#!/usr/bin/env python3
"""Catch a wrong `tokenizers` pin or a wrong/changed asset before trusting a reference.

Usage:
    check_reference_sanity.py [--assets /path/to/shared/assets] [--ref DIR]

Checks the facts recorded in shared/assets/PROVENANCE.md (sha256 of each
tokenizer.json, the ids of one sentence under qwen3 and llama3 with
tokenizers 0.23.2) plus a few ids that follow from the files' vocabularies.
With --ref it also checks that DIR/manifest.json was produced by the same
tokenizers version from the same files, and that the reference lines agree
with a fresh encode for the PROVENANCE sentence.  Exits non-zero on the
first mismatch set, printing every failed check.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_reference import TOKENIZERS, corpus_sha256, default_assets, sha256_file  # noqa: E402

EXPECTED_TOKENIZERS_VERSION = "0.23.2"

# From shared/assets/PROVENANCE.md.
EXPECTED_SHA256 = {
    "qwen3": "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4",
    "llama3": "c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78",
    "minilm": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "xlmr-unigram-en": "c1a2264790e7e2221e6b18d5be42059179d4cf7648cfb78c194662cc4ce20fb4",
    "xlmr-unigram-ja": "09b1ff043dfcad45983c527ab44f8d14a90737bc4dbfbea2d56cfd0cc4c012ef",
}

SENTENCE = "SGLang provides efficient tokenization endpoints."

# (tokenizer, text, add_special_tokens, expected ids)
EXPECTED_IDS = [
    # PROVENANCE.md: the ids SGLang's guide shows for Qwen2.5-0.5B-Instruct.
    ("qwen3", SENTENCE, False, [50, 3825, 524, 5707, 11050, 3950, 2022, 36342, 13]),
    ("llama3", SENTENCE, False, [50, 3910, 526, 5825, 11297, 4037, 2065, 37442, 13]),
    # Neither byte-level post-processor adds BOS/EOS.
    ("qwen3", SENTENCE, True, [50, 3825, 524, 5707, 11050, 3950, 2022, 36342, 13]),
    ("llama3", SENTENCE, True, [50, 3910, 526, 5825, 11297, 4037, 2065, 37442, 13]),
    # Added tokens are matched inside text even without add_special_tokens.
    ("qwen3", "<|im_start|><|im_end|>", False, [151644, 151645]),
    ("llama3", "<|begin_of_text|>", False, [128000]),
    # BERT template: [CLS]=101 ... [SEP]=102; empty input keeps both.
    ("minilm", "", True, [101, 102]),
    # XLM-R layout: <s>=0 ... </s>=2.
    ("xlmr-unigram-en", "", True, [0, 2]),
    ("xlmr-unigram-ja", "", True, [0, 2]),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assets", type=Path, default=None)
    ap.add_argument("--ref", type=Path, default=None,
                    help="reference folder written by make_reference.py")
    args = ap.parse_args(argv)

    import tokenizers
    from tokenizers import Tokenizer

    assets = args.assets or default_assets()
    failures: list[str] = []

    def check(ok: bool, what: str) -> None:
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    check(tokenizers.__version__ == EXPECTED_TOKENIZERS_VERSION,
          f"tokenizers version {tokenizers.__version__} == {EXPECTED_TOKENIZERS_VERSION}")

    loaded = {}
    for name, rel in TOKENIZERS.items():
        path = assets / rel
        if not path.is_file():
            print(f"skip {name}: {path} missing")
            continue
        digest = sha256_file(path)
        check(digest == EXPECTED_SHA256[name], f"sha256 {rel} == PROVENANCE.md")
        tok = Tokenizer.from_file(str(path))
        tok.no_padding()
        tok.no_truncation()
        loaded[name] = tok

    for name, text, special, want in EXPECTED_IDS:
        if name not in loaded:
            continue
        got = loaded[name].encode(text, add_special_tokens=special).ids
        check(got == want, f"{name} encode({text!r}, add_special_tokens={special}) "
                           f"== {want} (got {got})")

    if args.ref is not None:
        manifest = json.loads((args.ref / "manifest.json").read_text())
        check(manifest["tokenizers_version"] == tokenizers.__version__,
              f"manifest tokenizers_version {manifest['tokenizers_version']}")
        import corpus as corpus_mod

        texts = corpus_mod.build_corpus(manifest["seed"], manifest["n_random"])
        check(corpus_sha256(texts) == manifest["corpus_sha256"], "corpus rebuilt from manifest seed matches")
        for name, entry in manifest["tokenizers"].items():
            if entry.get("synthetic"):
                continue  # built by make_reference.py itself (synthetic.py), not from PROVENANCE
            check(entry["sha256"] == EXPECTED_SHA256.get(name),
                  f"manifest sha256 of {name} == PROVENANCE.md")
            if name not in loaded:
                continue
            n_lines = 0
            found = False
            with open(args.ref / entry["file"], encoding="ascii") as f:
                for line in f:
                    n_lines += 1
                    row = json.loads(line)
                    if row["text"] == SENTENCE:
                        found = True
                        fresh = loaded[name].encode(SENTENCE, add_special_tokens=True).ids
                        check(row["ids"] == fresh, f"{entry['file']}: ids of the sentence")
            check(n_lines == entry["lines"] == manifest["n_texts"],
                  f"{entry['file']}: {n_lines} lines")
            check(found, f"{entry['file']}: contains the PROVENANCE sentence")

    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
