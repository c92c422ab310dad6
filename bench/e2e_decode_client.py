#!/usr/bin/env python3
"""Single-request decode as a streaming client sees it (stdlib only).

    e2e_decode_client.py sglang PORT [--tokens 128] [--runs 3] [--prompt-ids 1,2,3,4]
    e2e_decode_client.py llama-cpp GGUF --threads N [--tokens 128] [--runs 3] [--prompt-ids ...]

sglang: POST /generate with input_ids, greedy (temperature 0), ignore_eos, max_new_tokens TOKENS,
stream true; each SSE event is timestamped on arrival. llama-cpp: llama-cpp-python's
Llama.generate loop (greedy: top_k 1, sampling in Python included), TOKENS tokens taken, EOS ignored.
Per run: decode_tok_s = (tokens - 1) / (time of the last token - time of the first token), the
rate of the steps after the prompt, as the raw forward loop measures it; e2e_tok_s = tokens /
(time of the last token - time the request was sent). Prints one JSON line: the best run of each
(the machine is shared, so the fastest run is the least disturbed one) and every run's figures.
"""
import argparse
import http.client
import json
import time


def sglang_run(port, prompt, tokens):
    body = json.dumps({"input_ids": prompt, "stream": True,
                       "sampling_params": {"temperature": 0, "max_new_tokens": tokens,
                                           "ignore_eos": True}})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.perf_counter()
    conn.request("POST", "/generate", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    stamps, n, ids = [], 0, []
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data:") or line == b"data: [DONE]":
            continue
        out = json.loads(line[5:])
        got = len(out["output_ids"])  # cumulative (no --incremental-streaming-output)
        now = time.perf_counter()
        stamps.extend([now] * (got - n))
        n, ids = got, out["output_ids"]
    conn.close()
    return t0, stamps, ids


def llama_cpp_runner(gguf, threads):
    import llama_cpp  # noqa: PLC0415 (only in the bench venv)

    llm = llama_cpp.Llama(model_path=gguf, n_threads=threads, n_threads_batch=threads, n_ctx=512,
                          verbose=False)

    def run(prompt, tokens):
        llm.reset()
        t0 = time.perf_counter()
        stamps, ids = [], []
        for tok in llm.generate(prompt, top_k=1, top_p=1.0, temp=0.0, reset=True):
            stamps.append(time.perf_counter())
            ids.append(tok)
            if len(ids) == tokens:
                break
        return t0, stamps, ids

    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("engine", choices=["sglang", "llama-cpp"])
    ap.add_argument("target", help="port (sglang) or GGUF path (llama-cpp)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--prompt-ids", default="1,2,3,4")
    args = ap.parse_args()
    prompt = [int(x) for x in args.prompt_ids.split(",")]
    if args.engine == "sglang":
        run = lambda p, t: sglang_run(int(args.target), p, t)  # noqa: E731
    else:
        run = llama_cpp_runner(args.target, args.threads)
    run(prompt, 8)  # warm-up
    runs = []
    for _ in range(args.runs):
        t0, stamps, ids = run(prompt, args.tokens)
        if len(stamps) != args.tokens:
            raise SystemExit(f"got {len(stamps)} tokens, expected {args.tokens}")
        runs.append({"decode_tok_s": (len(stamps) - 1) / (stamps[-1] - stamps[0]),
                     "e2e_tok_s": len(stamps) / (stamps[-1] - t0),
                     "ttft_s": stamps[0] - t0})
    best = max(runs, key=lambda r: r["decode_tok_s"])
    print(json.dumps({"engine": args.engine, "tokens": args.tokens, "prompt_len": len(prompt),
                      "decode_tok_s": best["decode_tok_s"], "e2e_tok_s": best["e2e_tok_s"],
                      "runs": runs, "output_ids_head": ids[:8]}))


if __name__ == "__main__":
    main()
