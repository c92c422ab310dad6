"""SGLang's native-API features beyond plain generation: --incremental-streaming-output,
token_ids_logprob (input_/output_token_ids_logprobs) and POST /v1/score."""

import json
import math
from pathlib import Path

import pytest

from conftest import sse_events

PROMPT = "The quick brown fox jumps over"


def generate(server, **body):
    r = server.post("/generate", json=body)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def incremental(model_path, launch):
    return launch(model_path, "--incremental-streaming-output")


# ---------------------------------------------------------------------------------------------
# --incremental-streaming-output


def stream(server, body):
    r = server.post("/generate", json={**body, "stream": True}, stream=True)
    assert r.status_code == 200
    events = sse_events(r)
    assert events[-1] == "[DONE]"
    return events[:-1]


def test_incremental_chunks_concatenate_to_the_full_answer(server, incremental):
    body = {"text": PROMPT, "return_logprob": True, "top_logprobs_num": 2,
            "sampling_params": {"max_new_tokens": 12, "temperature": 0, "ignore_eos": True}}
    full = generate(server, **body)
    chunks = stream(incremental, body)
    assert len(chunks) >= 2
    assert "".join(c["text"] for c in chunks) == full["text"]
    ids = [t for c in chunks for t in c["output_ids"]]
    assert ids == full["output_ids"]
    # Each chunk's output-side logprob lists hold that chunk's positions only.
    for c in chunks:
        meta = c["meta_info"]
        assert len(meta["output_token_logprobs"]) == len(c["output_ids"])
        assert len(meta["output_top_logprobs"]) == len(c["output_ids"])
        assert [e[1] for e in meta["output_token_logprobs"]] == c["output_ids"]
        # The input side and the counters stay whole.
        assert meta["input_token_logprobs"] == full["meta_info"]["input_token_logprobs"]
    joined = [e for c in chunks for e in c["meta_info"]["output_token_logprobs"]]
    assert [e[1] for e in joined] == [e[1] for e in full["meta_info"]["output_token_logprobs"]]
    for got, want in zip(joined, full["meta_info"]["output_token_logprobs"]):
        assert got[0] == pytest.approx(want[0], abs=1e-4)
    last = chunks[-1]["meta_info"]
    assert last["completion_tokens"] == 12
    assert last["finish_reason"] == {"type": "length", "length": 12}


def test_incremental_flag_leaves_non_streaming_answers_whole(server, incremental):
    body = {"text": PROMPT, "sampling_params": {"max_new_tokens": 6, "temperature": 0}}
    assert generate(incremental, **body)["output_ids"] == generate(server, **body)["output_ids"]
    # And the default server streams cumulative chunks.
    chunks = stream(server, body)
    assert chunks[-1]["output_ids"] == generate(server, **body)["output_ids"]


def test_incremental_batch_chunks_carry_their_index(incremental, server):
    body = {"text": [PROMPT, "Hello there"],
            "sampling_params": {"max_new_tokens": 5, "temperature": 0, "ignore_eos": True}}
    full = generate(server, **body)
    chunks = stream(incremental, body)
    for i in range(2):
        mine = [c for c in chunks if c["index"] == i]
        assert "".join(c["text"] for c in mine) == full[i]["text"]
        assert [t for c in mine for t in c["output_ids"]] == full[i]["output_ids"]


# ---------------------------------------------------------------------------------------------
# token_ids_logprob


