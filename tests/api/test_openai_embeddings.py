"""/v1/embeddings on an embedding server, through the openai SDK and raw requests, against /encode
(the same pooled requests); /v1/models/{id}; SGLang's native parser routes /parse_function_call and
/separate_reasoning."""

import base64
import math
import struct

import openai
import pytest
import requests


@pytest.fixture(scope="module")
def embed_server(model_path, launch):
    return launch(model_path, "--is-embedding")


def sdk(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="none", max_retries=0)


def close(a, b):
    return len(a) == len(b) and all(math.isclose(x, y, abs_tol=1e-5) for x, y in zip(a, b))


def test_embeddings_equal_encode_for_strings_ids_and_batches(embed_server):
    texts = ["Once upon a time", "Hello"]
    encoded = embed_server.post("/encode", json={"text": texts}).json()
    # The SDK asks for base64 by default and decodes it.
    r = sdk(embed_server).embeddings.create(model="m", input=texts)
    assert [d.index for d in r.data] == [0, 1]
    assert all(close(d.embedding, e["embedding"]) for d, e in zip(r.data, encoded))
    assert r.usage.prompt_tokens == sum(e["meta_info"]["prompt_tokens"] for e in encoded)
    assert r.usage.total_tokens == r.usage.prompt_tokens
    # Floats, raw: SGLang's EmbeddingResponse shape; "model" is the served model's path.
    raw = embed_server.post("/v1/embeddings", json={"input": "Hello", "encoding_format": "float"})
    assert raw.status_code == 200, raw.text
    body = raw.json()
    assert body["object"] == "list" and body["data"][0]["object"] == "embedding"
    assert close(body["data"][0]["embedding"], encoded[1]["embedding"])
    # base64 is the float32 bytes of the same vector.
    b64 = embed_server.post("/v1/embeddings",
                            json={"input": "Hello", "encoding_format": "base64"}).json()
    blob = base64.b64decode(b64["data"][0]["embedding"])
    assert close(list(struct.unpack(f"<{len(blob) // 4}f", blob)), encoded[1]["embedding"])
    # Token ids, single and batched.
    ids = embed_server.post("/tokenize", json={"prompt": "Hello"}).json()["tokens"]
    by_ids = sdk(embed_server).embeddings.create(model="m", input=ids, encoding_format="float")
    assert close(by_ids.data[0].embedding, encoded[1]["embedding"])
    both = sdk(embed_server).embeddings.create(model="m", input=[ids, ids],
                                               encoding_format="float")
    assert len(both.data) == 2 and close(both.data[1].embedding, encoded[1]["embedding"])


@pytest.mark.parametrize("body,message", [
    ({"input": ""}, "Input cannot be empty"),
    ({"input": "   "}, "Input cannot be empty or whitespace only"),
    ({"input": ["a", " "]}, "Input at index 1 cannot be empty or whitespace only"),
    ({"input": [1, -2]}, "Token ID at index 1 must be non-negative"),
    ({"input": ["a", 1]}, "All items in input list must be strings"),
    ({"input": "a", "dimensions": 8}, "dimensions is not supported yet (Matryoshka dimensions)."),
])
def test_embeddings_errors_are_sglangs(embed_server, body, message):
    r = embed_server.post("/v1/embeddings", json=body)
    assert r.status_code == 400
    j = r.json()
    assert j["object"] == "error" and j["code"] == 400 and j["message"] == message


def test_a_generation_server_refuses_embeddings(server):
    r = server.post("/v1/embeddings", json={"input": "hi"})
    assert r.status_code == 400
    assert r.json()["message"].startswith("This model does not appear to be an embedding model")


def test_retrieve_model(server):
    name = server.get("/v1/models").json()["data"][0]["id"]
    r = server.get("/v1/models/" + name)  # a path: the default served name has slashes
    assert r.status_code == 200 and r.json()["id"] == name
    r = server.get("/v1/models/nope")
    assert r.status_code == 404
    assert r.json() == {"error": {"message": "The model 'nope' does not exist",
                                  "type": "invalid_request_error", "param": "model",
                                  "code": "model_not_found"}}


TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}]


def test_parse_function_call_route(server):
    text = 'Sure.<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    r = server.post("/parse_function_call",
                    json={"text": text, "tools": TOOLS, "tool_call_parser": "qwen25"})
    assert r.status_code == 200, r.text
    # As SGLang's qwen25 detector: the text before the call, the call with json.dumps arguments.
    assert r.json() == {"normal_text": "Sure.", "calls": [
        {"tool_index": -1, "name": "get_weather", "parameters": '{"city": "Paris"}'}]}
    r = server.post("/parse_function_call",
                    json={"text": text, "tools": TOOLS, "tool_call_parser": "nope"})
    assert r.status_code == 400 and "qwen25" in r.json()["message"]


def test_separate_reasoning_route(server):
    r = server.post("/separate_reasoning",
                    json={"text": "<think>2+2 is 4</think>The answer is 4.",
                          "reasoning_parser": "deepseek-r1"})
    assert r.status_code == 200, r.text
    assert r.json() == {"reasoning_text": "2+2 is 4", "text": "The answer is 4."}
    r = server.post("/separate_reasoning", json={"text": "x"})
    assert r.status_code == 400 and r.json()["message"] == "Field required: reasoning_parser"
