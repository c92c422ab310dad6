#!/usr/bin/env bash
# Structured-output speed, our grammar engine (src/sampling/grammar/) vs xgrammar (PyPI, pinned in
# bench/requirements-grammar.txt; SGLang's default grammar backend), same run, same cases
# (bench/grammar_cases.json: JSON schemas, regexes, any-JSON, an EBNF grammar, each with a valid
# instance), same token sequences (the instance tokenized once, by the Python side), on the Qwen3
# (151k) and Llama 3 (128k) vocabularies: compile time, and fill_next_token_bitmask time per token
# (median and P99 over the instance's steps). Then end to end: the default model's decode tok/s of
# a greedy /generate of 128 tokens with and without a JSON schema (same prompt, median of a few).
# Usage: bench/grammar.sh   (PASSES=5 COMPILE_RUNS=5 MIN_STEPS=500 E2E_REPEATS=7 to change the
#        loops: at least PASSES passes over an instance, more until MIN_STEPS steps are timed;
#        GRAMMAR_VENV=dir for the xgrammar venv, created when missing; SKIP_MASKS=1 or SKIP_E2E=1
#        for one half only; GRAMMAR_SOURCE=xgrammar: our engine on xgrammar's EBNF of every case)
# Needs scripts/setup.sh done (build/, models/). Run it with nothing else running.
set -euo pipefail
cd "$(dirname "$0")/.."
PASSES=${PASSES:-5}
COMPILE_RUNS=${COMPILE_RUNS:-5}
MIN_STEPS=${MIN_STEPS:-500}
E2E_REPEATS=${E2E_REPEATS:-7}
PORT=${PORT:-30125}
VENV=${GRAMMAR_VENV:-.venv-bench-grammar}
OUT=bench/out/grammar
mkdir -p "$OUT"
ASSETS=../shared/assets
[ -d "$ASSETS" ] || ASSETS=models/assets
ninja -C build sglang-bench-grammar sglang-cpp >/dev/null

# xgrammar 0.1.x needs torch; PyPI's Linux torch wheel brings its CUDA libraries along (unused).
if [ ! -x "$VENV/bin/python" ] || ! cmp -s bench/requirements-grammar.txt "$VENV/.requirements"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r bench/requirements-grammar.txt
  cp bench/requirements-grammar.txt "$VENV/.requirements"
fi
XGR_VERSION=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("xgrammar"))')
echo "xgrammar $XGR_VERSION; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"

for t in $([ "${SKIP_MASKS:-0}" = 1 ] || echo qwen3 llama3); do
  TOK=$ASSETS/$t-tokenizer/tokenizer.json
  "$VENV/bin/python" bench/grammar_xgrammar.py bench/grammar_cases.json "$TOK" "$OUT/$t.xgrammar.json" \
    --passes "$PASSES" --compile-runs "$COMPILE_RUNS" --min-steps "$MIN_STEPS" 2>"$OUT/$t.xgrammar.log" || {
      cat "$OUT/$t.xgrammar.log" >&2
      exit 1
    }
  ./build/bench/sglang-bench-grammar --cases bench/grammar_cases.json --xgrammar "$OUT/$t.xgrammar.json" \
    --tokenizer "$TOK" --passes "$PASSES" --compile-runs "$COMPILE_RUNS" --min-steps "$MIN_STEPS" \
    --grammar-source "${GRAMMAR_SOURCE:-ours}" >"$OUT/$t.ours.json" \
    2>"$OUT/$t.ours.log" || {
      cat "$OUT/$t.ours.log" >&2
      exit 1
    }
  echo
  echo "### $t ($("$VENV/bin/python" -c "import json; print(json.load(open('$OUT/$t.xgrammar.json'))['vocab_size'])") tokens)"
  python3 - "$OUT/$t.ours.json" "$OUT/$t.xgrammar.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1])); x = json.load(open(sys.argv[2]))
