"""The non-generate routes of the native API, with the guide's assertions."""

import pytest
import requests

from conftest import make_model

MODEL_INFO_KEYS = {"model_path", "is_generation", "tokenizer_path", "preferred_sampling_params",
                   "weight_version", "has_image_understanding", "has_audio_understanding",
                   "model_type", "architectures"}


def test_model_info_as_the_guide_asserts(server, model_path):
    r = server.get("/get_model_info")
    assert r.status_code == 200
    info = r.json()
    assert info["model_path"] == model_path
    assert info["is_generation"] is True
    assert info["tokenizer_path"] == model_path
    assert info["preferred_sampling_params"] is None
    assert info.keys() == MODEL_INFO_KEYS
    assert info["model_type"] == "qwen2" and info["architectures"] == ["Qwen2ForCausalLM"]
    assert server.get("/model_info").json() == info
    logs = server.logs()
    assert ("Endpoint '/get_model_info' is deprecated and will be removed in a future version. "
            "Please use '/model_info' instead.") in logs


def test_server_info(server, model_path):
    info = server.get("/get_server_info").json()
    assert info == {**info, "model_path": model_path, "port": server.port, "host": "127.0.0.1"}
    assert isinstance(info["max_total_num_tokens"], int) and info["max_total_num_tokens"] == 20000
    assert isinstance(info["version"], str)
    assert info["max_req_input_len"] == 19999
    assert isinstance(info["internal_states"], list) and "last_gen_throughput" in info["internal_states"][0]
    for key in ("chunked_prefill_size", "max_running_requests", "page_size", "schedule_policy",
                "disable_radix_cache", "random_seed", "served_model_name", "context_length"):
        assert key in info, key
    assert info["context_length"] == 32768
    assert server.get("/server_info").json()["max_total_num_tokens"] == 20000
    assert "Endpoint '/get_server_info' is deprecated" in server.logs()


def test_health(server):
    for path in ("/health", "/health_generate"):
        r = server.get(path)
        assert r.status_code == 200 and r.text == ""


def test_flush_cache_and_refusal_while_busy(server):
    message = ("Cache flushed.\nPlease check backend logs for more details. (When there are running "
               "or waiting requests, the operation will not be performed.)\n")
    r = server.post("/flush_cache")
    assert r.status_code == 200 and r.text == message
    assert server.get("/flush_cache").status_code == 200
    # While a long request runs the flush is refused with the same text.
    import threading

    result = {}
    t = threading.Thread(target=lambda: result.update(r=server.post(
        "/generate", json={"input_ids": [1, 2, 3], "sampling_params": {"max_new_tokens": 3000,
                                                                        "ignore_eos": True}},
        timeout=300)))
    t.start()
    deadline = __import__("time").time() + 30
    while server.get("/server_info").json()["internal_states"][0]["num_running_reqs"] == 0:
        assert __import__("time").time() < deadline
    r = server.post("/flush_cache")
    assert r.status_code == 400 and r.text == message
    server.post("/abort_request", json={"abort_all": True})
    t.join()
    assert result["r"].json()["meta_info"]["finish_reason"]["type"] == "abort"
    assert server.post("/flush_cache").status_code == 200


def test_update_weights_from_disk(server, model_path, models_root):
    before = server.post("/generate", json={"input_ids": [1, 2, 3],
                                            "sampling_params": {"max_new_tokens": 4, "temperature": 0}}).json()
    r = server.post("/update_weights_from_disk", json={"model_path": model_path})
    assert r.status_code == 200
    assert r.json()["success"] is True
    assert r.json()["message"] == "Succeeded to update model weights."
    # Other weights of the same shape take over; the old answers change, the server keeps serving.
    other = str(make_model(models_root / "tiny-qwen2-seed7", seed=7))
    r = server.post("/update_weights_from_disk", json={"model_path": other, "weight_version": "v2"})
    assert r.json() == {"success": True,
                        "message": "Succeeded to update model weights. Weight version updated to v2.",
                        "num_paused_requests": 0}
    after = server.post("/generate", json={"input_ids": [1, 2, 3],
                                           "sampling_params": {"max_new_tokens": 4, "temperature": 0}}).json()
    assert after["meta_info"]["weight_version"] == "v2"
    assert after["output_ids"] != before["output_ids"]
    assert server.get("/model_info").json()["weight_version"] == "v2"
    # A missing path fails with SGLang's message and the current weights keep serving.
    wrong = model_path + "-wrong"
    r = server.post("/update_weights_from_disk", json={"model_path": wrong})
    assert r.status_code == 400
    assert r.json()["success"] is False
    assert r.json()["message"] == f"Failed to get weights iterator: {wrong} (repository not found)."
    # An incompatible model (another architecture) is refused by name.
    llama = str(make_model(models_root / "tiny-llama", arch="llama"))
    r = server.post("/update_weights_from_disk", json={"model_path": llama})
    assert r.json()["success"] is False and llama in r.json()["message"]
    again = server.post("/generate", json={"input_ids": [1, 2, 3],
                                           "sampling_params": {"max_new_tokens": 4, "temperature": 0}}).json()
    assert again["output_ids"] == after["output_ids"]
    # Back to the original weights for the other tests.
    assert server.post("/update_weights_from_disk", json={"model_path": model_path}).json()["success"]
    assert server.post("/generate", json={"input_ids": [1, 2, 3], "sampling_params": {
        "max_new_tokens": 4, "temperature": 0}}).json()["output_ids"] == before["output_ids"]


