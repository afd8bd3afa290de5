"""A version published with a close date reaches the app without a restart: ``publish_draft(closes_at=...,
close_message=...)`` (what the console's publish form calls) → the live library's schedule → the PWA bundle
rebuilt incrementally with ``closes_at`` (UTC) and ``close_message`` in that version's procedure file and its
catalog entry (pwa/js/page-closed.js reads them). Real app, real SQLite file, real build."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import yaml

from procedure_definitions.library import DEFAULT_LIBRARY, load_library
from server.settings import Settings
from testsupport.servers import AppServer

MESSAGE = {"ja": "受付は終了しました。窓口でご相談ください。", "en": "Closed: please ask at the counter.",
           "ja-easy": "うけつけは おわりました。まどぐちで きいて ください。"}


def _text(pid: str) -> str:
    path = next(p for p in DEFAULT_LIBRARY.rglob("*.yaml") if yaml.safe_load(p.read_text())["id"] == "juminhyo-copy")
    d = yaml.safe_load(path.read_text(encoding="utf-8"))
    return yaml.safe_dump({**d, "id": pid, "version": "0.1.0"}, allow_unicode=True, sort_keys=False)


def _served(srv: AppServer, pid: str, timeout: float = 60) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the procedure's compiled file, its catalog entry) from the bundle being served, once it has them."""
    deadline = time.monotonic() + timeout
    while True:
        sw = srv.client().get("/sw.js").text
        paths = json.loads(sw[sw.index("["):sw.index("]") + 1])
        index = srv.client().get(next(p for p in paths if "/data/index." in p)).json()
        if pid in index["procedures"]:
            entry = index["procedures"][pid]
            # A later rebuild may swap the bundle between these reads: then read the new one.
            got = [srv.client().get(entry["versions"][entry["latest"]]), srv.client().get(index["catalog"])]
            if all(r.status_code == 200 for r in got):
                return got[0].json(), got[1].json()["procedures"][pid]
        assert time.monotonic() < deadline, "the PWA bundle was not rebuilt"
        time.sleep(0.2)


def test_a_close_date_published_in_the_console_is_in_the_app_without_restart(tmp_path: Path) -> None:
    from server.definitions.publishing import publish_draft

    settings = Settings(db_path=str(tmp_path / "m.db"), origin="http://localhost:8000")
    with AppServer.create(settings, library=load_library()) as srv:
        c = srv.login("configurator")
        svc = srv.app.state.services
        for pid, closes, message in (("test-closed", "2020-04-01T09:00:00+09:00", MESSAGE),
                                     ("test-open", None, None)):
            d = c.post("/api/drafts", json={"filename": f"{pid}.yaml", "source": _text(pid)}).json()
            assert d["ok"], d["lines"]
            asyncio.run(publish_draft(svc, d["id"], actor=c.account_id,  # type: ignore[attr-defined]
                                      closes_at=closes, close_message=message))
        compiled, entry = _served(srv, "test-closed")
        assert compiled["closes_at"] == "2020-04-01T00:00:00Z"  # UTC, as the app compares it
        assert compiled["close_message"] == MESSAGE and entry["close_message"] == MESSAGE
        assert entry["closes_at"] == "2020-04-01T00:00:00Z"
        # Closed, still live and listed: drafts already started on phones can be sent.
        assert "test-closed" in svc.catalog.library.procedures
        open_compiled, open_entry = _served(srv, "test-open")
        assert "closes_at" not in open_compiled and "closes_at" not in open_entry
        assert "close_message" not in open_compiled
