"""Seeded generators for the structured-output validity tests: random JSON schemas (with a
random valid instance each, used to check converters offline), realistic schemas, random
regexes (with a sampler of matching strings) and EBNF grammars with their lark translation.

Only keywords the converter enforces are generated (see src/sampling/grammar/
json_schema_converter.h); every schema is satisfiable and valid for Draft 2020-12."""

from __future__ import annotations

import random
import re
import string

# ---------------------------------------------------------------- regexes

_LIT = "abcxyzABZ019 _-,:;@#%&=~'/!<>\"éü中"
_META = ".^$*+?{}[]()|\\"


def _lit(rng):
    c = rng.choice(_LIT + _META)
    return ("\\" + c if c in _META else c), (lambda r, c=c: c)


def _cls(rng):
    choices = [
        ("[a-z]", string.ascii_lowercase),
        ("[A-Fa-f0-9]", "ABCDEFabcdef0123456789"),
        ("[^a-z\\n\"]", "ABC 09_.\\!?"),
        ("\\d", string.digits),
        ("\\w", "abcXYZ_09"),
        ("\\s", " \t\n"),
        (".", "a Z9.-\"\\é"),
        ("[.\\-+*]", ".-+*"),
        ("\\x41", "A"),
        ("\\u00e9", "é"),
        ("\\t", "\t"),
        ("[\\]]", "]"),
    ]
    pat, pool = rng.choice(choices)
    return pat, (lambda r, pool=pool: r.choice(pool))


def _quant(rng, pat, sample):
    q = rng.randrange(8)
    lazy = "?" if rng.random() < 0.15 else ""
    rep = lambda lo, hi: (lambda r: "".join(sample(r) for _ in range(r.randint(lo, hi))))
    if q == 0:
        return pat + "*" + lazy, rep(0, 3)
    if q == 1:
        return pat + "+" + lazy, rep(1, 3)
    if q == 2:
        return pat + "?" + lazy, rep(0, 1)
    if q == 3:
        m = rng.randrange(1, 4)
        return pat + "{%d}" % m + lazy, rep(m, m)
    if q == 4:
        m = rng.randrange(0, 3)
        return pat + "{%d,}" % m + lazy, rep(m, m + 2)
    if q == 5:
        m = rng.randrange(0, 3)
        n = m + rng.randrange(0, 3)
        return pat + "{%d,%d}" % (m, n) + lazy, rep(m, n)
    return pat, sample


def _node(rng, depth):
    k = rng.randrange(10) if depth < 2 else rng.randrange(5)
    if k < 2:
        return _lit(rng)
    if k < 5:
        return _cls(rng)
    if k < 8:
        p, s = _seq(rng, depth + 1)
        return rng.choice(["(", "(?:"]) + p + ")", s
    alts = [_seq(rng, depth + 1) for _ in range(2)]
    return "(?:" + "|".join(a[0] for a in alts) + ")", lambda r: r.choice(alts)[1](r)


def _seq(rng, depth):
    items = [_quant(rng, *_node(rng, depth)) for _ in range(rng.randint(1, 3 if depth == 0 else 2))]
    return "".join(i[0] for i in items), lambda r: "".join(i[1](r) for i in items)


def random_regex(rng: random.Random):
    """(pattern, sampler): a Python `re` pattern and a function rng -> a string it fullmatches."""
    while True:
        p, s = _seq(rng, 0)
        if rng.random() < 0.2:
            p = "^" + p
        if rng.random() < 0.2:
            p = p + "$"
        try:
            re.compile(p)
        except re.error:
            continue
        return p, s


REALISTIC_REGEXES = [
    r"\d{3}-\d{3}-\d{4}",
    r"[A-Z][a-z]+( [A-Z][a-z]+)*",
    r"(\+|-)?\d+(\.\d+)?([eE][+-]?\d+)?",
    r"[a-z0-9._]+@[a-z0-9]+\.(com|org|net)",
    r"(yes|no|maybe)",
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])",
    r"#[0-9a-fA-F]{6}",
    r"(ab|cd)*?e{2,}",
]

# ---------------------------------------------------------------- JSON schemas

_WORDS = ["name", "id", "age", "tags", "city", "score", "active", "items", "note", "kind",
          "value", "meta", "x", "y", "ünï", "with space", "quote\"d"]
_FORMATS = {
    "date": lambda r: "%04d-%02d-%02d" % (r.randint(1000, 2999), r.randint(1, 12), r.randint(1, 28)),
    "email": lambda r: "user%d@example.com" % r.randrange(100),
    "uuid": lambda r: "12345678-abcd-4ef0-9abc-1234567890ab",
    "ipv4": lambda r: "%d.%d.%d.%d" % tuple(r.randrange(256) for _ in range(4)),
    "hostname": lambda r: "host%d.example.org" % r.randrange(100),
    "date-time": lambda r: "2024-05-06T07:08:09Z",
    "time": lambda r: "07:08:09+01:00",
    "ipv6": lambda r: "2001:db8::1",
    "uri": lambda r: "https://example.com/a/b?c=d#e",
}


