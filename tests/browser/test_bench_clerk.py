"""The scripted clerk of bench/bench_clerk.py, once: a family of four moving in (provisional registry records,
their 転出証明書情報 imported by ``madoguchi registry import-transfer``) served by keyboard only, from 来庁受付 to
the printed 申請書 (every application's in the visit's one PDF). It must reach the filed state, print a PDF per application, and type no value the registry
or the transfer data already held — found by comparing what was typed with those records — beyond the open
gaps bench_clerk.OPEN_GAPS names (each with why). The clerk types the family's real facts into any required
box left empty, so an interview that stopped prefilling a name, an address or a mover fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.bench_clerk import OPEN_GAPS, SHOTS, load_family, serve_family
from bench.bench_resident import today_jst
from procedure_definitions.library import load_library
from tests.server.test_printing_pdf import pdftotext

from .conftest import demo_server


def test_the_scripted_clerk_files_a_family_move_in_typing_nothing_the_records_knew(browser: Any, tmp_path: Path) -> None:
    server = demo_server(tmp_path / "madoguchi.db")
    server.start()
    try:
        known = load_family(server, tmp_path, today_jst())
        v = serve_family(browser, server, known)
    finally:
        server.stop()
    assert v.filed, v.outcome
    # The life event's answers (two children, a 住民票 copy, employee insurance) give these four, filed at once.
    assert v.procedures == ["jido-teate", "juminhyo-copy", "kodomo-iryohi", "tennyu"]
    # Every application's 申請書 in the visit's one PDF and the 受付案内票, each reached by keyboard.
    assert [p for p, size, _ in v.forms if size > 0] == ["every application"]
    text = pdftotext((SHOTS / "forms.pdf").read_bytes())
    titles = {p.id: p.title.ja for p in load_library().latest_procedures()}
    assert all(titles[p] in text for p in v.procedures), text[:2000]
    assert v.guide is not None and v.guide[0] > 0
    assert [f for f in v.known_fields if f not in OPEN_GAPS] == []
    # The comparison sees what it should: whatever was typed into an open gap's field is a value the records hold.
    gap_typing = [f"{e.name} = {e.value}" for e in v.entries if e.how == "typed" and e.field in OPEN_GAPS]
    assert all(x in v.known_typed for x in gap_typing)
    assert v.keys.tab > 0 and v.keys.enter > 0 and len(v.screens) >= 5
