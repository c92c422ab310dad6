"""The prompt /v1/chat/completions renders is SGLang's: for each conversation, the same number of
prompt tokens and the same top-5 logprobs of the first generated token as /generate on the ids of
Python jinja2's rendering of the model's own template (configured as transformers does),
tokenized by /tokenize without special tokens. Two templates: the default model's (ChatML, from
its GGUF metadata, read with the gguf package) and Qwen3's (tokenizer_config.json; it renders
tools, reasoning and multi-turn history)."""
from __future__ import annotations

import pytest

from chat_reference import (gguf_chat_template, gguf_special_tokens, prompt_ids, render,
                            tokenizer_config_template)
from conftest import SMOLLM

SYSTEM = {"role": "system", "content": "You are a terse assistant."}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        # Not in sorted key order: the template's tojson must keep the client's order.
        "parameters": {"type": "object",
                       "properties": {"unit": {"type": "string", "enum": ["c", "f"]},
                                      "city": {"type": "string", "description": "e.g. Paris"}},
                       "required": ["city"]},
    },
}
CASES = {
    "system_user": ([SYSTEM, {"role": "user", "content": "Name a color."}], None),
    "multi_turn": ([SYSTEM, {"role": "user", "content": "Hello!"},
                    {"role": "assistant", "content": "Hi! How can I help?"},
                    {"role": "user", "content": "What is 2 + 2?"}], None),
    "list_content": ([{"role": "user", "content": [
        {"type": "text", "text": "Describe"}, {"type": "text", "text": "the sea in one word."}]}],
        None),
    "unicode": ([{"role": "user", "content": "Ça va? 日本語 — “quotes” 🙂"}], None),
    "tools": ([SYSTEM, {"role": "user", "content": "Weather in Paris?"}], [WEATHER_TOOL]),
}


@pytest.fixture(scope="module")
def models(request, model_path):
    """name -> (server, template source, the special tokens transformers passes the template)."""
    return {
        "smollm": lambda: (request.getfixturevalue("smollm"), gguf_chat_template(str(SMOLLM)),
                           gguf_special_tokens(str(SMOLLM))),
        "qwen3": lambda: (request.getfixturevalue("qwen_chat"),
                          tokenizer_config_template(model_path), {"eos_token": "<|im_end|>"}),
    }


def first_token_top5(server, ids):
    r = server.post("/generate", json={
        "input_ids": ids, "return_logprob": True, "top_logprobs_num": 5,
        "return_text_in_logprobs": True,
        "sampling_params": {"temperature": 0, "max_new_tokens": 1}})
    assert r.status_code == 200, r.text
    meta = r.json()["meta_info"]
    return meta["output_token_logprobs"][0], meta["output_top_logprobs"][0]


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("model", ["smollm", "qwen3"])
def test_chat_prompt_equals_jinja2s(models, model, case):
    server, source, special = models[model]()
    messages, tools = CASES[case]
    text = render(source, messages, tools, **special)
    if tools and model == "qwen3":
        assert '"parameters": {"type": "object", "properties": {"unit"' in text
    ids = prompt_ids(server, text)
    # Both requests below run from an empty radix cache, so they run the same forward: on a cache
    # hit only the last tokens are computed, and the default model's quantized kernels round
    # activations to int8, where float summation-order differences can flip a rounding.
    assert server.post("/flush_cache").status_code == 200
    (ref_logprob, ref_id, ref_text), ref_top = first_token_top5(server, ids)

    body = {"model": "m", "messages": messages, "temperature": 0, "max_tokens": 1,
            "logprobs": True, "top_logprobs": 5}
    assert server.post("/flush_cache").status_code == 200
    if tools:
        body["tools"] = tools
    r = server.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["usage"]["prompt_tokens"] == len(ids), text
    [entry] = out["choices"][0]["logprobs"]["content"]
    assert entry["token"] == ref_text
    assert entry["logprob"] == pytest.approx(ref_logprob, abs=1e-4)
    # SGLang's chat route keys the top logprobs by token text: a text that two tokens decode to
    # (e.g. two partial UTF-8 byte tokens, both "\ufffd") keeps its first position, last value.
    expected = {}
    for logprob, _, token_text in ref_top:
        expected[token_text] = logprob
    assert [t["token"] for t in entry["top_logprobs"]] == list(expected)
    assert [t["logprob"] for t in entry["top_logprobs"]] == pytest.approx(
        list(expected.values()), abs=1e-4)
