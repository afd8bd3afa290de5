"""The 受付案内票's HTML (server/printing/guide.py): the visit's number and the resident's name as stored, each
application's title, who handles it, the 持ち物 its answers require (``required_if`` by the one form logic), the
fees and their total. The PDF itself: tests/server/test_printing_guide_pdf.py."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import msgspec

from procedure_definitions.forms import required_documents
from procedure_definitions.model import Procedure
from server.printing.guide import GuideLine, GuideVisit, guide_context, guide_html
from tests.test_printing_form import IVS_FAMILY

COPY: dict[str, Any] = {
    "kind": "procedure", "id": "copy-test", "version": "1.0.0", "title": {"ja": "住民票の写し請求テスト"},
    "department": {"id": "shimin", "name": {"ja": "市民課"}},
    "fee": {"amount": 300, "per": {"ja": "1通"}, "quantity_field": "copies"},
    "documents": [
        {"id": "id_document", "label": {"ja": "本人確認書類"}},
        {"id": "power_of_attorney", "label": {"ja": "委任状"}, "required_if": "relation = 'proxy'"},
        {"id": "broken", "label": {"ja": "評価できない条件の書類"}, "required_if": "relation + 1 > 0"},
        {"id": "envelope", "label": {"ja": "返信用封筒"}, "required_if": "by_mail"},
    ],
    "sections": [{"id": "main", "title": {"ja": "請求"}, "fields": [
        {"id": "relation", "type": "choice", "label": {"ja": "関係"}, "choices": [
            {"value": "self", "label": {"ja": "本人"}}, {"value": "proxy", "label": {"ja": "代理人"}}]},
        {"id": "copies", "type": "number", "label": {"ja": "通数"}, "min": 1, "max": 10},
        {"id": "by_mail", "type": "yesno", "label": {"ja": "郵送で受け取りますか"}, "show_if": "relation = 'proxy'"},
    ]}],
}
SEAL: dict[str, Any] = {
    "kind": "procedure", "id": "seal-test", "version": "1.0.0", "title": {"ja": "印鑑登録テスト"},
    "department": {"id": "shimin", "name": {"ja": "市民課"}}, "fee": {"amount": 500},
    "documents": [{"id": "seal", "label": {"ja": "登録する印鑑"}}],
    "sections": [{"id": "main", "title": {"ja": "申請"}, "fields": [
        {"id": "note", "type": "text", "label": {"ja": "備考"}}]}],
}
CHILD: dict[str, Any] = {
    "kind": "procedure", "id": "child-test", "version": "1.0.0", "title": {"ja": "児童手当テスト"},
    "department": {"id": "kodomo", "name": {"ja": "子育て支援課"}},
    "documents": [{"id": "bank", "label": {"ja": "通帳"}, "required_if": "payment = 'bank'"}],
    "sections": [{"id": "main", "title": {"ja": "請求"}, "fields": [
        {"id": "payment", "type": "choice", "label": {"ja": "受取方法"}, "choices": [
            {"value": "bank", "label": {"ja": "口座"}}, {"value": "cash", "label": {"ja": "窓口"}}]}]}],
}
VISIT = GuideVisit(number="A-012", resident_name={"family": IVS_FAMILY, "given": "花子"},
                   opened_at="2026-12-06T23:30:00+00:00", booth="3番")  # 08:30 on 12-07 in JST


def proc(data: dict[str, Any]) -> Procedure:
    return msgspec.convert(data, Procedure)


def text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split("<body>", 1)[1])))


def test_the_guide_names_the_visit_and_the_resident_byte_for_byte() -> None:
    html = guide_html(VISIT, [GuideLine(proc(COPY), {"relation": "self", "copies": 1}, "R-1", "市民課", "waiting")],
                      printed_at="2026-12-07T00:05:00+00:00")
    assert "<title>受付案内票 A-012</title>" in html
    assert '<span class="value">A-012</span>' in html  # the number, large
    assert f"{IVS_FAMILY} 花子" in html  # the IVS selector kept: never folded
    body = text(html)
    assert "令和8年12月7日 08:30" in body and "2026-12-07 08:30" in body and "印刷日時 2026-12-07 09:05" in body
    assert "1. 住民票の写し請求テスト" in body and "受付番号 R-1" in body and "来庁番号 A-012" in body and "申請番号" not in body


def test_the_documents_follow_each_applications_answers() -> None:
    copy = proc(COPY)
    assert required_documents(copy, {"relation": "self"}) == ["id_document"]
    # A required_if that holds adds its document; one that cannot be evaluated does not (as the PWA's review).
    assert required_documents(copy, {"relation": "proxy", "copies": 2}) == ["id_document", "power_of_attorney"]
    child = proc(CHILD)
    lines = [GuideLine(copy, {"relation": "proxy", "copies": 2}, "R-1", "市民課", "waiting"),
             GuideLine(child, {"payment": "cash"}, "R-2", "子育て支援課", "waiting")]
    items = guide_context(VISIT, lines, printed_at="2026-12-07T00:05:00+00:00")["items"]
    assert [it["documents"] for it in items] == [["本人確認書類", "委任状"], []]
    lines[1] = GuideLine(child, {"payment": "bank"}, "R-2", "子育て支援課", "waiting")
    items = guide_context(VISIT, lines, printed_at="2026-12-07T00:05:00+00:00")["items"]
    assert items[1]["documents"] == ["通帳"]
    body = text(guide_html(VISIT, lines, printed_at="2026-12-07T00:05:00+00:00"))
    assert "お持ちください 通帳" in body and "評価できない条件の書類" not in body
    # The answers as validated: a value its field's show_if hid was not part of the application.
    hidden = GuideLine(copy, {"relation": "self", "by_mail": True}, "R-1", "市民課", "waiting")
    shown = GuideLine(copy, {"relation": "proxy", "by_mail": True}, "R-1", "市民課", "waiting")
    items = guide_context(VISIT, [hidden, shown], printed_at="2026-12-07T00:05:00+00:00")["items"]
    assert [it["documents"] for it in items] == [["本人確認書類"], ["本人確認書類", "委任状", "返信用封筒"]]
    # A part that is done lists nothing to bring: its department completed it.
    done = GuideLine(child, {"payment": "bank"}, "R-2", "子育て支援課", "done")
    assert guide_context(VISIT, [done], printed_at="2026-12-07T00:05:00+00:00")["items"][0]["documents"] == []


def test_documents_the_counter_saw_are_not_asked_for() -> None:
    copy = proc(COPY)
    seen = GuideLine(copy, {"relation": "proxy", "copies": 2}, "R-1", "市民課", "waiting",
                     seen=frozenset({"id_document", "not-required-now"}))
    (item,) = guide_context(VISIT, [seen], printed_at="2026-12-07T00:05:00+00:00")["items"]
    assert (item["documents"], item["seen"]) == (["委任状"], ["本人確認書類"])
    body = text(guide_html(VISIT, [seen], printed_at="2026-12-07T00:05:00+00:00"))
    assert "お持ちください 委任状 確認済み：本人確認書類" in body
    every = GuideLine(copy, {"relation": "self"}, "R-1", "市民課", "waiting", seen=frozenset({"id_document"}))
    assert "お持ちください ありません 確認済み：本人確認書類" in text(
        guide_html(VISIT, [every], printed_at="2026-12-07T00:05:00+00:00"))


def test_fees_per_application_and_their_total() -> None:
    lines = [GuideLine(proc(COPY), {"relation": "self", "copies": 3}, "R-1", "市民課", "waiting"),
             GuideLine(proc(SEAL), {}, "R-2", "市民課", "done"),
             GuideLine(proc(CHILD), {"payment": "cash"}, "R-3", "子育て支援課", "waiting")]
    ctx = guide_context(VISIT, lines, printed_at="2026-12-07T00:05:00+00:00")
    assert [it["fee"] for it in ctx["items"]] == [900, 500, None] and ctx["total"] == 1400
    body = text(guide_html(VISIT, lines, printed_at="2026-12-07T00:05:00+00:00"))
    assert "900円（1通 300円 × 3）" in body and "500円" in body and "手数料 かかりません" in body
    assert "手数料の合計 1,400円" in body


def test_who_handles_each_application_and_what_happens_next() -> None:
    lines = [GuideLine(proc(COPY), {"relation": "self"}, "R-1", "市民課", "in_progress", booth="5番"),
             GuideLine(proc(CHILD), {}, "R-2", "子育て支援課", "waiting"),
             GuideLine(proc(SEAL), {}, "R-3", "市民課", "done")]
    items = guide_context(VISIT, lines, printed_at="2026-12-07T00:05:00+00:00")["items"]
    assert [(it["where"], it["state"]) for it in items] == [
        ("5番", "手続き中"), ("子育て支援課", "受付済み・お待ちください"), ("市民課", "完了")]
    assert items[0]["next"] == "市民課の職員が5番で手続きをしています。"
    assert items[1]["next"] == "子育て支援課の職員が3番に伺います。お席でお待ちください。"
    assert items[2]["next"] == "この手続きは終わりました。" and items[2]["documents"] == []
    body = text(guide_html(VISIT, lines[2:], printed_at="2026-12-07T00:05:00+00:00"))
    assert "市民課 完了" in body and "お持ちください" not in body and "登録する印鑑" not in body
    # A booth typed as a bare number reads 「3番」 (as docs/counter.md says); a named booth stays as typed.
    for typed, said in (("3", "3番"), ("１２", "１２番"), ("相談室A", "相談室A"), ("5番", "5番")):
        at = GuideVisit(number="A-001", resident_name=None, opened_at="2026-12-06T23:30:00+00:00", booth=typed)
        assert guide_context(at, lines[1:2], printed_at="x")["items"][0]["next"] == (
            f"子育て支援課の職員が{said}に伺います。お席でお待ちください。")
    taken = GuideLine(proc(COPY), {"relation": "self"}, "R-1", "市民課", "in_progress", booth="7")
    assert guide_context(VISIT, [taken], printed_at="x")["items"][0]["where"] == "7番"
    no_booth = GuideVisit(number="A-001", resident_name=None, opened_at="2026-12-06T23:30:00+00:00")
    assert guide_context(no_booth, lines[1:2], printed_at="x")["items"][0]["next"] == (
        "子育て支援課の職員がお呼びします。お待ちください。")


def test_names_and_values_render_inert() -> None:
    visit = GuideVisit(number="A-002", resident_name={"family": "<b>山田</b>", "given": "太郎"},
                       opened_at="2026-12-06T23:30:00+00:00")
    html = guide_html(visit, [], printed_at="2026-12-07T00:05:00+00:00")
    assert "<b>山田" not in html and "&lt;b&gt;山田&lt;/b&gt; 太郎" in html
    assert "手続きはまだありません" in html and "手数料の合計" not in html


def test_jido_teate_asks_for_the_insurance_proof_only_for_a_child_under_3() -> None:
    """The shipped 児童手当: 「請求者の健康保険の資格がわかるもの（3歳未満の児童がいて厚生年金・共済に加入の場合）」 is
    required by its label's whole condition (each child's calculated age), on the answers as validated."""
    import datetime as dt

    from procedure_definitions.library import load_library
    from server.visit_documents import required_docs

    jido = load_library().latest("jido-teate")
    assert jido is not None
    base = next(s for s in jido.scenarios if s.expect.valid).answers
    today = dt.date.today()

    def child(born: dt.date) -> dict[str, Any]:
        return {"child_name": {"family": "山田", "given": "陽太"}, "child_kana": {"family": "ヤマダ", "given": "ヨウタ"},
                "child_birth_date": born.isoformat(), "child_lives_with": True}

    def needs_proof(pension: str, *born: dt.date) -> bool:
        answers = {**base, "pension_type": pension, "children": [child(b) for b in born]}
        return "insurance_proof" in {d.id for d in required_docs(jido, answers)}

    seven, baby = today.replace(year=today.year - 7, day=1), today - dt.timedelta(days=100)
    assert not needs_proof("kosei", seven)  # the probe's 転入 with a 7-year-old
    assert needs_proof("kosei", seven, baby) and needs_proof("kyosai", baby)
    assert not needs_proof("kokumin", baby)
    assert needs_proof("kosei", today.replace(year=today.year - 3, day=1) + dt.timedelta(days=40))  # 2 years old
    assert not needs_proof("kosei", today.replace(year=today.year - 3, day=1) - dt.timedelta(days=1))  # 3
