"""Production serving (issue 16): bounded admission, health that answers under load, prompt
shutdown with a full queue, typed errors for every field, API keys, /get_load.

Each test that loads the engine launches its own server with one running slot and a small queue,
so a single call fills it; the tiny random-weight model keeps every step short."""
from __future__ import annotations

import json
import signal
import threading
import time

import pytest
import requests

from conftest import Server

QUEUE = 8
LONG = {"max_new_tokens": 20000, "ignore_eos": True}


def busy_server(model_path, log_dir, *extra: str) -> Server:
    return Server(model_path, "--max-running-requests", "1", "--max-queued-requests", str(QUEUE),
                  *extra, log_dir=log_dir)


def fill(s: Server, result: dict) -> list[threading.Thread]:
    """Takes the running slot and fills the queue: one call of n = QUEUE copies (one of them
    starts running), then one more request; waits until QUEUE requests wait."""
    def run(key, n):
        result[key] = s.post("/generate", json={"text": "hi", "sampling_params": {**LONG, "n": n}},
                             timeout=120)

    threads = []
    for key, n in (("r", QUEUE), ("r1", 1)):
        threads.append(threading.Thread(target=run, args=(key, n)))
        threads[-1].start()
        deadline = time.time() + 30
        while s.get("/get_load").json()[0]["num_reqs"] < len(threads) - 1 + QUEUE:
            assert time.time() < deadline, "the queue did not fill"
            time.sleep(0.05)
    return threads


def answers(result: dict) -> list:
    assert result["r"].status_code == 200 and result["r1"].status_code == 200
    return result["r"].json() + [result["r1"].json()]


@pytest.fixture(scope="module")
def busy(model_path, tmp_path_factory):
    s = busy_server(model_path, tmp_path_factory.mktemp("busy"))
    yield s
    assert s.stop() == 0


def test_million_copies_answer_at_once_with_the_queue_error(server):
    r = server.post("/generate", json={"text": "hi", "sampling_params": {"n": 1000000,
                                                                          "max_new_tokens": 2}},
                    timeout=10)
    # SGLang's _abort_on_queued_limit: 503 "The request queue is full." (its HTTPException shape).
    assert r.status_code == 503, r.text
    assert r.json() == {"object": "error", "message": "The request queue is full.",
                        "type": "503", "param": None, "code": 503}
    # Nothing was queued: the server serves the next request as before.
    r = server.post("/generate", json={"text": "hi", "sampling_params": {"max_new_tokens": 2}})
    assert r.status_code == 200
    deadline = time.time() + 10  # the counters are published at the end of the step
    while server.get("/get_load").json()[0]["num_reqs"] != 0:
        assert time.time() < deadline
        time.sleep(0.05)


@pytest.mark.parametrize("n", [1e30, 18446744073709551615, 2**63])
def test_n_beyond_int64_saturates_into_the_queue_error(server, n):
    # Found by tests/fuzz: an integral float past int64 was an undefined conversion.
    r = server.post("/generate", json={"text": "hi", "sampling_params": {"n": n,
                                                                          "max_new_tokens": 1}})
    assert r.status_code == 503 and r.json()["message"] == "The request queue is full.", r.text


def test_max_new_tokens_beyond_int64_is_the_context_error(server):
    r = server.post("/generate", json={"text": "hi", "sampling_params": {"max_new_tokens": 1e30}})
    assert r.status_code == 400
    assert "maximum context length" in r.json()["error"]["message"], r.text


def test_openai_n_beyond_the_queue_is_refused_whole(server):
    r = server.post("/v1/completions", json={"model": "m", "prompt": "hi", "max_tokens": 1,
                                             "n": 1000000})
    assert r.status_code in (400, 503), r.text
    assert r.status_code < 500 or r.json()["message"] == "The request queue is full."


