#!/usr/bin/env python3
"""Convert a sglang-cpp random checkpoint (HF layout) into a GGUF file for llama.cpp.

    hf_to_gguf.py DIR OUT.gguf [--outtype bf16|f16|f32|q8_0] [--assets DIR]

DIR holds config.json and a single model.safetensors (bf16, HF tensor names), as written by
`sglang-cpp make-checkpoint`. Supported (gguf arch in brackets): LlamaForCausalLM (`llama`),
Qwen2ForCausalLM (`qwen2`), Qwen3ForCausalLM (`qwen3`), Qwen3MoeForCausalLM (`qwen3moe`),
Gemma2ForCausalLM (`gemma2`), Gemma3ForCausalLM (`gemma3`) and Phi3ForCausalLM (`phi3`), with the
metadata keys and tensor names llama.cpp's convert_hf_to_gguf.py writes for them (tensor names from
the `gguf` package's own TensorNameMap, the converter's table). Matrices are stored in --outtype;
1-D tensors (norms, biases, rope factors) always as f32 (q8_0: matrices quantized by the `gguf`
package). Written with the `gguf` package's GGUFWriter, so the same random weights can be
benchmarked in both engines, and the GGUF loader can be tested against the safetensors one
(tests/gguf).

Layout notes (what llama.cpp's converter does to the tensors):
  * llama.cpp's `llama` arch rotates adjacent pairs (x[2i], x[2i+1]) while HF's rotate_half pairs
    x[i] with x[i + d/2]; so for `llama` the rows of q_proj/k_proj are reordered within each head
    (HF row i -> 2i, row i + d/2 -> 2i + 1). The other archs use NEOX-style rope: no change.
  * Llama 3 rope scaling is expressed as the per-frequency divisor tensor `rope_freqs.weight`.
  * Gemma 2 / 3: every `*norm.weight` is stored as 1 + w (the converter folds Gemma's (1 + w)
    RMSNorm into the weight; we add in float32, the converter in the checkpoint's dtype);
    lm_head is dropped (tied). llama.cpp has no key for query_pre_attn_scalar, the layer pattern
    or Gemma 3's local rope base: it takes head_dim (hidden / heads for the 27B sizes), every 2nd
    (Gemma 2) / 6th (Gemma 3) layer global, and 10000; a config that differs is refused here
    rather than silently converted into another model.
  * Phi-3: qkv_proj and gate_up_proj stay fused (attn_qkv, ffn_up); longrope's factors become the
    tensors rope_factors_long/short.weight, its attention factor rope.scaling.attn_factor;
    rope.dimension_count = int(partial_rotary_factor * hidden) // heads.
  * Qwen3-MoE: each layer's experts stacked into ffn_{gate,up,down}_exps [experts, rows, cols];
    the router is ffn_gate_inp, always f32. llama.cpp's qwen3moe has every layer sparse and renormalises the
    top-k weights, so mlp_only_layers / decoder_sparse_step / norm_topk_prob false are refused.
  * llama.cpp needs a tokenizer to load: the real Qwen / Llama 3 BPE from /work/shared/assets,
    padded with `[PAD{i}]` tokens up to the config's vocab_size. A checkpoint whose vocabulary is
    smaller than the tokenizer (tiny-qwen3: 4096), or a family without one there (Gemma, Phi-3),
    gets placeholder tokens `[T{i}]` and no merges: enough for engines fed token ids, not for text.
"""
import argparse
import json
import math
import os
import struct

import numpy as np
import gguf
import gguf.quants

ARCHS = {  # HF architecture -> (gguf arch, tokenizer.json under --assets or None, pre-type)
    "Qwen2ForCausalLM": ("qwen2", "qwen3-tokenizer/tokenizer.json", "qwen2"),
    "Qwen3ForCausalLM": ("qwen3", "qwen3-tokenizer/tokenizer.json", "qwen2"),
    "Qwen3MoeForCausalLM": ("qwen3moe", "qwen3-tokenizer/tokenizer.json", "qwen2"),
    "LlamaForCausalLM": ("llama", "llama3-tokenizer/tokenizer.json", "llama-bpe"),
    "Gemma2ForCausalLM": ("gemma2", None, "default"),
    "Gemma3ForCausalLM": ("gemma3", None, "default"),
    "Phi3ForCausalLM": ("phi3", None, "default"),
}
OUTTYPES = {  # name -> (ggml type, file type)
    "bf16": (gguf.GGMLQuantizationType.BF16, gguf.LlamaFileType.MOSTLY_BF16),
    "f16": (gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16),
    "f32": (gguf.GGMLQuantizationType.F32, gguf.LlamaFileType.ALL_F32),
    "q8_0": (gguf.GGMLQuantizationType.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0),
}
GEMMA_27B_LAYERS = {"gemma2": 46, "gemma3": 62}  # llama.cpp's LLM_TYPE_27B by block count
GEMMA_GLOBAL_EVERY = {"gemma2": 2, "gemma3": 6}  # llama.cpp's set_swa_pattern


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


