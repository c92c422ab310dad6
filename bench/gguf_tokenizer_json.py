#!/usr/bin/env python3
"""Writes a Hugging Face tokenizer directory (tokenizer.json, tokenizer_config.json) for the
default model's GGUF, so that SGLang's bench_serving (AutoTokenizer) can make prompts and count
tokens: transformers reads GGUF tokenizers only with torch installed, which the CPU bench venv
leaves out.

Usage: gguf_tokenizer_json.py MODEL.gguf OUTDIR

Only what SmolLM2's GGUF holds is handled: a byte-level BPE vocabulary (tokenizer.ggml.model
"gpt2") with llama.cpp's "smollm" pre-tokenizer, which is GPT-2's split after isolating every digit
(as SmolLM2's own tokenizer.json: Digits(individual_digits) then ByteLevel); control tokens
(token_type 3) become special added tokens. bench/serving_oai_chat.sh checks the prompt lengths
it yields against the server's own count.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gguf import GGUFReader
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

CONTROL = 3  # llama.cpp's LLAMA_TOKEN_TYPE_CONTROL


def field(reader: GGUFReader, key: str):
    f = reader.fields[key]
    if len(f.data) == 1 and not f.types[0].name == "ARRAY":
        value = f.parts[f.data[0]]
        return bytes(value).decode("utf-8") if f.types[0].name == "STRING" else value[0].item()
    if f.types[-1].name == "STRING":
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    return [f.parts[i][0].item() for i in f.data]


def main() -> None:
    reader = GGUFReader(sys.argv[1])
    out = Path(sys.argv[2])
    model, pre = field(reader, "tokenizer.ggml.model"), field(reader, "tokenizer.ggml.pre")
    if model != "gpt2" or pre != "smollm":
        sys.exit(f"{sys.argv[1]}: tokenizer {model}/{pre}, only gpt2/smollm is handled")
    tokens = field(reader, "tokenizer.ggml.tokens")
    types = field(reader, "tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in field(reader, "tokenizer.ggml.merges")]
    tok = Tokenizer(models.BPE({t: i for i, t in enumerate(tokens)}, merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t, kind in zip(tokens, types) if kind == CONTROL])
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "add_bos_token": False,
              "bos_token": tokens[field(reader, "tokenizer.ggml.bos_token_id")],
              "eos_token": tokens[field(reader, "tokenizer.ggml.eos_token_id")],
              "chat_template": field(reader, "tokenizer.chat_template"),
              "model_max_length": field(reader, "llama.context_length")}
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    print(f"{out}: {len(tokens)} tokens, {len(merges)} merges, "
          f"{sum(k == CONTROL for k in types)} special")


if __name__ == "__main__":
    main()
