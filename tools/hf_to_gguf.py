#!/usr/bin/env python3
"""Convert a sglang-cpp random checkpoint (HF layout) into a GGUF file for llama.cpp.

    hf_to_gguf.py DIR OUT.gguf [--outtype bf16|f16|f32|q8_0] [--assets DIR]

DIR holds config.json and a single model.safetensors (bf16, HF tensor names), as written by
`sglang-cpp make-checkpoint`. Supported: Qwen2ForCausalLM (gguf arch `qwen2`),
Qwen3ForCausalLM (arch `qwen3`: q_norm / k_norm as llama.cpp's converter names them,
attn_q_norm / attn_k_norm) and LlamaForCausalLM (arch `llama`). Matrices are stored in --outtype; 1-D tensors (norms, biases,
rope factors) always as f32 (q8_0: matrices quantized by the `gguf` package). Written with the
`gguf` package's GGUFWriter, so the same random weights can be benchmarked in both engines, and the
GGUF loader can be tested against the safetensors one (tests/gguf).

Layout notes:
  * llama.cpp's `llama` arch rotates adjacent pairs (x[2i], x[2i+1]) while HF's rotate_half pairs
    x[i] with x[i + d/2]; so for `llama` the rows of q_proj/k_proj are reordered within each head
    (HF row i -> 2i, row i + d/2 -> 2i + 1). `qwen2` uses NEOX-style rope in llama.cpp: no change.
  * Llama 3 rope scaling is expressed as the per-frequency divisor tensor `rope_freqs.weight`.
  * llama.cpp needs a tokenizer to load: the real Qwen / Llama 3 BPE from /work/shared/assets,
    padded with `[PAD{i}]` tokens up to the config's vocab_size. A checkpoint whose vocabulary is
    smaller than the tokenizer (tiny-qwen3: 4096) gets placeholder tokens `[T{i}]` and no merges:
    enough for engines fed token ids, not for text.
"""
import argparse
import json
import math
import os
import struct

import numpy as np
import gguf
import gguf.quants

ARCHS = {  # HF architecture -> (gguf arch, tokenizer.json under --assets, tokenizer pre-type)
    "Qwen2ForCausalLM": ("qwen2", "qwen3-tokenizer/tokenizer.json", "qwen2"),
    "Qwen3ForCausalLM": ("qwen3", "qwen3-tokenizer/tokenizer.json", "qwen2"),
    "LlamaForCausalLM": ("llama", "llama3-tokenizer/tokenizer.json", "llama-bpe"),
}
OUTTYPES = {  # name -> (ggml type, file type)
    "bf16": (gguf.GGMLQuantizationType.BF16, gguf.LlamaFileType.MOSTLY_BF16),
    "f16": (gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16),
    "f32": (gguf.GGMLQuantizationType.F32, gguf.LlamaFileType.ALL_F32),
    "q8_0": (gguf.GGMLQuantizationType.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0),
}
# HF per-layer tensor name (after "model.layers.N.") -> GGUF name (after "blk.N.")
LAYER_NAMES = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm", "self_attn.q_norm": "attn_q_norm",
    "self_attn.k_norm": "attn_k_norm",
}
TOP_NAMES = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}


