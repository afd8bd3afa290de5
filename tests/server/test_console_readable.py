"""A readable console for every role (issue 13 point 5), against the real server with the real library:
answers in form order with labels and choice labels (never a code), procedure titles instead of ids, the
resident's name in queue rows, who made each status change, comments marked 申請者へ / 内部メモ, and the status
changes each role may make (server.auth.roles.STATUS_CHANGES)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from procedure_definitions.library import load_library
from procedure_definitions.model import ChoiceField, MultiChoiceField, Procedure, procedure_fields
from tests.server.conftest import start_real_library
from testsupport.servers import AppServer

LIB = load_library()


def _proc(pid: str) -> Procedure:
    proc = LIB.latest(pid)
    assert proc is not None
    return proc


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_real_library(tmp_path_factory.mktemp("readable"), residents=True)
    yield s
    s.stop()


def _scenario(proc: Procedure, name_part: str) -> dict[str, Any]:
    return dict(next(s for s in proc.scenarios if name_part in s.name).answers)


def _file(client: Any, proc: Procedure, answers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    r = client.post("/api/submissions", json={"id": str(uuid.uuid4()), "procedure_id": proc.id,
                                              "procedure_version": proc.version, "answers": answers, **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _codes(proc: Procedure, answers: dict[str, Any]) -> set[str]:
    """Every choice code the answers hold (top level and in groups) that is not also its own label."""
    out: set[str] = set()
    choice_fields = {f.id: f for f, _ in procedure_fields(proc) if isinstance(f, (ChoiceField, MultiChoiceField))}

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                f = choice_fields.get(k)
                if f is not None:
                    labels = {c.label.ja for c in f.choices}
                    out.update(c for c in (x if isinstance(x, list) else [x]) if c not in labels)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(answers)
    return out


def _visible(html: str) -> str:
    """The page's text as staff read it: tags, attribute values and the script/style links left out."""
    return re.sub(r"<[^>]+>", " ", html)


def test_submission_page_shows_labels_in_form_order_never_codes(srv: AppServer) -> None:
    proc = _proc("juminhyo-copy")
    answers = _scenario(proc, "代理人")
    codes = _codes(proc, answers)
    assert {"proxy", "part_household", "head_relationship", "my_number", "pension"} <= codes
    receipt = _file(srv.login("resident", resident_id="R0002"), proc, answers)
    page = srv.login("counter").get(f"/console/submissions/{receipt['id']}")
    assert page.status_code == 200
    text = _visible(page.text)
    for code in codes:
        assert not re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text), code
    for key in ("family", "given", "postal_code", "prefecture", "True", "False", "juminhyo-copy"):
        assert key not in text, key
    # Labels of the chosen codes, in the order of the form: section titles, then labels.
    include = next(f for f, _ in procedure_fields(proc) if f.id == "include_items")
    assert isinstance(include, MultiChoiceField)
    labels = {c.value: c.label.ja for c in include.choices}
    assert f"{labels['head_relationship']}、{labels['my_number']}" in text
    titles = [s.title.ja for s in proc.sections]
    shown = [t for t in re.findall(r'<h3 id="sec-\d+">([^<]+)</h3>', page.text)]
    assert shown == [t for t in titles if t in shown] and len(shown) >= 3
    assert "〒100-0001 東京都千代田区千代田1-1" in text  # the address the Japanese way
    assert "田中 一郎" in text and proc.title.ja in text  # 「姓 名」, the title instead of the id


def test_queue_rows_show_title_and_resident_name(srv: AppServer) -> None:
    proc = _proc("juminhyo-copy")
    mine = _file(srv.login("resident", resident_id="R0005"), proc, _scenario(proc, "最短"))
    staff = _file(srv.login("counter"), proc, _scenario(proc, "窓口で職員"), on_behalf_of="R0004")
    page = srv.login("counter").get("/console/").text
    for receipt, name in ((mine, "髙橋 健一"), (staff, "葛\U000e0100城 美咲")):  # byte for byte, IVS kept
        row = page.split(f">{receipt['receipt_number']}</a>")[1].split("</tr>")[0]
        assert f"<td>{proc.title.ja}</td>" in row and f'<td class="resident">{name}</td>' in row
    assert f'<option value="{proc.id}">{proc.title.ja}</option>' in page


