"""Procedure definitions authored as Jupyter notebooks (``.ipynb``).

A notebook holds one definition, written as YAML fragments in the cells tagged ``procedure`` (raw or code
cells, or the ```yaml blocks of markdown cells), concatenated in cell order, with prose around them. Markdown cells tagged
``help:<field_id>`` or ``help:section:<section_id>`` (optionally ``:en`` / ``:ja-easy`` / ``:ja``) become the
``help`` text of that field or section. See docs/procedure-format.md, "Notebooks".

The extraction is a pure function of the notebook's JSON text (like pyxform's ``convert``, no file writes):
:func:`extract` returns the YAML text, a map from YAML lines back to lines of the ``.ipynb`` file (so the
loader can report ``nb.ipynb:LINE:COL``), the help texts and any problems, and never raises for bad input.
Reading goes through :mod:`json` rather than :mod:`nbformat`/:mod:`nbconvert` because those take 0.2 s and
0.8 s to import and ``madoguchi check`` must stay fast; the nbconvert exporter class is built lazily.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from .notebook_lines import fallback_line, locate_sources
from .yamlpos import bad_string, dump_yaml

__all__ = [
    "HELP_LANGUAGES",
    "PROCEDURE_TAG",
    "ExtractedNotebook",
    "NotebookError",
    "ProcedureYAMLExporter",  # noqa: F822 (built lazily by __getattr__)
    "apply_help",
    "extract",
    "ipynb_position",
    "notebook_to_yaml",
    "to_mapping",
    "to_yaml",
]

PROCEDURE_TAG = "procedure"
HELP_PREFIX = "help"
SECTION_WORD = "section"
# Sub-tag -> key of the localized text (the YAML keys of model.Text).
HELP_LANGUAGES: tuple[str, ...] = ("ja", "en", "ja-easy")

_CELL_MAGIC = re.compile(r"^%%\S*")
_FENCE_OPEN = re.compile(r"^\s*(```|~~~)\s*ya?ml\s*$")
_FENCE_CLOSE = re.compile(r"^\s*(```|~~~)\s*$")


class NotebookError(ValueError):
    """The notebook cannot be turned into a definition; the message lists every problem, one a line."""


class ExtractedNotebook(msgspec.Struct):
    """What a notebook holds, ready for the YAML loader.

    ``line_map[i]`` is ``(line, offset)`` for YAML line ``i + 1``: its 1-based line in the ``.ipynb`` file,
    and the column offset there (YAML column ``c`` is file column ``c + offset`` when the line has no
    JSON-escaped characters before ``c``; :func:`ipynb_position` is exact). ``exact[i]`` is False where the
    line could not be found and the cell's id line (offset 0) stands in for it.
    ``help`` maps a target (``field_id`` or ``section:<section_id>``) to ``{ja, en, ja-easy}`` texts.
    """

    yaml_text: str
    line_map: list[tuple[int, int]]
    help: dict[str, dict[str, str]]
    errors: list[str]
    exact: list[bool] = msgspec.field(default_factory=list)


# ---------------------------------------------------------------------------------------------- reading


def _read(nb: Mapping[str, Any] | str | Path) -> tuple[dict[str, Any] | None, str, list[str]]:
    """Return (notebook dict, its JSON text as on disk, errors). Never raises for bad input."""
    if isinstance(nb, Mapping):
        # An in-memory NotebookNode: line numbers are those nbformat would write for it.
        try:
            import nbformat  # lazy: only this path needs it

            text = nbformat.writes(nbformat.from_dict(dict(nb)))
        except Exception as exc:  # nbformat raises many types for malformed nodes
            return None, "", [f"not a valid notebook: {exc}"]
    elif isinstance(nb, str) and nb.lstrip().startswith("{"):
        text = nb
    else:
        try:
            text = Path(nb).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return None, "", [f"cannot read notebook {nb}: {exc}"]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, text, [f"not a notebook: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return None, text, ["not a notebook: no 'cells' list (only nbformat 4 notebooks are supported)"]
    if data.get("nbformat") != 4:
        return None, text, [f"only nbformat 4 notebooks are supported (this one is {data.get('nbformat')!r})"]
    return data, text, []


def _source(cell: Mapping[str, Any]) -> str:
    src = cell.get("source", "")
    if isinstance(src, list):
        return "".join(s for s in src if isinstance(s, str))
    return src if isinstance(src, str) else ""


def _lines(text: str) -> list[str]:
    """Split on ``\n`` only, keeping the ends (str.splitlines also splits on form feeds and the like,
    which YAML does not treat as line breaks)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _yaml_lines(kind: Any, lines: list[str]) -> list[int] | None:
    """Indices of the lines of a ``procedure`` cell that are YAML; None for a cell type that cannot be.

    Raw cells are YAML throughout. Code cells too, except a leading cell-magic line (``%%...``). Markdown
    cells contribute the lines inside their ```yaml fences, so prose can surround the definition and
    GitHub and nbconvert render it highlighted (both skip or mangle raw cells).
    """
    if kind == "raw":
        return list(range(len(lines)))
    if kind == "code":
        start = 1 if lines and _CELL_MAGIC.match(lines[0]) else 0
        return list(range(start, len(lines)))
    if kind != "markdown":
        return None
    keep: list[int] = []
    inside = False
    for i, line in enumerate(lines):
        if not inside and _FENCE_OPEN.match(line):
            inside = True
        elif inside and _FENCE_CLOSE.match(line):
            inside = False
        elif inside:
            keep.append(i)
    return keep


