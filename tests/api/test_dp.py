"""--dp-size: data-parallel engine replicas inside one server (SGLang's data_parallel_controller).

Two replicas on the tiny model: both serve (round robin, SGLang's default), /get_load and
/get_server_info report one entry per rank with half the pool each, /flush_cache empties both
radix caches, /abort_request reaches the replica that runs the request; load-balance methods this
server cannot run are refused at start."""
from __future__ import annotations

import subprocess
import threading
import time

import pytest

from conftest import BIN, Server

TOTAL = 20000  # conftest's --max-total-tokens: split between the replicas
LONG = {"max_new_tokens": 20000, "ignore_eos": True}


@pytest.fixture(scope="module")
def dp(model_path, tmp_path_factory):
    s = Server(model_path, "--dp-size", "2", "--threads", "2",
               log_dir=tmp_path_factory.mktemp("dp"))
    yield s
    assert s.stop() == 0, "SIGTERM must end the server with exit code 0"


def wait_for(pred, what: str, timeout: float = 30):
    deadline = time.time() + timeout
    while not pred():
        assert time.time() < deadline, what
        time.sleep(0.05)


def test_each_rank_reports_its_share(dp):
    loads = dp.get("/get_load").json()
    assert [x["dp_rank"] for x in loads] == [0, 1]
    info = dp.get("/get_server_info").json()
    assert info["dp_size"] == 2 and info["load_balance_method"] == "round_robin"
    states = info["internal_states"]
    assert len(states) == 2
    assert [s["memory_usage"]["token_capacity"] for s in states] == [TOTAL // 2] * 2
    assert "DP1 loaded" in dp.logs()


def test_both_replicas_serve_and_abort_reaches_them(dp):
    results = {}

    def run(rid):
        results[rid] = dp.post("/generate", json={"text": "hello " + rid, "rid": rid,
                                                  "sampling_params": LONG}, timeout=60)

    threads = [threading.Thread(target=run, args=(rid,)) for rid in ("a", "b")]
    for t in threads:
        t.start()
        time.sleep(0.2)  # in order: round robin puts "a" on one rank and "b" on the other
    wait_for(lambda: all(x["num_reqs"] == 1 for x in dp.get("/get_load").json()),
             "the two requests did not run on the two replicas")
    assert dp.post("/abort_request", json={"rid": "a"}).status_code == 200
    threads[0].join(30)
    assert results["a"].json()["meta_info"]["finish_reason"]["type"] == "abort"
    assert dp.post("/abort_request", json={"abort_all": True}).status_code == 200
    threads[1].join(30)
    assert results["b"].json()["meta_info"]["finish_reason"]["type"] == "abort"
    wait_for(lambda: all(x["num_reqs"] == 0 for x in dp.get("/get_load").json()), "not idle")


def test_flush_reaches_every_replica(dp):
    for i in range(4):  # two prompts cached on each rank
        r = dp.post("/generate", json={"text": f"prompt number {i} " * 8,
                                       "sampling_params": {"max_new_tokens": 4}})
        assert r.status_code == 200 and r.json()["meta_info"]["finish_reason"]
    states = dp.get("/get_server_info").json()["internal_states"]
    assert all(s["num_cached_pages"] > 0 for s in states), states
    assert dp.post("/flush_cache").status_code == 200
    for s in dp.get("/get_server_info").json()["internal_states"]:
        assert s["num_cached_pages"] == 0 and s["num_used_tokens"] == 0
        assert s["num_free_pages"] == s["memory_usage"]["token_capacity"]


def test_data_parallel_rank_routes_to_that_replica(dp):
    # Both long requests name rank 1: round robin would have spread them over both ranks.
    results = {}

    def run(rid):
        results[rid] = dp.post("/generate", json={"text": "ranked " + rid, "rid": rid,
                                                  "data_parallel_rank": 1,
                                                  "sampling_params": LONG}, timeout=60)

    threads = [threading.Thread(target=run, args=(rid,)) for rid in ("r1", "r2")]
    for t in threads:
        t.start()
        time.sleep(0.2)
    wait_for(lambda: [x["num_reqs"] for x in dp.get("/get_load").json()] == [0, 2],
             "both requests naming data_parallel_rank 1 must run on rank 1")
    assert dp.post("/abort_request", json={"abort_all": True}).status_code == 200
    for t in threads:
        t.join(30)
    assert all(results[r].json()["meta_info"]["finish_reason"]["type"] == "abort"
               for r in ("r1", "r2"))
    for bad in (2, -1, "1", 1.5):
        r = dp.post("/generate", json={"text": "x", "data_parallel_rank": bad})
        assert r.status_code == 400 and "data_parallel_rank" in r.text, (bad, r.text)


@pytest.mark.parametrize("method,message", [
    ("follow_bootstrap_room", "disaggregation"),
    ("total_tokens", "invalid choice"),
])
def test_load_balance_methods_not_served_are_refused_at_start(model_path, method, message):
    r = subprocess.run([str(BIN), "serve", "--model-path", model_path, "--dp-size", "2",
                        "--load-balance-method", method], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0
    assert message in r.stdout + r.stderr
