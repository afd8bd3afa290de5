"""The counter interview over HTTP against the real server, the shipped library and a real SQLite file: start
from a visit, the derived list as questions change, a refused filing keeps everything and points to the fields,
procedures removed by hand with a reason, finishing files every application on_behalf_of the resident attached to
the visit's parts, 403 for the other roles, and the audit rows."""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from tests.server.conftest import start_real_library
from testsupport.servers import AppServer

# Each test opens visits of the demo residents afresh (one open visit per resident: tests/server/conftest.py).
pytestmark = pytest.mark.usefixtures("no_open_visits")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_real_library(tmp_path_factory.mktemp("interview"), residents=True)
    yield s
    s.stop()


class _Form(HTMLParser):
    """What a browser would post from the page as it is (text inputs, checked boxes and radios)."""

    def __init__(self) -> None:
        super().__init__()
        self.data: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        name, kind = a.get("name"), a.get("type")
        if tag != "input" or not name or kind == "submit":
            return
        if kind in ("radio", "checkbox") and "checked" not in a:
            return
        self.data.append((name, a.get("value") or ""))


def _post(c: httpx.Client, url: str, page: str, **changes: str | list[str]) -> httpx.Response:
    p = _Form()
    p.feed(page)
    data = [(k, v) for k, v in p.data if k not in changes]
    for k, v in changes.items():
        data += [(k, x) for x in (v if isinstance(v, list) else [v])]
    return c.post(url, content=urllib.parse.urlencode(data), follow_redirects=False,
                  headers={"Content-Type": "application/x-www-form-urlencoded"})


def _derived(page: str, list_id: str = "derived") -> list[str]:
    """The titles of the shown items of a list."""
    block = page.split(f'id="{list_id}"', 1)[1].split("</ul>", 1)[0]
    return [m.group(2) for m in re.finditer(r'<li ([^>]*)aria-label="([^"]+)"([^>]*)>', block)
            if " hidden" not in m.group(1) + m.group(3)]


def _audit(srv: AppServer, actor: str, action: str) -> list[tuple[Any, ...]]:
    return srv.db.read_sync(lambda c: [tuple(r) for r in c.execute(
        "SELECT subject, details FROM audit_log WHERE actor = ? AND action = ? ORDER BY id", (actor, action))])


