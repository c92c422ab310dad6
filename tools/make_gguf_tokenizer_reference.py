#!/usr/bin/env python3
"""Writes tests/tokenizer/gguf_reference.bin: what llama.cpp itself (llama-cpp-python==0.3.36,
gguf==0.19.0) makes of the tokenizer corpus (tests/tokenizer/corpus.py) with GGUF tokenizers, for
tests/tokenizer/gguf_reference_test.cpp. Run by hand; building llama-cpp-python in CI is too slow.

    /work/venv-bench/bin/python tools/make_gguf_tokenizer_reference.py \\
        [--model models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf] [--assets ../shared/assets]

Cases (the C++ test builds the same vocabularies: from the real file, or from the assets'
tokenizer.json converted as `vocab_from_tokenizer_json` below does):
  smollm2          the real SmolLM2-135M-Instruct GGUF (pre "smollm"), the whole corpus
  smollm2-gpt2     its vocabulary with pre "gpt-2"              } the curated strings and the
  smollm2-default  its vocabulary without tokenizer.ggml.pre     } first --n-small random ones
  qwen3-qwen2      Qwen3's tokenizer.json as a GGUF, pre "qwen2"     }
  llama3-llama-bpe Llama 3's tokenizer.json as a GGUF, pre "llama-bpe" }
  xlmr-en-spm      the xlmr-format-unigram-en pieces and scores as a   }
                   "llama" (SentencePiece BPE) GGUF with <0xAB> tokens }
  xlmr-ja-spm      the same from xlmr-format-unigram-ja                }
Each tiny GGUF carries the SmolLM2 file's other metadata (llama.cpp's vocab-only load still reads
the architecture's hyper-parameters) and no tensors.

Per case and corpus string, llama.cpp's tokenize(text, add_special=False, parse_special=True) is
stored; with parse_special=False only where it differs; with add_special=True the tool checks that
llama.cpp only adds BOS / EOS around the same ids and stores which. llama_detokenize(ids,
remove_special=False, unparse_special=True / False), decoded with errors="replace", is stored where it
differs from the text. Plus the token attributes that are not "normal", the end-of-generation ids,
and random id sequences (3000 for smollm2, 500 for the others) with both detokenizations.

File layout: b"SGGGUFRF", uint32 header length, the JSON header, then per case (header order) these
sections of unsigned LEB128 varints: ids; parse_special=False differences (count, then index and
ids); detokenize differences with unparse_special=True, then False (count, then index and the
text's edits); non-normal attributes (count, then id and attr); random decodes (count, then ids, the
unparse_special=True text and its edits into the unparse_special=False one). A list of ids or bytes
is its length and then its items; edits of A into B are their count and, per edit, the bytes of A
kept before it, the bytes of A it removes and the bytes it inserts.
"""
from __future__ import annotations

import argparse
import ctypes
import difflib
import importlib.metadata
import json
import random
import struct
import sys
import tempfile
from pathlib import Path

import gguf
import llama_cpp
from gguf import GGUFReader, GGUFValueType, GGUFWriter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "tokenizer"))
import corpus as corpus_mod  # noqa: E402

MAGIC = b"SGGGUFRF"


def fnv1a64(chunks) -> int:
    h = 0xCBF29CE484222325
    for chunk in chunks:
        for b in chunk:
            h ^= b
            h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def vocab_fnv(tokens, types, merges, scores=()) -> str:
    """FNV-1a 64 over each token + NUL, each type in decimal + ',', each merge + NUL, each score as
    little-endian float32 (the C++ test computes the same over the vocabulary it builds)."""
    def chunks():
        for t in tokens:
            yield t.encode("utf-8") + b"\0"
        for t in types:
            yield f"{t},".encode()
        for m in merges:
            yield m.encode("utf-8") + b"\0"
        for x in scores:
            yield struct.pack("<f", x)
    return f"{fnv1a64(chunks()):016x}"


