r"""Validity of structured output against independent checkers (issue 14's Proof): for a few
hundred random JSON schemas (tests/api/structured_gen.py, seeded) and a set of realistic ones,
20 outputs each at temperature 1 on the tiny random model must parse and validate with the
`jsonschema` package; for random regexes every output must fully match (the `regex` package: Python re's syntax, with a timeout); for EBNF grammars
every output must be accepted by `lark` with the grammar translated by hand.

A random-weight model repeats tokens with logits far above the rest, so outputs of grammars with
unbounded parts (free strings, `\w+`, any JSON) often run to max_new_tokens. `logit_bias` on the
closing tokens and a small frequency penalty make most outputs finish (the mask is applied first,
so neither can let a forbidden token through). Every output is checked: one that finished by the
grammar in full (jsonschema / regex.fullmatch / lark); one cut by length as a prefix of the
language (a JSON-prefix recognizer written here / `regex`'s partial matching / only its finished
siblings for EBNF); and the module requires most outputs to have finished.

SGLANG_VALIDITY_SCHEMAS / SGLANG_VALIDITY_REGEXES set how many random cases run (200 / 100)."""
from __future__ import annotations

import json
import os
import random
import re

import jsonschema
import lark
import pytest
import regex

from conftest import Server
from structured_gen import (EBNF_GRAMMARS, REALISTIC_REGEXES, REALISTIC_SCHEMAS, random_regex,
                            random_schema)

N_OUTPUTS = 20
N_SCHEMAS = int(os.environ.get("SGLANG_VALIDITY_SCHEMAS", "200"))
N_REGEXES = int(os.environ.get("SGLANG_VALIDITY_REGEXES", "100"))
MAX_NEW_TOKENS = 160
# A check that backtracks longer than this is counted as unchecked (bounded below). A few random
# patterns nest quantifiers so that Python's matcher needs seconds per 160-token text: at 5 s one
# pattern cost 150 s of the suite, for outputs the unchecked bound already accounts for.
REGEX_TIMEOUT_S = 0.5

# Formats whose grammar is exactly what jsonschema's checker accepts; the others (date, time,
# date-time, ...) are syntactic in xgrammar's converter too, e.g. it allows 2024-02-31.
FORMATS = jsonschema.FormatChecker(formats=["email", "ipv4", "uuid"])


