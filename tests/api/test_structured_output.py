"""Structured output through the API, in SGLang's request shapes: sampling_params json_schema /
regex / ebnf / structural_tag on /generate, response_format and tool_choice on the OpenAI routes
(the openai SDK), the errors for bad constraints, --grammar-backend, and batches that mix
constrained and free requests. Served by the tiny random Qwen2 checkpoint with the real Qwen3
tokenizer: its outputs are noise, so every assertion is about the constraint holding. A random
model rarely closes a JSON string by itself; where an output must finish, logit_bias favours the
tokens that close things (the mask is applied before logit_bias, so it cannot let a forbidden token
through)."""
from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import openai
import pytest

from conftest import sse_events

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 8},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 3},
    },
    "required": ["name", "age"],
}


@pytest.fixture(scope="module")
def tok(model_path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(model_path + "/tokenizer.json")


@pytest.fixture(scope="module")
def closing_bias(tok):
    """+6 on tokens that close strings / containers and on short structural tokens."""
    bias = {}
    for piece in ['"', '}', ']', ',', '":', '"}', '"]', '},', '0', '1', '"a"', '"b"']:
        ids = tok.encode(piece, add_special_tokens=False).ids
        if len(ids) == 1:
            bias[str(ids[0])] = 6.0
    return bias


@pytest.fixture(scope="module")
def compact(launch, model_path):
    """JSON without free whitespace (SGLang's --constrained-json-disable-any-whitespace): with the
    default policy (xgrammar's any_whitespace, unbounded [ \\n\\t]* between tokens) a random model
    keeps picking whitespace tokens and rarely finishes a document within max_new_tokens."""
    return launch(model_path, "--constrained-json-disable-any-whitespace")


def generate(server, text, **sp):
    sp.setdefault("max_new_tokens", 64)
    return server.post("/generate", json={"text": text, "sampling_params": sp})


def test_regex_output_fullmatches(server):
    for seed in range(5):
        r = generate(server, "Count:", regex="[0-9]+", temperature=1.0, sampling_seed=seed,
                     max_new_tokens=32)
        assert r.status_code == 200, r.text
        out = r.json()
        if out["meta_info"]["finish_reason"]["type"] == "stop":
            assert re.fullmatch("[0-9]+", out["text"]), out["text"]
        else:
            assert re.fullmatch("[0-9]*", out["text"]), out["text"]


def test_regex_alternatives_finish_at_the_accepting_state(server):
    r = generate(server, "Answer:", regex="(yes|no|maybe)", temperature=1.0, max_new_tokens=16)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["text"] in {"yes", "no", "maybe"}
    # Nothing can follow: the request ends with a stop token, not by length.
    assert out["meta_info"]["finish_reason"]["type"] == "stop"


def test_json_schema_output_validates(compact, closing_bias):
    finished = 0
    for seed in range(6):
        r = generate(compact, "Person:", json_schema=json.dumps(PERSON), temperature=1.0,
                     sampling_seed=seed, max_new_tokens=96, logit_bias=closing_bias)
        assert r.status_code == 200, r.text
        out = r.json()
        if out["meta_info"]["finish_reason"]["type"] != "stop":
            continue
        finished += 1
        jsonschema.validate(json.loads(out["text"]), PERSON)
    assert finished >= 3


def test_default_whitespace_policy_allows_whitespace_between_tokens(server):
    # xgrammar's any_whitespace (SGLang's default): greedy output of this model takes whitespace
    # wherever the grammar allows it; what it produces is still a prefix of valid JSON.
    r = generate(server, "Person:", json_schema=json.dumps(PERSON), temperature=0,
                 max_new_tokens=24).json()
    assert r["text"].startswith("{")
    assert any(c in r["text"] for c in " \n\t"), r["text"]


def test_json_schema_as_object(compact, closing_bias):
    # SGLang's SamplingParams takes a str; an object is accepted too and dumped.
    r = compact.post("/generate", json={"text": "x", "sampling_params": {
        "json_schema": {"type": "object", "properties": {"a": {"type": "boolean"}},
                        "required": ["a"]}, "max_new_tokens": 32, "temperature": 0}})
    assert r.status_code == 200, r.text
    out = r.json()
    if out["meta_info"]["finish_reason"]["type"] == "stop":
        assert json.loads(out["text"])["a"] in (True, False)
    else:
        assert out["text"].lstrip().startswith("{")


def test_ebnf_output_is_in_the_language(server):
    grammar = 'root ::= greeting " " name\ngreeting ::= "hello" | "hi"\nname ::= [a-z]{1,5}'
    for seed in range(4):
        r = generate(server, "Say:", ebnf=grammar, temperature=1.0, sampling_seed=seed,
                     max_new_tokens=16)
        assert r.status_code == 200, r.text
        text = r.json()["text"]
        assert re.fullmatch("(hello|hi) [a-z]{1,5}", text), text


def test_structural_tag_constrains_the_tagged_part(compact, closing_bias):
    tag = {
        "type": "structural_tag",
        "structures": [{"begin": "<function=f>", "schema": {
            "type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]},
            "end": "</function>"}],
        "triggers": ["<function="],
    }
    r = generate(compact, "Call:", structural_tag=json.dumps(tag), temperature=1.0,
                 max_new_tokens=48, logit_bias=closing_bias)
    assert r.status_code == 200, r.text
    text = r.json()["text"]
    # Whatever the free text holds, each tagged part is the schema's JSON.
    for m in re.finditer(r"<function=f>(.*?)</function>", text, re.S):
        assert isinstance(json.loads(m.group(1))["x"], int)
    start = text.find("<function=")
    if start >= 0:
        assert text[start:].startswith("<function=f>")


def test_streaming_gives_the_same_constrained_text(server):
    body = {"text": "Answer:", "sampling_params": {"regex": "[a-c]{3,6}", "temperature": 0,
                                                    "max_new_tokens": 16}}
    whole = server.post("/generate", json=body).json()["text"]
    r = server.post("/generate", json={**body, "stream": True}, stream=True)
    events = sse_events(r)
    assert events[-1] == "[DONE]"
    assert events[-2]["text"] == whole
    assert re.fullmatch("[a-c]{3,6}", whole)


def test_logprobs_and_n_with_a_constraint(server):
    r = server.post("/generate", json={
        "text": "Answer:", "return_logprob": True, "top_logprobs_num": 3,
        "sampling_params": {"regex": "(ab|cd)", "temperature": 1.0, "n": 3,
                            "max_new_tokens": 8}})
    assert r.status_code == 200, r.text
    outs = r.json()
    assert len(outs) == 3
    for out in outs:
        assert out["text"] in {"ab", "cd"}
        for logprob, token_id, _ in out["meta_info"]["output_token_logprobs"]:
            assert logprob is not None and logprob <= 0


def test_mixed_batch_gives_each_its_output_alone(server):
    reqs = [
        {"text": "One", "sampling_params": {"temperature": 0, "max_new_tokens": 12}},
        {"text": "Two", "sampling_params": {"temperature": 0, "max_new_tokens": 12,
                                            "regex": "[0-9]{2,8}"}},
        {"text": "Three", "sampling_params": {"temperature": 0, "max_new_tokens": 12,
                                              "json_schema": json.dumps(PERSON)}},
        {"text": "Four", "sampling_params": {"temperature": 0, "max_new_tokens": 12,
                                             "ebnf": 'root ::= "x"+'}},
    ]
    alone = [server.post("/generate", json=r).json()["text"] for r in reqs]
    with ThreadPoolExecutor(len(reqs) * 2) as pool:
        together = list(pool.map(lambda r: server.post("/generate", json=r).json()["text"],
                                 reqs * 2))
    assert together == alone * 2
    # A batched request body mixes them too.
    batch = server.post("/generate", json={
        "text": [r["text"] for r in reqs],
        "sampling_params": [r["sampling_params"] for r in reqs]}).json()
    assert [o["text"] for o in batch] == alone
    assert re.fullmatch("[0-9]{2,8}", alone[1])
    assert set(alone[3]) == {"x"}


@pytest.mark.parametrize("kind, value, needle", [
    ("regex", "[0-9", "character set"),
    ("regex", "(a", ")"),
    ("regex", "(?<=a)b", "lookbehind"),
    ("json_schema", "{not json", "JSON"),
    ("json_schema", json.dumps({"$ref": "#/$defs/missing"}), "missing"),
    ("ebnf", "root ::= undefined_rule", "undefined_rule"),
    ("ebnf", 'root ::= "a', "1:"),
    ("structural_tag", '{"structures": 3}', "structures"),
])
def test_invalid_constraint_is_a_400_naming_it(server, kind, value, needle):
    r = generate(server, "x", **{kind: value})
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    # SGLang's message (its key is the tuple's Python repr), then what is wrong.
    key = ("json" if kind == "json_schema" else kind, value)
    prefix = f"Invalid grammar request: req.grammar_key={key!r}: "
    assert message.startswith(prefix), message
    assert needle.lower() in message[len(prefix):].lower(), message
    # The failure is cached and answered the same; the server still serves.
    again = generate(server, "x", **{kind: value})
    assert again.status_code == 400 and again.json()["error"]["message"] == message
    assert generate(server, "x", max_new_tokens=2).status_code == 200


def test_two_constraints_are_refused_with_sglangs_message(server):
    r = generate(server, "x", regex="a", ebnf='root ::= "a"')
    assert r.status_code == 400
    assert "Only one of regex, json_schema, or ebnf can be set." in r.text


# ------------------------------------------------------------------------------------------------
# OpenAI routes


def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0, timeout=120)


def test_chat_response_format_json_schema(qwen_chat, closing_bias):
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    r = client(qwen_chat).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Reply in JSON"}], max_tokens=32,
        temperature=0, logit_bias=closing_bias,
        response_format={"type": "json_schema",
                         "json_schema": {"name": "answer", "schema": schema, "strict": True}})
    content = r.choices[0].message.content
    if r.choices[0].finish_reason == "stop":
        jsonschema.validate(json.loads(content), schema)
    else:
        assert content.lstrip().startswith("{")


