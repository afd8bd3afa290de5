"""Errors of the expression language: syntax errors (parse time) and evaluation errors (run time)."""

from __future__ import annotations

__all__ = ["EVAL_ERROR_CODES", "EvalError", "ExprSyntaxError"]

# The only codes an evaluation error may carry; expr.js uses the same set.
EVAL_ERROR_CODES = frozenset({"type", "arity", "unknown_function", "bad_regex", "bad_date"})


class ExprSyntaxError(ValueError):
    """An expression that does not parse; ``offset`` is the 0-based character offset into the source."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at offset {offset})")
        self.message = message
        self.offset = offset


class EvalError(ValueError):
    """An expression that parsed but cannot be evaluated on the given data."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
