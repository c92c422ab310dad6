#!/usr/bin/env bash
# Chat-template rendering, sglang.cpp's Jinja engine (src/chat/chat_template.h) vs Python jinja2
# 3.1.4 configured as transformers configures it, same run, same inputs: a 20-turn conversation with
# two tool definitions, assistant tool calls and tool results (bench/chat_template_inputs.py),
# rendered with the default model's template (SmolLM2, from its GGUF), Qwen3's and Llama 3.1's.
# Prints per-call microseconds of parse and render for both and the ratio, and fails if the two
# rendered texts differ.
# Usage: bench/chat_template.sh   (REPEATS=7 LOOP_SECONDS=0.3 to change the timing loops)
# Needs scripts/setup.sh done (the .venv with jinja2 and gguf, models/); the llama-cpp-python
# sdist is fetched into build/template-reference/ as the conformance fixture does.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${REPEATS:-7}
LOOP_SECONDS=${LOOP_SECONDS:-0.3}
ninja -C build sglang-bench-chat-template >/dev/null
OUT=bench/out/chat-template
mkdir -p "$OUT"
read -r -a TEMPLATES < <(.venv/bin/python bench/chat_template_inputs.py "$OUT" build/template-reference)
for t in "${TEMPLATES[@]}"; do
  ./build/bench/sglang-bench-chat-template --template "$OUT/$t.jinja" --context "$OUT/context.json" \
    --output "$OUT/$t.ours.txt" --repeats "$REPEATS" --loop-seconds "$LOOP_SECONDS" >"$OUT/$t.ours.json"
  .venv/bin/python bench/chat_template_jinja2.py "$OUT/$t.jinja" "$OUT/context.json" \
    "$OUT/$t.jinja2.txt" "$REPEATS" "$LOOP_SECONDS" >"$OUT/$t.jinja2.json"
  cmp -s "$OUT/$t.ours.txt" "$OUT/$t.jinja2.txt" || {
    echo "$t: the rendered texts differ: diff $OUT/$t.ours.txt $OUT/$t.jinja2.txt" >&2
    exit 1
  }
done
python3 - "$OUT" "${TEMPLATES[@]}" <<'PY'
import json, sys
out, names = sys.argv[1], sys.argv[2:]
print("| template | output bytes | render sglang.cpp µs | render jinja2 µs | render ratio "
      "| parse sglang.cpp µs | parse jinja2 µs | parse ratio |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for n in names:
    o = json.load(open(f"{out}/{n}.ours.json")); j = json.load(open(f"{out}/{n}.jinja2.json"))
    assert o["output_bytes"] == j["output_bytes"]
    cells = []
    for k in ("render", "parse"):
        # min: the loop least disturbed by other processes; median in parentheses.
        mo, mj = o[k]["min_us"], j[k]["min_us"]
        cells.append(f"{mo:.0f} ({o[k]['median_us']:.0f}) | {mj:.0f} ({j[k]['median_us']:.0f}) "
                     f"| {mj / mo:.2f} ({j[k]['median_us'] / o[k]['median_us']:.2f})")
    print(f"| {n} | {o['output_bytes']} | " + " | ".join(cells) + " |")
print("(per call: minimum (median) of the timed loops, ratio = jinja2 / sglang.cpp; identical "
      "rendered text for every template)")
PY