def test_full_queue_refuses_more_and_health_answers_at_once(busy):
    result = {}
    threads = fill(busy, result)
    try:
        r = busy.post("/generate", json={"text": "hi", "sampling_params": {"max_new_tokens": 1}})
        assert r.status_code == 503 and r.json()["message"] == "The request queue is full."
        # As SGLang's health_generate: a busy scheduler that makes progress is healthy, answered
        # from its progress and not by queueing a generation behind the others.
        for path in ("/health", "/health_generate"):
            t0 = time.monotonic()
            r = busy.get(path, timeout=10)
            elapsed = time.monotonic() - t0
            assert r.status_code == 200, path
            assert elapsed < 1.0, f"{path} took {elapsed:.2f} s with a full queue"
        load = busy.get("/get_load").json()
        assert load[0]["num_reqs"] == QUEUE + 1
        assert load[0]["num_waiting_reqs"] == QUEUE
        assert load[0]["num_tokens"] > 0
    finally:
        busy.post("/abort_request", json={"abort_all": True})
        for t in threads:
            t.join()
    assert [o["meta_info"]["finish_reason"]["type"] for o in answers(result)] == ["abort"] * (
        QUEUE + 1)
    # Every slot is free again: a request is admitted at once.
    r = busy.post("/generate", json={"text": "hi", "sampling_params": {"max_new_tokens": 1}})
    assert r.status_code == 200


def test_sigterm_with_a_full_queue_exits_zero_within_5_s(model_path, tmp_path):
    s = busy_server(model_path, tmp_path)
    result = {}
    threads = fill(s, result)
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    rc = s.proc.wait(timeout=30)
    elapsed = time.monotonic() - t0
    for t in threads:
        t.join()
    s.log.close()
    assert rc == 0
    assert elapsed < 5.0, f"SIGTERM took {elapsed:.2f} s"
    # The clients got their answers: every request aborted.
    assert all(o["meta_info"]["finish_reason"]["type"] == "abort" for o in answers(result))


# ------------------------------------------------------------------------------------------------
# Typed fields: a wrong type is a 400 that names the field, never a 500.

GENERATE_BASE = {"text": "hi", "sampling_params": {"max_new_tokens": 1}}
GENERATE_BAD = [
    ("stream", 0), ("stream", []), ("stream", "yes"), ("stream", {}),
    ("return_logprob", 1e30), ("return_logprob", 1), ("return_logprob", "true"),
    ("return_text_in_logprobs", 0), ("top_logprobs_num", "x"), ("top_logprobs_num", 1.5),
    ("logprob_start_len", []), ("logprob_start_len", "x"), ("token_ids_logprob", "x"),
    ("rid", 5), ("rid", {}), ("sampling_params", 5), ("sampling_params", "x"),
    ("sampling_params", []), ("text", 5), ("text", {}), ("text", [5]), ("input_ids", "x"),
    ("input_ids", [1.5]), ("input_ids", [["a"]]),
]


@pytest.mark.parametrize("field,value", GENERATE_BAD, ids=[f"{f}={v!r}" for f, v in GENERATE_BAD])
def test_generate_wrong_type_is_400_naming_the_field(server, field, value):
    body = {**GENERATE_BASE, field: value}
    if field == "input_ids":
        body.pop("text")
    r = server.post("/generate", json=body)
    assert r.status_code == 400, r.text
    assert field.split("_logprob")[0] in r.json()["error"]["message"], r.text


SAMPLING_BAD = [("max_new_tokens", "x"), ("max_new_tokens", 1.5), ("temperature", "x"),
                ("temperature", []), ("n", "x"), ("n", 0), ("top_k", "x"), ("stop", 5),
                ("ignore_eos", "x")]


@pytest.mark.parametrize("field,value", SAMPLING_BAD, ids=[f"{f}={v!r}" for f, v in SAMPLING_BAD])
def test_generate_sampling_param_of_wrong_type_is_400(server, field, value):
    r = server.post("/generate", json={"text": "hi", "sampling_params": {"max_new_tokens": 1,
                                                                          field: value}})
    assert r.status_code == 400, r.text
    assert field in r.json()["error"]["message"], r.text


@pytest.mark.parametrize("field", ["stream", "return_logprob", "top_logprobs_num",
                                   "logprob_start_len", "rid", "sampling_params"])
def test_generate_null_field_is_its_default(server, field):
    r = server.post("/generate", json={**GENERATE_BASE, field: None})
    assert r.status_code == 200, r.text


def test_streaming_request_with_a_bad_field_errors_in_the_stream(server):
    r = server.post("/generate", json={**GENERATE_BASE, "stream": True, "top_logprobs_num": "x"})
    assert r.status_code == 200
    assert "top_logprobs_num" in r.text


def test_custom_logit_processor_answers_sglangs_error(server):
    r = server.post("/generate", json={**GENERATE_BASE, "custom_logit_processor": "{}"})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        "The server is not configured to enable custom logit processor. Please set "
        "`--enable-custom-logit-processor` to enable this feature.")


