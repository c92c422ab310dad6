#!/usr/bin/env python3
"""Write the chat-template conformance reference for tests/chat/template_conformance_test.cpp.

Usage:
    make_template_reference.py --out FILE.json --cache DIR [--assets DIR] [--gguf FILE]

Templates: every .jinja file of vendor/llama.cpp/models/templates/ in the llama-cpp-python 0.3.36
sdist from PyPI (downloaded once into --cache, sha256 checked, never committed), the
`chat_template` of each tokenizer_config.json under --assets (a string, or a list of named
templates), and the `tokenizer.chat_template` of the GGUF given by --gguf (skipped with a message
when the file is absent).

Each template is rendered with jinja2 configured as transformers' chat_template_utils does
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, a {% generation %} tag,
transformers' tojson, raise_exception, strftime_now) on every context of CONTEXTS.  The output is
one JSON file:

    {"now": <epoch seconds strftime_now renders>,
     "templates": [{"name", "source"}], "contexts": [{...}],
     "cases": [{"template": i, "context": j, "output": str}
               or {"template": i, "context": j, "error_type": str, "error": str}]}

A template jinja2 cannot compile gets one case per context with its error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
from datetime import datetime
from pathlib import Path

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

SDIST = "llama_cpp_python-0.3.36.tar.gz"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
TEMPLATE_DIR = "llama_cpp_python-0.3.36/vendor/llama.cpp/models/templates/"
# 2024-07-26 12:34:56 UTC: strftime_now renders this instant (the C++ test sets the same clock).
NOW = 1721997296


def fetch_sdist(cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / SDIST
    if not path.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
             "llama-cpp-python==0.3.36", "-d", str(cache)],
            check=True, stdout=subprocess.DEVNULL)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        path.unlink()
        sys.exit(f"{path}: sha256 {digest}, expected {SDIST_SHA256}")
    return path


def llama_cpp_templates(sdist: Path) -> list[tuple[str, str]]:
    out = []
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            if member.name.startswith(TEMPLATE_DIR) and member.name.endswith(".jinja"):
                data = tar.extractfile(member).read().decode("utf-8")
                out.append(("llama.cpp/" + Path(member.name).name, data))
    return sorted(out)


def asset_templates(assets: Path) -> list[tuple[str, str]]:
    out = []
    for config in sorted(assets.glob("*/tokenizer_config.json")):
        template = json.loads(config.read_text()).get("chat_template")
        name = "assets/" + config.parent.name
        if isinstance(template, str):
            out.append((name, template))
        elif isinstance(template, list):
            for item in template:
                out.append((f"{name}:{item['name']}", item["template"]))
    return out


def gguf_template(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        print(f"make_template_reference: {path} absent, its template is skipped")
        return []
    import gguf

    reader = gguf.GGUFReader(str(path))
    field = reader.fields.get("tokenizer.chat_template")
    if field is None:
        return []
    text = bytes(field.parts[field.data[0]]).decode("utf-8")
    return [("gguf/" + path.name, text)]


# --- the environment, as transformers' chat_template_utils builds it --------------------------


class TemplateError(Exception):
    pass


class AssistantTracker(Extension):
    """{% generation %}...{% endgeneration %}: renders its body (the indices it records are not
    part of the output)."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_environment() -> jinja2.Environment:
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.fromtimestamp(NOW).strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


# --- the conversations -----------------------------------------------------------------------

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["query"],
        },
    },
}


def call(name, arguments, id_="call_1"):
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}


SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
HELLO = {"role": "user", "content": "Hello!"}
CONVERSATIONS = {
    "single_user": [HELLO],
    "system_user": [SYSTEM, HELLO],
    "multi_turn": [SYSTEM, HELLO, {"role": "assistant", "content": "Hi! How can I help?"},
                   {"role": "user", "content": "What is 2 + 2?"}],
    "ends_with_assistant": [HELLO, {"role": "assistant", "content": "Hi there."}],
    "tools_user": [SYSTEM, {"role": "user", "content": "Weather in Paris?"}],
    "tool_call_and_result": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            call("get_weather", {"city": "Paris", "unit": "celsius"})]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather",
         "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"},
        {"role": "assistant", "content": "It is 21.5 °C and clear in Paris."},
        {"role": "user", "content": "Thanks"},
    ],
    "two_tool_calls": [
        SYSTEM,
        {"role": "user", "content": "Weather in Paris and news about it?"},
        {"role": "assistant", "content": None, "tool_calls": [
            call("get_weather", {"city": "Paris"}, "call_a"),
            call("search", {"query": "Paris news", "limit": 3}, "call_b")]},
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_b", "content": "nothing new"},
    ],
    "empty_content": [{"role": "user", "content": ""}, {"role": "assistant", "content": ""},
                      {"role": "user", "content": "again"}],
    "list_content": [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "text", "text": "Describe"},
                                     {"type": "text", "text": "this."}]},
    ],
    "unicode": [{"role": "user", "content": "Ünïcödé: 日本語, emoji 🎉, «quotes» — ok"},
                {"role": "assistant", "content": "Понятно. 👍"},
                {"role": "user", "content": "¿Y ahora?"}],
    "special_chars": [{"role": "user",
                       "content": "Line 1\nLine 2\t'single' \"double\" \\back <b>html</b> {{ x }} {% y %}"}],
    "reasoning": [HELLO, {"role": "assistant", "content": "Hi.",
                          "reasoning_content": "The user greets me."},
                  {"role": "user", "content": "And now?"}],
    "think_in_content": [HELLO, {"role": "assistant",
                                 "content": "<think>\nGreeting.\n</think>\n\nHello to you."},
                         {"role": "user", "content": "Bye"}],
    "whitespace_content": [{"role": "system", "content": "  padded system  \n"},
                           {"role": "user", "content": "\n  spaced question  \n"}],
}

BASE = {"bos_token": "<s>", "eos_token": "</s>", "tools": None, "documents": None}
CONTEXTS = []
for name, messages in CONVERSATIONS.items():
    tools = [WEATHER_TOOL, SEARCH_TOOL] if "tool" in name else None
    variants = [{"add_generation_prompt": True}, {"add_generation_prompt": False}]
    if name in ("multi_turn", "reasoning", "think_in_content", "tool_call_and_result"):
        variants += [{"add_generation_prompt": True, "enable_thinking": False},
                     {"add_generation_prompt": True, "enable_thinking": True}]
    for variant in variants:
        context = dict(BASE, messages=messages, tools=tools, **variant)
        context["_name"] = name + "".join(f" {k}={v}" for k, v in variant.items())
        CONTEXTS.append(context)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument("--assets", type=Path)
    parser.add_argument("--gguf", type=Path)
    args = parser.parse_args()
    if jinja2.__version__ != "3.1.4":
        sys.exit(f"jinja2 {jinja2.__version__}, expected 3.1.4 (requirements-test.txt)")

    templates = llama_cpp_templates(fetch_sdist(args.cache))
    if args.assets:
        templates += asset_templates(args.assets)
    if args.gguf:
        templates += gguf_template(args.gguf)

    env = make_environment()
    cases = []
    for t, (_, source) in enumerate(templates):
        try:
            compiled = env.from_string(source)
            error = None
        except Exception as e:  # noqa: BLE001 -- a compile error is a case too
            compiled, error = None, e
        for c, context in enumerate(CONTEXTS):
            case = {"template": t, "context": c}
            if compiled is not None:
                try:
                    variables = {k: v for k, v in context.items() if k != "_name"}
                    case["output"] = compiled.render(**variables)
                except Exception as e:  # noqa: BLE001
                    error = e
                    case.update(error_type=type(e).__name__, error=str(e))
                    error = None
            else:
                case.update(error_type=type(error).__name__, error=str(error))
            cases.append(case)

    out = {"now": NOW, "templates": [{"name": n, "source": s} for n, s in templates],
           "contexts": CONTEXTS, "cases": cases}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, ensure_ascii=True, indent=1))
    tmp.replace(args.out)
    raised = sum("error" in c for c in cases)
    print(f"make_template_reference: {len(templates)} templates, {len(CONTEXTS)} contexts, "
          f"{len(cases)} cases ({raised} raise) -> {args.out}")


if __name__ == "__main__":
    main()
