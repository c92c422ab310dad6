"""Synthetic tokenizers built with the pinned `tokenizers` package at reference time.

They cover pipeline components that none of the real tokenizers in shared/assets uses:

* ``llama2-style-bpe``: SentencePiece-style BPE as Llama 2 / Mistral ship it: normalizer
  Sequence[Prepend("▁"), Replace(" ", "▁")], no pre-tokenizer, byte_fallback with <0x00>..<0xFF>
  in the vocabulary, TemplateProcessing "<s> $A", decoder Sequence[Replace("▁", " "),
  ByteFallback, Fuse, Strip(" ", 1, 0)].
* ``roberta-style-bpe``: byte-level BPE with RobertaProcessing and an lstrip <mask>.
* ``bert-style-wordpiece``: WordPiece with BertNormalizer, pre-tokenizer
  Sequence[WhitespaceSplit, Punctuation("isolated")], BertProcessing, decoder
  Sequence[WordPiece, Replace(Regex("\\s+"), " ")]; and ``punct-<behavior>`` variants of it with
  the other Punctuation behaviours.
* ``gpt2-style-qwen3``: what a GPT-2-style model directory (vocab.json + merges.txt +
  tokenizer_config.json, no tokenizer.json) means: the Qwen3 vocabulary and merges with a ByteLevel
  pre-tokenizer (add_prefix_space false), ByteLevel decoder and the added tokens of
  tokenizer_config.json's added_tokens_decoder.

Training is deterministic (fixed corpus slice, no dropout, single-pass trainers).
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers,
                        pre_tokenizers, processors, trainers)

PUNCT_VARIANTS = ["removed", "merged_with_previous", "merged_with_next", "contiguous"]


def llama2_style(train: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    # Only to train on words; the shipped pipeline has no pre-tokenizer, as Llama 2's.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="never")
    trainer = trainers.BpeTrainer(vocab_size=1500, special_tokens=["<unk>", "<s>", "</s>"],
                                  limit_alphabet=120, show_progress=False)
    tok.train_from_iterator(train, trainer)
    j = json.loads(tok.to_str())
    ordered = [t for t, _ in sorted(j["model"]["vocab"].items(), key=lambda kv: kv[1])]
    assert ordered[:3] == ["<unk>", "<s>", "</s>"], ordered[:3]
    vocab = {t: i for i, t in enumerate(ordered[:3])}
    for b in range(256):  # Llama 2's layout: the byte pieces right after the specials
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for t in ordered[3:]:
        vocab.setdefault(t, len(vocab))
    j["model"]["vocab"] = vocab
    j["pre_tokenizer"] = None
    tok = Tokenizer.from_str(json.dumps(j))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B:1", special_tokens=[("<s>", 1)])
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    return tok


def roberta_style(train: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=2000,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", AddedToken("<mask>", lstrip=True)],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(train, trainer)
    tok.post_processor = processors.RobertaProcessing(
        ("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
        trim_offsets=True, add_prefix_space=False)
    return tok


def bert_style(train: list[str]) -> Tokenizer:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated")])
    trainer = trainers.WordPieceTrainer(
        vocab_size=2000, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        limit_alphabet=300, show_progress=False)
    tok.train_from_iterator(train, trainer)
    tok.post_processor = processors.BertProcessing(
        ("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]")))
    tok.decoder = decoders.Sequence(
        [decoders.WordPiece(prefix="##", cleanup=True), decoders.Replace(Regex(r"\s+"), " ")])
    return tok


def punct_variant(bert: Tokenizer, behavior: str) -> Tokenizer:
    tok = Tokenizer.from_str(bert.to_str())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(behavior)])
    return tok


def gpt2_style(model_dir: Path) -> Tokenizer:
    tok = Tokenizer(models.BPE.from_file(str(model_dir / "vocab.json"),
                                         str(model_dir / "merges.txt")))
    cfg = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(
        add_prefix_space=cfg.get("add_prefix_space", False) or False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    for sid, t in sorted(cfg.get("added_tokens_decoder", {}).items(), key=lambda kv: int(kv[0])):
        added = AddedToken(t["content"], single_word=t.get("single_word", False),
                           lstrip=t.get("lstrip", False), rstrip=t.get("rstrip", False),
                           normalized=t.get("normalized", not t.get("special", False)),
                           special=t.get("special", False))
        if t.get("special", False):
            tok.add_special_tokens([added])
        else:
            tok.add_tokens([added])
        assert tok.token_to_id(t["content"]) == int(sid), (t["content"], sid)
    return tok


def build_all(texts: list[str], n_train: int, assets: Path) -> dict[str, Tokenizer]:
    train = texts[:n_train]
    out = {"llama2-style-bpe": llama2_style(train), "roberta-style-bpe": roberta_style(train)}
    bert = bert_style(train)
    out["bert-style-wordpiece"] = bert
    for b in PUNCT_VARIANTS:
        out[f"punct-{b.replace('_', '-')}"] = punct_variant(bert, b)
    qwen = assets / "qwen3-tokenizer"
    if all((qwen / f).is_file() for f in ("vocab.json", "merges.txt", "tokenizer_config.json")):
        out["gpt2-style-qwen3"] = gpt2_style(qwen)
    return out
