"""Deterministic test corpus for tokenizer conformance.

``build_corpus(seed, n_random)`` returns the curated strings below followed by
``n_random`` random strings.  The result depends only on ``seed`` and
``n_random`` (a private ``random.Random`` is used; no numpy, no global state),
so the Python reference and any later re-run produce the same corpus.

Curated part (about 150 strings) covers:

* scripts: Latin, Chinese, Japanese (kana + kanji), Korean (precomposed
  syllables and conjoining jamo), Arabic, Hebrew, Devanagari, Thai, Cyrillic,
  Greek, plus mixed-script sentences;
* emoji: single, with variation selector, ZWJ families, skin tones, flags
  (regional-indicator pairs), tag sequences, keycaps;
* Unicode normalization traps: precomposed vs. decomposed accents, combining
  mark order, Hangul jamo, compatibility characters that only NFKC folds
  (ligature "ﬁ", Roman numeral "Ⅻ", full-width Latin/digits, superscripts,
  circled digits, half-width katakana), NFC singletons (Ångström sign, CJK
  compatibility ideographs);
* whitespace: runs of spaces, tabs, newlines, "\\r\\n", mixes, NBSP,
  ideographic space, U+2028, U+0085, leading/trailing whitespace;
* digits: runs of length 1..20, numbers with separators, decimals, negative
  numbers, full-width and Arabic-Indic digits;
* English contractions in lower, upper and mixed case, curly apostrophes;
* code in several languages, URLs, e-mail, markdown, JSON, HTML;
* special-token spellings written inside ordinary text ("<|im_start|>",
  "<|endoftext|>", "<|begin_of_text|>", "<s>", "</s>", "[CLS]", "[SEP]",
  "[MASK]", "<mask>", "<unk>", "<pad>", ...), adjacent, glued to words,
  surrounded by spaces, and partial/malformed forms;
* quirks of the reference implementation: SentencePiece charsmap applied
  to short grapheme clusters, characters whose properties changed or that
  were assigned in Unicode 10..17, Greek final sigma, dotted capital I;
* edge cases: empty string, single space, single characters, very long
  words (> 100 characters, the WordPiece limit), text long enough to exceed
  128 tokens.

Random part: each string has a target length of 0..60 code points and is
built from pieces drawn from weighted character classes: ASCII letters,
digits, punctuation, whitespace (incl. "\\r\\n" and exotic spaces), every
script above, emoji and emoji modifiers, lone combining marks, ZWJ/ZWNJ and
variation selectors, compatibility characters, C0/C1 controls and NUL, BOM
U+FEFF, U+FFFD, noncharacters, private-use (BMP and planes 15/16),
characters assigned only in recent Unicode versions, and uniformly random
code points from all 17 planes (so mostly unassigned ones).
Fragments (special-token spellings, contractions, words) are mixed in and may
be cut at the length limit, giving partial special tokens.  Only the
surrogates U+D800..U+DFFF are never produced (they cannot be encoded as
UTF-8).
"""

from __future__ import annotations

import bisect
import itertools
import random

# Special-token spellings of every tokenizer under test (and a few near misses).
SPECIAL_SPELLINGS = [
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|begin_of_text|>",
    "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>",
    "<|reserved_special_token_0|>", "<|reserved_special_token_250|>",
    "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<tool_call>",
    "</tool_call>", "<think>", "</think>", "<|vision_start|>", "<|image_pad|>",
    "<s>", "</s>", "<pad>", "<unk>", "<mask>",
    "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]",
]

