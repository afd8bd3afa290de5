"""Translations CSV written back into a procedure notebook (``madoguchi translations import NB.ipynb ...``).

A notebook's definition is the YAML of its cells tagged ``procedure`` plus the help texts of its markdown cells
tagged ``help:<target>[:lang]`` (procedure_definitions/notebook.py). The changed texts are written where they
came from: a text of the YAML is edited in its cell, exactly as translations.py edits a YAML file (the edit
found in the joined YAML, then placed in the cell that holds those lines); a help text from a ``help:`` cell
replaces that cell's text, a new language gets a new cell after the target's last help cell, an emptied one
loses its cell. Every other cell, output and metadata is kept; the notebook is written as nbformat writes it.
The result is loaded again and must be the original definition with exactly those texts changed.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import nbformat

from .loader import LoadResult, load_source
from .notebook import (
    HELP_PREFIX,
    PROCEDURE_TAG,
    SECTION_WORD,
    _lines,
    _parse_help_tag,
    _source,
    _tags,
    _yaml_lines,
    extract,
)
from .translations import NOT_WRITTEN, Edit, TranslationError, changes_of, expected_model, splice, yaml_edits

__all__ = ["apply_texts_notebook"]


def _origins(cells: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """For each line of the joined YAML: (cell index, line index in that cell), as notebook.extract joins them."""
    out: list[tuple[int, int]] = []
    for ci, cell in enumerate(cells):
        if PROCEDURE_TAG in _tags(cell):
            keep = _yaml_lines(cell.get("cell_type"), _lines(_source(cell))) or []
            out.extend((ci, li) for li in keep)
    return out


def _help_target(data: Any, path: tuple[str | int, ...]) -> str | None:
    """The ``help:`` target of a help text at ``path`` (``field_id`` or ``section:<id>``), if it is a help."""
    if not path or path[-1] != "help":
        return None
    node = data
    for seg in path[:-1]:
        node = node[seg]
    if not isinstance(node, dict) or not isinstance(node.get("id"), str):
        return None
    return f"{SECTION_WORD}:{node['id']}" if len(path) == 3 and path[0] == "sections" else node["id"]


def _help_cells(cells: list[dict[str, Any]]) -> dict[tuple[str, str], list[int]]:
    """(target, language) -> indices of the markdown cells tagged with it."""
    found: dict[tuple[str, str], list[int]] = {}
    for ci, cell in enumerate(cells):
        for tag in _tags(cell):
            if cell.get("cell_type") == "markdown" and (tag == HELP_PREFIX or tag.startswith(HELP_PREFIX + ":")):
                parsed = _parse_help_tag(tag)
                if isinstance(parsed, tuple):
                    found.setdefault(parsed, []).append(ci)
    return found


def _cell_edits(yaml_text: str, origins: list[tuple[int, int]], cells: list[dict[str, Any]],
                edits: list[Edit]) -> dict[int, list[Edit]]:
    """Edits of the joined YAML as edits of the cells' sources; one spanning two cells cannot be placed."""
    starts = [0]
    for line in yaml_text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def where(offset: int, *, end: bool) -> tuple[int, int]:
        line = max(i for i, s in enumerate(starts[:-1]) if s <= offset) if offset < starts[-1] else len(starts) - 2
        col = offset - starts[line]
        if end and col == 0 and line > 0:  # the end of a block scalar: the end of the line before
            line -= 1
            col = starts[line + 1] - starts[line]
        ci, li = origins[line]
        cell_lines = _lines(_source(cells[ci]))
        return ci, min(sum(len(x) for x in cell_lines[:li]) + col, len(_source(cells[ci])))

    out: dict[int, list[Edit]] = {}
    for start, stop, text in edits:
        (c1, o1), (c2, o2) = where(start, end=False), where(stop, end=stop > start)
        if c1 != c2:
            raise TranslationError(message="a text spans two cells of the notebook: join them, or import into "
                                   "the YAML of `madoguchi export-notebook`")
        out.setdefault(c1, []).append((o1, o2, text))
    return out


def apply_texts_notebook(nb_text: str, result: LoadResult, rows: dict[str, dict[str, str]]) -> str:
    """The notebook (its JSON text, loaded as ``result``) with the texts of ``rows`` written in."""
    nb = json.loads(nb_text)
    cells: list[dict[str, Any]] = nb["cells"]
    ex = extract(nb_text)
    data = msgspec.to_builtins(result.definition)
    helps = _help_cells(cells)
    changes = changes_of(result.definition, rows)
    yaml_changes: list[tuple[Any, dict[str, str], dict[str, str]]] = []
    new_cells: list[tuple[int, dict[str, Any]]] = []  # (insert after index, cell)
    dropped: list[dict[str, Any]] = []
    for e, new in changes:
        target = _help_target(data, e.path)
        from_cells = set(ex.help.get(target, {})) if target else set()
        if not from_cells:
            yaml_changes.append((e.path, e.texts, new))
            continue
        assert target is not None
        yaml_old = {k: v for k, v in e.texts.items() if k not in from_cells}
        yaml_new = {k: v for k, v in new.items() if k in yaml_old}
        if yaml_new != yaml_old:
            yaml_changes.append((e.path, yaml_old, yaml_new))
        for lang in ("ja", "en", "ja-easy"):
            if lang in yaml_old or e.texts.get(lang) == new.get(lang):
                continue
            at = helps.get((target, lang), [])
            if len(at) > 1:
                raise TranslationError(message=f"the {lang} help of {target!r} is split over {len(at)} cells: "
                                       "join them into one first")
            shared = [t for t in _tags(cells[at[0]]) if t.startswith(HELP_PREFIX)] if at else []
            if len(shared) > 1:
                raise TranslationError(message=f"the help cell of {target!r} ({lang}) also holds "
                                       f"{', '.join(t for t in shared if _parse_help_tag(t) != (target, lang))}: "
                                       "give each help its own cell first")
            if at and lang in new:
                cells[at[0]]["source"] = new[lang]
            elif at:
                dropped.append(cells[at[0]])
            else:
                after = max(i for ids in (v for (t, _), v in helps.items() if t == target) for i in ids)
                tag = f"{HELP_PREFIX}:{target}" + ("" if lang == "ja" else f":{lang}")
                cell = dict(nbformat.v4.new_markdown_cell(new[lang], metadata={"tags": [tag]}))
                if nb.get("nbformat_minor", 0) < 5:
                    cell.pop("id", None)  # cell ids came with nbformat 4.5
                new_cells.append((after, cell))
    edits = yaml_edits(ex.yaml_text, yaml_changes)
    for ci, cell_edits in _cell_edits(ex.yaml_text, _origins(cells), cells, edits).items():
        cells[ci]["source"] = splice(_source(cells[ci]), cell_edits)
    for after, cell in sorted(new_cells, key=lambda x: x[0], reverse=True):
        cells.insert(after + 1, cell)
    nb["cells"] = [c for c in cells if not any(c is d for d in dropped)]
    out = nbformat.writes(nbformat.from_dict(nb), version=4)
    if not out.endswith("\n"):
        out += "\n"
    again = load_source(out, result.path, notebook=True)  # as `madoguchi check` reads it
    if again.definition != expected_model(result.definition, changes):
        lines = [p.format() for p in again.problems if p.severity == "error"]
        raise TranslationError(message=NOT_WRITTEN + "".join("\n" + x for x in lines))
    return out

