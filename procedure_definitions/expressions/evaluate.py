"""The Python interpreter of expression ASTs. pwa/js/expr.js is its twin; conformance vectors pin both."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ..identity_memo import IdentityMemo
from . import dates
from .dates import type_name
from .errors import EvalError
from .functions import FUNCTIONS
from .numfmt import format_number, is_number, normalize_number, round_half_away
from .regex import full_match

__all__ = ["deep_equal", "evaluate", "truthy"]


class _Ctx:
    __slots__ = ("answers", "item", "today")

    def __init__(self, answers: Mapping[str, Any], item: Mapping[str, Any] | None, today: str) -> None:
        self.answers = answers
        self.item = item
        self.today = today


def truthy(v: Any) -> bool:
    if v is None or v is False or v == "" or (isinstance(v, list) and not v):
        return False
    return not (is_number(v) and v == 0)


def deep_equal(a: Any, b: Any) -> bool:
    """JSON deep equality without coercion (1 = 1.0, but 1 != '1' and 1 != true)."""
    if type(a) is str and type(b) is str:  # the common case (choice values), decided at once
        return a == b
    if is_number(a) or is_number(b):
        # As doubles, like JavaScript: an int beyond 2**53 equals the double it rounds to.
        return is_number(a) and is_number(b) and float(a) == float(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(deep_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, Mapping):
        return (
            isinstance(b, Mapping)
            and len(a) == len(b)
            and all(k in b and deep_equal(v, b[k]) for k, v in a.items())
        )
    if a is None or b is None:
        return a is None and b is None
    return isinstance(a, str) and isinstance(b, str) and a == b


def _blank(v: Any) -> Any:
    return None if v == "" else v


def _step(v: Any, key: str) -> Any:
    if v is None:
        return None
    if isinstance(v, Mapping):
        return _blank(v.get(key))
    if isinstance(v, list):
        return [_step(_blank(x), key) for x in v]
    raise EvalError("type", f"cannot take '.{key}' of a {type_name(v)}")


def _num(v: Any, op: str) -> float | None:
    if v is None:
        return None
    if not is_number(v):
        hint = " (use concat())" if op == "+" and isinstance(v, str) else ""
        raise EvalError("type", f"'{op}' needs numbers, got {type_name(v)}{hint}")
    return float(v)


def _arith(op: str, a: Any, b: Any) -> Any:
    x, y = _num(a, op), _num(b, op)
    if x is None or y is None:
        return None
    if op == "+":
        r = x + y
    elif op == "-":
        r = x - y
    elif op == "*":
        r = x * y
    elif y == 0:
        return None
    elif op == "/":
        r = x / y
    else:
        r = math.fmod(x, y)  # the sign of the dividend, like C and JavaScript
    return normalize_number(r)


def _code_points_less(a: str, b: str) -> int:
    return -1 if a < b else (1 if a > b else 0)  # Python compares str by code point


def _order(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if is_number(a) and is_number(b):
        x, y = float(a), float(b)  # as doubles, like JavaScript
        c = -1 if x < y else (1 if x > y else 0)
    elif isinstance(a, str) and isinstance(b, str):
        c = _code_points_less(a, b)
    else:
        raise EvalError("type", f"cannot order {type_name(a)} and {type_name(b)}")
    return {"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]


def _in(a: Any, b: Any) -> bool:
    if b is None:
        return False
    if isinstance(b, list):
        return any(deep_equal(a, x) for x in b)
    if isinstance(b, str):
        if a is None:
            return False
        if not isinstance(a, str):
            raise EvalError("type", f"'in' a string needs a string on the left, got {type_name(a)}")
        return a in b
    raise EvalError("type", f"'in' needs a list or a string on the right, got {type_name(b)}")


_Fn = Callable[[_Ctx], Any]


def _fail(code: str, message: str) -> _Fn:
    def fail(ctx: _Ctx) -> Any:
        raise EvalError(code, message)

    return fail


def _compile_ref(path: Any) -> _Fn:
    if not path or not all(isinstance(p, str) for p in path):
        return _fail("type", "malformed reference")
    head, rest = path[0], tuple(path[1:])

    def ref(ctx: _Ctx) -> Any:
        item = ctx.item
        v = _blank((item if item is not None and head in item else ctx.answers).get(head))
        for key in rest:
            v = _step(v, key)
        return v

    return ref


def _compile_op(node: Mapping[str, Any]) -> _Fn:
    op = node["op"]
    args = node.get("args")
    if not isinstance(args, list) or len(args) != (1 if op in ("not", "neg") else 2):
        return _fail("arity", f"operator '{op}' has the wrong number of operands")
    first = _compile(args[0])
    if op == "not":
        return lambda ctx: not truthy(first(ctx))
    if op == "neg":
        def neg(ctx: _Ctx) -> Any:
            x = _num(first(ctx), "-")
            return None if x is None else normalize_number(-x)

        return neg
    second = _compile(args[1])
    if op == "and":
        return lambda ctx: truthy(first(ctx)) and truthy(second(ctx))
    if op == "or":
        return lambda ctx: truthy(first(ctx)) or truthy(second(ctx))
    if op == "==":
        return lambda ctx: deep_equal(first(ctx), second(ctx))
    if op == "!=":
        return lambda ctx: not deep_equal(first(ctx), second(ctx))
    binary: Callable[[Any, Any], Any]
    if op in ("<", "<=", ">", ">="):
        binary = lambda a, b: _order(op, a, b)  # noqa: E731
    elif op == "in":
        binary = _in
    elif op in ("+", "-", "*", "/", "%"):
        binary = lambda a, b: _arith(op, a, b)  # noqa: E731
    else:
        def binary(a: Any, b: Any) -> Any:  # the operands are still evaluated first, as they always were
            raise EvalError("type", f"unknown operator '{op}'")

    return lambda ctx: binary(first(ctx), second(ctx))


def _compile(node: Any) -> _Fn:
    """A closure that evaluates ``node``: the AST is read once, not on every evaluation.

    Errors in the shape of the AST become closures that raise the same EvalError when (and only when) they
    are evaluated, so an unused branch of ``if()`` still cannot fail.
    """
    if not isinstance(node, Mapping):
        return _fail("type", "malformed expression")
    if "lit" in node:
        v = node["lit"]
        if isinstance(v, int | float) and not isinstance(v, bool):
            v = normalize_number(v)
        return lambda ctx: v
    if "ref" in node:
        return _compile_ref(node["ref"])
    if "op" in node:
        return _compile_op(node)
    if "call" in node:
        return _compile_call(node)
    if "list" in node and isinstance(node["list"], list):
        items = [_compile(x) for x in node["list"]]
        return lambda ctx: [f(ctx) for f in items]
    return _fail("type", "malformed expression")


# --- functions -------------------------------------------------------------------------------------


def _str_arg(v: Any, fn: str, what: str = "a string") -> str | None:
    if v is None or isinstance(v, str):
        return v
    raise EvalError("type", f"{fn}() expects {what}, got {type_name(v)}")


def _int_arg(v: Any, fn: str) -> int | None:
    if v is None:
        return None
    if not is_number(v) or not float(v).is_integer():
        raise EvalError("type", f"{fn}() expects a whole number, got {type_name(v)} {v!r}")
    return int(v)


def _numbers(values: list[Any], fn: str) -> list[float]:
    out = []
    for v in values:
        if v is None:
            continue
        if not is_number(v):
            raise EvalError("type", f"{fn}() expects numbers, got {type_name(v)}")
        out.append(float(v))
    return out


def _fn_age(a: list[Any], ctx: _Ctx) -> Any:
    born = dates.parse_date(a[0], "age")
    on = dates.full_date(a[1] if len(a) > 1 else ctx.today, "age")
    if born is None or on is None or born[1] is None:
        return None
    if born[2] is None:
        # A registry birth date with 日不詳 ("1950-03"): the age is known except in the birth month itself.
        return None if on[1] == born[1] else on[0] - born[0] - (on[1] < born[1])
    return dates.age((born[0], born[1], born[2]), on)


def _date_part(index: int, fn: str) -> Callable[[list[Any], _Ctx], Any]:
    def part(a: list[Any], ctx: _Ctx) -> Any:
        parts = dates.parse_date(a[0], fn)
        return None if parts is None else parts[index]

    return part


def _fn_days_between(a: list[Any], ctx: _Ctx) -> Any:
    x, y = dates.full_date(a[0], "days_between"), dates.full_date(a[1], "days_between")
    if x is None or y is None:
        return None
    return dates.days_from_civil(*y) - dates.days_from_civil(*x)


def _fn_add_days(a: list[Any], ctx: _Ctx) -> Any:
    d = dates.full_date(a[0], "add_days")
    n = _int_arg(a[1], "add_days")
    if d is None or n is None:
        return None
    if abs(n) > 10_000_000:
        raise EvalError("bad_date", "add_days(): the result is outside the years 1-9999")
    return dates.add_days(d, n)


def _fn_wareki(a: list[Any], ctx: _Ctx) -> Any:
    d = dates.full_date(a[0], "wareki")
    return None if d is None else dates.wareki(d)


def _fn_count(a: list[Any], ctx: _Ctx) -> Any:
    v = a[0]
    if v is None:
        return 0
    if isinstance(v, list):
        return len(v)
    raise EvalError("type", f"count() expects a list, got {type_name(v)}")


def _fn_len(a: list[Any], ctx: _Ctx) -> Any:
    v = a[0]
    if v is None:
        return 0
    if isinstance(v, str | list):
        return len(v)  # Python strings are sequences of code points
    raise EvalError("type", f"len() expects a string or a list, got {type_name(v)}")


def _fn_sum(a: list[Any], ctx: _Ctx) -> Any:
    v = a[0]
    if v is None:
        return 0
    if not isinstance(v, list):
        raise EvalError("type", f"sum() expects a list, got {type_name(v)}")
    total = 0.0
    for x in _numbers(v, "sum"):
        total += x  # left to right, as JavaScript does
    return normalize_number(total)


def _extreme(pick: Callable[[float, float], bool], fn: str) -> Callable[[list[Any], _Ctx], Any]:
    def extreme(a: list[Any], ctx: _Ctx) -> Any:
        values = a[0] if len(a) == 1 and isinstance(a[0], list) else a
        best: float | None = None
        for x in _numbers(values, fn):
            if best is None or pick(x, best):
                best = x
        return None if best is None else normalize_number(best)

    return extreme


def _fn_round(a: list[Any], ctx: _Ctx) -> Any:
    x = _numbers([a[0]], "round")
    digits = _int_arg(a[1], "round") if len(a) > 1 else 0
    if not x or digits is None:
        return None
    return normalize_number(round_half_away(x[0], max(-400, min(400, digits))))


def _fn_matches(a: list[Any], ctx: _Ctx) -> Any:
    s, pattern = _str_arg(a[0], "matches"), _str_arg(a[1], "matches", "a pattern string")
    if s is None or pattern is None:
        return False
    return full_match(s, pattern)


def _fn_contains(a: list[Any], ctx: _Ctx) -> Any:
    s, sub = _str_arg(a[0], "contains"), _str_arg(a[1], "contains")
    return s is not None and sub is not None and sub in s


def _fn_starts_with(a: list[Any], ctx: _Ctx) -> Any:
    s, prefix = _str_arg(a[0], "starts_with"), _str_arg(a[1], "starts_with")
    return s is not None and prefix is not None and s.startswith(prefix)


def _fn_concat(a: list[Any], ctx: _Ctx) -> Any:
    parts = []
    for v in a:
        if v is None:
            continue
        if isinstance(v, str):
            parts.append(v)
        elif is_number(v):
            parts.append(format_number(v))
        else:
            raise EvalError("type", f"concat() joins strings and numbers, got {type_name(v)}")
    return "".join(parts)


def _fn_number(a: list[Any], ctx: _Ctx) -> Any:
    v = a[0]
    if v is None or is_number(v):
        return v
    if not isinstance(v, str):
        raise EvalError("type", f"number() expects a string, got {type_name(v)}")
    body = v[1:] if v.startswith("-") else v
    whole, dot, frac = body.partition(".")
    if not whole.isascii() or not whole.isdigit() or (dot and (not frac.isascii() or not frac.isdigit())):
        return None
    return normalize_number(float(v))


def _fn_is_empty(a: list[Any], ctx: _Ctx) -> Any:
    v = a[0]
    return v is None or v == "" or (isinstance(v, list) and not v)


_EAGER: dict[str, Callable[[list[Any], _Ctx], Any]] = {
    "today": lambda a, ctx: ctx.today,
    "age": _fn_age,
    "year": _date_part(0, "year"),
    "month": _date_part(1, "month"),
    "day": _date_part(2, "day"),
    "days_between": _fn_days_between,
    "add_days": _fn_add_days,
    "wareki": _fn_wareki,
    "count": _fn_count,
    "len": _fn_len,
    "sum": _fn_sum,
    "min": _extreme(lambda x, best: x < best, "min"),
    "max": _extreme(lambda x, best: x > best, "max"),
    "round": _fn_round,
    "matches": _fn_matches,
    "contains": _fn_contains,
    "starts_with": _fn_starts_with,
    "concat": _fn_concat,
    "number": _fn_number,
    "is_empty": _fn_is_empty,
}


def _compile_call(node: Mapping[str, Any]) -> _Fn:
    name = node["call"]
    args = node.get("args")
    if not isinstance(name, str) or name not in FUNCTIONS:
        return _fail("unknown_function", f"unknown function '{name}'")
    if not isinstance(args, list):
        return _fail("type", "malformed function call")
    lo, hi = FUNCTIONS[name]
    if len(args) < lo or (hi is not None and len(args) > hi):
        return _fail("arity", f"{name}() got {len(args)} arguments")
    fns = [_compile(x) for x in args]
    # if() and coalesce() evaluate lazily, so an unused branch cannot fail.
    if name == "if":
        cond, then, other = fns
        return lambda ctx: then(ctx) if truthy(cond(ctx)) else other(ctx)
    if name == "coalesce":
        def coalesce(ctx: _Ctx) -> Any:
            for fn in fns:
                v = fn(ctx)
                if v is not None:
                    return v
            return None

        return coalesce
    impl = _EAGER[name]
    return lambda ctx: impl([fn(ctx) for fn in fns], ctx)


def _compile_top(ast: Any) -> _Fn:
    try:
        return _compile(ast)
    except RecursionError:
        return _fail("type", "expression is nested too deeply")


# Compiled closures by AST identity: compiled procedures keep their ASTs for the life of the process.
_closure: IdentityMemo[_Fn] = IdentityMemo(_compile_top, 50_000)


def evaluate(
    ast: Mapping[str, Any],
    answers: Mapping[str, Any],
    *,
    item: Mapping[str, Any] | None = None,
    today: str | None = None,
) -> Any:
    """Evaluate a parsed expression. Raises EvalError (never anything else) on bad data."""
    ctx = _Ctx(answers if type(answers) is dict or isinstance(answers, Mapping) else {}, item,
               today or dates.japan_today())
    try:
        return _closure(ast)(ctx)
    except RecursionError:
        raise EvalError("type", "expression is nested too deeply") from None
