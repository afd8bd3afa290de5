"""``GET /console/visits/{id}/guide.pdf``: the 受付案内票 of a visit as a PDF, against the real server.

The PDF is read back with poppler (``pdftotext``: the visit's number, the procedure titles and the resident's
family name are text; ``pdftoppm``: page 1 as PNG, saved under test-artifacts/pdf/ to look at)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.server.conftest import answers, make_proc, start_server
from tests.server.test_printing_pdf import ARTIFACTS, assert_refused, audit_entries, needs_poppler, pdftotext
from tests.test_printing_form import IVS_FAMILY
from testsupport.servers import AppServer

KODOMO = {"id": "kodomo", "name": {"ja": "こども課"}}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_server(tmp_path_factory.mktemp("guide"), [
        # Ids of their own: the compiled definitions are cached per (id, version) in the process, which other
        # modules' servers share in one pytest run.
        make_proc(id="guide-copy", title={"ja": "住民票の写しテスト"}, fee={"amount": 300, "per": {"ja": "1通"}, "quantity_field": "copies"},
                  documents=[{"id": "id_document", "label": {"ja": "本人確認書類"}},
                             {"id": "proxy", "label": {"ja": "委任状"}, "required_if": "copies > 2"}]),
        make_proc(id="guide-kodomo", title={"ja": "児童手当テスト"}, department=KODOMO,
                  documents=[{"id": "bank", "label": {"ja": "通帳"}, "required_if": "copies = 1"}])])
    from server.demo import DEMO_RESIDENTS
    from server.registry import SQLiteRegistry

    s.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    yield s
    s.stop()


def _file(counter: httpx.Client, procedure: str, copies: int) -> str:
    r = counter.post("/api/submissions", json={"id": str(uuid.uuid4()), "procedure_id": procedure,
                                               "procedure_version": "1.0.0", "answers": answers(copies=copies),
                                               "on_behalf_of": "R0005"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture(scope="module")
def visit(srv: AppServer) -> dict[str, Any]:
    """A visit of 髙橋 健一 (R0005) at booth 3番 with two applications, one per department."""
    counter = srv.login("counter")
    r = counter.post("/api/visits", json={"id": str(uuid.uuid4()), "resident_id": "R0005", "booth": "3番"})
    assert r.status_code == 201, r.text
    v = dict(r.json())
    s1, s2 = _file(counter, "guide-copy", 3), _file(counter, "guide-kodomo", 1)
    r = counter.post(f"/api/visits/{v['id']}/parts", json={"submission_ids": [s1, s2]})
    assert r.status_code == 200, r.text
    return {**v, "shimin": s1, "kodomo": s2}


@needs_poppler
def test_the_counter_prints_the_guide_of_the_whole_visit(srv: AppServer, visit: dict[str, Any]) -> None:
    counter = srv.login("counter")
    r = counter.get(f"/console/visits/{visit['id']}/guide.pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF-")
    assert r.headers["content-disposition"] == f'inline; filename="guide-{visit["number"]}.pdf"'
    assert r.headers["cache-control"] == "no-store"
    text = pdftotext(r.content)
    assert "受付案内票" in text and visit["number"] in text and "髙橋 健一" in text
    assert "住民票の写しテスト" in text and "児童手当テスト" in text
    # 持ち物 from each application's answers (3 copies: 委任状; 児童手当 with 1 copy: 通帳), the fee and total.
    assert "本人確認書類" in text and "委任状" in text and "通帳" in text
    assert "900円" in text and "合計" in text and "市民課" in text and "こども課" in text
    # Printing is a staff read of personal data: audited once, naming the visit and the applications printed.
    entries = [(s, json.loads(d)) for a, s, d in audit_entries(srv, counter.account_id)  # type: ignore[attr-defined]
               if a == "visit.guide_print"]
    assert entries == [(f"visit:{visit['id']}", {"via": "console", "count": 2,
                                                  "ids": [visit["kodomo"], visit["shimin"]]})]

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTIFACTS / "guide-visit.pdf"
    pdf.write_bytes(r.content)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", str(pdf), str(ARTIFACTS / "guide-visit")],
                   check=True)
    png = ARTIFACTS / "guide-visit.png"
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000  # a page with text on it


@needs_poppler
def test_a_taken_part_names_its_booth_and_a_new_persons_name_prints_as_typed(srv: AppServer) -> None:
    counter = srv.login("counter")
    r = counter.post("/api/visits", json={"id": str(uuid.uuid4()), "person": {"family": IVS_FAMILY, "given": "花子"}})
    assert r.status_code == 201, r.text
    vid = r.json()["id"]
    sid = _file(counter, "guide-copy", 1)
    assert counter.post(f"/api/visits/{vid}/parts", json={"submission_ids": [sid]}).status_code == 200
    assert counter.post(f"/api/visits/{vid}/parts/shimin/take", json={"booth": "7番"}).status_code == 200
    text = pdftotext(counter.get(f"/console/visits/{vid}/guide.pdf").content)
    assert f"{IVS_FAMILY} 花子" in text  # byte for byte, the IVS selector kept in the text layer
    assert "7番" in text and "手続き中" in text and "委任状" not in text and "300円" in text


@needs_poppler
def test_a_reviewer_prints_their_own_departments_lines_only(srv: AppServer, visit: dict[str, Any]) -> None:
    kodomo = srv.login("reviewer", department="kodomo")
    r = kodomo.get(f"/console/visits/{visit['id']}/guide.pdf")
    assert r.status_code == 200, r.text
    text = pdftotext(r.content)
    assert "児童手当テスト" in text and "住民票の写しテスト" not in text and "900円" not in text
    (details,) = [json.loads(d) for a, _, d in audit_entries(srv, kodomo.account_id)  # type: ignore[attr-defined]
                  if a == "visit.guide_print"]
    assert details["ids"] == [visit["kodomo"]]


def test_who_may_not_print_the_guide(srv: AppServer, visit: dict[str, Any]) -> None:
    # A reviewer of a department without a part in the visit: the visit read's 404.
    assert_refused(srv, f"/console/visits/{visit['id']}/guide.pdf", f"/console/visits/{uuid.uuid4()}/guide.pdf",
                   roles=("resident", "configurator", "outreach"), outsider=srv.login("reviewer", department="hoken"))


def test_the_visit_page_links_the_guide(srv: AppServer, visit: dict[str, Any]) -> None:
    page = srv.login("counter").get(f"/console/visits/{visit['id']}")
    assert page.status_code == 200
    assert f'href="/console/visits/{visit["id"]}/guide.pdf"' in page.text and "受付案内票を印刷 (PDF)" in page.text


# A 転入 family's visit: the shipped procedures, each with the scenario that requires the most documents (the
# longest block), alternating waiting / in progress at a booth: the guide's worst realistic case.
_FAMILY_VISIT = ("tennyu", "kokuho-kanyu", "jido-teate", "kokumin-nenkin", "kodomo-iryohi", "inkan-toroku",
                 "juminhyo-copy")


def _guide_pdf(count: int) -> str:
    from procedure_definitions.forms import required_documents
    from procedure_definitions.library import load_library
    from server.printing.guide import GuideLine, GuideVisit, guide_html
    from server.printing.pdf import html_to_pdf

    lib = load_library()
    lines = []
    for n, pid in enumerate(_FAMILY_VISIT[:count], start=1):
        proc = lib.latest(pid)
        assert proc is not None and proc.scenarios
        answers = dict(max(proc.scenarios, key=lambda s: len(required_documents(proc, dict(s.answers)))).answers)
        taken = n % 2 == 0
        lines.append(GuideLine(proc, answers, f"2026-{n:06d}", proc.department.name.ja,
                               "in_progress" if taken else "waiting", booth="12番" if taken else None))
    visit = GuideVisit(number="A-006", resident_name={"family": IVS_FAMILY, "given": "大輔"},
                       opened_at="2026-12-06T23:30:00+00:00", booth="3")
    pdf = html_to_pdf(guide_html(visit, lines, printed_at="2026-12-07T00:05:00+00:00"))
    (ARTIFACTS / f"guide-{count}.pdf").parent.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"guide-{count}.pdf").write_bytes(pdf)
    return pdftotext(pdf)


@needs_poppler
@pytest.mark.parametrize(("count", "pages"), [(2, 1), (4, 1), (7, 2)])
def test_the_guide_of_a_family_visit_fits_its_pages(count: int, pages: int) -> None:
    """Up to four procedures on one A4 page, seven on two (pdftotext ends each page with a form feed), every
    procedure's block whole, the closing words and the time printed on the last page."""
    text = _guide_pdf(count)
    assert text.count("\f") == pages, text
    last = text.split("\f")[-2]
    assert "お呼びします" in last and "印刷日時 2026-12-07 09:05" in last
    assert text.count("受付番号 2026-0000") == count


@needs_poppler
def test_the_guide_says_visit_number_and_receipt_number_as_the_console_and_the_form_do() -> None:
    """The big number is the visit's (来庁番号, as the console's 「来庁 A-006」); each application's number is its
    受付番号, the word the 申請書 and the console's queue use for it. 申請番号 is no word of the counter's."""
    text = _guide_pdf(2)
    flat = " ".join(text.split())
    assert "来庁番号 A-006" in flat and "受付番号 2026-000001" in flat and "受付番号 2026-000002" in flat
    assert "受付番号 A-006" not in flat and "申請番号" not in flat
