"""The ``prefill_corrected`` flag over sync: ``submission.create`` is decided by the one filing policy, as
``POST /api/submissions`` (tests/server/test_household.py). Real server process, real SQLite file."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from typing import Any

import msgspec

from procedure_definitions.library import load_library
from server.demo import DEMO_RESIDENTS
from server.registry import SQLiteRegistry
from sync.messages import SubmissionPayload
from testsupport.faults import valid_answers


def _bound_resident(env: Any, resident_id: str) -> str:
    account_id, session = env.account("resident")
    with sqlite3.connect(env.db, timeout=30) as c:
        SQLiteRegistry.upsert(c, DEMO_RESIDENTS)
        c.execute("INSERT INTO identity_bindings (account_id, resident_id, bound_by, bound_at) VALUES (?, ?, 'test', ?)",
                  (account_id, resident_id, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
    return str(session)


def test_a_corrected_member_is_flagged_over_sync_too(env: Any) -> None:
    session = _bound_resident(env, "R0001")
    profile = env.http(session)._send("GET", "/api/me/profile").json()["profile"]
    proc = load_library().get("tenkyo", "1.2.0")
    assert proc is not None
    answers = valid_answers("tenkyo", "1.2.0")
    for s in proc.sections:  # every prefilled value as the registry has it
        for f in s.fields:
            if f.prefill and f.prefill in profile and not getattr(f, "prefill_map", None):
                answers[f.id] = profile[f.prefill]
    me = profile["household_members"][0]
    item = {"mover_name": me["name"], "mover_kana": me["name_kana"], "mover_birth_date": me["birth_date"],
            "mover_sex": me["sex"], "mover_relationship": me["relationship_to_head"]}
    d = env.device(session)
    same_id, changed_id = str(uuid.uuid4()), str(uuid.uuid4())
    same = d.submit(same_id, SubmissionPayload(procedure_id="tenkyo", procedure_version="1.2.0",
                                               answers={**answers, "movers": [item]}))
    changed = d.submit(changed_id, SubmissionPayload(
        procedure_id="tenkyo", procedure_version="1.2.0",
        answers={**answers, "movers": [{**item, "mover_birth_date": "1980-04-13"}]}))
    assert d.sync()
    assert [d.receipts[m.mutation_id].status for m in (same, changed)] == ["applied", "applied"]
    with sqlite3.connect(env.db, timeout=30) as c:
        flags = {sid: msgspec.json.decode(f) for sid, f in c.execute("SELECT id, flags FROM submissions")}
    assert "prefill_corrected" not in flags[same_id]
    assert "prefill_corrected" in flags[changed_id]
