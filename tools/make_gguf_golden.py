#!/usr/bin/env python3
"""Reference outputs of Hugging Face transformers for the default real model, loaded from its GGUF.

Run by hand (not in CI), after ./scripts/fetch_model.sh:
    python3 -m venv /tmp/golden-venv
    /tmp/golden-venv/bin/pip install torch==2.5.1 transformers==4.46.3 gguf==0.19.0 numpy==1.26.4 \
        safetensors==0.4.5 accelerate==1.1.1
    /tmp/golden-venv/bin/python tools/make_gguf_golden.py

transformers dequantizes the GGUF file (SmolLM2-135M-Instruct, Q4_1) to float32, as our loader
does, and runs the model in float32. For each of ten real prompts (some chat-templated), tokenized
by transformers' tokenizer built from the same GGUF file, this writes
tests/golden/data/smollm2-gguf.safetensors holding
    p{i}.input_ids      I32 [L]
    p{i}.topk_ids       I32 [L, 20]   top-20 token ids at every position
    p{i}.topk_logits    F32 [L, 20]
    p{i}.logsumexp      F32 [L]
    p{i}.greedy_ids     I32 [24]      greedy continuation
    p{i}.greedy_margins F32 [24]      top-1 minus top-2 logit at each greedy step
"""
import argparse
import os

import numpy as np
import torch
import transformers
from safetensors.numpy import save_file

GGUF_DIR = "models/SmolLM2-135M-Instruct"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CHAT = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain photosynthesis in one sentence.",
    "List three prime numbers.",
    "Translate 'good morning' into Spanish.",
]
RAW = [
    "The quick brown fox jumps over the lazy dog. The quick brown",
    "def fibonacci(n):\n    if n < 2:\n        return n\n",
    "Once upon a time, in a small village by the mountains,",
    "1, 2, 3, 4, 5, 6,",
    "Paris is the capital of France. Berlin is the capital of",
]
TOPK = 20
GREEDY_STEPS = 24


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=GGUF_DIR)
    ap.add_argument("--file", default=GGUF_FILE)
    ap.add_argument("--out", default="tests/golden/data/smollm2-gguf.safetensors")
    args = ap.parse_args()
    tok = transformers.AutoTokenizer.from_pretrained(args.dir, gguf_file=args.file)
    # The file has no output.weight: the LM head is the embedding. transformers 4.46 does not infer
    # that from a GGUF file (it would initialise a random head), so say it.
    model = transformers.AutoModelForCausalLM.from_pretrained(
        args.dir, gguf_file=args.file, torch_dtype=torch.float32, tie_word_embeddings=True).eval()
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    prompts = [tok.apply_chat_template([{"role": "user", "content": c}], tokenize=False,
                                       add_generation_prompt=True) for c in CHAT] + RAW
    tensors = {}
    for i, text in enumerate(prompts):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        x = torch.tensor([ids])
        with torch.no_grad():
            out = model(x, use_cache=True)
        logits = out.logits[0].float()
        top = torch.topk(logits, TOPK, dim=-1)
        tensors[f"p{i}.input_ids"] = np.array(ids, dtype=np.int32)
        tensors[f"p{i}.topk_ids"] = top.indices.numpy().astype(np.int32)
        tensors[f"p{i}.topk_logits"] = top.values.numpy().astype(np.float32)
        tensors[f"p{i}.logsumexp"] = torch.logsumexp(logits, dim=-1).numpy().astype(np.float32)
        greedy, margins = [], []
        past, last = out.past_key_values, logits[-1]
        with torch.no_grad():
            for _ in range(GREEDY_STEPS):
                top2 = torch.topk(last, 2)
                nxt = int(top2.indices[0])
                greedy.append(nxt)
                margins.append(float(top2.values[0] - top2.values[1]))
                step = model(torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
                past, last = step.past_key_values, step.logits[0, -1].float()
        tensors[f"p{i}.greedy_ids"] = np.array(greedy, dtype=np.int32)
        tensors[f"p{i}.greedy_margins"] = np.array(margins, dtype=np.float32)
        print(f"p{i}: {len(ids)} tokens -> {tok.decode(greedy)!r}")
    meta = {"num_prompts": str(len(prompts)), "torch": torch.__version__,
            "transformers": transformers.__version__, "gguf": GGUF_FILE}
    save_file(tensors, args.out, metadata=meta)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
