"""The default model answers "What is the capital of France?" with Paris through
/v1/chat/completions, directly and through SGLang's own router (sglang-router, from PyPI) in
front of two sglang.cpp servers: the router's worker discovery (/health, /get_model_info,
/get_server_info) and its proxying of the OpenAI routes work against our servers."""
from __future__ import annotations

import subprocess
import sys
import time

import openai
import pytest
import requests

from conftest import SMOLLM, free_port

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


def ask(url: str, **kw) -> openai.types.chat.ChatCompletion:
    client = openai.OpenAI(base_url=url + "/v1", api_key="sk-test", max_retries=0, timeout=120)
    return client.chat.completions.create(model="default", messages=FRANCE, temperature=0,
                                          max_tokens=16, **kw)


def requests_served(server) -> float:
    for line in server.get("/metrics").text.splitlines():
        if line.startswith("sglang:num_requests_total"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no sglang:num_requests_total in /metrics")


@pytest.fixture(scope="module")
def workers(smollm, launch):
    # The session's default-model server and a second one.
    return [smollm, launch(str(SMOLLM), "--enable-metrics")]


@pytest.fixture(scope="module")
def router(workers, tmp_path_factory):
    try:
        import sglang_router  # noqa: F401
    except ImportError as e:
        pytest.skip(f"sglang-router is not installed ({e}): pip install sglang-router==0.3.2")
    port = free_port()
    log_path = tmp_path_factory.mktemp("router") / "router.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sglang_router.launch_router", "--host", "127.0.0.1",
         "--port", str(port), "--policy", "round_robin", "--worker-urls",
         *[w.url for w in workers]],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    try:
        while True:
            assert proc.poll() is None, f"the router exited:\n{log_path.read_text()}"
            assert time.time() < deadline, f"the router did not start:\n{log_path.read_text()}"
            try:
                if requests.get(url + "/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_capital_of_france_directly(smollm):
    r = ask(smollm.url)
    c = r.choices[0]
    assert "Paris" in c.message.content, c.message.content
    assert c.finish_reason == "stop"
    assert "<|im_end|>" not in c.message.content


def test_capital_of_france_through_the_router(router, workers, smollm):
    direct = ask(smollm.url).choices[0].message.content
    before = [requests_served(w) for w in workers]
    answers = [ask(router).choices[0].message.content for _ in range(2)]
    assert answers == [direct, direct]
    assert "Paris" in direct
    # Round robin: each worker served one of the two.
    assert [requests_served(w) - b for w, b in zip(workers, before)] == [1, 1]
    # Streamed through the router: the same text.
    client = openai.OpenAI(base_url=router + "/v1", api_key="sk-test", max_retries=0, timeout=120)
    stream = client.chat.completions.create(model="default", messages=FRANCE, temperature=0,
                                            max_tokens=16, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == direct
