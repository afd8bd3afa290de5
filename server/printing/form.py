"""The 申請書 of one submission as HTML: pure (definition, answers, submission metadata -> HTML).

What it prints: the procedure's title and department, the 受付番号 and submission id, the date received in
JST (和暦 too), every answered field in form order with its label and readable value (``server.display``, the
one place a stored answer becomes text: choice labels, 「姓 名」 byte for byte, 〒 addresses, dates), each
group as a table (one row per item), and the signature box(es) the procedure's ``signature`` rule asks for
(docs/procedure-format.md "Signature"). ``server.printing.pdf`` turns the HTML into the PDF.

Two copies (docs/api.md): the **resident's** (default) is the paper the resident checks and signs, without
the staff-only fields (窓口メモ, 本人確認書類の確認: the resident never saw or wrote them, and an internal note
is not theirs to take home); the **staff** copy, for the department's file, adds them marked 「職員記入」.
Both are printed from the staff console only.

A city that must keep its own 様式 ships a jinja2 template per procedure, ``<procedure id>.html`` in its
layouts folder (``Settings.print_layouts_dir``, default ``print-layouts/`` next to the database); it gets the
same variables as the shipped ``templates/form.html`` (see :func:`form_context`) and runs sandboxed and
autoescaped, looked up by the procedure id only (no path from a request reaches the loader).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from procedure_definitions.forms import staff_only_ids
from procedure_definitions.model import SIGNATURE_LABELS, NameField, Procedure
from server.display import AnswerRow, AnswerSection, answer_sections, form_values, jst, name_text, wareki_text

from .pdf import FONT_FAMILY, PrintingUnavailable

__all__ = ["SIGNATURE_INSTRUCTIONS", "Copy", "FormMeta", "form_context", "form_html", "group_table", "layout_path",
           "shipped_template"]

Copy = Literal["resident", "staff"]

# What the resident is asked to do in each signature box (the rule's label is printed beside it).
SIGNATURE_INSTRUCTIONS: dict[str, str] = {
    "name_only": "記名のみで届け出できます。署名・押印は不要です。",
    "autograph": "ご本人が自署してください。",
    "autograph_or_seal": "ご本人が自署するか、記名のうえ押印してください。",
    "seal_optional": "ご本人が署名してください。押印は任意です。",
}
_SEAL = {"autograph_or_seal": "印", "seal_optional": "印"}
_SEAL_NOTE = {"seal_optional": "（任意）"}

_HERE = Path(__file__).parent
_ID = re.compile(r"[a-z0-9][a-z0-9-]*\Z")  # a procedure id (PD106): the only name a layout is looked up by


@dataclass(frozen=True)
class FormMeta:
    """What the submission adds to the definition and answers: its ids and when it was received."""

    submission_id: str
    receipt_number: str
    received_at: str  # stored UTC ISO timestamp


def group_table(row: AnswerRow) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """A group's items as a table: the column labels (every label any item answered, in form order) and one
    (item label, cells) per item, a cell empty where the item left that field empty."""
    columns: list[str] = []
    for _, rows in row.items:
        for r in rows:
            if r.label not in columns:
                columns.append(r.label)
    table = []
    for item_label, rows in row.items:
        cells = {r.label: r.text if not r.items else "／".join(
            "、".join(f"{x.label} {x.text}" for x in sub) for _, sub in r.items) for r in rows}
        table.append((item_label, [cells.get(c, "") for c in columns]))
    return columns, table


def _without_staff(sections: list[AnswerSection]) -> list[AnswerSection]:
    out = []
    for s in sections:
        rows = [r for r in s.rows if not r.staff_only]
        if rows:
            out.append(AnswerSection(s.title, rows))
    return out


def _signer_name(proc: Procedure, values: Mapping[str, Any]) -> str:
    """The name a 記名 prints: the form's first answered top-level name field (the filer's, in every shipped
    procedure: 届出人・請求者・申請者 come first)."""
    for s in proc.sections:
        for f in s.fields:
            if isinstance(f, NameField) and values.get(f.id):
                return name_text(values[f.id])
    return ""


def form_context(proc: Procedure, answers: Mapping[str, Any], meta: FormMeta, *,
                 copy: Copy = "resident") -> dict[str, Any]:
    """The variables of a form template (the shipped one and a city's own):

    ``title``, ``department``, ``procedure_id``, ``version``; ``submission`` (``id``, ``receipt_number``,
    ``received``: JST ``2026-12-07 14:05``, ``received_wareki``: ``令和8年12月7日 14:05``); ``sections``
    (title and rows in form order: ``label``, ``text``, ``staff_only``; a group row has ``items`` instead,
    printed with ``group_table(row)``); ``values`` (field id -> display text of every answered top-level
    field, to place fields on a city's own 様式); ``signature`` (``rule``, ``label`` 記名のみ/自署/…,
    ``instruction``, ``name``: the printed name for 記名, ``seal``: the seal mark or empty, ``seal_note``:
    （任意） when the seal is optional, ``boxes``: who
    signs: the filer, then each other party of a two-person procedure); ``copy`` (``resident``/``staff``);
    ``font`` (the font family every template must use)."""
    values = form_values(proc, answers, filer="staff")  # as validated: calculations in, hidden fields out
    staff = staff_only_ids(proc)
    sections = answer_sections(proc, values, staff)
    if copy != "staff":
        sections = _without_staff(sections)
    shown = {r.field_id: r.text for s in sections for r in s.rows}
    received = jst(meta.received_at)
    rule = proc.signature
    return {
        "title": proc.title.ja, "department": proc.department.name.ja, "procedure_id": proc.id,
        "version": proc.version,
        "submission": {"id": meta.submission_id, "receipt_number": meta.receipt_number, "received": received,
                       "received_wareki": f"{wareki_text(received[:10])} {received[11:]}".strip()},
        "sections": sections, "values": shown, "copy": copy, "font": FONT_FAMILY,
        "signature": {"rule": rule, "label": SIGNATURE_LABELS[rule], "instruction": SIGNATURE_INSTRUCTIONS[rule],
                      "name": _signer_name(proc, values) if rule == "name_only" else "",
                      "seal": _SEAL.get(rule, ""), "seal_note": _SEAL_NOTE.get(rule, ""),
                      "boxes": ["届出人・申請者", *(p.label.ja for p in proc.parties)]},
    }


def _env(loader: jinja2.BaseLoader, *, sandboxed: bool) -> jinja2.Environment:
    cls = ImmutableSandboxedEnvironment if sandboxed else jinja2.Environment
    env = cls(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,  # answers render inert
              trim_blocks=True, lstrip_blocks=True)
    env.globals["group_table"] = group_table
    return env


_shipped = _env(jinja2.FileSystemLoader(_HERE / "templates"), sandboxed=False)


def shipped_template(name: str) -> jinja2.Template:
    """One of the shipped templates (``templates/``: the 申請書's ``form.html``, the visit's ``guide.html``)."""
    return _shipped.get_template(name)


@lru_cache(maxsize=8)
def _city_env(layouts_dir: str) -> jinja2.Environment:
    # A city's templates are configuration, not code: sandboxed (no attribute escapes to Python internals).
    return _env(jinja2.FileSystemLoader(layouts_dir), sandboxed=True)


def layout_path(layouts_dir: str | Path | None, procedure_id: str) -> Path | None:
    """The city's own template for ``procedure_id`` if there is one (only a valid id names a file)."""
    if not layouts_dir or not _ID.match(procedure_id):
        return None
    path = Path(layouts_dir) / f"{procedure_id}.html"
    return path if path.is_file() else None


def form_html(proc: Procedure, answers: Mapping[str, Any], meta: FormMeta, *, copy: Copy = "resident",
              layouts_dir: str | Path | None = None) -> str:
    """The 申請書 as HTML: the city's layout for this procedure when ``layouts_dir`` has one, else the shipped
    template. A city's layout that fails (syntax, an unknown variable, what the sandbox refuses) raises
    :class:`~server.printing.pdf.PrintingUnavailable` naming the file and line (the route's 503)."""
    ctx = form_context(proc, answers, meta, copy=copy)
    path = layout_path(layouts_dir, proc.id)
    if path is not None:
        try:
            return _city_env(str(layouts_dir)).get_template(path.name).render(**ctx)
        except jinja2.TemplateError as exc:  # the city's file is broken: a configuration error, not a crash
            line = getattr(exc, "lineno", None)
            raise PrintingUnavailable(f"the layout {path} fails{f' at line {line}' if line else ''}: "
                                      f"{exc.__class__.__name__}: {exc}") from exc
    return _shipped.get_template("form.html").render(**ctx)