def test_chat_response_format_json_object(qwen_chat, closing_bias):
    r = client(qwen_chat).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "JSON please"}], max_tokens=48,
        temperature=1.0, seed=3, logit_bias=closing_bias,
        response_format={"type": "json_object"})
    content = r.choices[0].message.content
    assert content.lstrip().startswith("{")
    if r.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(content), dict)


def test_completions_extra_body_regex(qwen_chat):
    r = client(qwen_chat).completions.create(
        model="m", prompt="Digits:", max_tokens=10, temperature=1.0,
        extra_body={"regex": "[0-9]{4}"})
    assert re.fullmatch("[0-9]{4}", r.choices[0].text), r.choices[0].text


def test_chat_extra_body_ebnf(qwen_chat):
    r = client(qwen_chat).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "?"}], max_tokens=10,
        extra_body={"ebnf": 'root ::= "A" | "B"'})
    assert r.choices[0].message.content in {"A", "B"}


def test_chat_invalid_schema_is_a_400(qwen_chat):
    with pytest.raises(openai.BadRequestError) as e:
        client(qwen_chat).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "?"}], max_tokens=4,
            extra_body={"regex": "(unclosed"})
    assert "Invalid grammar request" in str(e.value)


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string", "maxLength": 6}},
        "required": ["city"]}}}


