"""The 受付案内票 of one visit as HTML: pure (the visit's applications with their definitions -> HTML).

The paper the counter hands the resident at the start of a visit (or again later, when parts moved on): the
visit's number large (来庁番号 「A-012」: what they are called by; each application's own number is its 受付番号, as on the 申請書), their name as stored (byte for byte, an IVS kept),
the visit's date and time in JST, and one block per application: the procedure's title, who handles it (the
booth where a department's clerk took it, else the department's name; waiting / in progress / done), the
持ち物 the definition requires on this application's answers (``required_if`` evaluated by the one form logic,
``procedure_definitions.forms.required_documents``) and not seen yet, the fee, and what happens next. Then the
fees' total.

持ち物 still missing are listed as 「お持ちください」 (bring or show them at the counter): those the application
requires (``server.visit_documents.required_docs``, the one list the interview's ticks and the visit page use)
that the counter has not seen yet (``GuideLine.seen``: ticked in the interview or marked by the department,
``server.storage.visits`` ``visit_documents``); those seen are named on one line 「確認済み：…」. A part that is
done lists none: its department completed it, with whatever it needed. ``server.printing.pdf`` turns the HTML
into the PDF.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from procedure_definitions.model import Procedure
from server.display import booth_text, form_values, jst, name_text, wareki_text
from server.visit_documents import required_docs

from .form import shipped_template
from .pdf import FONT_FAMILY

__all__ = ["GuideLine", "GuideVisit", "fee_of", "guide_context", "guide_html"]


@dataclass(frozen=True)
class GuideVisit:
    """What the visit adds: its number, the resident's name (``{family, given}``, as stored, or 「姓 名」 as
    ``server.display.arrival_name`` gives a new arrival's), when it opened (stored UTC) and its booth."""

    number: str
    resident_name: Mapping[str, str] | str | None
    opened_at: str
    booth: str | None = None


@dataclass(frozen=True)
class GuideLine:
    """One application of the visit: its definition and stored answers, and its department part's state
    (``waiting`` / ``in_progress`` / ``done``), the booth where the part was taken, the department's name and
    the ids of the documents the counter has seen."""

    procedure: Procedure
    answers: Mapping[str, Any]
    receipt_number: str
    department: str
    state: str
    booth: str | None = None
    seen: frozenset[str] = frozenset()


# The part's state as the resident reads it (the console's 待ち/対応中/完了 are the clerks' words).
_STATE = {"waiting": "受付済み・お待ちください", "in_progress": "手続き中", "done": "完了"}


def fee_of(proc: Procedure, values: Mapping[str, Any]) -> tuple[int, float] | None:
    """The fee of an application as (yen, quantity): the amount times the number in the fee's
    ``quantity_field`` (1 when it has none or no usable number: formreview.js ``feeAndDocs`` the same)."""
    if proc.fee is None:
        return None
    q: Any = values.get(proc.fee.quantity_field, 1) if proc.fee.quantity_field else 1
    n = q if isinstance(q, int | float) and not isinstance(q, bool) and math.isfinite(q) else 1
    return round(proc.fee.amount * n), n


def _next(line: GuideLine, booth: str | None) -> str:
    """What happens next for this application, in one short line."""
    if line.state == "done":
        return "この手続きは終わりました。"
    at = booth_text(booth)  # 「3番」 for a booth typed as 3 (docs/counter.md)
    if line.state == "in_progress":
        return f"{line.department}の職員が{booth_text(line.booth) or at or '窓口'}で手続きをしています。"
    if at:
        return f"{line.department}の職員が{at}に伺います。お席でお待ちください。"
    return f"{line.department}の職員がお呼びします。お待ちください。"


def guide_context(visit: GuideVisit, lines: Sequence[GuideLine], *, printed_at: str) -> dict[str, Any]:
    """The template's variables: ``number``, ``name`` (「姓 名」 as stored), ``opened`` (JST) and
    ``opened_wareki``, ``printed`` (JST), ``items`` (per application: ``title``, ``where``, ``state``,
    ``done``, ``receipt_number``, ``documents`` (labels of those still missing; none when done), ``seen``
(labels of those the counter saw), ``fee`` (yen or None), ``fee_text``,
    ``next``), ``total`` (yen) and ``font``."""
    items = []
    total = 0
    for line in lines:
        proc = line.procedure
        values = form_values(proc, line.answers, filer="staff")  # as validated: calculations in, hidden out
        docs: list[str] = []
        seen: list[str] = []
        if line.state != "done":
            for d in required_docs(proc, line.answers):
                (seen if d.id in line.seen else docs).append(d.label.ja)
        fee = fee_of(proc, values)
        fee_text = ""
        if fee is not None and proc.fee is not None:
            yen, n = fee
            total += yen
            per = (f"（{proc.fee.per.ja} {proc.fee.amount:,}円 × {n:g}）" if proc.fee.per and proc.fee.quantity_field
                   else "")
            fee_text = f"{yen:,}円{per}"
        where = booth_text(line.booth) if line.state == "in_progress" and line.booth else line.department
        items.append({"title": proc.title.ja, "where": where, "department": line.department,
                      "state": _STATE.get(line.state, line.state), "done": line.state == "done",
                      "receipt_number": line.receipt_number,
                      "documents": docs, "seen": seen, "fee": fee[0] if fee else None, "fee_text": fee_text,
                      "next": _next(line, visit.booth)})
    opened = jst(visit.opened_at)
    return {"number": visit.number, "name": name_text(visit.resident_name) if visit.resident_name else "",
            "opened": opened, "opened_wareki": f"{wareki_text(opened[:10])} {opened[11:]}".strip(),
            "printed": jst(printed_at), "booth": booth_text(visit.booth), "items": items, "total": total,
            "font": FONT_FAMILY}


def guide_html(visit: GuideVisit, lines: Sequence[GuideLine], *, printed_at: str) -> str:
    """The 受付案内票 as HTML (A4, large type, one font: ``templates/guide.html``)."""
    return shipped_template("guide.html").render(**guide_context(visit, lines, printed_at=printed_at))
