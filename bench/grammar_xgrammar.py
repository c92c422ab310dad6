"""The xgrammar side of bench/grammar.sh: compile time and per-token mask time of each case of
bench/grammar_cases.json on one tokenizer, with xgrammar as SGLang uses it (its xgrammar grammar
backend: TokenizerInfo.from_huggingface, GrammarCompiler, GrammarMatcher).

Per case: compile time of a fresh GrammarCompiler(max_threads=2, cache_enabled=False) per run
(median and minimum of --compile-runs); then the case's instance text tokenized with the same
tokenizer is stepped through: before each token (and once more before the end) the timed call is
fill_next_token_bitmask alone, then the token is checked against the mask and accepted. The first
pass is a warm-up that also checks the instance; --passes timed passes follow, a fresh matcher
each, and median and P99 are over all their steps pooled. The same token ids, the stop ids,
xgrammar's own EBNF of the case and each step's allowed count and mask hash are written out so
the C++ side (bench/grammar.cpp) walks the same sequence and compares its masks with these.

Usage: grammar_xgrammar.py CASES TOKENIZER_JSON OUT_JSON [--passes N] [--compile-runs N]
"""

import argparse
import json
import statistics
import sys
import time

import numpy as np
import xgrammar as xgr
from transformers import PreTrainedTokenizerFast


STOP_TOKENS = ["<|endoftext|>", "<|im_end|>", "<|end_of_text|>", "<|eot_id|>"]


def bitmask_words(vocab_size):
    return (vocab_size + 31) // 32


