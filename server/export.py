"""Exports of submissions for the core systems: JSON Lines (lossless) and CSV (one column per value).

CSV columns: the fixed receipt columns (``id, receipt_number, procedure_id, procedure_version, status,
received_at, flags``, codes as stored), ``procedure_title``, ``status_label`` and ``flags_label`` (the
flags in words, ``;``-joined in the order of ``flags``), then the answer columns of each procedure, **derived from its definition** (the exact
version filled, read from ``procedure_versions``) with Japanese labels:

* a field -> one column named by its label (``通数``); values are the form's values (calculations included,
  hidden fields left out);
* a coded field (choice, multiple choice, yes/no, person, attachment) -> its label column holds the readable
  value (``server.display``: choice labels joined with ``;``, はい/いいえ, the person's name, file names) and
  ``<label>__code`` right after it the stored value (codes joined with ``;``, ``1``/``0``, the member id, the
  sha256 list);
* a name -> ``氏名（氏）`` and ``氏名（名）`` (a single-part name stays one column);
  split kana -> ``（セイ）``/``（メイ）``;
* an address -> ``住所（郵便番号）``, ``（都道府県）``, ``（市区町村）``, ``（町域）``, ``（番地）``, ``（建物名）``;
* a group -> numbered columns per item, ``必要な人1・氏名（氏）``, as many items as the longest answer exported;
* notices have no column. A label used twice in one procedure is prefixed with its section title.

An optional override per procedure, ``<mappings dir>/<procedure_id>.yaml`` (default directory:
``export-mappings/`` next to the database file), replaces the derived answer columns with the columns a
core system expects, in order: ``columns: {列名: dotted.path}`` where paths address the form's values
(``applicant_name.family``, ``target_people.1.target_name.given``: group items count from 1), with the stored
values and no ``__code`` column (an export of mapped procedures only has no label columns either).

Columns come only from definitions and mapping files, never from the answers themselves: an answer whose key
is not a field of the definition is no column (a submission whose definition is not stored exports its
receipt columns only; JSON Lines keeps everything). Every cell and every header is neutralised against
formula injection (:func:`neutralize`). ``departments`` limits the records to those an account may export,
by the queue's own SQL filter (``server.auth.roles.department_filter``); ``exported`` collects the ids
written, for the audit entry.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import yaml

from procedure_definitions.model import (
    AddressField,
    AttachmentField,
    ChoiceField,
    GroupField,
    KanaField,
    MultiChoiceField,
    NameField,
    NoticeField,
    PersonField,
    Procedure,
    YesNoField,
)
from server.display import choice_labels, file_names, flag_labels, form_values, status_label, value_text
from server.storage.submissions import SubmissionRecord, iter_submissions

__all__ = [
    "BASE_COLUMNS",
    "CODE_SUFFIX",
    "LABEL_COLUMNS",
    "Column",
    "MappingError",
    "default_mappings_dir",
    "derive_columns",
    "export_row",
    "flatten",
    "load_mappings",
    "lookup",
    "neutralize",
    "to_csv",
    "to_jsonl",
]

BASE_COLUMNS = ("id", "receipt_number", "procedure_id", "procedure_version", "status", "received_at", "flags")
# The receipt's codes in words (server.display), after the fixed columns, which keep their codes; left out
# of an export whose every row has a mapping file (a core system's exact columns).
LABEL_COLUMNS = ("procedure_title", "status_label", "flags_label")

_enc = msgspec.json.Encoder()


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(value, list):
        if all(isinstance(x, dict) and "sha256" in x for x in value) and value:
            out[prefix] = ";".join(str(x["sha256"]) for x in value)
        elif all(not isinstance(x, (dict, list)) for x in value):
            out[prefix] = ";".join(_scalar(x) for x in value)
        else:
            for i, item in enumerate(value, start=1):
                out.update(flatten(item, f"{prefix}.{i}"))
    else:
        out[prefix] = _scalar(value)
    return out


def _scalar(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v)


def _at(answers: Any, path: str) -> Any:
    """The value at a dotted path (group items count from 1); None when there is none."""
    cur = answers
    for part in path.split("."):
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit() and 0 < int(part) <= len(cur):
            cur = cur[int(part) - 1]
        else:
            return None
    return cur


def lookup(answers: Any, path: str) -> str:
    cur = _at(answers, path)
    if cur is None:
        return ""
    flat = flatten(cur)
    return flat.get("", "") if len(flat) <= 1 else _enc.encode(cur).decode()


def _record_json(rec: SubmissionRecord) -> bytes:
    return _enc.encode({
        "id": rec.id, "receipt_number": rec.receipt_number, "procedure_id": rec.procedure_id,
        "procedure_version": rec.procedure_version, "department": rec.department, "status": rec.status,
        "flags": rec.flags, "answers": rec.answers, "on_behalf_of": rec.on_behalf_of,
        "received_at": rec.received_at, "updated_at": rec.updated_at,
    })


def _records(conn: sqlite3.Connection, status: str | None, procedure: str | None,
             departments: list[str] | None, exported: list[str] | None) -> Iterator[SubmissionRecord]:
    for rec in iter_submissions(conn, status=status, procedure=procedure, departments=departments):
        if exported is not None:
            exported.append(rec.id)
        yield rec


def to_jsonl(conn: sqlite3.Connection, *, status: str | None = None, procedure: str | None = None,
             departments: list[str] | None = None, exported: list[str] | None = None) -> Iterator[str]:
    for rec in _records(conn, status, procedure, departments, exported):
        yield _record_json(rec).decode() + "\n"


_ADDRESS_PARTS = (("postal_code", "郵便番号"), ("prefecture", "都道府県"), ("city", "市区町村"),
                  ("town", "町域"), ("block", "番地"), ("building", "建物名"))


class Column(NamedTuple):
    label: str
    path: str  # dotted path into the form's values; group items numbered from 1


class MappingError(ValueError):
    """An export mapping file is unusable (the message names the file)."""


def default_mappings_dir(db_path: str | Path) -> Path:
    return Path(db_path).resolve().parent / "export-mappings"


def load_mappings(directory: str | Path | None) -> dict[str, list[Column]]:
    """``{procedure_id: [Column]}`` from ``<directory>/<procedure_id>.yaml``; a missing directory is none."""
    out: dict[str, list[Column]] = {}
    if directory is None or not Path(directory).is_dir():
        return out
    for f in sorted(Path(directory).glob("*.y*ml")):
        try:
            data = yaml.safe_load(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            raise MappingError(f"{f}: cannot read: {e}") from None
        cols = data.get("columns") if isinstance(data, dict) else None
        if not isinstance(cols, dict) or not cols or not all(
                isinstance(k, str) and k and isinstance(v, str) and v for k, v in cols.items()):
            raise MappingError(f"{f}: expected 'columns:' mapping column names to dotted paths")
        unknown = set(data) - {"columns"}
        if unknown:
            raise MappingError(f"{f}: unknown keys {sorted(unknown)}")
        out[f.stem] = [Column(k, v) for k, v in cols.items()]
    return out


def _leaf_columns(f: Any, label: str, path: str, items: Mapping[str, int]) -> list[Column]:
    if isinstance(f, NoticeField):
        return []
    if isinstance(f, NameField) and not f.single_part:
        return [Column(f"{label}（氏）", f"{path}.family"), Column(f"{label}（名）", f"{path}.given")]
    if isinstance(f, KanaField) and f.split:
        return [Column(f"{label}（セイ）", f"{path}.family"), Column(f"{label}（メイ）", f"{path}.given")]
    if isinstance(f, AddressField):
        return [Column(f"{label}（{name}）", f"{path}.{key}") for key, name in _ADDRESS_PARTS]
    if isinstance(f, GroupField):
        item = f.item_label.ja if f.item_label else label
        out: list[Column] = []
        for n in range(1, max(1, items.get(path, 0)) + 1):
            for sub in f.fields:
                out += _leaf_columns(sub, f"{item}{n}・{sub.label.ja}", f"{path}.{n}.{sub.id}", items)
        return out
    return [Column(label, path)]


def derive_columns(proc: Procedure, items: Mapping[str, int] | None = None) -> list[Column]:
    """The answer columns of ``proc``; ``items`` gives how many numbered items each group path gets."""
    fields = [(s, f) for s in proc.sections for f in s.fields if not isinstance(f, NoticeField)]
    seen: dict[str, int] = {}
    for _, f in fields:
        seen[f.label.ja] = seen.get(f.label.ja, 0) + 1
    out: list[Column] = []
    for section, f in fields:
        label = f.label.ja if seen[f.label.ja] == 1 else f"{section.title.ja}・{f.label.ja}"
        out += _leaf_columns(f, label, f.id, items or {})
    # Two fields with the same label in one section: keep columns apart with the field id.
    counts: dict[str, int] = {}
    for c in out:
        counts[c.label] = counts.get(c.label, 0) + 1
    return [Column(f"{c.label}（{c.path}）", c.path) if counts[c.label] > 1 else c for c in out]


# Fields whose stored value is a code (or an id, a flag, a file's hash): their column holds its label and a
# parallel column ``<column>__code`` (right after it) the stored value as before.
_CODED = (ChoiceField, MultiChoiceField, YesNoField, PersonField, AttachmentField)
CODE_SUFFIX = "__code"


def _field_at(proc: Procedure, path: str) -> Any:
    """The definition's field a column path ends on (``target_people.2.relation`` -> ``relation``), or None
    when the path goes into a field's parts (``applicant_name.family``) or names no field."""
    fields: list[Any] = [f for s in proc.sections for f in s.fields]
    found: Any = None
    for part in path.split("."):
        if part.isdigit() and isinstance(found, GroupField):
            continue
        if found is not None and not isinstance(found, GroupField):
            return None  # a sub-key of a leaf value
        found = next((f for f in fields if f.id == part), None)
        if found is None:
            return None
        fields = list(found.fields) if isinstance(found, GroupField) else []
    return found


