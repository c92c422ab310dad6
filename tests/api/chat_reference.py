"""The prompt SGLang 0.5.5 renders for /v1/chat/completions, made in Python: the messages dumped as
its pydantic models (serving_chat._apply_jinja_template, process_content_for_template_format),
rendered by jinja2 configured as transformers' apply_chat_template (the environment of
tests/chat/make_template_reference.py), tokenized by the server's /tokenize without special tokens
(apply_chat_template(tokenize=True) adds none)."""
from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path

import gguf

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "chat"))
from make_template_reference import make_environment  # noqa: E402

GENERIC_FIELDS = ("tool_call_id", "name", "reasoning_content", "tool_calls")


def dump_message(message: dict, content_format: str = "string") -> dict:
    """One message as SGLang hands it to the template: its pydantic model dumped
    (ChatCompletionMessageUserParam: role, content; ChatCompletionMessageGenericParam: also
    tool_call_id, name, reasoning_content, tool_calls), None content made "", then
    process_content_for_template_format: None fields dropped, and a list of parts, for a template
    of the "string" content format, made its text parts joined by a space."""
    out = {"role": message["role"], "content": message.get("content")}
    if message["role"] != "user":
        for key in GENERIC_FIELDS:
            out[key] = message.get(key)
    if out["content"] is None:
        out["content"] = ""
    if isinstance(out["content"], list) and content_format == "string":
        out["content"] = " ".join(p["text"] for p in out["content"] if p.get("type") == "text")
    return {k: v for k, v in out.items() if v is not None}


def template_tools(tools: list | None) -> list | None:
    """request.tools as SGLang passes them: [tool.function.model_dump()] (pydantic field order)."""
    if not tools:
        return None
    return [{"description": t["function"].get("description"), "name": t["function"]["name"],
             "parameters": t["function"].get("parameters"),
             "strict": t["function"].get("strict", False)} for t in tools]


def render(source: str, messages: list, tools: list | None = None, **special_tokens) -> str:
    template = make_environment().from_string(source)
    return template.render(messages=[dump_message(m) for m in messages],
                           tools=template_tools(tools), documents=None, add_generation_prompt=True,
                           reasoning_effort="medium", **special_tokens)


@lru_cache(maxsize=None)
def gguf_reader(path: str) -> gguf.GGUFReader:
    # GGUFReader parses every metadata field (the vocabulary too: seconds): once per session.
    return gguf.GGUFReader(path)


def gguf_chat_template(path: str) -> str:
    field = gguf_reader(path).fields["tokenizer.chat_template"]
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def gguf_special_tokens(path: str) -> dict:
    """bos_token and eos_token, which transformers passes the template (special_tokens_map)."""
    reader = gguf_reader(path)
    tokens = reader.fields["tokenizer.ggml.tokens"]

    def token(key):
        field = reader.fields[key]
        i = int(field.parts[field.data[0]][0])
        return bytes(tokens.parts[tokens.data[i]]).decode("utf-8")

    return {"bos_token": token("tokenizer.ggml.bos_token_id"),
            "eos_token": token("tokenizer.ggml.eos_token_id")}


def tokenizer_config_template(model_dir: str) -> str:
    return json.loads((Path(model_dir) / "tokenizer_config.json").read_text())["chat_template"]


def prompt_ids(server, text: str) -> list[int]:
    r = server.post("/tokenize", json={"prompt": text, "add_special_tokens": False})
    assert r.status_code == 200, r.text
    return r.json()["tokens"]