def splitmix64(n):
    # splitmix64 of 0..n-1 (uint64 arithmetic wraps, as in bench/grammar.cpp's mask_hash).
    with np.errstate(over="ignore"):
        z = np.arange(n, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def mask_hash(words, weights):
    # Sum of word * weight (mod 2^64): two masks that differ anywhere differ here but by chance.
    with np.errstate(over="ignore"):
        return int((words.astype(np.uint64) * weights).sum(dtype=np.uint64))


def percentile(sorted_values, q):
    # Nearest rank, as bench/grammar.cpp computes it.
    k = max(0, min(len(sorted_values) - 1, int(np.ceil(q / 100.0 * len(sorted_values))) - 1))
    return sorted_values[k]


def compile_case(compiler, case):
    kind, spec = case["kind"], case["spec"]
    if kind == "json_schema":
        return compiler.compile_json_schema(spec)  # any_whitespace=True: SGLang's default
    if kind == "regex":
        return compiler.compile_regex(spec)
    if kind == "json_object":
        return compiler.compile_builtin_json_grammar()
    if kind == "ebnf":
        return compiler.compile_grammar(spec)
    raise ValueError(f"unknown case kind {kind}")


def grammar_of(case):
    # xgrammar's grammar of the case before compilation, printed as EBNF.
    kind, spec = case["kind"], case["spec"]
    if kind == "json_schema":
        return str(xgr.Grammar.from_json_schema(spec))
    if kind == "regex":
        return str(xgr.Grammar.from_regex(spec))
    if kind == "json_object":
        return str(xgr.Grammar.builtin_json_grammar())
    return str(xgr.Grammar.from_ebnf(spec))


def walk(compiled, token_ids, bitmask, info, record=None, text_tokens=None):
    """One pass over the sequence; returns per-step fill times (ns) and, when `record` holds the
    hash weights, allowed-token counts and mask hashes (over `text_tokens` only, a bitmask of
    the ids both engines treat as text)."""
    matcher = xgr.GrammarMatcher(compiled, max_rollback_tokens=200)
    times, counts, hashes = [], [], []
    view = bitmask.numpy().view(np.uint32)
    for step in range(len(token_ids) + 1):
        t0 = time.perf_counter_ns()
        matcher.fill_next_token_bitmask(bitmask)
        times.append(time.perf_counter_ns() - t0)
        if record is not None:
            text = view[0] & text_tokens
            counts.append(int(np.unpackbits(text.view(np.uint8)).sum()))
            hashes.append(mask_hash(text, record))
        if step == len(token_ids):
            stop = info.stop_token_ids[0]
            if not (view[0, stop // 32] >> (stop % 32)) & 1:
                sys.exit(f"xgrammar: the stop token is masked at the end of the instance")
            break
        tid = token_ids[step]
        if not (view[0, tid // 32] >> (tid % 32)) & 1:
            sys.exit(f"xgrammar: token {step} ({tid}) of the instance is masked")
        if not matcher.accept_token(tid):
            sys.exit(f"xgrammar: token {step} ({tid}) of the instance is rejected")
    if not matcher.is_terminated() and not matcher.accept_token(info.stop_token_ids[0]):
        sys.exit("xgrammar: the instance does not end the grammar")
    return times, (counts, hashes)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cases")
    ap.add_argument("tokenizer")
    ap.add_argument("out")
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--compile-runs", type=int, default=5)
    ap.add_argument("--min-steps", type=int, default=500,
                    help="more passes over a short instance, so P99 is not its maximum")
    args = ap.parse_args()

    tokenizer = PreTrainedTokenizerFast(tokenizer_file=args.tokenizer)
    vocab_size = len(tokenizer.get_vocab())
    vocab = tokenizer.get_vocab()
    # The chat models' end tokens (SGLang's tokenizer has them as eos; a bare tokenizer.json does
    # not say, and xgrammar's guess takes Qwen's ordinary "</s>" token).
    stop_ids = [vocab[t] for t in STOP_TOKENS if t in vocab]
    info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size,
                                              stop_token_ids=stop_ids)
    # xgrammar matches the added special tokens (<|im_start|>, ...) by their text and lets the
    # bytes C0, C1, F5-FF (never in UTF-8) into strings; ours masks both. The allowed counts
    # compared with ours leave them out.
    text_tokens = np.full(bitmask_words(vocab_size), 0xFFFFFFFF, dtype=np.uint32)
    added = json.load(open(args.tokenizer, encoding="utf-8")).get("added_tokens", [])
    bad_bytes = set(range(0xF5, 0x100)) | {0xC0, 0xC1}
    excluded = {a["id"] for a in added if a.get("special")} - set(stop_ids)
    excluded |= {i for i, b in enumerate(info.decoded_vocab) if bad_bytes & set(b)}
    weights = splitmix64(bitmask_words(vocab_size))
    for i in excluded:
        text_tokens[i // 32] &= ~np.uint32(1 << (i % 32))
    bitmask = xgr.allocate_token_bitmask(1, vocab_size)
    out = {
        "engine": "xgrammar",
        "version": xgr.__version__ if hasattr(xgr, "__version__") else "",
        "vocab_size": vocab_size,
        "vocab_type": str(info.vocab_type),
        "stop_token_ids": list(info.stop_token_ids),
        "cases": [],
    }
    for case in json.load(open(args.cases, encoding="utf-8"))["cases"]:
        compile_ms = []
        for _ in range(args.compile_runs):
            compiler = xgr.GrammarCompiler(info, max_threads=2, cache_enabled=False)
            t0 = time.perf_counter()
            compiled = compile_case(compiler, case)
            compile_ms.append((time.perf_counter() - t0) * 1e3)
        token_ids = tokenizer.encode(case["instance"], add_special_tokens=False)
        if tokenizer.decode(token_ids) != case["instance"]:
            sys.exit(f"{case['name']}: the instance does not round-trip through the tokenizer")
        _, (counts, hashes) = walk(compiled, token_ids, bitmask, info, record=weights,
                                   text_tokens=text_tokens)  # warm-up and check
        times, per_pass = [], []
        passes = max(args.passes, -(-args.min_steps // (len(token_ids) + 1)))
        for _ in range(passes):
            per_pass.append(walk(compiled, token_ids, bitmask, info)[0])
            times += per_pass[-1]
        step_us = [statistics.median(p[s] for p in per_pass) / 1e3 for s in range(len(per_pass[0]))]
        us = sorted(t / 1e3 for t in times)
        out["cases"].append({
            "name": case["name"],
            "ebnf": grammar_of(case),
            "token_ids": token_ids,
            "allowed_counts": counts,
            "mask_hashes": hashes,
            "step_us": step_us,
            "compile_ms": {"median": statistics.median(compile_ms), "min": min(compile_ms)},
            "mask_us": {"median": statistics.median(us), "p99": percentile(us, 99), "max": us[-1],
                        "steps": len(us)},
        })
        print(f"{case['name']}: {len(token_ids)} tokens, compile {statistics.median(compile_ms):.2f} ms, "
              f"mask median {statistics.median(us):.2f} us p99 {percentile(us, 99):.2f} us",
              file=sys.stderr)
    # The floor of a timed call into xgrammar from Python: a matcher's is_terminated() timed the
    # same way (perf_counter_ns around one call). Part of every mask time above; ours has none.
    matcher = xgr.GrammarMatcher(compiled)
    floor = []
    for _ in range(5000):
        t0 = time.perf_counter_ns()
        matcher.is_terminated()
        floor.append(time.perf_counter_ns() - t0)
    out["call_floor_us"] = statistics.median(floor) / 1e3
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
