"""Preview links (server/preview.py): signed tokens, expiry, abandoned drafts, ETag/304, the page, the QR code.

The real app on a SQLite file; drafts are rows of ``procedure_drafts`` written as a push would leave them
(``testsupport.drafts.put_draft``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.preview import make_token, read_token
from server.problems import Problem
from server.storage.keys import preview_secret
from testsupport.drafts import put_draft
from testsupport.servers import AppServer

SAMPLE = """\
kind: procedure
id: preview-sample
version: 1.0.0
title: {ja: 見本の届出, en: Sample notification, ja-easy: みほん の とどけ}
department: {id: shimin, name: 市民課}
sections:
  - id: main
    title: {ja: あなたのこと, en: About you, ja-easy: あなた の こと}
    fields:
      - id: nickname
        type: text
        label: {ja: 呼び名, en: Nickname, ja-easy: よびな}
        required: true
      - id: copies
        type: number
        label: {ja: 通数, en: Copies, ja-easy: つうすう}
        min: 1
        max: 10
"""

BROKEN = SAMPLE.replace("        min: 1\n", "        minn: 1\n")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    with AppServer.on_file(tmp_path_factory.mktemp("preview") / "p.db") as s:
        s.db.write_sync(lambda c: put_draft(c, SAMPLE, draft_id="drf_ok"))
        s.db.write_sync(lambda c: put_draft(c, BROKEN, draft_id="drf_broken", filename="broken.yaml"))
        yield s


def link(srv: AppServer, draft_id: str) -> dict[str, Any]:
    with srv.login("configurator") as c:
        r = c.post(f"/api/drafts/{draft_id}/preview")
        assert r.status_code == 201, r.text
        return dict(r.json())


def token_of(url: str) -> str:
    return url.rsplit("/preview/", 1)[1]


def test_link_opens_page_data_and_qr(srv: AppServer) -> None:
    out = link(srv, "drf_ok")
    assert out["url"].startswith(f"{srv.url}/preview/")
    expires = dt.datetime.fromisoformat(out["expires_at"].replace("Z", "+00:00"))
    assert dt.timedelta(days=6, hours=23) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=7)
    assert out["qr_svg"].startswith("<svg") and "<path" in out["qr_svg"]
    token = token_of(out["url"])
    with srv.client() as anon:  # no account: the token is the permission
        page = anon.get(f"/preview/{token}")
        assert page.status_code == 200
        assert "プレビュー（保存されません）" in page.text and "Preview — nothing is saved" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert "<script>" not in page.text and "style=" not in page.text  # strict CSP: files only
        # The real renderer of the bundle being served, by its content-hashed name.
        files = srv.app.state.services.pwa.files
        render = next(p for p in files if p.startswith("assets/render.") and p.endswith(".js"))
        assert f'data-render="/{render}"' in page.text
        assert "frame-ancestors *" in page.headers["content-security-policy"]
        data = anon.get(f"/api/preview/{token}")
        assert data.status_code == 200 and data.headers["cache-control"] == "no-store"
        body = data.json()
        assert body["revision"] == 1 and body["ok"] is True and body["version"] == "1.0.0"
        fields = [f["id"] for s in body["compiled"]["sections"] for f in s["fields"]]
        assert fields == ["nickname", "copies"]
        assert isinstance(body["compiled"]["estimate_seconds"], int) and body["compiled"]["estimate_seconds"] > 0
        qr = anon.get(f"/api/preview/{token}/qr.svg")
        assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
        assert qr.text.startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in qr.text
        js = anon.get("/preview/static/preview.js")
        assert js.status_code == 200 and "evaluateForm" in js.text



def test_preview_pages_set_no_cookie(srv: AppServer) -> None:
    """The page says nothing is saved: no CSRF cookie (a year-long one before), on the page, a refusal or its files;
    the app's own pages still hand it out."""
    token = token_of(link(srv, "drf_ok")["url"])
    with srv.client() as anon:
        for path in (f"/preview/{token}", "/preview/no-such-token", "/preview/static/preview.js",
                     f"/api/preview/{token}"):
            r = anon.get(path)
            assert "set-cookie" not in r.headers, (path, r.headers.get("set-cookie"))
        assert not anon.cookies
        assert "madoguchi_csrf=" in anon.get("/").headers.get("set-cookie", "")  # the check can fail