print("| case | tokens | compile ms ours | xgrammar | ratio | mask µs median ours | xgrammar "
      "| mask µs P99 ours | xgrammar | masks differ |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
notes = set()
for oc, xc in zip(o["cases"], x["cases"]):
    assert oc["name"] == xc["name"]
    name = oc["name"] + ("" if oc["grammar_source"] == "ours" else " ¹")
    if oc["grammar_source"] != "ours":
        notes.add("¹ our engine on xgrammar's EBNF of the case (not our front-end's: not merged yet, or GRAMMAR_SOURCE=xgrammar)")
    co, cx = oc["compile_ms"]["median"], xc["compile_ms"]["median"]
    mo, mx = oc["mask_us"], xc["mask_us"]
    print(f"| {name} | {oc['tokens']} | {co:.2f} | {cx:.2f} | {co / cx:.2f} | {mo['median']:.2f} "
          f"| {mx['median']:.2f} | {mo['p99']:.2f} | {mx['p99']:.2f} "
          f"| {oc['count_mismatches']}/{len(oc['allowed_counts'])} |")
print(f"(xgrammar's times include its Python call floor, {x['call_floor_us']:.2f} µs: a timed "
      "is_terminated() call; ours are C++ calls)")
print("(compile: median of the runs, ratio = ours / xgrammar, target ≤ 2; mask: per step of the "
      "instance, all passes pooled, target ≤ xgrammar; masks differ: steps whose mask (over the tokens both treat as text) "
      "is not xgrammar's)")
for n in sorted(notes):
    print(n)
PY
done

[ "${SKIP_E2E:-0}" = 1 ] && exit 0
# End to end: greedy decode of 128 tokens, free and constrained to an array of at least 48
# strings (so the grammar cannot end before 128 tokens), timed from the first streamed chunk to
# the last (decode only: the prompt's prefill and the grammar's compile come before the first).
MODEL=${MODEL:-$(ls models/SmolLM2-135M-Instruct/*.gguf | head -1)}
./build/src/sglang-cpp serve --model-path "$MODEL" --port "$PORT" --log-level warning \
  >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  sleep 1
done
echo
echo "### end to end: $(basename "$MODEL"), /generate, 128 greedy tokens"
"$VENV/bin/python" - "$PORT" "$E2E_REPEATS" <<'PY'
import json, statistics, sys, time
import requests
import xgrammar as xgr
port, repeats = sys.argv[1], int(sys.argv[2])
prompt = ("<|im_start|>user\nList the names of as many fruits as you can, as a JSON array of "
          "strings.<|im_end|>\n<|im_start|>assistant\n")
schema = json.dumps({"type": "array", "items": {"type": "string"}, "minItems": 48})
# Until our JSON-schema front-end is in, the server takes only EBNF: then the same schema goes as
# xgrammar's EBNF of it (the same language).
key = ["json_schema", schema]
probe = requests.post(f"http://127.0.0.1:{port}/generate", json={
    "text": prompt, "sampling_params": {"max_new_tokens": 1, "json_schema": schema}})
if probe.status_code == 400 and "only ebnf" in probe.text:
    key = ["ebnf", str(xgr.Grammar.from_json_schema(schema))]

def run(constrained):
    params = {"temperature": 0, "max_new_tokens": 128, "ignore_eos": True}
    if constrained:
        params[key[0]] = key[1]
    r = requests.post(f"http://127.0.0.1:{port}/generate", stream=True,
                      json={"text": prompt, "sampling_params": params, "stream": True})
    if r.status_code != 200:
        sys.exit(f"/generate answered {r.status_code}: {r.text[:300]}")
    first = last = None
    text = ""
    for line in r.iter_lines():
        if not line.startswith(b"data:") or line == b"data: [DONE]":
            continue
        chunk = json.loads(line[5:])
        if "error" in chunk:
            sys.exit(f"/generate: {chunk['error']}")
        now, n = time.perf_counter(), chunk["meta_info"]["completion_tokens"]
        if first is None:
            first = (now, n)
        last = (now, n)
        text = chunk["text"]
    if last[1] != 128:
        sys.exit(f"{'constrained' if constrained else 'free'} run gave {last[1]} tokens, not 128")
    return (last[1] - first[1]) / (last[0] - first[0]), text

run(False), run(True)  # warm-up (and the grammar's compile)
rates = {False: [], True: []}
for _ in range(repeats):
    for c in (False, True):
        rate, text = run(c)
        rates[c].append(rate)
        if c and not text.lstrip().startswith("["):
            sys.exit(f"the constrained output is not a JSON array: {text[:80]!r}")
free, constrained = statistics.median(rates[False]), statistics.median(rates[True])
print("| decode | tok/s (median of %d) | runs |" % repeats)
print("| --- | ---: | --- |")
print(f"| free | {free:.1f} | {' '.join(f'{r:.1f}' for r in rates[False])} |")
label = "JSON schema" if key[0] == "json_schema" else "xgrammar's EBNF of the JSON schema"
print(f"| {label} (array of ≥ 48 strings) | {constrained:.1f} | "
      f"{' '.join(f'{r:.1f}' for r in rates[True])} |")
print(f"| ratio constrained / free | {constrained / free:.3f} | target ≥ 0.95 |")
print(f"(decode only: first streamed chunk to the last; free and constrained alternate; the "
      f"constrained output begins {text[:48]!r})")
PY