# GenerateReqInput fields (SGLang's io_struct.py) this server does not honour: refused with a 400
# naming the field, never accepted and ignored; the metrics-only labels are accepted.
GENERATE_UNHONOURED = [
    ("input_embeds", [[0.1, 0.2]]), ("image_data", "http://x/a.png"), ("video_data", "v"),
    ("audio_data", "a"), ("modalities", ["image"]), ("lora_path", "adapter"), ("lora_id", "1"),
    ("session_params", {"id": "s"}), ("priority", 3), ("extra_key", "tenant"),
    ("background", True), ("return_bytes", True), ("return_entropy", True),
    ("bootstrap_host", "h"), ("bootstrap_port", 1), ("bootstrap_room", 2),
    ("bootstrap_pair_key", "k")]


@pytest.mark.parametrize("field,value", GENERATE_UNHONOURED,
                         ids=[f for f, _ in GENERATE_UNHONOURED])
def test_generate_field_not_honoured_is_refused(server, field, value):
    r = server.post("/generate", json={**GENERATE_BASE, field: value})
    assert r.status_code == 400, r.text
    assert field in r.json()["error"]["message"] and "not supported" in r.text


def test_generate_hidden_states_answer_sglangs_error(server):
    r = server.post("/generate", json={**GENERATE_BASE, "return_hidden_states": True})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        "The server is not configured to return the hidden states. Please set "
        "`--enable-return-hidden-states` to enable this feature.")


def test_generate_metrics_labels_and_defaults_are_accepted(server):
    r = server.post("/generate", json={
        **GENERATE_BASE, "log_metrics": False, "conversation_id": "c", "no_logs": True,
        "custom_labels": {"team": "a"}, "validation_time": 0.5, "return_hidden_states": False,
        "lora_path": None, "priority": None, "background": False, "data_parallel_rank": 0})
    assert r.status_code == 200, r.text
    assert r.json()["meta_info"]["finish_reason"]


COMPLETIONS_BASE = {"model": "m", "prompt": "hi", "max_tokens": 1}
CHAT_BASE = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1,
             "max_completion_tokens": 1}
OPENAI_BAD = [
    ("/v1/completions", COMPLETIONS_BASE, f, v) for f, v in [
        ("stream", []), ("stream", {}), ("max_tokens", "x"), ("max_tokens", 1.5),
        ("temperature", "x"), ("temperature", []), ("n", "x"), ("logprobs", "x"),
        ("echo", []), ("stop", 5), ("seed", "x"), ("top_p", {}), ("prompt", 5),
        ("prompt", {}), ("frequency_penalty", "x")]
] + [
    ("/v1/chat/completions", CHAT_BASE, f, v) for f, v in [
        ("stream", []), ("max_tokens", "x"), ("max_completion_tokens", 1.5),
        ("temperature", "x"), ("n", "x"), ("logprobs", []), ("top_logprobs", "x"),
        ("stop", 5), ("seed", "x"), ("messages", 5), ("messages", "x"), ("tools", 5),
        ("presence_penalty", [])]
]


@pytest.mark.parametrize("path,base,field,value", OPENAI_BAD,
                         ids=[f"{p}:{f}={v!r}" for p, _, f, v in OPENAI_BAD])
def test_openai_wrong_type_is_400_naming_the_field(server, path, base, field, value):
    r = server.post(path, json={**base, field: value})
    assert r.status_code == 400, r.text
    assert field in r.json()["message"], r.text


# CompletionRequest / ChatCompletionRequest's SGLang extensions (protocol.py) this server does not
# honour: refused as /generate refuses them (one list, refuse_sglang_extensions).
OPENAI_UNHONOURED = [
    ("lora_path", "adapter"), ("session_params", {"id": "s"}), ("priority", 3),
    ("extra_key", "tenant"), ("cache_salt", "salt"), ("return_hidden_states", "last"),
    ("bootstrap_host", "h"), ("bootstrap_port", 1), ("bootstrap_room", 2)]


@pytest.mark.parametrize("path,base", [("/v1/completions", COMPLETIONS_BASE),
                                       ("/v1/chat/completions", CHAT_BASE)])
@pytest.mark.parametrize("field,value", OPENAI_UNHONOURED, ids=[f for f, _ in OPENAI_UNHONOURED])
def test_openai_field_not_honoured_is_refused(server, path, base, field, value):
    r = server.post(path, json={**base, field: value})
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith(f"{field} is not supported yet"), r.text


