"""The booth's queue page and the lobby board page without JavaScript (plain form posts, real server, real
passkey sign-in): the booth remembered, 次の方を呼ぶ, 受付する opening the resident's visit for a bound account or
reception with the ticket (the visit opened there linked), the board's HTML without names."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from procedure_definitions.japan import JST
from server.console.landing import PROCEDURE_HOME
from tests.server.conftest import FakeBuild, Lib, make_proc
from testsupport.booking_rules import open_every_day
from testsupport.servers import AppServer
from testsupport.webauthn import enroll_staff, install_csrf, register_resident

NAME = "来庁 次郎"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    with AppServer.on_file(tmp_path_factory.mktemp("qpages") / "q.db", library=Lib([make_proc()]),
                           build_result=FakeBuild()) as s:
        open_every_day(s.db)  # walk-in tickets are refused on closed days: the tests run any day
        from server.demo import DEMO_RESIDENTS
        from server.registry import SQLiteRegistry

        s.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
        yield s


@pytest.fixture
def clerk(srv: AppServer) -> Iterator[httpx.Client]:
    from server.auth import create_invite

    def clean(c: Any) -> None:
        c.execute("DELETE FROM tickets")
        c.execute("DELETE FROM bookings")
        c.execute("UPDATE visits SET status = 'closed'")
    srv.db.write_sync(clean)
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        install_csrf(c)
        enroll_staff(c, create_invite(srv.db, "窓口 三郎", "counter", None, srv.url))
        yield c


def _form(c: httpx.Client, url: str, **data: str) -> httpx.Response:
    return c.post(url, data={"_csrf_token": c.cookies["madoguchi_csrf"], **data})


def _booking_ticket(srv: AppServer, clerk: httpx.Client, account: str | None) -> dict[str, Any]:
    code = "".join(secrets.choice("23456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(8))
    now = dt.datetime.now(JST)
    srv.db.write_sync(lambda c: c.execute(
        "INSERT INTO bookings (id, code, place, day, start, minutes, status, holder, account_id, name, party,"
        " procedures, departments, created_at, updated_at) VALUES (?, ?, 'honcho', ?, ?, 15, 'booked', 'x', ?, ?, 1,"
        " '[\"test-proc\"]', '[\"shimin\"]', 'x', 'x')",
        (str(uuid.uuid4()), code, now.date().isoformat(), now.strftime("%H:%M"), account, NAME)))
    r = clerk.post("/api/queue/honcho/checkin", json={"code": code})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_the_booth_page_calls_by_form_and_remembers_the_booth(srv: AppServer, clerk: httpx.Client) -> None:
    page = clerk.get("/console/queue")
    assert page.status_code == 200 and "呼び出す窓口番号を選んでください" in page.text
    assert "次の方を呼ぶ" not in page.text  # no booth yet
    page = clerk.get("/console/queue", params={"place": "honcho", "booth": "2"})
    assert ">次の方を呼ぶ</button>" in page.text and "madoguchi_booth" in page.headers["set-cookie"]
    assert "2番窓口" in clerk.get("/console/queue").text  # remembered
    empty = _form(clerk, "/console/queue/call", place="honcho", booth="2")
    assert empty.status_code == 303
    assert "待っている方はいません" in clerk.get(empty.headers["location"]).text
    t = _booking_ticket(srv, clerk, None)
    assert NAME in clerk.get("/console/queue").text  # the booths see the name (audited)
    called = _form(clerk, "/console/queue/call", place="honcho", booth="2")
    assert called.status_code == 303
    page = clerk.get(called.headers["location"])
    assert f"{t['number']} の方をお呼びしました" in page.text and "再呼出" in page.text and "不在" in page.text
    bad = _form(clerk, "/console/queue/call", place="honcho", booth="99")
    assert bad.status_code == 422 and "窓口番号は設定にありません" in bad.text


def test_serving_a_bound_residents_booking_opens_their_visit(srv: AppServer, clerk: httpx.Client) -> None:
    with httpx.Client(base_url=srv.url, timeout=10) as phone:
        account, _ = register_resident(phone, srv.url, "予約 住民")
    srv.db.write_sync(lambda c: c.execute(
        "INSERT INTO identity_bindings (account_id, resident_id, bound_by, bound_at) VALUES (?, 'R0001', 'x', 'x')",
        (account["id"],)))
    t = _booking_ticket(srv, clerk, account["id"])
    _form(clerk, "/console/queue/call", place="honcho", booth="1")
    tid = srv.db.read_sync(lambda c: c.execute("SELECT id FROM tickets WHERE number = ?", (t["number"],)).fetchone()[0])
    r = _form(clerk, f"/console/queue/tickets/{tid}/serve", place="honcho", booth="1")
    assert r.status_code == 303 and r.headers["location"].startswith("/console/visits/")
    vid = r.headers["location"].rsplit("/", 1)[-1]
    row = srv.db.read_sync(lambda c: c.execute(
        "SELECT v.resident_id, v.booking_ref, v.booth, t.visit_id, t.status FROM visits v JOIN tickets t"
        " ON t.visit_id = v.id WHERE v.id = ?", (vid,)).fetchone())
    booking = srv.db.read_sync(lambda c: c.execute("SELECT booking_id FROM tickets WHERE id = ?", (tid,)).fetchone()[0])
    assert tuple(row) == ("R0001", booking, "1", vid, "serving")
    # The visit's page names the ticket next to its own number and the booking by its code, never its id.
    code = srv.db.read_sync(lambda c: c.execute("SELECT code FROM bookings WHERE id = ?", (booking,)).fetchone()[0])
    page = clerk.get(f"/console/visits/{vid}").text
    assert f"整理券 {t['number']}" in page
    assert f"<dt>予約番号</dt><dd>{code[:4]}-{code[4:]}</dd>" in page and booking not in page


def test_a_stale_serve_opens_no_visit(srv: AppServer, clerk: httpx.Client) -> None:
    """受付する on a ticket another booth already finished (a stale page): refused before any visit is opened."""
    with httpx.Client(base_url=srv.url, timeout=10) as phone:
        account, _ = register_resident(phone, srv.url, "予約 住民")
    srv.db.write_sync(lambda c: c.execute(
        "INSERT INTO identity_bindings (account_id, resident_id, bound_by, bound_at) VALUES (?, 'R0002', 'x', 'x')",
        (account["id"],)))
    _booking_ticket(srv, clerk, account["id"])
    called = clerk.post("/api/queue/honcho/call", json={"booth": "1"}).json()
    assert clerk.post(f"/api/queue/tickets/{called['id']}/finish").json()["status"] == "done"
    r = _form(clerk, f"/console/queue/tickets/{called['id']}/serve", place="honcho", booth="1")
    assert r.status_code == 409 and "もうその操作ができません" in r.text
    assert srv.db.read_sync(lambda c: c.execute("SELECT count(*) FROM visits WHERE resident_id = 'R0002' AND"
                                                " status = 'open'").fetchone()[0]) == 0


def test_serving_anyone_else_goes_to_reception_and_links_the_visit_opened(srv: AppServer,
                                                                         clerk: httpx.Client) -> None:
    walkin = clerk.post("/api/queue/honcho/tickets", json={}).json()
    _form(clerk, "/console/queue/call", place="honcho", booth="4")
    tid = srv.db.read_sync(lambda c: c.execute("SELECT id FROM tickets WHERE number = ?",
                                               (walkin["number"],)).fetchone()[0])
    r = _form(clerk, f"/console/queue/tickets/{tid}/serve", place="honcho", booth="4")
    assert r.status_code == 303 and r.headers["location"].startswith("/console/visits/new?")
    reception = clerk.get(r.headers["location"])
    assert f"整理券 <strong>{walkin['number']}</strong>" in reception.text
    assert re.search(r'name="booth"[^>]*value="4"', reception.text)
    form_id = re.search(r'name="id" value="([^"]+)"', reception.text)
    assert form_id
    opened = _form(clerk, "/console/visits", id=form_id.group(1), ticket=tid, person_family="当日",
                   person_given="四郎", booth="4")
    assert opened.status_code == 303
    vid = opened.headers["location"].split("?")[0].rsplit("/", 1)[-1]
    assert srv.db.read_sync(lambda c: tuple(c.execute("SELECT visit_id, status FROM tickets WHERE id = ?",
                                                      (tid,)).fetchone())) == (vid, "serving")
    # 「整理券 A-007」 next to the visit's own number: on its page and in the visits list (docs/queue.md).
    visit_number = srv.db.read_sync(lambda c: c.execute("SELECT number FROM visits WHERE id = ?",
                                                        (vid,)).fetchone()[0])
    page = clerk.get(f"/console/visits/{vid}").text
    assert re.search(rf"<h1>来庁 {visit_number}[^<]*<span class=\"ticket-ref\">（整理券 {walkin['number']}）", page)
    assert "予約番号" not in page  # a walk-in has no booking
    listing = clerk.get("/console/visits").text
    assert re.search(rf'/console/visits/{vid}">{visit_number}</a><br><span class="ticket-ref">整理券 '
                     rf'{walkin["number"]}</span>', listing)


def test_the_board_page_is_public_and_holds_no_names(srv: AppServer, clerk: httpx.Client) -> None:
    t = _booking_ticket(srv, clerk, None)
    clerk.post("/api/queue/honcho/call", json={"booth": "5"})
    anyone = srv.client()
    page = anyone.get("/board")
    assert page.status_code == 200 and '<html lang="ja">' in page.text
    assert t["number"] in page.text and "5番窓口" in page.text and NAME not in page.text
    assert 'role="status"' in page.text and "<script" in page.text and "<style" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    en = anyone.get("/board/honcho", params={"lang": "en"})
    assert '<html lang="en">' in en.text and "Counter 5" in en.text
    assert anyone.get("/board.js").headers["content-type"].startswith("text/javascript")
    assert anyone.get("/board/nowhere").status_code == 404


def test_a_configurator_lands_on_procedures_from_the_queue_pages_as_documented(srv: AppServer) -> None:
    """The console's rule since issue 14 (server/console/landing.py): a configurator opening the desk's or the
    booths' pages is sent to their own page (303), never shown them; a POST is refused; docs/security.md says
    exactly that for these pages (it used to promise a 403)."""
    from pathlib import Path

    from server.auth import create_invite

    with httpx.Client(base_url=srv.url, timeout=10) as conf:
        install_csrf(conf)
        enroll_staff(conf, create_invite(srv.db, "設定 花子", "configurator", None, srv.url))
        for path in ("/console/bookings", "/console/queue", "/console/kiosks"):
            r = conf.get(path)
            assert (r.status_code, r.headers.get("location")) == (303, PROCEDURE_HOME), path
        assert _form(conf, "/console/kiosks", place="honcho", name="x").status_code == 403
        assert _form(conf, "/console/queue/call", place="honcho", booth="1").status_code == 403
    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    section = doc.split("## Kiosks (受付機) and the desk's reads of bookings", 1)[1].split("\n## ", 1)[0]
    assert "configurators are refused" not in section
    assert re.search(r"configurator opening `/console/bookings`, `/console/queue` or\s+`/console/kiosks`", section)
    assert f"`{PROCEDURE_HOME}` (303" in section


def test_the_menu_links_the_lobby_board_apart_from_the_visits_board(srv: AppServer, clerk: httpx.Client) -> None:
    """probe15c: 来庁ボード (/console/visits) was the only "board" in the menu; the lobby board (/board) has its own
    item for the booths' roles, named so the two are not confused; a role without the queue has none."""
    from server.auth import create_invite

    page = clerk.get("/console/queue").text
    nav = page.split('<nav aria-label="メニュー">', 1)[1].split("</nav>", 1)[0]
    assert re.search(r'<a href="/board"[^>]*>ロビー表示（番号の画面）</a>', nav), nav
    assert '<a href="/console/visits"' in nav and ">来庁ボード</a>" in nav
    assert srv.client().get("/board").status_code == 200  # what the link opens: the public board
    with httpx.Client(base_url=srv.url, timeout=10) as conf:
        install_csrf(conf)
        enroll_staff(conf, create_invite(srv.db, "設定 一郎", "configurator", None, srv.url))
        other = conf.get("/console/procedures").text
        assert "ロビー表示（番号の画面）" not in other
