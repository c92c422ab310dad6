"""Soak driver (issue 16): many concurrent clients against one running sglang-cpp server, on raw
asyncio sockets (HTTP/1.1 written and read by hand, so garbage and hang-ups are exact).

Each client loops until the deadline, picking one behaviour per request:
  - hang-up (30 %): a streamed request, closed after its first event;
  - garbage (10 %): bad JSON, broken HTTP, a lying Content-Length, or raw bytes; any answer but a
    5xx is right (a 4xx, or the server closing the connection);
  - slow reader (a few %): a streamed request read a few bytes every 100 ms through a tiny receive
    buffer (the server must keep its buffered output bounded: backpressure);
  - normal: streamed or not, on /generate, /v1/chat/completions or /v1/completions; it must end
    with a finish_reason.
Afterwards: waits for the server to go idle, flushes the cache and checks that every KV page is
free; reads the server's peak RSS from /proc (VmHWM). Prints one JSON summary line.

Usable as a module (run_soak) by tests/api/test_soak.py and from bench/soak.sh."""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import socket
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field

PROMPTS = ["Tell me a story about a robot.", "What is the capital of France?",
           "List three colors.", "Explain recursion briefly.", "hi"]
GARBAGE = [
    # (raw bytes to send, what it is)
    (b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Content-Length: 9\r\n\r\n{\"text\": ", "truncated JSON"),
    (b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n[1,2]", "wrong JSON type"),
    (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n"
     b"{\"messages\":1", "bad chat body"),
    (b"GARBAGE / NOT-HTTP\r\n\r\n", "broken request line"),
    (b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"text\": \"hi\"",
     "short body, then hang-up"),
    (bytes(range(256)) * 4, "raw bytes"),
    (b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
     "bad chunk size"),
]


@dataclass
class Counts:
    requests: int = 0
    completed: int = 0       # ended with a finish_reason
    hung_up: int = 0         # closed by the client on purpose
    garbage: int = 0         # garbage sent, answered 4xx or closed
    slow_completed: int = 0  # slow readers that read to the end
    failed: int = 0
    failures: list = field(default_factory=list)

    def fail(self, what: str) -> None:
        self.failed += 1
        if len(self.failures) < 20:
            self.failures.append(what)


def body_for(kind: str, stream: bool, max_new: int, rng: random.Random) -> tuple[str, dict]:
    prompt = rng.choice(PROMPTS)
    if kind == "generate":
        return "/generate", {"text": prompt, "stream": stream,
                             "sampling_params": {"max_new_tokens": max_new, "temperature": 0.8}}
    if kind == "chat":
        return "/v1/chat/completions", {"model": "default", "stream": stream, "max_tokens": max_new,
                                        "messages": [{"role": "user", "content": prompt}]}
    return "/v1/completions", {"model": "default", "stream": stream, "max_tokens": max_new,
                               "prompt": prompt}


def request_bytes(path: str, body: dict) -> bytes:
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers


async def read_chunks(reader: asyncio.StreamReader, slow: int = 0):
    """Yields the pieces of a chunked body; `slow` > 0: that many bytes every 100 ms."""
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.strip().split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return
        if slow:
            data = b""
            while len(data) < size:
                piece = await reader.read(min(slow, size - len(data)))
                if not piece:
                    raise asyncio.IncompleteReadError(data, size)
                data += piece
                await asyncio.sleep(0.1)
        else:
            data = await reader.readexactly(size)
        await reader.readexactly(2)
        yield data


def finish_reason_of(kind: str, obj) -> object:
    """The finish_reason an answer (a whole body, or the last SSE event with one) carries."""
    objs = obj if isinstance(obj, list) else [obj]
    for o in objs:
        if not isinstance(o, dict):
            continue
        if kind == "generate":
            fr = (o.get("meta_info") or {}).get("finish_reason")
        else:
            fr = next((c.get("finish_reason") for c in o.get("choices") or []
                       if c.get("finish_reason")), None)
        if fr:
            return fr
    return None


async def connect(host: str, port: int, slow: bool):
    if not slow:
        return await asyncio.open_connection(host, port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    return await asyncio.open_connection(sock=sock, limit=1024)


async def one_request(host: str, port: int, rng: random.Random, c: Counts, args) -> None:
    roll = rng.random()
    c.requests += 1
    if roll < args.garbage:
        raw, what = rng.choice(GARBAGE)
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as e:
            c.fail(f"connect: {e}")
            return
        try:
            writer.write(raw)
            await writer.drain()
            if "hang-up" in what:
                c.garbage += 1
                return
            try:
                status, _ = await asyncio.wait_for(read_head(reader), 10)
            except (asyncio.IncompleteReadError, asyncio.TimeoutError, OSError):
                # Closed without an answer (broken HTTP), or still waiting for the rest of a
                # request that never comes: both are right.
                c.garbage += 1
                return
            if status >= 500:
                c.fail(f"garbage ({what}) answered {status}")
            else:
                c.garbage += 1
        except Exception as e:  # noqa: BLE001 (a client must never take the run down)
            c.fail(f"garbage ({what}): {type(e).__name__} {e}"[:200])
        finally:
            writer.close()
        return
    hang_up = roll < args.garbage + args.hang_up
    slow = not hang_up and roll < args.garbage + args.hang_up + args.slow
    stream = hang_up or slow or rng.random() < 0.5
    kind = rng.choice(["generate", "chat", "completions"])
    max_new = args.slow_max_new_tokens if slow else args.max_new_tokens
    path, body = body_for(kind, stream, max_new, rng)
    try:
        reader, writer = await connect(host, port, slow)
    except OSError as e:
        c.fail(f"connect: {e}")
        return
    try:
        writer.write(request_bytes(path, body))
        await writer.drain()
        status, headers = await asyncio.wait_for(read_head(reader), args.timeout)
        if status != 200:
            c.fail(f"{kind} stream={stream} answered {status}")
            return
        if not stream:
            data = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])),
                                          args.timeout)
            if finish_reason_of(kind, json.loads(data)):
                c.completed += 1
            else:
                c.fail(f"{kind} without a finish_reason: {data[:200]!r}")
            return
        buf, last_fr, done = b"", None, False

        async def consume():
            nonlocal buf, last_fr, done
            async for piece in read_chunks(reader, args.slow_read_bytes if slow else 0):
                buf += piece
                while b"\n\n" in buf:
                    event, buf = buf.split(b"\n\n", 1)
                    payload = event[len(b"data: "):]
                    if payload == b"[DONE]":
                        done = True
                        continue
                    fr = finish_reason_of(kind, json.loads(payload))
                    last_fr = fr or last_fr
                    if hang_up:
                        return
        await asyncio.wait_for(consume(), args.timeout * (10 if slow else 1))
        if hang_up:
            c.hung_up += 1
        elif last_fr and done:
            c.completed += 1
            c.slow_completed += int(slow)
        else:
            c.fail(f"{kind} stream ended without finish_reason/[DONE]")
    except Exception as e:  # noqa: BLE001 (timeouts, resets, bad JSON: all failures)
        c.fail(f"{kind} stream={stream} slow={slow}: {type(e).__name__} {e}"[:200])
    finally:
        writer.close()


