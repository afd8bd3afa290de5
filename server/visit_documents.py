"""The documents (持ち物) of a visit's applications: which each requires, by the one rule, and which the counter saw.

An application requires the documents its definition declares whose ``required_if`` holds on its answers as
validated (``procedure_definitions.forms.required_documents`` over ``server.display.form_values``, staff-only
fields kept): the interview's 「窓口で確認した書類」 ticks (on the answers it will file), the visit page's
確認済み / 未確認 and the 受付案内票's 「お持ちください」 are that one list. What was seen is stored per application
(``server.storage.visits.mark_seen_in``: at the interview's finish, in its write job, or marked later by a
department clerk, ``server.visits.mark_document_seen``); a document id outside the list is never stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from procedure_definitions.forms import required_documents
from procedure_definitions.model import Document, Procedure
from server.display import form_values
from server.storage.submissions import SubmissionRecord, load_submission
from server.storage.visits import PartRecord, SeenDocument, VisitRecord

if TYPE_CHECKING:
    from server.services import Services

__all__ = ["Application", "declared_ids", "required_docs", "seen_of", "visit_applications"]


def required_docs(proc: Procedure, answers: Mapping[str, Any]) -> list[Document]:
    """The documents ``proc`` requires on these answers (as filed or to file), in definition order."""
    ids = set(required_documents(proc, form_values(proc, answers, filer="staff")))
    return [d for d in proc.documents if d.id in ids]


def declared_ids(proc: Procedure, posted: Iterable[str]) -> list[str]:
    """The posted document ids ``proc`` declares, each once, in definition order (a forged one dropped)."""
    wanted = set(posted)
    return [d.id for d in proc.documents if d.id in wanted]


def seen_of(visit: VisitRecord) -> dict[str, dict[str, SeenDocument]]:
    """The documents seen of a visit (``load_visit``'s), by application and document id."""
    out: dict[str, dict[str, SeenDocument]] = {}
    for d in visit.documents:
        out.setdefault(d.submission_id, {})[d.document_id] = d
    return out


@dataclass(frozen=True)
class Application:
    """One application of a visit as read for a page or the 受付案内票: its part, record, definition, and the
    documents it requires, each with when it was seen (None: not yet)."""

    part: PartRecord
    record: SubmissionRecord
    procedure: Procedure
    documents: list[tuple[Document, SeenDocument | None]]

    @property
    def seen_ids(self) -> frozenset[str]:
        return frozenset(d.id for d, seen in self.documents if seen is not None)


async def visit_applications(svc: Services, visit: VisitRecord, *, documents: bool = True) -> list[Application]:
    """The applications of ``visit``'s parts as the caller's view holds them (``server.visits``: a reviewer's
    own department's only), read in one go, with their definitions and documents (``documents=False``: none,
    for a reader that shows none, such as the 申請書 print: no required_if evaluated for nothing). The caller
    checked who may read the visit and audits the read."""
    sids = [(part, sid) for part in visit.parts for sid in part.submissions]
    recs = await svc.db.read(lambda c: [load_submission(c, sid, history=False) for _, sid in sids])
    seen = seen_of(visit)
    out = []
    for (part, sid), rec in zip(sids, recs, strict=True):
        proc = (await svc.catalog.get(rec.procedure_id, rec.procedure_version))[0] if rec is not None else None
        if rec is None or proc is None:  # the catalog keeps every version filed: not expected
            continue
        mine = seen.get(sid, {})
        out.append(Application(part=part, record=rec, procedure=proc,
                               documents=[(d, mine.get(d.id)) for d in required_docs(proc, rec.answers)]
                               if documents else []))
    return out
