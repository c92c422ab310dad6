#!/usr/bin/env python3
"""Writes tests/chat/data/parser_reference.json: what SGLang's own tool-call and reasoning parsers
return for the texts below, fed whole and streamed in fixed chunkings. Run by hand, never in CI:

    python3.11 -m venv /work/main/.venv-sglang-ref
    /work/main/.venv-sglang-ref/bin/pip install --no-deps sglang==0.5.5
    /work/main/.venv-sglang-ref/bin/pip install partial_json_parser==0.2.1.1.post6 orjson==3.11.4 \
        pydantic==2.12.4 openai==2.6.1
    /work/main/.venv-sglang-ref/bin/python tools/make_parser_reference.py

Only sglang.srt.function_call and sglang.srt.parser.reasoning_parser are imported: the package's
__init__ (which pulls the whole runtime) is bypassed, and sglang.utils (numpy, IPython, ...) is
replaced by the one function protocol.py needs from it.
"""
import json
import os
import random
import sys
import types

SITE = next(p for p in sys.path if p.endswith("site-packages"))
pkg = types.ModuleType("sglang")
pkg.__path__ = [os.path.join(SITE, "sglang")]
sys.modules["sglang"] = pkg
utils = types.ModuleType("sglang.utils")
utils.convert_json_schema_to_str = lambda s: s if isinstance(s, str) else json.dumps(s)
sys.modules["sglang.utils"] = utils

from sglang.srt.entrypoints.openai.protocol import Tool  # noqa: E402
from sglang.srt.entrypoints.openai.protocol import ToolChoice  # noqa: E402
from sglang.srt.function_call.function_call_parser import FunctionCallParser  # noqa: E402
from sglang.srt.function_call.json_array_parser import JsonArrayParser  # noqa: E402
from sglang.srt.function_call.utils import get_json_schema_constraint  # noqa: E402
from sglang.srt.parser.reasoning_parser import ReasoningParser  # noqa: E402
from sglang.version import __version__  # noqa: E402