def gguf_name(name_map, hf_name):
    """The converter's GGUF name of a HF tensor, by the gguf package's TensorNameMap."""
    out = name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
    if out is None:
        raise SystemExit(f"unexpected tensor {hf_name}")
    return out


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
    tok = json.load(open(tok_path, encoding="utf-8")) if tok_path else None
    id_to_tok = {i: t for t, i in tok["model"]["vocab"].items()} if tok else {}
    types = {i: gguf.TokenType.NORMAL for i in id_to_tok}
    for a in tok["added_tokens"] if tok else []:
        id_to_tok[a["id"]] = a["content"]
        types[a["id"]] = gguf.TokenType.CONTROL if a["special"] else gguf.TokenType.USER_DEFINED
    if not tok or max(id_to_tok) >= vocab_size:
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


def check_representable(arch, cfg, head_dim):
    """Refuse what llama.cpp's metadata cannot say (its converter would write another model)."""
    n_layer, n_head = cfg["num_hidden_layers"], cfg["num_attention_heads"]
    if arch in GEMMA_GLOBAL_EVERY:
        want = (cfg["hidden_size"] // n_head if n_layer == GEMMA_27B_LAYERS[arch] else head_dim)
        if cfg.get("query_pre_attn_scalar", want) != want:
            raise SystemExit(f"{arch}: query_pre_attn_scalar {cfg['query_pre_attn_scalar']} is not "
                             f"llama.cpp's {want}")
        every = GEMMA_GLOBAL_EVERY[arch]
        pattern = ["sliding_attention" if (i + 1) % every else "full_attention"
                   for i in range(n_layer)]
        if cfg.get("layer_types", pattern) != pattern:
            raise SystemExit(f"{arch}: layer_types {cfg['layer_types']} are not llama.cpp's "
                             f"(a full layer every {every})")
        if arch == "gemma3" and cfg.get("rope_local_base_freq", 10000.0) != 10000.0:
            raise SystemExit("gemma3: llama.cpp's local rope base is 10000")
    if arch == "qwen3moe":
        if cfg.get("mlp_only_layers") or cfg.get("decoder_sparse_step", 1) != 1:
            raise SystemExit("qwen3moe: llama.cpp has every layer sparse (mlp_only_layers, "
                             "decoder_sparse_step)")
        if not cfg.get("norm_topk_prob", False):
            raise SystemExit("qwen3moe: llama.cpp renormalises the top-k (norm_topk_prob)")


def add_arch_metadata(w, arch, cfg, head_dim, rotary_dims):
    """The per-architecture keys of llama.cpp's converter (Gemma2Model, Gemma3Model,
    Phi3MiniModel, Qwen2MoeModel / Qwen3MoeModel in convert_hf_to_gguf.py)."""
    if arch == "gemma2":
        w.add_attn_logit_softcapping(cfg["attn_logit_softcapping"])
        w.add_final_logit_softcapping(cfg["final_logit_softcapping"])
        w.add_sliding_window(cfg["sliding_window"])
    elif arch == "gemma3":
        if cfg.get("final_logit_softcapping"):
            w.add_final_logit_softcapping(cfg["final_logit_softcapping"])
        if cfg.get("sliding_window_pattern") != 1:
            w.add_sliding_window(cfg["sliding_window"])
    elif arch == "phi3":
        w.add_rope_scaling_orig_ctx_len(cfg.get("original_max_position_embeddings",
                                                cfg["max_position_embeddings"]))
        # zero: no window (the converter's way to tell Phi-4 from the other Phi-3 models)
        w.add_sliding_window(cfg.get("sliding_window") or 0)
    elif arch == "qwen3moe":
        w.add_expert_count(cfg["num_experts"])
        w.add_expert_used_count(cfg["num_experts_per_tok"])
        w.add_expert_feed_forward_length(cfg["moe_intermediate_size"])
    rs = cfg.get("rope_scaling") or {}
    rope_type = rs.get("rope_type", rs.get("type"))
    if arch == "phi3":
        if rope_type in ("longrope", "su"):
            orig = cfg["original_max_position_embeddings"]
            scale = cfg["max_position_embeddings"] / orig
            attn = math.sqrt(1 + math.log(scale) / math.log(orig)) if scale > 1.0 else 1.0
            w.add_rope_scaling_attn_factors(attn)
            for kind in ("long", "short"):
                f = np.array(rs[f"{kind}_factor"], dtype=np.float32)
                if f.shape != (rotary_dims // 2,):
                    raise SystemExit(f"phi3: {kind}_factor must hold {rotary_dims // 2} values")
                w.add_tensor(f"rope_factors_{kind}.weight", f)
        elif rope_type not in (None, "default"):
            raise SystemExit(f"rope_scaling {rope_type} not supported for phi3")
    elif rope_type == "llama3" and arch == "llama":
        w.add_tensor("rope_freqs.weight", llama3_rope_factors(cfg, head_dim))
    elif rope_type == "linear" and arch == "gemma3":
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(rs["factor"])
    elif rope_type not in (None, "default"):
        raise SystemExit(f"rope_scaling {rope_type} not supported for {arch}")


def converted_tensors(arch, cfg, tensors):
    """(HF name, array) in the converter's form: Gemma norms 1 + w, lm_head dropped for Gemma 2,
    Qwen3-MoE experts stacked per layer."""
    out, experts = [], {}
    for name, t in tensors:
        if arch == "gemma2" and name == "lm_head.weight":
            continue
        if arch in GEMMA_GLOBAL_EVERY and name.endswith("norm.weight"):
            t = t.astype(np.float32) + 1.0
        parts = name.split(".")
        # model.layers.N.mlp.experts.E.{gate,up,down}_proj.weight
        if arch == "qwen3moe" and len(parts) == 8 and parts[3:5] == ["mlp", "experts"]:
            experts.setdefault((int(parts[2]), parts[6]), {})[int(parts[5])] = t
            continue
        out.append((name, t))
    for (layer, proj), by_id in sorted(experts.items()):
        if sorted(by_id) != list(range(cfg["num_experts"])):
            raise SystemExit(f"layer {layer}: experts {sorted(by_id)} of {proj} are incomplete")
        stacked = np.stack([by_id[e] for e in range(cfg["num_experts"])])
        out.append((f"model.layers.{layer}.mlp.experts.{proj}.weight", stacked))
    return out


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
    tok_path = os.path.join(args.assets, tok_path) if tok_path else None
    qtype, ftype = OUTTYPES[args.outtype]
    n_head, n_kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // n_head
    # Phi3MiniModel: int(rot_pct * n_embd) // n_head rotated dims.
    rotary_dims = (int(cfg.get("partial_rotary_factor", 1.0) * cfg["hidden_size"]) // n_head
                   if arch == "phi3" else head_dim)
    check_representable(arch, cfg, head_dim)
    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.upper()], cfg["num_hidden_layers"])

    w = gguf.GGUFWriter(args.out, arch)
    w.add_name(os.path.basename(os.path.normpath(args.dir)))
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    if arch != "phi3":  # Phi3MiniModel writes no key/value length (head_dim = hidden / heads)
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    if arch not in GEMMA_GLOBAL_EVERY:  # Gemma2Model writes no rope keys; Gemma3Model its own
        w.add_rope_dimension_count(rotary_dims)
    if arch != "gemma2":
        w.add_rope_freq_base(cfg["rope_theta"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_vocab_size(cfg["vocab_size"])
    w.add_file_type(ftype)
    add_tokenizer(w, tok_path, pre, cfg["vocab_size"], cfg)
    add_arch_metadata(w, arch, cfg, head_dim, rotary_dims)

    tensors = read_safetensors(os.path.join(args.dir, "model.safetensors"))
    for name, t in converted_tensors(arch, cfg, tensors):
        if arch == "llama" and ".q_proj." in name:
            t = pair_rope_rows(t, n_head)
        elif arch == "llama" and ".k_proj." in name:
            t = pair_rope_rows(t, n_kv)
        gn = gguf_name(name_map, name)
        # The converter keeps the MoE router (ffn_gate_inp) in f32 whatever the outtype.
        if t.ndim == 1 or qtype == gguf.GGMLQuantizationType.F32 or ".ffn_gate_inp." in gn:
            w.add_tensor(gn, np.ascontiguousarray(t, dtype=np.float32))
        elif qtype == gguf.GGMLQuantizationType.F16:
            w.add_tensor(gn, t.astype(np.float16))
        elif qtype == gguf.GGMLQuantizationType.Q8_0:
            q = gguf.quants.quantize(np.ascontiguousarray(t, dtype=np.float32), qtype)
            w.add_tensor(gn, q, raw_dtype=qtype)
        else:  # bf16: input was bf16 widened to f32, so truncating back is exact
            bits = (np.ascontiguousarray(t).view(np.uint32) >> 16).astype(np.uint16)
            w.add_tensor(gn, bits, raw_dtype=qtype)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file(progress=False)
    w.close()
    print(f"wrote {args.out} ({arch}, {args.outtype})")


if __name__ == "__main__":
    main()
