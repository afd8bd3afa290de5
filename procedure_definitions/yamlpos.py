"""Read YAML into plain Python values while remembering where every value came from.

PyYAML's composer gives nodes with marks; we construct the values ourselves so that
- every key path maps to the (line, col) of its key and of its value (1-based),
- duplicate keys are reported instead of silently overwritten,
- timestamps stay strings (a date answer must stay ``"2026-04-01"``, not a ``datetime.date``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NoReturn

import yaml

__all__ = ["MAX_CHARS", "MAX_DEPTH", "MAX_VALUES", "Located", "Pos", "YamlError", "bad_string", "dump_yaml", "read_yaml"]

Pos = tuple[int, int]
KeyPath = tuple[str | int, ...]

try:  # libyaml is much faster for the 200-file benchmark
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pure-Python fallback
    _Loader = yaml.SafeLoader

_constructor = yaml.SafeLoader("")  # only its scalar constructors are used


_AS_STRING = frozenset({"tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp"})
_INT = "tag:yaml.org,2002:int"
# What bad_string refuses: C0 but tab and newline, DEL and C1, bidi embeddings/overrides/isolates, surrogates.
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
MAX_VALUES = 20_000  # values one file may build (the largest shipped definition has under 1,000)
MAX_DEPTH = 200  # levels of nesting
# Characters of text (keys and values) one file may expand to through aliases: 4 times the largest file
# the loader reads (loader.MAX_FILE_BYTES), so only repetition can reach it.
MAX_CHARS = 4_000_000


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


def _line_col(text: str, offset: int) -> Pos:
    """1-based (line, column) of a character offset."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _marked(e: yaml.MarkedYAMLError) -> str:
    """The problem of a PyYAML error without its multi-line 'in "<unicode string>", line ...' tail."""
    return " ".join(x for x in (e.context, e.problem) if x) or type(e).__name__


def bad_string(value: str) -> str | None:
    """Why a string may not be in a definition; None when it is fine. Refused wherever it appears (ids,
    labels, hints, expressions, keys), whether written raw or as a YAML escape ("\\x1b", "\\u202e"):
    NUL (cut by C code, databases and terminals); other control characters (C0 but tab and newline, DEL,
    C1: invisible, and they drive terminals and printers); bidirectional embeddings, overrides and isolates
    (U+202A-U+202E, U+2066-U+2069: they make text display in another order than it is stored, a known
    spoofing vector); a lone surrogate (not UTF-8, and JavaScript reads it differently)."""
    bad = _FORBIDDEN.search(value)
    if bad is None:
        return None
    c = bad.group()
    if c == "\x00":
        return "a NUL character (\\0) is not allowed in a definition"
    if "\ud800" <= c <= "\udfff":
        return "a lone surrogate (\\ud800-\\udfff) is not allowed in a definition"
    if c >= "\u202a":
        return (f"a bidirectional control character (U+{ord(c):04X}) is not allowed in a definition: it can "
                "show text in another order than it is stored (write the text in its natural order)")
    return f"a control character (U+{ord(c):04X}) is not allowed in a definition (only tab and newline are)"


def _check_size(root: yaml.Node, text: str, remap: Callable[[Pos], Pos]) -> None:
    """Refuse a tree that would expand past MAX_VALUES values, MAX_CHARS characters of text or MAX_DEPTH
    levels, before building it.

    Aliases let a few lines stand for a huge tree ("billion laughs"), or one long text repeated thousands of
    times: composing shares the nodes, building (and every copy made later: JSON for the app bundle, the
    database) would copy them. Sizes are counted once per distinct node (memoized), so this takes time linear
    in the file, whatever the expansion.
    """
    sizes: dict[int, tuple[int, int]] = {}  # node -> (values, characters) once expanded
    active: set[int] = set()

    def size(n: yaml.Node, depth: int) -> tuple[int, int]:
        known = sizes.get(id(n))
        if known is not None:
            return known
        if id(n) in active:
            raise YamlError("recursive YAML: an alias refers to a node that contains it", *remap(_mark(n)))
        if depth > MAX_DEPTH:
            raise YamlError(f"YAML nested more than {MAX_DEPTH} levels deep", *remap(_mark(n)))
        values, chars = 1, 0
        if isinstance(n, yaml.MappingNode | yaml.SequenceNode):
            active.add(id(n))
            children = [c for pair in n.value for c in pair] if isinstance(n, yaml.MappingNode) else n.value
            for child in children:
                v, c = size(child, depth + 1)
                values, chars = values + v, chars + c
                if values > MAX_VALUES or chars > MAX_CHARS:
                    _refuse_expansion(text, remap, _mark(n))
            active.discard(id(n))
        elif isinstance(n.value, str):
            chars = len(n.value)
        sizes[id(n)] = (values, chars)
        return values, chars

    size(root, 0)