CURATED = [
    # --- edge cases --------------------------------------------------------
    "",
    " ",
    "a",
    "A",
    "\n",
    "\t",
    "  ",
    "Hello world",
    "Hello, world!",
    " Hello world ",
    "SGLang provides efficient tokenization endpoints.",
    "The quick brown fox jumps over the lazy dog.",
    # --- multilingual ------------------------------------------------------
    "我爱自然语言处理。今天天气很好！",
    "机器学习（ML）是人工智能的一个分支。",
    "日本語のテキストを正しく分割できますか？",
    "ｶﾀｶﾅ と カタカナ と かたかな",
    "東京都渋谷区で寿司を食べました。",
    "한국어 형태소 분석은 어렵습니다.",
    "\u1112\u1161\u11ab\u1100\u1173\u11af",  # 한글 as conjoining jamo (NFC composes)
    "مرحبا بالعالم! كيف حالك؟",
    "العربية: ١٢٣٤٥٦٧٨٩٠",
    "שלום עולם, מה שלומך?",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "क्षत्रिय ज्ञान श्री",
    "สวัสดีครับ ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "Привет, мир! Как дела?",
    "ЁЖИК В ТУМАНЕ ёжик",
    "Γειά σου Κόσμε! ΑΒΓΔ αβγδ ς",
    "Ünïcödé Straße façade naïve coöperate",
    "English 中文 日本語 한국어 العربية עברית हिन्दी ไทย Русский Ελληνικά",
    # --- emoji -------------------------------------------------------------
    "😀",
    "I ❤️ tokenizers 🤗🚀",
    "👨\u200d👩\u200d👧\u200d👦 family",
    "👍🏻👍🏼👍🏽👍🏾👍🏿",
    "🇺🇸🇯🇵🇩🇪🇫🇷",
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f Scotland",
    "1\ufe0f\u20e3 #\ufe0f\u20e3",
    "🧑\u200d💻 writes code 🏳\ufe0f\u200d🌈",
    # --- normalization traps ----------------------------------------------
    "café",                 # precomposed é
    "cafe\u0301",           # e + combining acute
    "Ame\u0301lie a\u0323\u0301 a\u0301\u0323",  # combining order
    "\u0301",               # lone combining mark
    "\u0301\u0308\u0323abc",
    "ﬁle ﬂow ﬀ ﬃ",          # ligatures
    "Chapter Ⅻ and ⅳ",      # Roman numerals
    "ＦＵＬＬ ＷＩＤＴＨ １２３ ！？",
    "x² + y³ = z⁴, H₂O",
    "①②③ ㈱ ㎏ ㍿",
    "\u212b \u00c5 A\u030a \u2126",  # Angstrom sign, Å, A+ring, Ohm sign
    "\uf900\uf901 \u2f00\u2f08",      # CJK compatibility / radicals
    "ﾊﾟﾋﾟﾌﾟ ガ ｶﾞ",
    "…‥ “quotes” ‘single’ — – ‐",
    # --- whitespace --------------------------------------------------------
    "a  b   c    d",
    "          ten spaces",
    "trailing spaces     ",
    "tab\tseparated\tvalues\t\t",
    "line1\nline2\n\nline4\n\n\n",
    "windows\r\nline\r\nendings\r\n",
    "\r\n\r\n",
    "\r",
    " \n \n \t \r\n ",
    "\n\n\n\n\n\n\n\n",
    "mixed \t \n\t\t  \n  whitespace",
    "nbsp\u00a0here ideographic\u3000space line\u2028sep next\u0085line",
    "zero\u200bwidth\u200cnon\u200djoiner\u2060word",
    "\ufeffBOM at start",
    "    def indented():\n        return 1\n",
    # --- digits and numbers -----------------------------------------------
    "1", "12", "123", "1234", "12345", "123456", "1234567",
    "12345678901234567890",
    "3.14159265358979",
    "1,234,567.89 and 1.234.567,89 and 1 234 567",
    "-42 +17 1e-10 0x1F 0b1011 1_000_000",
    "2024-01-15T10:30:00Z",
    "Price: $1,299.99 (€1.199,00)",
    "phone: +1 (555) 123-4567",
    "٠١٢٣٤٥٦٧٨٩ ०१२३४५६७८९ ０１２３",
    # --- contractions ------------------------------------------------------
    "I'm you'll He's she'd we've they're it's don't can't",
    "I'M YOU'LL HE'S SHE'D WE'VE THEY'RE IT'S DON'T CAN'T",
    "i'M yOu'Ll hE's",
    "I’m you’ll he’s",
    "'s 't 're 've 'm 'll 'd",
    "rock 'n' roll, 'quoted'",
    # --- code ---------------------------------------------------------------
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n-1) + fib(n-2)\n",
    "#include <stdio.h>\nint main(void) {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
    "fn main() { let v: Vec<u32> = (0..10).map(|x| x * x).collect(); }",
    "const f = async (x) => { await fetch(`/api/${x}`); };",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
    "for i in $(seq 1 10); do echo \"$i\" | grep -v '^#'; done",
    "if (a != b && c <= d || !e) { x += 1; y -= 2; z **= 3; }",
    "<html><body><div class=\"x\">Hi &amp; bye</div></body></html>",
    '{"key": "value", "list": [1, 2, 3], "nested": {"a": null}}',
    "a = [[1,2],[3,4]]; b = {k: v for k, v in d.items()}",
    # --- URLs, mail, markdown ---------------------------------------------
    "https://github.com/sgl-project/sglang?tab=readme#installation",
    "Visit http://example.com/path/to/page.html?query=1&b=2 now",
    "mail me: john.doe+tag@example.co.uk",
    "# Title\n\n## Subtitle\n\n- item 1\n- item 2\n\n**bold** _italic_ `code`",
    "```python\nprint('hi')\n```",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "[link](https://example.com) ![img](a.png)",
    # --- special tokens inside text ---------------------------------------
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<|begin_of_text|>",
    "<s>",
    "</s>",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "<mask>",
    "<unk>",
    "<pad>",
    "<|im_start|><|im_end|>",
    "x<|endoftext|>y",
    "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "<s> Hello </s>",
    "<s>Hello</s></s>World</s>",
    "[CLS] the [MASK] sat on the mat [SEP]",
    "[cls] lower [sep] [mask]",
    "fill <mask> here and <unk> there <pad>",
    "<think>\nreasoning\n</think>\n\nanswer",
    "<tool_call>{\"name\": \"f\"}</tool_call>",
    "<|im_start",
    "im_start|>",
    "<|endoftext|",
    "<|<|endoftext|>|>",
    "<|endoftext|><|endoftext|><|endoftext|>",
    " <|endoftext|> ",
    "<<s>>",
    "[[SEP]]",
    "<|reserved_special_token_0|>",
    "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>",
    # --- implementation quirks of the reference ---------------------------
    # SentencePiece charsmap applied to a whole short grapheme (< 6 bytes):
    "\ufb01\u0301 \ufb01\u0301\u0301 \u216b\u0301 \uff11\u0301 \uff11\u20e3 \u2460\u0308",
    # Unicode-version-sensitive characters (marks, letters, digits, format
    # characters, punctuation and case pairs added in Unicode 10..17):
    "a\u1df6\u0316 a\u1ac1\u0316 a\u0898\u0316 a\u07fd\u0316 \u0890\U00013430",
    "\U00010d50\U00010d70 \U00016ea0\U00016ebb \ua7cb\u0264 \u1c89\u1c8a",
    "\U00010d40\U00010d41 \U0001e4f0 \U00010940 \u2e43\u2e52 \u166d",
    "\u03a3\u0391\u03a3 \u0130stanbul \u1e9e \u01c5 \u2126",
    "\u0915\u094d\u200d\u0937 \u0dc1\u0dca\u200d\u0dbb\u0dd3",
    # --- long inputs ------------------------------------------------------
    "a" * 101,
    "supercalifragilisticexpialidocious" * 4,
    "x" * 300,
    ("The conformance corpus must also contain a passage long enough to "
     "exceed one hundred and twenty eight tokens, because the MiniLM "
     "tokenizer file asks for truncation at that length, and an engine "
     "that serves embeddings has to agree on what happens then. " * 3),
    "é" * 80,
    "🤗" * 40,
    "\u0301" * 30,
    ". " * 60,
    "\n" * 70,
]