@pytest.fixture(scope="module")
def server(model_path, tmp_path_factory):
    """Without free JSON whitespace: a random model otherwise keeps taking the unbounded
    [ \n\t]* of the default policy and never finishes (the policy itself is tested in
    test_structured_output.py)."""
    s = Server(model_path, "--constrained-json-disable-any-whitespace",
               log_dir=tmp_path_factory.mktemp("logs"))
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="module")
def tok(model_path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(model_path + "/tokenizer.json")


@pytest.fixture(scope="module")
def eos_bias(tok):
    """Ending is one more choice where the grammar allows it; favour it so outputs finish."""
    ids = [tok.token_to_id(t) for t in ("<|endoftext|>", "<|im_end|>")]
    return {str(i): 25.0 for i in ids if i is not None}


@pytest.fixture(scope="module")
def closing_bias(tok, eos_bias):
    """The random model repeats tokens with logits that a few units cannot outweigh. A static bias
    cannot tell inside a string from outside, so it is graded: the closing quote +25 (a string
    ends as soon as its grammar allows: minLength, pattern, enum still decide when), the tokens
    that close containers +14 (they beat the separators, so containers end, but lose to the
    quote, so a string does not fill up with them), separators and literals +6 (optional parts
    appear now and then). Not digits: a number would never end."""
    bias = {}
    for pieces, value in ((['"', "!", "="], 25.0), (["}", "]", '"}', '"]', "}}", "]]", '"},'], 14.0),
                          ([",", '":', "},", "],", "null", "true", "false", "[]", "{}", ":", "-",
                            "@", "."], 6.0)):
        for piece in pieces:
            ids = tok.encode(piece, add_special_tokens=False).ids
            if len(ids) == 1:
                bias[str(ids[0])] = value
    return {**bias, **eos_bias}


FINISHED = {"outputs": 0, "finished": 0}
UNCHECKED = {"regex": 0}
PY_SPACES = re.compile("[\x1c-\x1f]")


def generate_many(server, prompt, constraint: dict, logit_bias: dict | None = None) -> list[dict]:
    """N_OUTPUTS samples (one batch request, one seed each) under `constraint`."""
    params = []
    for seed in range(N_OUTPUTS):
        sp = {"temperature": 1.0, "max_new_tokens": MAX_NEW_TOKENS, "sampling_seed": seed,
              "frequency_penalty": 0.3, **constraint}
        if logit_bias:
            sp["logit_bias"] = logit_bias
        params.append(sp)
    r = server.post("/generate", json={"text": [prompt] * N_OUTPUTS, "sampling_params": params},
                    timeout=300)
    assert r.status_code == 200, r.text
    outs = r.json()
    assert len(outs) == N_OUTPUTS
    for out in outs:
        FINISHED["outputs"] += 1
        FINISHED["finished"] += finished(out)
    return outs


def finished(out) -> bool:
    """Ended by the grammar (a stop token once it accepts); otherwise it ran to the length limit."""
    reason = out["meta_info"]["finish_reason"]
    assert reason["type"] in ("stop", "length"), reason
    if reason["type"] == "length":
        assert out["meta_info"]["completion_tokens"] == MAX_NEW_TOKENS
    return reason["type"] == "stop"


def is_json_prefix(text: str) -> bool:
    """Whether `text` can be continued into a JSON document (RFC 8259, whitespace anywhere a
    token may be followed by it): a character-level pushdown recognizer, independent of ours."""
    stack = []  # "{" / "[" containers open
    # expect: "value", "key" (or "}" if empty obj), "colon", "comma" (or close), "key_only"
    expect, i, n = "value", 0, len(text)
    literal = None  # remaining chars of true/false/null being read
    while i < n:
        c = text[i]
        if literal is not None:
            if c != literal[0]:
                return False
            literal = literal[1:] or None
            i += 1
            if literal is None:
                expect = "comma"
            continue
        if c in " \t\n\r":
            i += 1
            continue
        if expect in ("value", "value_or_close"):
            if c == "]" and expect == "value_or_close":
                stack.pop()
                expect, i = "comma", i + 1
                continue
            if c in "{[":
                stack.append(c)
                expect = "key_or_close" if c == "{" else "value_or_close"
                i += 1
                continue
            if c == '"':
                end = _string_end(text, i)
                if end is None:
                    return _string_prefix_ok(text[i + 1:])
                expect, i = "comma", end
                continue
            m = re.match(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", text[i:])
            if m and m.end() > 0:
                if i + m.end() == n:
                    return True
                i += m.end()
                expect = "comma"
                continue
            if c == "-" and i + 1 == n:
                return True
            for word in ("true", "false", "null"):
                if word.startswith(text[i:i + len(word)]) and word[0] == c:
                    literal = word[1:]
                    i += 1
                    break
            else:
                return False
            continue
        if expect in ("key", "key_or_close"):
            if c == "}" and expect == "key_or_close":
                stack.pop()
                expect, i = "comma", i + 1
                continue
            if c != '"':
                return False
            end = _string_end(text, i)
            if end is None:
                return _string_prefix_ok(text[i + 1:])
            expect, i = "colon", end
            continue
        if expect == "colon":
            if c != ":":
                return False
            expect, i = "value", i + 1
            continue
        # comma: after a value
        if not stack:
            return False  # something after a complete document
        if c == ",":
            expect = "key" if stack[-1] == "{" else "value"
        elif (c == "}" and stack[-1] == "{") or (c == "]" and stack[-1] == "["):
            stack.pop()
        else:
            return False
        i += 1
    return True


def _string_end(text, i):
    """Index after the closing quote of the string opening at text[i], None if it is not closed."""
    j = i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
        elif text[j] == '"':
            return j + 1
        else:
            j += 1
    return None


def _string_prefix_ok(body: str) -> bool:
    """An unterminated string's content: no control characters, escapes well formed so far."""
    return bool(re.fullmatch(r'([^"\\\x00-\x1f]|\\(["\\/bfnrt]|u[0-9a-fA-F]{0,4})?)*', body))


def test_json_prefix_recognizer_is_not_trivial():
    for ok in ['{"a": [1, 2.5e3, "x\\n', "[tr", '{"k"', "-", "[1, {}, []", '"ab']:
        assert is_json_prefix(ok), ok
    for bad in ['{"a" 1', "[1,,", "[1]]", '{"a": tru e', "01", '{"a": 1}x', "[1 2", '{1: 2}']:
        assert not is_json_prefix(bad), bad


def schema_cases():
    rng = random.Random(20261201)
    cases = [(f"random{i}", random_schema(rng)[0]) for i in range(N_SCHEMAS)]
    return cases + [(f"realistic{i}", s) for i, s in enumerate(REALISTIC_SCHEMAS)]


def regex_cases():
    rng = random.Random(14)
    cases = [(f"random{i}", random_regex(rng)[0]) for i in range(N_REGEXES)]
    return cases + [(f"realistic{i}", p) for i, p in enumerate(REALISTIC_REGEXES)]


@pytest.mark.parametrize("name,schema", schema_cases(), ids=lambda v: v if isinstance(v, str) and v[:1] == "r" else "")
def test_json_schema_outputs_validate(server, closing_bias, name, schema):
    validator = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
    for out in generate_many(server, "JSON:", {"json_schema": json.dumps(schema)}, closing_bias):
        text = out["text"]
        if not finished(out):
            assert is_json_prefix(text), f"{name}: not a JSON prefix: {text!r}"
            continue
        value = json.loads(text)
        errors = [e.message for e in validator.iter_errors(value)]
        assert not errors, f"{name}: {json.dumps(schema)}\n{text!r}\n{errors}"


@pytest.mark.parametrize("name,pattern", regex_cases(), ids=lambda v: v if isinstance(v, str) and v[:1] == "r" else "")
def test_regex_outputs_fullmatch(server, eos_bias, name, pattern):
    for out in generate_many(server, "Text:", {"regex": pattern}, eos_bias):
        text = out["text"]
        # `regex` (Python re's syntax and semantics, plus partial matching and a timeout): some
        # random patterns nest quantifiers, where a backtracking matcher can take exponential time
        # on a long text; such a check is counted as unchecked instead of hanging the suite.
        done = finished(out)
        try:
            m = regex.fullmatch(pattern, text, partial=not done, timeout=REGEX_TIMEOUT_S)
            if not m and PY_SPACES.search(text):
                # Python re's \s is str.isspace(), which also takes \x1c-\x1f; regex's is Unicode
                # White_Space. The authority is re: ask it (finished), or regex with those as spaces.
                m = re.fullmatch(pattern, text) if done else regex.fullmatch(
                    pattern, PY_SPACES.sub(" ", text), partial=True, timeout=REGEX_TIMEOUT_S)
        except TimeoutError:
            UNCHECKED["regex"] += 1
            continue
        assert m, f"{pattern!r}: {'no match' if done else 'not a prefix'}: {text!r}"


@pytest.mark.parametrize("index", range(len(EBNF_GRAMMARS)))
def test_ebnf_outputs_parse_with_lark(server, closing_bias, index):
    ebnf, lark_grammar = EBNF_GRAMMARS[index]
    parser = lark.Lark(lark_grammar, parser="earley", lexer="dynamic")
    outs = [o for o in generate_many(server, "Output:", {"ebnf": ebnf}, closing_bias) if finished(o)]
    assert outs, f"no output of {ebnf!r} finished"
    for out in outs:
        parser.parse(out["text"])  # raises on text outside the language


def test_most_outputs_finished_by_the_grammar():
    """Runs after the cases above (pytest keeps the file's order)."""
    assert FINISHED["outputs"] >= N_OUTPUTS * 10
    assert FINISHED["finished"] >= 0.6 * FINISHED["outputs"], FINISHED
    assert UNCHECKED["regex"] <= 0.05 * FINISHED["outputs"], UNCHECKED
