"""MoE expert distribution recording, as the guide's example: a Qwen2-MoE server launched with
`--expert-distribution-recorder-mode stat`, then /start_expert_distribution_record, /generate,
/stop_expert_distribution_record, /dump_expert_distribution_record. A tiny random
Qwen2MoeForCausalLM (8 experts, top-2, layer 1 dense) with the real Qwen tokenizer stands in for
Qwen1.5-MoE-A2.7B. The dump is a CSV (SGLang writes a torch .pt) in
SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR: layer_id,expert_id,count."""

from __future__ import annotations

import csv
import json
import os
import struct
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import requests

from conftest import BIN, ROOT, Server, make_model

TOP_K = 2
MOE_LAYERS = {0, 2}
NUM_EXPERTS = 8
NO_MODE = ("Please set ServerArgs.expert_distribution_recorder_mode to use "
           "ExpertDistributionRecorder.\n")


@contextmanager
def recorder_dir_env(path: Path):
    old = os.environ.get("SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR")
    os.environ["SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR"] = str(path)
    try:
        yield
    finally:
        if old is None:
            del os.environ["SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR"]
        else:
            os.environ["SGLANG_EXPERT_DISTRIBUTION_RECORDER_DIR"] = old


@pytest.fixture(scope="module")
def moe_model(models_root) -> str:
    return str(make_model(models_root / "tiny-qwen2-moe", arch="qwen2-moe", seed=5))


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Servers with the recorder directory set in their environment; stopped at module end."""
    started = []

    def _start(model: str, *extra: str, record_dir: Path | None = None) -> Server:
        record_dir = record_dir or tmp_path_factory.mktemp("records")
        with recorder_dir_env(record_dir):
            s = Server(model, *extra, log_dir=tmp_path_factory.mktemp("logs"))
        s.record_dir = record_dir
        started.append(s)
        return s

    yield _start
    for s in started:
        assert s.stop() == 0


@pytest.fixture(scope="module")
def stat_server(servers, moe_model):
    return servers(moe_model, "--expert-distribution-recorder-mode", "stat")


def dumped_files(server) -> list[Path]:
    return sorted(server.record_dir.glob("expert_distribution_recorder_*.csv"))


def dump(server) -> list[dict]:
    """Dumps and returns the new file's rows (each file is read once, then removed)."""
    before = set(dumped_files(server))
    r = server.post("/dump_expert_distribution_record")
    assert r.status_code == 200, r.text
    assert r.text == "Dump expert distribution record.\n"
    new = [p for p in dumped_files(server) if p not in before]
    assert len(new) == 1, new
    with open(new[0], newline="") as f:
        rows = list(csv.DictReader(f))
    new[0].unlink()
    return rows


def layer_sums(rows: list[dict]) -> dict[int, int]:
    sums: dict[int, int] = {}
    for r in rows:
        sums[int(r["layer_id"])] = sums.get(int(r["layer_id"]), 0) + int(r["count"])
    return sums


def forwarded_tokens(meta: dict) -> int:
    """Tokens that went through the model for one request: the uncached prompt, then one decode
    step per output token except the last (it is sampled, never forwarded)."""
    return meta["prompt_tokens"] - meta["cached_tokens"] + meta["completion_tokens"] - 1


def test_guide_sequence(stat_server):
    """The guide's cell, step by step, with SGLang's responses."""
    r = stat_server.post("/start_expert_distribution_record")
    assert r.status_code == 200
    assert r.text == "Start recording the expert distribution.\n"
    print(r)

    r = stat_server.post("/generate", json={"text": "What is the capital of France?"})
    assert r.status_code == 200, r.text
    out = r.json()
    print(out)
    meta = out["meta_info"]
    assert isinstance(out["text"], str) and meta["completion_tokens"] >= 1
    assert meta["finish_reason"]["type"] in ("length", "stop")
    assert meta["prompt_tokens"] == 7  # "What is the capital of France?" in Qwen's vocabulary

    r = stat_server.post("/stop_expert_distribution_record")
    assert r.status_code == 200
    assert r.text == "Stop recording the expert distribution.\n"
    print(r)

    before = set(dumped_files(stat_server))
    r = stat_server.post("/dump_expert_distribution_record")
    assert r.status_code == 200
    assert r.text == "Dump expert distribution record.\n"
    print(r)
    files = [p for p in dumped_files(stat_server) if p not in before]
    assert len(files) == 1
    name = files[0].name
    # SGLang's name: expert_distribution_recorder_{time.time()}, here with .csv.
    stamp = float(name[len("expert_distribution_recorder_"):-len(".csv")])
    assert abs(stamp - time.time()) < 120
    text = files[0].read_text()
    print("\n".join(text.splitlines()[:10]))  # the guide prints the first 10 lines of the csv
    files[0].unlink()

    lines = text.splitlines()
    assert lines[0] == "layer_id,expert_id,count"
    rows = [tuple(int(v) for v in line.split(",")) for line in lines[1:]]
    assert rows, "the generation was recorded"
    layers_in_order = [l for l, _, _ in rows]
    assert layers_in_order == sorted(layers_in_order), "grouped by layer, in layer order"
    assert {l for l, _, _ in rows} == MOE_LAYERS, "the dense layer 1 routes nothing"
    for layer, expert, count in rows:
        assert 0 <= expert < NUM_EXPERTS and count > 0
    assert len({(l, e) for l, e, _ in rows}) == len(rows), "one row per (layer, expert)"
    sums = {l: sum(c for ll, _, c in rows if ll == l) for l in MOE_LAYERS}
    assert sums == {l: forwarded_tokens(meta) * TOP_K for l in MOE_LAYERS}


