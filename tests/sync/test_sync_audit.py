"""The ``sync.push`` audit entry names each version a push wrote as ``type:id@version`` (docs/sync.md).
Real server process and SQLite file."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any


def test_a_push_is_audited_with_the_versions_it_wrote(env: Any) -> None:
    actor, s = env.account("counter")
    d = env.device(s)
    hid = str(uuid.uuid4())
    d.patch("household", hid, {"head_name": {"family": "山田", "given": "太郎"}})
    assert d.sync()
    d.patch("household", hid, {"head_name": {"family": "山田", "given": "太一"}})
    d.patch("household", hid, {"address_notes": "二階"})
    assert d.sync()
    with sqlite3.connect(env.db, timeout=30) as c:
        entries = [json.loads(r[0]) for r in c.execute(
            "SELECT details FROM audit_log WHERE actor = ? AND action = 'sync.push' ORDER BY seq", (actor,))]
        versions = [r[0] for r in c.execute(
            "SELECT version FROM sync_record_versions WHERE id = ? ORDER BY version", (hid,))]
    written = [f"household:{hid}@{v}" for v in versions]
    assert len(written) == 3
    assert [e["records"] for e in entries] == [written[:1], written[1:]]
    assert [e["count"] for e in entries] == [1, 2]
