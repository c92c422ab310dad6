#!/usr/bin/env bash
# --dp-size throughput (issue 16): the same load against one server per entry of DP_SIZES, in one
# run, on the default model (SmolLM2-135M-Instruct Q4_1 GGUF): NUM_PROMPTS concurrent /generate
# requests of INPUT_LEN random token ids and OUTPUT_LEN greedy tokens (ignore_eos), the radix cache
# flushed before each; output tokens/s and requests/s as the clients see them, best of RUNS.
# --threads THREADS in total for every server (split between the replicas with --dp-size > 1).
# On a shared machine set OMP_WAIT_POLICY=passive: spinning OpenMP teams of oversubscribed cores
# make a multi-thread replica look far slower than it is.
# Usage: bench/dp.sh   (DP_SIZES="1 2" NUM_PROMPTS=32 INPUT_LEN=128 OUTPUT_LEN=64 RUNS=2
#        THREADS=$(nproc) MODEL=... to change). Run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-$(./scripts/fetch_model.sh)}
DP_SIZES=${DP_SIZES:-"1 2"}
NUM_PROMPTS=${NUM_PROMPTS:-32}
INPUT_LEN=${INPUT_LEN:-128}
OUTPUT_LEN=${OUTPUT_LEN:-64}
RUNS=${RUNS:-2}
THREADS=${THREADS:-$(nproc)}
PORT=${PORT:-30126}
OUT=bench/out
mkdir -p "$OUT"
ninja -C build sglang-cpp >/dev/null

SERVER=
trap '[ -n "$SERVER" ] && kill -TERM $SERVER 2>/dev/null; wait 2>/dev/null' EXIT
rm -f "$OUT/dp.jsonl"
for dp in $DP_SIZES; do
  echo "== --dp-size $dp, --threads $THREADS" >&2
  ./build/src/sglang-cpp serve --model-path "$MODEL" --port "$PORT" --threads "$THREADS" \
    --dp-size "$dp" --log-level warning >"$OUT/dp_server_$dp.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
    sleep 1
  done
  python3 - "$PORT" "$dp" "$NUM_PROMPTS" "$INPUT_LEN" "$OUTPUT_LEN" "$RUNS" >>"$OUT/dp.jsonl" <<'PY'
import http.client, json, random, sys, threading, time
port, dp, n, inp, outp, runs = (int(x) for x in sys.argv[1:])
rng = random.Random(1)
prompts = [[rng.randrange(100, 30000) for _ in range(inp)] for _ in range(n)]

def post(path, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=1800)
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data

best = None
for _ in range(runs):
    post("/flush_cache", {})
    tokens = [0] * n
    def one(i):
        st, data = post("/generate", {"input_ids": prompts[i], "sampling_params": {
            "temperature": 0, "max_new_tokens": outp, "ignore_eos": True}})
        assert st == 200, data[:200]
        tokens[i] = json.loads(data)["meta_info"]["completion_tokens"]
    t0 = time.perf_counter()
    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts: t.start()
    for t in ts: t.join()
    dt = time.perf_counter() - t0
    run = {"dp_size": dp, "seconds": round(dt, 2), "output_tok_s": round(sum(tokens) / dt, 1),
           "req_s": round(n / dt, 3)}
    if best is None or run["output_tok_s"] > best["output_tok_s"]:
        best = run
print(json.dumps(best))
PY
  tail -n 1 "$OUT/dp.jsonl" >&2
  kill -TERM "$SERVER"
  wait "$SERVER" 2>/dev/null || true
  SERVER=
done
python3 - "$OUT/dp.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
base = rows[0]["output_tok_s"]
print("\n| --dp-size | output tok/s | req/s | vs first |")
print("| --- | --- | --- | --- |")
for r in rows:
    print(f"| {r['dp_size']} | {r['output_tok_s']} | {r['req_s']} | {r['output_tok_s'] / base:.2f} |")
PY
