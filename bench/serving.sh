#!/usr/bin/env bash
# Online serving benchmark: SGLang's own client (`python -m sglang.bench_serving`, from the sglang
# PyPI package installed without its GPU dependencies) against our server on the default model
# (SmolLM2-135M-Instruct Q4_1 GGUF), and against llama-server on the same file when one is built:
# request throughput, TTFT and ITL percentiles at several request rates, random token-id prompts
# (the same prompts at every rate; the radix cache is flushed before each run, so no run reuses the
# previous one's prefixes).
# Our server runs once per entry of CONFIGS (';'-separated lists of flags, "default" for none), so
# scheduling options are compared in one run, e.g.
#   CONFIGS="default;--disable-mixed-chunk;--chunked-prefill-size 1024"
# (leading NAME=value words set the server's environment: "SGLANG_MIXED_CHUNK_PREFILL_SIZE=64").
# llama-server (bench/build_llama_server.sh builds it into .llama-server/, which this script uses
# when it is there; LLAMA_SERVER=path to use another, LLAMA_SERVER=none to skip it) runs on the
# same file and threads with LLAMA_SLOTS slots, continuous batching, its RAM prompt cache off,
# through bench_serving's OpenAI completions backend; the last table gives ours / llama-server
# per rate (output tok/s: higher is better; latencies: lower is better).
# Usage: bench/serving.sh   (MODEL=file.gguf or a Hugging Face dir; RATES="1 2 4 inf" NUM_PROMPTS=32
#        INPUT_LEN=256 OUTPUT_LEN=64 THREADS=$(nproc) to change the load)
# Needs scripts/setup.sh done. Run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-$(./scripts/fetch_model.sh)}
RATES=${RATES:-"1 2 4 inf"}
NUM_PROMPTS=${NUM_PROMPTS:-32}
INPUT_LEN=${INPUT_LEN:-256}
OUTPUT_LEN=${OUTPUT_LEN:-64}
THREADS=${THREADS:-$(nproc)}
CONFIGS=${CONFIGS:-"default"}
# Our server's --log-level (info with SGLANG_STEP_PROFILE=N shows what each step held).
LOG_LEVEL=${LOG_LEVEL:-warning}
LLAMA_SERVER=${LLAMA_SERVER:-.llama-server/bin/llama-server}
if [ "$LLAMA_SERVER" = none ] || [ ! -x "$LLAMA_SERVER" ]; then
  [ "$LLAMA_SERVER" != none ] && echo "no $LLAMA_SERVER (bench/build_llama_server.sh): ours only" >&2
  LLAMA_SERVER=
fi
LLAMA_SLOTS=${LLAMA_SLOTS:-8}
PORT=${PORT:-30123}
VENV=${SERVING_VENV:-.venv-bench-serving}
OUT=bench/out
mkdir -p "$OUT"
ninja -C build sglang-cpp >/dev/null

if [ ! -x "$VENV/bin/python" ] || ! cmp -s bench/requirements-serving.txt "$VENV/.requirements"; then
  python3 -m venv "$VENV"
  grep -v '^sglang==' bench/requirements-serving.txt | "$VENV/bin/pip" install -q -r /dev/stdin
  "$VENV/bin/pip" install -q --no-deps "$(grep '^sglang==' bench/requirements-serving.txt)"
  cp bench/requirements-serving.txt "$VENV/.requirements"
fi
# bench_serving needs a Hugging Face tokenizer directory; a GGUF file has its tokenizer inside.
if [[ "$MODEL" == *.gguf ]]; then
  TOK=$OUT/serving-tokenizer
  "$VENV/bin/python" bench/gguf_tokenizer_json.py "$MODEL" "$TOK" >&2
else
  TOK=$MODEL
fi

SERVER=
trap '[ -n "$SERVER" ] && kill -TERM $SERVER 2>/dev/null; wait 2>/dev/null' EXIT
wait_ready() {
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$PORT/$1" >/dev/null && return 0
    kill -0 "$SERVER" 2>/dev/null || {
      echo "the server exited; its log: $2" >&2
      tail -5 "$2" >&2
      exit 1
    }
    sleep 1
  done
  echo "server did not come up" >&2
  exit 1
}
stop_server() {
  kill -TERM "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  SERVER=
}
# run_rates NAME BACKEND [bench_serving flags]: every rate against the server on $PORT.
run_rates() {
  local name=$1 backend=$2
  shift 2
  for rate in $RATES; do
    echo "== $name, request rate $rate" >&2
    local out="$OUT/serving_${name}_$rate"
    rm -f "$out.jsonl"
    HF_HUB_OFFLINE=1 "$VENV/bin/python" -m sglang.bench_serving --backend "$backend" \
      --host 127.0.0.1 --port "$PORT" --model "$TOK" --tokenizer "$TOK" \
      --dataset-name random-ids --random-input-len "$INPUT_LEN" --random-output-len "$OUTPUT_LEN" \
      --random-range-ratio 1.0 --num-prompts "$NUM_PROMPTS" --request-rate "$rate" --seed 1 \
      --output-file "$out.jsonl" "$@" >"$out.txt" 2>&1 || {
        tail -30 "$out.txt" >&2
        exit 1
      }
  done
}