def _label_cell(f: Any, value: Any, values: Mapping[str, Any], corrected: list[str]) -> str:
    if value is None or value == "" or value == []:
        return ""
    if isinstance(f, (ChoiceField, MultiChoiceField)):
        return ";".join(choice_labels(f, value))  # in step with the codes' own ``;`` list
    if isinstance(f, AttachmentField):
        return ";".join(file_names(value))  # in step with the hashes' ``;`` list
    return value_text(f, value, values, corrected)


class _Cell(NamedTuple):
    header: str
    path: str
    field: Any  # the coded field this label column shows; None: the value as stored (lookup)
    code: bool = False


def _cells(proc: Procedure | None, plan: list[Column], labelled: bool) -> list[_Cell]:
    """A plan's columns as written: a coded field's column (``labelled``: derived from the definition) holds
    the label, followed by ``<column>__code`` with the stored value; every other column the value."""
    out: list[_Cell] = []
    for c in plan:
        f = _field_at(proc, c.path) if labelled and proc is not None else None
        if isinstance(f, _CODED):
            out += [_Cell(c.label, c.path, f), _Cell(c.label + CODE_SUFFIX, c.path, None, code=True)]
        else:
            out.append(_Cell(c.label, c.path, None))
    return out


def _group_items(proc: Procedure, values: Mapping[str, Any], items: dict[str, int]) -> None:
    """Record the item count of every group path in ``values`` (nested groups too)."""
    def walk(fields: list[Any], data: Any, prefix: str) -> None:
        if not isinstance(data, Mapping):
            return
        for f in fields:
            if isinstance(f, GroupField):
                path = f"{prefix}{f.id}"
                seq = data.get(f.id)
                if isinstance(seq, list):
                    items[path] = max(items.get(path, 0), len(seq))
                    for n, item in enumerate(seq, start=1):
                        walk(f.fields, item, f"{path}.{n}.")

    walk([f for s in proc.sections for f in s.fields], values, "")


