"""A resident's part of a two-person procedure (婚姻届) sent over sync, as the PWA queues it offline: applied,
held ``awaiting_partner`` (the receipt says so), sent exactly once; the partner's answers in the first part are
rejected with the reason matching ``POST /api/submissions``' (``invalid_answers``, code ``other_party``): the
one filing policy. Real server process, shipped library."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from procedure_definitions.library import load_library
from procedure_definitions.parties import part_field_ids
from sync.messages import SubmissionPayload


def test_first_part_over_sync_is_held_once(env: Any) -> None:
    konin = load_library().latest("konin")
    assert konin is not None
    theirs = part_field_ids(konin, "partner")
    whole = konin.scenarios[0].answers
    first = {k: v for k, v in whole.items() if k not in theirs}
    _, s = env.account("resident")
    d = env.device(s)
    sid = str(uuid.uuid4())
    m = d.submit(sid, SubmissionPayload(procedure_id="konin", procedure_version=konin.version, answers=first))
    typed = d.submit(str(uuid.uuid4()), SubmissionPayload(procedure_id="konin", procedure_version=konin.version,
                                                          answers=whole))
    assert d.sync()
    receipt = d.receipts[m.mutation_id]
    assert receipt.status == "applied" and receipt.result["status"] == "awaiting_partner"
    bad = d.receipts[typed.mutation_id]
    assert (bad.status, bad.reason) == ("rejected", "invalid_answers")
    assert {e["code"] for e in bad.result["errors"]} == {"other_party"}
    assert d.sync()  # again: nothing new is filed
    with sqlite3.connect(env.db, timeout=30) as c:
        assert c.execute("SELECT status FROM submissions WHERE id = ?", (sid,)).fetchall() == [("awaiting_partner",)]
        assert c.execute("SELECT party, state FROM submission_parties WHERE submission_id = ?",
                         (sid,)).fetchall() == [("partner", "waiting")]