@pytest.fixture(scope="module")
def tool_server(launch, model_path):
    return launch(model_path, "--tool-call-parser", "qwen25",
                  "--constrained-json-disable-any-whitespace")


@pytest.mark.parametrize("tool_choice", [
    "required", {"type": "function", "function": {"name": "get_weather"}}])
def test_tool_choice_constrains_the_output_to_calls(tool_server, closing_bias, tool_choice):
    for seed in range(3):
        r = client(tool_server).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[WEATHER], tool_choice=tool_choice, max_tokens=64, temperature=1.0, seed=seed,
            logit_bias=closing_bias)
        choice = r.choices[0]
        if choice.finish_reason == "length":
            continue
        assert choice.finish_reason == "tool_calls"
        assert choice.message.tool_calls, choice.message
        for call in choice.message.tool_calls:
            assert call.function.name == "get_weather"
            assert isinstance(json.loads(call.function.arguments)["city"], str)
        return
    pytest.fail("no seed finished its tool call within max_tokens")


def test_tool_choice_required_streaming(tool_server, closing_bias):
    stream = client(tool_server).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER],
        tool_choice="required", max_tokens=64, temperature=0, logit_bias=closing_bias,
        stream=True)
    calls, reasons = [], []
    for chunk in stream:
        for c in chunk.choices:
            if c.delta.tool_calls:
                calls += c.delta.tool_calls
            if c.finish_reason:
                reasons.append(c.finish_reason)
    if reasons == ["tool_calls"]:
        assert calls and calls[0].function.name == "get_weather"
        json.loads(calls[0].function.arguments)
    else:
        assert reasons == ["length"]


# ------------------------------------------------------------------------------------------------
# --grammar-backend


def test_grammar_backend_none_refuses_constraints(launch, model_path):
    s = launch(model_path, "--grammar-backend", "none")
    r = generate(s, "x", regex="[0-9]+")
    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        "Grammar-based generation (json_schema, regex, ebnf, structural_tag) is not supported "
        "when the server is launched with --grammar-backend none")
    assert s.get("/get_server_info").json()["grammar_backend"] == "none"


def test_grammar_backend_names_select_our_engine(launch, model_path):
    s = launch(model_path, "--grammar-backend", "outlines")
    r = generate(s, "x", regex="[0-9]{3}", temperature=1.0)
    assert r.status_code == 200
    assert re.fullmatch("[0-9]{3}", r.json()["text"])
    assert "own grammar engine" in s.logs()


def test_jump_forward_appends_forced_text_without_decode_steps(launch, model_path):
    s = launch(model_path, "--enable-jump-forward")
    grammar = ('root ::= "{\\"name\\": \\"" [a-z]{1,4} "\\", \\"kind\\": \\"a person or a '
               'thing\\"}"')
    outs = [generate(s, "Say:", ebnf=grammar, temperature=1.0, sampling_seed=i,
                     max_new_tokens=40).json() for i in range(3)]
    for out in outs:
        assert re.fullmatch(r'\{"name": "[a-z]{1,4}", "kind": "a person or a thing"\}',
                            out["text"]), out["text"]
        assert out["meta_info"]["finish_reason"]["type"] == "stop"
    state = s.get("/get_server_info").json()["internal_states"][0]
    # The forced tail (', "kind": "a person or a thing"}') is several tokens per request.
    assert state["num_jump_forward_tokens"] >= 3 * 5
    # Logprob requests decode every token (jumped tokens would have no logprobs).
    r = s.post("/generate", json={"text": "Say:", "return_logprob": True, "sampling_params": {
        "ebnf": grammar, "max_new_tokens": 40}}).json()
    assert len(r["meta_info"]["output_token_logprobs"]) == r["meta_info"]["completion_tokens"]