def _tags(cell: Mapping[str, Any]) -> list[str]:
    meta = cell.get("metadata")
    tags = meta.get("tags") if isinstance(meta, Mapping) else None
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


# ------------------------------------------------------------------------------------------------- help


def _parse_help_tag(tag: str) -> tuple[str, str] | str:
    """``help:…`` -> (target, language), or an error message."""
    parts = tag.split(":")
    body = parts[1:]
    if body and body[0] == SECTION_WORD:
        if len(body) == 2 and body[1]:
            return f"{SECTION_WORD}:{body[1]}", "ja"
        if len(body) == 3 and body[1] and body[2] in HELP_LANGUAGES:
            return f"{SECTION_WORD}:{body[1]}", body[2]
    elif len(body) == 1 and body[0]:
        return body[0], "ja"
    elif len(body) == 2 and body[0] and body[1] in HELP_LANGUAGES:
        return body[0], body[1]
    return (
        f"malformed help tag {tag!r}: use help:<field_id>, help:section:<section_id>, "
        f"optionally followed by :{' / :'.join(HELP_LANGUAGES)}"
    )


# ---------------------------------------------------------------------------------------------- extract


def extract(nb: Mapping[str, Any] | str | Path) -> ExtractedNotebook:
    """Extract the YAML definition, its line map and the help texts from a notebook.

    ``nb`` is a path (``str`` or ``Path``), the notebook's JSON text (a ``str`` starting with ``{``), or an
    in-memory notebook (``nbformat.NotebookNode`` or plain dict; lines are then those of
    ``nbformat.writes``). Problems land in ``errors``; nothing is raised for bad input.
    """
    data, text, errors = _read(nb)
    if data is None:
        return ExtractedNotebook(yaml_text="", line_map=[], help={}, errors=errors)
    cells = [c for c in data["cells"] if isinstance(c, Mapping)]
    file_lines = text.splitlines()

    yaml_cells: list[tuple[Mapping[str, Any], list[str], list[int]]] = []
    help_parts: dict[str, dict[str, list[str]]] = {}
    for number, cell in enumerate(cells, start=1):
        kind = cell.get("cell_type")
        tags = _tags(cell)
        if PROCEDURE_TAG in tags:
            lines = _lines(_source(cell))
            keep = _yaml_lines(kind, lines)
            if keep is None:
                errors.append(
                    f"cell {number} ({kind}): only code, raw or markdown cells may be tagged {PROCEDURE_TAG!r}"
                )
            elif kind == "markdown" and not keep:
                errors.append(f"cell {number} (markdown): tagged {PROCEDURE_TAG!r} but has no ```yaml block")
            else:
                yaml_cells.append((cell, lines, keep))
        for tag in tags:
            if tag != HELP_PREFIX and not tag.startswith(HELP_PREFIX + ":"):
                continue
            if kind != "markdown":
                errors.append(f"cell {number} ({kind}): help tag {tag!r} belongs on a markdown cell")
                continue
            parsed = _parse_help_tag(tag)
            if isinstance(parsed, str):
                errors.append(f"cell {number}: {parsed}")
                continue
            target, lang = parsed
            text = _source(cell).strip()
            bad = bad_string(text)  # the same characters a YAML definition may not hold
            if bad is not None:
                errors.append(f"cell {number}: {bad}")
                continue
            help_parts.setdefault(target, {}).setdefault(lang, []).append(text)

    if not yaml_cells:
        errors.append(
            f"no cell is tagged {PROCEDURE_TAG!r}: tag the code or raw cells that hold the YAML definition"
        )

    located = locate_sources(file_lines, [lines for _, lines, _ in yaml_cells])
    out: list[str] = []
    line_map: list[tuple[int, int]] = []
    exact: list[bool] = []
    cursor_line = 0
    for (cell, lines, keep), positions in zip(yaml_cells, located, strict=True):
        if positions is None:
            fallback = (fallback_line(file_lines, cell, cursor_line), 0)
            positions = [fallback] * len(lines)
            ok = False
        else:
            cursor_line = positions[-1][0] if positions else cursor_line
            ok = True
        for idx in keep:
            line = lines[idx]
            out.append(line if line.endswith("\n") else line + "\n")
            line_map.append(positions[idx])
            exact.append(ok)

    help_texts: dict[str, dict[str, str]] = {}
    for target, by_lang in help_parts.items():
        help_texts[target] = {lang: "\n\n".join(p for p in parts if p) for lang, parts in by_lang.items()}
        if "ja" not in by_lang:
            errors.append(f"help for {target!r} has no Japanese text: add a cell tagged help:{target}")
    return ExtractedNotebook(
        yaml_text="".join(out), line_map=line_map, help=help_texts, errors=errors, exact=exact
    )