class _Definitions:
    """Published definitions by (id, version), read from ``procedure_versions`` once per export."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.cache: dict[tuple[str, str], Procedure | None] = {}

    def get(self, pid: str, version: str) -> Procedure | None:
        key = (pid, version)
        if key not in self.cache:
            row = self.conn.execute("SELECT definition FROM procedure_versions WHERE procedure_id = ? AND version = ?"
                                    " AND kind = 'procedure'", key).fetchone()
            try:
                self.cache[key] = msgspec.json.decode(row[0], type=Procedure) if row else None
            except msgspec.ValidationError:  # a definition stored by an older model: export raw answers
                self.cache[key] = None
        return self.cache[key]


def _plan(procedure_id: str, proc: Procedure | None, mappings: Mapping[str, list[Column]],
          items: Mapping[str, int] | None) -> list[_Cell]:
    """The answer cells of a procedure's rows: its mapping file's, else derived from its definition."""
    if procedure_id in mappings:  # a core system's own columns: exactly the stored values
        return _cells(proc, mappings[procedure_id], labelled=False)
    if proc is not None:
        return _cells(proc, derive_columns(proc, items), labelled=True)
    return []  # definition unknown: receipt columns only, never the answers' own keys


def _row(rec: SubmissionRecord, proc: Procedure | None, values: Mapping[str, Any], plan: list[_Cell]
         ) -> dict[str, str]:
    """One submission's row, header -> cell text (not yet neutralised: that is the CSV writer's)."""
    row = {"id": rec.id, "receipt_number": rec.receipt_number, "procedure_id": rec.procedure_id,
           "procedure_version": rec.procedure_version, "status": rec.status, "received_at": rec.received_at,
           "flags": ";".join(rec.flags), "procedure_title": proc.title.ja if proc is not None else "",
           "status_label": status_label(rec.status), "flags_label": ";".join(flag_labels(rec.flags))}
    row.update({c.header: _label_cell(c.field, _at(values, c.path), values, rec.corrected) if c.field is not None
                else lookup(values, c.path) for c in plan})
    return row


def _values(proc: Procedure | None, rec: SubmissionRecord) -> dict[str, Any]:
    """The values a row holds: the form's as validated for staff (the export and the hand-off are staff and
    core-system outputs: the counter's staff-only values, 窓口記入, belong to the application)."""
    return form_values(proc, rec.answers, filer="staff") if proc is not None else rec.answers