def _rand_string(r, lo=0, hi=6):
    return "".join(r.choice("abcXYZ 019é\"\\\n") for _ in range(r.randint(lo, hi)))


class SchemaGen:
    """Random schemas; `instance(schema)` gives one valid instance of what it generated."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.defs = {}

    def schema(self, depth=0):
        r = self.rng
        kinds = ["string", "integer", "number", "boolean", "null", "enum", "const", "any"]
        if depth < 3:
            kinds += ["object", "object", "array", "array", "anyOf", "oneOf", "allOf", "nullable",
                      "ref", "prefix", "typelist"]
        k = r.choice(kinds)
        if k == "string":
            s = {"type": "string"}
            c = r.randrange(5)
            if c == 0:
                s["minLength"] = r.randint(0, 3)
                s["maxLength"] = s["minLength"] + r.randint(0, 4)
            elif c == 1:
                pattern, sampler = random_regex(r)
                _SAMPLERS[pattern] = sampler
                s["pattern"] = pattern
            elif c == 2:
                s["format"] = r.choice(sorted(_FORMATS))
            return s
        if k == "integer":
            s = {"type": "integer"}
            if r.random() < 0.6:
                lo = r.randint(-1000, 1000)
                s[r.choice(["minimum", "exclusiveMinimum"])] = lo
                if r.random() < 0.7:
                    s[r.choice(["maximum", "exclusiveMaximum"])] = lo + r.randint(2, 5000)
            elif r.random() < 0.3:
                s["maximum"] = r.randint(-50, 50)
            return s
        if k == "number":
            s = {"type": "number"}
            if r.random() < 0.6:
                lo = r.randint(-100, 100)
                s[r.choice(["minimum", "exclusiveMinimum"])] = lo
                if r.random() < 0.7:
                    s[r.choice(["maximum", "exclusiveMaximum"])] = lo + r.randint(2, 300)
            return s
        if k == "boolean":
            return {"type": "boolean"}
        if k == "null":
            return {"type": "null"}
        if k == "enum":
            vals = r.sample(["red", "green", 3, 4.5, None, True, "a\"b", "ü", [1, 2], {"k": "v"}],
                            r.randint(1, 4))
            return {"enum": vals}
        if k == "const":
            return {"const": r.choice(["fixed", 42, False, None, {"a": [1, "x"]}])}
        if k == "any":
            return r.choice([{}, True, {"description": "anything"}])
        if k == "object":
            names = r.sample(_WORDS, r.randint(0, 4))
            props = {n: self.schema(depth + 1) for n in names}
            s = {"type": "object", "properties": props}
            if names:
                s["required"] = [n for n in names if r.random() < 0.5]
            c = r.randrange(4)
            if c == 0:
                s["additionalProperties"] = False
            elif c == 1 and not names:
                s["additionalProperties"] = self.schema(depth + 1)
            return s
        if k == "array":
            s = {"type": "array", "items": self.schema(depth + 1)}
            if r.random() < 0.5:
                s["minItems"] = r.randint(0, 2)
            if r.random() < 0.5:
                s["maxItems"] = s.get("minItems", 0) + r.randint(0, 3)
            return s
        if k == "prefix":
            s = {"type": "array", "prefixItems": [self.schema(depth + 1) for _ in range(r.randint(1, 3))]}
            if r.random() < 0.5:
                s["items"] = self.schema(depth + 1)
            return s
        if k == "anyOf":
            return {"anyOf": [self.schema(depth + 1) for _ in range(r.randint(1, 3))]}
        if k == "oneOf":
            # Branches of different JSON types, so exactly one matches (jsonschema checks that).
            types = r.sample(["string", "boolean", "null", "object", "array", "integer"], 2)
            out = []
            for t in types:
                b = self.schema(depth + 1)
                while self._json_type(b) != t:
                    b = self.schema(depth + 1)
                out.append(b)
            return {"oneOf": out}
        if k == "allOf":
            return {"allOf": [self.schema(depth + 1)]}
        if k == "nullable":
            base = r.choice(["string", "integer", "number", "boolean", "array", "object"])
            return {"type": [base, "null"]}
        if k == "typelist":
            return {"type": r.sample(["string", "integer", "boolean", "null"], 2)}
        # ref
        name = "d%d" % len(self.defs)
        self.defs[name] = None
        self.defs[name] = self.schema(depth + 1)
        return {"$ref": "#/$defs/" + name}

    def _json_type(self, s):
        """The single JSON type a generated schema's instances have, or None if several."""
        if not isinstance(s, dict):
            return None
        t = s.get("type")
        if isinstance(t, str):
            return t if t != "number" else None
        if "const" in s:
            return _type_of(s["const"])
        if "enum" in s and len({_type_of(v) for v in s["enum"]}) == 1:
            return _type_of(s["enum"][0])
        return None

    def root(self):
        s = self.schema(0)
        if self.defs:
            s = {**s, "$defs": dict(self.defs)}
        return s

    # One valid instance (for the offline converter check).
    def instance(self, s, root):
        r = self.rng
        if s is True or s == {} or (isinstance(s, dict) and set(s) <= {"description", "$defs"}):
            return r.choice([1, "x", None, [True], {"k": 2.5}])
        if "$ref" in s:
            return self.instance(root["$defs"][s["$ref"].split("/")[-1]], root)
        if "const" in s:
            return s["const"]
        if "enum" in s:
            return r.choice(s["enum"])
        if "anyOf" in s or "oneOf" in s:
            return self.instance(r.choice(s.get("anyOf") or s.get("oneOf")), root)
        if "allOf" in s:
            return self.instance(s["allOf"][0], root)
        t = s.get("type")
        if isinstance(t, list):
            t = r.choice(t)
            if t in ("array", "object"):
                return [] if t == "array" else {}
        if t == "string":
            if "pattern" in s:
                return _regex_sampler(s["pattern"])(r)
            if "format" in s:
                return _FORMATS[s["format"]](r)
            return _rand_string(r, s.get("minLength", 0), s.get("maxLength", s.get("minLength", 0) + 5))
        if t in ("integer", "number"):
            lo = s.get("minimum", s.get("exclusiveMinimum", -10**6) + 1)
            hi = s.get("maximum", s.get("exclusiveMaximum", 10**6) - 1)
            v = r.randint(lo, hi)
            if t == "number" and r.random() < 0.5 and v + 1 <= hi:
                return v + 0.25
            return v
        if t == "boolean":
            return r.random() < 0.5
        if t == "null":
            return None
        if t == "array":
            pre = [self.instance(p, root) for p in s.get("prefixItems", [])]
            if "items" in s:
                lo = max(0, s.get("minItems", 0) - len(pre))
                hi = s.get("maxItems", lo + len(pre) + 2) - len(pre)
                pre += [self.instance(s["items"], root) for _ in range(r.randint(lo, max(lo, hi)))]
            return pre
        if t == "object":
            out = {}
            req = set(s.get("required", []))
            for k, v in s.get("properties", {}).items():
                if k in req or r.random() < 0.5:
                    out[k] = self.instance(v, root)
            if isinstance(s.get("additionalProperties"), dict) and not s.get("properties"):
                for i in range(r.randint(0, 2)):
                    out["extra%d" % i] = self.instance(s["additionalProperties"], root)
            return out
        raise AssertionError(s)