def test_history_names_who_and_marks_comments(srv: AppServer) -> None:
    proc = _proc("juminhyo-copy")
    receipt = _file(srv.login("resident", resident_id="R0001"), proc, _scenario(proc, "最短"))
    sid = receipt["id"]
    counter = srv.login("counter")
    r = counter.post(f"/api/submissions/{sid}/status", json={"status": "in_review", "comment": "書類を確認します",
                                                             "visible_to_resident": False})
    assert r.status_code == 200, r.text
    r = counter.post(f"/console/submissions/{sid}/status", data={
        "status": "needs_info", "comment": "本人確認書類の写しを添付してください", "visible_to_resident": "on"},
        follow_redirects=False)
    assert r.status_code == 303, r.text
    page = srv.login("reviewer", department=proc.department.id).get(f"/console/submissions/{sid}").text
    history = page.split("<h2>履歴</h2>")[1]
    assert '<span class="actor">テストcounter（窓口）</span>：受付 → 審査中' in history
    assert '<span class="actor">テストcounter（窓口）</span>：審査中 → 追加情報待ち' in history
    assert '<span class="mark">内部メモ</span> 書類を確認します' in history
    assert '<span class="mark">申請者へ</span> 本人確認書類の写しを添付してください' in history
    assert '<span class="actor">申請者（テストresident）</span>：受付' in history  # the filing itself
    # The header names the reviewer's department by its name, never its id.
    assert f"テストreviewer（審査・{proc.department.name.ja}）" in page
    assert proc.department.id not in _visible(page)


def test_counter_makes_intake_moves_only(srv: AppServer) -> None:
    proc = _proc("juminhyo-copy")
    sid = _file(srv.login("resident", resident_id="R0003"), proc, _scenario(proc, "最短"))["id"]
    counter = srv.login("counter")
    page = counter.get(f"/console/submissions/{sid}").text
    offered = re.findall(r'<option value="(\w+)">', page.split('id="s-status"')[1].split("</select>")[0])
    assert offered == ["in_review"]
    assert counter.post(f"/api/submissions/{sid}/status", json={"status": "in_review"}).status_code == 200
    page = counter.get(f"/console/submissions/{sid}").text
    offered = re.findall(r'<option value="(\w+)">', page.split('id="s-status"')[1].split("</select>")[0])
    assert offered == ["needs_info"]  # not accepted/rejected: the department decides
    refused = counter.post(f"/api/submissions/{sid}/status", json={"status": "accepted"})
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")
    assert counter.post(f"/console/submissions/{sid}/status", data={"status": "rejected", "comment": "x",
                                                                    "visible_to_resident": "on"}).status_code == 403
    reviewer = srv.login("reviewer", department=proc.department.id)
    page = reviewer.get(f"/console/submissions/{sid}").text
    offered = re.findall(r'<option value="(\w+)">', page.split('id="s-status"')[1].split("</select>")[0])
    assert offered == ["accepted", "needs_info", "rejected"]
    assert reviewer.post(f"/api/submissions/{sid}/status", json={"status": "accepted"}).status_code == 200
    assert counter.post(f"/api/submissions/{sid}/status", json={"status": "completed"}).status_code == 403
    # Outreach workers change no status (not in STATUS_CHANGES).
    assert srv.login("outreach").post(f"/api/submissions/{sid}/status",
                                      json={"status": "completed"}).status_code == 403


