#!/usr/bin/env python3
"""Writes the tokenizer corpus (corpus.py, standard library only) as a binary file for C++ tests:
per string, its UTF-8 length as a little-endian uint32 and then the bytes.

    python3 tests/tokenizer/dump_corpus.py --out FILE [--seed 1234] [--n-random 20000]
"""
import argparse
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--n-random", type=int, default=20000)
    args = ap.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".part")
    with open(tmp, "wb") as f:
        for text in corpus.build_corpus(args.seed, args.n_random):
            data = text.encode("utf-8")
            f.write(struct.pack("<I", len(data)))
            f.write(data)
    tmp.replace(out)  # atomic: tests never see half a file


if __name__ == "__main__":
    main()