def test_token_ids_logprobs_equal_the_top_logprobs_of_those_ids(server):
    base = {"text": PROMPT, "return_logprob": True, "top_logprobs_num": 5,
            "logprob_start_len": 0,
            "sampling_params": {"max_new_tokens": 4, "temperature": 0}}
    first = generate(server, **base)
    asked = [first["output_ids"][0], first["meta_info"]["output_top_logprobs"][0][1][1], 11]
    out = generate(server, **base, token_ids_logprob=asked)
    meta = out["meta_info"]
    assert out["output_ids"] == first["output_ids"]
    n_prompt = meta["prompt_tokens"]
    assert len(meta["input_token_ids_logprobs"]) == n_prompt
    assert meta["input_token_ids_logprobs"][0] is None  # the first token has no logits
    assert len(meta["output_token_ids_logprobs"]) == len(out["output_ids"])
    matched = 0
    for top_list, ids_list in ((meta["input_top_logprobs"], meta["input_token_ids_logprobs"]),
                               (meta["output_top_logprobs"], meta["output_token_ids_logprobs"])):
        for top, entry in zip(top_list, ids_list):
            if entry is None:
                assert top is None
                continue
            assert [e[1] for e in entry] == asked
            assert all(e[2] is None for e in entry)  # no return_text_in_logprobs
            by_id = {e[1]: e[0] for e in top}
            for lp, tid, _ in entry:
                assert lp <= 0
                if tid in by_id:
                    assert lp == by_id[tid]
                    matched += 1
    assert matched >= 2
    # The sampled token's own logprob is its output_token_logprobs value.
    assert meta["output_token_ids_logprobs"][0][0][0] == meta["output_token_logprobs"][0][0]


def test_token_ids_logprob_shapes(server):
    params = {"max_new_tokens": 2, "temperature": 0}
    # One id, default logprob_start_len: one input position (the last prompt token).
    out = generate(server, text=PROMPT, return_logprob=True, token_ids_logprob=[42],
                   return_text_in_logprobs=True, sampling_params=params)
    meta = out["meta_info"]
    assert len(meta["input_token_ids_logprobs"]) == 1
    assert len(meta["output_token_ids_logprobs"]) == 2
    lp, tid, text = meta["output_token_ids_logprobs"][0][0]
    assert tid == 42 and isinstance(text, str)
    assert list(meta).index("output_token_ids_logprobs") > list(meta).index("output_token_logprobs")
    # Without return_logprob, or with an empty list, nothing is reported.
    out = generate(server, text=PROMPT, token_ids_logprob=[42], sampling_params=params)
    assert "output_token_ids_logprobs" not in out["meta_info"]
    out = generate(server, text=PROMPT, return_logprob=True, token_ids_logprob=[],
                   sampling_params=params)
    assert "output_token_ids_logprobs" not in out["meta_info"]
    # Per prompt in a batch.
    out = generate(server, text=[PROMPT, "Hi"], return_logprob=True,
                   token_ids_logprob=[[1, 2], [3]], sampling_params=params)
    assert [e[1] for e in out[0]["meta_info"]["output_token_ids_logprobs"][0]] == [1, 2]
    assert [e[1] for e in out[1]["meta_info"]["output_token_ids_logprobs"][0]] == [3]
    # A bad id is refused.
    r = server.post("/generate", json={"text": PROMPT, "return_logprob": True,
                                       "token_ids_logprob": [10**9], "sampling_params": params})
    assert r.status_code == 400
    assert "token_ids_logprob" in r.json()["error"]["message"]


# ---------------------------------------------------------------------------------------------
# POST /v1/score


def label_logprobs(server, input_ids, labels):
    out = generate(server, input_ids=input_ids, return_logprob=True, token_ids_logprob=labels,
                   sampling_params={"max_new_tokens": 1, "temperature": 0})
    return {e[1]: e[0] for e in out["meta_info"]["output_token_ids_logprobs"][0]}


