"""The review console and the PWA serving, against the real server."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.server.conftest import answers
from testsupport.servers import AppServer

XSS = '<script>alert(1)</script><img src=x onerror=alert(2)>'


def _submit(server: AppServer, **extra: Any) -> Any:
    c = server.login("resident")
    r = c.post("/api/submissions", json={"id": str(uuid.uuid4()), "procedure_id": "test-proc",
                                         "procedure_version": "1.0.0", "answers": answers(**extra)})
    assert r.status_code == 201, r.text
    return r.json()


def _audit_actions(server: AppServer, actor: str) -> list[str]:
    return server.db.read_sync(lambda c: [r[0] for r in c.execute(
        "SELECT action FROM audit_log WHERE actor = ? ORDER BY id", (actor,))])


def test_console_queue_detail_status_and_audit(server: AppServer) -> None:
    receipt = _submit(server, note=XSS)
    reviewer = server.login("reviewer", department="shimin")
    page = reviewer.get("/console/", params={"status": "received", "q": receipt["receipt_number"]})
    assert page.status_code == 200 and receipt["receipt_number"] in page.text
    assert "<label" in page.text and "unsafe-inline" not in page.headers["content-security-policy"]
    # Every console page leads to the account page (passkeys, sign-out, sign-out everywhere).
    assert 'href="/#/signin">アカウント・サインアウト</a>' in page.text
    detail = reviewer.get(f"/console/submissions/{receipt['id']}")
    assert detail.status_code == 200
    assert "<script>alert(1)" not in detail.text and "&lt;script&gt;" in detail.text  # stored XSS inert
    assert "葛\U000e0100城" in detail.text
    assert "<script>" not in detail.text.replace('<script src="/console/static/console.js" defer></script>', "")
    aid = reviewer.account_id  # type: ignore[attr-defined]
    assert "submission.read" in _audit_actions(server, aid)
    # The queue's read names the submissions it showed (one entry for the page, with their ids).
    shown = server.db.read_sync(lambda c: c.execute(
        "SELECT json_extract(details, '$.ids') FROM audit_log WHERE actor = ? AND action = 'console.queue'",
        (aid,)).fetchone()[0])
    assert receipt["id"] in shown
    r = reviewer.post(f"/console/submissions/{receipt['id']}/status",
                      data={"status": "in_review", "comment": "確認します"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    r = reviewer.post(f"/console/submissions/{receipt['id']}/status", data={"status": "completed"})
    assert r.status_code == 409
    assert server.login("reviewer", department="kodomo").get(
        f"/console/submissions/{receipt['id']}").status_code == 404
    assert server.login("resident").get("/console/").status_code == 403


def test_console_export_is_audited(server: AppServer) -> None:
    _submit(server)
    admin = server.login("admin")
    r = admin.get("/console/export", params={"format": "csv", "bom": "true"})
    assert r.status_code == 200 and r.content.startswith("\ufeff".encode())
    r = admin.get("/console/export", params={"format": "jsonl", "procedure": "test-proc"})
    assert r.status_code == 200 and r.text.count("\n") >= 1
    assert _audit_actions(server, admin.account_id).count("submissions.export") == 2  # type: ignore[attr-defined]
    assert server.login("counter").get("/console/export").status_code == 403


def test_text_responses_name_their_charset_once(server: AppServer) -> None:
    """Litestar appends the charset to a text/* media type itself: a handler naming it too sent it twice."""
    _submit(server)
    admin = server.login("admin")
    pages = {
        "csv export": admin.get("/console/export", params={"format": "csv"}),
        "console page": admin.get("/console/"),
        "conflicts page": admin.get("/console/conflicts"),
        "console script": admin.get("/console/static/console.js"),
        "conflicts script": admin.get("/console/assets/sync-conflicts.js"),
        "enroll page": server.client().get("/enroll/no-such-token"),
        "enroll script": server.client().get("/auth/enroll.js"),
        "pwa page": server.client().get("/"),
    }
    for what, r in pages.items():
        ctype = r.headers["content-type"]
        assert ctype.startswith("text/") and ctype.lower().count("charset") == 1, (what, r.status_code, ctype)
    assert pages["csv export"].headers["content-type"] == "text/csv; charset=utf-8"
    assert pages["console page"].headers["content-type"] == "text/html; charset=utf-8"


def test_console_binding_page(server: AppServer) -> None:
    counter = server.login("counter")
    resident = server.login("resident")
    page = counter.get("/console/bind", params={"q": "髙橋"})
    assert page.status_code == 200 and "R0005" in page.text
    r = counter.post("/console/bind", data={"account_id": resident.account_id,  # type: ignore[attr-defined]
                                            "resident_id": "R0005", "id_document": "運転免許証"})
    assert r.status_code == 200 and "紐づけました" in r.text
    assert resident.get("/api/me/profile").json()["profile"]["name"]["family"] == "髙橋"
    r = counter.post("/console/bind", data={"account_id": counter.account_id,  # type: ignore[attr-defined]
                                            "resident_id": "R0005"})
    assert r.status_code == 409 and "職員のアカウントは住民記録に紐づけられません" in r.text
    assert counter.get("/api/me/profile").json() == {"verified": False, "profile": {}}


def test_the_binding_page_refuses_a_search_as_the_api_does(server: AppServer) -> None:
    """The bind page hands what was typed to the one search rule (parse_search): an overlong field of any box,
    or nothing searchable, is a 400 page in Japanese naming the box, with what was typed kept in the form."""
    counter = server.login("counter")
    for box, label in (("name", "氏名またはよみ"), ("birth_date", "生年月日"), ("address", "住所"), ("q", "氏名またはよみ")):
        long = "あ" * 101
        page = counter.get("/console/bind", params={box: long})
        assert page.status_code == 400 and page.headers["content-type"].startswith("text/html"), (box, page.text)
        assert f"「{label}」は100文字以内で入力してください。" in page.text
        assert f'value="{long}"' in page.text  # kept as typed, to be shortened by the clerk
    page = counter.get("/console/bind", params={"name": "・"})  # folds to nothing: no key to search by
    assert page.status_code == 400 and "検索できる文字がありません" in page.text
    assert counter.get("/console/bind", params={"name": "あ" * 100}).status_code == 200


def test_pwa_files_and_caching(server: AppServer) -> None:
    c = server.client()
    r = c.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    sw = c.get("/sw.js")
    assert sw.headers["cache-control"] == "no-cache" and sw.headers["service-worker-allowed"] == "/"
    assert sw.headers["content-type"].startswith("text/javascript")
    assert c.get("/manifest.webmanifest").headers["content-type"].startswith("application/manifest+json")
    asset = c.get("/assets/app.0123456789.js")
    assert "immutable" in asset.headers["cache-control"]
    assert c.get("/assets/missing.js").status_code == 404


def test_console_conflicts_page_by_page(server: AppServer) -> None:
    """More conflicts than a page holds: 50 a page, newest first, a link to the next and back to the first."""
    def add(c: Any) -> None:
        c.executemany(
            "INSERT INTO sync_conflicts (mutation_id, type, record_id, field, policy, outcome, base, server, mine,"
            " status, created_at) VALUES (?, 'household', ?, 'notes', 'review', 'server_kept', '\"a\"', '\"b\"',"
            " '\"c\"', 'open', '2026-04-01T00:00:00+00:00')",
            [(f"m-page-{i}", f"h-page-{i}") for i in range(55)])

    server.db.write_sync(add)
    staff = server.login("counter")
    first = staff.get("/console/conflicts")
    ids = [int(x) for x in re.findall(r'<section class="conflict" data-conflict-id="(\d+)"', first.text)]
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    nxt = re.search(r'<a rel="next" href="([^"]+)"', first.text)
    assert nxt is not None and "最初のページへ" not in first.text
    second = staff.get(nxt.group(1).replace("&amp;", "&"))
    rest = [int(x) for x in re.findall(r'<section class="conflict" data-conflict-id="(\d+)"', second.text)]
    assert rest and max(rest) < min(ids) and 'rel="next"' not in second.text and "最初のページへ" in second.text
    total = server.db.read_sync(lambda c: c.execute("SELECT COUNT(*) FROM sync_conflicts WHERE status = 'open'").fetchone()[0])
    assert len(ids) + len(rest) == total


def test_console_shows_times_in_jst(server: AppServer) -> None:
    """Staff read times as the city keeps them: JST to the minute, on every console page (one filter), the
    stored UTC value only in the machine-readable datetime attribute."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    receipt = _submit(server)
    raw = receipt["received_at"]
    want = dt.datetime.fromisoformat(raw).astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M")
    reviewer = server.login("reviewer", department="shimin")
    assert reviewer.post(f"/api/submissions/{receipt['id']}/status", json={"status": "in_review"}).status_code == 200
    detail = reviewer.get(f"/console/submissions/{receipt['id']}").text
    queue = reviewer.get("/console/", params={"q": receipt["receipt_number"]}).text
    for page in (detail, queue):
        assert f'<time datetime="{raw}">{want}</time>' in page
        assert f">{raw}<" not in page and "+00:00<" not in page
    # The history names who made each change (the staff member's display name and role), when, in JST.
    (step,) = re.findall(r'<li><time datetime="([^"]+)">([^<]+)</time> <span class="actor">テストreviewer（審査）</span>'
                         r'：受付 → 審査中', detail)
    assert step[1] == dt.datetime.fromisoformat(step[0]).astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M")
