#!/usr/bin/env bash
# Embedding throughput of the real all-MiniLM-L6-v2 (BertModel, mean pooling + Normalize): sentences/s
# at batch 1 and 32, sglang.cpp's server (/encode, --is-embedding, end to end over HTTP with
# tokenization) next to Hugging Face transformers + the same pooling in-process (what
# sentence-transformers' encode() computes), same machine, same run, back to back.
#   bench/embedding.sh [sentences=128]
# The peer's venv comes from bench/requirements-embedding.txt (made on first use;
# BENCH_PY=/path/to/python uses an interpreter that already has those packages).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-128}
OUT=bench/out
mkdir -p "$OUT"
MODEL=$(./scripts/fetch_model.sh minilm)
PY=${BENCH_PY:-}
if [ -z "$PY" ]; then
  VENV=${BENCH_VENV:-.venv-bench-embedding}
  if [ ! -x "$VENV/bin/python" ] || ! cmp -s bench/requirements-embedding.txt "$VENV/.requirements"; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --extra-index-url https://download.pytorch.org/whl/cpu \
      -r bench/requirements-embedding.txt
    cp bench/requirements-embedding.txt "$VENV/.requirements"
  fi
  PY=$VENV/bin/python
fi
PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
./build/src/sglang-cpp serve --model-path "$MODEL" --is-embedding --port "$PORT" \
  >"$OUT/embedding_server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  kill -0 $SERVER 2>/dev/null || { cat "$OUT/embedding_server.log"; exit 1; }
  sleep 0.1
done
echo "== sglang.cpp"
python3 bench/embedding_bench.py --url "http://127.0.0.1:$PORT" --sentences "$N" |
  tee "$OUT/embedding_sglang_cpp.json"
kill $SERVER; wait $SERVER 2>/dev/null || true
trap - EXIT
echo "== transformers"
"$PY" bench/embedding_bench.py --model "$MODEL" --sentences "$N" | tee "$OUT/embedding_peer.json"
echo "== sentence-transformers"
"$PY" bench/embedding_bench.py --sentence-transformers --model "$MODEL" --sentences "$N" |
  tee "$OUT/embedding_peer_st.json"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
ours = json.load(open(f"{out}/embedding_sglang_cpp.json"))
for name in ("embedding_peer_st", "embedding_peer"):
    peer = json.load(open(f"{out}/{name}.json"))
    print(f"\n| all-MiniLM-L6-v2 sentences/s | sglang.cpp | {peer['impl']} | ratio |")
    print("| --- | --- | --- | --- |")
    for b in ("batch_1", "batch_32"):
        print(f"| {b.replace('_', ' ')} | {ours[b]:.1f} | {peer[b]:.1f} | {ours[b] / peer[b]:.2f} |")
PY
