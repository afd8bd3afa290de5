"""Where each line of a notebook cell's source sits in the ``.ipynb`` file (line and column), so a problem in a
definition authored as a notebook is located in the file the author has (procedure_definitions/notebook.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["fallback_line", "locate_sources"]

# nbformat writes every source line as its own JSON string on its own line, after a '"source": [' line.
_SOURCE_KEY = re.compile(r'^\s*"source":\s*\[\s*$')
# A source may also be ONE string (valid nbformat; what some tools write): the whole cell on one file line.
_SOURCE_STRING = re.compile(r'^(\s*"source":\s*)(".*")\s*,?\s*$')


def _decode_json_line(raw: str) -> tuple[str, int] | None:
    """A line like ``    "text\\n",`` -> (decoded text, column offset of its first character)."""
    stripped = raw.strip()
    if stripped.endswith(","):
        stripped = stripped[:-1]
    if len(stripped) < 2 or not stripped.startswith('"'):
        return None
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError:
        return None
    if not isinstance(value, str):
        return None
    return value, raw.index('"') + 1


def locate_sources(file_lines: list[str], sources: list[list[str]]) -> list[list[tuple[int, int]] | None]:
    """For each cell's source lines, their (line, column) in the file, or None when not found.

    Cells are searched in order from a moving cursor; a candidate ``"source": [`` line is accepted only
    when the following JSON strings decode to exactly the cell's lines, so keys named "source" inside
    metadata or outputs cannot mislead it.
    """
    found: list[list[tuple[int, int]] | None] = []
    cursor = 0
    n = len(file_lines)
    for lines in sources:
        hit: list[tuple[int, int]] | None = None
        i = cursor
        while i < n and lines:
            one = _one_string_source(file_lines[i], lines)
            if one is not None:
                hit = [(i + 1, col) for col in one]
                cursor = i + 1
                break
            if _SOURCE_KEY.match(file_lines[i]):
                positions: list[tuple[int, int]] = []
                for j, expected in enumerate(lines):
                    k = i + 1 + j
                    decoded = _decode_json_line(file_lines[k]) if k < n else None
                    if decoded is None or decoded[0] != expected:
                        break
                    positions.append((k + 1, decoded[1]))
                if len(positions) == len(lines):
                    hit = positions
                    cursor = i + 1 + len(lines)
                    break
            i += 1
        found.append(hit)
    return found


def _one_string_source(raw: str, lines: list[str]) -> list[int] | None:
    """For a ``"source": "..."`` line holding exactly the cell's text, each line's column offset (0-based, just
    after the opening quote, as _decode_json_line gives it; escaped characters counted at their escaped
    width, as ipynb_position counts them); else None."""
    m = _SOURCE_STRING.match(raw)
    if m is None:
        return None
    try:
        value = json.loads(m.group(2))
    except json.JSONDecodeError:
        return None
    if value != "".join(lines):
        return None
    base = len(m.group(1)) + 1
    out: list[int] = []
    done = 0
    for line in lines:
        out.append(base + done)
        done += len(json.dumps(line, ensure_ascii=False)) - 2
    return out


def fallback_line(file_lines: list[str], cell: Mapping[str, Any], start: int) -> int:
    """The 1-based line of the cell's id (nbformat >= 4.5) or else line 1."""
    cell_id = cell.get("id")
    if isinstance(cell_id, str):
        needle = f'"id": {json.dumps(cell_id)}'
        for i in range(start, len(file_lines)):
            if needle in file_lines[i]:
                return i + 1
    return 1
