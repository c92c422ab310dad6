"""The default model answers "Name the capital of France." with Paris through
/v1/chat/completions, directly and through SGLang's own router (sglang-router, from PyPI) in
front of two sglang.cpp servers: the router's worker discovery (/health, /get_model_info,
/get_server_info) and its proxying of the OpenAI routes work against our servers. With
--policy cache_aware in front of two workers: /get_loads reads each worker's /get_load, a worker
killed mid-run loses no request, and it rejoins when restarted on its port."""
from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time

import openai
import pytest
import requests

import conftest
from conftest import SMOLLM, Server, free_port

FRANCE = [{"role": "user", "content": "Name the capital of France."}]


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


@contextlib.contextmanager
def running_router(workers, log_dir, policy: str, *extra: str):
    """sglang-router (launch_router) in front of `workers`; yields its URL once every worker has
    joined (listed by /get_loads)."""
    try:
        import sglang_router  # noqa: F401
    except ImportError as e:
        pytest.skip(f"sglang-router is not installed ({e}): pip install sglang-router==0.3.2")
    port = free_port()
    log_path = log_dir / "router.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sglang_router.launch_router", "--host", "127.0.0.1",
         "--port", str(port), "--prometheus-port", str(free_port()), "--policy", policy, *extra,
         "--worker-urls",
         *[w.url for w in workers]],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    try:
        while True:
            assert proc.poll() is None, f"the router exited:\n{log_path.read_text()}"
            assert time.time() < deadline, f"the router did not start:\n{log_path.read_text()}"
            try:
                if (requests.get(url + "/health", timeout=5).status_code == 200
                        and len(loads(url)) == len(workers)):
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


def loads(router_url: str) -> dict:
    """The router's /get_loads: worker URL -> the load it read from that worker's /get_load."""
    body = requests.get(router_url + "/get_loads", timeout=10).json()
    return {w["worker"]: w["load"] for w in body["workers"]}


@pytest.fixture(scope="module")
def router(workers, tmp_path_factory):
    with running_router(workers, tmp_path_factory.mktemp("router"), "round_robin") as url:
        yield url


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


def test_get_loads_reads_every_workers_load(router, workers):
    # Through our /get_load (SGLang's GetLoadReqOutput list): not -1, the router's "unknown".
    got = loads(router)
    assert set(got) == {w.url for w in workers}
    assert all(load >= 0 for load in got.values()), got


def start_worker(model: str, log_dir, port: int | None = None) -> Server:
    if port is None:
        return Server(model, "--enable-metrics", log_dir=log_dir)
    real = conftest.free_port
    conftest.free_port = lambda: port  # the same address, so the router finds it again
    try:
        return Server(model, "--enable-metrics", log_dir=log_dir)
    finally:
        conftest.free_port = real


def test_cache_aware_router_survives_a_killed_worker_and_takes_it_back(model_path, tmp_path):
    fleet = [start_worker(model_path, tmp_path) for _ in range(2)]
    try:
        # Health checks every second, so the restarted worker is seen within seconds.
        with running_router(fleet, tmp_path, "cache_aware", "--cb-timeout-duration-secs", "2",
                            "--health-check-interval-secs", "1") as url:
            # Native and OpenAI requests through it; /flush_cache fans out to both.
            r = requests.post(url + "/generate", timeout=60, json={
                "text": "hello", "sampling_params": {"max_new_tokens": 4}})
            assert r.status_code == 200 and r.json()["meta_info"]["completion_tokens"] == 4
            r = requests.post(url + "/v1/completions", timeout=60, json={
                "model": "m", "prompt": "hello", "max_tokens": 4})
            assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 4
            assert requests.post(url + "/flush_cache", timeout=60).status_code == 200

            # Many requests in flight while one worker is killed: each is answered (the router
            # retries on the other worker).
            results = []

            def client(i):
                r = requests.post(url + "/generate", timeout=120, json={
                    "text": f"{i} prompt number {i}",
                    "sampling_params": {"max_new_tokens": 200, "ignore_eos": True}})
                results.append((r.status_code, r.json()))

            threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
            for t in threads:
                t.start()
            time.sleep(0.3)
            victim = fleet[1]
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.wait()
            victim.log.close()
            for t in threads:
                t.join()
            assert len(results) == 16
            for status, body in results:
                assert status == 200, body
                assert body["meta_info"]["completion_tokens"] == 200, body

            # Restarted on its port, it rejoins: healthy again in the router's registry, its load
            # read again. (Whether cache_aware sends it traffic soon is the router's choice:
            # sglang-router 0.3.2 leaves a worker whose circuit breaker opened half-open until a
            # request is routed to it.)
            fleet[1] = start_worker(model_path, tmp_path, port=victim.port)
            deadline = time.time() + 60
            while True:
                workers_state = requests.get(url + "/workers", timeout=10).json()["workers"]
                healthy = {w["url"]: w["is_healthy"] for w in workers_state}
                got = loads(url)
                if healthy.get(fleet[1].url) and got.get(fleet[1].url, -1) >= 0:
                    break
                assert time.time() < deadline, f"the restarted worker did not rejoin: {healthy}"
                time.sleep(0.5)
            # And the fleet serves on: requests through the router are answered.
            for i in range(4):
                r = requests.post(url + "/generate", timeout=60, json={
                    "text": f"{i} again", "sampling_params": {"max_new_tokens": 2}})
                assert r.status_code == 200, r.text
    finally:
        for w in fleet:
            w.stop()