def corpus_fnv(texts) -> str:
    """FNV-1a 64 over each string's UTF-8 + 0xFF (a byte UTF-8 never has)."""
    h = fnv1a64(t.encode("utf-8") + b"\xff" for t in texts)
    return f"{h:016x}"


def vocab_from_tokenizer_json(path: Path):
    """tokens, token types and merges of a byte-level BPE tokenizer.json, as a GGUF stores them:
    added tokens that are special are control tokens (3), the other added tokens user-defined (4),
    the rest normal (1). Ids must be contiguous."""
    j = json.loads(path.read_text(encoding="utf-8"))
    by_id = {i: (t, 1) for t, i in j["model"]["vocab"].items()}
    for a in j.get("added_tokens", []):
        by_id[a["id"]] = (a["content"], 3 if a.get("special") else 4)
    n = max(by_id) + 1
    assert sorted(by_id) == list(range(n)), f"{path}: ids are not contiguous"
    tokens = [by_id[i][0] for i in range(n)]
    types = [by_id[i][1] for i in range(n)]
    merges = [m if isinstance(m, str) else f"{m[0]} {m[1]}" for m in j["model"]["merges"]]
    return tokens, types, merges


def vocab_from_unigram_json(path: Path):
    """tokens, types and scores of a "llama" (SentencePiece) GGUF made from a Unigram tokenizer.json:
    its pieces and scores, "<s>" "<pad>" "</s>" "<mask>" control (3), the model's unk unknown (2),
    the rest normal (1), then the 256 byte tokens "<0x00>".."<0xFF>" (6) with score 0."""
    j = json.loads(path.read_text(encoding="utf-8"))
    pieces = j["model"]["vocab"]
    unk = j["model"]["unk_id"]
    tokens = [p for p, _ in pieces] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2 if i == unk else 3 if p in ("<s>", "<pad>", "</s>", "<mask>") else 1
             for i, (p, _) in enumerate(pieces)] + [6] * 256
    scores = [float(x) for _, x in pieces] + [0.0] * 256
    return tokens, types, scores


def copy_metadata(reader: GGUFReader, writer: GGUFWriter, skip_prefix: str):
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name.startswith(skip_prefix) or name == "general.architecture":
            continue
        vtype = field.types[0]
        value = field.contents()
        sub = field.types[-1] if vtype == GGUFValueType.ARRAY else None
        writer.add_key_value(name, value, vtype, sub_type=sub)


def write_gguf(path: Path, base: GGUFReader, pre, tokens, types, merges, special, add_bos,
               scores=None):
    w = GGUFWriter(str(path), arch="llama")
    copy_metadata(base, w, "tokenizer.")
    w.add_tokenizer_model("llama" if scores is not None else "gpt2")
    if pre is not None:
        w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    if scores is not None:
        w.add_token_scores(scores)
    else:
        w.add_token_merges(merges)
    for key, value in special.items():
        w.add_uint32(f"tokenizer.ggml.{key}_token_id", value)
    if add_bos is not None:
        w.add_add_bos_token(add_bos)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def base_vocab(reader: GGUFReader):
    f = reader.fields
    return (list(f["tokenizer.ggml.tokens"].contents()), list(f["tokenizer.ggml.token_type"].contents()),
            list(f["tokenizer.ggml.merges"].contents()))


class Writer:
    def __init__(self):
        self.buf = bytearray()

    def uint(self, v: int):
        assert v >= 0
        while True:
            b = v & 0x7F
            v >>= 7
            if v:
                self.buf.append(b | 0x80)
            else:
                self.buf.append(b)
                return

    def ids(self, ids):
        self.uint(len(ids))
        for i in ids:
            self.uint(i)

    def data(self, b: bytes):
        self.uint(len(b))
        self.buf += b

    def edits(self, a: bytes, b: bytes):
        """b as edits of a: their count, then per edit the bytes of a kept before it, the bytes of
        a it removes and the bytes it inserts."""
        ops = [(i1, i2 - i1, b[j1:j2])
               for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
               if tag != "equal"]
        self.uint(len(ops))
        done = 0
        for at, removed, inserted in ops:
            self.uint(at - done)
            self.uint(removed)
            self.data(inserted)
            done = at + removed


