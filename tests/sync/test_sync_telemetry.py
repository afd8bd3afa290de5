"""Telemetry inside a ``submission.create`` follows the one filing policy: dropped when bad, never failing the
submission, exactly as ``POST /api/submissions`` (tests/server/test_filing_scopes.py). Real server process."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from sync.messages import SubmissionPayload
from tests.server.test_filing_scopes import BAD_TELEMETRY
from testsupport.faults import valid_answers


def test_submission_over_sync_drops_bad_telemetry_as_the_api_does(env: Any) -> None:
    _, s = env.account("resident")
    d = env.device(s)
    # The same bodies as the API test, on a procedure of this server: bad ones dropped, the filing applied.
    bad = [{**t, "procedure_id": "juminhyo-copy"} if isinstance(t, dict) and t.get("procedure_id") == "test-proc"
           else t for t in BAD_TELEMETRY]
    sent = [d.submit(str(uuid.uuid4()), SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="1.1.0",
                                                          answers=valid_answers(), telemetry=t)) for t in bad]
    assert d.sync()
    assert [d.receipts[m.mutation_id].status for m in sent] == ["applied"] * len(sent)
    with sqlite3.connect(env.db, timeout=30) as c:
        assert c.execute("SELECT COUNT(*) FROM telemetry WHERE fields_typed = 41").fetchone() == (0,)
