"""Black-box tests of the HTTP API: a real `sglang-cpp serve` process per test module, on a tiny
random-weight Qwen2 checkpoint with the real Qwen tokenizer files beside it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("SGLANG_CPP_BIN", ROOT / "build" / "src" / "sglang-cpp"))
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt")


def assets_dir() -> Path:
    for cand in (ROOT.parent / "shared" / "assets", ROOT / "models" / "assets"):
        if (cand / "qwen3-tokenizer" / "tokenizer.json").is_file():
            return cand
    pytest.fail("no qwen3-tokenizer asset: run scripts/setup.sh")


def make_model(dest: Path, arch: str = "qwen2", seed: int = 1, tokenizer: str = "") -> Path:
    """A tiny checkpoint (make-checkpoint) plus the family's real tokenizer files."""
    tokenizer = tokenizer or ("llama3-tokenizer" if arch.startswith("llama") else "qwen3-tokenizer")
    if not (dest / "model.safetensors").is_file():
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run([str(BIN), "make-checkpoint", "--tiny", "--arch", arch, "--seed", str(seed),
                        "--out", str(tmp)], check=True, capture_output=True)
        tok = assets_dir() / tokenizer
        for name in TOKENIZER_FILES:
            if (tok / name).is_file():
                shutil.copy(tok / name, tmp / name)
        tmp.rename(dest)
    return dest


@pytest.fixture(scope="session")
def models_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def model_path(models_root) -> str:
    return str(make_model(models_root / "tiny-qwen2"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, model: str, *extra: str, log_dir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"server-{self.port}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(BIN), "serve", "--model-path", model, "--port", str(self.port),
             "--max-total-tokens", "20000", *extra],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.logs()}")
            try:
                if requests.get(self.url + "/health", timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become healthy:\n" + self.logs())

    def logs(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def get(self, path, **kw):
        return requests.get(self.url + path, timeout=kw.pop("timeout", 60), **kw)

    def post(self, path, **kw):
        return requests.post(self.url + path, timeout=kw.pop("timeout", 60), **kw)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture(scope="module")
def server(model_path, tmp_path_factory):
    s = Server(model_path, log_dir=tmp_path_factory.mktemp("logs"))
    yield s
    assert s.stop() == 0, "SIGTERM must end the server with exit code 0"


@pytest.fixture(scope="session")
def launch(tmp_path_factory):
    """Start an extra server with custom flags; stopped at the end of the test session."""
    started = []

    def _launch(model: str, *extra: str) -> Server:
        s = Server(model, *extra, log_dir=tmp_path_factory.mktemp("logs"))
        started.append(s)
        return s

    yield _launch
    for s in started:
        s.stop()


def sse_events(response) -> list:
    """The `data:` payloads of an SSE response, in order (the final [DONE] as the string).

    Events are split on the blank line in the raw bytes: str.splitlines (what requests' iter_lines
    uses) would also split inside a JSON string at U+2028, U+0085 and the like, which generated text
    may contain."""
    import json

    raw = b"".join(response.iter_content(chunk_size=None))
    events = []
    for block in raw.split(b"\n\n"):
        if not block:
            continue
        assert block.startswith(b"data: "), block[:80]
        payload = block[len(b"data: "):].decode("utf-8")
        events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


SMOLLM = ROOT / "models" / "SmolLM2-135M-Instruct" / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def smollm(launch) -> Server:
    """The default real model (a ChatML template in its GGUF), one server for the whole session
    (with /metrics: test_router counts the requests each worker served)."""
    if not SMOLLM.is_file():
        pytest.fail(f"{SMOLLM} is missing: run scripts/setup.sh (scripts/fetch_model.sh)")
    return launch(str(SMOLLM), "--enable-metrics")


@pytest.fixture(scope="session")
def qwen_chat(launch, model_path) -> Server:
    """The tiny Qwen2 checkpoint with the real Qwen3 tokenizer files, whose tokenizer_config.json
    chat template renders tools: one server for the OpenAI-route modules."""
    return launch(model_path)
