#!/usr/bin/env python3
"""Sentences/s of an embedding model at batch 1 and 32: sglang.cpp's /encode (a running server,
--url) or Hugging Face transformers in-process (--model, the peer: tokenizer + BertModel + the
declared mean pooling + L2 normalisation, float32, all CPU threads, as sentence-transformers'
encode()). Prints one JSON line {"impl", "batch_1", "batch_32", "threads"}.
Standard library only on the sglang.cpp side (urllib, keep-alive not needed for 2 cores' numbers:
the same connection overhead is in every request)."""
import argparse
import json
import time
import urllib.request

BASE = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is eating food.",
    "A man is riding a white horse on an enclosed ground.",
    "SGLang is a fast serving framework for large language models and vision language models.",
    "What is the capital of France? Paris is the capital and most populous city of France.",
    "Pandas eat bamboo: 12-38 kg a day!",
    "The giant panda, sometimes called a panda bear or simply panda, is a bear species endemic "
    "to China, characterised by its bold black-and-white coat and rotund body.",
    "Two men pushed carts through the woods.",
]


def corpus(n):
    # Real sentences, varied lengths (8-45 tokens), each made distinct.
    return [f"{BASE[i % len(BASE)]} ({i})" for i in range(n)]


def timed(fn, batches):
    fn(batches[0])  # warm-up
    start = time.perf_counter()
    for b in batches:
        fn(b)
    elapsed = time.perf_counter() - start
    return sum(len(b) for b in batches) / elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", help="sglang.cpp server, e.g. http://127.0.0.1:30000")
    ap.add_argument("--model", help="model folder for the transformers peer")
    ap.add_argument("--sentence-transformers", action="store_true",
                    help="the peer is sentence_transformers.SentenceTransformer(model).encode")
    ap.add_argument("--sentences", type=int, default=128)
    args = ap.parse_args()
    texts = corpus(args.sentences)
    b1 = [[t] for t in texts[: args.sentences // 2]]
    b32 = [texts[i:i + 32] for i in range(0, len(texts), 32)]

    if args.url:
        def run(batch):
            req = urllib.request.Request(args.url + "/encode", data=json.dumps({"text": batch}).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req) as r:
                out = json.loads(r.read())
            assert len(out) == len(batch) if isinstance(out, list) else len(batch) == 1
        impl, threads = "sglang.cpp /encode", None
    elif args.sentence_transformers:
        import sentence_transformers
        import torch

        st = sentence_transformers.SentenceTransformer(args.model, device="cpu")

        def run(batch):
            return st.encode(batch, batch_size=len(batch), convert_to_tensor=True)
        impl = f"sentence-transformers {sentence_transformers.__version__} (torch {torch.__version__})"
        threads = torch.get_num_threads()
    else:
        import torch
        import transformers

        tok = transformers.AutoTokenizer.from_pretrained(args.model)
        model = transformers.AutoModel.from_pretrained(args.model, torch_dtype=torch.float32).eval()

        def run(batch):
            enc = tok(batch, padding=True, truncation=True, max_length=256, return_tensors="pt")
            with torch.inference_mode():
                h = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
            pooled = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)
        impl = f"transformers {transformers.__version__} + mean pooling (torch {torch.__version__})"
        threads = torch.get_num_threads()
    print(json.dumps({"impl": impl, "batch_1": timed(run, b1), "batch_32": timed(run, b32),
                      "threads": threads}))


if __name__ == "__main__":
    main()