def test_status_policy_is_one_table() -> None:
    from server.auth.roles import STATUS_CHANGES
    from server.authz import allowed_status_changes, status_change_allowed
    from server.storage.submissions import TRANSITIONS

    def Who(role: str) -> Any:
        from server.auth.models import Account

        return Account(id="x", display_name="", role=role)

    for role in ("counter", "reviewer", "admin", "outreach", "configurator", "resident"):
        who: Any = Who(role)
        for frm, tos in TRANSITIONS.items():
            for to in tos:
                moves = STATUS_CHANGES.get(role, frozenset())
                assert status_change_allowed(who, frm, to) == (moves is None or (frm, to) in moves), (role, frm, to)
            assert allowed_status_changes(who, frm) == sorted(t for t in tos if status_change_allowed(who, frm, t))
    assert not status_change_allowed(Who("admin"), "received", "completed")  # not a move the model has


def test_conflict_values_read_like_the_rest_of_the_console() -> None:
    """The conflicts page shows a name, an address or a yes/no through server.display too (no JSON keys)."""
    from server.sync_routes import _show

    assert _show({"family": "葛\U000e0100城", "given": "美咲"}) == "葛\U000e0100城 美咲"
    address = {"postal_code": "3300063", "prefecture": "埼玉県", "city": "さいたま市浦和区", "town": "高砂",
               "block": "3丁目15-1", "building": ""}
    assert _show(address) == "〒330-0063 埼玉県さいたま市浦和区高砂3丁目15-1"
    assert (_show(True), _show(False)) == ("はい", "いいえ")
    assert _show({"x": 1}) == '{"x":1}'  # anything else: as JSON, never lost


def _resident_cell(page: str, receipt_number: str) -> str:
    row = page.split(f">{receipt_number}</a>")[1].split("</tr>")[0]
    return row.split('<td class="resident">')[1].split("</td>")[0]


def test_a_new_arrivals_applications_name_the_person_never_the_clerk(srv: AppServer) -> None:
    """Filed at the counter for someone not in the registry (no on_behalf_of): the queue and the detail name
    the applicant the answers give (the definition's ``prefill: name`` field: what the resident signs, byte for
    byte) before the visit's person as typed at reception (kana, as heard), never the clerk who filed it."""
    proc = _proc("juminhyo-copy")
    counter = srv.login("counter")
    person = {"family": "カツシカ", "given": "ダイスケ", "birth_date": "1988-05-20"}
    r = counter.post("/api/visits", json={"id": str(uuid.uuid4()), "person": person})
    assert r.status_code == 201, r.text
    vid = r.json()["id"]
    answers = _scenario(proc, "窓口で職員")  # its applicant: 山田 太郎
    in_visit = _file(counter, proc, {**answers, "applicant_name": {"family": "葛\U000e0100西", "given": "大輔"}})
    r = counter.post(f"/api/visits/{vid}/parts", json={"submission_ids": [in_visit["id"]]})
    assert r.status_code == 200, r.text
    alone = _file(counter, proc, answers)  # staff filing for nobody in the registry, in no visit
    page = counter.get("/console/").text
    assert _resident_cell(page, in_visit["receipt_number"]) == "葛\U000e0100西 大輔"
    assert _resident_cell(page, alone["receipt_number"]) == "山田 太郎"
    for receipt, name in ((in_visit, "葛\U000e0100西 大輔"), (alone, "山田 太郎")):
        detail = counter.get(f"/console/submissions/{receipt['id']}").text
        assert f"<dt>対象の住民</dt><dd>{name}</dd>" in detail
        assert "テストcounter" not in detail.split("<h2>履歴</h2>")[0].split("</header>")[-1]
    assert "テストcounter" not in page.split("</header>")[-1]


