#!/usr/bin/env python3
"""Write the Hugging Face `tokenizers` reference for the C++ tokenizer test.

Usage:
    make_reference.py --out DIR [--n-random 20000] [--seed 1234]
                      [--assets /path/to/shared/assets]

For every tokenizer in TOKENIZERS whose tokenizer.json exists under --assets,
writes DIR/<name>.jsonl with one JSON object per corpus string:

    text           the input string
    ids            encode(text, add_special_tokens=True).ids
    ids_nospecial  encode(text, add_special_tokens=False).ids
    decoded        decode(ids, skip_special_tokens=False)
    decoded_skip   decode(ids, skip_special_tokens=True)

For the tokenizers in PAIR_TOKENIZERS it also writes DIR/<name>.pairs.jsonl
(fields a, b, ids, type_ids) for 500 (a, b) pairs drawn from the corpus,
encoded with encode(a, b, add_special_tokens=True).

Padding and truncation configured in a tokenizer.json (minilm-l6-v2 asks for
fixed padding to 128 and truncation at 128) are switched off for these files,
so they record the tokenization itself.  For such a tokenizer,
DIR/<name>.asis.jsonl additionally records what the file as-is produces
(ids, type_ids, attention_mask) for the curated strings.

Synthetic tokenizers (synthetic.py: Llama-2-style byte-fallback BPE, RoBERTa-style
byte-level BPE, BERT-style WordPiece with Punctuation and its behaviour variants, a
GPT-2-style tokenizer from the Qwen3 vocab.json + merges.txt) are built here with
`tokenizers`, trained on the first --n-train corpus strings, and saved as
DIR/synthetic/<name>/tokenizer.json; their reference files sit beside the others:
<name>.jsonl (the punct-* variants and gpt2-style-qwen3 on the first
--n-variant strings), <name>.pairs.jsonl for the encoder-style ones,
<name>.decode.jsonl (random id sequences: ids, decoded, decoded_skip) and
<name>.trunc.jsonl (encode with truncation and padding: a, b or null, max_length,
strategy, direction, padding, add_special_tokens, then ids, type_ids, attention_mask, or
error).  Pairs files also carry ids_nospecial / type_ids_nospecial.

DIR/manifest.json records the tokenizers version, seed, counts, the sha256 of
the corpus and of each tokenizer.json.  All JSON is written with
ensure_ascii=True so any string (lone combining marks, controls, NUL,
noncharacters) round-trips exactly.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus as corpus_mod  # noqa: E402
import synthetic  # noqa: E402

# name -> path of tokenizer.json relative to the assets folder
TOKENIZERS = {
    "qwen3": "qwen3-tokenizer/tokenizer.json",
    "llama3": "llama3-tokenizer/tokenizer.json",
    "minilm": "minilm-l6-v2/tokenizer.json",
    "xlmr-unigram-en": "xlmr-format-unigram-en/tokenizer.json",
    "xlmr-unigram-ja": "xlmr-format-unigram-ja/tokenizer.json",
}
PAIR_TOKENIZERS = {"minilm", "xlmr-unigram-en", "xlmr-unigram-ja",
                   "roberta-style-bpe", "bert-style-wordpiece"}
# Synthetic tokenizers whose reference covers the whole corpus; the others get --n-variant lines.
SYNTHETIC_FULL = {"llama2-style-bpe", "roberta-style-bpe", "bert-style-wordpiece"}
TRUNC_TOKENIZERS = {"minilm", "xlmr-unigram-en", "llama2-style-bpe", "roberta-style-bpe",
                    "bert-style-wordpiece"}
N_PAIRS = 500


def default_assets() -> Path:
    # tests/tokenizer -> repo root -> ../shared/assets (the layout of /work),
    # or shared/assets inside the checkout.
    root = HERE.parent.parent
    for cand in (root / "shared" / "assets", root.parent / "shared" / "assets"):
        if cand.is_dir():
            return cand
    return root.parent / "shared" / "assets"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


def corpus_sha256(texts: list[str]) -> str:
    return hashlib.sha256(dumps(texts).encode("ascii")).hexdigest()


def make_pairs(texts: list[str], seed: int) -> list[tuple[str, str]]:
    """500 deterministic (a, b) pairs: a few fixed edge cases, then random."""
    fixed = [
        ("", ""),
        ("", "b"),
        ("a", ""),
        ("Hello world", "How are you?"),
        ("<s>", "</s>"),
        ("[CLS]", "[SEP]"),
        ("What is the capital of France?", "Paris is the capital of France."),
        ("日本語の質問", "日本語の回答です。"),
    ]
    rng = random.Random(seed ^ 0x5EED)
    pairs = list(fixed)
    while len(pairs) < N_PAIRS:
        pairs.append((rng.choice(texts), rng.choice(texts)))
    return pairs


def write_reference(name: str, tok, texts: list[str], out: Path) -> int:
    enc_sp = tok.encode_batch(texts, add_special_tokens=True)
    enc_ns = tok.encode_batch(texts, add_special_tokens=False)
    ids_sp = [e.ids for e in enc_sp]
    ids_ns = [e.ids for e in enc_ns]
    dec = tok.decode_batch(ids_sp, skip_special_tokens=False)
    dec_skip = tok.decode_batch(ids_sp, skip_special_tokens=True)
    with open(out / f"{name}.jsonl", "w", encoding="ascii", newline="\n") as f:
        for text, a, b, d, ds in zip(texts, ids_sp, ids_ns, dec, dec_skip):
            f.write(dumps({"text": text, "ids": a, "ids_nospecial": b,
                           "decoded": d, "decoded_skip": ds}) + "\n")
    return len(texts)


def write_pairs(name: str, tok, pairs, out: Path) -> int:
    encs = tok.encode_batch(list(pairs), add_special_tokens=True)
    encs_ns = tok.encode_batch(list(pairs), add_special_tokens=False)
    with open(out / f"{name}.pairs.jsonl", "w", encoding="ascii", newline="\n") as f:
        for (a, b), e, n in zip(pairs, encs, encs_ns):
            f.write(dumps({"a": a, "b": b, "ids": e.ids, "type_ids": e.type_ids,
                           "ids_nospecial": n.ids, "type_ids_nospecial": n.type_ids}) + "\n")
    return len(pairs)


def write_decode(name: str, tok, seed: int, out: Path, n: int = 3000) -> int:
    """Random id sequences (any id, runs of byte-fallback pieces) and their decode."""
    rng = random.Random(f"{seed}-{name}-decode")
    size = tok.get_vocab_size(with_added_tokens=True)
    byte_ids = [i for i in (tok.token_to_id(f"<0x{b:02X}>") for b in range(256)) if i is not None]
    seqs = []
    for _ in range(n):
        ids = []
        for _ in range(rng.randint(0, 24)):
            if byte_ids and rng.random() < 0.5:
                ids.append(rng.choice(byte_ids))
            else:
                ids.append(rng.randrange(size))
        seqs.append(ids)
    dec = tok.decode_batch(seqs, skip_special_tokens=False)
    dec_skip = tok.decode_batch(seqs, skip_special_tokens=True)
    with open(out / f"{name}.decode.jsonl", "w", encoding="ascii", newline="\n") as f:
        for ids, d, ds in zip(seqs, dec, dec_skip):
            f.write(dumps({"ids": ids, "decoded": d, "decoded_skip": ds}) + "\n")
    return n


def write_trunc(name: str, tok_json: str, texts: list[str], seed: int, out: Path) -> int:
    """encode / encode pair with truncation (and sometimes padding) switched on, one setting
    per line, drawn at random; HF's errors (only_second without a pair, too short) recorded."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tok_json)
    rng = random.Random(f"{seed}-{name}-trunc")
    n = 0
    with open(out / f"{name}.trunc.jsonl", "w", encoding="ascii", newline="\n") as f:
        for _ in range(3000):
            a = rng.choice(texts)
            b = rng.choice(texts) if rng.random() < 0.5 else None
            # >= 4: HF subtracts the post-processor's added tokens (up to 4) without a check.
            max_length = rng.choice([4, 5, 6, 8, 11, 16, 32, 64])
            strategy = rng.choice(["longest_first", "only_first", "only_second"])
            direction = rng.choice(["right", "left"])
            add_special = rng.random() < 0.75
            padding = rng.choice([None, None, {"length": 48, "direction": "right"},
                                  {"length": 48, "direction": "left"},
                                  {"length": None, "direction": "right", "pad_to_multiple_of": 8}])
            tok.enable_truncation(max_length, stride=0, strategy=strategy,
                                  direction=direction)
            if padding is None:
                tok.no_padding()
            else:
                tok.enable_padding(direction=padding["direction"], pad_id=1, pad_type_id=2,
                                   pad_token="[pad]", length=padding["length"],
                                   pad_to_multiple_of=padding.get("pad_to_multiple_of"))
            line = {"a": a, "b": b, "max_length": max_length, "strategy": strategy,
                    "direction": direction, "padding": padding,
                    "add_special_tokens": add_special}
            try:
                e = (tok.encode(a, b, add_special_tokens=add_special) if b is not None
                     else tok.encode(a, add_special_tokens=add_special))
                line.update(ids=e.ids, type_ids=e.type_ids, attention_mask=e.attention_mask)
            except Exception as ex:  # noqa: BLE001 - HF raises a plain Exception
                line["error"] = str(ex)
            f.write(dumps(line) + "\n")
            n += 1
    return n


