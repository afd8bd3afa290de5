"""The configurator's console (server/console/procedure_pages.py, procedure_actions.py) on the real app with the
real shipped library, a real PWA build and real passkey ceremonies (SoftAuthenticator): a configurator lands
on /console/procedures; the pages show what the database holds; publishing needs a fresh passkey check and is
live in GET /api/procedures at once; with two approvals the requester cannot approve, another configurator
can, and a draft pushed again after the request cannot be approved; retire and restore roll back.
docs/configuring.md "The configurator's console"."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from procedure_definitions.library import DEFAULT_LIBRARY, load_library
from procedure_definitions.versions import latest
from testsupport.servers import AppServer
from testsupport.webauthn import AuthServer, assert_problem, enroll_staff, install_csrf

PID = "juminhyo-copy"
JSON = {"Accept": "application/json"}


def shipped(pid: str = PID) -> dict[str, Any]:
    path = next(p for p in DEFAULT_LIBRARY.rglob("*.yaml") if yaml.safe_load(p.read_text())["id"] == pid)
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def without_choice(version: str, choice: str = "housing") -> str:
    """The shipped 住民票の写し with one 使いみち choice removed: a breaking change."""
    d = shipped()
    for f in d["sections"][0]["fields"]:
        if f["id"] == "purpose":
            f["choices"] = [c for c in f["choices"] if c["value"] != choice]
    d["version"] = version
    return yaml.safe_dump(d, allow_unicode=True, sort_keys=False)


class Staff:
    """A staff member enrolled through a real invite with a software passkey."""

    def __init__(self, server: AuthServer, role: str, name: str) -> None:
        self.server = server
        self.client = httpx.Client(base_url=server.base_url, timeout=30, follow_redirects=False)
        install_csrf(self.client)
        account, self.auth = enroll_staff(self.client, server.invite(name, role))
        self.id: str = account["id"]
        self.name = name

    def stale(self) -> None:
        """The session's last passkey check ages past the fresh window."""
        self.server.sql("UPDATE sessions SET verified_at = verified_at - 100000 WHERE account_id = ?", self.id)

    def reauth(self) -> None:
        opts = self.client.post("/auth/reauth/options").json()
        r = self.client.post("/auth/reauth/verify", json={"challenge_id": opts["challenge_id"],
                                                          "credential": self.auth.get(opts["publicKey"])})
        assert r.status_code == 200, r.text

    def push(self, source: str, filename: str = "juminhyo.yaml") -> dict[str, Any]:
        r = self.client.post("/api/drafts", json={"filename": filename, "source": source})
        assert r.status_code in (200, 201), r.text
        body: dict[str, Any] = r.json()
        return body

    def page(self, path: str) -> str:
        r = self.client.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:500])
        return html.unescape(r.text)


@pytest.fixture(scope="module")
def build() -> Any:
    from madoguchi.build import build_pwa

    return build_pwa(load_library())


def _serve(tmp: Path, build: Any, approvals: int) -> Iterator[tuple[AppServer, AuthServer]]:
    db = tmp / "c.db"
    with AppServer.on_file(db, build_result=build, publish_approvals=approvals) as srv:
        yield srv, AuthServer(srv.app, srv.url, str(db))


@pytest.fixture(scope="module")
def one(tmp_path_factory: pytest.TempPathFactory, build: Any) -> Iterator[tuple[AppServer, AuthServer]]:
    yield from _serve(tmp_path_factory.mktemp("console1"), build, 1)


@pytest.fixture(scope="module")
def conf(one: tuple[AppServer, AuthServer]) -> Iterator[Staff]:
    s = Staff(one[1], "configurator", "設定 一郎")
    yield s
    s.client.close()


def live_versions(client: httpx.Client, pid: str = PID) -> dict[str, bool]:
    """``{version: retired}`` of ``pid`` as GET /api/procedures lists it."""
    return {r["version"]: r["retired"] for r in client.get("/api/procedures").json() if r["id"] == pid}