def _refuse_expansion(text: str, remap: Callable[[Pos], Pos], fallback: Pos) -> NoReturn:
    """Raise the expansion error at the alias (or value) where the expansion first passes a budget.

    Composed nodes forget their aliases, so the events are read again (only for a file being refused):
    running totals in document order, an alias adding what its anchor expanded to.
    """
    anchored: dict[str, tuple[int, int]] = {}
    opened: list[tuple[str | None, int, int]] = []  # (anchor, totals at the start) of each open collection
    values = chars = 0
    for ev in yaml.parse(text, Loader=_Loader):
        if isinstance(ev, yaml.CollectionEndEvent):
            anchor, v0, c0 = opened.pop()
            if anchor is not None:
                anchored[anchor] = (values - v0, chars - c0)
            continue
        if isinstance(ev, yaml.AliasEvent):
            v, c = anchored.get(ev.anchor or "", (1, 0))
        elif isinstance(ev, yaml.ScalarEvent):
            v, c = 1, len(ev.value)
            if ev.anchor is not None:
                anchored[ev.anchor] = (v, c)
        elif isinstance(ev, yaml.CollectionStartEvent):
            opened.append((ev.anchor, values, chars))
            v, c = 1, 0
        else:
            continue
        values, chars = values + v, chars + c
        if values > MAX_VALUES or chars > MAX_CHARS:
            if ev.start_mark is not None:
                fallback = (ev.start_mark.line + 1, ev.start_mark.column + 1)
            break
    what = f"{MAX_VALUES} values" if values > MAX_VALUES else f"{MAX_CHARS} characters of text"
    raise YamlError(f"the YAML expands to more than {what} (aliases repeating aliases or a long text?)",
                    *remap(fallback))


def read_yaml(text: str, line_map: Callable[[Pos], Pos] | None = None) -> Located:
    """Parse one YAML document. Raises YamlError with a position on syntax errors."""
    out = Located()
    remap = line_map or (lambda p: p)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlError(_marked(e), *remap((line, col))) from None
    except yaml.reader.ReaderError as e:  # a character YAML does not allow (NUL, other controls)
        code = e.character if isinstance(e.character, int) else ord(str(e.character)[:1] or "\x00")
        # libyaml counts bytes, not characters: find the character itself.
        at = text.find(chr(code))
        pos = _line_col(text, at if at >= 0 else e.position)
        raise YamlError(f"unacceptable character #x{code:04x}: {e.reason}", *remap(pos)) from None
    except yaml.YAMLError as e:
        raise YamlError(str(e).splitlines()[0] if str(e) else type(e).__name__, *remap((1, 1))) from None

    if node is not None:
        _check_size(node, text, remap)
    active: set[int] = set()  # nodes being built: an alias back into one is a cycle
    budget = [MAX_VALUES]  # _check_size measured the tree; this only guards against a miscount

    def build(n: yaml.Node, path: KeyPath) -> Any:
        if id(n) in active:
            raise YamlError("recursive YAML: an alias refers to a node that contains it", *remap(_mark(n)))
        if len(path) > MAX_DEPTH:
            raise YamlError(f"YAML nested more than {MAX_DEPTH} levels deep", *remap(_mark(n)))
        budget[0] -= 1
        if budget[0] < 0:
            raise YamlError(f"the YAML expands to more than {MAX_VALUES} values (aliases repeating aliases?)",
                            *remap(_mark(n)))
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
                raise YamlError(_marked(e), *remap(pos)) from None
            for knode, vnode in n.value:
                if not isinstance(knode, yaml.ScalarNode):
                    kind = "mapping" if isinstance(knode, yaml.MappingNode) else "list"
                    raise YamlError(f"a key must be plain text, not a {kind}", *remap(_mark(knode)))
                key = build_scalar(knode)
                if not isinstance(key, str):
                    key = knode.value  # as written: `null:` is the key 'null', not 'None'
                    bad = bad_string(key)
                    if bad is not None:
                        raise YamlError(bad, *remap(_mark(knode)))
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
            bad = bad_string(n.value)
            if bad is not None:
                raise YamlError(bad, *remap(_mark(n)))
            return n.value
        if n.tag == _INT and len(n.value) > 4000:  # int() refuses (or takes long) past thousands of digits
            raise YamlError(f"a number of {len(n.value)} characters is too long", *remap(_mark(n)))
        try:
            value = _constructor.construct_object(n, deep=True)
        except yaml.MarkedYAMLError as e:
            raise YamlError(_marked(e), *remap(_mark(n))) from None
        except (yaml.YAMLError, ValueError) as e:
            raise YamlError(str(e).splitlines()[0] if str(e) else type(e).__name__, *remap(_mark(n))) from None
        if isinstance(value, str):
            bad = bad_string(value)
            if bad is not None:
                raise YamlError(bad, *remap(_mark(n)))
        return value

    if node is not None:
        out.data = build(node, ())
    return out


def dump_yaml(data: Any) -> str:
    """A definition's plain value as YAML the way Madoguchi writes it (notebook export, builder): keys in their
    order, Japanese as is, lines up to 110 columns."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump(data, Dumper=dumper, allow_unicode=True, sort_keys=False, width=110))
