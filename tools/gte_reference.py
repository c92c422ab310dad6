#!/usr/bin/env python3
"""A float32 torch reference of the NewModel architecture (Alibaba's GTE v1.5 encoders,
trust_remote_code "Alibaba-NLP/new-impl", whose modeling.py is not on PyPI), for the golden data of
src/model/gte.cpp (tools/make_golden.py --encoders-only).

Written from the maths of new-impl's modeling.py (NewEmbeddings, NewAttention with its eager
_attention, NewGatedMLP, NewLayer, RotaryEmbedding / NTKScalingRotaryEmbedding), not from its text:
  * embeddings: word (+ token type 0 when type_vocab_size > 0), then nn.LayerNorm; no position
    embedding with position_embedding_type "rope";
  * rotary: inv_freq = 1 / base^(arange(0, d, 2) / d), cos/sin of cat(freqs, freqs) computed in
    float32, applied as q * cos + rotate_half(q) * sin to q and k. rope_scaling "ntk" builds its
    cache for max_position_embeddings * factor at construction, so its scaled frequencies are the
    ones used at every length: base * factor and inv_freq / factor^(2/d) (mixed_b: the unscaled
    inv_freq / exp(a * k^mixed_b), k = 1..d/2, a = log(factor) / (d/2)^mixed_b);
  * attention: qkv_proj (bias) split in q, k, v; softmax(q k^T / sqrt(d)) v over the whole
    sequence (no mask for one unpadded sequence); o_proj (bias);
  * post-LN: h = attn_ln(h + attn(h)); h = mlp_ln(h + down(act(gate) * up)) with
    up_gate_proj (no bias) split [up, gate]; LayerNorm or RMSNorm by layer_norm_type.
usage (as a module): model = GteReference(checkpoint_dir); model.hidden(ids) -> [L, H]
"""
import json
import math
import os

import torch
from safetensors.torch import load_file

ACT = {"gelu": torch.nn.functional.gelu,
       "gelu_new": lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
       "gelu_pytorch_tanh": lambda x: torch.nn.functional.gelu(x, approximate="tanh")}


def inv_freq(cfg, d):
    base = cfg.get("rope_theta", 10000.0)
    exps = torch.arange(0, d, 2).float() / d
    rs = cfg.get("rope_scaling")
    if not rs:
        return 1.0 / (base ** exps)
    assert rs["type"] == "ntk", rs
    factor, mixed_b = rs["factor"], rs.get("mixed_b")
    if factor <= 1.0:
        return 1.0 / (base ** exps)
    if mixed_b is None:
        return 1.0 / ((base * factor) ** exps) / factor ** (2 / d)
    a = torch.tensor(factor).log() / (d / 2) ** mixed_b
    return 1.0 / (base ** exps) / (a * torch.arange(1, d // 2 + 1).float() ** mixed_b).exp()


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class GteReference:
    def __init__(self, ckpt):
        with open(os.path.join(ckpt, "config.json")) as f:
            self.cfg = json.load(f)
        w = load_file(os.path.join(ckpt, "model.safetensors"))
        self.w = {k.removeprefix("new."): v.float() for k, v in w.items()}
        c = self.cfg
        self.h, self.heads = c["hidden_size"], c["num_attention_heads"]
        self.d = self.h // self.heads
        self.eps = c.get("layer_norm_eps", 1e-12)
        self.act = ACT[c.get("hidden_act", "gelu")]
        self.rms = c.get("layer_norm_type", "layer_norm") == "rms_norm"
        self.inv_freq = inv_freq(c, self.d)

    def norm(self, x, p, force_layer_norm=False):
        if self.rms and not force_layer_norm:
            var = x.pow(2).mean(-1, keepdim=True)
            return self.w[p + "weight"] * (x * torch.rsqrt(var + self.eps))
        return torch.nn.functional.layer_norm(x, (self.h,), self.w[p + "weight"],
                                              self.w[p + "bias"], self.eps)

    @torch.no_grad()
    def hidden(self, ids):
        w, L, d = self.w, len(ids), self.d
        ids = torch.as_tensor(ids, dtype=torch.long)
        x = w["embeddings.word_embeddings.weight"][ids]
        if self.cfg.get("type_vocab_size", 1) > 0:
            x = x + w["embeddings.token_type_embeddings.weight"][torch.zeros_like(ids)]
        x = self.norm(x, "embeddings.LayerNorm.", force_layer_norm=True)
        freqs = torch.outer(torch.arange(L, dtype=torch.float32), self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]  # [L, 1, d]
        for i in range(self.cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            if p + "attention.qkv_proj.weight" in w:
                qkv = x @ w[p + "attention.qkv_proj.weight"].T + w[p + "attention.qkv_proj.bias"]
                q, k, v = qkv.split(self.h, dim=-1)
            else:
                q, k, v = (x @ w[p + f"attention.{n}_proj.weight"].T + w[p + f"attention.{n}_proj.bias"]
                           for n in "qkv")
            q, k, v = (t.view(L, self.heads, d) for t in (q, k, v))
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(d)
            ctx = torch.einsum("hqk,khd->qhd", scores.softmax(-1), v).reshape(L, self.h)
            attn = ctx @ w[p + "attention.o_proj.weight"].T + w[p + "attention.o_proj.bias"]
            x = self.norm(x + attn, p + "attn_ln.")
            up, gate = (x @ w[p + "mlp.up_gate_proj.weight"].T).split(
                self.cfg["intermediate_size"], dim=-1)
            mlp = (self.act(gate) * up) @ w[p + "mlp.down_proj.weight"].T + w[p + "mlp.down_proj.bias"]
            x = self.norm(x + mlp, p + "mlp_ln.")
        return x