# --- character classes for the random part --------------------------------

def _ranges(*pairs):
    return [(lo, hi) for lo, hi in pairs]


# Each class is a list of inclusive code-point ranges (or a list of strings).
_CLASSES = [
    # (weight, name, ranges-or-strings)
    (12, "ascii_lower", _ranges((0x61, 0x7A))),
    (5, "ascii_upper", _ranges((0x41, 0x5A))),
    (6, "digit", _ranges((0x30, 0x39))),
    (6, "ascii_punct", _ranges((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E))),
    (10, "space", [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\r", "\n\n",
                   "\u00a0", "\u3000", "\u2028", "\u2029", "\u0085", "\u000b",
                   "\u000c", "\u2009", "\u200a", "\u1680", "\u202f", "\u205f"]),
    (3, "latin1", _ranges((0xA0, 0xFF))),
    (2, "latin_ext", _ranges((0x100, 0x24F), (0x1E00, 0x1EFF))),
    (3, "cjk", _ranges((0x4E00, 0x9FFF), (0x3400, 0x4DBF))),
    (1, "cjk_ext", _ranges((0x20000, 0x2A6DF), (0x2F800, 0x2FA1F))),
    (2, "cjk_punct", _ranges((0x3000, 0x303F), (0xFF01, 0xFF5E))),
    (2, "kana", _ranges((0x3040, 0x30FF), (0xFF61, 0xFF9F))),
    (2, "hangul", _ranges((0xAC00, 0xD7A3), (0x1100, 0x11FF), (0x3130, 0x318F))),
    (2, "arabic", _ranges((0x0600, 0x06FF))),
    (1, "hebrew", _ranges((0x0590, 0x05FF))),
    (1, "devanagari", _ranges((0x0900, 0x097F))),
    (1, "thai", _ranges((0x0E00, 0x0E7F))),
    (2, "cyrillic", _ranges((0x0400, 0x04FF))),
    (2, "greek", _ranges((0x0370, 0x03FF), (0x1F00, 0x1FFF))),
    (3, "emoji", _ranges((0x1F300, 0x1F5FF), (0x1F600, 0x1F64F), (0x1F680, 0x1F6FF),
                         (0x1F900, 0x1F9FF), (0x2600, 0x27BF))),
    (1, "emoji_mod", _ranges((0x1F3FB, 0x1F3FF), (0x1F1E6, 0x1F1FF), (0xE0020, 0xE007F))),
    (3, "combining", _ranges((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x20D0, 0x20FF),
                             (0x0483, 0x0489), (0x064B, 0x065F), (0x093C, 0x094D))),
    (2, "joiners", ["\u200d", "\u200c", "\u200b", "\u2060", "\ufe0f", "\ufe0e",
                    "\u034f", "\u180e", "\U000e0100"]),
    (2, "compat", _ranges((0xFB00, 0xFB06), (0x2150, 0x218F), (0x2460, 0x24FF),
                          (0x3200, 0x33FF), (0x2070, 0x209F), (0xF900, 0xFAFF),
                          (0x2F00, 0x2FDF), (0x1D400, 0x1D7FF))),
    (2, "control", _ranges((0x00, 0x1F), (0x7F, 0x9F))),
    # Assigned only in recent Unicode versions, where the reference's tables
    # (NFC/ccc, regex \p{L}/\p{N}, lowercase, BERT categories) disagree
    # with each other and with a current UCD.
    (2, "recent_unicode", _ranges((0x07FD, 0x07FD), (0x0890, 0x089F), (0x08CA, 0x08E2),
                                  (0x1AB0, 0x1ACE), (0x1C89, 0x1C8A), (0x1DF6, 0x1DFF),
                                  (0x2E43, 0x2E5D), (0xA7C0, 0xA7DC), (0x10D40, 0x10D8F),
                                  (0x10F30, 0x10F59), (0x11F00, 0x11F59), (0x13430, 0x1343F),
                                  (0x16EA0, 0x16EDF), (0x1E4D0, 0x1E4F9), (0x1CCF0, 0x1CCF9))),
    (2, "specials", ["\x00", "\ufeff", "\ufffd", "\ufffe", "\uffff", "\ufffc",
                     "\U0010ffff", "\U0001fffe", "\u00ad", "\u200e", "\u200f",
                     "\u202e", "\u2066", "\u061c"]),
    (1, "private_use", _ranges((0xE000, 0xF8FF), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD))),
    (3, "any_bmp", _ranges((0x0000, 0xD7FF), (0xE000, 0xFFFF))),
    (3, "any_plane", _ranges((0x0000, 0xD7FF), (0xE000, 0x10FFFF))),
    (4, "fragment", SPECIAL_SPELLINGS + [
        "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "I'm",
        "the", " the", "The", "ing", "tion", "http://", ".com", "    ",
        "1234567", "3.14", "__init__", "->", "::", "!=", "...", "\\n",
        "café", "cafe\u0301", "ﬁ", "Ⅻ", "👨\u200d👩\u200d👧", "🇯🇵",
        "日本", "中文", "한국", "▁", "##", "Ġ", "Ċ",
    ]),
]