@pytest.mark.parametrize("path,base", [("/v1/completions", COMPLETIONS_BASE),
                                       ("/v1/chat/completions", CHAT_BASE)])
def test_openai_hidden_states_and_logit_processor_answer_sglangs_errors(server, path, base):
    # SGLang's OpenAI routes pass both to GenerateReqInput: TokenizerManager's ValueError, a 400.
    r = server.post(path, json={**base, "return_hidden_states": True})
    assert r.status_code == 400, r.text
    assert r.json()["message"] == (
        "The server is not configured to return the hidden states. Please set "
        "`--enable-return-hidden-states` to enable this feature.")
    r = server.post(path, json={**base, "custom_logit_processor": "{}"})
    assert r.status_code == 400, r.text
    assert r.json()["message"] == (
        "The server is not configured to enable custom logit processor. Please set "
        "`--enable-custom-logit-processor` to enable this feature.")


def test_priority_is_refused_alike_on_every_route(server):
    bodies = {"/generate": GENERATE_BASE, "/v1/completions": COMPLETIONS_BASE,
              "/v1/chat/completions": CHAT_BASE, "/v1/embeddings": {"model": "m", "input": "a"},
              "/v1/responses": {"model": "m", "input": "hi", "max_output_tokens": 1}}
    for path, base in bodies.items():
        r = server.post(path, json={**base, "priority": 3})
        assert r.status_code == 400, (path, r.text)
        assert "priority is not supported yet (priority scheduling)." in r.text, (path, r.text)


LENGTH_FIELDS = {"max_tokens", "max_output_tokens", "max_completion_tokens"}
HOSTILE = [None, 0, -1, 1e30, True, "x", [], {}, [[]], [{}], [None], {"a": None}]
ROUTES = {
    "/generate": GENERATE_BASE,
    "/v1/completions": COMPLETIONS_BASE,
    "/v1/chat/completions": CHAT_BASE,
    "/v1/responses": {"model": "m", "input": "hi", "max_output_tokens": 1},
    "/v1/score": {"query": "a", "items": ["b"], "label_token_ids": [1]},
    "/tokenize": {"prompt": "hi"},
    "/detokenize": {"tokens": [1, 2]},
    "/abort_request": {"rid": "none"},
    "/parse_function_call": {"text": "hi", "tool_call_parser": "qwen25", "tools": []},
    "/separate_reasoning": {"text": "hi", "reasoning_parser": "qwen3"},
    "/encode": {"text": "hi"},
    "/v1/embeddings": {"model": "m", "input": "hi"},
}


@pytest.mark.parametrize("path", list(ROUTES))
def test_no_route_answers_5xx_for_hostile_fields(server, path):
    base = ROUTES[path]
    session = requests.Session()
    fields = set(base) | {"stream", "n", "rid", "sampling_params", "max_tokens", "return_logprob",
                          "logprobs", "top_logprobs_num", "input_ids", "tools", "stop", "items",
                          "add_special_tokens", "skip_special_tokens", "abort_all"}
    failures = []
    for field in sorted(fields):
        for value in HOSTILE:
            if field in LENGTH_FIELDS and value is None:
                continue  # no limit: the tiny model would generate up to its context length
            body = {**base, field: value}
            if path == "/generate" and field == "sampling_params" and isinstance(value, dict):
                body[field] = {**value, "max_new_tokens": 1}
            r = session.post(server.url + path, json=body, timeout=60,
                             headers={"content-type": "application/json"})
            if r.status_code >= 500:
                failures.append(f"{field}={value!r}: {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


@pytest.mark.parametrize("path", list(ROUTES))
def test_json_nested_past_the_bound_is_400_not_a_crash(server, path):
    # 100k nested arrays once overflowed the stack of a recursive consumer (the chat template's
    # values, the schema compiler) and killed the server. Bodies nest at most 512 levels
    # (util/json_nesting.h; Python's json stops near 1000).
    body = json.dumps(ROUTES[path])[:-1] + ', "deep": ' + nested(100000) + "}"
    r = server.post(path, data=body, headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 400, (path, r.status_code, r.text[:200])
    assert "nest deeper than 512 levels" in r.text, r.text[:200]


def test_json_nesting_at_the_bound_is_served(server):
    # 508 levels, most in a tool's schema: rendered by the chat template (tojson) and answered.
    tool = {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"enum": [json.loads(nested(500))]}}}}}
    body = {**CHAT_BASE, "tools": [tool]}
    assert len(json.dumps(body)) > 1000
    r = server.post("/v1/chat/completions", json=body, timeout=60)
    assert r.status_code == 200, r.text[:300]


