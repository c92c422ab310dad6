#!/usr/bin/env python3
"""Raw forward-pass throughput of llama.cpp on a GGUF model, via llama-cpp-python's C API.

    llama_cpp_forward.py GGUF --threads N [--prefill-len 512] [--batches 1,8,32]
                         [--decode-steps 32] [--context 128] [--seed 0]

Measures (CPU, n_threads = n_threads_batch = N, random token ids, no tokenizer, no sampler):
  prefill_tok_s     one sequence of --prefill-len tokens in a single llama_decode (KV cache
                    cleared first; one untimed warm-up run); only the last token's logits.
  decode_tok_s[B]   B sequences (seq ids 0..B-1), each prefilled untimed with --context tokens;
                    then --decode-steps steps, each ONE llama_decode with one new token per
                    sequence (the greedy argmax of that sequence's logits, argmax included in
                    the time); one untimed warm-up step first. tok/s = B * steps / elapsed.
The KV cache is per sequence (kv_unified = false), f16, flash attention left on llama.cpp's
default (auto). Prints one JSON line.
"""
import argparse
import ctypes
import json
import time

import numpy as np
import llama_cpp as L


def fill_batch(batch, tokens, positions, seq_ids, want_logits):
    for i, (t, p, s, o) in enumerate(zip(tokens, positions, seq_ids, want_logits)):
        batch.token[i] = int(t)
        batch.pos[i] = int(p)
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = int(s)
        batch.logits[i] = bool(o)
    batch.n_tokens = len(tokens)


def decode(ctx, batch):
    rc = L.llama_decode(ctx, batch)
    if rc != 0:
        raise SystemExit(f"llama_decode failed: {rc}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("gguf")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--prefill-len", type=int, default=512)
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--decode-steps", type=int, default=32)
    ap.add_argument("--context", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    n_seq = max(batches)

    L.llama_backend_init()
    mparams = L.llama_model_default_params()
    model = L.llama_model_load_from_file(args.gguf.encode(), mparams)
    if not model:
        raise SystemExit(f"cannot load {args.gguf}")
    n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))

    per_seq = max(args.prefill_len, args.context + args.decode_steps + 1)
    cparams = L.llama_context_default_params()
    cparams.n_seq_max = n_seq
    cparams.kv_unified = False  # each sequence gets n_ctx / n_seq_max cells of its own
    cparams.n_ctx = n_seq * per_seq
    cparams.n_batch = cparams.n_ubatch = max(512, args.prefill_len, n_seq)
    cparams.n_threads = cparams.n_threads_batch = args.threads
    ctx = L.llama_init_from_model(model, cparams)
    if not ctx:
        raise SystemExit("cannot create context")
    mem = L.llama_get_memory(ctx)
    batch = L.llama_batch_init(cparams.n_batch, 0, 1)
    rng = np.random.default_rng(args.seed)

    # --- prefill: one sequence, logits for the last token only
    prompt = rng.integers(0, n_vocab, args.prefill_len)
    n = len(prompt)
    times = []
    for _ in range(2):  # first run is the warm-up
        L.llama_memory_clear(mem, True)
        fill_batch(batch, prompt, range(n), [0] * n, [i == n - 1 for i in range(n)])
        t0 = time.perf_counter()
        decode(ctx, batch)
        L.llama_synchronize(ctx)
        times.append(time.perf_counter() - t0)
    prefill_tok_s = n / times[-1]

    # --- decode: B sequences, one token each per llama_decode
    decode_tok_s = {}
    for B in batches:
        L.llama_memory_clear(mem, True)
        for s in range(B):  # untimed prefill of each sequence's context
            ctx_ids = rng.integers(0, n_vocab, args.context)
            fill_batch(batch, ctx_ids, range(args.context), [s] * args.context,
                       [i == args.context - 1 for i in range(args.context)])
            decode(ctx, batch)
        pos = args.context
        next_ids = rng.integers(0, n_vocab, B)
        for step in range(args.decode_steps + 1):  # step 0 is the warm-up
            if step == 1:
                t0 = time.perf_counter()
            fill_batch(batch, next_ids, [pos] * B, range(B), [True] * B)
            decode(ctx, batch)
            logits = np.ctypeslib.as_array(L.llama_get_logits(ctx), shape=(B, n_vocab))
            next_ids = logits.argmax(axis=1)
            pos += 1
        decode_tok_s[str(B)] = B * args.decode_steps / (time.perf_counter() - t0)

    desc = ctypes.create_string_buffer(256)
    L.llama_model_desc(model, desc, len(desc))
    print(json.dumps({
        "engine": "llama.cpp",
        "prefill_tok_s": round(prefill_tok_s, 2),
        "decode_tok_s": {b: round(v, 2) for b, v in decode_tok_s.items()},
        "threads": args.threads,
        "llama_cpp_python": L.__version__,
        "gguf_type": desc.value.decode(),
        "prefill_len": args.prefill_len, "context": args.context,
        "decode_steps": args.decode_steps,
    }))
    L.llama_batch_free(batch)
    L.llama_free(ctx)
    L.llama_model_free(model)


if __name__ == "__main__":
    main()
