"""Every pattern the regular-expression checker accepts runs in bounded time, in both runtimes.

A seeded family of patterns is built from pieces that backtrack (repeats, '|', optional parts); each one
both interpreters accept is run by evaluate.py and by pwa/js/expr.js on adversarial texts of MAX_TEXT code
points (long runs that almost match and then fail at the end). Both must accept or refuse the same
patterns, and every run must stay within a generous budget (the checker's bound allows about a million
backtracking steps; the patterns it refuses take seconds to hours).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from procedure_definitions.expressions import EvalError, evaluate, parse
from procedure_definitions.expressions.regex import MAX_TEXT

NODE = shutil.which("node")
EXPR_JS = Path(__file__).resolve().parent.parent / "pwa" / "js" / "expr.js"
BUDGET = 1.0  # seconds for one matches() call; an accepted pattern takes milliseconds
ATOMS = ["a", "=", ".", "\\d", "\\w", "[a=]", "(?:ab)", "(?:a|b)", "(?:a|aa)", "(?:a?)", "(?:a*)", "(?:a|a)"]
QUANTS = ["", "", "*", "+", "?", "{1,3}", "{0,19}", "{2,}", "*?"]
TEXTS = ["a" * (MAX_TEXT - 1) + "!", "=" * (MAX_TEXT - 1) + "!", "ab" * (MAX_TEXT // 2 - 1) + "a!",
         "1" * (MAX_TEXT - 1) + "\n"]
AST = parse("matches(s, p)")


def _family(count: int = 160) -> list[str]:
    rng = random.Random(20261206)
    out: set[str] = set()
    while len(out) < count:
        out.add("".join(rng.choice(ATOMS) + rng.choice(QUANTS) for _ in range(rng.randint(1, 5))))
    return sorted(out)


def _python(pattern: str) -> tuple[str, float]:
    """('ok' or the error code, the slowest run in seconds)."""
    slowest = 0.0
    for text in TEXTS:
        start = time.perf_counter()
        try:
            evaluate(AST, {"s": text, "p": pattern})
        except EvalError as e:
            return e.code, 0.0
        slowest = max(slowest, time.perf_counter() - start)
    return "ok", slowest




def _node(patterns: list[str]) -> list[list[object]]:
    script = (
        f"import {{ evaluate, EvalError }} from {json.dumps(EXPR_JS.as_uri())};\n"
        "let input = ''; process.stdin.setEncoding('utf8');\n"
        "process.stdin.on('data', (c) => { input += c; });\n"
        "process.stdin.on('end', () => {\n"
        "  const { ast, patterns, texts } = JSON.parse(input);\n"
        "  const out = patterns.map((p) => {\n"
        "    let slowest = 0;\n"
        "    for (const s of texts) {\n"
        "      const t = performance.now();\n"
        "      try { evaluate(ast, { s, p }, {}); } catch (e) {\n"
        "        if (e instanceof EvalError) return [e.code, 0];\n"
        "        throw e;\n"
        "      }\n"
        "      slowest = Math.max(slowest, (performance.now() - t) / 1000);\n"
        "    }\n"
        "    return ['ok', slowest];\n"
        "  });\n"
        "  process.stdout.write(JSON.stringify(out));\n"
        "});\n"
    )
    data = json.dumps({"ast": AST, "patterns": patterns, "texts": TEXTS})
    done = subprocess.run([NODE or "node", "--input-type=module", "-e", script], input=data, capture_output=True,
                          text=True, timeout=300, check=True)
    result: list[list[object]] = json.loads(done.stdout)
    return result


def test_family_is_varied() -> None:
    patterns = _family()
    verdicts = [_python(p)[0] for p in patterns]
    # The family exercises both sides of the rule, so the timing test below means something.
    assert verdicts.count("ok") >= 30
    assert verdicts.count("bad_regex") >= 30


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_accepted_patterns_run_in_bounded_time_in_both_runtimes() -> None:
    patterns = _family()
    js = _node(patterns)
    slow = []
    for pattern, (js_verdict, js_time) in zip(patterns, js, strict=True):
        verdict, py_time = _python(pattern)
        assert verdict == js_verdict, pattern
        if max(py_time, float(js_time)) > BUDGET:  # type: ignore[arg-type]
            slow.append((pattern, py_time, js_time))
    assert not slow
