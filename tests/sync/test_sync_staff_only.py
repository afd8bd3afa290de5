"""A resident's ``submission.create`` answering a staff_only field is rejected over sync with the reason that
matches ``POST /api/submissions``' problem slug (``staff_only_field`` / ``staff-only-field``): the one filing
policy. Counter staff filing the same answers over sync are applied. Real server process, shipped library
(juminhyo-copy's 窓口記入欄 is staff_only)."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from sync.messages import SubmissionPayload
from testsupport.faults import valid_answers


def test_staff_only_answers_are_rejected_from_a_resident_and_applied_from_staff(env: Any) -> None:
    answers = {**valid_answers(), "counter_memo": "住民が書いたメモ", "id_checked": "driving_licence"}
    _, s = env.account("resident")
    d = env.device(s)
    sid = str(uuid.uuid4())
    m = d.submit(sid, SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="1.1.0", answers=answers))
    clean = d.submit(str(uuid.uuid4()), SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="1.1.0",
                                                          answers=valid_answers()))
    assert d.sync()
    receipt = d.receipts[m.mutation_id]
    assert (receipt.status, receipt.reason) == ("rejected", "staff_only_field")
    assert receipt.message == "窓口の職員が記入する項目は送信できません"
    assert sorted(e["path"] for e in receipt.result["errors"]) == ["counter_memo", "id_checked"]
    assert d.receipts[clean.mutation_id].status == "applied"  # required staff-only fields: never the resident's
    with sqlite3.connect(env.db, timeout=30) as c:
        assert c.execute("SELECT COUNT(*) FROM submissions WHERE id = ?", (sid,)).fetchone() == (0,)
    _, staff = env.account("counter")
    sd = env.device(staff)
    ok = sd.submit(str(uuid.uuid4()), SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="1.1.0",
                                                        answers=answers))
    assert sd.sync()
    assert sd.receipts[ok.mutation_id].status == "applied"


def test_a_residents_draft_never_holds_a_staff_only_value(env: Any) -> None:
    """Drafts are the resident's own: a draft.patch naming a staff_only field of the draft's procedure version
    (in the same patch or stored) is rejected staff_only_field (the rule filing uses), nothing written; the
    resident's other draft edits and a counter worker's draft with the same keys are applied."""
    _, s = env.account("resident")
    d = env.device(s)
    draft = str(uuid.uuid4())
    first = d.patch("draft", draft, {"procedure_id": "juminhyo-copy", "procedure_version": "1.1.0",
                                     "counter_memo": "住民が書いたメモ"})
    assert d.sync()
    r = d.receipts[first.mutation_id]
    assert (r.status, r.reason) == ("rejected", "staff_only_field"), r
    assert [e["path"] for e in r.result["errors"]] == ["counter_memo"]
    ok = d.patch("draft", draft, {"procedure_id": "juminhyo-copy", "procedure_version": "1.1.0", "copies": 1})
    assert d.sync() and d.receipts[ok.mutation_id].status == "applied"
    later = d.patch("draft", draft, {"id_checked": "driving_licence"})  # the version comes from the stored draft
    assert d.sync()
    assert (d.receipts[later.mutation_id].status, d.receipts[later.mutation_id].reason) == ("rejected", "staff_only_field")
    with sqlite3.connect(env.db, timeout=30) as c:
        (data,) = c.execute("SELECT data FROM sync_records WHERE type = 'draft' AND id = ?", (draft,)).fetchone()
    assert "counter_memo" not in data and "id_checked" not in data
    _, staff = env.account("counter")
    sd = env.device(staff)
    mine = sd.patch("draft", str(uuid.uuid4()), {"procedure_id": "juminhyo-copy", "procedure_version": "1.1.0",
                                                 "counter_memo": "窓口メモ"})
    assert sd.sync() and sd.receipts[mine.mutation_id].status == "applied"
