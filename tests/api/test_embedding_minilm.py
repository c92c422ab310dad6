"""The real sentence-transformers model all-MiniLM-L6-v2 (BertModel; scripts/fetch_model.sh minilm)
served with --is-embedding: /encode and /v1/embeddings (openai SDK) answer the embeddings of
transformers + the pooling its folder declares (mean, Normalize), within cosine 0.9999, on real
sentences; the WordPiece tokenization is transformers' own. The reference is committed data
(tests/api/data/minilm_reference.json, made by tools/make_embedding_reference.py)."""

import json
import math
from pathlib import Path

import openai
import pytest

from conftest import ROOT

MINILM = ROOT / "models" / "all-MiniLM-L6-v2"
REFERENCE = Path(__file__).parent / "data" / "minilm_reference.json"


@pytest.fixture(scope="module")
def reference():
    return json.loads(REFERENCE.read_text())


@pytest.fixture(scope="module")
def minilm(launch):
    if not (MINILM / "model.safetensors").is_file():
        pytest.fail(f"{MINILM} is missing: run scripts/fetch_model.sh minilm")
    return launch(str(MINILM), "--is-embedding")


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def assert_matches(got, want, what):
    assert len(got) == len(want) == 384, what
    c = cosine(got, want)
    assert c > 0.9999, f"{what}: cosine {c}"
    assert math.isclose(sum(v * v for v in got), 1.0, rel_tol=1e-5), f"{what}: normalised"
    assert max(abs(x - y) for x, y in zip(got, want)) < 1e-4, what


def test_encode_matches_transformers_with_declared_pooling(minilm, reference):
    sentences = reference["sentences"]
    batch = minilm.post("/encode", json={"text": sentences})
    assert batch.status_code == 200, batch.text
    body = batch.json()
    assert len(body) == len(sentences)
    worst = 1.0
    for i, (out, want, ids) in enumerate(zip(body, reference["embeddings"],
                                             reference["input_ids"])):
        assert_matches(out["embedding"], want, f"sentence {i} in a batch")
        # WordPiece with [CLS] ... [SEP], as transformers' tokenizer.
        assert out["meta_info"]["prompt_tokens"] == len(ids), sentences[i]
        worst = min(worst, cosine(out["embedding"], want))
    print(f"worst cosine vs transformers: {worst:.8f}")
    # Alone, and from the reference's token ids, each gives the same vector.
    alone = minilm.post("/encode", json={"text": sentences[3]}).json()
    assert_matches(alone["embedding"], reference["embeddings"][3], "alone")
    by_ids = minilm.post("/encode", json={"input_ids": reference["input_ids"][5]}).json()
    assert_matches(by_ids["embedding"], reference["embeddings"][5], "from input_ids")


def test_tokenize_is_wordpiece_as_transformers(minilm, reference):
    for text, ids in zip(reference["sentences"], reference["input_ids"]):
        r = minilm.post("/tokenize", json={"prompt": text, "add_special_tokens": True})
        assert r.status_code == 200, r.text
        assert r.json()["tokens"] == ids, text


def test_openai_embeddings_match_transformers(minilm, reference):
    client = openai.OpenAI(base_url=minilm.url + "/v1", api_key="none", max_retries=0)
    sentences = reference["sentences"]
    # The SDK asks for base64 by default and decodes it to floats.
    r = client.embeddings.create(model="sentence-transformers/all-MiniLM-L6-v2", input=sentences)
    assert [d.index for d in r.data] == list(range(len(sentences)))
    for i, (d, want) in enumerate(zip(r.data, reference["embeddings"])):
        assert_matches(d.embedding, want, f"/v1/embeddings sentence {i}")
    assert r.usage.prompt_tokens == sum(len(ids) for ids in reference["input_ids"])
    one = client.embeddings.create(model="m", input=sentences[0], encoding_format="float")
    assert_matches(one.data[0].embedding, reference["embeddings"][0], "/v1/embeddings float")


def test_semantics_and_what_an_embedding_server_refuses(minilm, reference):
    # The real model's meaning: related sentences are closer than unrelated ones.
    e = minilm.post("/encode", json={"text": ["A man is eating food.",
                                              "A man is eating a piece of bread.",
                                              "A monkey is playing drums."]}).json()
    v = [x["embedding"] for x in e]
    assert cosine(v[0], v[1]) > cosine(v[0], v[2]) + 0.3
    assert minilm.post("/generate", json={"text": "hi"}).status_code == 400
    r = minilm.post("/v1/rerank", json={"query": "q", "documents": ["a"]})
    assert r.status_code == 400 and "needs a cross-encoder" in r.json()["message"]
    info = minilm.get("/model_info").json()
    assert info["is_generation"] is False