def _type_of(v):
    return {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null",
            list: "array", dict: "object"}[type(v)]


_SAMPLERS = {}


def _regex_sampler(pattern):
    return _SAMPLERS[pattern]


def random_schema(rng: random.Random):
    """A random schema (a dict or bool) and one valid instance of it."""
    g = SchemaGen(rng)
    s = g.root()
    return s, g.instance(s, s)


REALISTIC_SCHEMAS = [
    {"type": "object",
     "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer", "minimum": 0, "maximum": 150},
                    "email": {"type": "string", "format": "email"}},
     "required": ["name", "age"]},
    {"type": "object",
     "properties": {"order_id": {"type": "string", "pattern": "[A-Z]{3}-\\d{4}"},
                    "items": {"type": "array", "minItems": 1, "maxItems": 3,
                              "items": {"type": "object",
                                        "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1, "maximum": 9}},
                                        "required": ["sku", "qty"]}},
                    "status": {"enum": ["pending", "shipped", "delivered"]}},
     "required": ["order_id", "items", "status"]},
    {"$defs": {"node": {"type": "object",
                        "properties": {"value": {"type": "integer"},
                                       "children": {"type": "array", "maxItems": 2, "items": {"$ref": "#/$defs/node"}}},
                        "required": ["value"]}},
     "$ref": "#/$defs/node"},
    {"type": "object",
     "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]},
                    "days": {"type": ["integer", "null"], "minimum": 1, "maximum": 7}},
     "required": ["city", "unit"], "additionalProperties": False},
    {"type": "array", "prefixItems": [{"type": "string", "format": "date"}, {"type": "number", "minimum": -50, "maximum": 60}],
     "items": False},
    {"type": "object", "properties": {"answer": {"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["unknown"]}]},
                                      "confidence": {"type": "number", "minimum": 0, "maximum": 1}},
     "required": ["answer"]},
]

# ---------------------------------------------------------------- EBNF grammars
# (xgrammar EBNF, the same language in lark syntax)

EBNF_GRAMMARS = [
    ('root ::= "yes" | "no" | "maybe"', 'start: "yes" | "no" | "maybe"'),
    ('root ::= expr "="\nexpr ::= term ("+" term)*\nterm ::= [0-9]+ | "(" expr ")"',
     'start: expr "="\nexpr: term ("+" term)*\nterm: /[0-9]+/ | "(" expr ")"'),
    ('root ::= "[" (item ("," item){0,3})? "]"\nitem ::= "\\"" [a-z]{1,5} "\\""',
     'start: "[" (item ("," item)~0..3)? "]"\nitem: /"[a-z]{1,5}"/'),
    ('root ::= greeting " " name "!"\ngreeting ::= "Hello" | "Hi"\nname ::= [A-Z] [a-z]*',
     'start: greeting " " name "!"\ngreeting: "Hello" | "Hi"\nname: /[A-Z][a-z]*/'),
]