def read_safetensors(path):
    """Yield (name, array) from a safetensors file; bf16 tensors come back as float32."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        if info["dtype"] == "BF16":
            arr = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif info["dtype"] == "F32":
            arr = raw.view(np.float32)
        else:
            raise SystemExit(f"{name}: unsupported dtype {info['dtype']}")
        yield name, arr.reshape(info["shape"])


def gguf_name(hf_name):
    stem, suffix = hf_name.rsplit(".", 1)  # suffix: weight / bias
    if stem in TOP_NAMES:
        return f"{TOP_NAMES[stem]}.{suffix}"
    parts = stem.split(".", 3)  # model, layers, N, rest
    if parts[:2] != ["model", "layers"] or parts[3] not in LAYER_NAMES:
        raise SystemExit(f"unexpected tensor {hf_name}")
    return f"blk.{parts[2]}.{LAYER_NAMES[parts[3]]}.{suffix}"


def pair_rope_rows(w, n_heads):
    """Reorder rows of each head from HF half-split order to llama.cpp adjacent-pair order."""
    head_dim = w.shape[0] // n_heads
    rest = w.shape[1:]
    w = w.reshape(n_heads, 2, head_dim // 2, *rest)  # [head, half, i, ...]
    return w.swapaxes(1, 2).reshape(n_heads * head_dim, *rest)  # row 2i+half


def llama3_rope_factors(cfg, head_dim):
    """Divisor per rotary frequency, equivalent to HF's llama3 rope_scaling."""
    rs = cfg["rope_scaling"]
    factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old_ctx = rs["original_max_position_embeddings"]
    out = []
    for i in range(0, head_dim, 2):
        wavelen = 2 * math.pi * cfg["rope_theta"] ** (i / head_dim)
        if wavelen < old_ctx / hi:
            out.append(1.0)
        elif wavelen > old_ctx / lo:
            out.append(factor)
        else:
            smooth = (old_ctx / wavelen - lo) / (hi - lo)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def add_tokenizer(w, tok_path, pre, vocab_size, cfg):
    tok = json.load(open(tok_path, encoding="utf-8"))
    id_to_tok = {i: t for t, i in tok["model"]["vocab"].items()}
    types = {i: gguf.TokenType.NORMAL for i in id_to_tok}
    for a in tok["added_tokens"]:
        id_to_tok[a["id"]] = a["content"]
        types[a["id"]] = gguf.TokenType.CONTROL if a["special"] else gguf.TokenType.USER_DEFINED
    if max(id_to_tok) >= vocab_size:
        # A toy vocabulary below the tokenizer's: placeholders (ids only, no text).
        tokens = [f"[T{i}]" for i in range(vocab_size)]
        toktypes = [gguf.TokenType.NORMAL] * vocab_size
        merges = []
    else:
        tokens = [id_to_tok.get(i, f"[PAD{i}]") for i in range(vocab_size)]
        toktypes = [types.get(i, gguf.TokenType.UNUSED) for i in range(vocab_size)]
        merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(toktypes)
    w.add_token_merges(merges)
    eos = cfg.get("eos_token_id")
    if cfg.get("bos_token_id") is not None:
        w.add_bos_token_id(cfg["bos_token_id"])
    if eos is not None:
        w.add_eos_token_id(eos[0] if isinstance(eos, list) else eos)
    w.add_add_bos_token(False)  # we feed token ids directly


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("out")
    ap.add_argument("--outtype", choices=OUTTYPES, default="bf16")
    ap.add_argument("--assets", default=os.path.join(os.path.dirname(__file__), "../../shared/assets"),
                    help="folder holding the real tokenizers (../shared/assets or models/assets)")
    args = ap.parse_args()

    cfg = json.load(open(os.path.join(args.dir, "config.json")))
    hf_arch = cfg["architectures"][0]
    if hf_arch not in ARCHS:
        raise SystemExit(f"unsupported architecture {hf_arch}")
    arch, tok_path, pre = ARCHS[hf_arch]
    tok_path = os.path.join(args.assets, tok_path)
    qtype, ftype = OUTTYPES[args.outtype]
    n_head, n_kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // n_head

    w = gguf.GGUFWriter(args.out, arch)
    w.add_name(os.path.basename(os.path.normpath(args.dir)))
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(cfg["rope_theta"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_vocab_size(cfg["vocab_size"])
    w.add_file_type(ftype)
    add_tokenizer(w, tok_path, pre, cfg["vocab_size"], cfg)

    rs = cfg.get("rope_scaling") or {}
    rope_type = rs.get("rope_type", rs.get("type"))
    if rope_type == "llama3" and arch == "llama":
        w.add_tensor("rope_freqs.weight", llama3_rope_factors(cfg, head_dim))
    elif rope_type not in (None, "default"):
        raise SystemExit(f"rope_scaling {rope_type} not supported for {arch}")

    for name, t in read_safetensors(os.path.join(args.dir, "model.safetensors")):
        if arch == "llama" and ".q_proj." in name:
            t = pair_rope_rows(t, n_head)
        elif arch == "llama" and ".k_proj." in name:
            t = pair_rope_rows(t, n_kv)
        if t.ndim == 1 or qtype == gguf.GGMLQuantizationType.F32:
            w.add_tensor(gguf_name(name), np.ascontiguousarray(t, dtype=np.float32))
        elif qtype == gguf.GGMLQuantizationType.F16:
            w.add_tensor(gguf_name(name), t.astype(np.float16))
        elif qtype == gguf.GGMLQuantizationType.Q8_0:
            q = gguf.quants.quantize(np.ascontiguousarray(t, dtype=np.float32), qtype)
            w.add_tensor(gguf_name(name), q, raw_dtype=qtype)
        else:  # bf16: input was bf16 widened to f32, so truncating back is exact
            bits = (np.ascontiguousarray(t).view(np.uint32) >> 16).astype(np.uint16)
            w.add_tensor(gguf_name(name), bits, raw_dtype=qtype)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file(progress=False)
    w.close()
    print(f"wrote {args.out} ({arch}, {args.outtype})")


if __name__ == "__main__":
    main()