def test_score_is_exp_of_the_generate_logprobs(server):
    labels = [9454, 2753, 100]
    query, items = [785, 3974], [[13876, 38835], [1008], [21, 22, 23]]
    r = server.post("/v1/score", json={"query": query, "items": items, "label_token_ids": labels})
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["scores", "model", "usage", "object"]
    assert body["object"] == "scoring" and body["model"] == "default"
    assert body["usage"]["prompt_tokens"] == sum(len(query) + len(i) for i in items)
    assert len(body["scores"]) == len(items)
    for item, scores in zip(items, body["scores"]):
        lp = label_logprobs(server, query + item, labels)
        assert scores == pytest.approx([math.exp(lp[t]) for t in labels], rel=1e-5)
    # item_first puts the item before the query.
    r = server.post("/v1/score", json={"query": query, "items": items[:1], "item_first": True,
                                       "label_token_ids": labels, "model": "m"})
    lp = label_logprobs(server, items[0] + query, labels)
    assert r.json()["scores"][0] == pytest.approx([math.exp(lp[t]) for t in labels], rel=1e-5)
    assert r.json()["model"] == "m"


def test_score_softmax_sums_to_one_and_text_inputs(server):
    labels = [9454, 2753]
    body = {"query": "Is the sky blue? Answer:", "items": [" Yes", " No"],
            "label_token_ids": labels, "apply_softmax": True}
    r = server.post("/v1/score", json=body)
    assert r.status_code == 200, r.text
    scores = r.json()["scores"]
    assert len(scores) == 2
    for s in scores:
        assert sum(s) == pytest.approx(1.0, abs=1e-6)
    # The text pair is joined, then tokenized as one prompt.
    ids = server.post("/tokenize", json={"prompt": body["query"] + body["items"][0]}).json()
    ids = ids.get("tokens", ids.get("input_ids"))
    lp = label_logprobs(server, ids, labels)
    m = max(lp.values())
    z = sum(math.exp(v - m) for v in lp.values())
    assert scores[0] == pytest.approx([math.exp(lp[t] - m) / z for t in labels], rel=1e-4)


def test_score_errors(server, model_path):
    def post(body):
        return server.post("/v1/score", json=body)

    # SGLang checks against transformers' tokenizer.vocab_size: the vocabulary without the added
    # tokens, so <|im_end|> (an added token) is refused too.
    tok = json.loads((Path(model_path) / "tokenizer.json").read_text())
    base = len(tok["model"]["vocab"])
    im_end = next(t["id"] for t in tok["added_tokens"] if t["content"] == "<|im_end|>")
    for bad in (10**7, im_end):
        r = post({"query": "q", "items": ["a"], "label_token_ids": [1, bad]})
        assert r.status_code == 400
        err = r.json()
        assert err == {"object": "error",
                       "message": f"Token ID {bad} is out of vocabulary (vocab size: {base})",
                       "type": "BadRequestError", "param": None, "code": 400}
    assert post({"query": "q", "items": ["a"], "label_token_ids": [base - 1]}).status_code == 200
    r = post({"query": "q", "items": ["a"]})
    assert (r.status_code, r.json()["message"]) == (400, "label_token_ids must be provided")
    r = post({"query": "q", "label_token_ids": [1]})
    assert (r.status_code, r.json()["message"]) == (400, "items must be provided")
    r = post({"query": [1, 2], "items": ["a"], "label_token_ids": [1]})
    assert r.status_code == 400
    assert r.json()["message"] == "Invalid combination of query/items types for score_request."
    r = post({"query": "q", "items": [], "label_token_ids": [1]})
    assert r.status_code == 200 and r.json()["scores"] == []
    r = post({"query": "q", "items": ["a"], "label_token_ids": "x"})
    assert r.status_code == 400 and r.json()["type"] == "Bad Request"
    r = server.get("/v1/score")
    assert r.status_code == 405


def test_ids_past_int32_are_refused_not_wrapped(server):
    # 2**32 + 5 must not become token 5.
    r = server.post("/generate", json={"text": PROMPT, "return_logprob": True,
                                       "token_ids_logprob": [2**32 + 5],
                                       "sampling_params": {"max_new_tokens": 1}})
    assert r.status_code == 400
    r = server.post("/v1/score", json={"query": [1], "items": [[2**32 + 5]],
                                       "label_token_ids": [1]})
    assert r.status_code == 400