def test_routes_take_get_and_post_and_refuse_other_methods(stat_server):
    assert stat_server.get("/start_expert_distribution_record").status_code == 200
    assert stat_server.get("/stop_expert_distribution_record").status_code == 200
    r = requests.put(stat_server.url + "/stop_expert_distribution_record", timeout=30)
    assert r.status_code == 405
    r = stat_server.get("/dump_expert_distribution_record")
    assert r.status_code == 200 and r.text == "Dump expert distribution record.\n"


def test_only_recorded_passes_count_and_dump_starts_over(stat_server):
    params = {"max_new_tokens": 5, "temperature": 0, "ignore_eos": True}
    stat_server.post("/start_expert_distribution_record")
    a = stat_server.post("/generate", json={"text": "Once upon a time", "sampling_params": params})
    stat_server.post("/stop_expert_distribution_record")
    # Stopped: not recorded.
    stat_server.post("/generate", json={"text": "Another story", "sampling_params": params})
    rows = dump(stat_server)
    assert layer_sums(rows) == {l: forwarded_tokens(a.json()["meta_info"]) * TOP_K
                                for l in MOE_LAYERS}
    # The dump started over: nothing since.
    assert dump(stat_server) == []


def test_concurrent_requests_are_all_counted(stat_server):
    """Requests batched together: every token of every request is counted once."""
    import concurrent.futures as cf

    params = {"max_new_tokens": 6, "temperature": 0.7, "ignore_eos": True}
    prompts = [f"Request number {i} asks about experts" for i in range(6)]
    stat_server.post("/flush_cache")
    stat_server.post("/start_expert_distribution_record")
    with cf.ThreadPoolExecutor(6) as pool:
        outs = list(pool.map(lambda p: stat_server.post(
            "/generate", json={"text": p, "sampling_params": params}).json(), prompts))
    stat_server.post("/stop_expert_distribution_record")
    total = sum(forwarded_tokens(o["meta_info"]) for o in outs)
    assert layer_sums(dump(stat_server)) == {l: total * TOP_K for l in MOE_LAYERS}


def read_safetensors(path: Path) -> dict:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = {"I32": np.int32, "F32": np.float32}[info["dtype"]]
        out[name] = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype=dtype).reshape(info["shape"])
    return out


def test_moe_generation_matches_transformers_greedy(stat_server):
    """/generate on the MoE model: greedy output ids equal transformers' (tests/golden data)."""
    golden = read_safetensors(ROOT / "tests" / "golden" / "data" / "tiny-qwen2-moe.safetensors")
    for i in (1, 2):
        ids = golden[f"p{i}.input_ids"].tolist()
        want = golden[f"p{i}.greedy_ids"].tolist()
        margins = golden[f"p{i}.greedy_margins"].tolist()
        r = stat_server.post("/generate", json={
            "input_ids": ids,
            "sampling_params": {"max_new_tokens": len(want), "temperature": 0, "ignore_eos": True},
        })
        assert r.status_code == 200, r.text
        got = r.json()["output_ids"]
        assert len(got) == len(want)
        for step, (g, w) in enumerate(zip(got, want)):
            if g != w:  # only a near-tie may flip; the continuations diverge after it
                assert margins[step] < 1e-2, (i, step, g, w)
                break


def test_server_info_reports_the_recorder_flags(stat_server):
    info = stat_server.get("/server_info").json()
    assert info["expert_distribution_recorder_mode"] == "stat"
    assert info["expert_distribution_recorder_buffer_size"] == 1000
    assert info["enable_expert_distribution_metrics"] is False


def test_without_the_flag_the_routes_answer_sglangs_error(servers, moe_model, server):
    plain_moe = servers(moe_model)
    for s in (plain_moe, server):  # an MoE model and a dense one
        for route in ("/start_expert_distribution_record", "/stop_expert_distribution_record",
                      "/dump_expert_distribution_record"):
            r = s.post(route)
            assert r.status_code == 400
            assert r.text == NO_MODE
        assert s.get("/health").status_code == 200, "the server keeps serving"
    assert dumped_files(plain_moe) == []
    assert plain_moe.get("/server_info").json()["expert_distribution_recorder_mode"] is None
    r = plain_moe.post("/generate", json={"text": "MoE without recording",
                                          "sampling_params": {"max_new_tokens": 3}})
    assert r.status_code == 200 and r.json()["meta_info"]["completion_tokens"] == 3


