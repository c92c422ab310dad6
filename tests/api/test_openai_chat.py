"""POST /v1/chat/completions through the official openai SDK (and raw requests for error bodies):
the response and chunk shapes the SDK parses, streaming against non-streaming, n, stop strings,
seeds, logprobs against /generate's, usage, tools in the prompt, and SGLang's error bodies. Served
by the tiny Qwen2 checkpoint with the real Qwen3 tokenizer files and chat template, and, where
readable text matters (stop strings), by the default model SmolLM2-135M-Instruct."""
from __future__ import annotations

import openai
import pytest
import requests

from chat_reference import prompt_ids, render, tokenizer_config_template
from conftest import sse_events

HI = [{"role": "user", "content": "Hi"}]
FRANCE = [{"role": "user", "content": "Name the capital of France."}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]},
    },
}
ERROR_KEYS = {"object", "message", "type", "param", "code"}


def client(server) -> openai.OpenAI:
    # No retries: a 500 is an answer to check here, not a reason to ask again.
    return openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0, timeout=120)


def greedy(server, messages=HI, **kw):
    kw.setdefault("max_tokens", 6)
    return client(server).chat.completions.create(model="test-model", messages=messages,
                                                  temperature=0, **kw)


def streamed(server, messages=HI, **kw):
    """The chunks of a streamed request, and the text of each choice index joined."""
    kw.setdefault("max_tokens", 6)
    kw.setdefault("temperature", 0)
    chunks = list(client(server).chat.completions.create(model="test-model", messages=messages,
                                                         stream=True, **kw))
    texts: dict[int, str] = {}
    for c in chunks:
        for ch in c.choices:
            texts[ch.index] = texts.get(ch.index, "") + (ch.delta.content or "")
    return chunks, texts


@pytest.fixture(scope="module")
def qwen_ids(qwen_chat, model_path):
    """The prompt ids of a conversation as Python's jinja2 renders the model's template."""
    source = tokenizer_config_template(model_path)
    return lambda messages, tools=None: prompt_ids(qwen_chat, render(source, messages, tools))


def test_response_shape_and_usage(qwen_chat, qwen_ids):
    r = greedy(qwen_chat, max_tokens=5)
    assert isinstance(r, openai.types.chat.ChatCompletion)
    assert r.object == "chat.completion"
    assert r.id.startswith("chatcmpl-")
    assert r.model == "test-model"
    assert len(r.choices) == 1
    c = r.choices[0]
    assert c.index == 0 and c.message.role == "assistant"
    assert isinstance(c.message.content, str) and c.message.content
    assert c.finish_reason == "length" and c.logprobs is None
    assert c.message.tool_calls is None
    assert r.usage.completion_tokens == 5
    assert r.usage.prompt_tokens == len(qwen_ids(HI))
    assert r.usage.total_tokens == r.usage.prompt_tokens + 5


def test_stream_equals_non_stream_under_greedy_and_usage_chunk(qwen_chat):
    whole = greedy(qwen_chat, max_tokens=8)
    chunks, texts = streamed(qwen_chat, max_tokens=8, stream_options={"include_usage": True})
    assert texts == {0: whole.choices[0].message.content}
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    # The first chunk names the role; one chunk has the finish reason; the last one is the usage.
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason]
    assert finishes == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].usage.model_dump() == whole.usage.model_dump()


def test_without_include_usage_no_usage_chunk(qwen_chat):
    chunks, _ = streamed(qwen_chat, max_tokens=3)
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)


def test_n2_greedy_gives_two_equal_choices(qwen_chat):
    one = greedy(qwen_chat, max_tokens=4)
    r = greedy(qwen_chat, max_tokens=4, n=2)
    assert [c.index for c in r.choices] == [0, 1]
    assert [c.message.content for c in r.choices] == [one.choices[0].message.content] * 2
    # The prompt is counted once, the completions of both choices.
    assert r.usage.prompt_tokens == one.usage.prompt_tokens
    assert r.usage.completion_tokens == 8
    chunks, texts = streamed(qwen_chat, max_tokens=4, n=2, stream_options={"include_usage": True})
    assert texts == {0: one.choices[0].message.content, 1: one.choices[0].message.content}
    assert chunks[-1].usage.model_dump() == r.usage.model_dump()


