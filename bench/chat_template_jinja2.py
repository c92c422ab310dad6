#!/usr/bin/env python3
"""Chat-template compile and render time of Python jinja2, configured as transformers'
apply_chat_template configures it (the environment of tests/chat/make_template_reference.py), the
Python half of bench/chat_template.sh, timed as bench/chat_template.cpp times our engine.

Usage: chat_template_jinja2.py TEMPLATE.jinja CONTEXT.json OUTPUT.txt [REPEATS] [LOOP_SECONDS]

Writes the rendered text to OUTPUT.txt and prints one JSON line: per-call microseconds, median and
minimum over REPEATS timed loops. "parse" is env.from_string (lexing, parsing and compiling to
Python code), which transformers caches per template; "render" is Template.render(**context).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "chat"))
import jinja2  # noqa: E402
from make_template_reference import make_environment  # noqa: E402


def timed(fn, repeats: int, loop_s: float) -> list[float]:
    """Per-call microseconds of `repeats` loops of n calls (n: about loop_s per loop), sorted."""
    t0 = time.perf_counter()
    fn()  # warm-up, and a first estimate of one call
    once = time.perf_counter() - t0
    n = max(1, int(loop_s / max(once, 1e-9)))
    us = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        us.append((time.perf_counter() - t0) * 1e6 / n)
    return sorted(us)


def main() -> None:
    source = Path(sys.argv[1]).read_text(encoding="utf-8")
    context = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 7
    loop_s = float(sys.argv[5]) if len(sys.argv) > 5 else 0.3
    if jinja2.__version__ != "3.1.4":
        sys.exit(f"jinja2 {jinja2.__version__}, expected 3.1.4 (requirements-test.txt)")
    env = make_environment()
    template = env.from_string(source)
    text = template.render(**context)
    Path(sys.argv[3]).write_text(text, encoding="utf-8")
    # jinja2 caches templates by source only through env.get_template (a loader); from_string
    # compiles every time, which is what "parse" measures.
    parse_us = timed(lambda: env.from_string(source), repeats, loop_s)
    render_us = timed(lambda: template.render(**context), repeats, loop_s)
    print(json.dumps({"engine": "jinja2", "output_bytes": len(text.encode("utf-8")),
                      "parse": {"median_us": parse_us[len(parse_us) // 2], "min_us": parse_us[0]},
                      "render": {"median_us": render_us[len(render_us) // 2],
                                 "min_us": render_us[0]}}))


if __name__ == "__main__":
    main()