def test_configurator_lands_on_procedures_never_on_a_refusal(one: tuple[AppServer, AuthServer], conf: Staff) -> None:
    srv, _ = one
    for path in ("/console/", "/console", "/console/visits", "/console/bind", "/console/export",
                 "/console/submissions/00000000-0000-0000-0000-000000000001", "/console/handoff"):
        r = conf.client.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/console/procedures", (path, r.status_code)
    page = conf.page("/console/procedures")
    assert 'href="/console/procedures" aria-current="page">手続きの設定' in page
    assert "受付一覧" not in page and 'href="/console/tokens"' in page
    # An admin keeps the casework console and sees 手続きの設定 too; counter staff do not configure.
    admin = srv.login("admin")
    r = admin.get("/console/")
    assert r.status_code == 200 and 'href="/console/procedures"' in r.text
    counter = srv.login("counter")
    assert counter.get("/console/").status_code == 200
    assert 'href="/console/procedures"' not in counter.get("/console/").text
    assert_problem(counter.get("/console/procedures"), 403, "forbidden")
    assert srv.client().get("/console/procedures").status_code == 401


def test_pages_show_what_the_database_holds(one: tuple[AppServer, AuthServer], conf: Staff) -> None:
    rows = conf.client.get("/api/procedures").json()
    mine = sorted((r["version"] for r in rows if r["id"] == PID), key=lambda v: tuple(int(x) for x in v.split(".")))
    live = latest([r["version"] for r in rows if r["id"] == PID and not r["retired"]])
    d = conf.push(without_choice("1.9.0"))
    assert d["ok"], d["lines"]
    listing = conf.page("/console/procedures")
    row = re.search(r'<th scope="row"><a href="/console/procedures/juminhyo-copy">(.*?)</tr>', listing, re.S)
    assert row is not None
    assert shipped()["title"]["ja"] in row.group(1) and f"<td>{live}" in row.group(1)
    assert shipped()["department"]["name"]["ja"] in row.group(1)  # the department by name, never its id
    assert f'/console/procedures/drafts/{d["id"]}">1.9.0</a>（設定 一郎、' in row.group(1) and "エラーなし" in row.group(1)
    detail = conf.page(f"/console/procedures/{PID}")
    for v in mine:
        assert f'<th scope="row">{v}</th>' in detail
    assert re.search(rf'<tr class="live">\s*<th scope="row">{re.escape(live)}</th>\s*<td><strong>公開中', detail)
    # The draft page: located check results, scenarios, the estimate against 60 s, the diff with the breaking
    # change and what it means for drafts on phones (the diff module's own text), the source collapsed.
    page = conf.page(f"/console/procedures/drafts/{d['id']}")
    diff = conf.client.get(f"/api/drafts/{d['id']}/diff").json()
    breaking = [c for c in diff["changes"] if c["breaking"]]
    assert breaking and diff["against"] == live
    for c in breaking:
        assert c["message"]["ja"] in page and c["effect"]["ja"] in page
    assert "互換性のない変更 1 件" in page
    assert f'{d["estimate_seconds"]} 秒（目標 60 秒以内）' in page
    for s in d["scenarios"]:
        assert f"成功：{s['name']}" in page
    assert '<details id="source">' in page and "purpose" in page
    assert 'action="/console/procedures/drafts/' in page and "公開する</button>" in page
    # The preview: a link and its QR code made on request, opening without an account (server/preview.py).
    assert f'action="/console/procedures/drafts/{d["id"]}/preview"' in page
    made = len(conf.server.audit("draft.preview_link"))
    conf.page(f"/console/procedures/drafts/{d['id']}")  # reading the page makes no link
    assert len(conf.server.audit("draft.preview_link")) == made
    r = conf.client.post(f"/console/procedures/drafts/{d['id']}/preview")
    assert r.status_code == 200, r.text[:300]
    page = html.unescape(r.text)
    link = re.search(r'<a id="preview-link" href="([^"]+)"', page)
    qr = re.search(r'<img id="preview-qr" src="([^"]+)"', page)
    assert link and qr and link.group(1).startswith(conf.server.base_url + "/preview/")
    anonymous = httpx.Client(base_url=conf.server.base_url, timeout=30)
    assert anonymous.get(link.group(1)).status_code == 200
    r = anonymous.get(qr.group(1))
    assert r.status_code == 200 and r.text.lstrip().startswith("<svg")
    assert conf.server.audit("draft.preview_link")[-1][1] == f"draft:{d['id']}"
    conf.client.delete(f"/api/drafts/{d['id']}")


