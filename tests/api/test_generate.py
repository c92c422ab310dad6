"""POST /generate: SGLang's request fields, defaults, response keys, streaming and logprobs."""

import json

import pytest
import requests

from conftest import sse_events

META_KEYS = {"id", "finish_reason", "prompt_tokens", "weight_version", "total_retractions",
             "completion_tokens", "cached_tokens", "cached_tokens_details", "dp_rank",
             "e2e_latency", "response_sent_to_client_ts"}


def generate(server, **body):
    r = server.post("/generate", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_guide_example_default_sampling_params(server):
    # The guide's first request: text only, SGLang's defaults (max_new_tokens 128).
    out = generate(server, text="What is the capital of France?")
    assert set(out) == {"text", "output_ids", "meta_info"}
    meta = out["meta_info"]
    assert set(meta) == META_KEYS
    assert isinstance(meta["id"], str) and len(meta["id"]) == 32
    assert meta["prompt_tokens"] == 7  # the Qwen tokenizer's ids for the question
    assert meta["completion_tokens"] == len(out["output_ids"])
    assert meta["weight_version"] == "default"
    if meta["finish_reason"]["type"] == "length":
        assert meta["finish_reason"] == {"type": "length", "length": 128}
        assert meta["completion_tokens"] == 128
    assert isinstance(meta["e2e_latency"], float) and meta["e2e_latency"] > 0
    # The text is the decode of the output ids.
    r = server.post("/detokenize", json={"tokens": out["output_ids"]})
    assert r.json()["text"] == out["text"]


def test_input_ids_equal_text(server):
    ids = server.post("/tokenize", json={"prompt": "Paris is"}).json()["tokens"]
    a = generate(server, text="Paris is", sampling_params={"max_new_tokens": 6, "temperature": 0})
    b = generate(server, input_ids=ids, sampling_params={"max_new_tokens": 6, "temperature": 0})
    assert a["output_ids"] == b["output_ids"]
    assert b["meta_info"]["prompt_tokens"] == len(ids)


def test_batch_returns_a_list_in_order(server):
    prompts = ["one", "two two", "three three three"]
    params = {"max_new_tokens": 5, "temperature": 0}
    batch = generate(server, text=prompts, sampling_params=params)
    assert isinstance(batch, list) and len(batch) == 3
    for p, got in zip(prompts, batch):
        alone = generate(server, text=p, sampling_params=params)
        assert got["output_ids"] == alone["output_ids"]
        assert got["meta_info"]["prompt_tokens"] == alone["meta_info"]["prompt_tokens"]
    # Per-prompt sampling params and rids.
    batch = generate(server, input_ids=[[1, 2, 3], [4, 5]], rid=["a", "b"],
                     sampling_params=[{"max_new_tokens": 2}, {"max_new_tokens": 3}])
    assert [b["meta_info"]["id"] for b in batch] == ["a", "b"]
    assert [b["meta_info"]["completion_tokens"] for b in batch] == [2, 3]


def test_parallel_sampling_n(server):
    out = generate(server, text="The sky is", sampling_params={"n": 3, "max_new_tokens": 4,
                                                                 "temperature": 0})
    assert isinstance(out, list) and len(out) == 3
    assert len({o["meta_info"]["id"] for o in out}) == 3, "each sample gets its own id"
    assert out[0]["output_ids"] == out[1]["output_ids"] == out[2]["output_ids"]
    # The copies reuse the prompt the first one computed (all but its last token).
    prompt_tokens = out[0]["meta_info"]["prompt_tokens"]
    assert max(o["meta_info"]["cached_tokens"] for o in out) >= prompt_tokens - 1


def test_cached_tokens_for_a_repeated_prefix(server):
    server.post("/flush_cache")
    ids = list(range(1000, 1100))
    first = generate(server, input_ids=ids, sampling_params={"max_new_tokens": 1})
    assert first["meta_info"]["cached_tokens"] == 0
    second = generate(server, input_ids=ids[:80] + [7, 8, 9], sampling_params={"max_new_tokens": 1})
    assert second["meta_info"]["cached_tokens"] == 80


def test_stop_token_ids_and_stop_strings(server):
    params = {"max_new_tokens": 12, "temperature": 0.8, "sampling_seed": 11}
    base = generate(server, text="Once upon a time", sampling_params=params)
    ids = base["output_ids"]
    assert len(ids) == 12
    # A stop token: generation ends at its first occurrence; output_ids keep it, text does not.
    stop = ids[3]
    first = ids.index(stop)
    out = generate(server, text="Once upon a time", sampling_params={**params, "stop_token_ids": [stop]})
    assert out["meta_info"]["finish_reason"] == {"type": "stop", "matched": stop}
    assert out["output_ids"] == ids[: first + 1]
    text_without = server.post("/detokenize", json={"tokens": ids[:first]}).json()["text"]
    assert out["text"] == text_without
    # A stop string: the text ends right before it.
    text = base["text"]
    stop_str = next(text[i:i + 2] for i in range(2, len(text) - 1) if text[i:i + 2].strip())
    out = generate(server, text="Once upon a time", sampling_params={**params, "stop": stop_str})
    assert out["meta_info"]["finish_reason"] == {"type": "stop", "matched": stop_str}
    assert out["text"] == text[: text.find(stop_str)]
    # no_stop_trim keeps it.
    out = generate(server, text="Once upon a time",
                   sampling_params={**params, "stop": [stop_str], "no_stop_trim": True})
    assert stop_str in out["text"]


def test_ignore_eos_and_min_new_tokens(server):
    base = generate(server, input_ids=[5, 6, 7], sampling_params={"max_new_tokens": 4, "temperature": 0})
    first = base["output_ids"][0]
    stopped = generate(server, input_ids=[5, 6, 7],
                       sampling_params={"max_new_tokens": 4, "temperature": 0, "stop_token_ids": [first]})
    assert stopped["output_ids"] == [first]
    held = generate(server, input_ids=[5, 6, 7],
                    sampling_params={"max_new_tokens": 4, "temperature": 0, "stop_token_ids": [first],
                                     "min_new_tokens": 2})
    assert held["output_ids"][0] != first and len(held["output_ids"]) >= 2
    ignored = generate(server, input_ids=[5, 6, 7],
                       sampling_params={"max_new_tokens": 4, "temperature": 0,
                                        "stop_token_ids": [first], "ignore_eos": True})
    assert ignored["output_ids"] == base["output_ids"]


def test_seeded_sampling_repeats(server):
    params = {"max_new_tokens": 8, "temperature": 1.0, "sampling_seed": 5}
    a = generate(server, text="Random", sampling_params=params)
    b = generate(server, text="Random", sampling_params=params)
    c = generate(server, text="Random", sampling_params={**params, "sampling_seed": 6})
    assert a["output_ids"] == b["output_ids"]
    assert a["output_ids"] != c["output_ids"]


def test_logprobs(server):
    out = generate(server, text="Logprobs please", return_logprob=True, top_logprobs_num=3,
                   logprob_start_len=0, return_text_in_logprobs=True,
                   sampling_params={"max_new_tokens": 4, "temperature": 0})
    meta = out["meta_info"]
    n_prompt = meta["prompt_tokens"]
    assert len(meta["input_token_logprobs"]) == n_prompt
    assert meta["input_token_logprobs"][0][0] is None
    assert meta["input_top_logprobs"][0] is None
    assert len(meta["output_token_logprobs"]) == len(out["output_ids"])
    for i, (lp, tid, text) in enumerate(meta["output_token_logprobs"]):
        assert tid == out["output_ids"][i]
        assert isinstance(text, str)
        assert lp <= 0
        # Greedy: the chosen token is the most likely one.
        assert meta["output_top_logprobs"][i][0][:2] == [lp, tid]
        assert len(meta["output_top_logprobs"][i]) == 3
    # Without top_logprobs_num the top lists are absent; text is null without the flag.
    out = generate(server, text="Logprobs please", return_logprob=True,
                   sampling_params={"max_new_tokens": 2})
    assert "output_top_logprobs" not in out["meta_info"]
    assert out["meta_info"]["output_token_logprobs"][0][2] is None
    assert len(out["meta_info"]["input_token_logprobs"]) == 1


def test_stream_events_are_cumulative(server):
    body = {"text": "Count with me", "sampling_params": {"max_new_tokens": 6, "temperature": 0}}
    full = generate(server, **body)
    r = server.post("/generate", json={**body, "stream": True}, stream=True)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert len(chunks) >= 2
    for prev, cur in zip(chunks, chunks[1:]):
        assert cur["text"].startswith(prev["text"])
        assert cur["output_ids"][: len(prev["output_ids"])] == prev["output_ids"]
    assert all(c["meta_info"]["finish_reason"] is None for c in chunks[:-1])
    last = chunks[-1]
    assert last["meta_info"]["finish_reason"] == {"type": "length", "length": 6}
    assert last["text"] == full["text"]
    assert last["output_ids"] == full["output_ids"]
    assert "e2e_latency" in last["meta_info"] and "e2e_latency" not in chunks[0]["meta_info"]


def test_stream_batch_has_index(server):
    r = server.post("/generate", json={"text": ["a", "b"], "stream": True,
                                       "sampling_params": {"max_new_tokens": 3}}, stream=True)
    events = sse_events(r)
    assert events[-1] == "[DONE]"
    finals = {e["index"]: e for e in events[:-1] if e["meta_info"]["finish_reason"]}
    assert sorted(finals) == [0, 1]


def test_validation_errors_have_sglangs_messages(server):
    cases = [
        ({"top_p": 0}, "top_p must be in (0, 1], got 0.0."),
        ({"temperature": -1}, "temperature must be a non-negative finite number, got -1.0."),
        ({"top_k": 0}, "top_k must be -1 (disable) or at least 1, got 0."),
        ({"max_new_tokens": -2}, "max_new_tokens must be at least 0, got -2."),
        ({"min_p": 1.5}, "min_p must be in [0, 1], got 1.5."),
        ({"repetition_penalty": 3}, "repetition_penalty must be in (0, 2] (1.0 = no penalty), got 3.0."),
        ({"frequency_penalty": 2.5}, "frequency_penalty must be in [-2, 2], got 2.5."),
    ]
    for params, message in cases:
        r = server.post("/generate", json={"text": "x", "sampling_params": params})
        assert r.status_code == 400, params
        assert r.json() == {"error": {"message": message}}
    r = server.post("/generate", json={"sampling_params": {}})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "Either text, input_ids or input_embeds should be provided."
    r = server.post("/generate", json={"input_ids": [1, 2, 10**7]})
    assert r.status_code == 400 and "vocab size" in r.json()["error"]["message"]
    # A prompt longer than the context (the tiny model has 32768 positions).
    r = server.post("/generate", json={"input_ids": [5] * 33000})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        "The input (33000 tokens) is longer than the model's context length (32768 tokens).")
    r = server.post("/generate", json={"input_ids": [5] * 100, "sampling_params": {"max_new_tokens": 32700}})
    assert r.status_code == 400
    assert "You requested a total of 32800 tokens: 100 tokens from the input messages and 32700 " \
        "tokens for the completion." in r.json()["error"]["message"]
    # In a stream, errors arrive as an event of the 200 stream.
    r = server.post("/generate", json={"text": "x", "stream": True, "sampling_params": {"top_p": 0}},
                    stream=True)
    assert r.status_code == 200
    events = sse_events(r)
    assert events == [{"error": {"message": "top_p must be in (0, 1], got 0.0."}}, "[DONE]"]


def test_bad_json_and_unknown_fields(server):
    r = requests.post(server.url + "/generate", data="{not json", timeout=30)
    assert r.status_code == 400
    body = r.json()
    assert body["object"] == "error" and body["code"] == 400 and body["type"] == "Bad Request"
    # Unknown top-level fields are ignored, as SGLang's dataclass does.
    out = generate(server, text="hi", sampling_params={"max_new_tokens": 1}, not_a_field=3)
    assert out["meta_info"]["completion_tokens"] == 1
    # An unknown sampling parameter is an error naming it.
    r = server.post("/generate", json={"text": "hi", "sampling_params": {"max_tokens": 3}})
    assert r.status_code == 400 and "max_tokens" in r.json()["error"]["message"]
    r = server.post("/generate", json={"text": "hi", "sampling_params": {"max_new_tokens": "3"}})
    assert r.status_code == 400 and "max_new_tokens" in r.json()["error"]["message"]