def test_the_banner_is_in_a_landmark(srv: AppServer) -> None:
    """axe's region rule: every content is in a landmark; the banner is an <aside> with a name."""
    token = token_of(link(srv, "drf_ok")["url"])
    with srv.client() as anon:
        for path in (f"/preview/{token}", "/preview/no-such-token"):
            banner = re.search(r'<(\w+)[^>]*id="preview-banner"[^>]*>', anon.get(path).text)
            assert banner and banner.group(1) == "aside" and "aria-label=" in banner.group(0), banner

def test_etag_by_revision(srv: AppServer) -> None:
    srv.db.write_sync(lambda c: put_draft(c, SAMPLE, draft_id="drf_etag"))
    token = token_of(link(srv, "drf_etag")["url"])
    with srv.client() as anon:
        first = anon.get(f"/api/preview/{token}")
        etag = first.headers["etag"]
        same = anon.get(f"/api/preview/{token}", headers={"If-None-Match": etag})
        assert same.status_code == 304 and same.content == b""
        # A new push: new revision, new ETag, the changed label.
        srv.db.write_sync(lambda c: put_draft(c, SAMPLE.replace("呼び名", "通称"), draft_id="drf_etag", revision=2))
        changed = anon.get(f"/api/preview/{token}", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert changed.json()["revision"] == 2
        assert changed.json()["compiled"]["sections"][0]["fields"][0]["label"]["ja"] == "通称"


def test_draft_with_errors_lists_located_lines(srv: AppServer) -> None:
    token = token_of(link(srv, "drf_broken")["url"])
    with srv.client() as anon:
        body = anon.get(f"/api/preview/{token}").json()
        assert body["ok"] is False and body["compiled"] is None
        assert any(line.startswith("broken.yaml:") and "PD101" in line for line in body["lines"]), body["lines"]
        assert anon.get(f"/preview/{token}").status_code == 200  # the page says so (tests/browser)


def test_tampered_and_garbage_tokens_are_404_never_500(srv: AppServer) -> None:
    token = token_of(link(srv, "drf_ok")["url"])
    payload, sig = token.split(".")
    other = token_of(link(srv, "drf_broken")["url"]).split(".")[0]
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    bad = [f"{other}.{sig}", f"{payload}.{flipped}", payload, f"{payload}.", f".{sig}", "x" * 5000, "a.b.c", "%00",
           "no-such-token", "a..b", "é.é", f"{payload}.{sig}.x"]
    with srv.client() as anon:
        for t in bad:
            for path in (f"/api/preview/{t}", f"/api/preview/{t}/qr.svg"):
                r = anon.get(path)
                assert r.status_code == 404, (path, r.status_code, r.text[:200])
                assert r.headers["content-type"].startswith("application/problem+json")
            page = anon.get(f"/preview/{t}")
            assert page.status_code == 404 and "見つかりません" in page.text and "does not exist" in page.text


def test_signed_token_for_unknown_draft_is_404(srv: AppServer) -> None:
    secret = srv.db.write_sync(preview_secret)
    token = make_token(secret, "drf_nobody", dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    with srv.client() as anon:
        assert anon.get(f"/api/preview/{token}").status_code == 404
        assert anon.get(f"/preview/{token}").status_code == 404


def test_expired_token_is_410(srv: AppServer) -> None:
    secret = srv.db.write_sync(preview_secret)
    token = make_token(secret, "drf_ok", dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    with srv.client() as anon:
        r = anon.get(f"/api/preview/{token}")
        assert r.status_code == 410 and r.json()["type"].endswith("/preview-expired")
        page = anon.get(f"/preview/{token}")
        assert page.status_code == 410 and "有効期限" in page.text and "expired" in page.text
    with pytest.raises(Problem) as e:
        read_token(secret, token)
    assert e.value.status_code == 410
    # The same token read before its expiry verifies: only the time differs.
    assert read_token(secret, token, now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))[0] == "drf_ok"


def test_abandoned_draft_closes_its_links(srv: AppServer) -> None:
    srv.db.write_sync(lambda c: put_draft(c, SAMPLE, draft_id="drf_gone"))
    token = token_of(link(srv, "drf_gone")["url"])
    with srv.login("configurator") as c:
        assert c.delete("/api/drafts/drf_gone").status_code == 200  # abandoned through the drafts API
    with srv.client() as anon:
        r = anon.get(f"/api/preview/{token}")
        assert r.status_code == 410 and r.json()["type"].endswith("/preview-abandoned")
        page = anon.get(f"/preview/{token}")
        assert page.status_code == 410 and "破棄" in page.text
    with srv.login("configurator") as c:
        assert c.post("/api/drafts/drf_gone/preview").status_code == 409
        assert c.post("/api/drafts/drf_none/preview").status_code == 404


def test_only_configurators_make_links_and_it_is_audited(srv: AppServer) -> None:
    with srv.client() as anon:
        assert anon.post("/api/drafts/drf_ok/preview").status_code in (401, 403)
    for role in ("resident", "counter", "reviewer"):
        with srv.login(role) as c:
            r = c.post("/api/drafts/drf_ok/preview")
            assert r.status_code == 403, (role, r.text)
    with srv.login("admin") as c:
        assert c.post("/api/drafts/drf_ok/preview").status_code == 201
        who = c.account_id  # type: ignore[attr-defined]
    rows = srv.db.write_sync(lambda c: c.execute(
        "SELECT actor, subject FROM audit_log WHERE action = 'draft.preview_link'").fetchall())
    assert (who, "draft:drf_ok") in [tuple(r) for r in rows]


def test_links_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with AppServer.on_file(db) as s:
        s.db.write_sync(lambda c: put_draft(c, SAMPLE, draft_id="drf_keep"))
        token = token_of(link(s, "drf_keep")["url"])
    with AppServer.on_file(db) as s2, s2.client() as anon:
        assert anon.get(f"/api/preview/{token}").status_code == 200


def test_a_drafts_token_makes_and_reads_links(srv: AppServer) -> None:
    from server.auth import store
    from server.auth.tokens import create_personal

    def job(c: Any) -> tuple[str, str]:
        conf = store.create_account(c, display_name="ノート", role="configurator", department=None)
        counter = store.create_account(c, display_name="窓口", role="counter", department=None)
        return (create_personal(c, account=conf, name="nb", scopes=["drafts"], days=1, ip=None)[1],
                create_personal(c, account=counter, name="nb", scopes=["drafts"], days=1, ip=None)[1])

    mine, counters = srv.db.write_sync(job)
    with srv.client() as c:
        r = c.post("/api/drafts/drf_ok/preview", headers={"Authorization": f"Bearer {mine}"})
        assert r.status_code == 201, r.text
        token = token_of(r.json()["url"])
        assert c.get(f"/api/preview/{token}/qr.svg", headers={"Authorization": f"Bearer {mine}"}).status_code == 200
        # The role still decides: a counter clerk's token of the same scope makes no link.
        r = c.post("/api/drafts/drf_ok/preview", headers={"Authorization": f"Bearer {counters}"})
        assert r.status_code == 403


def test_a_life_event_draft(srv: AppServer) -> None:
    from procedure_definitions.library import DEFAULT_LIBRARY

    text = (Path(DEFAULT_LIBRARY) / "life_events" / "birth.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^id: birth$", "id: preview-birth", text)
    with srv.login("configurator") as c:
        pushed = c.post("/api/drafts", json={"filename": "preview-birth.yaml", "source": text})
        assert pushed.status_code == 201 and pushed.json()["ok"], pushed.text
        token = token_of(c.post(f"/api/drafts/{pushed.json()['id']}/preview").json()["url"])
    with srv.client() as anon:
        body = anon.get(f"/api/preview/{token}").json()
        assert body["kind"] == "life_event" and body["ok"]
        compiled = body["compiled"]
        assert [q["id"] for q in compiled["questions"]][:1] == ["parent_kokuho"]
        # As the bundle: an estimate per set of included procedures (the live ones it names).
        assert isinstance(compiled["estimate_seconds"], dict) and compiled["estimate_seconds"]
        assert all(isinstance(v, int) for v in compiled["estimate_seconds"].values())