def _visit(c: httpx.Client, resident: str = "R0001") -> str:
    r = c.post("/api/visits", json={"id": str(uuid.uuid4()), "resident_id": resident, "booth": "2番"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _start(c: httpx.Client, vid: str, event: str) -> str:
    r = c.post(f"/console/visits/{vid}/interviews", data={"life_event": event, "id": str(uuid.uuid4())},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def test_moving_within_from_start_to_filed(srv: AppServer) -> None:
    c = srv.login("counter")
    cid = c.account_id  # type: ignore[attr-defined]
    vid = _visit(c)
    visit_page = c.get(f"/console/visits/{vid}").text
    assert "聞き取りを始める" in visit_page and "市内で引っ越した（転居）" in visit_page
    url = _start(c, vid, "moving-within")
    page = c.get(url).text
    # Prefilled from the registry, shown as readable text; the derived list before any answer.
    assert "住民記録より：山田 太郎" in page and 'value="山田"' in page
    assert _derived(page) == ["転居届"] and _derived(page, "derived-out") == ["住民票の写し等交付請求"]
    assert "引っ越した日から14日以内" in page
    # The household is offered as ticks for 異動者.
    assert "山田 花子（妻）" in page

    # 「更新」 with the question answered: the list follows (the server decides without JavaScript).
    r = _post(c, url, page, **{"q.needs_certificate": "yes", "op": "update", "tenkyo.move_date": "2026-12-01"})
    assert r.status_code == 303
    page = c.get(url).text
    assert _derived(page) == ["転居届", "住民票の写し等交付請求"]
    assert "「新しい住所の住民票の写しが必要ですか」がはい" in page
    assert 'value="2026-12-01"' in page  # kept server-side

    # Finishing with fields missing: 422, each error at its field with its label, nothing filed, nothing lost.
    r = _post(c, url, page, op="finish")
    assert r.status_code == 422
    assert "申請はまだ送っていません" in r.text and "転居届：新しい住所" in r.text and "入力してください" in r.text
    assert 'href="#i-s-new_address"' in r.text and 'id="i-s-new_address-err"' in r.text
    # The title says so first; the summary takes the focus (console.js), 200 pages are titled as usual.
    assert "<title>エラー：聞き取り" in r.text and 'class="error-summary" aria-labelledby="err-title" tabindex="-1"' in r.text
    assert "<title>聞き取り" in page
    assert 'value="2026-12-01"' in r.text
    assert srv.db.read_sync(lambda db: db.execute("SELECT count(*) FROM submissions WHERE on_behalf_of = 'R0001'"
                                                  ).fetchone()[0]) == 0

    done = _post(c, url, r.text, op="finish", **{
        "tenkyo.movers": ["0", "1"], "tenkyo.filer_relation": "self", "s.new_postal_code": "3300055",
        "s.new_address.postal_code": "3300055", "s.new_address.prefecture": "埼玉県",
        "s.new_address.city": "さいたま市浦和区", "s.new_address.town": "東高砂町", "s.new_address.block": "8-8",
        "s.new_address.building": "", "juminhyo-copy.relation": "self",
        "juminhyo-copy.certificate_type": "all_household", "juminhyo-copy.copies": "1",
        "juminhyo-copy.purpose": "employment"})
    assert done.status_code == 303, done.text[:2000]
    assert done.headers["location"] == f"/console/visits/{vid}?filed=1"

    v = c.get(f"/api/visits/{vid}").json()
    subs = [s for p in v["parts"] for s in p["submissions"]]
    assert [p["department"] for p in v["parts"]] == ["shimin"] and len(subs) == 2
    rows = srv.db.read_sync(lambda db: sorted(tuple(r) for r in db.execute(
        f"SELECT procedure_id, on_behalf_of, account_id, status FROM submissions WHERE id IN ({','.join('?' * len(subs))})",
        subs)))
    assert rows == [("juminhyo-copy", "R0001", cid, "received"), ("tenkyo", "R0001", cid, "received")]
    answers = srv.db.read_sync(lambda db: db.execute("SELECT answers FROM submissions WHERE procedure_id = 'tenkyo'"
                                                     " AND on_behalf_of = 'R0001'").fetchone()[0])
    assert "東高砂町" in answers and "山田" in answers and "花子" in answers
    steps = [e["step"] for e in v["events"]]
    assert steps[:2] == ["reception", "interview_started"] and steps[-1] == "interview_finished"
    # Audit: the reads of the screen and of the registry profile, the start, each filing and the finish.
    assert _audit(srv, cid, "interview.start")[-1][0] == f"visit:{vid}"
    assert _audit(srv, cid, "interview.read") and any(
        '"via":"interview"' in d for _, d in _audit(srv, cid, "registry.profile_read"))
    assert len(_audit(srv, cid, "submission.file_on_behalf")) >= 2
    assert all(s in _audit(srv, cid, "interview.finish")[-1][1] for s in subs)
    # Filed: the screen says so and a second finish changes nothing.
    assert "申請済み" in c.get(url).text
    again = _post(c, url, page, op="finish")
    assert again.status_code == 409 and "申請済み" in again.text


def test_remove_by_hand_needs_a_reason_and_is_audited(srv: AppServer) -> None:
    c = srv.login("counter")
    vid = _visit(c, "R0005")
    url = _start(c, vid, "moving-within")
    page = c.get(url).text
    r = _post(c, url, page, op="remove", remove_procedure="tenkyo", remove_reason="")
    assert r.status_code == 422 and "理由を入力してください" in r.text
    r = _post(c, url, page, op="remove", remove_procedure="tenkyo", remove_reason="本日は証明書のみ")
    assert r.status_code == 303
    page = c.get(url).text
    assert _derived(page) == [] and "窓口で除外：本日は証明書のみ" in page
    rows = _audit(srv, c.account_id, "interview.procedure_remove")  # type: ignore[attr-defined]
    assert "本日は証明書のみ" in rows[-1][1] and rows[-1][0] == f"visit:{vid}"
    r = _post(c, url, page, op="add", add_procedure="inkan-shomei", add_reason="印鑑証明も必要")
    assert r.status_code == 303
    page = c.get(url).text
    assert _derived(page) == ["印鑑登録証明書交付申請"] and "窓口で追加：印鑑証明も必要" in page
    r = _post(c, url, page, op="restore:tenkyo")
    assert r.status_code == 303 and _derived(c.get(url).text) == ["転居届", "印鑑登録証明書交付申請"]
    # No procedure at all: nothing to file.
    r = _post(c, url, page, op="remove", remove_procedure="tenkyo", remove_reason="本日は証明書のみ")
    r = _post(c, url, c.get(url).text, op="remove", remove_procedure="inkan-shomei", remove_reason="不要")
    assert r.status_code == 303 and _derived(c.get(url).text) == []
    r = _post(c, url, c.get(url).text, op="finish")
    assert r.status_code == 422 and "申請する手続きがありません" in r.text


def test_a_post_reads_and_audits_once(srv: AppServer) -> None:
    """A refused post re-renders the screen from what it read: the visit, the interview and the resident's
    profile each read and audited once (docs/security.md, one entry per read)."""
    c = srv.login("counter")
    vid = _visit(c, "R0005")
    url = _start(c, vid, "moving-within")
    page = c.get(url).text
    actions = ("visit.read", "interview.read", "registry.profile_read")

    def counts() -> list[int]:
        return [len(_audit(srv, c.account_id, a)) for a in actions]  # type: ignore[attr-defined]

    before = counts()
    r = _post(c, url, page, op="remove", remove_procedure="tenkyo", remove_reason="")
    assert r.status_code == 422 and "理由を入力してください" in r.text
    assert [n - b for n, b in zip(counts(), before, strict=True)] == [1, 1, 1]


def test_a_post_reads_the_interviews_procedures_only(srv: AppServer) -> None:
    """A post reads the fields of the interview's procedures (the event's, those added by hand): the draft keeps
    answers of those only, not an empty entry for every procedure of the catalog; one added by hand is
    prefilled from the registry when added."""
    c = srv.login("counter")
    vid = _visit(c, "R0005")
    url = _start(c, vid, "moving-within")
    iid = url.rsplit("/", 1)[1]
    r = _post(c, url, c.get(url).text, op="add", add_procedure="inkan-shomei", add_reason="印鑑証明も必要")
    assert r.status_code == 303, r.text
    assert _post(c, url, c.get(url).text).status_code == 303
    raw = srv.db.read_sync(lambda db: db.execute("SELECT draft FROM interviews WHERE id = ?", (iid,)).fetchone()[0])
    event = json.loads(raw)
    from procedure_definitions.library import load_library

    ev = next(iter(load_library().life_events["moving-within"].values()))
    assert set(event["answers"]) <= {lp.procedure for lp in ev.procedures} | {"inkan-shomei"}
    assert event["answers"]["inkan-shomei"], "added by hand: prefilled from the registry"


def test_other_roles_are_refused(srv: AppServer) -> None:
    c = srv.login("counter")
    vid = _visit(c)
    url = _start(c, vid, "birth")
    assert c.get(url).status_code == 200
    for role, kw in (("resident", {}), ("reviewer", {"department": "shimin"}), ("admin", {})):
        other = srv.login(role, **kw)
        for r in (other.get(url), other.post(url, data={"op": "update"}),
                  other.post(f"/console/visits/{vid}/interviews", data={"life_event": "birth"})):
            assert r.status_code == 403, (role, r.status_code)
            assert r.headers["content-type"].startswith("application/problem+json")


def test_a_closed_visit_files_nothing(srv: AppServer) -> None:
    c = srv.login("counter")
    vid = _visit(c, "R0005")
    url = _start(c, vid, "moving-within")
    page = c.get(url).text
    # No parts yet: the counter may cancel the reception (the resident left mid-interview)...
    assert c.post(f"/api/visits/{vid}/close").json()["status"] == "closed"
    r = _post(c, url, page, op="finish")  # ...and the interview then files nothing
    assert r.status_code == 409 and "終了" in r.text
    assert srv.db.read_sync(lambda db: db.execute(
        "SELECT count(*) FROM submissions WHERE on_behalf_of = 'R0005'").fetchone()[0]) == 0


def test_bad_input_is_4xx(srv: AppServer) -> None:
    c = srv.login("counter")
    vid = _visit(c)
    assert c.post(f"/console/visits/{vid}/interviews", data={"life_event": "no-such"}).status_code == 422
    assert c.post(f"/console/visits/{vid}/interviews", data={"life_event": "birth", "id": "x"}).status_code == 400
    assert c.get(f"/console/visits/{vid}/interviews/{uuid.uuid4()}").status_code == 404
    other = _visit(c, "R0002")  # R0001 has their one open visit: vid
    url = _start(c, other, "birth")
    assert c.get(url.replace(other, vid)).status_code == 404  # an interview of another visit
    # 「戻す」 of a procedure that does not exist: refused (400), nothing audited; of one neither added nor removed
    # (a double click): nothing to restore, nothing audited.
    page = c.get(url).text
    before = _audit(srv, c.account_id, "interview.procedure_restore")  # type: ignore[attr-defined]
    r = _post(c, url, page, op="restore:nosuch")
    assert r.status_code == 400 and "text/html" in r.headers["content-type"]
    assert _post(c, url, page, op="restore:shussei").status_code == 303
    assert _audit(srv, c.account_id, "interview.procedure_restore") == before  # type: ignore[attr-defined]
    new = c.post("/api/visits", json={"id": str(uuid.uuid4()), "person": {"family": "新井", "given": "一"}}).json()
    r = c.post(f"/console/visits/{new['id']}/interviews", data={"life_event": "birth"})
    assert r.status_code == 303  # a person not in the registry is interviewed too (no birth date: typed)


def test_birth_the_newborn_is_offered_in_the_groups_of_people(srv: AppServer) -> None:
    c = srv.login("counter")
    vid = _visit(c, "R0002")  # 山田 花子: her household is offered, then the baby typed in the shared fields
    url = _start(c, vid, "birth")
    page = c.get(url).text
    assert "住民記録より：山田 花子" in page and "陽太" not in page
    r = _post(c, url, page, op="update", **{"q.parent_kokuho": "yes", "s.child_name.given": "陽太",
                                            "s.birth_date": "2026-12-01"})
    assert r.status_code == 303
    page = c.get(url).text
    assert "国民健康保険の加入届（資格取得届）" in _derived(page)
    members = page.split('id="i-kokuho-kanyu-members"', 1)[1].split("</fieldset>", 1)[0]
    baby = re.search(r'value="(\d+)"> 山田 陽太', members)
    assert baby is not None, members
    r = _post(c, url, page, op="update", **{"kokuho-kanyu.members": baby.group(1)})
    assert r.status_code == 303
    draft = srv.db.read_sync(lambda db: db.execute("SELECT draft FROM interviews WHERE visit_id = ?", (vid,)
                                                   ).fetchone()[0])
    assert '"given":"陽太"' in draft and '"2026-12-01"' in draft
    members = c.get(url).text.split('id="i-kokuho-kanyu-members"', 1)[1].split("</fieldset>", 1)[0]
    assert re.search(r'checked> 山田 陽太', members)


def test_moving_in_prefills_from_the_transfer_data(srv: AppServer) -> None:
    from server.demo import DEMO_TRANSFERS
    from server.registry import import_transfers
    from server.transfer import InMemoryMovingService

    srv.db.write_sync(lambda db: import_transfers(db, InMemoryMovingService(DEMO_TRANSFERS),
                                                  [t.resident_id for t in DEMO_TRANSFERS]))
    c = srv.login("counter")
    vid = _visit(c, "R0011")  # 鈴木 大輔, moved in with the national moving service (転出証明書情報)
    url = _start(c, vid, "moving-in")
    page = c.get(url).text
    movers = page.split('id="i-tennyu-movers"', 1)[1].split("</fieldset>", 1)[0]
    # The certificate's movers are the people who moved: offered and ticked, 𠮷 as stored.
    assert re.search(r"checked> 鈴木 大輔", movers) and re.search(r"checked> 鈴木 𠮷乃", movers)
    draft = srv.db.read_sync(lambda db: db.execute("SELECT draft FROM interviews WHERE visit_id = ?", (vid,)
                                                   ).fetchone()[0])
    previous = next(t.previous_address for t in DEMO_TRANSFERS if t.resident_id == "R0011")
    assert previous["town"] and previous["town"] in draft  # the certificate's previous address, kept for the form
    # The life event's shared 前の住所 is prefilled from the certificate, saying so.
    shared = page.split('id="i-s-previous_address-pre"', 1)[1].split("</", 1)[0]
    assert "転出証明書情報より：" in shared and previous["town"] in shared
    # The demo family is fileable as offered: nothing prefilled breaks a field's rule (the registry's member
    # id is no 住民票コード, so nothing maps it into one).
    done = _post(c, url, page, op="finish", **{
        "q.has_children": "no",  # the records suggest はい (𠮷乃 is 7): the clerk files 転入届 alone here
        "tennyu.moved_from": "domestic", "tennyu.tokurei_tennyu": "no", "s.move_date": "2026-12-01",
        "s.new_postal_code": "1010021", "s.new_address.postal_code": "1010021", "s.new_address.prefecture": "東京都",
        "s.new_address.city": "千代田区", "s.new_address.town": "外神田", "s.new_address.block": "1-1",
        "s.head_name.family": "鈴木", "s.head_name.given": "大輔", "tennyu.filer_relation": "self",
        "s.applicant_phone": "090-0000-0000"})
    if done.status_code != 303:
        raise AssertionError(re.findall(r'<li><a href="#([^"]+)">([^<]+)</a> — ([^<]+)</li>', done.text))
    filed = srv.db.read_sync(lambda db: db.execute(
        "SELECT s.answers FROM submissions s JOIN interviews i ON i.visit_id = ?"
        " WHERE s.procedure_id = 'tennyu' AND instr(i.submissions, s.id) > 0", (vid,)).fetchall())
    assert len(filed) == 1 and "𠮷乃" in filed[0][0] and "R0012" not in filed[0][0]


def test_the_live_list_modules_are_served_from_the_pwa(srv: AppServer) -> None:
    c = srv.login("counter")
    for name in ("interview.js", "lifeevent.js", "expr.js", "drafts.js"):
        r = c.get(f"/console/static/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript"), name
    from pathlib import Path

    assert c.get("/console/static/expr.js").content == (Path(__file__).parents[2] / "pwa/js/expr.js").read_bytes()
    for name in ("no-such.js", "Expr.js", "sw.js", "..%2Fsw.js", "index.html"):
        assert c.get(f"/console/static/{name}").status_code == 404, name


def _errors(page: str) -> str:
    block = page.split('class="error-summary"', 1)[1].split("</section>", 1)[0] if "error-summary" in page else ""
    return re.sub(r"<[^>]+>", " ", block)


def test_birth_files_four_applications_to_three_departments(srv: AppServer) -> None:
    c = srv.login("counter")
    vid = _visit(c, "R0002")  # 山田 花子 files for her newborn
    url = _start(c, vid, "birth")
    page = c.get(url).text
    shared = {"q.parent_kokuho": "yes", "q.already_receiving_teate": "no", "q.is_public_servant": "no",
              "s.child_name.given": "陽太", "s.child_kana.given": "ヨウタ", "s.child_sex": "male",
              "s.birth_date": "2026-12-01", "op": "update"}
    assert _post(c, url, page, **shared).status_code == 303
    page = c.get(url).text
    assert _derived(page) == ["出生届", "国民健康保険の加入届（資格取得届）", "児童手当認定請求",
                              "子ども医療費助成の申請（受給資格認定）"]

    def tick(page: str, group: str) -> str:
        members = page.split(f'id="{group}"', 1)[1].split("</fieldset>", 1)[0]
        found = re.search(r'value="(\d+)"(?: checked)?> 山田 陽太', members)
        assert found, members
        return found.group(1)

    r = _post(c, url, page, op="update", **{"kokuho-kanyu.members": tick(page, "i-kokuho-kanyu-members"),
                                            "jido-teate.children": tick(page, "i-jido-teate-children")})
    assert r.status_code == 303
    page = c.get(url).text
    r = _post(c, url, page, op="finish")
    assert r.status_code == 422
    errors = _errors(r.text)
    # A ticked child's own field the registry does not know is asked on the screen and pointed to.
    assert "支給対象児童（高校生年代まで） 1人目" in errors, errors
    # The clerk answers what each error points to (a plausible value by the input's kind), until all is filed.
    for _ in range(5):
        answers = _answer_errors(r.text)
        assert answers, _errors(r.text)
        r = _post(c, url, r.text, op="finish", **answers)
        if r.status_code == 303:
            break
        assert r.status_code == 422
    assert r.status_code == 303, _errors(r.text)
    v = c.get(f"/api/visits/{vid}").json()
    by_department = {p["department"]: len(p["submissions"]) for p in v["parts"]}
    assert sum(by_department.values()) == 4 and len(by_department) == 3, by_department
    rows = srv.db.read_sync(lambda db: {r[0]: r[1] for r in db.execute(
        "SELECT procedure_id, answers FROM submissions WHERE on_behalf_of = 'R0002'")})
    assert set(rows) == {"shussei", "kokuho-kanyu", "jido-teate", "kodomo-iryohi"}
    assert all("陽太" in a for a in rows.values())  # the baby typed once reaches every form


def _answer_errors(page: str) -> dict[str, str | list[str]]:
    """Form values for each field the error summary links to: the first choice, every box of a check list
    (consents), else a value fitting the label."""
    out: dict[str, str | list[str]] = {}
    summary = page.split('class="error-summary"', 1)[1].split("</section>", 1)[0]
    for dom_id in re.findall(r'href="#([^"]+)"', summary):
        m = re.search(rf'<(fieldset|input|select|textarea) id="{re.escape(dom_id)}"', page)
        if m is None:
            continue
        tag = m.group(1)
        end = {"fieldset": "</fieldset>", "select": "</select>"}.get(tag, ">")
        body = page[m.end():page.index(end, m.end())]
        label = re.sub(r"<[^>]+>", "", page[max(0, m.start() - 400):m.start()] + body)
        names = re.findall(r'name="([^"]+)" value="([^"]*)"', body)
        if tag == "fieldset" and 'type="radio"' in body:
            out[names[0][0]] = names[0][1]
        elif tag == "fieldset" and 'type="checkbox"' in body:  # consents: every box; people: as ticked
            ticked = re.findall(r'name="([^"]+)" value="([^"]*)" checked', body)
            out[names[0][0]] = [v for _, v in (ticked or names)]
        elif tag == "fieldset":  # a name or an address, part by part
            for name, _ in re.findall(r'name="([^"]+)" value="([^"]*)"', body):
                part = name.rsplit(".", 1)[1]
                out[name] = {"family": "山田", "given": "太郎", "postal_code": "1000001", "prefecture": "東京都",
                             "city": "千代田区", "town": "千代田", "block": "1-1-1", "building": ""}.get(part, "1")
        elif tag == "select":
            out[re.search(r'name="([^"]+)"', body)[1]] = re.findall(r'<option value="([^"]+)"', body)[0]
        else:
            name = re.search(r'name="([^"]+)"', body)[1]
            kind = re.search(r'type="([^"]+)"', body)
            out[name] = ("2026-12-01" if kind and kind[1] == "date" else "090-1234-5678" if kind and kind[1] == "tel"
                         else "123456789018" if "個人番号" in label[-200:] else "10:30" if "時刻" in label[-200:]
                         else "1234567" if "番号" in label[-120:] else "ヤマダ ハナコ" if "カナ" in label[-120:]
                         else "テスト")
    return out


def test_a_person_field_picks_one_of_the_household_and_fills_its_fields(srv: AppServer) -> None:
    c = srv.login("counter")
    vid = _visit(c)  # 山田 太郎 (R0001): his household is offered, he himself not (pick_self: false)
    url = _start(c, vid, "death")
    page = c.get(url).text
    box = page.split('id="i-s-deceased_person"', 1)[1].split("</fieldset>", 1)[0]
    assert "山田 花子（妻）" in box and "山田 一郎（子）" in box and "ここにない人（入力する）" in box
    assert "山田 太郎" not in box
    # The procedures' own person fields are filled by the shared one: not asked twice.
    assert 'id="i-shibo-deceased_person"' not in page and 'id="i-sosaihi-deceased_person"' not in page

    # Picking 花子 fills the name, birth date and 本籍 from the registry; a value typed with the pick stays.
    r = _post(c, url, page, **{"s.deceased_person": "R0002", "s.death_date": "2026-12-01", "op": "update"})
    assert r.status_code == 303
    page = c.get(url).text
    assert re.search(r'value="R0002" checked', page)
    assert 'name="s.deceased_name.given" value="花子"' in page and 'value="1982-09-30"' in page
    assert 'value="2026-12-01"' in page
    shared = srv.db.read_sync(lambda db: db.execute("SELECT draft FROM interviews WHERE visit_id = ?", (vid,)
                                                    ).fetchone()[0])
    assert '"deceased_person":"R0002"' in shared

    # The clerk corrects the given name, then picks 一郎: the corrected value stays, the filled ones follow.
    r = _post(c, url, page, **{"s.deceased_name.given": "花代", "op": "update"})
    page = c.get(url).text
    r = _post(c, url, page, **{"s.deceased_person": "R0003", "op": "update"})
    page = c.get(url).text
    assert 'name="s.deceased_name.given" value="花代"' in page and 'value="2015-06-01"' in page

    # 「ここにない人」: the values still as filled are cleared, the typed one stays, nobody is picked.
    r = _post(c, url, page, **{"s.deceased_person": "", "op": "update"})
    page = c.get(url).text
    assert 'value="2015-06-01"' not in page and 'name="s.deceased_name.given" value="花代"' in page
    assert not re.search(r'value="R000\d" checked', page)
    # An id nobody offered (the filer, or a made-up one) picks nobody: nothing filled.
    r = _post(c, url, page, **{"s.deceased_person": "R0001", "op": "update"})
    assert r.status_code == 303
    page = c.get(url).text
    assert 'name="s.deceased_birth_date" value=""' in page and not re.search(r'value="R000\d" checked', page)


def test_a_group_typed_row_by_row_adds_and_removes_rows(srv: AppServer) -> None:
    c = srv.login("counter")
    vid = _visit(c, "R0002")
    url = _start(c, vid, "birth")
    page = c.get(url).text
    siblings = page.split('id="i-jido-teate-older_siblings"', 1)[1].split('<div class="field', 1)[0]
    assert "行がありません" in siblings and "行を追加（大学生年代の兄姉" in siblings
    r = _post(c, url, page, op="row_add:jido-teate.older_siblings")
    assert r.status_code == 303 and r.headers["location"].endswith("#i-jido-teate-older_siblings-0")
    page = c.get(url).text
    assert 'name="jido-teate.older_siblings.0.sibling_name.family"' in page and "兄姉 1" in page
    assert "この行を削除（兄姉 1）" in page
    r = _post(c, url, page, op="row_add:jido-teate.older_siblings", **{
        "jido-teate.older_siblings.0.sibling_name.family": "山田", "jido-teate.older_siblings.0.sibling_name.given": "一子",
        "jido-teate.older_siblings.0.sibling_birth_date": "2005-04-01"})
    assert r.headers["location"].endswith("-1")
    page = c.get(url).text
    assert 'name="jido-teate.older_siblings.0.sibling_name.given" value="一子"' in page
    assert 'name="jido-teate.older_siblings.1.sibling_name.given" value=""' in page
    r = _post(c, url, page, op="row_del:jido-teate.older_siblings:0", **{
        "jido-teate.older_siblings.1.sibling_name.given": "二子"})
    assert r.status_code == 303
    page = c.get(url).text
    assert 'name="jido-teate.older_siblings.0.sibling_name.given" value="二子"' in page
    assert "一子" not in page and 'name="jido-teate.older_siblings.1.' not in page
    draft = srv.db.read_sync(lambda db: db.execute("SELECT draft FROM interviews WHERE visit_id = ?", (vid,)
                                                   ).fetchone()[0])
    rows = json.loads(draft)["answers"]["jido-teate"]["older_siblings"]
    assert [r["sibling_name"]["given"] for r in rows] == ["二子"] and "sibling_birth_date" not in rows[0]
    # At most max (5) rows: the sixth is refused with a message, the button gone; a bad row op is refused too.
    for _ in range(4):
        page = c.get(url).text
        assert _post(c, url, page, op="row_add:jido-teate.older_siblings").status_code == 303
    page = c.get(url).text
    assert "行を追加（大学生年代の兄姉" not in page and "兄姉 5" in page
    r = _post(c, url, page, op="row_add:jido-teate.older_siblings")
    assert r.status_code == 422 and "5行までです" in r.text
    for op in ("row_del:jido-teate.older_siblings:9", "row_add:jido-teate.is_public_servant", "row_add:nope.x", "row_del:x"):
        r = _post(c, url, c.get(url).text, op=op)
        assert r.status_code == 422, op


def test_marriage_witnesses_two_rows_and_a_person_field_shown_on_its_condition(srv: AppServer) -> None:
    c = srv.login("counter")
    vid = _visit(c, "R0002")
    url = _start(c, vid, "marriage")
    page = c.get(url).text
    # 証人 min 2 = max 2: two rows to fill, no 「行を追加」.
    assert 'name="konin.witnesses.1.witness_honseki"' in page and 'name="konin.witnesses.2.' not in page
    assert 'value="row_add:konin.witnesses"' not in page and 'value="row_del:konin.witnesses:1"' in page
    # A person's own field shown on a condition of the person's item: the newborn's 同居 answered いいえ shows
    # the child's address (without JavaScript, after 「更新」). The same visit: one open visit per resident.
    url = _start(c, vid, "birth")
    page = c.get(url).text
    assert _post(c, url, page, op="update", **{"s.child_name.given": "陽太", "s.birth_date": "2026-12-01"}
                 ).status_code == 303
    page = c.get(url).text
    children = page.split('id="i-jido-teate-children"', 1)[1].split("</fieldset>", 1)[0]
    baby = re.search(r'value="(\d+)"> 山田 陽太', children)
    assert baby is not None
    assert _post(c, url, page, op="update", **{"jido-teate.children": baby.group(1)}).status_code == 303
    page = c.get(url).text
    lives = f'jido-teate.children.{baby.group(1)}.child_lives_with'
    assert f'name="{lives}"' in page
    address = re.search(r'<div class="field"[^>]*data-field="jido-teate\.children\.' + baby.group(1)
                        + r'\.child_address"[^>]*>', page)
    assert address is not None and " hidden" in address.group(0) and "data-show-if" in address.group(0)
    assert _post(c, url, page, op="update", **{lives: "no"}).status_code == 303
    page = c.get(url).text
    address = re.search(r'<div class="field"[^>]*data-field="jido-teate\.children\.' + baby.group(1)
                        + r'\.child_address"[^>]*>', page)
    assert address is not None and " hidden" not in address.group(0)


def _new_person_visit(c: httpx.Client, family: str, given: str, birth_date: str) -> str:
    r = c.post("/api/visits", json={"id": str(uuid.uuid4()), "booth": "3番",
                                    "person": {"family": family, "given": given, "birth_date": birth_date}})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_a_new_person_is_interviewed_from_their_transfer_data_or_typed(srv: AppServer) -> None:
    from server.demo import DEMO_TRANSFERS
    from server.registry import import_transfers
    from server.transfer import InMemoryMovingService

    srv.db.write_sync(lambda db: import_transfers(db, InMemoryMovingService(DEMO_TRANSFERS),
                                                  [t.resident_id for t in DEMO_TRANSFERS]))
    c = srv.login("counter")
    cid = c.account_id  # type: ignore[attr-defined]
    # Typed at reception as 吉乃 with a 和暦 birth date: the certificate's 𠮷乃 born 2019-10-02 by the one fold.
    vid = _new_person_visit(c, "鈴木", "吉乃", "令和元年10月2日")
    assert "聞き取りを始める" in c.get(f"/console/visits/{vid}").text
    url = _start(c, vid, "moving-in")
    page = c.get(url).text
    movers = page.split('id="i-tennyu-movers"', 1)[1].split("</fieldset>", 1)[0]
    assert re.search(r"checked> 鈴木 大輔", movers) and re.search(r"checked> 鈴木 𠮷乃", movers)
    assert "転出証明書情報より：" in page and "住民記録より" not in page  # not in the registry: never 住民記録
    draft = srv.db.read_sync(lambda db: db.execute("SELECT draft FROM interviews WHERE visit_id = ?", (vid,)
                                                   ).fetchone()[0])
    assert "梅田" in draft  # the certificate's previous address
    reads = _audit(srv, cid, "registry.transfer_read")
    assert reads and reads[-1][0] == "transfer:T-2026-0001" and vid in reads[-1][1]
    # Updating works too (no registry record behind the visit).
    assert _post(c, url, page, op="update").status_code == 303

    # The wrong birth date matches nobody: only what was typed at reception, the rest typed by the clerk.
    vid = _new_person_visit(c, "鈴木", "吉乃", "2019-10-03")
    before = len(_audit(srv, cid, "registry.transfer_read"))
    url = _start(c, vid, "moving-in")
    page = c.get(url).text
    assert "受付の入力より：鈴木 吉乃" in page and "転出証明書情報より" not in page and "住民記録より" not in page
    assert "鈴木 大輔" not in page.split('id="i-tennyu-movers"', 1)[1].split("</fieldset>", 1)[0]
    assert len(_audit(srv, cid, "registry.transfer_read")) == before
    r = _post(c, url, page, op="finish")
    assert r.status_code == 422 and "申請はまだ送っていません" in r.text


@pytest.mark.parametrize(("family", "given"), [("スズキ", "ダイスケ"), ("すずき", "だいすけ"), ("ｽｽﾞｷ", "ﾀﾞｲｽｹ"),
                                               ("鈴木", "だいすけ"), ("すずき　", "大輔")])
def test_a_name_typed_in_kana_at_reception_matches_the_transfer_data(srv: AppServer, family: str, given: str
                                                                    ) -> None:
    """The certificate carries the movers' kana: a name typed as heard (ひらがな, カタカナ, half width, one part
    in kanji) is the mover's by the one fold, with the birth date; another birth date still matches nobody."""
    from server.demo import DEMO_TRANSFERS
    from server.registry import import_transfers
    from server.transfer import InMemoryMovingService

    srv.db.write_sync(lambda db: import_transfers(db, InMemoryMovingService(DEMO_TRANSFERS),
                                                  [t.resident_id for t in DEMO_TRANSFERS]))
    c = srv.login("counter")
    page = c.get(_start(c, _new_person_visit(c, family, given, "1988-05-20"), "moving-in")).text
    assert "転出証明書情報より：" in page and "梅田" in page
    page = c.get(_start(c, _new_person_visit(c, family, given, "1988-05-21"), "moving-in")).text
    assert "転出証明書情報より" not in page and "梅田" not in page


def test_no_life_event_procedure_requires_an_attachment() -> None:
    """The interview takes no file (the counter sees the paper original; docs/api.md states the limit): a
    procedure it may file (a life event's, or any staff may file, added by hand) with a required attachment
    field could never be filed from it."""
    from procedure_definitions.library import load_library
    from procedure_definitions.model import AttachmentField, GroupField

    lib = load_library()
    reached = {lp.procedure for vs in lib.life_events.values() for e in vs.values() for lp in e.procedures}
    assert reached
    reached |= {pid for pid, vs in lib.procedures.items() if any("staff" in p.filers for p in vs.values())}
    blocking = []
    seen = 0
    for pid in reached:
        for proc in lib.procedures[pid].values():
            for s in proc.sections:
                for f in s.fields:
                    inner = f.fields if isinstance(f, GroupField) else [f]
                    for x in inner:
                        if isinstance(x, AttachmentField):
                            seen += 1
                            if x.required or x.required_if:
                                blocking.append(f"{pid}:{x.id}")
    assert seen > 0  # the shipped library has attachment fields: the check looks at real ones
    assert blocking == []


def test_a_new_person_without_transfer_data_types_the_movers_and_files(srv: AppServer) -> None:
    """No 転出証明書情報: the movers (a group of people) take rows typed by the clerk; 転入届 is filed for
    nobody in the registry (no on_behalf_of), attached to the visit. The name typed in kana at reception gives
    way, on the queue and the 受付案内票, to the name the application carries (what the resident signs)."""
    import shutil

    from tests.server.test_printing_pdf import pdftotext

    c = srv.login("counter")
    vid = _new_person_visit(c, "アライ", "ヨシオ", "平成元年1月9日")
    url = _start(c, vid, "moving-in")
    page = c.get(url).text
    movers = page.split('id="i-tennyu-movers"', 1)[1].split("</fieldset>", 1)[0]
    assert "選べる方がいません" in movers and 'value="row_add:tennyu.movers"' in page
    r = _post(c, url, page, op="row_add:tennyu.movers")
    assert r.status_code == 303 and r.headers["location"].endswith("#i-tennyu-movers-r0")
    page = c.get(url).text
    assert "1（手入力）</legend>" in page and 'name="tennyu.movers._row" value="r0"' in page
    # A second row added then deleted: the first stays.
    assert _post(c, url, page, op="row_add:tennyu.movers").headers["location"].endswith("-r1")
    page = c.get(url).text
    assert _post(c, url, page, op="row_del:tennyu.movers:1").status_code == 303
    page = c.get(url).text
    assert 'value="r0"' in page and 'value="r1"' not in page
    row = "tennyu.movers.r0"
    done = _post(c, url, page, op="finish", **{
        "tennyu.moved_from": "domestic", "tennyu.tokurei_tennyu": "yes", "s.move_date": "2026-12-01",
        "s.new_postal_code": "3300055", "s.new_address.postal_code": "3300055", "s.new_address.prefecture": "埼玉県",
        "s.new_address.city": "さいたま市浦和区", "s.new_address.town": "東高砂町", "s.new_address.block": "8-8",
        "s.head_name.family": "新井", "s.head_name.given": "𠮷男", "tennyu.filer_relation": "self",
        "s.applicant_name.family": "新井", "s.applicant_name.given": "𠮷男",
        "s.applicant_phone": "048-000-0000", "tennyu.previous_postal_code": "5300001",
        "s.previous_address.prefecture": "大阪府", "s.previous_address.city": "大阪市北区",
        "s.previous_address.town": "梅田", "s.previous_address.block": "1-2-3",
        f"{row}.mover_name.family": "新井", f"{row}.mover_name.given": "𠮷男",
        f"{row}.mover_kana.family": "アライ", f"{row}.mover_kana.given": "ヨシオ",
        f"{row}.mover_birth_date": "1989-01-09", f"{row}.mover_sex": "male", f"{row}.mover_relationship": "世帯主"})
    if done.status_code != 303:
        errs = re.findall(r'<li><a href="#([^"]+)">([^<]+)</a> — ([^<]+)</li>', done.text)
        raise AssertionError(errs)
    rows = srv.db.read_sync(lambda db: db.execute(
        "SELECT s.on_behalf_of, s.answers, s.receipt_number FROM submissions s JOIN interviews i ON i.visit_id = ?"
        " WHERE s.procedure_id = 'tennyu' AND instr(i.submissions, s.id) > 0", (vid,)).fetchall())
    assert len(rows) == 1 and rows[0][0] is None and "𠮷男" in rows[0][1] and "アライ" in rows[0][1]
    assert "アライ ヨシオ" in c.get(f"/console/visits/{vid}").text  # the visit: as typed at reception
    queue = c.get("/console/", params={"q": rows[0][2]}).text
    row = queue.split("<tbody", 1)[1].split(rows[0][2], 1)[1].split("</tr>", 1)[0]
    assert "新井 𠮷男" in row and "ヨシオ" not in row
    if shutil.which("pdftotext"):
        guide = pdftotext(c.get(f"/console/visits/{vid}/guide.pdf").content)
        assert "新井 𠮷男" in guide and "ヨシオ" not in guide


def test_a_partial_wareki_date_is_a_text_input() -> None:
    """A date that may be partial (1950-03: the registry's birth date of 髙橋 幸子) would be dropped by a date input
    and posted empty: it is text; a full date stays a date input."""
    from procedure_definitions.model import Text, WarekiField
    from server.console.interview_form import widget

    partial = WarekiField(id="d", label=Text(ja="生年月日"), allow_partial=True)
    w = widget(partial, "x", "1950-03", prefilled=False, source=None, profile={}, resident_id="")
    assert (w.input_type, w.value) == ("text", "1950-03") and "昭和25年3月" in w.hint
    full = WarekiField(id="d", label=Text(ja="生年月日"))
    assert widget(full, "x", None, prefilled=False, source=None, profile={}, resident_id="").input_type == "date"
    # The death event's shared 亡くなった方の生年月日 has no flag of its own (compile.py derives it from the person
    # pick that fills it): the partial value the pick gave stays visible, never dropped by a date input.
    picked = widget(full, "x", "1950-03", prefilled=True, source="registry", profile={}, resident_id="")
    assert (picked.input_type, picked.value) == ("text", "1950-03")
    assert widget(full, "x", "1950-03-02", prefilled=False, source=None, profile={}, resident_id="").input_type == "date"


def _finish_moving_within(c: httpx.Client, url: str, page: str) -> httpx.Response:
    r = _post(c, url, page, **{"q.needs_certificate": "yes", "op": "update"})
    assert r.status_code == 303, r.text[:500]
    return _post(c, url, c.get(url).text, op="finish", **{
        "tenkyo.move_date": "2026-12-01", "tenkyo.movers": ["0"], "s.applicant_phone": "090-1234-5678",
        "tenkyo.filer_relation": "self", "s.new_postal_code": "3300055", "s.new_address.postal_code": "3300055",
        "s.new_address.prefecture": "埼玉県", "s.new_address.city": "さいたま市浦和区",
        "s.new_address.town": "東高砂町", "s.new_address.block": "8-8", "s.new_address.building": "",
        "juminhyo-copy.relation": "self", "juminhyo-copy.certificate_type": "all_household",
        "juminhyo-copy.copies": "1", "juminhyo-copy.purpose": "employment"})


def test_finishing_files_every_application_or_none(srv: AppServer) -> None:
    """One write job: when the second application cannot be stored (its id already holds another body), the
    first is not filed either, the visit gets no part and the interview stays open; then it files once."""
    from procedure_definitions.library import load_library
    from server.console.interview_pages import _NS
    from tests.server.test_visit_documents import _audits as _seen_audits
    from tests.server.test_visit_documents import _seen_rows

    c = srv.login("counter")
    vid = _visit(c, "R0006")
    url = _start(c, vid, "moving-within")
    iid = url.rsplit("/", 1)[1]
    proc = load_library().latest("juminhyo-copy")
    assert proc is not None
    # Something else already holds the id the interview's 住民票の写し would take.
    taken = str(uuid.uuid5(_NS, f"{iid}/juminhyo-copy"))
    r = c.post("/api/submissions", json={"id": taken, "procedure_id": proc.id, "procedure_version": proc.version,
                                         "answers": dict(proc.scenarios[0].answers), "on_behalf_of": "R0007"})
    assert r.status_code == 201, r.text

    def filed() -> list[str]:
        return srv.db.read_sync(lambda db: [str(x[0]) for x in db.execute(
            "SELECT procedure_id FROM submissions WHERE on_behalf_of = 'R0006' ORDER BY procedure_id")])

    # The clerk also ticked the papers seen (stored in the same write job: not without the applications).
    r = _post(c, url, c.get(url).text, op="update", **{"_docs.tenkyo": ["id_document"]})
    assert r.status_code == 303, r.text[:500]
    r = _finish_moving_within(c, url, c.get(url).text)
    assert r.status_code == 422 and "どの申請も送っていません" in r.text, r.text[:1500]
    assert filed() == []  # 転居届 came first and was checked fine: not written without the rest
    assert _seen_rows(srv, vid) == [] and _seen_audits(srv, vid) == []
    v = c.get(f"/api/visits/{vid}").json()
    assert v["parts"] == [] and "interview_finished" not in [e["step"] for e in v["events"]]
    assert srv.db.read_sync(lambda db: db.execute("SELECT state FROM interviews WHERE id = ?", (iid,)).fetchone()[0]
                            ) == "open"

    # Starting the event again opens the same interview (one per life event per visit): nothing filed twice.
    assert _start(c, vid, "moving-within") == url
    assert "管理者に連絡してください" in _finish_moving_within(c, url, c.get(url).text).text
    assert filed() == []


def test_one_interview_per_life_event_per_visit(srv: AppServer) -> None:
    """Back and 聞き取りを始める again (a new form id), or two clicks racing, open the one interview of the event;
    once filed, the event is refused (409, the way to the filed applications) and not offered again."""
    from concurrent.futures import ThreadPoolExecutor

    c = srv.login("counter")
    vid = _visit(c, "R0005")
    url = _start(c, vid, "moving-within")

    def reads() -> int:  # the personal data a start reads (audited)
        return sum(len(_audit(srv, c.account_id, a))  # type: ignore[attr-defined]
                   for a in ("registry.profile_read", "visit.preentry_read"))

    before = reads()
    assert _start(c, vid, "moving-within") == url  # the browser's Back, then the start again
    assert reads() == before  # answered before the registry is read: nothing read for nothing
    other = _start(c, vid, "birth")  # another life event of the same visit: its own interview
    assert other != url
    with ThreadPoolExecutor(2) as pool:  # two starts racing (each its own form id): one interview
        raced = list(pool.map(lambda _: _start(c, vid, "moving-within"), range(2)))
    assert raced == [url, url]
    assert srv.db.read_sync(lambda db: db.execute("SELECT count(*) FROM interviews WHERE visit_id = ?",
                                                  (vid,)).fetchone()[0]) == 2
    page = c.get(f"/console/visits/{vid}").text
    assert "市内で引っ越した（転居）（聞き取り中：続きを開きます）</option>" in page
    assert _finish_moving_within(c, url, c.get(url).text).status_code == 303

    r = c.post(f"/console/visits/{vid}/interviews", data={"life_event": "moving-within", "id": str(uuid.uuid4())},
               follow_redirects=False)
    assert r.status_code == 409 and "申請済みの手続きは" in r.text and "text/html" in r.headers["content-type"]
    before = reads()
    assert c.post(f"/console/visits/{vid}/interviews", data={"life_event": "moving-within"}).status_code == 409
    assert reads() == before  # refused before any read
    page = c.get(f"/console/visits/{vid}").text
    option = re.search(r'<option value="moving-within"[^>]*>[^<]*</option>', page)
    assert option and " disabled" in option[0] and "（申請済み）" in option[0], option
    rows = srv.db.read_sync(lambda db: [r[0] for r in db.execute(
        "SELECT procedure_id FROM submissions WHERE on_behalf_of = 'R0005' ORDER BY procedure_id")])
    assert rows == ["juminhyo-copy", "tenkyo"]  # each once


def test_the_last_part_done_waits_for_an_open_interview(srv: AppServer) -> None:
    """A department completes the visit's last part while the counter still interviews the resident (聞き取り中):
    the visit stays open (the interview's filing adds parts); the counter closes it after; with no interview
    open, the last part done closes the visit."""
    c = srv.login("counter")
    vid = _visit(c, "R0005")
    first = _start(c, vid, "moving-within")
    assert _finish_moving_within(c, first, c.get(first).text).status_code == 303
    second = _start(c, vid, "birth")  # 聞き取り中
    departments = [p["department"] for p in c.get(f"/api/visits/{vid}").json()["parts"]]
    assert departments
    for d in departments:
        assert c.post(f"/api/visits/{vid}/parts/{d}/take").status_code == 200
        assert c.post(f"/api/visits/{vid}/parts/{d}/complete").status_code == 200
    v = c.get(f"/api/visits/{vid}").json()
    assert v["status"] == "open" and "closed" not in [e["step"] for e in v["events"]]
    assert c.get(second).status_code == 200
    r = c.post(f"/api/visits/{vid}/close")  # the counter ends it (the resident left, or after filing)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    # No interview open: the department's last 完了 closes the visit (「the last part closes the visit」).
    vid = _visit(c, "R0005")
    url = _start(c, vid, "moving-within")
    assert _finish_moving_within(c, url, c.get(url).text).status_code == 303
    shimin = srv.login("reviewer", department="shimin")
    for d in [p["department"] for p in c.get(f"/api/visits/{vid}").json()["parts"]]:
        worker = shimin if d == "shimin" else c
        assert worker.post(f"/api/visits/{vid}/parts/{d}/take").status_code == 200
        assert worker.post(f"/api/visits/{vid}/parts/{d}/complete").status_code == 200
    assert c.get(f"/api/visits/{vid}").json()["status"] == "closed"


def test_a_required_if_field_is_marked_when_filing_requires_it(srv: AppServer) -> None:
    """子ども医療費's 被保険者の氏名 is required unless the insurance is pending: marked （必須） as saved (and
    live by the same form engine in interview.js), so the clerk is never refused for a field the screen called
    optional."""
    c = srv.login("counter")
    vid = _visit(c)
    url = _start(c, vid, "moving-in")
    page = c.get(url).text
    r = _post(c, url, page, **{"q.has_children": "yes", "op": "add", "add_procedure": "kodomo-iryohi",
                                "add_reason": "子どもがいる"})
    page = c.get(url).text

    def marker(page: str) -> str:
        box = page.split('data-field="kodomo-iryohi.insured_person_name"', 1)[1].split("</legend>", 1)[0]
        return box.split('<span class="req"', 1)[1].split(">", 1)[0]

    assert "kodomo-iryohi" in page
    r = _post(c, url, page, **{"kodomo-iryohi.insurance_type": "shaho", "op": "update"})
    assert r.status_code == 303
    page = c.get(url).text
    assert "hidden" not in marker(page)  # required now: shown
    r = _post(c, url, page, **{"kodomo-iryohi.insurance_type": "pending", "op": "update"})
    page = c.get(url).text
    assert "hidden" in marker(page)  # not required while pending
    # The insured parent is one pick from the household (no name typed).
    box = page.split('data-field="kodomo-iryohi.insured_person"', 1)[1].split("</fieldset>", 1)[0]
    assert "山田 太郎" in box and "山田 花子（妻）" in box


def test_a_procedure_added_by_hand_shows_and_folds_what_the_records_filled(srv: AppServer) -> None:
    """国民年金 added by hand to a 転居 interview: prefilled from the registry as the event's own procedures are,
    each value shown 「住民記録より：…」 and folded into 「記録から入力済み」 (one Tab stop), kept across posts."""
    c = srv.login("counter")
    vid = _visit(c)
    url = _start(c, vid, "moving-within")
    page = c.get(url).text
    assert 'data-procedure="kokumin-nenkin"' not in page.split('id="derived"', 1)[1].split("</ul>", 1)[0]
    r = _post(c, url, page, op="add", add_procedure="kokumin-nenkin", add_reason="第1号被保険者の届出も")
    assert r.status_code == 303, r.text[:500]
    page = c.get(url).text
    section = page.split('<section class="procedure" data-procedure="kokumin-nenkin"', 1)[1].split("</section>", 1)[0]
    fold = section.split('<details class="fold">', 1)[1].split("</summary>", 1)[0]
    assert "記録から入力済み" in fold and "住民記録より：山田 太郎" in fold, fold
    prefilled = srv.db.read_sync(lambda db: db.execute("SELECT prefilled FROM interviews WHERE id = ?",
                                                       (url.rsplit("/", 1)[1],)).fetchone()[0])
    assert '"kokumin-nenkin:' in prefilled
    # An update keeps them (the keys are the interview's, not the post's).
    assert _post(c, url, page, op="update").status_code == 303
    assert "住民記録より：山田 太郎" in c.get(url).text.split('data-procedure="kokumin-nenkin"', 2)[-1]


def test_marriage_asks_the_partner_and_files_the_whole_konin(srv: AppServer) -> None:
    """婚姻届 at the counter: staff file the whole application (both parts), so the screen asks 「相手の方」 too,
    typed (never the resident's own record); answering what the summary lists files it."""
    c = srv.login("counter")
    vid = _visit(c, "R0002")
    url = _start(c, vid, "marriage")
    page = c.get(url).text
    assert 'name="konin.partner_name.family" value=""' in page, "the partner's name is asked, empty"
    assert 'name="konin.partner_honseki" value=""' in page
    # What the generic answers below would get wrong: ages, the kana, the household's work.
    known = {"konin.partner_birth_date": "1990-04-01", "konin.witnesses.0.witness_birth_date": "1960-01-01",
             "konin.witnesses.1.witness_birth_date": "1961-01-01", "konin.household_occupation": "employee_small"}
    known |= {k: v for k, v in (("konin.partner_kana", "スズキ イチロウ"), ("konin.partner_kana.family", "スズキ"),
                                ("konin.partner_kana.given", "イチロウ")) if f'name="{k}"' in page}
    r = _post(c, url, page, op="finish", **known)
    for _ in range(6):
        assert r.status_code == 422, r.text[:500]
        answers = _answer_errors(r.text) | known
        r = _post(c, url, r.text, op="finish", **answers)
        if r.status_code == 303:
            break
    assert r.status_code == 303, _errors(r.text)
    answers = srv.db.read_sync(lambda db: db.execute(
        "SELECT answers FROM submissions WHERE procedure_id = 'konin' AND on_behalf_of = 'R0002'").fetchone()[0])
    assert '"partner_name"' in answers and '"partner_honseki"' in answers


def test_a_procedure_filed_in_the_visit_is_not_derived_again(srv: AppServer) -> None:
    """転居 then 転入 in one visit: 住民票の写し, filed by the first, is 「この来庁で申請済み（受付番号 …）」 in the
    second, not included and not filed again; the clerk's add by hand with a reason files it again (a later
    interview of the visit: the explicit override)."""
    from server.demo import DEMO_TRANSFERS
    from server.registry import import_transfers
    from server.transfer import InMemoryMovingService

    srv.db.write_sync(lambda db: import_transfers(db, InMemoryMovingService(DEMO_TRANSFERS),
                                                  [t.resident_id for t in DEMO_TRANSFERS]))

    def filed(pid: str) -> list[str]:
        return srv.db.read_sync(lambda db: [str(r[0]) for r in db.execute(
            "SELECT receipt_number FROM submissions WHERE procedure_id = ? AND on_behalf_of = 'R0011'", (pid,))])

    before = len(filed("juminhyo-copy"))
    c = srv.login("counter")
    vid = _visit(c, "R0011")
    url = _start(c, vid, "moving-within")
    assert _finish_moving_within(c, url, c.get(url).text).status_code == 303
    number = filed("juminhyo-copy")[-1]
    assert len(filed("juminhyo-copy")) == before + 1

    url = _start(c, vid, "moving-in")
    r = _post(c, url, c.get(url).text, op="update", **{"q.needs_certificate": "yes", "q.has_children": "no"})
    assert r.status_code == 303
    page = c.get(url).text
    assert "住民票の写し等交付請求" not in _derived(page) and "住民票の写し等交付請求" in _derived(page, "derived-out")
    assert f"この来庁で申請済み（受付番号 {number}）" in page
    assert f'data-filed="{number}"' in page  # the live list (interview.js) keeps it out as the answers change
    assert re.search(rf'<option value="juminhyo-copy">[^<]*（この来庁で申請済み 受付番号 {number}）</option>', page)
    done = _post(c, url, page, op="finish", **{
        "tennyu.moved_from": "domestic", "tennyu.tokurei_tennyu": "no", "s.move_date": "2026-12-01",
        "s.new_postal_code": "1010021", "s.new_address.postal_code": "1010021", "s.new_address.prefecture": "東京都",
        "s.new_address.city": "千代田区", "s.new_address.town": "外神田", "s.new_address.block": "1-1",
        "s.head_name.family": "鈴木", "s.head_name.given": "大輔", "tennyu.filer_relation": "self",
        "s.applicant_phone": "090-0000-0000"})
    if done.status_code != 303:  # its 住民票の写し fields are empty: included, it would refuse
        raise AssertionError(re.findall(r'<li><a href="#([^"]+)">([^<]+)</a> — ([^<]+)</li>', done.text))
    assert len(filed("juminhyo-copy")) == before + 1 and len(filed("tennyu")) >= 1
    # The finish's check inside its write job (another interview filed since the screen was read): what the visit
    # holds now, every part's; a procedure added by hand passes.
    from server.storage.interviews import filed_again, filed_in_visit

    assert srv.db.read_sync(lambda db: filed_in_visit(db, vid))["juminhyo-copy"] == number
    assert srv.db.read_sync(lambda db: filed_in_visit(db, vid, set())) == {}
    assert srv.db.read_sync(lambda db: filed_again(db, vid, {"juminhyo-copy", "shussei"}, {})) == ["juminhyo-copy"]
    assert srv.db.read_sync(lambda db: filed_again(db, vid, {"juminhyo-copy"}, {"juminhyo-copy": "2通目"})) == []

    # A third interview of the visit: added by hand with a reason, it is filed once more (the override).
    url = _start(c, vid, "birth")
    page = c.get(url).text
    for title in _derived(page):
        pid = re.search(rf'<li data-procedure="([\w-]+)"[^>]*aria-label="{title}"', page)
        assert pid
        assert _post(c, url, c.get(url).text, op="remove", remove_procedure=pid[1],
                     remove_reason="この来庁では申請しない").status_code == 303
    r = _post(c, url, c.get(url).text, op="add", add_procedure="juminhyo-copy", add_reason="")
    assert r.status_code == 422 and "理由を入力してください" in r.text
    r = _post(c, url, c.get(url).text, op="add", add_procedure="juminhyo-copy", add_reason="提出先が別のため2通目")
    assert r.status_code == 303
    page = c.get(url).text
    assert _derived(page) == ["住民票の写し等交付請求"] and "窓口で追加：提出先が別のため2通目" in page
    done = _post(c, url, page, op="finish", **{
        "juminhyo-copy.relation": "self", "juminhyo-copy.certificate_type": "all_household",
        "juminhyo-copy.copies": "1", "juminhyo-copy.purpose": "employment"})
    if done.status_code != 303:
        raise AssertionError(re.findall(r'<li><a href="#([^"]+)">([^<]+)</a> — ([^<]+)</li>', done.text))
    assert len(filed("juminhyo-copy")) == before + 2


def test_a_name_with_a_bidi_override_or_a_control_character_is_refused(srv: AppServer) -> None:
    """The names rule (procedure_definitions.names) in the form engine: an interview's name answer holding a
    bidirectional override or a control character is refused at its field (it would print reordered on the 申請書),
    nothing filed; an IVS stays a name."""
    c = srv.login("counter")
    vid = _visit(c)
    url = _start(c, vid, "moving-within")
    page = c.get(url).text
    done = {"tenkyo.movers": ["0"], "tenkyo.filer_relation": "self", "tenkyo.move_date": "2026-12-01",
            "s.new_postal_code": "3300055", "s.new_address.postal_code": "3300055",
            "s.new_address.prefecture": "埼玉県", "s.new_address.city": "さいたま市浦和区",
            "s.new_address.town": "東高砂町", "s.new_address.block": "8-8", "s.new_address.building": ""}
    for family, given in (("鈴\u202e木", "大輔"), ("鈴木", "大\u0007輔"), ("鈴木", "大\u2066輔")):
        r = _post(c, url, page, op="finish", **done, **{"s.applicant_name.family": family,
                                                        "s.applicant_name.given": given})
        assert r.status_code == 422, (family, given)
        assert "申請はまだ送っていません" in r.text and "使用できない文字を削除してください" in r.text
    assert not [s for p in c.get(f"/api/visits/{vid}").json()["parts"] for s in p["submissions"]]
    r = _post(c, url, page, op="finish", **done, **{"s.applicant_name.family": "渡邊\U000e0102",
                                                    "s.applicant_name.given": "大輔"})
    assert r.status_code == 303, r.text[:2000]
    subs = [s for p in c.get(f"/api/visits/{vid}").json()["parts"] for s in p["submissions"]]
    stored = srv.db.read_sync(lambda db: db.execute(
        f"SELECT answers FROM submissions WHERE procedure_id = 'tenkyo' AND id IN ({','.join('?' * len(subs))})",
        subs).fetchone()[0])
    assert json.loads(stored)["filer_name"]["family"] == "渡邊\U000e0102"


def test_the_record_value_is_shown_and_a_phone_is_compared_by_its_digits(srv: AppServer) -> None:
    """「住民記録より：…」 shows the record's value, not the answer: a name the clerk corrected is 「住民記録：…
    （訂正しています）」 and not folded into 「記録から入力済み」; the registry's 03-1234-5678 re-entered as 0312345678
    is the same number: shown as the record's, folded, and the filed 転居届 is not flagged prefill_corrected."""
    c = srv.login("counter")
    vid = _visit(c, "R0005")  # 髙橋 健一, 03-1234-5678
    url = _start(c, vid, "moving-within")
    page = c.get(url).text
    assert "住民記録より：髙橋 健一" in page and "住民記録より：03-1234-5678" in page
    r = _post(c, url, page, op="update", **{"s.applicant_name.given": "健二", "s.applicant_phone": "0312345678"})
    assert r.status_code == 303
    page = c.get(url).text
    assert 'value="健二"' in page and 'value="0312345678"' in page
    assert "住民記録：髙橋 健一（訂正しています）" in page and "住民記録より：髙橋 健二" not in page
    assert "住民記録より：03-1234-5678" in page and "0312345678（訂正しています）" not in page
    summary = page.split('<h2>共通の項目</h2>', 1)[1].split("</summary>", 1)[0]
    assert "日中の連絡先電話番号（住民記録より：03-1234-5678）" in summary and "手続きをする人の氏名" not in summary
    done = _post(c, url, page, op="finish", **{
        "q.needs_certificate": "no", "s.applicant_name.given": "健一",
        "tenkyo.move_date": "2026-12-01", "tenkyo.movers": ["0"], "tenkyo.filer_relation": "self",
        "s.new_postal_code": "3300055", "s.new_address.postal_code": "3300055", "s.new_address.prefecture": "埼玉県",
        "s.new_address.city": "さいたま市浦和区", "s.new_address.town": "東高砂町", "s.new_address.block": "8-8"})
    if done.status_code != 303:
        raise AssertionError(re.findall(r'<li><a href="#([^"]+)">([^<]+)</a> — ([^<]+)</li>', done.text))
    answers, flags = srv.db.read_sync(lambda db: db.execute(
        "SELECT s.answers, s.flags FROM submissions s JOIN interviews i ON i.visit_id = ?"
        " WHERE s.procedure_id = 'tenkyo' AND instr(i.submissions, s.id) > 0", (vid,)).fetchone())
    assert '"0312345678"' in answers and "prefill_corrected" not in flags


def test_two_presses_of_finish_at_once_file_once_and_refuse_nothing_falsely(srv: AppServer) -> None:
    """A double click (two finish posts racing): one files, the other is a repeat (303) or told the interview is
    filed (409 interview-filed) — never that nothing was sent, and every application is filed once."""
    import threading

    c = srv.login("counter")
    vid = _visit(c, "R0008")
    url = _start(c, vid, "moving-within")
    r = _post(c, url, c.get(url).text, **{"q.needs_certificate": "yes", "op": "update"})
    assert r.status_code == 303
    page = c.get(url).text
    answers = {"tenkyo.move_date": "2026-12-01", "tenkyo.movers": ["0"], "s.applicant_phone": "090-1234-5678",
               "tenkyo.filer_relation": "self", "s.new_postal_code": "3300055",
               "s.new_address.postal_code": "3300055", "s.new_address.prefecture": "埼玉県",
               "s.new_address.city": "さいたま市浦和区", "s.new_address.town": "東高砂町", "s.new_address.block": "8-8",
               "s.new_address.building": "", "juminhyo-copy.relation": "self",
               "juminhyo-copy.certificate_type": "all_household", "juminhyo-copy.copies": "1",
               "juminhyo-copy.purpose": "employment"}
    out: list[httpx.Response] = []
    go = threading.Barrier(2)

    def press() -> None:
        go.wait()
        out.append(_post(c, url, page, op="finish", **answers))

    threads = [threading.Thread(target=press) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in out)[0] == 303, [r.text[:300] for r in out]
    assert all(r.status_code == 303 or (r.status_code == 409 and "申請済み" in r.text) for r in out)
    assert not any("送っていません" in r.text for r in out)
    filed = srv.db.read_sync(lambda db: sorted(str(x[0]) for x in db.execute(
        "SELECT procedure_id FROM submissions WHERE on_behalf_of = 'R0008'")))
    assert filed == ["juminhyo-copy", "tenkyo"]
