"""The 申請書's HTML (server/printing/form.py): readable values in form order, groups as tables, the signature
rule, the two copies, a city's own layout. The PDF itself: tests/server/test_printing_pdf.py."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import msgspec
import pytest

from procedure_definitions.model import SIGNATURE_LABELS, Procedure
from server.printing.form import SIGNATURE_INSTRUCTIONS, FormMeta, form_context, form_html, layout_path

IVS_FAMILY = "邊\U000e0102"  # 邊 with an IVS selector: printed byte for byte, never folded to 辺/邊

PROC: dict[str, Any] = {
    "kind": "procedure", "id": "print-test", "version": "1.0.0", "title": {"ja": "印刷テスト届"},
    "department": {"id": "shimin", "name": {"ja": "市民課"}},
    "sections": [
        {"id": "filer", "title": {"ja": "届出人"}, "fields": [
            {"id": "filer_name", "type": "name", "label": {"ja": "届出人の氏名"}, "required": True},
            {"id": "relation", "type": "choice", "label": {"ja": "異動者との関係"}, "choices": [
                {"value": "self", "label": {"ja": "本人"}}, {"value": "head", "label": {"ja": "世帯主"}}]},
            {"id": "address", "type": "address", "label": {"ja": "住所"}},
            {"id": "moved_on", "type": "date", "label": {"ja": "異動日"}},
            {"id": "born", "type": "wareki", "label": {"ja": "生年月日"}},
            {"id": "needs", "type": "multichoice", "label": {"ja": "必要なもの"}, "choices": [
                {"value": "card", "label": {"ja": "マイナンバーカード"}},
                {"value": "seal", "label": {"ja": "印鑑登録証"}}]},
            {"id": "agree", "type": "yesno", "label": {"ja": "同意しますか"}},
            {"id": "note", "type": "longtext", "label": {"ja": "備考"}},
        ]},
        {"id": "movers", "title": {"ja": "異動する人"}, "fields": [
            {"id": "members", "type": "group", "label": {"ja": "異動者"}, "item_label": {"ja": "異動者"},
             "fields": [
                 {"id": "m_name", "type": "name", "label": {"ja": "氏名"}},
                 {"id": "m_sex", "type": "choice", "label": {"ja": "性別"}, "choices": [
                     {"value": "f", "label": {"ja": "女"}}, {"value": "m", "label": {"ja": "男"}}]},
             ]},
        ]},
        {"id": "counter", "title": {"ja": "窓口記入欄"}, "staff_only": True, "fields": [
            {"id": "counter_memo", "type": "text", "label": {"ja": "窓口メモ"}},
        ]},
    ],
}
ANSWERS: dict[str, Any] = {
    "filer_name": {"family": IVS_FAMILY, "given": "花子"}, "relation": "head",
    "address": {"postal_code": "3300063", "prefecture": "埼玉県", "city": "さいたま市浦和区", "town": "高砂",
                "block": "3-15-1", "building": "コーポ101"},
    "moved_on": "2026-12-01", "born": "1990-04-02", "needs": ["seal", "card"], "agree": True,
    "note": "<script>alert(1)</script>",
    "members": [{"m_name": {"family": IVS_FAMILY, "given": "一郎"}, "m_sex": "m"},
                {"m_name": {"family": IVS_FAMILY, "given": "二葉"}, "m_sex": "f"}],
    "counter_memo": "免許証で確認済み",
}
META = FormMeta(submission_id="0190f0c0-0000-7000-8000-000000000001", receipt_number="R-2026-0042",
                received_at="2026-12-06T23:30:00+00:00")  # 08:30 on 12-07 in JST: the date changes


def proc(**changes: Any) -> Procedure:
    return msgspec.convert({**PROC, **changes}, Procedure)


def text_of(html: str) -> str:
    """What a reader sees: tags dropped, entities decoded, whitespace runs as one space."""
    body = html.split("<body>", 1)[1]
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body)))


def test_labels_and_readable_values_in_form_order() -> None:
    seen = text_of(form_html(proc(), ANSWERS, META))
    expected_in_order = ["市民課", "印刷テスト届", "受付番号", "R-2026-0042", META.submission_id,
                         "届出人の氏名", f"{IVS_FAMILY} 花子", "異動者との関係", "世帯主",
                         "住所", "〒330-0063 埼玉県さいたま市浦和区高砂3-15-1 コーポ101",
                         "異動日", "2026年12月1日", "生年月日", "平成2年4月2日",
                         "必要なもの", "印鑑登録証、マイナンバーカード", "同意しますか", "はい",
                         "異動する人", "異動者 1", "異動者 2", "署名欄"]
    at = 0
    for x in expected_in_order:  # each after the one before
        found = seen.find(x, at)
        assert found >= 0, (x, seen[at:at + 80])
        at = found + len(x)
    for raw in ("head", "seal", "card", "3300063", "family", "given", "True"):  # no code, no English sub-key
        assert not re.search(rf"\b{raw}\b", seen), raw


def test_received_in_jst_and_wareki() -> None:
    ctx = form_context(proc(), ANSWERS, META)
    assert ctx["submission"]["received"] == "2026-12-07 08:30"
    assert ctx["submission"]["received_wareki"] == "令和8年12月7日 08:30"
    assert "令和8年12月7日 08:30" in text_of(form_html(proc(), ANSWERS, META))


def test_ivs_name_survives_byte_for_byte() -> None:
    html = form_html(proc(), ANSWERS, META)
    assert f"{IVS_FAMILY} 花子".encode() in html.encode()
    assert html.count(IVS_FAMILY) == 3  # the filer and both movers


def test_a_group_is_a_table_with_a_row_per_item() -> None:
    html = form_html(proc(), ANSWERS, META)
    table = html[html.index('<table class="items">'):]
    table = table[:table.index("</table>")]
    assert re.findall(r'<th scope="col">([^<]*)</th>', table) == ["氏名", "性別"]
    rows = re.findall(r"<tr><th scope=\"row\">([^<]*)</th><td>([^<]*)</td><td>([^<]*)</td></tr>", table)
    assert rows == [("異動者 1", f"{IVS_FAMILY} 一郎", "男"), ("異動者 2", f"{IVS_FAMILY} 二葉", "女")]


def test_answers_are_escaped() -> None:
    html = form_html(proc(), ANSWERS, META)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_staff_only_fields_on_the_staff_copy_only() -> None:
    resident = form_html(proc(), ANSWERS, META)
    staff = form_html(proc(), ANSWERS, META, copy="staff")
    assert "窓口メモ" not in resident and "免許証で確認済み" not in resident and "窓口記入欄" not in resident
    assert "窓口メモ" in staff and "免許証で確認済み" in staff and "職員控え" in staff and "職員記入" in staff


@pytest.mark.parametrize("rule", sorted(SIGNATURE_LABELS))
def test_signature_box_follows_the_rule(rule: str) -> None:
    seen = text_of(form_html(proc(signature=rule), ANSWERS, META))
    assert f"署名欄： {SIGNATURE_LABELS[rule]} {SIGNATURE_INSTRUCTIONS[rule]}" in seen
    others = [SIGNATURE_INSTRUCTIONS[r] for r in SIGNATURE_LABELS if r != rule]
    assert not any(o in seen for o in others)
    box = seen[seen.index("署名欄"):]
    if rule == "name_only":  # 記名: the filer's name is printed in the box
        assert f"届出人・申請者（記名） {IVS_FAMILY} 花子" in box
    else:  # an empty box to sign
        assert "届出人・申請者（署名）" in box and "花子" not in box
    assert ("印" in box.replace("押印", "").replace("記名", "")) == (rule in ("autograph_or_seal", "seal_optional"))


def test_signature_defaults_to_autograph_and_every_party_signs() -> None:
    p = proc(parties=[{"id": "partner", "label": {"ja": "妻になる人"}}])
    assert p.signature == "autograph"
    seen = text_of(form_html(p, ANSWERS, META))
    assert "署名欄： 自署" in seen and "届出人・申請者（署名）" in seen and "妻になる人（署名）" in seen


def test_a_city_layout_replaces_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "print-test.html").write_text(
        "<html><body><p>様式第1号</p><p>{{ values.filer_name }}／{{ values.relation }}／{{ signature.label }}"
        "／{{ submission.receipt_number }}／{{ values.note }}</p></body></html>", encoding="utf-8")
    html = form_html(proc(), ANSWERS, META, layouts_dir=tmp_path)
    assert "様式第1号" in html and f"{IVS_FAMILY} 花子／世帯主／自署／R-2026-0042" in html
    assert "&lt;script&gt;" in html  # autoescaped like the shipped template
    assert "counter_memo" not in form_context(proc(), ANSWERS, META)["values"]  # the resident's copy's values
    # Another procedure has no layout there: the shipped template.
    assert "様式第1号" not in form_html(proc(id="other-test"), ANSWERS, META, layouts_dir=tmp_path)


def test_a_city_layout_is_sandboxed_and_found_by_procedure_id_only(tmp_path: Path) -> None:
    from server.printing.pdf import PrintingUnavailable

    for bad, why in (("{{ values.__class__.__mro__ }}", "SecurityError"),
                     ("<p>\n{{ values.filer_name }\n", "TemplateSyntaxError"),
                     ("{{ no_such_variable }}", "UndefinedError")):
        (tmp_path / "print-test.html").write_text(bad, encoding="utf-8")
        with pytest.raises(PrintingUnavailable) as failed:  # a broken layout is the route's 503, never a 500
            form_html(proc(), ANSWERS, META, layouts_dir=tmp_path)
        assert why in failed.value.reason and str(tmp_path / "print-test.html") in failed.value.reason
    (tmp_path / "secret.html").write_text("x", encoding="utf-8")
    for bad in ("../secret", "/etc/passwd", "print-test/../secret", "Print-Test", ""):
        assert layout_path(tmp_path, bad) is None
    assert layout_path(tmp_path, "print-test") == tmp_path / "print-test.html"
    assert layout_path(None, "print-test") is None


def test_the_pdf_reads_no_file_and_no_url(tmp_path: Path) -> None:
    """A template may embed an image as a data: URL; a file or http URL is skipped, never read (a city's layout
    cannot make the server read its own files into a form)."""
    import base64

    from server.printing.pdf import html_to_pdf

    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
    secret = tmp_path / "secret.png"
    secret.write_bytes(base64.b64decode(png))
    dot = f"data:image/png;base64,{png}"
    base = '<html><body style="font-family: \'Noto Sans CJK JP\'"><p>様式</p>{}</body></html>'
    with_file = html_to_pdf(base.format(f'<img src="{secret.as_uri()}"><img src="http://127.0.0.1:9/x.png">'))
    without = html_to_pdf(base.format(""))
    with_data = html_to_pdf(base.format(f'<img src="{dot}">'))
    assert b"/Image" not in with_file and b"/Image" not in without and b"/Image" in with_data


def test_warm_up_says_what_is_missing(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """`madoguchi serve` renders once at start: nothing to say when the server can print, the missing font
    named in a warning when it cannot (as on a machine without fonts-noto-cjk)."""
    import server.printing.pdf as pdf

    assert pdf.warm_up() is None
    monkeypatch.setattr(pdf, "FONT_FAMILY", "Madoguchi Missing Font JP")
    reason = pdf.warm_up()
    assert reason is not None and "Madoguchi Missing Font JP" in reason and "fonts-noto-cjk" in reason
    assert "printed forms unavailable" in caplog.text
