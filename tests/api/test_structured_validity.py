"""Validity of structured output against independent checkers (issue 14's Proof): for a few
hundred random JSON schemas (tests/api/structured_gen.py, seeded) and a set of realistic ones,
20 outputs each at temperature 1 on the tiny random model must parse and validate with the
`jsonschema` package; for random regexes every output must `re.fullmatch`; for EBNF grammars
every output must be accepted by `lark` with the grammar translated by hand.

A random model rarely closes a string or a container on its own, so `logit_bias` favours the
closing tokens (the mask is applied first, so the bias cannot let a forbidden token through), and
every output must have finished by the grammar (finish reason "stop"), not by length.

SGLANG_VALIDITY_SCHEMAS / SGLANG_VALIDITY_REGEXES set how many random cases run (200 / 100)."""
from __future__ import annotations

import json
import os
import random
import re

import jsonschema
import lark
import pytest

from conftest import Server
from structured_gen import (EBNF_GRAMMARS, REALISTIC_REGEXES, REALISTIC_SCHEMAS, random_regex,
                            random_schema)

N_OUTPUTS = 20
N_SCHEMAS = int(os.environ.get("SGLANG_VALIDITY_SCHEMAS", "200"))
N_REGEXES = int(os.environ.get("SGLANG_VALIDITY_REGEXES", "100"))
MAX_NEW_TOKENS = 256

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
    return {str(i): 8.0 for i in ids if i is not None}


@pytest.fixture(scope="module")
def closing_bias(tok, eos_bias):
    """A few units on the tokens that close strings and containers (not digits: a number would
    then never end)."""
    bias = {}
    pieces = ['"', "}", "]", ",", '":', '"}', '"]', "},", "],", "null", "true",
              '""', "[]", "{}", ":", "-", "@", "."]
    for piece in pieces:
        ids = tok.encode(piece, add_special_tokens=False).ids
        if len(ids) == 1:
            bias[str(ids[0])] = 10.0
    return {**bias, **eos_bias}


def generate_many(server, prompt, constraint: dict, logit_bias: dict | None = None) -> list[dict]:
    """N_OUTPUTS samples (one batch request, one seed each) under `constraint`."""
    params = []
    for seed in range(N_OUTPUTS):
        sp = {"temperature": 1.0, "max_new_tokens": MAX_NEW_TOKENS, "sampling_seed": seed,
              **constraint}
        if logit_bias:
            sp["logit_bias"] = logit_bias
        params.append(sp)
    r = server.post("/generate", json={"text": [prompt] * N_OUTPUTS, "sampling_params": params})
    assert r.status_code == 200, r.text
    outs = r.json()
    assert len(outs) == N_OUTPUTS
    return outs


def assert_finished(out, what):
    reason = out["meta_info"]["finish_reason"]
    assert reason["type"] == "stop", f"{what}: ended by {reason}, not by the grammar: {out['text']!r}"


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
        assert_finished(out, name)
        value = json.loads(out["text"])
        errors = [e.message for e in validator.iter_errors(value)]
        assert not errors, f"{name}: {json.dumps(schema)}\n{out['text']!r}\n{errors}"


@pytest.mark.parametrize("name,pattern", regex_cases(), ids=lambda v: v if isinstance(v, str) and v[:1] == "r" else "")
def test_regex_outputs_fullmatch(server, eos_bias, name, pattern):
    for out in generate_many(server, "Text:", {"regex": pattern}, eos_bias):
        assert_finished(out, pattern)
        assert re.fullmatch(pattern, out["text"]), f"{pattern!r}: {out['text']!r}"


@pytest.mark.parametrize("index", range(len(EBNF_GRAMMARS)))
def test_ebnf_outputs_parse_with_lark(server, closing_bias, index):
    ebnf, lark_grammar = EBNF_GRAMMARS[index]
    parser = lark.Lark(lark_grammar, parser="earley", lexer="dynamic")
    for out in generate_many(server, "Output:", {"ebnf": ebnf}, closing_bias):
        assert_finished(out, ebnf)
        parser.parse(out["text"])  # raises on text outside the language
