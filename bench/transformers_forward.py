"""Hugging Face transformers' prefill speed on a GGUF model, for bench/gguf_forward.sh.

transformers reads the GGUF through its own gguf integration (`from_pretrained(dir,
gguf_file=...)`, which needs accelerate); 5.24 converts the tensors at load and says its
kernels compute in float32 (with `--dtype bfloat16` it casts each matmul's input and output).
Nothing is cached between runs: the load is timed separately. One forward over `--prefill-len`
random token ids (batch 1, no KV cache reuse), best of `--repeats` after a warm-up, under
torch.inference_mode with `--threads` intra-op threads. Prints one JSON line.
"""

import argparse
import json
import os
import time

import torch
from transformers import AutoModelForCausalLM


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--prefill-len", type=int, default=512)
    ap.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(
        os.path.dirname(os.path.abspath(args.gguf)),
        gguf_file=os.path.basename(args.gguf),
        dtype=getattr(torch, args.dtype),
    )
    model.eval()
    load_s = time.perf_counter() - t0
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, model.config.vocab_size - 1, (1, args.prefill_len), generator=gen)
    best = float("inf")
    with torch.inference_mode():
        model(ids, use_cache=False)  # warm-up: allocator, thread pool
        for _ in range(args.repeats):
            t = time.perf_counter()
            model(ids, use_cache=False)
            best = min(best, time.perf_counter() - t)
    print(json.dumps({"engine": "transformers", "dtype": args.dtype, "threads": args.threads,
                      "prefill_len": args.prefill_len, "prefill_tok_s": args.prefill_len / best,
                      "load_s": load_s, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