def detokenize(vocab, ids, unparse_special: bool) -> bytes:
    arr = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
    size = 64 + 16 * len(ids)
    while True:
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_detokenize(vocab, arr, len(ids), buf, size, False, unparse_special)
        if n >= 0:
            return buf.raw[:n]
        size = -n + 1


def run_case(w: Writer, name: str, gguf_path: Path, texts, seed: int, header_case: dict):
    m = llama_cpp.Llama(str(gguf_path), vocab_only=True, verbose=False)
    vocab = m._model.vocab
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    bos, eos = m.token_bos(), m.token_eos()
    header_case["n_texts"] = len(texts)
    header_case["bos"] = bos
    header_case["eos"] = eos

    ids_all = [m.tokenize(t.encode(), add_bos=False, special=True) for t in texts]
    # add_special only adds BOS / EOS around the same ids, where llama.cpp's add_bos / add_eos say.
    bos_added = bool(llama_cpp.llama_vocab_get_add_bos(vocab))
    eos_added = bool(llama_cpp.llama_vocab_get_add_eos(vocab))
    for t, a in zip(texts, ids_all):
        b = m.tokenize(t.encode(), add_bos=True, special=True)
        assert b == ([bos] if bos_added else []) + a + ([eos] if eos_added else []), (name, a, b)
    header_case["bos_added"] = bos_added
    header_case["eos_added"] = eos_added

    w.uint(len(texts))
    for ids in ids_all:
        w.ids(ids)
    diffs = []
    for i, t in enumerate(texts):
        plain = m.tokenize(t.encode(), add_bos=False, special=False)
        if plain != ids_all[i]:
            diffs.append((i, plain))
    w.uint(len(diffs))
    for i, ids in diffs:
        w.uint(i)
        w.ids(ids)
    header_case["parse_special_differences"] = len(diffs)

    llama_py_mismatch = 0
    for unparse in (True, False):
        d = []
        for i, t in enumerate(texts):
            raw = detokenize(vocab, ids_all[i], unparse)
            if unparse and m.detokenize(ids_all[i], special=True) != raw:
                llama_py_mismatch += 1
            text = raw.decode("utf-8", errors="replace").encode("utf-8")
            if text != t.encode("utf-8"):
                d.append((i, text))
        w.uint(len(d))
        for i, text in d:
            w.uint(i)
            w.edits(texts[i].encode("utf-8"), text)
        header_case["detokenize_differences_" + ("special" if unparse else "skip_special")] = len(d)
    header_case["llama_py_detokenize_mismatches"] = llama_py_mismatch

    attrs = [(i, llama_cpp.llama_vocab_get_attr(vocab, i)) for i in range(n_vocab)]
    odd = [(i, a) for i, a in attrs if a != 4]  # 4: LLAMA_TOKEN_ATTR_NORMAL
    w.uint(len(odd))
    for i, a in odd:
        w.uint(i)
        w.uint(a)
    header_case["eog"] = [i for i in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, i)]

    # Random id sequences: all kinds of tokens, including the ones no text encodes to.
    rng = random.Random(f"{seed}-{name}-decode")
    specials = [i for i, _ in odd]
    seqs = []
    for _ in range(3000 if name == "smollm2" else 500):
        k = rng.randint(0, 12)
        seq = []
        for _ in range(k):
            r = rng.random()
            if r < 0.15 and specials:
                seq.append(rng.choice(specials))
            elif r < 0.45:
                seq.append(rng.randrange(min(n_vocab, 512)))
            else:
                seq.append(rng.randrange(n_vocab))
        seqs.append(seq)
    w.uint(len(seqs))
    for seq in seqs:
        w.ids(seq)
        text, skip = (detokenize(vocab, seq, unparse).decode("utf-8", errors="replace").encode("utf-8")
                      for unparse in (True, False))
        w.data(text)
        w.edits(text, skip)
    print(f"{name}: {len(texts)} texts, {sum(map(len, ids_all))} ids, bos_added={bos_added}, "
          f"eos_added={eos_added}, {len(diffs)} parse_special differences, {len(odd)} non-normal "
          f"tokens, Llama.detokenize != llama_detokenize on {llama_py_mismatch}", flush=True)
    del m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--assets", default=str(ROOT.parent / "shared" / "assets"))
    ap.add_argument("--out", default=str(ROOT / "tests" / "tokenizer" / "gguf_reference.bin"))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--n-random", type=int, default=20000)
    ap.add_argument("--n-small", type=int, default=1000, help="random strings for the variant cases")
    args = ap.parse_args()

    texts = corpus_mod.build_corpus(args.seed, args.n_random)
    n_small = len(corpus_mod.CURATED) + args.n_small
    base = GGUFReader(args.model)
    smol_tokens, smol_types, smol_merges = base_vocab(base)
    assets = Path(args.assets)
    header = {
        "llama_cpp_python": llama_cpp.__version__,
        "gguf": importlib.metadata.version("gguf"),
        "seed": args.seed,
        "n_random": args.n_random,
        "corpus_fnv1a64": corpus_fnv(texts),
        "n_corpus": len(texts),
        "cases": [],
    }
    w = Writer()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = [
            ("smollm2", "gguf", "smollm", None, None, None, len(texts)),
            ("smollm2-gpt2", "gguf", "gpt-2", None, None, None, n_small),
            ("smollm2-default", "gguf", None, None, None, None, n_small),
            ("qwen3-qwen2", "qwen3-tokenizer", "qwen2",
             {"bos": 151643, "eos": 151645, "padding": 151643}, False, None, n_small),
            ("llama3-llama-bpe", "llama3-tokenizer", "llama-bpe",
             {"bos": 128000, "eos": 128001}, None, None, n_small),
            ("xlmr-en-spm", "xlmr-format-unigram-en", None,
             {"bos": 0, "eos": 2, "unknown": 3, "padding": 1}, None, None, n_small),
            ("xlmr-ja-spm", "xlmr-format-unigram-ja", None,
             {"bos": 0, "eos": 2, "unknown": 3, "padding": 1}, None, None, n_small),
        ]
        for name, source, pre, special, add_bos, _, n in cases:
            case = {"name": name, "source": source, "pre": pre,
                    "format": "spm" if name.endswith("-spm") else "bpe"}
            scores = None
            if source == "gguf":
                tokens, types, merges = smol_tokens, smol_types, smol_merges
                if name == "smollm2":
                    path = Path(args.model)
                else:
                    special = {"bos": 1, "eos": 2, "unknown": 0, "padding": 2}
                    add_bos = False
                    path = tmp / f"{name}.gguf"
                    write_gguf(path, base, pre, tokens, types, merges, special, add_bos)
            elif case["format"] == "spm":
                tokens, types, scores = vocab_from_unigram_json(assets / source / "tokenizer.json")
                merges = []
                path = tmp / f"{name}.gguf"
                write_gguf(path, base, pre, tokens, types, merges, special, add_bos, scores)
            else:
                tokens, types, merges = vocab_from_tokenizer_json(assets / source / "tokenizer.json")
                path = tmp / f"{name}.gguf"
                write_gguf(path, base, pre, tokens, types, merges, special, add_bos)
            case["special_ids"] = special or {}
            case["add_bos"] = add_bos
            case["vocab_fnv1a64"] = vocab_fnv(tokens, types, merges, scores or ())
            run_case(w, name, path, texts[:n], args.seed, case)
            header["cases"].append(case)

    head = json.dumps(header, ensure_ascii=True, sort_keys=True).encode("ascii")
    out = Path(args.out)
    out.write_bytes(MAGIC + struct.pack("<I", len(head)) + head + bytes(w.buf))
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
