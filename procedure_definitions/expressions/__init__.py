"""The expression language of procedure definitions (docs/procedure-format.md, "Expression language").

``parse`` turns source into the JSON AST shared with the PWA; ``evaluate`` runs it in Python (its
JavaScript twin is pwa/js/expr.js); ``infer_type`` checks it statically for ``madoguchi check``.
"""

from __future__ import annotations

from .errors import EVAL_ERROR_CODES, EvalError, ExprSyntaxError
from .evaluate import deep_equal, evaluate, truthy
from .functions import FUNCTIONS
from .numfmt import format_number
from .parser import functions_used, parse, references
from .types import TYPES, infer_type, value_type

__all__ = [
    "EVAL_ERROR_CODES",
    "FUNCTIONS",
    "TYPES",
    "EvalError",
    "ExprSyntaxError",
    "deep_equal",
    "evaluate",
    "format_number",
    "functions_used",
    "infer_type",
    "parse",
    "references",
    "truthy",
    "value_type",
]
