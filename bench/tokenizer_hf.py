#!/usr/bin/env python3
"""Encode throughput of Hugging Face `tokenizers` on the same corpus as bench/tokenizer.cpp: one thread
(`encode` per document, and `encode_batch`, which tokenizers parallelises over all cores). Prints one
JSON line."""
import json
import os
import sys
import time

from tokenizers import Tokenizer


def main():
    tok_path, corpus_path = sys.argv[1], sys.argv[2]
    tok = Tokenizer.from_file(tok_path)
    tok.no_padding()
    tok.no_truncation()
    docs = [json.loads(line) for line in open(corpus_path, encoding="utf-8")]
    nbytes = sum(len(d.encode("utf-8")) for d in docs)
    for d in docs:  # warm-up pass, as the C++ side
        tok.encode(d, add_special_tokens=False)
    t0 = time.perf_counter()
    n = sum(len(tok.encode(d, add_special_tokens=False).ids) for d in docs)
    single = time.perf_counter() - t0
    t0 = time.perf_counter()
    m = sum(len(e.ids) for e in tok.encode_batch(docs, add_special_tokens=False))
    batch = time.perf_counter() - t0
    print(json.dumps({"engine": "tokenizers", "bytes": nbytes, "docs": len(docs),
                      "single": {"threads": 1, "mb_s": nbytes / 1e6 / single, "tokens_s": n / single},
                      "all": {"threads": os.cpu_count(), "mb_s": nbytes / 1e6 / batch, "tokens_s": m / batch}}))


if __name__ == "__main__":
    main()