_WEIGHTS = [w for w, _, _ in _CLASSES]


def _prepare(spec):
    """A class as (strings, None) or (range starts, cumulative sizes)."""
    if isinstance(spec[0], str):
        return (spec, None)
    starts, cum, total = [], [], 0
    for lo, hi in spec:
        assert hi < 0xD800 or lo > 0xDFFF, "ranges must not touch surrogates"
        starts.append(lo)
        total += hi - lo + 1
        cum.append(total)
    return (starts, cum)


_TABLES = [_prepare(spec) for _, _, spec in _CLASSES]
_CUM_WEIGHTS = list(itertools.accumulate(_WEIGHTS))


def _pick_from_class(rng: random.Random, table) -> str:
    items, cum = table
    if cum is None:
        return rng.choice(items)
    # A code point uniformly over the union of the class's ranges.
    k = rng.randrange(cum[-1])
    i = bisect.bisect_right(cum, k)
    return chr(items[i] + k - (cum[i - 1] if i else 0))


def random_string(rng: random.Random) -> str:
    """One random string of 0..60 code points (see module docstring)."""
    target = rng.randint(0, 60)
    # Some strings stick to one or two classes (realistic runs of one
    # script), others mix freely.
    mode = rng.random()
    if mode < 0.3:
        tables = rng.choices(_TABLES, cum_weights=_CUM_WEIGHTS, k=rng.randint(1, 2))
        cum_weights = None
    else:
        tables = _TABLES
        cum_weights = _CUM_WEIGHTS
    out = []
    length = 0
    while length < target:
        table = rng.choices(tables, cum_weights=cum_weights, k=1)[0]
        # Repeat a piece sometimes to get runs (spaces, digits, letters).
        repeat = 1 if rng.random() < 0.7 else rng.randint(2, 8)
        for _ in range(repeat):
            piece = _pick_from_class(rng, table)
            out.append(piece)
            length += len(piece)
    return "".join(out)[:target]


def build_corpus(seed: int, n_random: int) -> list[str]:
    """Curated strings followed by ``n_random`` random ones, deterministic."""
    rng = random.Random(seed)
    corpus = list(CURATED)
    for _ in range(n_random):
        corpus.append(random_string(rng))
    for s in corpus:  # every string must be encodable as UTF-8
        s.encode("utf-8")
    return corpus


if __name__ == "__main__":
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    for s in build_corpus(1234, n):
        print(ascii(s))
