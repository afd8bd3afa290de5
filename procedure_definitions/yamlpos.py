"""Read YAML into plain Python values while remembering where every value came from.

PyYAML's composer gives nodes with marks; we construct the values ourselves so that
- every key path maps to the (line, col) of its key and of its value (1-based),
- duplicate keys are reported instead of silently overwritten,
- timestamps stay strings (a date answer must stay ``"2026-04-01"``, not a ``datetime.date``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

__all__ = ["Located", "Pos", "YamlError", "read_yaml"]

Pos = tuple[int, int]
KeyPath = tuple[str | int, ...]

try:  # libyaml is much faster for the 200-file benchmark
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pure-Python fallback
    _Loader = yaml.SafeLoader

_constructor = yaml.SafeLoader("")  # only its scalar constructors are used


_AS_STRING = frozenset({"tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp"})


class YamlError(Exception):
    def __init__(self, message: str, line: int, col: int) -> None:
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


class Located:
    """Values plus position maps, addressed by key path (``("sections", 0, "fields", 2, "id")``)."""

    __slots__ = ("data", "duplicates", "keys", "quoted", "values")

    def __init__(self) -> None:
        self.data: Any = None
        self.values: dict[KeyPath, Pos] = {}
        self.keys: dict[KeyPath, Pos] = {}
        self.quoted: set[KeyPath] = set()
        self.duplicates: list[tuple[KeyPath, Pos, Pos]] = []  # (path, first key pos, duplicate key pos)

    def pos(self, path: KeyPath, *, key: bool = False) -> Pos:
        """Position of the value at ``path`` (or of its key), falling back to the nearest ancestor."""
        table = self.keys if key else self.values
        p = path
        while True:
            if p in table:
                return table[p]
            if key and p in self.values:
                return self.values[p]
            if not p:
                return (1, 1)
            p = p[:-1]


def _mark(node: yaml.Node) -> Pos:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def read_yaml(text: str, line_map: Callable[[Pos], Pos] | None = None) -> Located:
    """Parse one YAML document. Raises YamlError with a position on syntax errors."""
    out = Located()
    remap = line_map or (lambda p: p)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        detail = " ".join(x for x in (e.context, e.problem) if x) or str(e)
        raise YamlError(detail, *remap((line, col))) from None
    except yaml.YAMLError as e:
        raise YamlError(str(e), *remap((1, 1))) from None

    active: set[int] = set()  # nodes being built: an alias back into one is a cycle

    def build(n: yaml.Node, path: KeyPath) -> Any:
        if id(n) in active or len(path) > 200:
            raise YamlError("recursive or too deeply nested YAML (an alias refers to itself)", *remap(_mark(n)))
        out.values[path] = remap(_mark(n))
        if isinstance(n, yaml.MappingNode | yaml.SequenceNode):
            active.add(id(n))
            try:
                return build_collection(n, path)
            finally:
                active.discard(id(n))
        if isinstance(n, yaml.ScalarNode) and n.style in ("'", '"'):
            out.quoted.add(path)
        return build_scalar(n)

    def build_collection(n: yaml.Node, path: KeyPath) -> Any:
        if isinstance(n, yaml.MappingNode):
            result: dict[Any, Any] = {}
            first: dict[Any, Pos] = {}
            try:
                _constructor.flatten_mapping(n)  # merge keys (<<)
            except yaml.MarkedYAMLError as e:
                mark = e.problem_mark or e.context_mark
                pos = (mark.line + 1, mark.column + 1) if mark else _mark(n)
                raise YamlError(e.problem or str(e), *remap(pos)) from None
            for knode, vnode in n.value:
                key = build_scalar(knode) if isinstance(knode, yaml.ScalarNode) else str(knode.value)
                if not isinstance(key, str):
                    key = str(key)
                kpos = remap(_mark(knode))
                if key in first:
                    out.duplicates.append((path + (key,), first[key], kpos))
                    continue
                first[key] = kpos
                out.keys[path + (key,)] = kpos
                result[key] = build(vnode, path + (key,))
            return result
        return [build(item, path + (i,)) for i, item in enumerate(n.value)]

    def build_scalar(n: yaml.Node) -> Any:
        # Most scalars are strings: skip the generic constructor for them (it dominates load time).
        if n.tag in _AS_STRING:
            return n.value
        try:
            return _constructor.construct_object(n, deep=True)
        except yaml.YAMLError as e:
            raise YamlError(str(e), *remap(_mark(n))) from None

    if node is not None:
        out.data = build(node, ())
    return out