def export_row(conn: sqlite3.Connection, rec: SubmissionRecord,
               mappings: Mapping[str, list[Column]] | None = None) -> dict[str, str]:
    """One submission as its line of the CSV export (header -> value, in column order, not neutralised: the
    caller is no spreadsheet): what the hand-off to a core system sends (server/handoff.py). A procedure with
    a mapping file gets exactly the receipt columns and its mapped columns, as in an export of it alone."""
    mappings = mappings or {}
    proc = _Definitions(conn).get(rec.procedure_id, rec.procedure_version)
    values = _values(proc, rec)
    items: dict[str, int] = {}
    if proc is not None and rec.procedure_id not in mappings:
        _group_items(proc, values, items)
    row = _row(rec, proc, values, _plan(rec.procedure_id, proc, mappings, items))
    if rec.procedure_id in mappings:
        for name in LABEL_COLUMNS:
            del row[name]
    return row


def to_csv(conn: sqlite3.Connection, *, status: str | None = None, procedure: str | None = None,
           bom: bool = False, mappings: Mapping[str, list[Column]] | None = None, departments: list[str] | None = None,
           exported: list[str] | None = None) -> str:
    """The whole CSV as text (two passes: the column set is known only after reading every row)."""
    defs = _Definitions(conn)
    mappings = mappings or {}
    records: list[tuple[SubmissionRecord, Procedure | None, dict[str, Any]]] = []
    items: dict[tuple[str, str], dict[str, int]] = {}
    for rec in _records(conn, status, procedure, departments, exported):
        proc = defs.get(rec.procedure_id, rec.procedure_version)
        values = _values(proc, rec)
        if proc is not None and rec.procedure_id not in mappings:
            _group_items(proc, values, items.setdefault((proc.id, proc.version), {}))
        records.append((rec, proc, values))
    plans: dict[tuple[str, str], list[_Cell]] = {}
    rows: list[dict[str, str]] = []
    columns: dict[str, None] = dict.fromkeys(BASE_COLUMNS)
    # A core system's mapping file is exactly its columns: the receipt's labels come with the other rows only.
    if any(rec.procedure_id not in mappings for rec, _, _ in records):
        columns.update(dict.fromkeys(LABEL_COLUMNS))
    for rec, proc, values in records:
        key = (rec.procedure_id, rec.procedure_version)
        if key not in plans:
            plans[key] = _plan(rec.procedure_id, proc, mappings, items.get(key))
        columns.update(dict.fromkeys(c.header for c in plans[key]))
        rows.append(_row(rec, proc, values, plans[key]))
    buf = io.StringIO()
    if bom:
        buf.write("\ufeff")  # Excel on Windows needs it to read UTF-8
    writer = csv.writer(buf, lineterminator="\r\n")
    names = list(columns)
    writer.writerow([neutralize(n) for n in names])  # labels come from definitions: authored text too
    for row in rows:
        writer.writerow([neutralize(row.get(n, "")) for n in names])
    return buf.getvalue()


# A cell starting with one of these runs as a formula in spreadsheet programs (the full-width forms too:
# some convert them on import). Tab and CR start DDE payloads.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_FORMULA_START = "=+-@\t\r\uff1d\uff0b\uff0d\uff20"


def neutralize(v: str) -> str:
    """A CSV cell (or header) made inert: a leading formula character gets a ``'`` prefix. Plain numbers
    (``-5``, ``+81``) stay as they are: they are values, not formulas."""
    if v and v[0] in _FORMULA_START and not _numeric(v):
        return "'" + v
    return v


def _numeric(v: str) -> bool:
    # A plain decimal number only: float() also reads "-inf", "-nan", "+1_000" and surrounding whitespace,
    # which a spreadsheet would evaluate as a formula.
    return _NUMBER.fullmatch(v) is not None