def test_a_draft_with_errors_shows_located_lines_and_cannot_be_published(conf: Staff) -> None:
    text = without_choice("1.9.1").replace("type: name", "type: nmae", 1)
    d = conf.push(text, filename="broken.yaml")
    assert not d["ok"]
    page = conf.page(f"/console/procedures/drafts/{d['id']}")
    line_no = next(i for i, line in enumerate(text.splitlines(), 1) if "nmae" in line)
    assert re.search(rf'id="check-errors".*?<code>broken\.yaml:{line_no}:\d+: PD\d+ ', page, re.S)
    assert "公開する</button>" not in page
    r = conf.client.post(f"/console/procedures/drafts/{d['id']}/publish", headers=JSON)
    body = assert_problem(r, 409, "draft-has-errors")
    assert "エラーのある下書き" in body["detail"]  # the script shows it in Japanese
    r = conf.client.post(f"/console/procedures/drafts/{d['id']}/publish")  # a browser without the script: a page
    assert r.status_code == 409 and r.headers["content-type"].startswith("text/html") and "エラーのある下書き" in r.text
    assert_problem(conf.client.post(f"/api/drafts/{d['id']}/publish-request"), 409, "draft-has-errors")
    conf.client.delete(f"/api/drafts/{d['id']}")


def test_publish_needs_a_fresh_passkey_and_is_live_at_once_then_retire_and_restore_roll_back(
        one: tuple[AppServer, AuthServer], conf: Staff) -> None:
    _, auth = one
    before = live_versions(conf.client)
    old_live = latest([v for v, retired in before.items() if not retired])
    d = conf.push(without_choice("2.5.0"))
    conf.stale()
    r = conf.client.post(f"/console/procedures/drafts/{d['id']}/publish", headers=JSON)
    assert_problem(r, 403, "reauth-required")  # the page's script runs the passkey check on this answer
    assert "2.5.0" not in live_versions(conf.client)
    conf.reauth()
    r = conf.client.post(f"/console/procedures/drafts/{d['id']}/publish", headers=JSON)
    assert r.status_code == 200 and r.json() == {"location": f"/console/procedures/{PID}"}, r.text
    assert live_versions(conf.client)["2.5.0"] is False  # no restart
    assert conf.client.get(f"/api/procedures/{PID}/2.5.0").status_code == 200
    detail = conf.page(f"/console/procedures/{PID}")
    assert re.search(r'<tr class="live">\s*<th scope="row">2\.5\.0</th>.*?設定 一郎.*?コンソール', detail, re.S)
    # 廃止する says which version residents get afterwards: the one live before (a roll back).
    assert f"廃止すると、住民には版 {old_live} が表示されます" in detail
    assert auth.audit("procedure.publish")[-1][1] == f"procedure:{PID}@2.5.0"
    conf.stale()
    retire = f"/console/procedures/{PID}/versions/2.5.0/retire"
    assert_problem(conf.client.post(retire, headers=JSON), 403, "reauth-required")
    conf.reauth()
    r = conf.client.post(retire)  # without the script: 303 back to the procedure
    assert r.status_code == 303 and r.headers["location"] == f"/console/procedures/{PID}"
    assert live_versions(conf.client)["2.5.0"] is True
    detail = conf.page(f"/console/procedures/{PID}")
    assert f'<dd id="live-version">{old_live}</dd>' in detail
    assert "元に戻すと、住民には版 2.5.0 が表示されます" in detail
    r = conf.client.post(f"/console/procedures/{PID}/versions/2.5.0/restore", headers=JSON)
    assert r.status_code == 200 and live_versions(conf.client)["2.5.0"] is False
    assert [a[1] for a in auth.audit("procedure.retire")][-1] == f"procedure:{PID}@2.5.0"
    assert [a[1] for a in auth.audit("procedure.restore")][-1] == f"procedure:{PID}@2.5.0"
    # Retiring it again and restoring what is not retired are refusals, not errors.
    assert_problem(conf.client.post(f"/console/procedures/{PID}/versions/2.5.0/restore", headers=JSON), 409,
                   "not-retired")
    assert_problem(conf.client.post(f"/console/procedures/{PID}/versions/9.9.9/retire", headers=JSON), 404)


