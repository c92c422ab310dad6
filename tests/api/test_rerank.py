"""/v1/rerank with a cross-encoder, as the guide launches and calls it (BAAI/bge-reranker-v2-m3 there;
here a tiny random XLMRobertaForSequenceClassification with a real XLM-R-format Unigram tokenizer, and
a tiny BertForSequenceClassification whose pairs carry token_type_ids 0/1). Scores are checked
against Hugging Face transformers' logits for the same pairs (tests/golden/data/rerank.safetensors,
made by tools/make_golden.py): SGLang's CrossEncodingPooler returns the raw logit for bge-reranker
(identity activation) and the configured sentence-transformers activation otherwise."""

import json
import math
import shutil
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
import requests

from conftest import ROOT, make_model

GUIDE_FLAGS = ("--host", "0.0.0.0", "--disable-radix-cache", "--chunked-prefill-size", "-1",
               "--attention-backend", "triton", "--is-embedding", "--log-level", "warning")
GUIDE_DOCS = [
    "hi",
    "The giant panda (Ailuropoda melanoleuca), sometimes called a panda bear or simply panda, is a "
    "bear species endemic to China.",
]
ITEM_KEYS = ["score", "document", "index", "meta_info"]


def read_safetensors(path: Path):
    """(tensors by name, metadata) of a safetensors file, without the safetensors package."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    dtypes = {"I32": np.int32, "F32": np.float32}
    out = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=dtypes[t["dtype"]]).reshape(t["shape"])
    return out, meta


@pytest.fixture(scope="module")
def golden():
    tensors, meta = read_safetensors(ROOT / "tests" / "golden" / "data" / "rerank.safetensors")
    pairs = json.loads(meta["pairs"])

    def of(model: str):
        return [{"query": q, "document": d,
                 "input_ids": tensors[f"{model}.pair{i}.input_ids"].tolist(),
                 "logit": float(tensors[f"{model}.pair{i}.logits"][0])}
                for i, (q, d) in enumerate(pairs)]
    return of


@pytest.fixture(scope="module")
def xlmr_path(models_root):
    return str(make_model(models_root / "tiny-xlm-roberta-reranker", arch="xlm-roberta-reranker",
                          seed=5, tokenizer="xlmr-format-unigram-en"))


@pytest.fixture(scope="module")
def reranker(xlmr_path, launch):
    return launch(xlmr_path, *GUIDE_FLAGS)


def by_query(pairs):
    queries = {}
    for p in pairs:
        queries.setdefault(p["query"], []).append(p)
    return queries


def test_guide_request(reranker, golden):
    url_path = "/v1/rerank"
    data = {"model": "BAAI/bge-reranker-v2-m3", "query": "what is panda?", "documents": GUIDE_DOCS}
    r = reranker.post(url_path, json=data)
    assert r.status_code == 200, r.text
    response_json = r.json()
    assert isinstance(response_json, list) and len(response_json) == 2
    for item in response_json:
        print(f"Score: {item['score']:.2f} - Document: '{item['document']}'")
        assert list(item) == ITEM_KEYS
        assert isinstance(item["score"], float) and math.isfinite(item["score"])
        assert isinstance(item["index"], int)
        assert item["document"] == GUIDE_DOCS[item["index"]]
        meta = item["meta_info"]
        assert list(meta) == ["id", "finish_reason", "prompt_tokens", "weight_version",
                              "cached_tokens", "e2e_latency"]
        assert meta["cached_tokens"] == 0
    assert sorted(i["index"] for i in response_json) == [0, 1]
    assert response_json[0]["score"] >= response_json[1]["score"], "highest score first"
    # Each score is the model's logit for that [query, document] pair, as transformers computes it.
    ref = {p["document"]: p for p in golden("tiny-xlm-roberta-reranker")
           if p["query"] == "what is panda?"}
    for item in response_json:
        expected = ref[item["document"]]
        assert math.isclose(item["score"], expected["logit"], abs_tol=1e-4), (item, expected)
        assert item["meta_info"]["prompt_tokens"] == len(expected["input_ids"])


def test_every_pair_scores_as_transformers_and_sorts(reranker, golden):
    for query, pairs in by_query(golden("tiny-xlm-roberta-reranker")).items():
        docs = [p["document"] for p in pairs]
        r = reranker.post("/v1/rerank", json={"query": query, "documents": docs})
        assert r.status_code == 200, r.text
        items = r.json()
        assert [i["index"] for i in items] == sorted(range(len(docs)),
                                                     key=lambda i: -pairs[i]["logit"])
        scores = [i["score"] for i in items]
        assert scores == sorted(scores, reverse=True)
        for item in items:
            p = pairs[item["index"]]
            assert item["document"] == p["document"]
            assert math.isclose(item["score"], p["logit"], abs_tol=1e-4)
            assert item["meta_info"]["prompt_tokens"] == len(p["input_ids"])
        assert len({i["meta_info"]["id"] for i in items}) == len(docs), "one request per document"


def test_top_n_and_return_documents(reranker, golden):
    pairs = by_query(golden("tiny-xlm-roberta-reranker"))["what is panda?"]
    docs = [p["document"] for p in pairs]
    full = reranker.post("/v1/rerank", json={"query": "what is panda?", "documents": docs}).json()
    top = reranker.post("/v1/rerank", json={"query": "what is panda?", "documents": docs,
                                            "top_n": 2}).json()
    assert [i["index"] for i in top] == [i["index"] for i in full[:2]]
    more = reranker.post("/v1/rerank", json={"query": "what is panda?", "documents": docs,
                                             "top_n": 99}).json()
    assert [i["index"] for i in more] == [i["index"] for i in full]
    bare = reranker.post("/v1/rerank", json={"query": "what is panda?", "documents": docs,
                                             "return_documents": False}).json()
    assert [list(i) for i in bare] == [["score", "index", "meta_info"]] * len(docs)
    # The same scores (up to float rounding: batches of other sizes block the matmuls differently).
    assert [i["index"] for i in bare] == [i["index"] for i in full]
    assert all(math.isclose(a["score"], b["score"], abs_tol=1e-5) for a, b in zip(bare, full))


@pytest.mark.parametrize("body,status,message", [
    ({"documents": ["a"]}, 400, "Field required: query"),
    ({"query": "q"}, 400, "Field required: documents"),
    ({"query": 3, "documents": ["a"]}, 400, "Input should be a valid string: query"),
    ({"query": "q", "documents": "a"}, 400, "Input should be a valid list: documents"),
    ({"query": "q", "documents": ["a", 1]}, 400, "Input should be a valid string: documents.1"),
    ({"query": "q", "documents": ["a"], "top_n": 0}, 400,
     "Value error, parameter top_n should be larger than 0."),
    ({"query": "", "documents": ["a"]}, 400, "Query cannot be empty"),
    ({"query": " \t\u3000", "documents": ["a"]}, 400, "Query cannot be empty or whitespace only"),
    ({"query": "q", "documents": []}, 400, "Documents cannot be empty"),
    ({"query": "q", "documents": ["a", ""]}, 400, "Each document must be a non-empty string"),
    ({"query": "q", "documents": ["a", "\n "]}, 400,
     "Each document cannot be empty or whitespace only"),
])
def test_bad_requests(reranker, body, status, message):
    r = reranker.post("/v1/rerank", json=body)
    assert r.status_code == status, r.text
    assert r.json()["message"] == message
    assert r.json()["code"] == status


def test_bad_transport_and_too_long_input(reranker):
    assert reranker.post("/v1/rerank", data="{", headers={"Content-Type": "application/json"}
                         ).status_code == 400
    r = reranker.post("/v1/rerank", data=json.dumps({"query": "q", "documents": ["a"]}),
                      headers={"Content-Type": "text/plain"})
    assert r.status_code == 400 and "Unsupported Media Type" in r.json()["message"]
    assert reranker.get("/v1/rerank").status_code == 405
    # PUT is a route too, as SGLang's api_route(methods=["POST", "PUT"]).
    put = requests.put(reranker.url + "/v1/rerank", json={"query": "q", "documents": ["a"]},
                       timeout=60)
    assert put.status_code == 200, put.text
    # A pair longer than the context length (max_position_embeddings, 514) is refused up front.
    long_doc = " ".join(["panda"] * 600)
    r = reranker.post("/v1/rerank", json={"query": "q", "documents": ["short", long_doc]})
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "BadRequestError"
    assert r.json()["message"].startswith("The input (") and "context length (514 tokens)" in \
        r.json()["message"]
    # XLM-R positions start at pad_token_id + 1 = 2: 512 of the 514 position embeddings are usable,
    # so 513 tokens, within the context length, are refused too rather than indexing past the table.
    r = reranker.post("/encode", json={"input_ids": [0] + [100] * 511 + [2]})
    assert r.status_code == 400 and "512 position embeddings" in r.json()["error"]["message"]
    assert reranker.post("/encode", json={"input_ids": [0] + [100] * 510 + [2]}).status_code == 200
    # The server still serves.
    assert reranker.post("/v1/rerank", json={"query": "q", "documents": ["a"]}).status_code == 200


def test_encode_classify_and_model_info_on_a_cross_encoder(reranker, golden):
    pairs = golden("tiny-xlm-roberta-reranker")
    # /classify with the pair's ids gives the same score (XLM-R's segments are all 0); SGLang's
    # cross-encoder pooler squeezes the one label, so "embedding" is a number, not a list.
    r = reranker.post("/classify", json={"input_ids": pairs[1]["input_ids"]})
    assert r.status_code == 200, r.text
    emb = r.json()["embedding"]
    assert isinstance(emb, float)
    assert math.isclose(emb, pairs[1]["logit"], abs_tol=1e-4)
    batch = reranker.post("/encode", json={"input_ids": [p["input_ids"] for p in pairs[:3]]}).json()
    assert [round(b["embedding"], 4) for b in batch] == [round(p["logit"], 4) for p in pairs[:3]]
    text = reranker.post("/encode", json={"text": "what is panda?"}).json()
    assert isinstance(text["embedding"], float)
    assert text["meta_info"]["prompt_tokens"] == len(
        reranker.post("/tokenize", json={"prompt": "what is panda?"}).json()["tokens"])
    info = reranker.get("/model_info").json()
    assert info["is_generation"] is False
    assert info["architectures"] == ["XLMRobertaForSequenceClassification"]
    assert reranker.post("/generate", json={"text": "hi"}).status_code == 400


def test_without_guide_flags_the_engine_still_sees_whole_sequences(xlmr_path, launch, golden):
    # No --is-embedding (SGLang treats XLMRobertaForSequenceClassification as a non-generation model
    # anyway), radix cache and chunked prefill left on, chunks smaller than a pair: the scheduler
    # disables both for an encoder, says so, and the scores do not change.
    s = launch(xlmr_path, "--chunked-prefill-size", "4")
    assert "radix cache and chunked prefill are disabled" in s.logs()
    info = s.get("/server_info").json()
    assert info["disable_radix_cache"] is True
    assert info["chunked_prefill_size"] == -1
    pairs = by_query(golden("tiny-xlm-roberta-reranker"))["what is panda?"]
    for _ in range(2):  # the second time a prefix cache would have served the shared query
        items = s.post("/v1/rerank", json={"query": "what is panda?",
                                           "documents": [p["document"] for p in pairs]}).json()
        for item in items:
            assert math.isclose(item["score"], pairs[item["index"]]["logit"], abs_tol=1e-4)
            assert item["meta_info"]["cached_tokens"] == 0


def test_configured_sigmoid_activation(xlmr_path, models_root, launch, golden):
    # A sentence-transformers cross-encoder config names its activation; SGLang applies it to the
    # logit (bge-reranker names none: raw logits, as above).
    path = models_root / "tiny-xlm-roberta-reranker-sigmoid"
    if not path.exists():
        shutil.copytree(xlmr_path, path)
        cfg = json.loads((path / "config.json").read_text())
        cfg["sbert_ce_default_activation_function"] = "torch.nn.modules.activation.Sigmoid"
        (path / "config.json").write_text(json.dumps(cfg))
    s = launch(str(path), *GUIDE_FLAGS)
    pairs = by_query(golden("tiny-xlm-roberta-reranker"))["what is panda?"]
    items = s.post("/v1/rerank", json={"query": "what is panda?",
                                       "documents": [p["document"] for p in pairs]}).json()
    for item in items:
        expected = 1 / (1 + math.exp(-pairs[item["index"]]["logit"]))
        assert 0 < item["score"] < 1
        assert math.isclose(item["score"], expected, abs_tol=1e-5)


def test_bert_cross_encoder_uses_token_types(models_root, launch, golden):
    path = make_model(models_root / "tiny-bert-reranker", arch="bert-reranker", seed=6,
                      tokenizer="minilm-l6-v2")
    s = launch(str(path), *GUIDE_FLAGS)
    for query, pairs in by_query(golden("tiny-bert-reranker")).items():
        items = s.post("/v1/rerank", json={"query": query,
                                           "documents": [p["document"] for p in pairs]}).json()
        assert len(items) == len(pairs)
        for item in items:
            p = pairs[item["index"]]
            assert math.isclose(item["score"], p["logit"], abs_tol=1e-4), (item, p)
            assert item["meta_info"]["prompt_tokens"] == len(p["input_ids"])


def test_generation_server_refuses_rerank(server):
    r = server.post("/v1/rerank", json={"query": "q", "documents": ["a"]})
    assert r.status_code == 400
    assert r.json()["message"] == (
        "This model does not appear to be an embedding model by default. Please add "
        "`--is-embedding` when launching the server or try another model.")


def test_concurrent_reranks_with_other_requests(reranker, golden):
    pairs = golden("tiny-xlm-roberta-reranker")
    queries = by_query(pairs)
    expected = {q: {p["document"]: p["logit"] for p in ps} for q, ps in queries.items()}
    errors = []

    def rerank_worker(k):
        q = list(queries)[k % len(queries)]
        docs = list(expected[q])[k % 2:]
        r = reranker.post("/v1/rerank", json={"query": q, "documents": docs})
        if r.status_code != 200:
            errors.append(r.text)
            return
        for item in r.json():
            if not math.isclose(item["score"], expected[q][item["document"]], abs_tol=1e-4):
                errors.append((q, item))

    def other_worker(k):
        if k % 2:
            r = reranker.post("/classify", json={"input_ids": pairs[k % len(pairs)]["input_ids"]})
            ok = r.status_code == 200 and math.isclose(
                r.json()["embedding"], pairs[k % len(pairs)]["logit"], abs_tol=1e-4)
        else:
            ok = reranker.get("/health").status_code == 200
        if not ok:
            errors.append(("other", k))

    threads = [threading.Thread(target=rerank_worker, args=(k,)) for k in range(16)]
    threads += [threading.Thread(target=other_worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    state = reranker.get("/server_info").json()["internal_states"][0]
    assert state["num_running_reqs"] == 0 and state["num_waiting_reqs"] == 0