def ipynb_position(ex: ExtractedNotebook, line: int, column: int) -> tuple[int, int]:
    """Map a 1-based (line, column) of ``ex.yaml_text`` to the (line, column) in the ``.ipynb`` file.

    Exact where the line was found: characters JSON escapes (quotes, backslashes, tabs) are counted at
    their escaped width. Out-of-range positions are clamped; an empty notebook maps to (1, 1).
    """
    if not ex.line_map:
        return 1, 1
    i = min(max(line, 1), len(ex.line_map)) - 1
    file_line, start = ex.line_map[i]
    if i < len(ex.exact) and not ex.exact[i]:
        return file_line, 1
    yaml_lines = ex.yaml_text.splitlines()
    prefix = yaml_lines[i][: max(column, 1) - 1] if i < len(yaml_lines) else ""
    return file_line, start + 1 + len(json.dumps(prefix, ensure_ascii=False)) - 2


# ---------------------------------------------------------------------------------------- help injection


def _set_help(node: dict[str, Any], texts: Mapping[str, str], after: tuple[str, ...]) -> None:
    """Merge ``texts`` into ``node["help"]``, placed after the first key of ``after`` present.

    ``node`` is changed in place (not replaced): the loader keeps positions for these very objects.
    """
    existing = node.get("help")
    merged: dict[str, Any] = {"ja": existing} if isinstance(existing, str) else dict(existing or {})
    merged.update(texts)
    if len(merged) == 1 and "ja" in merged:
        value: Any = merged["ja"]  # the plain-string shorthand reads best in exported YAML
    else:
        value = {k: merged[k] for k in (*HELP_LANGUAGES, *merged) if k in merged}
    anchor = next((k for k in after if k in node), None)
    result: dict[str, Any] = {}
    for key, val in node.items():
        if key == "help":
            continue
        result[key] = val
        if key == anchor:
            result["help"] = value
    if "help" not in result:
        result["help"] = value
    node.clear()
    node.update(result)


def _fields_in(fields: Any, out: dict[str, dict[str, Any]]) -> None:
    if not isinstance(fields, list):
        return
    for f in fields:
        if isinstance(f, dict):
            if isinstance(f.get("id"), str):
                out.setdefault(f["id"], f)
            _fields_in(f.get("fields"), out)


