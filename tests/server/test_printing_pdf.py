"""``GET /console/submissions/{id}/form.pdf``: the 申請書 of one submission as a PDF, against the real server.

The PDF is read back with poppler (``pdftotext``: the text layer holds the title and the resident's name, IVS
included; ``pdftoppm``: page 1 as PNG, saved under test-artifacts/pdf/ to look at)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from procedure_definitions.model import Procedure
from tests.server.conftest import start_server
from tests.test_printing_form import ANSWERS, IVS_FAMILY, PROC
from testsupport.servers import AppServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "pdf"
needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
                                   reason="needs poppler-utils (scripts/test installs it)")
RESIDENT_ANSWERS = {k: v for k, v in ANSWERS.items() if k != "counter_memo"}  # a resident never gives one


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    procs = [msgspec.convert({**PROC, "signature": "seal_optional"}, Procedure)]
    srv = start_server(tmp_path_factory.mktemp("print"), procs)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def filed(server: AppServer) -> dict[str, Any]:
    r = server.login("resident").post("/api/submissions", json={
        "id": str(uuid.uuid4()), "procedure_id": "print-test", "procedure_version": "1.0.0",
        "answers": RESIDENT_ANSWERS})
    assert r.status_code == 201, r.text
    return dict(r.json())


def pdftotext(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode("utf-8")


def audit_entries(server: AppServer, actor: str) -> list[tuple[str, str, str]]:
    return server.db.read_sync(lambda c: c.execute(
        "SELECT action, subject, details FROM audit_log WHERE actor = ? ORDER BY id", (actor,)).fetchall())


@needs_poppler
def test_staff_print_the_form_with_a_text_layer(server: AppServer, filed: dict[str, Any]) -> None:
    reviewer = server.login("reviewer", department="shimin")
    r = reviewer.get(f"/console/submissions/{filed['id']}/form.pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF-")
    assert r.headers["content-disposition"] == f'inline; filename="form-{filed["receipt_number"]}.pdf"'
    assert r.headers["cache-control"] == "no-store"
    text = pdftotext(r.content)
    assert "印刷テスト届" in text  # the procedure title
    assert IVS_FAMILY in text and f"{IVS_FAMILY} 花子" in text  # the family name, IVS selector kept
    assert "世帯主" in text and "押印任意" in text and filed["receipt_number"] in text
    assert "窓口メモ" not in text
    # Printing is a staff read of personal data: audited, naming the submission and the copy.
    assert ("submission.print", f"submission:{filed['id']}", '{"copy":"resident","via":"console"}') in [
        (a, s, d.replace(" ", "")) for a, s, d in audit_entries(server, reviewer.account_id)]  # type: ignore[attr-defined]

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = ARTIFACTS / "form-print-test.pdf"
    pdf.write_bytes(r.content)
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", str(pdf), str(ARTIFACTS / "form-print-test")],
                   check=True)
    png = ARTIFACTS / "form-print-test.png"
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000  # a page with text on it


@needs_poppler
def test_the_staff_copy_adds_the_staff_only_fields(server: AppServer, filed: dict[str, Any]) -> None:
    counter = server.login("counter")  # counter staff see every department
    r = counter.get(f"/console/submissions/{filed['id']}/form.pdf", params={"copy": "staff"})
    assert r.status_code == 200, r.text
    assert "職員控え" in pdftotext(r.content)
    assert counter.get(f"/console/submissions/{filed['id']}/form.pdf", params={"copy": "x"}).status_code == 400


def assert_refused(server: AppServer, path: str, unknown: str, *, roles: tuple[str, ...], outsider: Any) -> None:
    """A printing route's refusals: 403 problem+json for ``roles`` (no capability; a configurator is sent to their
    own console instead, 303 to /console/procedures, never a refusal), 404 problem+json for ``outsider`` (staff who
    may not read the record: no hint that it exists) with nothing audited, 404 for ``unknown`` (an id that does not
    exist), 401 signed out."""
    for role in roles:
        r = server.login(role).get(path)
        if role == "configurator":
            assert r.status_code == 303 and r.headers["location"].endswith("/console/procedures"), r.status_code
            continue
        assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json"), role
    r = outsider.get(path)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert audit_entries(server, outsider.account_id) == []
    r = server.login("admin").get(unknown)
    assert r.status_code == 404 and r.json()["status"] == 404
    assert server.client().get(path).status_code == 401


def test_who_may_not_print(server: AppServer, filed: dict[str, Any]) -> None:
    # Another department's reviewer: the detail page's answer.
    assert_refused(server, f"/console/submissions/{filed['id']}/form.pdf",
                   f"/console/submissions/{uuid.uuid4()}/form.pdf", roles=("resident", "configurator"),
                   outsider=server.login("reviewer", department="kodomo"))


def test_the_console_page_links_the_printed_form(server: AppServer, filed: dict[str, Any]) -> None:
    page = server.login("counter").get(f"/console/submissions/{filed['id']}")
    assert page.status_code == 200
    assert f'href="/console/submissions/{filed["id"]}/form.pdf"' in page.text and "申請書を印刷 (PDF)" in page.text


def test_no_font_or_no_weasyprint_is_a_503_problem(server: AppServer, filed: dict[str, Any],
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """What a server without fonts-noto-cjk (or without WeasyPrint/Pango) answers: a clear 503, no traceback.
    The template names a family fontconfig does not have, as on a machine without the font."""
    import server.printing.form as form
    import server.printing.pdf as pdf

    admin = server.login("admin")
    path = f"/console/submissions/{filed['id']}/form.pdf"
    monkeypatch.setattr(pdf, "FONT_FAMILY", "Madoguchi Missing Font JP")
    monkeypatch.setattr(form, "FONT_FAMILY", "Madoguchi Missing Font JP")
    r = admin.get(path)
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["type"].endswith("/printing-unavailable") and "Madoguchi Missing Font JP" in body["detail"]
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import fails as without the package
    r = admin.get(path)
    assert r.status_code == 503 and "WeasyPrint" in r.json()["detail"]
    assert "Traceback" not in caplog.text
    assert [a for a, _, _ in audit_entries(server, admin.account_id)].count("submission.print") == 0  # type: ignore[attr-defined]
