"""Embedding servers (--is-embedding): /encode with a decoder embedding model, /classify with a
reward model, as in the guide's examples (tiny checkpoints standing in for gte-Qwen2 and
Skywork-Reward-Llama)."""

import math

import pytest

from conftest import make_model


@pytest.fixture(scope="module")
def embed_server(model_path, launch):
    return launch(model_path, "--is-embedding")


@pytest.fixture(scope="module")
def reward_server(models_root, launch):
    return launch(str(make_model(models_root / "tiny-llama-reward", arch="llama-reward", seed=4)),
                  "--is-embedding")


def test_encode_guide_example(embed_server):
    r = embed_server.post("/encode", json={"model": "Alibaba-NLP/gte-Qwen2-1.5B-instruct",
                                           "text": "Once upon a time"})
    assert r.status_code == 200, r.text
    body = r.json()
    emb = body["embedding"]
    assert len(emb) == 64  # the tiny model's hidden size
    assert math.isclose(sum(v * v for v in emb), 1.0, rel_tol=1e-4), "normalised"
    assert body["meta_info"]["prompt_tokens"] == 4
    # The same text gives the same vector; a batch gives one per text, in order.
    batch = embed_server.post("/encode", json={"text": ["Once upon a time", "Hello"]}).json()
    assert isinstance(batch, list) and len(batch) == 2
    assert all(math.isclose(a, b, abs_tol=1e-5) for a, b in zip(batch[0]["embedding"], emb))
    assert batch[1]["embedding"] != emb
    ids = embed_server.post("/tokenize", json={"prompt": "Hello"}).json()["tokens"]
    by_ids = embed_server.post("/encode", json={"input_ids": ids}).json()
    assert all(math.isclose(a, b, abs_tol=1e-5) for a, b in zip(by_ids["embedding"], batch[1]["embedding"]))


def test_embedding_server_refuses_generate_and_rerank(embed_server, server):
    r = embed_server.post("/generate", json={"text": "hi"})
    assert r.status_code == 400
    r = embed_server.post("/v1/rerank", json={"query": "q", "documents": ["a"]})
    assert r.status_code == 400 and "needs a cross-encoder" in r.json()["message"]
    # And a generation server refuses /encode with SGLang's message.
    r = server.post("/encode", json={"text": "hi"})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        "This model does not appear to be an embedding model by default. Please add "
        "`--is-embedding` when launching the server or try another model.")


def test_classify_guide_example(reward_server):
    prompts = ["<|start_header_id|>user<|end_header_id|>\n\nWhat is 1+1?<|eot_id|>"
               "<|start_header_id|>assistant<|end_header_id|>\n\n2<|eot_id|>",
               "<|start_header_id|>user<|end_header_id|>\n\nWhat is 1+1?<|eot_id|>"
               "<|start_header_id|>assistant<|end_header_id|>\n\n3<|eot_id|>"]
    r = reward_server.post("/classify", json={"model": "Skywork/Skywork-Reward-Llama-3.1-8B-v0.2",
                                              "text": prompts})
    assert r.status_code == 200, r.text
    responses = r.json()
    assert len(responses) == 2
    rewards = [resp["embedding"][0] for resp in responses]
    assert all(len(resp["embedding"]) == 1 for resp in responses)
    assert all(math.isfinite(x) for x in rewards)
    assert rewards[0] != rewards[1]
    # Scores do not depend on what else is in the batch.
    alone = reward_server.post("/classify", json={"text": prompts[1]}).json()
    assert math.isclose(alone["embedding"][0], rewards[1], rel_tol=1e-4, abs_tol=1e-5)


@pytest.fixture(scope="module")
def xlmr_embed_server(models_root, launch):
    # XLMRobertaModel with bge-m3's sentence-transformers modules (CLS pooling + Normalize).
    return launch(str(make_model(models_root / "tiny-xlm-roberta", arch="xlm-roberta", seed=8,
                                 tokenizer="xlmr-format-unigram-en")))


def test_encoder_embedding_model_is_an_embedding_server(xlmr_embed_server):
    # No --is-embedding needed: an encoder is never a generation model (SGLang's is_generation).
    s = xlmr_embed_server
    assert s.get("/model_info").json()["is_generation"] is False
    texts = ["what is panda?", "The giant panda is a bear species endemic to China."]
    batch = s.post("/encode", json={"text": texts})
    assert batch.status_code == 200, batch.text
    vecs = [b["embedding"] for b in batch.json()]
    assert all(len(v) == 64 and math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-5)
               for v in vecs)
    assert vecs[0] != vecs[1]
    alone = s.post("/encode", json={"text": texts[1]}).json()["embedding"]
    assert all(math.isclose(a, b, abs_tol=1e-5) for a, b in zip(alone, vecs[1]))
    oai = s.post("/v1/embeddings", json={"input": texts, "encoding_format": "float"}).json()
    assert all(math.isclose(a, b, abs_tol=1e-5)
               for d, v in zip(oai["data"], vecs) for a, b in zip(d["embedding"], v))
    r = s.post("/v1/rerank", json={"query": "q", "documents": ["a"]})
    assert r.status_code == 400 and "needs a cross-encoder" in r.json()["message"]