def test_tokenize_detokenize_round_trip(server):
    text = "Hello, world! 你好 🌍"
    tok = server.post("/tokenize", json={"model": "x", "prompt": text, "add_special_tokens": False})
    assert tok.status_code == 200
    body = tok.json()
    assert set(body) == {"tokens", "count", "max_model_len"}
    assert body["count"] == len(body["tokens"])
    assert body["max_model_len"] == 131072  # the tokenizer's model_max_length
    detok = server.post("/detokenize", json={"tokens": body["tokens"], "skip_special_tokens": True})
    assert detok.json() == {"text": text}
    many = server.post("/tokenize", json={"prompt": ["a b", "c"]}).json()
    assert len(many["tokens"]) == 2 and many["count"] == [len(t) for t in many["tokens"]]
    assert server.post("/detokenize", json={"tokens": many["tokens"]}).json()["text"] == ["a b", "c"]
    # The OpenAI-style routes want JSON.
    r = requests.post(server.url + "/tokenize", data='{"prompt": "a"}',
                      headers={"Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 400 and "Unsupported Media Type" in r.json()["message"]
    # As HF `tokenizers` decode: an id past the tokenizer's vocabulary (a model's padding rows,
    # which sampling can pick) decodes to nothing; a negative one is refused.
    hello = server.post("/tokenize", json={"prompt": "Hello", "add_special_tokens": False}).json()
    pad_id = 151767  # inside the tiny Qwen2's 151936 embedding rows, past the tokenizer's 151669
    r = server.post("/detokenize", json={"tokens": hello["tokens"] + [pad_id] + hello["tokens"]})
    assert r.status_code == 200 and r.json() == {"text": "HelloHello"}
    assert server.post("/detokenize", json={"tokens": [[pad_id], hello["tokens"]]}).json() == {
        "text": ["", "Hello"]}
    r = server.post("/detokenize", json={"tokens": hello["tokens"] + [-1]})
    assert r.status_code == 400 and r.json()["type"] == "DecodeError"
    assert "token id -1 is out of range" in r.json()["message"]
    r = server.post("/detokenize", json={"tokens": ["a"]})
    assert r.status_code == 400
    assert r.json()["message"] == "Invalid input: 'tokens' must be a list of integers."


def test_abort_request_by_rid(server):
    import threading
    import time

    result = {}
    t = threading.Thread(target=lambda: result.update(r=server.post(
        "/generate", json={"rid": "abort-me", "input_ids": [1, 2, 3],
                           "sampling_params": {"max_new_tokens": 3000, "ignore_eos": True}},
        timeout=300)))
    t.start()
    deadline = time.time() + 30
    while server.get("/server_info").json()["internal_states"][0]["num_running_reqs"] == 0:
        assert time.time() < deadline
    r = server.post("/abort_request", json={"rid": "abort-me"})
    assert r.status_code == 200 and r.text == ""
    t.join()
    out = result["r"]
    assert out.status_code == 200
    assert out.json()["meta_info"]["finish_reason"]["type"] == "abort"
    assert out.json()["meta_info"]["completion_tokens"] < 3000
    # An unknown rid is not an error.
    assert server.post("/abort_request", json={"rid": "nobody"}).status_code == 200


def test_models_and_unknown_routes(server, model_path):
    models = server.get("/v1/models").json()
    assert models["object"] == "list"
    card = models["data"][0]
    assert card["id"] == model_path and card["object"] == "model" and card["owned_by"] == "sglang"
    assert card["max_model_len"] == 32768
    r = server.get("/no_such_route")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
    r = server.get("/generate")
    assert r.status_code == 405 and r.json() == {"detail": "Method Not Allowed"}
    # Metrics are off unless --enable-metrics.
    assert server.get("/metrics").status_code == 404


def test_api_key(model_path, launch):
    s = launch(model_path, "--api-key", "sk-test")
    r = s.post("/generate", json={"text": "hi", "sampling_params": {"max_new_tokens": 1}})
    assert r.status_code == 401 and r.json() == {"error": "Unauthorized"}
    r = s.post("/generate", json={"text": "hi", "sampling_params": {"max_new_tokens": 1}},
               headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    r = s.post("/generate", json={"text": "hi", "sampling_params": {"max_new_tokens": 1}},
               headers={"Authorization": "Bearer sk-test"})
    assert r.status_code == 200
    assert s.get("/health").status_code == 200
    assert s.get("/model_info").status_code == 401


def test_metrics(model_path, launch):
    s = launch(model_path, "--enable-metrics", "--served-model-name", "tiny")
    s.post("/generate", json={"input_ids": [1, 2, 3, 4], "sampling_params": {"max_new_tokens": 5}})
    text = s.get("/metrics").text
    assert 'sglang:prompt_tokens_total{model_name="tiny"} 4' in text
    assert 'sglang:generation_tokens_total{model_name="tiny"} 5' in text
    for name in ("sglang:num_running_reqs", "sglang:num_queue_reqs", "sglang:token_usage",
                 "sglang:cache_hit_rate", "sglang:time_to_first_token_seconds_bucket",
                 "sglang:e2e_request_latency_seconds_count", "sglang:inter_token_latency_seconds_sum"):
        assert name in text, name
