"""Translations kept as CSV for the city's translators: every text of a definition, one row each, and back.

``madoguchi translations export FILE.yaml --out FILE.csv`` writes one row per translatable text (every
``model.Text`` of the definition: titles, labels, hints, help, messages, choice labels, ...) with the columns
``key,ja,en,ja-easy``, in UTF-8 with a byte order mark so Excel opens the Japanese as Japanese. The key is a
stable path into the definition: list items by their ``id`` (choices by their ``value``), by their index when
they have none, e.g. ``sections[owner].fields[owner_name].label`` or ``sections[dog].fields[breed].choices[shiba].label``.

``madoguchi translations import FILE.yaml FILE.csv --out NEW.yaml`` (or ``--write``) writes the texts back:
only the text values that changed are rewritten in the YAML source, so comments, key order, quoting and every
other byte stay as they were; an unchanged CSV gives the very same file. The result is loaded again and must
be the original model with just those texts changed (anything else is a bug, never written). A row naming no
text of the definition, or without its Japanese, is a located problem ``FILE.csv:ROW:COL: CODE message``
(ROW the spreadsheet row, the header being row 1; COL the column, 1 = key); nothing is written then.

Notebooks: ``export`` reads them (the same loader as ``madoguchi check``, ``help:`` cells included);
``import`` writes each text back into the cell it came from (translations_nb.py).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import yaml

from .errors import Problem, did_you_mean, problem
from .loader import LoadResult, load_file, load_text
from .model import Definition, Text
from .yamlpos import Located, bad_string

__all__ = [
    "BOM",
    "COLUMNS",
    "NOT_WRITTEN",
    "Change",
    "Edit",
    "TextEntry",
    "TranslationError",
    "apply_texts",
    "changes_of",
    "expected_model",
    "export_command",
    "import_command",
    "read_csv",
    "splice",
    "texts_of",
    "to_csv",
    "yaml_edits",
]

COLUMNS = ("key", "ja", "en", "ja-easy")
LANGS = ("ja", "en", "ja-easy")
BOM = "\ufeff"

YamlPath = tuple[str | int, ...]
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class TranslationError(Exception):
    """Translations cannot be applied: ``problems`` are located lines (the CSV's, or the definition's)."""

    def __init__(self, problems: list[Problem] | None = None, message: str = "") -> None:
        self.problems = problems or []
        super().__init__(message or "\n".join(p.format() for p in self.problems))


class TextEntry(msgspec.Struct, frozen=True):
    """One translatable text: its CSV key, where it sits in the YAML, and its languages."""

    key: str
    path: YamlPath
    texts: dict[str, str]  # ja, en, ja-easy as present


# ------------------------------------------------------------------------------------------------ export


def _name(item: Any, attr: str) -> Any:
    if attr == "field.id":  # a life event's shared field is named by its field's id
        return getattr(getattr(item, "field", None), "id", None)
    return getattr(item, attr, None)


def _segment(items: list[Any], i: int) -> str:
    """A list item's key segment: its id (a choice: its value; a life event's procedure: the procedure's id; a
    shared field: its field's id) when unique in the list, else its index."""
    for attr in ("id", "value", "procedure", "field.id"):
        name = _name(items[i], attr)
        if isinstance(name, str) and sum(_name(x, attr) == name for x in items) == 1:
            return name
    return str(i)