NAMES=()
IFS=';' read -r -a CONFIG_LIST <<<"$CONFIGS"
for i in "${!CONFIG_LIST[@]}"; do
  flags=${CONFIG_LIST[$i]}
  [ "$flags" = default ] && flags=
  name="ours$i"
  NAMES+=("$name")
  echo "$name: sglang-cpp serve ${flags:-(defaults)}" | tee "$OUT/serving_${name}_config.txt" >&2
  # Leading NAME=value words of an entry are the server's environment (e.g.
  # "SGLANG_MIXED_CHUNK_PREFILL_SIZE=64"), the rest its flags.
  envs=() args=()
  for word in $flags; do
    if [ ${#args[@]} -eq 0 ] && [[ "$word" =~ ^[A-Z_][A-Z0-9_]*= ]]; then
      envs+=("$word")
    else
      args+=("$word")
    fi
  done
  env "${envs[@]}" ./build/src/sglang-cpp serve --model-path "$MODEL" --port "$PORT" \
    --threads "$THREADS" --log-level "$LOG_LEVEL" "${args[@]}" \
    >"$OUT/serving_${name}_server.log" 2>&1 &
  SERVER=$!
  wait_ready health "$OUT/serving_${name}_server.log"
  run_rates "$name" sglang --flush-cache
  stop_server
done

if [ -n "$LLAMA_SERVER" ]; then
  NAMES+=("llama")
  echo "llama: llama-server -np $LLAMA_SLOTS" | tee "$OUT/serving_llama_config.txt" >&2
  # Context per slot: the prompt and the output with room to spare.
  "$LLAMA_SERVER" -m "$MODEL" --port "$PORT" -t "$THREADS" -tb "$THREADS" -np "$LLAMA_SLOTS" \
    -c $((LLAMA_SLOTS * (INPUT_LEN + OUTPUT_LEN + 64))) -cb --cache-ram 0 --no-webui \
    >"$OUT/serving_llama_server.log" 2>&1 &
  SERVER=$!
  wait_ready health "$OUT/serving_llama_server.log"
  run_rates llama sglang-oai
  stop_server
fi

python3 - "$OUT" "$NUM_PROMPTS" "${NAMES[*]}" $RATES <<'PY'
import json, sys
out, n, names, rates = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4:]
for name in names:
    print(open(f"{out}/serving_{name}_config.txt").read().strip())
print("\n| rate (req/s) | server | ok | achieved req/s | output tok/s | TTFT median / P99 (ms) "
      "| ITL median / P99 (ms) |")
print("| ---: | --- | ---: | ---: | ---: | --- | --- |")
for rate in rates:
    for name in names:
        m = json.loads(open(f"{out}/serving_{name}_{rate}.jsonl").read().splitlines()[-1])
        print(f"| {rate} | {name} | {m['completed']}/{n} | {m['request_throughput']:.2f} "
              f"| {m['output_throughput']:.1f} "
              f"| {m['median_ttft_ms']:.0f} / {m['p99_ttft_ms']:.0f} "
              f"| {m['median_itl_ms']:.0f} / {m['p99_itl_ms']:.0f} |")
if "llama" in names:
    keys = ["output_throughput", "median_ttft_ms", "p99_ttft_ms", "median_itl_ms", "p99_itl_ms"]
    print("\nours / llama-server, same run (output tok/s: > 1 is better; latencies: < 1 is better)\n")
    print("| rate (req/s) | server | output tok/s | TTFT median | TTFT P99 | ITL median | ITL P99 |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for rate in rates:
        theirs = json.loads(open(f"{out}/serving_llama_{rate}.jsonl").read().splitlines()[-1])
        for name in names[:-1]:
            m = json.loads(open(f"{out}/serving_{name}_{rate}.jsonl").read().splitlines()[-1])
            cells = " | ".join(f"{m[k] / theirs[k]:.2f}" if theirs[k] else "-" for k in keys)
            print(f"| {rate} | {name} | {cells} |")
PY
