"""Load one definition file (YAML or notebook) into a validated model plus every problem found.

The loader never raises for a bad definition: syntax, shape and meaning problems all come back as
``Problem`` values with positions, so ``madoguchi check`` can print them all at once.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from .errors import Problem, did_you_mean, problem
from .model import Definition, Text
from .shape import check_shape, convert
from .yamlpos import Located, Pos, YamlError, read_yaml

__all__ = ["MAX_FILE_BYTES", "LoadResult", "load_file", "load_source", "load_text"]

KINDS = ("procedure", "life_event")
MAX_FILE_BYTES = 1_000_000  # a definition file is read only up to this size (the largest shipped one is under 20 KB)


class LoadResult(msgspec.Struct):
    path: str
    definition: Any = None  # Procedure | LifeEvent when the shape is valid
    located: Located | None = None
    problems: list[Problem] = []

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def load_text(
    text: str,
    path: str,
    *,
    line_map: list[tuple[int, int]] | None = None,
    help_texts: dict[str, dict[str, str]] | None = None,
) -> LoadResult:
    """Parse and check YAML ``text`` reported as coming from ``path``.

    ``line_map`` translates YAML lines to positions in the real file (notebooks); ``help_texts`` are
    notebook markdown cells to attach to fields/sections before validation.
    """
    remap = _remapper(line_map)
    res = LoadResult(path)
    try:
        loc = read_yaml(text, remap)
    except YamlError as e:
        res.problems.append(problem("PD001", path, e.line, e.col, detail=e.message))
        return res
    res.located = loc
    for dpath, first, dup in loc.duplicates:
        res.problems.append(problem("PD002", path, *dup, key=dpath[-1], first_line=first[0]))
    data = loc.data
    if not isinstance(data, dict) or "kind" not in data:
        res.problems.append(problem("PD003", path, *loc.pos(())))
        return res
    kind = data["kind"]
    if kind not in KINDS:
        hint = did_you_mean(str(kind), KINDS)
        res.problems.append(problem("PD004", path, *loc.pos(("kind",)), kind=kind, hint=hint))
        return res
    if help_texts:
        from .notebook import apply_help

        for target in apply_help(data, help_texts):
            res.problems.append(
                problem("PD006", path, *loc.pos(()), detail=f"help cell for unknown target '{target}'")
            )
    shape_problems = check_shape(loc, path, Definition, Text)
    res.problems.extend(shape_problems)
    if shape_problems:
        return res
    try:
        res.definition = convert(loc.data, Definition)
    except msgspec.ValidationError as e:  # the walker should catch everything; never crash if not
        res.problems.append(problem("PD102", path, *loc.pos(()), key="definition", expected="valid", actual=str(e)))
        return res
    from .checker import check_definition

    res.problems.extend(check_definition(res.definition, loc, path))
    return res


def load_file(path: str | Path) -> LoadResult:
    p = Path(path)
    shown = str(path)
    try:
        text = _read_text(p)
    except _Unreadable as e:
        return LoadResult(shown, problems=[problem("PD005", shown, 1, 1, detail=str(e))])
    return load_source(text, shown, notebook=p.suffix == ".ipynb")


def load_source(text: str, shown: str, *, notebook: bool) -> LoadResult:
    """Parse and check a definition's text: YAML, or a notebook's JSON when ``notebook`` (as a file named
    ``.ipynb``, or a draft uploaded to the server). Never raises for bad input."""
    if notebook:
        if not text.lstrip().startswith("{"):
            return LoadResult(shown, problems=[problem("PD006", shown, 1, 1, detail="not a notebook: not a JSON object")])
        try:
            from .notebook import extract

            nb = extract(text)  # the JSON text, never the path: that would open the file again, unchecked
        except Exception as e:  # a corrupt notebook is a user error, never a traceback
            return LoadResult(shown, problems=[problem("PD006", shown, 1, 1, detail=str(e) or type(e).__name__)])
        nb_problems = [problem("PD006", shown, 1, 1, detail=msg) for msg in nb.errors]
        if nb_problems and not nb.yaml_text.strip():
            return LoadResult(shown, problems=nb_problems)
        res = load_text(nb.yaml_text, shown, line_map=nb.line_map, help_texts=nb.help)
        res.problems[:0] = nb_problems
        return res
    return load_text(text, shown)


class _Unreadable(Exception):
    """Why a definition file is not read (the detail of its PD005 line)."""


def _read_text(p: Path) -> str:
    """The text of a definition file: a regular file of at most MAX_FILE_BYTES bytes of UTF-8.

    A device (/dev/zero), a named pipe or a folder would make a plain read run out of memory or wait
    forever; a bigger file is not a definition anyone writes. The file is opened without blocking and
    checked through its open descriptor, so a path swapped between the check and the read changes nothing.
    """
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _Unreadable("a symbolic link loop") from None
        if e.errno == errno.ENOENT:
            raise _Unreadable("no such file or folder") from None
        raise _Unreadable(e.strerror or str(e)) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _Unreadable("not a regular file (a folder, device or pipe)")
        if info.st_size > MAX_FILE_BYTES:
            raise _Unreadable(f"{info.st_size} bytes, over the {MAX_FILE_BYTES}-byte limit for a definition file")
        try:
            data = f.read(MAX_FILE_BYTES + 1)  # bounded: the file may grow after fstat
        except OSError as e:
            raise _Unreadable(e.strerror or str(e)) from None
    if len(data) > MAX_FILE_BYTES:
        raise _Unreadable(f"over the {MAX_FILE_BYTES}-byte limit for a definition file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _Unreadable(str(e)) from None


def _remapper(line_map: list[tuple[int, int]] | None) -> Callable[[Pos], Pos] | None:
    if not line_map:
        return None

    def remap(pos: Pos) -> Pos:
        line, col = pos
        if 1 <= line <= len(line_map):
            real_line, offset = line_map[line - 1]
            return (real_line, col + offset)
        return pos

    return remap