def _walk(value: Any, key: str, path: YamlPath) -> Iterator[TextEntry]:
    if isinstance(value, Text):
        texts = {"ja": value.ja, "en": value.en, "ja-easy": value.ja_easy}
        yield TextEntry(key, path, {k: v for k, v in texts.items() if v is not None})
    elif isinstance(value, msgspec.Struct):
        for f in msgspec.structs.fields(value):
            yield from _walk(getattr(value, f.name), f"{key}.{f.encode_name}" if key else f.encode_name,
                             (*path, f.encode_name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{key}[{_segment(value, i)}]", (*path, i))


def texts_of(definition: Any, located: Located | None = None) -> list[TextEntry]:
    """Every translatable text of a procedure or life event; in the order of the file when ``located``
    (its positions, from the loader) is given, else in the model's order."""
    entries = list(_walk(definition, "", ()))
    if located is not None:
        entries.sort(key=lambda e: located.pos(e.path))
    return entries


def to_csv(entries: list[TextEntry]) -> str:
    """The CSV text (with its BOM): a header, then one row per text."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for e in entries:
        w.writerow([e.key, *(e.texts.get(lang, "") for lang in LANGS)])
    return BOM + out.getvalue()


# ----------------------------------------------------------------------------------------- reading a CSV


def read_csv(text: str, path: str, entries: list[TextEntry]) -> dict[str, dict[str, str]]:
    """Rows of a translations CSV -> {key: {lang: text}} (only the languages whose column exists).

    Raises TranslationError with every located problem: an unknown key (PD253), a row without Japanese, a
    key given twice, a bad header, a row with more cells than columns or a cell with a character no
    definition may hold, e.g. a CR or NEL line break (PD254).
    """
    known = {e.key for e in entries}
    problems: list[Problem] = []
    rows = list(csv.reader(io.StringIO(text.removeprefix(BOM), newline="")))
    if not rows:
        raise TranslationError([problem("PD254", path, 1, 1, detail="the file is empty: the first row must be "
                                        + ",".join(COLUMNS))])
    header = [h.strip() for h in rows[0]]
    for col, name in enumerate(header, start=1):
        if name not in COLUMNS or header.index(name) != col - 1:
            problems.append(problem("PD254", path, 1, col, detail=f"unknown or repeated column {name!r}"
                                    f"{did_you_mean(name, COLUMNS)}: the columns are {', '.join(COLUMNS)}"))
    for needed in ("key", "ja"):
        if needed not in header:
            problems.append(problem("PD254", path, 1, 1, detail=f"no {needed!r} column: the first row must be "
                                    + ",".join(COLUMNS)))
    if problems:
        raise TranslationError(problems)
    where = {name: i for i, name in enumerate(header)}
    out: dict[str, dict[str, str]] = {}
    first_row: dict[str, int] = {}
    for row_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line a spreadsheet left
        if len(row) > len(header):
            problems.append(problem("PD254", path, row_no, len(header) + 1,
                                    detail=f"{len(row)} cells but {len(header)} columns"))
            continue
        cells = {name: (row[i] if i < len(row) else "") for name, i in where.items()}
        key = cells["key"].strip()
        if key not in known:
            problems.append(problem("PD253", path, row_no, where["key"] + 1, key=key, hint=did_you_mean(key, known)))
            continue
        if key in first_row:
            problems.append(problem("PD254", path, row_no, where["key"] + 1,
                                    detail=f"key {key!r} is given twice (first in row {first_row[key]})"))
            continue
        first_row[key] = row_no
        # a stray CR, NEL (U+0085), form feed or other control character a definition may not hold: named at
        # its cell here, not found later as a "syntax error" in the YAML the text was written into
        bad = [(lang, why) for lang in LANGS if lang in cells and (why := bad_string(cells[lang])) is not None]
        for lang, why in bad:
            problems.append(problem("PD254", path, row_no, where[lang] + 1, detail=f"{key} ({lang}): {why}"))
        if bad:
            continue
        if not cells["ja"].strip():
            problems.append(problem("PD254", path, row_no, where["ja"] + 1,
                                    detail=f"{key}: the Japanese text (ja) is required"))
            continue
        out[key] = {lang: cells[lang] for lang in LANGS if lang in cells}
    if problems:
        raise TranslationError(problems)
    return out


# --------------------------------------------------------------------------------------- writing back


_PLAIN_OK = re.compile(r"[^\s].*[^\s]|[^\s]", re.DOTALL)


def _scalar(value: str, *, flow: bool) -> str:
    """``value`` as a YAML scalar: plain when it reads back as exactly itself there, else double-quoted."""
    if "\n" not in value and _PLAIN_OK.fullmatch(value):
        doc = f"{{k: {value}}}" if flow else f"k: {value}"
        try:
            if yaml.load(doc, Loader=_LOADER) == {"k": value}:
                return value
        except yaml.YAMLError:
            pass
    # JSON's string syntax is YAML's double-quoted one; the characters YAML takes as line breaks are escaped.
    quoted = json.dumps(value, ensure_ascii=False)
    return quoted.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\x85")


def _flow(texts: dict[str, str]) -> str:
    return "{" + ", ".join(f"{lang}: {_scalar(texts[lang], flow=True)}" for lang in LANGS if lang in texts) + "}"


def _node_at(root: yaml.Node, path: YamlPath) -> yaml.Node:
    node = root
    for seg in path:
        if isinstance(seg, int):
            assert isinstance(node, yaml.SequenceNode)
            node = node.value[seg]
        else:
            assert isinstance(node, yaml.MappingNode)
            node = next(v for k, v in node.value if k.value == seg)
    return node


Edit = tuple[int, int, str]  # start index, end index, replacement


def _edits(node: yaml.Node, old: dict[str, str], new: dict[str, str]) -> list[Edit]:
    """The smallest text edits that turn the Text ``node`` (holding ``old``) into ``new``."""
    whole = (node.start_mark.index, node.end_mark.index)
    flow_ctx = bool(getattr(node, "flow_style", False))
    if isinstance(node, yaml.ScalarNode):
        if set(new) == {"ja"}:
            return [(*whole, _scalar(new["ja"], flow=_in_flow(node)))]
        return [(*whole, _flow(new))]
    assert isinstance(node, yaml.MappingNode)
    if any(lang in old and lang not in new for lang in LANGS):
        return [(*whole, _flow(new))]  # a text taken away: the mapping is written again, in flow style
    edits: list[Edit] = []
    values = {k.value: v for k, v in node.value}
    for lang in LANGS:
        if lang in old and lang in new and old[lang] != new[lang]:
            v = values[lang]
            edits.append((v.start_mark.index, v.end_mark.index, _scalar(new[lang], flow=_in_flow(v))))
    added = [lang for lang in LANGS if lang in new and lang not in old]
    if added:
        last = node.value[-1][1]
        if flow_ctx:
            text = "".join(f", {lang}: {_scalar(new[lang], flow=True)}" for lang in added)
            edits.append((last.end_mark.index, last.end_mark.index, text))
        else:
            indent = " " * node.value[0][0].start_mark.column
            lines = [f"{indent}{lang}: {_scalar(new[lang], flow=False)}" for lang in added]
            if isinstance(last, yaml.ScalarNode) and last.style in ("|", ">"):
                # A block scalar ends at the start of the line after it: the new keys go there.
                edits.append((last.end_mark.index, last.end_mark.index, "".join(x + "\n" for x in lines)))
            else:
                edits.append((last.end_mark.index, last.end_mark.index, "".join("\n" + x for x in lines)))
    return edits


def _in_flow(node: yaml.Node) -> bool:
    return bool(getattr(node, "_flow_parent", False))


def _mark_flow_parents(node: yaml.Node, inside: bool = False) -> None:
    """Note on each scalar whether it sits inside a flow collection (where ',', '{', '}' need quoting)."""
    if isinstance(node, yaml.ScalarNode):
        node._flow_parent = inside  # type: ignore[attr-defined]
        return
    here = inside or bool(getattr(node, "flow_style", False))
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            _mark_flow_parents(k, here)
            _mark_flow_parents(v, here)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            _mark_flow_parents(v, here)


def _set_path(data: Any, path: YamlPath, value: Any) -> None:
    for seg in path[:-1]:
        data = data[seg]
    data[path[-1]] = value


Change = tuple[TextEntry, dict[str, str]]  # a text and its languages after the CSV


def changes_of(definition: Any, rows: dict[str, dict[str, str]]) -> list[Change]:
    """The texts ``rows`` change: a language column left empty takes that language away; a language whose
    column the CSV lacks, and a text without a row, are kept."""
    out: list[Change] = []
    for e in texts_of(definition):
        row = rows.get(e.key)
        if row is None:
            continue
        new = dict(e.texts)
        for lang, text in row.items():
            if text.strip():
                new[lang] = text
            else:
                new.pop(lang, None)
        if new != e.texts:
            out.append((e, new))
    return out


def expected_model(definition: Any, changes: list[Change]) -> Any:
    """``definition`` with exactly these texts changed: what the written file must load to."""
    data = msgspec.to_builtins(definition)
    for e, new in changes:
        _set_path(data, e.path, new)
    return msgspec.convert(data, Definition)


def yaml_edits(source: str, changes: list[tuple[YamlPath, dict[str, str], dict[str, str]]]) -> list[Edit]:
    """The edits of ``source`` that write each (path, old texts, new texts)."""
    # The loader's parser (libyaml when present: the two parsers differ on edge cases); its marks index characters.
    root = yaml.compose(source, Loader=_LOADER)
    assert root is not None
    _mark_flow_parents(root)
    edits: list[Edit] = []
    for path, old, new in changes:
        edits.extend(_edits(_node_at(root, path), old, new))
    return edits


def splice(text: str, edits: list[Edit]) -> str:
    out = text
    for start, end, new in sorted(edits, key=lambda x: x[0], reverse=True):
        if end > start and out[end - 1] == "\n" and not new.endswith("\n"):
            new += "\n"  # a block scalar (| or >) ends after its line break: the next key keeps its line
        out = out[:start] + new + out[end:]
    return out


NOT_WRITTEN = ("the texts could not be written without changing anything else (nothing was written); "
               "please report this file")


def apply_texts(source: str, result: LoadResult, rows: dict[str, dict[str, str]]) -> str:
    """``source`` (the YAML ``result`` was loaded from) with the texts of ``rows`` written in.

    Raises TranslationError if the new YAML would not load to the same model with exactly these texts.
    """
    changes = changes_of(result.definition, rows)
    out = splice(source, yaml_edits(source, [(e.path, e.texts, new) for e, new in changes]))
    again = load_text(out, result.path)
    if again.definition != expected_model(result.definition, changes):
        lines = [p.format() for p in again.problems if p.severity == "error"]
        raise TranslationError(message=NOT_WRITTEN + "".join("\n" + x for x in lines))
    return out


# --------------------------------------------------------------------------------------------------- CLI


def _load(path: str) -> LoadResult | None:
    res = load_file(path)
    errors = [p for p in res.problems if p.severity == "error"]
    if errors or res.definition is None:
        for p in errors:
            sys.stdout.write(p.format() + "\n")
        return None
    return res


def export_command(ns: argparse.Namespace) -> int:
    """``madoguchi translations export FILE --out FILE.csv``: every text, one CSV row each."""
    res = _load(ns.definition)
    if res is None:
        return 1
    entries = texts_of(res.definition, res.located)
    text = to_csv(entries)
    if ns.out:
        Path(ns.out).write_text(text, encoding="utf-8", newline="")
        sys.stderr.write(f"{len(entries)} texts written to {ns.out}\n")
    else:
        sys.stdout.write(text)
    return 0


def import_command(ns: argparse.Namespace) -> int:
    """``madoguchi translations import FILE.yaml FILE.csv --out NEW.yaml | --write``."""
    res = _load(ns.definition)
    if res is None:
        return 1
    try:
        raw = Path(ns.csv).read_bytes()
    except OSError as e:
        sys.stdout.write(problem("PD254", ns.csv, 1, 1, detail=f"cannot read: {e.strerror or e}").format() + "\n")
        return 1
    try:
        rows = read_csv(raw.decode("utf-8-sig"), ns.csv, texts_of(res.definition))
    except UnicodeDecodeError as e:
        sys.stdout.write(problem("PD254", ns.csv, 1, 1, detail=f"not UTF-8 ({e.reason}): save the CSV as "
                                 "UTF-8 (Excel: CSV UTF-8)").format() + "\n")
        return 1
    except TranslationError as e:
        for p in e.problems:
            sys.stdout.write(p.format() + "\n")
        return 1
    # The file exactly as on disk: line ends and all (load_file decoded the same bytes).
    source = Path(ns.definition).read_bytes().decode("utf-8")
    try:
        if Path(ns.definition).suffix == ".ipynb":
            from .translations_nb import apply_texts_notebook

            new = apply_texts_notebook(source, res, rows)
        else:
            new = apply_texts(source, res, rows)
    except TranslationError as e:
        sys.stderr.write(f"{ns.definition}: {e}\n")
        return 1
    target = ns.definition if ns.write else ns.out
    if target:
        Path(target).write_bytes(new.encode("utf-8"))
        changed = len(changes_of(res.definition, rows))
        sys.stderr.write(f"{changed} text{'s' if changed != 1 else ''} changed; written to {target}\n")
    else:
        sys.stdout.write(new)
    return 0