def test_seed_reproducibility(qwen_chat):
    def sample(seed):
        r = client(qwen_chat).chat.completions.create(model="m", messages=HI, temperature=1.0,
                                                      max_tokens=8, seed=seed)
        return r.choices[0].message.content

    first = sample(7)
    assert sample(7) == first
    texts = {sample(s) for s in (1, 2, 3, 4)}
    assert len(texts) >= 2, texts


def test_logprobs_equal_generates(qwen_chat, qwen_ids):
    r = greedy(qwen_chat, max_tokens=4, logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    ref = qwen_chat.post("/generate", json={
        "input_ids": qwen_ids(HI), "return_logprob": True, "top_logprobs_num": 3,
        "return_text_in_logprobs": True,
        "sampling_params": {"temperature": 0, "max_new_tokens": 4}}).json()["meta_info"]
    assert len(content) == 4 == len(ref["output_token_logprobs"])
    assert "".join(e.token for e in content) == r.choices[0].message.content
    for entry, (logprob, _, text), tops in zip(content, ref["output_token_logprobs"],
                                               ref["output_top_logprobs"]):
        assert entry.token == text
        assert entry.bytes == list(text.encode("utf-8"))
        assert entry.logprob == pytest.approx(logprob, abs=1e-4)
        assert [t.token for t in entry.top_logprobs] == [t[2] for t in tops]
        assert [t.logprob for t in entry.top_logprobs] == pytest.approx([t[0] for t in tops],
                                                                        abs=1e-4)
        # Greedy: the chosen token is the most likely one.
        assert entry.token == entry.top_logprobs[0].token
    # Streamed: the same entries, spread over the chunks.
    chunks, _ = streamed(qwen_chat, max_tokens=4, logprobs=True, top_logprobs=3)
    entries = [e for c in chunks for ch in c.choices if ch.logprobs for e in ch.logprobs.content]
    assert [(e.token, e.logprob) for e in entries] == pytest.approx(
        [(e.token, e.logprob) for e in content], abs=1e-4)


def test_tools_are_rendered_into_the_prompt(qwen_chat, qwen_ids):
    plain = greedy(qwen_chat, max_tokens=1)
    with_tools = greedy(qwen_chat, max_tokens=1, tools=[WEATHER_TOOL])
    # Qwen's template writes the tools' JSON into a system turn: the prompt is the one jinja2
    # renders with them (the same tokens; test_openai_prompt_exactness checks the logprobs too).
    assert with_tools.usage.prompt_tokens == len(qwen_ids(HI, [WEATHER_TOOL]))
    assert with_tools.usage.prompt_tokens > plain.usage.prompt_tokens + 30
    # tool_choice "none": the tools are not rendered (SGLang's _process_messages).
    none = greedy(qwen_chat, max_tokens=1, tools=[WEATHER_TOOL], tool_choice="none")
    assert none.usage.prompt_tokens == plain.usage.prompt_tokens


# --- stop strings, on the real model -------------------------------------------------------


def test_stop_string_and_list_report_matched_stop(smollm):
    free = greedy(smollm, FRANCE, max_tokens=16).choices[0]
    text = free.message.content
    assert "Paris" in text, text
    assert free.finish_reason == "stop" and free.matched_stop == 2  # the EOS token id
    for stop in ("Paris", ["no such words", "Paris"]):
        c = greedy(smollm, FRANCE, max_tokens=16, stop=stop).choices[0]
        assert c.finish_reason == "stop"
        assert c.model_extra["matched_stop"] == "Paris"
        assert c.message.content == text[: text.index("Paris")]
    chunks, texts = streamed(smollm, FRANCE, max_tokens=16, stop=["Paris"])
    assert texts == {0: text[: text.index("Paris")]}
    last = [ch for c in chunks for ch in c.choices if ch.finish_reason][-1]
    assert last.finish_reason == "stop" and last.model_extra["matched_stop"] == "Paris"


# --- errors: SGLang's body {"object": "error", "message", "type", "param", "code"} ---------


@pytest.fixture(scope="module")
def raising(launch, model_path, tmp_path_factory):
    """A server whose --chat-template raises on a user message "boom", else renders ChatML and
    the tools' JSON."""
    path = tmp_path_factory.mktemp("templates") / "raising.jinja"
    path.write_text(
        "{% if messages[0].content == 'boom' %}{{ raise_exception('boom') }}{% endif %}"
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
        "{% if tools %}TOOLS {{ tools | tojson }}\n{% endif %}<|im_start|>assistant\n")
    return launch(model_path, "--chat-template", str(path))


def error_body(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["object"] == "error" and body["code"] == status and body["param"] is None
    return body


ERRORS = [
    # (request fields, type, message or its start)
    ({"messages": []}, "BadRequestError", "Messages cannot be empty."),
    ({"messages": [{"role": "wizard", "content": "x"}]}, "Bad Request",
     "'role' must be one of 'system', 'assistant', 'tool', or 'function' (case-insensitive)"),
    ({"messages": HI, "max_tokens": -1}, "BadRequestError",
     "max_new_tokens must be at least 0, got -1."),
    ({"messages": HI, "regex": "a+", "ebnf": 'root ::= "a"'}, "BadRequestError",
     "Only one of regex, json_schema, or ebnf can be set."),
    ({"messages": HI, "response_format": {"type": "json_schema", "json_schema": {"name": "o"}}},
     "Bad Request", "schema_ is required for json_schema response format request."),
    ({"messages": HI, "tools": [WEATHER_TOOL], "tool_choice": {
        "type": "function", "function": {"name": "nope"}}}, "BadRequestError",
     "Tool 'nope' not found in tools list."),
]


@pytest.mark.parametrize("fields,type_,message", ERRORS,
                         ids=["empty", "role", "max_tokens", "two_constraints", "json_schema",
                              "unknown_tool"])
def test_errors_raw(qwen_chat, fields, type_, message):
    r = requests.post(qwen_chat.url + "/v1/chat/completions", json={"model": "m", **fields},
                      timeout=60)
    body = error_body(r, 400)
    assert body["type"] == type_
    assert body["message"].startswith(message), body


@pytest.mark.parametrize("fields,type_,message", ERRORS,
                         ids=["empty", "role", "max_tokens", "two_constraints", "json_schema",
                              "unknown_tool"])
def test_errors_through_the_sdk(qwen_chat, fields, type_, message):
    fields = dict(fields)
    messages = fields.pop("messages")
    extra = {k: fields.pop(k) for k in ("regex", "ebnf") if k in fields}
    with pytest.raises(openai.BadRequestError) as e:
        client(qwen_chat).chat.completions.create(model="m", messages=messages, extra_body=extra,
                                                  **fields)
    assert e.value.status_code == 400
    assert set(e.value.body) == ERROR_KEYS
    assert e.value.type == type_
    assert e.value.body["message"].startswith(message)


def test_a_raising_template_is_a_400_with_its_message(raising):
    # The rule: a template error is a 400 with the template's message (SGLang answers a
    # jinja2 TemplateError with a 500; a template refusing a conversation is the client's error).
    r = requests.post(raising.url + "/v1/chat/completions",
                      json={"messages": [{"role": "user", "content": "boom"}]}, timeout=60)
    body = error_body(r, 400)
    assert body == {"object": "error", "message": "boom",
                    "type": "BadRequestError", "param": None, "code": 400}
    with pytest.raises(openai.BadRequestError) as e:
        client(raising).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "boom"}], stream=True)
    assert e.value.status_code == 400 and e.value.body == body
    # Other messages render; the tools' JSON is in the prompt (the ids of the expected text; the
    # template's last newline is dropped, as jinja2 does without keep_trailing_newline).
    ok = greedy(raising, max_tokens=1, tools=[WEATHER_TOOL])
    expected = ("<|im_start|>user\nHi<|im_end|>\nTOOLS "
                + render("{{ tools | tojson }}", [], [WEATHER_TOOL]) + "\n<|im_start|>assistant")
    assert ok.usage.prompt_tokens == len(prompt_ids(raising, expected))


def test_a_streamed_request_refused_by_the_sampler_errs_inside_the_stream(qwen_chat):
    # As SGLang's _generate_chat_stream: the ValueError comes as an event, then [DONE].
    r = requests.post(qwen_chat.url + "/v1/chat/completions", stream=True, timeout=60,
                      json={"messages": HI, "max_tokens": -1, "stream": True})
    assert r.status_code == 200
    events = sse_events(r)
    assert events[-1] == "[DONE]" and len(events) == 2
    assert events[0] == {"error": {"object": "error",
                                   "message": "max_new_tokens must be at least 0, got -1.",
                                   "type": "BadRequestError", "param": None, "code": 400}}
    with pytest.raises(openai.APIError) as e:
        list(client(qwen_chat).chat.completions.create(model="m", messages=HI, max_tokens=-1,
                                                       stream=True))
    assert "max_new_tokens must be at least 0, got -1." in e.value.message
