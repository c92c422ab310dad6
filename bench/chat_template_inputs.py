#!/usr/bin/env python3
"""Inputs of bench/chat_template.sh: the templates (one .jinja file each) and the conversation
(context.json, the template's variables) that both engines render.

Usage: chat_template_inputs.py OUTDIR SDIST_CACHE_DIR

Templates: the default model's (`tokenizer.chat_template` of
models/SmolLM2-135M-Instruct/*.gguf), Qwen3's (../shared/assets/qwen3-tokenizer/
tokenizer_config.json) and Llama 3.1's (meta-llama-Llama-3.1-8B-Instruct.jinja of the
llama-cpp-python sdist, fetched and checked by tests/chat/make_template_reference.py).

The conversation: a system prompt and 20 user turns; every fourth turn the assistant calls a tool
(one call per message: Llama 3.1's template refuses more), gets its result and answers. Messages
are as SGLang hands them to the template (tool-call arguments already objects), two tools defined.
"""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "chat"))
from make_template_reference import (  # noqa: E402
    SEARCH_TOOL,
    TEMPLATE_DIR,
    WEATHER_TOOL,
    fetch_sdist,
    gguf_template,
)

CITIES = ["Paris", "Tokyo", "Lagos", "Lima", "Oslo"]
TOPICS = ["the history of the metro", "local food markets", "a good museum for a rainy day",
          "how to buy a transit pass", "the best time of year to visit"]


def conversation() -> list[dict]:
    messages = [{"role": "system",
                 "content": "You are a helpful travel assistant. Answer briefly and use the tools "
                            "when you need live data."}]
    for turn in range(20):
        city, topic = CITIES[turn % len(CITIES)], TOPICS[turn % len(TOPICS)]
        if turn % 4 == 3:
            messages.append({"role": "user", "content": f"What is the weather in {city} right now?"})
            call_id = f"call_{turn}"
            messages.append({"role": "assistant", "content": "", "tool_calls": [
                {"id": call_id, "type": "function",
                 "function": {"name": "get_weather",
                              "arguments": {"city": city, "unit": "celsius"}}}]})
            messages.append({"role": "tool", "tool_call_id": call_id, "name": "get_weather",
                             "content": json.dumps({"city": city, "temperature": 10 + turn,
                                                    "sky": "clear", "wind_kmh": 2 * turn})})
            messages.append({"role": "assistant",
                             "content": f"It is {10 + turn} °C and clear in {city}, with a light "
                                        "wind. A jacket is enough."})
        else:
            messages.append({"role": "user",
                             "content": f"I will be in {city} next week. Tell me about {topic}, "
                                        "in two or three sentences please."})
            messages.append({"role": "assistant",
                             "content": f"{city} is easy to explore on foot and by public transport. "
                                        f"For {topic}, ask at the tourist office near the main "
                                        "station: they keep an up-to-date list and free maps. "
                                        "Plan a half day for it."})
    messages.append({"role": "user", "content": "Thanks! Anything else I should pack?"})
    return messages


def main() -> None:
    out, cache = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    templates = {}
    gguf = next((ROOT / "models" / "SmolLM2-135M-Instruct").glob("*.gguf"))
    templates["smollm2"] = gguf_template(gguf)[0][1]
    qwen = ROOT.parent / "shared" / "assets" / "qwen3-tokenizer" / "tokenizer_config.json"
    if not qwen.exists():
        qwen = ROOT / "models" / "assets" / "qwen3-tokenizer" / "tokenizer_config.json"
    templates["qwen3"] = json.loads(qwen.read_text())["chat_template"]
    with tarfile.open(fetch_sdist(cache)) as tar:
        member = TEMPLATE_DIR + "meta-llama-Llama-3.1-8B-Instruct.jinja"
        templates["llama3.1"] = tar.extractfile(member).read().decode("utf-8")
    for name, source in templates.items():
        (out / f"{name}.jinja").write_text(source, encoding="utf-8")
    context = {"messages": conversation(), "tools": [WEATHER_TOOL, SEARCH_TOOL],
               "add_generation_prompt": True, "bos_token": "<|begin_of_text|>",
               "eos_token": "<|eot_id|>", "documents": None}
    (out / "context.json").write_text(json.dumps(context, ensure_ascii=False, indent=1),
                                      encoding="utf-8")
    print(" ".join(templates))


if __name__ == "__main__":
    main()