async def client(i: int, host: str, port: int, deadline: float, c: Counts, args) -> None:
    rng = random.Random(args.seed * 100003 + i)
    await asyncio.sleep(rng.random() * min(2.0, args.duration / 4))  # spread the first wave
    while time.monotonic() < deadline:
        await one_request(host, port, rng, c, args)


def get_json(url: str, path: str):
    with urllib.request.urlopen(url + path, timeout=30) as r:
        return json.loads(r.read())


def peak_rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return -1.0


def pool_after(url: str, wait_s: float = 60) -> dict:
    """Waits for idle, flushes the cache and reports whether every page of every replica is free."""
    deadline = time.time() + wait_s
    while time.time() < deadline:
        loads = get_json(url, "/get_load")
        if all(x["num_reqs"] == 0 for x in loads):
            break
        time.sleep(0.2)
    req = urllib.request.Request(url + "/flush_cache", method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        flushed = r.status == 200
    info = get_json(url, "/get_server_info")
    states = info["internal_states"]
    page = int(info.get("page_size") or 1)
    whole = all(s["num_used_tokens"] == 0 and s["num_cached_pages"] == 0 and
                s["num_free_pages"] * page >= s["memory_usage"]["token_capacity"]
                for s in states)
    return {"flushed": flushed, "pool_whole": whole,
            "free_pages": [s["num_free_pages"] for s in states],
            "capacity_tokens": [s["memory_usage"]["token_capacity"] for s in states]}


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url + "/metrics", timeout=30) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return -1.0


def run_soak(host: str, port: int, server_pid: int, args) -> dict:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, args.clients * 2 + 256)), hard))
    c = Counts()

    async def main():
        deadline = time.monotonic() + args.duration
        await asyncio.gather(*(client(i, host, port, deadline, c, args)
                               for i in range(args.clients)))

    t0 = time.monotonic()
    asyncio.run(main())
    elapsed = time.monotonic() - t0
    url = f"http://{host}:{port}"
    # duration_s: until the last client's last request ended (the requests in flight at the
    # deadline run to their end, slow readers included).
    out = {"clients": args.clients, "requested_duration_s": args.duration,
           "duration_s": round(elapsed, 1), **asdict(c)}
    out.update(pool_after(url))
    out["alive"] = get_json(url, "/get_load") is not None
    out["peak_rss_mb"] = round(peak_rss_mb(server_pid), 1)
    out["stream_buffered_peak_bytes"] = metric(url, "sglang_cpp_http_stream_buffered_bytes_peak")
    out["backpressure_waits"] = metric(url, "sglang_cpp_http_stream_backpressure_waits_total")
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--server-pid", type=int, default=0, help="for the peak RSS (/proc)")
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--duration", type=float, default=300, help="seconds")
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--slow-max-new-tokens", type=int, default=64)
    p.add_argument("--hang-up", type=float, default=0.30)
    p.add_argument("--garbage", type=float, default=0.10)
    p.add_argument("--slow", type=float, default=0.03)
    p.add_argument("--slow-read-bytes", type=int, default=64, help="a slow reader's bytes / 100 ms")
    p.add_argument("--timeout", type=float, default=600, help="per request, seconds")
    p.add_argument("--seed", type=int, default=0)
    return p


if __name__ == "__main__":
    a = parser().parse_args()
    result = run_soak(a.host, a.port, a.server_pid, a)
    print(json.dumps(result))
    ok = (result["failed"] == 0 and result["pool_whole"] and result["alive"])
    sys.exit(0 if ok else 1)