def _targets(raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every help target of a raw definition -> its mapping (the first one, if ids repeat)."""
    out: dict[str, dict[str, Any]] = {}
    sections = raw.get("sections")
    if isinstance(sections, list):
        for s in sections:
            if isinstance(s, dict):
                if isinstance(s.get("id"), str):
                    out.setdefault(f"{SECTION_WORD}:{s['id']}", s)
                _fields_in(s.get("fields"), out)
    questions = raw.get("questions")
    if isinstance(questions, list):  # life events: help on the yes/no questions
        _fields_in(questions, out)
    shared = raw.get("shared_fields")
    if isinstance(shared, list):
        _fields_in([s.get("field") for s in shared if isinstance(s, dict)], out)
    return out


def apply_help(raw: dict[str, Any], help: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Set the ``help`` of each target in ``raw`` (a plain-dict definition, changed in place).

    Texts from the notebook override the same languages already in the YAML. Returns the targets that
    matched no field, section or question (in the order given), for the loader to report.
    """
    if not isinstance(raw, dict):
        return list(help)
    found = _targets(raw)
    unmatched: list[str] = []
    for target, texts in help.items():
        node = found.get(target)
        if node is None:
            unmatched.append(target)
            continue
        after = ("title",) if target.startswith(SECTION_WORD + ":") else ("hint", "label")
        _set_help(node, texts, after)
    return unmatched


# --------------------------------------------------------------------------------------------- to YAML


def to_mapping(ex: ExtractedNotebook) -> dict[str, Any]:
    """The definition as a plain dict with the help texts applied; raises NotebookError on any problem."""
    import yaml  # lazy: extract() itself needs no YAML parser

    problems = list(ex.errors)
    raw: Any = None
    if ex.yaml_text and not problems:
        # libyaml when present: the loader parses with it too, and the two parsers differ on edge cases.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            raw = yaml.load(ex.yaml_text, Loader=loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            if mark is not None:
                line, col = ipynb_position(ex, mark.line + 1, mark.column + 1)
                problems.append(f"line {line} column {col}: invalid YAML: {getattr(exc, 'problem', exc)}")
            else:
                problems.append(f"invalid YAML: {exc}")
        else:
            if not isinstance(raw, dict):
                problems.append("the cells tagged 'procedure' must form a YAML mapping (kind: ..., id: ...)")
            else:
                for target in apply_help(raw, ex.help):
                    problems.append(f"help for {target!r} matches no field or section")
    if problems:
        raise NotebookError("\n".join(problems))
    return raw


def to_yaml(ex: ExtractedNotebook) -> str:
    """Canonical YAML of the definition: keys in the order written, Unicode kept, help applied."""

    return dump_yaml(to_mapping(ex))


def notebook_to_yaml(path: str | Path) -> str:
    """``madoguchi export-notebook``: the canonical YAML of a notebook file; raises NotebookError."""
    return to_yaml(extract(Path(path)))


# ------------------------------------------------------------------------------------ nbconvert exporter


def _make_exporter() -> type:
    from nbconvert.exporters import Exporter
    from traitlets import default

    class ProcedureYAMLExporter(Exporter):
        """nbconvert exporter ``madoguchi_yaml``: ``jupyter nbconvert --to madoguchi_yaml nb.ipynb``."""

        export_from_notebook = "Madoguchi procedure YAML"
        output_mimetype = "application/yaml"

        @default("file_extension")
        def _file_extension_default(self) -> str:
            return ".yaml"

        def from_notebook_node(  # type: ignore[override]  # text out, like nbconvert's TemplateExporter
            self, nb: Any, resources: dict[str, Any] | None = None, **kw: Any
        ) -> tuple[str, dict[str, Any]]:
            nb_copy, resources = super().from_notebook_node(nb, resources, **kw)
            return to_yaml(extract(nb_copy)), resources

    return ProcedureYAMLExporter


_lazy: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    # PEP 562: the exporter subclasses nbconvert's Exporter, whose import costs ~0.8 s; build it only
    # when someone (nbconvert's entry point, a test) asks for it.
    if name == "ProcedureYAMLExporter":
        if name not in _lazy:
            _lazy[name] = _make_exporter()
        return _lazy[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