def test_publish_request_api_validates_the_schedule(conf: Staff) -> None:
    d = conf.push(without_choice("3.0.0"))
    url = f"/api/drafts/{d['id']}/publish-request"
    for body, slug in (({"live_from": "2030-01-01T09:00"}, "invalid-schedule"),  # no offset
                       ({"live_from": "tomorrow"}, "invalid-schedule"),
                       ({"closes_at": "2020-01-01T00:00:00Z"}, "invalid-schedule"),  # past
                       ({"live_from": "2031-01-01T00:00:00+09:00", "closes_at": "2030-12-31T00:00:00+09:00"},
                        "invalid-schedule"),
                       ({"close_message": {"ja": "あ" * 501}}, "invalid-schedule"),
                       ({"close_message": {"fr": "x"}}, "invalid-schedule")):
        assert_problem(conf.client.post(url, json=body), 422, slug)
    assert_problem(conf.client.post(url, json={"extra": 1}), 400)
    assert_problem(conf.client.post(url, content=b"{", headers={"Content-Type": "application/json"}), 400)
    assert_problem(conf.client.post("/api/drafts/drf_nope/publish-request"), 404)
    r = conf.client.post(url, json={"live_from": "2030-01-01T09:00:00+09:00", "closes_at": "2031-03-31T17:00:00+09:00",
                                    "close_message": {"ja": "受付は終了しました", "en": "Closed"}})
    assert r.status_code == 202, r.text
    out = r.json()
    assert out["state"] == "open" and out["approval_url"].endswith(f"/console/procedures/requests/{out['request_id']}")
    assert out["approval_url"].startswith(conf.server.base_url)
    page = conf.page(f"/console/procedures/requests/{out['request_id']}")
    assert "2030-01-01 09:00" in page and "2031-03-31 17:00" in page and "受付は終了しました" in page
    # Withdrawn: closed without publishing.
    r = conf.client.post(f"/console/procedures/requests/{out['request_id']}/withdraw", headers=JSON)
    assert r.status_code == 200
    assert "取り下げ" in conf.page(f"/console/procedures/requests/{out['request_id']}")
    assert_problem(conf.client.post(f"/console/procedures/requests/{out['request_id']}/approve", headers=JSON), 409,
                   "request-closed")
    assert "3.0.0" not in live_versions(conf.client)
    conf.client.delete(f"/api/drafts/{d['id']}")


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory, build: Any) -> Iterator[tuple[AppServer, AuthServer]]:
    yield from _serve(tmp_path_factory.mktemp("console2"), build, 2)


def test_two_approvals_requester_cannot_approve_another_configurator_can(two: tuple[AppServer, AuthServer]) -> None:
    _, auth = two
    a, b = Staff(auth, "configurator", "申請 花子"), Staff(auth, "configurator", "承認 太郎")
    d = a.push(without_choice("4.0.0"))
    page = a.page(f"/console/procedures/drafts/{d['id']}")
    assert "別の設定担当者の承認" in page
    r = a.client.post(f"/console/procedures/drafts/{d['id']}/publish", data={"closes_at": "2031-03-31T17:00"},
                      headers=JSON)
    assert r.status_code == 200, r.text
    location = r.json()["location"]
    assert location.startswith("/console/procedures/requests/pub_")
    assert "4.0.0" not in live_versions(a.client)  # asked, not published
    rid = location.rsplit("/", 1)[1]
    # the list names what the request asks to publish, not only who asked
    listing = a.page("/console/procedures")
    assert re.search(rf'href="{location}">[^<]+ 4\.0\.0 の公開申請（申請 花子 さん', listing), listing[:2000]
    mine = a.page(location)
    assert 'id="own-request"' in mine and "承認して公開する" not in mine
    assert "2031-03-31 17:00" in mine  # the form's datetime-local is JST
    assert_problem(a.client.post(f"{location}/approve", headers=JSON), 409, "own-request")
    a.reauth()  # a fresh check changes nothing: the requester never approves their own request
    assert_problem(a.client.post(f"{location}/approve", headers=JSON), 409, "own-request")
    theirs = b.page(location)
    assert "承認して公開する</button>" in theirs and "申請 花子" in theirs and "互換性のない変更" in theirs
    b.stale()
    assert_problem(b.client.post(f"{location}/approve", headers=JSON), 403, "reauth-required")
    b.reauth()
    r = b.client.post(f"{location}/approve", headers=JSON)
    assert r.status_code == 200 and r.json() == {"location": f"/console/procedures/{PID}"}, r.text
    assert live_versions(b.client)["4.0.0"] is False
    detail = b.page(f"/console/procedures/{PID}")
    assert re.search(r'<th scope="row">4\.0\.0</th>.*?申請 申請 花子<br>承認 承認 太郎', detail, re.S)
    row = auth.sql("SELECT published_by, approved_by, closes_at FROM procedure_versions WHERE procedure_id = ?"
                   " AND version = '4.0.0'", PID)[0]
    assert row[:2] == (b.id, b.id) and row[2] == "2031-03-31T08:00:00+00:00"
    assert auth.sql("SELECT state, approved_by FROM publish_requests WHERE id = ?", rid)[0] == ("published", b.id)
    # A draft pushed again after the request: the approver would publish a text they have not seen.
    d2 = a.push(without_choice("4.1.0"))
    r = a.client.post(f"/api/drafts/{d2['id']}/publish-request")
    assert r.status_code == 202
    url2 = "/console/procedures/requests/" + r.json()["request_id"]
    a.push(without_choice("4.1.0", choice="bank"))
    page = b.page(url2)
    assert 'id="draft-changed"' in page and "承認して公開する</button>" not in page
    assert_problem(b.client.post(f"{url2}/approve", headers=JSON), 409, "draft-changed")
    assert "4.1.0" not in live_versions(b.client)