TOOLS = [
    {"name": "get_weather", "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "unit": {"type": "string"}}}},
    {"name": "search", "parameters": {"type": "object", "properties": {
        "query": {"type": "string"}}}},
]

W = '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}'
S = '{"name": "search", "arguments": {"query": "sglang c++"}}'
U = '{"name": "get_weather", "arguments": {"city": "東京", "note": "café ☕ 😀 \\u00e9"}}'
N = ('{"name": "search", "arguments": {"query": "x", "n": 3, "x": 1.50, "e": 1e5, "flag": true,'
     ' "none": null, "list": [1, "a", {"b": false}], "esc": "a\\"b\\\\c\\nd"}}')
X = '{"name": "get_time", "arguments": {"zone": "UTC"}}'
BAD = '{"name": "get_weather", "arguments": {"city": }}'

def qwen(*calls):
    return "\n".join(f"<tool_call>\n{c}\n</tool_call>" for c in calls)

def dsv3(*calls):
    parts = []
    for c in calls:
        o = json.loads(c) if not c.startswith("!") else None
        name, args = (o["name"], json.dumps(o["arguments"], ensure_ascii=False)) if o else ("get_weather", c[1:])
        parts.append(f"<｜tool▁call▁begin｜>function<｜tool▁sep｜>{name}\n```json\n{args}\n```<｜tool▁call▁end｜>")
    return "<｜tool▁calls▁begin｜>" + "\n".join(parts) + "<｜tool▁calls▁end｜>"

TOOL_CASES = {
    "json_array": [
        "[" + W.replace('"arguments"', '"parameters"') + "]",
        "[" + W.replace('"arguments"', '"parameters"') + "," + S.replace('"arguments"', '"parameters"') + "]",
        '[{"name":"search","parameters":{"query":"東京"}}]',
        "[" + X.replace('"arguments"', '"parameters"') + "]",
        "not json",
    ],
    "qwen25": [
        qwen(W),
        "Let me check.\n" + qwen(W),
        qwen(W, S),
        "I'll look both up. " + qwen(W, S) + "\nDone.",
        qwen(U),
        qwen(N),
        qwen(X),
        qwen(X, S),
        qwen(BAD),
        qwen(BAD, S),
        qwen('{"name":"get_weather","arguments":{"city":"Paris"}}'),
        qwen('{"name": "get_weather", "parameters": {"city": "Rome"}}'),
        qwen('{"name": "get_weather", "arguments": {}}'),
        "No tools needed: the answer is 4.",
        "<tool_call>\n" + W[:40],
    ],
    "qwen": [qwen(W, S)],
    "llama3": [
        "<|python_tag|>" + W,
        W,
        W + ";" + S,
        "Sure. <|python_tag|>" + W,
        "<|python_tag|>" + U,
        "<|python_tag|>" + N,
        X,
        X + ";" + S,
        BAD + ";" + S,
        '{"name": "get_weather", "parameters": {"city": "Rome"}}',
        "Plain answer, no call.",
        W + " trailing words",
    ],
    "mistral": [
        "[TOOL_CALLS] [" + W + "]",
        "[TOOL_CALLS] [" + W + ", " + S + "]",
        "Checking. [TOOL_CALLS] [" + W + "]",
        "[TOOL_CALLS] [" + U + "]",
        "[TOOL_CALLS] [" + N + "]",
        "[TOOL_CALLS] [" + X + ", " + S + "]",
        "[TOOL_CALLS] [" + BAD + "]",
        "[TOOL_CALLS] [" + W + "] and after",
        "No call [here].",
    ],
    "deepseekv3": [
        dsv3(W),
        "Let me see.\n" + dsv3(W),
        dsv3(W, S),
        dsv3(U),
        dsv3(N),
        dsv3(X),
        dsv3('!{"city": }'),
        "Nothing to call.",
    ],
    "pythonic": [
        '[get_weather(city="Paris", unit="celsius")]',
        "[get_weather(city='Paris'), search(query=\"sglang\")]",
        'Sure: [get_weather(city="Paris")] ok',
        '[get_weather(city="東京", note="café ☕ 😀")]',
        '[search(query="x", n=3, x=1.5, flag=True, none=None, list=[1, "a", {"b": False}])]',
        '[get_time(zone="UTC"), search(query="q")]',
        '[get_weather(city=-1)]',
        '<|python_start|>[get_weather(city="Paris")]<|python_end|>',
        "A list [1, 2, 3] of numbers.",
        "No call at all.",
    ],
}

REASONING_CASES = [
    ("deepseek-r1", True, None, "I need to think about this.</think>The answer is 42."),
    ("deepseek-r1", True, None, "<think>\nStep one.\nStep two.\n</think>\n\nThe answer is 42."),
    ("deepseek-r1", True, None, "Reasoning cut short by max_tokens"),
    ("deepseek-r1", False, None, "<think>Hidden until the end.</think>Visible."),
    ("qwen3", True, None, "<think>\nLet me think.\n</think>\n\nThe answer is 42."),
    ("qwen3", True, None, "The answer is 42."),
    ("qwen3", True, True, "Pre-filled think: the template opened it.\n</think>\n\nAnswer."),
    ("qwen3", True, False, "Plain answer with no think block."),
    ("qwen3", False, None, "<think>Not streamed.</think>Streamed answer."),
    ("qwen3", True, None, "<think>Unfinished reasoning, 東京 ☕"),
    ("qwen3-thinking", True, None, "Thinking without an opening tag.</think>Answer: 東京."),
    ("qwen3-thinking", True, False, "Forced anyway.</think>Answer."),
    ("deepseek-v3", True, None, "<think>r</think>a"),
    ("kimi", True, None, "◁think▷Kimi reasons.◁/think▷Answer."),
    ("glm45", True, None, "<think>glm</think>answer"),
    ("step3", True, None, "step3 reasoning</think>answer"),
]


def chunkings(text):
    out = {"chars": list(text)}
    for n in (3, 7):
        out[f"size{n}"] = [text[i:i + n] for i in range(0, len(text), n)]
    for seed in (1, 2):
        rng = random.Random(seed)
        chunks, i = [], 0
        while i < len(text):
            n = rng.randint(1, 12)
            chunks.append(text[i:i + n])
            i += n
        out[f"random{seed}"] = chunks
    return out


def calls_json(calls):
    return [[c.tool_index, c.name, c.parameters] for c in calls]


def unstreamed_tool_args(detector):
    """serving_chat.py's _check_for_unstreamed_tool_args (0.5.5), restated (it needs the whole
    server to import): [tool_index, text] of the last call's arguments not streamed, or None."""
    prev = getattr(detector, "prev_tool_call_arr", None)
    streamed = getattr(detector, "streamed_args_for_tool", None)
    if not prev or not streamed:
        return None
    index = len(prev) - 1
    if index >= len(streamed):
        return None
    expected = json.dumps(prev[index].get("arguments", {}), ensure_ascii=False)
    actual = streamed[index]
    rest = expected.replace(actual, "", 1) if actual in expected else ""
    return [index, rest] if rest else None


# Markers a model writes as one token: a stream never splits them.
ATOMIC = {
    "qwen25": ["<tool_call>", "</tool_call>"],
    "qwen": ["<tool_call>", "</tool_call>"],
    "llama3": ["<|python_tag|>"],
    "mistral": ["[TOOL_CALLS]"],
    "deepseekv3": ["<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>",
                   "<｜tool▁call▁end｜>", "<｜tool▁sep｜>"],
    "pythonic": ["<|python_start|>", "<|python_end|>"],
    "json_array": [],
}


def split_points(parser_name, text):
    inside = set()
    for token in ATOMIC[parser_name]:
        at = text.find(token)
        while at != -1:
            inside.update(range(at + 1, at + len(token)))
            at = text.find(token, at + 1)
    return [k for k in range(1, len(text)) if k not in inside]


def stream(parser_name, chunks):
    tools = [Tool(type="function", function=t) for t in TOOLS]
    parser = FunctionCallParser(tools, parser_name)
    results = [parser.parse_stream_chunk(c) for c in chunks]
    return results, unstreamed_tool_args(parser.detector)


def joined_calls(results, tail):
    """The calls a client assembles from the stream: per tool_index, names and arguments
    concatenated, the serving layer's unstreamed tail appended."""
    calls = {}
    for _, items in results:
        for c in items:
            entry = calls.setdefault(c.tool_index, ["", ""])
            entry[0] += c.name or ""
            entry[1] += c.parameters
    if tail:
        calls.setdefault(tail[0], ["", ""])[1] += tail[1]
    return list(calls.values())


def same_calls(streamed, non_stream):
    if len(streamed) != len(non_stream):
        return False
    for (sn, sa), c in zip(streamed, non_stream):
        try:
            if sn != c.name or json.loads(sa) != json.loads(c.parameters):
                return False
        except json.JSONDecodeError:
            return False
    return True


def tool_entry(parser_name, text):
    tools = [Tool(type="function", function=t) for t in TOOLS]
    if parser_name == "json_array":
        return json_array_entry(text)
    whole = FunctionCallParser(tools, parser_name)
    normal, calls = whole.parse_non_stream(text)
    entry = {
        "parser": parser_name,
        "text": text,
        "has_tool_call": FunctionCallParser(tools, parser_name).has_tool_call(text),
        "non_stream": [normal, calls_json(calls)],
        "streams": {},
    }
    for name, chunks in chunkings(text).items():
        parser = FunctionCallParser(tools, parser_name)
        results = []
        for chunk in chunks:
            n, c = parser.parse_stream_chunk(chunk)
            results.append([n, calls_json(c)])
        # What the serving layer adds when the stream ends (serving_chat's
        # _check_for_unstreamed_tool_args): the last call's arguments not yet streamed.
        tail = unstreamed_tool_args(parser.detector)
        entry["streams"][name] = {"chunks": chunks, "results": results, "unstreamed": tail}
    # Every split of the text in two (between characters, outside markers): the byte offsets
    # where the streamed calls differ from the whole-text calls. SGLang's own algorithm loses
    # calls at some (a separator split in two, a marker's partial prefix read as text).
    failing = []
    for k in split_points(parser_name, text):  # noqa: B007
        results, tail = stream(parser_name, [text[:k], text[k:]])
        if not same_calls(joined_calls(results, tail), calls):
            failing.append(len(text[:k].encode("utf-8")))
    entry["split_failures"] = failing
    # Robust: the calls survive 50 random token-like chunkings (1 to 4 characters, markers
    # whole), which the C++ test fuzzes with chunkings of its own.
    rng = random.Random(7)
    points = set(split_points(parser_name, text))
    robust = True
    for _ in range(50):
        cuts, k = [], 0
        while True:
            k += rng.randint(1, 4)
            while k < len(text) and k not in points:
                k += 1
            if k >= len(text):
                break
            cuts.append(k)
        chunks = [text[a:b] for a, b in zip([0] + cuts, cuts + [len(text)])]
        results, tail = stream(parser_name, chunks)
        if not same_calls(joined_calls(results, tail), calls):
            robust = False
            break
    entry["robust"] = robust
    return entry


def json_array_entry(text):
    """tool_choice "required" / named: SGLang streams with JsonArrayParser (whatever the
    --tool-call-parser) and reads the whole text as serving_chat's _process_tool_calls does."""
    tools = [Tool(type="function", function=t) for t in TOOLS]
    try:
        data = json.loads(text)
        calls = [[i, c["name"], json.dumps(c["parameters"], ensure_ascii=False)]
                 for i, c in enumerate(data)]
    except json.JSONDecodeError:
        calls = None
    entry = {"parser": "json_array", "text": text, "required_calls": calls, "streams": {}}
    for name, chunks in chunkings(text).items():
        parser = JsonArrayParser()
        results = []
        for chunk in chunks:
            r = parser.parse_streaming_increment(chunk, tools)
            results.append([r.normal_text, calls_json(r.calls)])
        entry["streams"][name] = {"chunks": chunks, "results": results,
                                  "unstreamed": unstreamed_tool_args(parser)}
    return entry


def schema_entries():
    """get_json_schema_constraint for tool_choice "required" and named functions."""
    defs_tools = TOOLS + [
        {"name": "book", "parameters": {"type": "object", "properties": {
            "when": {"$ref": "#/$defs/date"}}, "$defs": {"date": {"type": "string"}}}},
        {"name": "noargs"},
    ]
    tools = [Tool(type="function", function=t) for t in defs_tools]
    out = []
    for choice in ("required", "get_weather", "noargs", "missing"):
        tc = choice if choice == "required" else ToolChoice(
            type="function", function={"name": choice})
        out.append([choice, get_json_schema_constraint(tools, tc)])
    return {"tools": defs_tools, "cases": out}


def reasoning_entry(parser_name, stream_reasoning, force, text):
    whole = ReasoningParser(parser_name, stream_reasoning, force)
    r, n = whole.parse_non_stream(text)
    entry = {"parser": parser_name, "stream_reasoning": stream_reasoning, "force_reasoning": force,
             "text": text, "non_stream": [r, n], "streams": {}}
    for name, chunks in chunkings(text).items():
        parser = ReasoningParser(parser_name, stream_reasoning, force)
        entry["streams"][name] = {"chunks": chunks,
                                  "results": [list(parser.parse_stream_chunk(c)) for c in chunks]}
    return entry


PARTIAL_JSON_TEXTS = [
    '{"name": "get_weather", "arguments": {"city": "Paris", "n": -12.5e3, "ok": true, "x": null}}',
    '{"a": [1, 2.0, [3, {"b": "c\\"d\\u00e9\\n"}], false], "e": "東京 😀 "}',
    '[{"name": "f", "parameters": {}}, {"name": "g"}]',
    '{"k": "v"}\n</tool_call>',
    '  {"s": "tab\\t and \\\\ backslash"}  ',
]


def partial_json_entries():
    """SGLang's _partial_json_loads on every prefix of the texts above, with both flag sets the
    base detector uses: [text, flags, python json.dumps of the value, end, complete] or
    [text, flags, null] where it raises."""
    from partial_json_parser.core.options import Allow
    from sglang.srt.function_call.utils import _is_complete_json, _partial_json_loads
    out = []
    for text in PARTIAL_JSON_TEXTS:
        for k in range(1, len(text) + 1):
            prefix = text[:k]
            for name, flags in (("all", Allow.ALL), ("no_str", Allow.ALL & ~Allow.STR)):
                try:
                    obj, end = _partial_json_loads(prefix, flags)
                    out.append([prefix, name, json.dumps(obj, ensure_ascii=False), end,
                                _is_complete_json(prefix[:end])])
                except Exception:
                    out.append([prefix, name, None])
    return out


def main():
    out = {
        "generator": "tools/make_parser_reference.py",
        "sglang_version": __version__,
        "tools": TOOLS,
        "tool_calls": [tool_entry(p, t) for p, texts in TOOL_CASES.items() for t in texts],
        "reasoning": [reasoning_entry(*c) for c in REASONING_CASES],
        "partial_json": partial_json_entries(),
        "json_schema": schema_entries(),
    }
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "chat", "data",
                        "parser_reference.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}: {len(out['tool_calls'])} tool-call cases, "
          f"{len(out['reasoning'])} reasoning cases")


if __name__ == "__main__":
    main()
