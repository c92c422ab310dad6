"""POST /v1/completions through the official openai SDK: shapes, streaming against non-streaming,
the include_usage chunk, n, echo, stop strings, seeds, logprobs against /generate's, and SGLang's
error bodies. The tiny Qwen2 checkpoint with the real Qwen3 tokenizer; the default model where
readable text matters."""
from __future__ import annotations

import openai
import pytest
import requests

from chat_reference import prompt_ids

PROMPT = "The quick brown fox"
FRANCE = ("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
          "<|im_start|>assistant\n")
ERROR_KEYS = {"object", "message", "type", "param", "code"}


def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0, timeout=120)


def greedy(server, prompt=PROMPT, **kw):
    kw.setdefault("max_tokens", 6)
    return client(server).completions.create(model="test-model", prompt=prompt, temperature=0,
                                             **kw)


def streamed(server, prompt=PROMPT, **kw):
    kw.setdefault("max_tokens", 6)
    kw.setdefault("temperature", 0)
    chunks = list(client(server).completions.create(model="test-model", prompt=prompt,
                                                    stream=True, **kw))
    texts: dict[int, str] = {}
    for c in chunks:
        for ch in c.choices:
            texts[ch.index] = texts.get(ch.index, "") + ch.text
    return chunks, texts


def test_response_shape_and_usage(qwen_chat):
    r = greedy(qwen_chat, max_tokens=5)
    assert isinstance(r, openai.types.Completion)
    assert r.object == "text_completion" and r.id.startswith("cmpl-")
    assert r.model == "test-model"
    [c] = r.choices
    assert c.index == 0 and c.finish_reason == "length" and c.logprobs is None
    assert isinstance(c.text, str) and c.text
    # A text prompt is tokenized as /generate does (the Qwen tokenizer adds no special tokens).
    assert r.usage.prompt_tokens == len(prompt_ids(qwen_chat, PROMPT))
    assert r.usage.completion_tokens == 5
    assert r.usage.total_tokens == r.usage.prompt_tokens + 5


def test_stream_equals_non_stream_and_usage_chunk(qwen_chat):
    whole = greedy(qwen_chat, max_tokens=8)
    chunks, texts = streamed(qwen_chat, max_tokens=8, stream_options={"include_usage": True})
    assert texts == {0: whole.choices[0].text}
    assert all(c.object == "text_completion" for c in chunks)
    finishes = [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason]
    assert finishes == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage.model_dump() == whole.usage.model_dump()
    assert all(c.usage is None for c in chunks[:-1])


def test_token_id_prompt_equals_text_prompt(qwen_chat):
    ids = prompt_ids(qwen_chat, PROMPT)
    assert greedy(qwen_chat, prompt=ids).choices[0].text == greedy(qwen_chat).choices[0].text


def test_n2_and_echo(qwen_chat):
    one = greedy(qwen_chat, max_tokens=4).choices[0].text
    r = greedy(qwen_chat, max_tokens=4, n=2)
    assert [(c.index, c.text) for c in r.choices] == [(0, one), (1, one)]
    assert r.usage.completion_tokens == 8
    assert r.usage.prompt_tokens == len(prompt_ids(qwen_chat, PROMPT))
    _, texts = streamed(qwen_chat, max_tokens=4, n=2)
    assert texts == {0: one, 1: one}
    echoed = greedy(qwen_chat, max_tokens=4, echo=True).choices[0].text
    assert echoed == PROMPT + one


def test_seed_reproducibility(qwen_chat):
    def sample(seed):
        return client(qwen_chat).completions.create(
            model="m", prompt=PROMPT, temperature=1.0, max_tokens=8, seed=seed).choices[0].text

    first = sample(11)
    assert sample(11) == first
    assert len({sample(s) for s in (1, 2, 3, 4)}) >= 2


def test_logprobs_equal_generates(qwen_chat):
    ids = prompt_ids(qwen_chat, PROMPT)
    r = greedy(qwen_chat, prompt=ids, max_tokens=4, logprobs=3)
    lp = r.choices[0].logprobs
    ref = qwen_chat.post("/generate", json={
        "input_ids": ids, "return_logprob": True, "top_logprobs_num": 3,
        "return_text_in_logprobs": True,
        "sampling_params": {"temperature": 0, "max_new_tokens": 4}}).json()["meta_info"]
    out = ref["output_token_logprobs"]
    assert lp.tokens == [e[2] for e in out]
    assert "".join(lp.tokens) == r.choices[0].text
    assert lp.token_logprobs == pytest.approx([e[0] for e in out], abs=1e-4)
    assert lp.text_offset == [-1] * 4  # "Not supported yet", as SGLang
    for top, ref_top in zip(lp.top_logprobs, ref["output_top_logprobs"]):
        assert list(top) == [t[2] for t in ref_top]
        assert list(top.values()) == pytest.approx([t[0] for t in ref_top], abs=1e-4)
    chunks, _ = streamed(qwen_chat, prompt=ids, max_tokens=4, logprobs=3)
    tokens = [t for c in chunks for ch in c.choices if ch.logprobs for t in ch.logprobs.tokens]
    assert tokens == lp.tokens


def test_stop_string_and_list_report_matched_stop(smollm):
    text = greedy(smollm, FRANCE, max_tokens=16).choices[0].text
    assert "Paris" in text, text
    for stop in ("Paris", ["no such words", "Paris"]):
        c = greedy(smollm, FRANCE, max_tokens=16, stop=stop).choices[0]
        assert c.finish_reason == "stop"
        assert c.model_extra["matched_stop"] == "Paris"
        assert c.text == text[: text.index("Paris")]
    _, texts = streamed(smollm, FRANCE, max_tokens=16, stop="Paris")
    assert texts == {0: text[: text.index("Paris")]}


ERRORS = [
    ({"prompt": PROMPT, "max_tokens": -1}, "Bad Request", "Value error, max_tokens must be positive"),
    ({"prompt": ""}, "BadRequestError", "Prompt cannot be empty"),
    ({"prompt": PROMPT, "regex": "a+", "ebnf": 'root ::= "a"'}, "BadRequestError",
     "Only one of regex, json_schema, or ebnf can be set."),
    ({"prompt": PROMPT, "response_format": {"type": "json_schema", "json_schema": {"name": "o"}}},
     "Bad Request", "schema_ is required for json_schema response format request."),
]
IDS = ["max_tokens", "empty", "two_constraints", "json_schema"]


@pytest.mark.parametrize("fields,type_,message", ERRORS, ids=IDS)
def test_errors_raw(qwen_chat, fields, type_, message):
    r = requests.post(qwen_chat.url + "/v1/completions", json={"model": "m", **fields}, timeout=60)
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) == ERROR_KEYS
    assert body["object"] == "error" and body["code"] == 400 and body["param"] is None
    assert body["type"] == type_
    assert body["message"].startswith(message), body


@pytest.mark.parametrize("fields,type_,message", ERRORS, ids=IDS)
def test_errors_through_the_sdk(qwen_chat, fields, type_, message):
    fields = dict(fields)
    extra = {k: fields.pop(k) for k in ("regex", "ebnf", "response_format") if k in fields}
    with pytest.raises(openai.BadRequestError) as e:
        client(qwen_chat).completions.create(model="m", extra_body=extra, **fields)
    assert e.value.status_code == 400 and set(e.value.body) == ERROR_KEYS
    assert e.value.type == type_ and e.value.body["message"].startswith(message)