def test_the_csv_export_labels_the_flags_with_their_codes_kept(srv: AppServer) -> None:
    import csv
    import io

    from server.export import BASE_COLUMNS, LABEL_COLUMNS

    proc = _proc("juminhyo-copy")
    # R0002 is 山田 花子: an applicant's name other than the record's is a corrected prefilled value.
    filed = _file(srv.login("resident", resident_id="R0002"), proc, _scenario(proc, "最短"))
    r = srv.login("admin").get("/console/export", params={"format": "csv", "procedure": proc.id})
    assert r.status_code == 200, r.text
    header, *rows = list(csv.reader(io.StringIO(r.text)))
    assert header[:len(BASE_COLUMNS) + len(LABEL_COLUMNS)] == [*BASE_COLUMNS, *LABEL_COLUMNS]
    row = next(dict(zip(header, x, strict=True)) for x in rows if x[0] == filed["id"])
    assert row["flags"] == "prefill_corrected"  # the code, as stored: unchanged
    assert row["flags_label"] == "登録情報から修正あり"  # the console's words for it (server.display.FLAG_LABELS)


def _offered(page: str, select_id: str) -> set[str]:
    return set(re.findall(r'<option value="([^"]+)"', page.split(f'id="{select_id}"')[1].split("</select>")[0]))


def test_a_reviewer_is_offered_only_their_departments_procedures(srv: AppServer) -> None:
    """The queue's procedure filter and 書き出す list: the procedures of the departments the account may see
    (server.auth.roles.can_access_department), so nothing offered answers 403."""
    shimin = {pid for pid, versions in LIB.procedures.items()
              if any(p.department.id == "shimin" for p in versions.values())}
    assert "juminhyo-copy" in shimin and "jido-teate" not in shimin
    reviewer = srv.login("reviewer", department="shimin")
    page = reviewer.get("/console/").text
    assert _offered(page, "f-procedure") == shimin == _offered(page, "e-procedure")
    for pid in _offered(page, "e-procedure"):
        r = reviewer.get("/console/export", params={"format": "csv", "procedure": pid})
        assert r.status_code == 200, (pid, r.text)
    assert reviewer.get("/console/export", params={"format": "csv", "procedure": "jido-teate"}).status_code == 403
    # Roles that see every department are offered every procedure.
    everything = set(LIB.procedures)
    assert _offered(srv.login("counter").get("/console/").text, "f-procedure") == everything
    admin = srv.login("admin").get("/console/").text
    assert _offered(admin, "f-procedure") == everything == _offered(admin, "e-procedure")


def test_department_names_in_english_where_the_library_gives_it_else_japanese() -> None:
    """One ``department_names`` for both languages (the kiosk's English page): ``lang="en"`` takes each
    department's English name, its Japanese one when the library has none; the default stays Japanese."""
    from server.console.readable import department_names

    procedures = LIB.procedures
    ja, en = department_names(procedures), department_names(procedures, lang="en")
    assert ja.keys() == en.keys() and ja
    named = {p.department.id: p.department.name for versions in procedures.values() for p in versions.values()}
    for dep, name in named.items():  # as the library names it last (versions may name it more precisely)
        assert (ja[dep], en[dep]) == (name.ja, name.en or name.ja)
    assert ja != en  # the library names some departments in English: the two differ


def test_a_place_is_named_in_the_language_asked_else_japanese_else_by_its_id() -> None:
    """``booking.config.place_label``, the one rule of the reminders, kiosk, board and queue pages: an empty name
    falls through too (a kiosk once showed "" for a place whose Japanese name was empty)."""
    from server.booking.config import Place, place_label
    from server.booking.reminders import place_name

    both = Place(id="shisho", name={"ja": "北支所", "en": "North Branch"}, booths=["1"], booking_booths=1)
    empty = Place(id="shisho", name={"ja": "", "en": ""}, booths=["1"], booking_booths=1)
    assert [place_label(both, lang) for lang in ("ja", "en", "ja-easy")] == ["北支所", "North Branch", "北支所"]
    assert [place_label(empty, lang) for lang in ("ja", "en")] == ["shisho", "shisho"]
    assert place_name(both, "shisho", "en") == "North Branch" and place_name(None, "gone", "en") == "gone"