def run_serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), "serve", "--port", "1", *args], capture_output=True,
                          text=True, timeout=120)


def test_flag_with_a_dense_model_fails_start_up(model_path):
    p = run_serve("--model-path", model_path, "--expert-distribution-recorder-mode", "stat")
    assert p.returncode != 0
    assert "ExpertLocationMetadata is required for expert distribution recording" in (
        p.stdout + p.stderr)


@pytest.mark.parametrize("mode,message", [
    ("stat_approx", "needs DeepEP"),
    ("statistics", "must be one of stat, stat_approx, per_pass, per_token"),
])
def test_unavailable_modes_fail_start_up(moe_model, mode, message):
    p = run_serve("--model-path", moe_model, "--expert-distribution-recorder-mode", mode)
    assert p.returncode != 0
    assert message in p.stdout + p.stderr


def test_per_pass_mode_writes_each_forward_pass(servers, moe_model):
    s = servers(moe_model, "--expert-distribution-recorder-mode", "per_pass")
    s.post("/start_expert_distribution_record")
    out = s.post("/generate", json={"text": "Count my passes",
                                    "sampling_params": {"max_new_tokens": 4, "ignore_eos": True}})
    s.post("/stop_expert_distribution_record")
    before = set(dumped_files(s))
    assert s.post("/dump_expert_distribution_record").status_code == 200
    (path,) = [p for p in dumped_files(s) if p not in before]
    assert path.name.endswith("_0.csv"), "SGLang's detail dumps carry the rank"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0].keys()) == ["forward_pass_id", "layer_id", "expert_id", "count"]
    per_pass: dict[int, dict[int, int]] = {}
    for r in rows:
        per_pass.setdefault(int(r["forward_pass_id"]), {}).setdefault(int(r["layer_id"]), 0)
        per_pass[int(r["forward_pass_id"])][int(r["layer_id"])] += int(r["count"])
    meta = out.json()["meta_info"]
    # One prefill pass, then one pass per decode step.
    assert len(per_pass) == meta["completion_tokens"]
    ids = sorted(per_pass)
    assert per_pass[ids[0]] == {l: (meta["prompt_tokens"] - meta["cached_tokens"]) * TOP_K
                                for l in MOE_LAYERS}
    for pid in ids[1:]:
        assert per_pass[pid] == {l: TOP_K for l in MOE_LAYERS}


def test_per_token_mode_writes_each_tokens_experts(servers, moe_model):
    s = servers(moe_model, "--expert-distribution-recorder-mode", "per_token")
    prompt_ids = s.post("/tokenize", json={"prompt": "Route these tokens"}).json()["tokens"]
    s.post("/start_expert_distribution_record")
    out = s.post("/generate", json={"input_ids": prompt_ids,
                                    "sampling_params": {"max_new_tokens": 2, "ignore_eos": True}})
    s.post("/stop_expert_distribution_record")
    before = set(dumped_files(s))
    s.post("/dump_expert_distribution_record")
    (path,) = [p for p in dumped_files(s) if p not in before]
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0].keys()) == ["forward_pass_id", "token_index", "input_id", "position",
                                    "layer_id", "expert_0", "expert_1"]
    first_pass = min(int(r["forward_pass_id"]) for r in rows)
    prefill = [r for r in rows if int(r["forward_pass_id"]) == first_pass and r["layer_id"] == "0"]
    assert [int(r["input_id"]) for r in prefill] == prompt_ids
    assert [int(r["position"]) for r in prefill] == list(range(len(prompt_ids)))
    decode = [r for r in rows if int(r["forward_pass_id"]) != first_pass and r["layer_id"] == "0"]
    output_ids = out.json()["output_ids"]
    assert [int(r["input_id"]) for r in decode] == output_ids[:-1]
    assert [int(r["position"]) for r in decode] == [len(prompt_ids)]
    for r in rows:
        a, b = int(r["expert_0"]), int(r["expert_1"])
        assert 0 <= a < NUM_EXPERTS and 0 <= b < NUM_EXPERTS and a != b


def test_metrics_flag_records_from_the_start_and_logs_balancedness(servers, moe_model):
    s = servers(moe_model, "--expert-distribution-recorder-mode", "stat",
                "--enable-expert-distribution-metrics")
    out = s.post("/generate", json={"text": "No start call needed",
                                    "sampling_params": {"max_new_tokens": 2, "ignore_eos": True}})
    rows = dump(s)
    # The start-up health check also ran through the model while recording.
    assert all(v >= forwarded_tokens(out.json()["meta_info"]) * TOP_K
               for v in layer_sums(rows).values())
    assert "[Expert Balancedness] forward_pass_id=" in s.logs()
    assert "current_pass_balancedness=1.000" in s.logs()