def write_asis(name: str, path: Path, texts: list[str], out: Path) -> int:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))  # padding/truncation as in the file
    encs = tok.encode_batch(texts, add_special_tokens=True)
    with open(out / f"{name}.asis.jsonl", "w", encoding="ascii", newline="\n") as f:
        for text, e in zip(texts, encs):
            f.write(dumps({"text": text, "ids": e.ids, "type_ids": e.type_ids,
                           "attention_mask": e.attention_mask}) + "\n")
    return len(texts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--n-random", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--assets", type=Path, default=None)
    ap.add_argument("--n-train", type=int, default=3000,
                    help="corpus strings the synthetic tokenizers are trained on")
    ap.add_argument("--n-variant", type=int, default=4000,
                    help="corpus strings in the reference of the smaller synthetic variants")
    args = ap.parse_args(argv)

    import tokenizers
    from tokenizers import Tokenizer

    assets = args.assets or default_assets()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.monotonic()
    texts = corpus_mod.build_corpus(args.seed, args.n_random)
    corpus_sha = corpus_sha256(texts)
    pairs = make_pairs(texts, args.seed)
    print(f"corpus: {len(texts)} strings ({len(corpus_mod.CURATED)} curated), "
          f"{time.monotonic() - t0:.2f}s")

    manifest = {
        "tokenizers_version": tokenizers.__version__,
        "python_version": sys.version.split()[0],
        "seed": args.seed,
        "n_random": args.n_random,
        "n_curated": len(corpus_mod.CURATED),
        "n_texts": len(texts),
        "corpus_sha256": corpus_sha,
        "n_pairs": len(pairs),
        "encode": "padding and truncation disabled (see 'file_padding'/'file_truncation')",
        "tokenizers": {},
    }

    sources = [(name, assets / rel, rel) for name, rel in TOKENIZERS.items()]
    t1 = time.monotonic()
    built = synthetic.build_all(texts, args.n_train, assets)
    for name, tok in built.items():
        path = out / "synthetic" / name / "tokenizer.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tok.save(str(path))
        sources.append((name, path, f"synthetic/{name}/tokenizer.json"))
    print(f"synthetic tokenizers: {len(built)}, {time.monotonic() - t1:.2f}s")

    for name, path, rel in sources:
        if not path.is_file():
            print(f"{name}: {path} missing, skipped")
            continue
        t1 = time.monotonic()
        tok = Tokenizer.from_file(str(path))
        entry = {
            "path": rel,
            "sha256": sha256_file(path),
            "file_padding": tok.padding,
            "file_truncation": tok.truncation,
            "synthetic": name in built,
        }
        tok.no_padding()
        tok.no_truncation()
        subset = texts if name not in built or name in SYNTHETIC_FULL else texts[:args.n_variant]
        entry["lines"] = write_reference(name, tok, subset, out)
        entry["file"] = f"{name}.jsonl"
        if name in PAIR_TOKENIZERS:
            entry["pair_lines"] = write_pairs(name, tok, pairs, out)
            entry["pairs_file"] = f"{name}.pairs.jsonl"
        if entry["file_padding"] is not None or entry["file_truncation"] is not None:
            entry["asis_lines"] = write_asis(name, path, list(corpus_mod.CURATED), out)
            entry["asis_file"] = f"{name}.asis.jsonl"
        if name in built:
            entry["decode_lines"] = write_decode(name, tok, args.seed, out)
        if name in TRUNC_TOKENIZERS:
            entry["trunc_lines"] = write_trunc(name, tok.to_str(), texts[:5000], args.seed, out)
        manifest["tokenizers"][name] = entry
        print(f"{name}: {entry['lines']} lines, {time.monotonic() - t1:.2f}s")

    with open(out / "manifest.json", "w", encoding="ascii") as f:
        json.dump(manifest, f, ensure_ascii=True, indent=2, sort_keys=True)
        f.write("\n")
    print(f"done in {time.monotonic() - t0:.2f}s -> {out}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    sys.exit(main())
