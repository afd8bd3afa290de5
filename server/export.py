"""Exports of submissions for the core systems: JSON Lines (lossless) and CSV (flattened).

CSV columns: the fixed receipt columns, then one column per answer leaf. Structured values are flattened
with dotted paths (``name.family``, ``address.city``, ``members.1.name.given``); multiple choices are
joined with ``;``; attachments become their sha256 list. A per-procedure mapping (``{procedure_id:
{column: dotted.path}}``) fixes the columns a core system expects instead.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from server.storage.submissions import SubmissionRecord, iter_submissions

__all__ = ["BASE_COLUMNS", "flatten", "lookup", "to_csv", "to_jsonl"]

BASE_COLUMNS = ("id", "receipt_number", "procedure_id", "procedure_version", "status", "received_at", "flags")

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


def lookup(answers: Any, path: str) -> str:
    cur = answers
    for part in path.split("."):
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit() and 0 < int(part) <= len(cur):
            cur = cur[int(part) - 1]
        else:
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


def to_jsonl(conn: sqlite3.Connection, *, status: str | None = None, procedure: str | None = None) -> Iterator[str]:
    for rec in iter_submissions(conn, status=status, procedure=procedure):
        yield _record_json(rec).decode() + "\n"


def to_csv(conn: sqlite3.Connection, *, status: str | None = None, procedure: str | None = None,
           bom: bool = False, mapping: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The whole CSV as text (two passes: the column set is known only after reading every row)."""
    rows: list[dict[str, str]] = []
    columns: dict[str, None] = dict.fromkeys(BASE_COLUMNS)
    for rec in iter_submissions(conn, status=status, procedure=procedure):
        row = {"id": rec.id, "receipt_number": rec.receipt_number, "procedure_id": rec.procedure_id,
               "procedure_version": rec.procedure_version, "status": rec.status, "received_at": rec.received_at,
               "flags": ";".join(rec.flags)}
        fields = (mapping or {}).get(rec.procedure_id)
        if fields:
            row.update({col: lookup(rec.answers, path) for col, path in fields.items()})
        else:
            row.update(flatten(rec.answers))
        columns.update(dict.fromkeys(row))
        rows.append(row)
    buf = io.StringIO()
    if bom:
        buf.write("\ufeff")  # Excel on Windows needs it to read UTF-8
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _neutralize(v) for k, v in row.items()})
    return buf.getvalue()


def _neutralize(v: str) -> str:
    # CSV injection: a cell starting with = + - @ runs as a formula in Excel. Numbers and dates stay as is.
    if v and v[0] in "=+-@\t\r" and not _numeric(v):
        return "'" + v
    return v


def _numeric(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True
