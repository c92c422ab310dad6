#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets that need binary or generated seeds (route byte
prefixes, tiny GGUF and safetensors files, real chat templates). Run once; the output is committed
(corpus/<target>/seed_*), and crash inputs found later are added beside them by hand.
  .venv/bin/python tests/fuzz/make_corpus.py [--assets ../shared/assets]"""
import argparse
import json
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent
ROUTES = [  # fuzz_http_routes.cpp's kRoutes, in order
    "/generate", "/v1/completions", "/v1/chat/completions", "/v1/responses", "/tokenize",
    "/detokenize", "/v1/tokenize", "/v1/detokenize", "/encode", "/classify", "/v1/embeddings",
    "/v1/rerank", "/v1/score", "/parse_function_call", "/separate_reasoning", "/abort_request",
    "/health", "/health_generate", "/model_info", "/server_info", "/flush_cache", "/get_load",
    "/v1/models", "/metrics", "/v1/models/tiny", "/v1/responses/resp_1",
    "/v1/responses/resp_1/cancel", "PUT /generate", "GET /generate", "/no_such_route",
]
BODIES = {
    "/generate": [
        {"text": "Hello", "sampling_params": {"max_new_tokens": 4, "temperature": 0}},
        {"input_ids": [1, 2, 3], "sampling_params": {"max_new_tokens": 2, "n": 2}, "stream": True},
        {"text": ["a", "b"], "sampling_params": {"max_new_tokens": 3, "regex": "[a-z]+"},
         "return_logprob": True, "top_logprobs_num": 2},
        {"text": "x", "sampling_params": {"json_schema": "{\"type\":\"object\"}", "max_new_tokens": 8}},
        {"text": "hi", "sampling_params": {"n": 1000000, "max_new_tokens": 2}},
        {"text": "hi", "stream": None, "return_logprob": 1e30},
    ],
    "/v1/completions": [
        {"model": "tiny", "prompt": "Once", "max_tokens": 4, "logprobs": 2, "echo": True},
        {"model": "tiny", "prompt": ["a", "b"], "max_tokens": 2, "stream": True, "n": 2},
    ],
    "/v1/chat/completions": [
        {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4},
        {"model": "tiny", "messages": [{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
         "max_tokens": 3, "stream": True, "stream_options": {"include_usage": True},
         "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
         "response_format": {"type": "json_object"}},
    ],
    "/v1/responses": [{"model": "tiny", "input": "Hi", "max_output_tokens": 4},
                      {"model": "tiny", "input": [{"role": "user", "content": "Hi"}], "stream": True,
                       "max_output_tokens": 2, "store": True}],
    "/tokenize": [{"prompt": "Hello world", "add_special_tokens": True}],
    "/detokenize": [{"tokens": [9707, 1879]}],
    "/v1/tokenize": [{"prompt": ["a", "b"]}],
    "/v1/detokenize": [{"tokens": [[1, 2], [3]]}],
    "/encode": [{"text": "hi"}],
    "/v1/embeddings": [{"model": "tiny", "input": ["a", "b"]}],
    "/v1/rerank": [{"query": "q", "documents": ["a", "b"]}],
    "/v1/score": [{"query": "q", "items": ["a", "b"], "label_token_ids": [1, 2]}],
    "/parse_function_call": [{"text": "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>",
                              "tool_call_parser": "qwen25",
                              "tools": [{"type": "function", "function": {"name": "f"}}]}],
    "/separate_reasoning": [{"text": "<think>a</think>b", "reasoning_parser": "qwen3"}],
    "/abort_request": [{"rid": "x"}, {"abort_all": True}],
}


def write(target, name, data):
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def http_routes():
    for i, route in enumerate(ROUTES):
        for j, body in enumerate(BODIES.get(route, [{}])):
            write("http_routes", f"seed_{i:02d}_{j}", bytes([i]) + json.dumps(body).encode())


def grammar():
    seeds = [
        (0, json.dumps({"type": "object", "properties": {"a": {"type": "integer", "minimum": 3},
                        "b": {"type": "array", "items": {"type": "string", "pattern": "^[a-c]+$"},
                              "maxItems": 3}}, "required": ["a"]})),
        (1, json.dumps({"anyOf": [{"type": "number"}, {"enum": ["x", None, 1.5]}],
                        "$defs": {"n": {"$ref": "#/$defs/n"}}})),
        (2, r"(\d{3}-){2}[A-Z]\w*(foo|bar)?"),
        (3, json.dumps({"type": "structural_tag", "format": {"type": "triggered_tags",
                        "triggers": ["<f"], "tags": [{"begin": "<f>", "content": {
                            "type": "json_schema", "json_schema": {"type": "object"}},
                                                    "end": "</f>"}]}})),
        (4, 'root ::= "a" item* | [0-9]+ "." [0-9]{1,3}\nitem ::= ("b" | "c"? ) "d"'),
    ]
    for i, (kind, text) in enumerate(seeds):
        write("grammar", f"seed_{i}", bytes([kind]) + text.encode())


def chat_template(assets):
    messages = json.dumps([{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                           {"role": "assistant", "content": "a", "tool_calls": [
                               {"function": {"name": "f", "arguments": {"x": 1}}}]},
                           {"role": "tool", "content": "r"}])
    i = 0
    for cfg in sorted(pathlib.Path(assets).glob("*/tokenizer_config.json")):
        t = json.loads(cfg.read_text()).get("chat_template")
        if isinstance(t, str):
            write("chat_template", f"seed_{i}_{cfg.parent.name}", t.encode() + b"\0" + messages.encode())
            i += 1
    small = ["{% for m in messages %}{{ m.role | upper }}: {{ m['content'] | trim }}\n{% endfor %}",
             "{%- set ns = namespace(x=0) -%}{% for i in range(3) %}{% set ns.x = ns.x + i %}{% endfor %}"
             "{{ ns.x }}{{ messages | tojson }}{% if add_generation_prompt %}A:{% endif %}",
             "{% macro f(a, b=2) %}{{ a ~ b }}{% endmacro %}{{ f(1) }}{{ 'x' * 3 }}{{ [1,2][1:] }}"
             "{{ {'a': 1}.items() | list }}{% raise_exception('no') if false %}"]
    for j, t in enumerate(small):
        write("chat_template", f"seed_small_{j}", t.encode() + b"\0" + messages.encode())


def safetensors():
    def file(tensors, metadata=None):
        header, blob = {}, b""
        if metadata:
            header["__metadata__"] = metadata
        for name, (dtype, shape, data) in tensors.items():
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
            blob += data
        h = json.dumps(header).encode()
        return struct.pack("<Q", len(h)) + h + blob
    write("safetensors", "seed_0", file({"w": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
                                         "b": ("BF16", [3], b"\x80\x3f" * 3)}, {"format": "pt"}))
    write("safetensors", "seed_1", file({"e": ("F16", [1, 2], b"\x00\x3c" * 2),
                                         "i": ("I64", [1], struct.pack("<q", 7))}))


def gguf_files():
    import gguf
    import numpy as np
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "t.gguf"
        w = gguf.GGUFWriter(str(path), "llama")
        w.add_uint32("llama.context_length", 64)
        w.add_float32("llama.rope.freq_base", 10000.0)
        w.add_bool("general.flag", True)
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("default")
        tokens = ["<s>", "</s>", "H", "e", "l", "o", "Ġ", "He", "ll", "Hell", "Hello", ",", "!", "1"]
        w.add_token_list(tokens)
        w.add_token_types([3, 3] + [1] * (len(tokens) - 2))
        w.add_token_merges(["H e", "l l", "He ll", "Hell o"])
        w.add_bos_token_id(0)
        w.add_eos_token_id(1)
        w.add_tensor("tok_embd.weight", np.arange(8, dtype=np.float32).reshape(2, 4))
        w.add_tensor("norm.weight", np.ones(4, dtype=np.float16))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        write("gguf", "seed_0", path.read_bytes())


def model_config(assets):
    write("model_config", "seed_minilm", (pathlib.Path(assets) / "minilm-l6-v2" / "config.json").read_bytes())
    cfgs = [
        {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 64,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "intermediate_size": 128, "vocab_size": 151936, "max_position_embeddings": 512,
         "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": True,
         "torch_dtype": "bfloat16", "eos_token_id": [151643, 151645]},
        {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
         "num_hidden_layers": 2, "num_attention_heads": 4, "head_dim": 16, "intermediate_size": 128,
         "vocab_size": 128256, "max_position_embeddings": 131072,
         "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                          "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}},
        {"architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2", "hidden_size": 64,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 16,
         "intermediate_size": 128, "vocab_size": 256000, "sliding_window": 4096,
         "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0, "query_pre_attn_scalar": 16},
        {"architectures": ["Qwen2MoeForCausalLM"], "model_type": "qwen2_moe", "hidden_size": 64,
         "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
         "intermediate_size": 128, "moe_intermediate_size": 32, "num_experts": 8,
         "num_experts_per_tok": 2, "shared_expert_intermediate_size": 64, "vocab_size": 4096,
         "mlp_only_layers": [1], "decoder_sparse_step": 1},
        {"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "hidden_size": 64,
         "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128,
         "vocab_size": 32064, "max_position_embeddings": 131072,
         "original_max_position_embeddings": 4096, "partial_rotary_factor": 0.75,
         "rope_scaling": {"type": "longrope", "short_factor": [1.0] * 4, "long_factor": [2.0] * 4}},
    ]
    for i, c in enumerate(cfgs):
        write("model_config", f"seed_{i}", json.dumps(c, indent=1).encode())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", default=str(HERE.parents[2] / "shared" / "assets"))
    a = ap.parse_args()
    http_routes()
    grammar()
    chat_template(a.assets)
    safetensors()
    gguf_files()
    model_config(a.assets)


if __name__ == "__main__":
    main()