def test_deep_json_inside_strings_is_refused_or_kept_as_text(server):
    # A JSON schema in a string (not the body's own nesting) is the grammar's error ...
    r = server.post("/generate", json={**GENERATE_BASE, "sampling_params": {
        "max_new_tokens": 1, "json_schema": '{"enum": ' + nested(100000) + "}"}}, timeout=60)
    assert r.status_code == 400 and "nested too deeply" in r.text, r.text[:300]
    # ... and tool-call arguments too deep to read stay the string they were sent as.
    messages = [{"role": "user", "content": "hi"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "c1", "type": "function",
                     "function": {"name": "f", "arguments": nested(600)}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "ok"}]
    r = server.post("/v1/chat/completions", json={**CHAT_BASE, "messages": messages,
                                                  "tools": [TOOL]}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    assert server.get("/health").status_code == 200


# ------------------------------------------------------------------------------------------------
# API keys, as SGLang's auth middleware.

@pytest.fixture(scope="module")
def keyed(model_path, tmp_path_factory):
    s = Server(model_path, "--api-key", "user-key", "--admin-api-key", "admin-key",
               "--enable-metrics", log_dir=tmp_path_factory.mktemp("keyed"))
    yield s
    assert s.stop() == 0


def test_api_key_guards_every_route_but_health_and_metrics(keyed):
    for path in ("/health", "/health_generate", "/metrics"):
        assert keyed.get(path).status_code == 200, path
    for method, path in (("GET", "/model_info"), ("GET", "/get_load"), ("GET", "/v1/models"),
                         ("POST", "/generate"), ("POST", "/v1/chat/completions"),
                         ("GET", "/server_info"), ("POST", "/tokenize")):
        r = requests.request(method, keyed.url + path, json=GENERATE_BASE, timeout=60)
        assert r.status_code == 401, path
        assert r.json() == {"error": "Unauthorized"}
        r = requests.request(method, keyed.url + path, json=GENERATE_BASE, timeout=60,
                             headers={"Authorization": "Bearer wrong-key"})
        assert r.status_code == 401, path
    r = keyed.post("/generate", json=GENERATE_BASE, headers={"Authorization": "Bearer user-key"})
    assert r.status_code == 200
    # As SGLang: the scheme in any case, or an x-api-key header.
    r = keyed.post("/generate", json=GENERATE_BASE, headers={"Authorization": "bearer user-key"})
    assert r.status_code == 200
    r = keyed.post("/generate", json=GENERATE_BASE, headers={"x-api-key": "user-key"})
    assert r.status_code == 200
    # A key that is a prefix or an extension of the real one is no key.
    for key in ("user-ke", "user-key2", ""):
        r = keyed.post("/generate", json=GENERATE_BASE, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 401, key


def test_admin_api_key_guards_admin_routes(keyed):
    # With an admin key set, the admin routes take only it (SGLang's ADMIN_OPTIONAL).
    r = keyed.post("/flush_cache", headers={"Authorization": "Bearer user-key"})
    assert r.status_code == 401
    r = keyed.post("/flush_cache", headers={"Authorization": "Bearer admin-key"})
    assert r.status_code == 200
    # ... and the admin key alone does not open ordinary routes.
    r = keyed.post("/generate", json=GENERATE_BASE, headers={"Authorization": "Bearer admin-key"})
    assert r.status_code == 401


def test_get_load_has_sglangs_shape(server):
    load = server.get("/get_load").json()
    assert isinstance(load, list) and len(load) == 1
    assert set(load[0]) == {"dp_rank", "num_reqs", "num_waiting_reqs", "num_tokens"}
    assert load[0]["num_tokens"] >= 0


def test_oversized_headers_are_refused(server):
    r = requests.get(server.url + "/model_info", headers={"x-big": "a" * (70 << 10)}, timeout=10)
    assert r.status_code == 431


def test_enable_custom_logit_processor_is_refused_at_start(model_path, tmp_path):
    with pytest.raises(RuntimeError, match="Python processors cannot run in this server"):
        Server(model_path, "--enable-custom-logit-processor", log_dir=tmp_path)