@pytest.mark.parametrize("argv, expected", [([], 1), (["--publish-approvals", "2"], 2), (["--publish-approvals", "1"], 1)])
def test_serve_sets_publish_approvals(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, argv: list[str],
                                      expected: int) -> None:
    """``madoguchi serve --publish-approvals N`` reaches ``Settings.publish_approvals`` (the app and uvicorn are
    stood in for: only the settings built from the command line are looked at)."""
    import server.app
    import server.commands
    import server.printing.pdf
    from madoguchi.cli import main

    class NoServer:  # uvicorn's server, stood in for: serve() builds it from its config and runs it
        def __init__(self, config: Any) -> None:
            pass

        def run(self) -> None:
            pass

    seen: list[Any] = []
    monkeypatch.setattr(server.app, "create_app", lambda settings, **_: seen.append(settings) or object())
    monkeypatch.setattr(server.commands, "_server_class", lambda: NoServer)
    monkeypatch.setattr(server.printing.pdf, "warm_up", lambda: None)
    monkeypatch.setattr("gc.freeze", lambda: None)
    assert main(["serve", "--db", str(tmp_path / "m.db"), *argv]) == 0
    assert seen[0].publish_approvals == expected


def test_serve_refuses_other_approval_counts(tmp_path: Path) -> None:
    from madoguchi.cli import main

    with pytest.raises(SystemExit) as e:
        main(["serve", "--db", str(tmp_path / "m.db"), "--publish-approvals", "3"])
    assert e.value.code == 2


def test_a_new_procedure_is_named_by_its_draft(conf: Staff) -> None:
    """Nothing of it is published yet: the list and its page use the draft's title and department, not the raw id."""
    import yaml

    source = yaml.safe_load(without_choice("4.0.0"))
    source.update(id="console-new-proc", version="0.1.0", title={"ja": "新しい手続きの題"})
    d = conf.push(yaml.safe_dump(source, allow_unicode=True, sort_keys=False), filename="new.yaml")
    assert d["ok"], d["lines"]
    dept = source["department"]["name"]["ja"]
    page = conf.page("/console/procedures/console-new-proc")
    assert "新しい手続きの題" in page and dept in page
    listing = conf.page("/console/procedures")
    row = listing[listing.index("新しい手続きの題"):][:1500]
    assert dept in row
    conf.client.delete(f"/api/drafts/{d['id']}")


def test_the_conflicts_page_lands_a_configurator_too(conf: Staff) -> None:
    """/console/conflicts is guarded by role before any hook runs: its guard lets a configurator's GET through
    to the landing (server.console.landing.or_landing), never to the page."""
    r = conf.client.get("/console/conflicts")
    assert r.status_code == 303 and r.headers["location"] == "/console/procedures"
    assert_problem(conf.client.post("/console/conflicts/1/resolve"), 403, "forbidden")
