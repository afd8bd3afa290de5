"""Issue 14's "Done when", end to end: a procedure goes from a NEW notebook to a draft, a preview on a phone,
an approval with a passkey and live in the resident app, on one server that is never restarted.

Real parts only: ``madoguchi serve`` in a process on a SQLite file (the real PWA build), a configurator
invited with ``madoguchi staff invite`` who enrolls a passkey in Chromium (virtual authenticator over CDP),
the notebook client's device flow approved on ``/console/device`` with that passkey (keyring disabled: the
token lives in the kernel's environment, never in the notebook), ``notebooks/new-procedure.ipynb`` executed
cell by cell with nbclient against the server, a phone viewport (390x844, touch, no account) on the preview
link, the approval page, and a fresh phone on the resident app's finder.

The seconds from "the notebook pushes a change" to "the open preview on the phone shows it" are printed (the
issue's goal is < 3 s; docs/benchmarks.md has the measured figure).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest
from playwright.sync_api import expect

from testsupport.servers import ROOT, ServerProcess

from .helpers import ready, shot, virtual_authenticator

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = ROOT / "notebooks" / "new-procedure.ipynb"
PID = "sodai-gomi"
TITLE = "粗大ごみの収集申込"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "ja-JP"}
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "ja-JP"}
# A label of the notebook's first page, and what the configurator changes it to after the preview is open.
OLD_LABEL = "日中に連絡がつく電話番号"
NEW_LABEL = "日中に連絡がつく電話番号（携帯電話でも可）"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A plain ``madoguchi serve`` (no demo data) on a fresh SQLite file, at http://localhost:PORT."""
    s = ServerProcess(tmp_path / "madoguchi.db", url_host="localhost")
    s.start()
    yield s
    s.stop()


def _invite(server: ServerProcess, name: str) -> str:
    """``madoguchi staff invite NAME --role configurator`` on the running server's file: the enrollment URL."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    out = subprocess.run([sys.executable, "-m", "madoguchi.cli", "staff", "invite", name, "--role", "configurator",
                          "--db", server.db_path, "--origin", server.url],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True).stdout
    return re.findall(r"http://\S+/enroll/\S+", out)[-1]


def _later(server: ServerProcess) -> None:
    """An hour passes: the passkey check of every session is no longer fresh, so the next action that needs a
    fresh check (approving a device code, approving a publish) runs the passkey ceremony again."""
    server.write(lambda c: c.execute("UPDATE sessions SET verified_at = verified_at - 3600"
                                     " WHERE verified_at IS NOT NULL"))


def _reauths(server: ServerProcess) -> int:
    (count,), = server.query("SELECT count(*) FROM audit_log WHERE action = 'auth.reauth'")
    assert isinstance(count, int)
    return count


def _device_sign_in(server: ServerProcess, page: Any) -> Any:
    """The notebook client's device flow (``madoguchi.studio.signin.device_sign_in``, as ``connect(SERVER,
    flow="device")`` runs it) in a thread; the configurator types the code on /console/device and approves
    with a fresh passkey check. Returns the client's TokenSet."""
    signin = pytest.importorskip("madoguchi.studio.signin", reason="needs the studio part (madoguchi.studio)")
    shown: dict[str, str] = {}
    code_shown = threading.Event()
    result: dict[str, Any] = {}

    def show(uri: str, complete: str, code: str) -> None:
        shown.update(uri=uri, complete=complete, code=code)
        code_shown.set()

    def run() -> None:
        try:
            with httpx.Client(timeout=30) as http:
                result["tokens"] = signin.device_sign_in(server.url, ["drafts"], client=http, show=show,
                                                         host="e2e-notebook-host")
        except BaseException as exc:  # reported to the test below
            result["error"] = exc
            code_shown.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert code_shown.wait(30), "the device flow showed no code"
    assert "error" not in result, result.get("error")
    assert shown["uri"] == f"{server.url}/console/device"
    # What a person does: open the address shown, type the code shown.
    page.goto(shown["uri"])
    page.get_by_label("表示されたコード（8文字）").fill(shown["code"])
    page.get_by_role("button", name="次へ").click()
    expect(page.get_by_text("e2e-notebook-host")).to_be_visible()  # the host the client says it runs on
    _later(server)
    before = _reauths(server)
    page.get_by_role("button", name="許可する").click()
    expect(page.get_by_text("許可しました")).to_be_visible(timeout=20000)
    assert _reauths(server) == before + 1, "approving the device code ran the passkey check"
    thread.join(40)  # the client polls every `interval` (5) seconds
    assert not thread.is_alive(), "the device flow did not finish"
    assert "error" not in result, result.get("error")
    tokens = result["tokens"]
    assert tokens.access_token.startswith("mdg_") and "drafts" in tokens.scopes
    return tokens


def _notebook_copy(tmp_path: Path, server: ServerProcess) -> tuple[Path, Any]:
    """The author's notebook as a NEW notebook in its own folder; its ``parameters`` cell given the server,
    papermill's way (an ``injected-parameters`` cell right after it). Saved outputs are cleared so they never
    stand in for a run. No token goes into the notebook."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    path = folder / NOTEBOOK.name
    shutil.copyfile(NOTEBOOK, path)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nbformat.v4.new_code_cell(f"SERVER = {server.url!r}")
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(at + 1, injected)
    return path, nb


def _edit_label(path: Path, old: str, new: str) -> None:
    """The configurator edits the label in the notebook's YAML cell and saves the notebook."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    hits = 0
    for cell in nb["cells"]:
        if "procedure" in cell.get("metadata", {}).get("tags", []):
            src = "".join(cell["source"])
            if f"ja: {old}," in src:
                cell["source"] = src.replace(f"ja: {old},", f"ja: {new},")
                hits += 1
    assert hits == 1, f"label {old!r} not found once in the notebook's procedure cells"
    path.write_text(json.dumps(nb, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _outputs(cell: Any) -> str:
    """Everything a cell showed: streams, text/plain and text/html of results and displays, errors."""
    parts: list[str] = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            parts.append(o.text)
        elif o.output_type in ("execute_result", "display_data"):
            parts += [str(o.data.get("text/html", "")), str(o.data.get("text/plain", ""))]
        elif o.output_type == "error":
            parts.append("\n".join(o.traceback))
    return "\n".join(parts)


def _run(client: Any, nb: Any, index: int) -> str:
    cell = nb.cells[index]
    client.execute_cell(cell, index)
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert not errors, f"cell {index} failed:\n{_outputs(cell)}"
    return _outputs(cell)


def _cell_index(nb: Any, code: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and code in c.source)


def _live(server: ServerProcess) -> dict[str, Any]:
    rows = httpx.get(f"{server.url}/api/procedures", timeout=30).json()
    rows = rows.get("procedures", rows) if isinstance(rows, dict) else rows
    return {r["id"]: r for r in rows if isinstance(r, dict) and "id" in r}


def _bundle_lists(server: ServerProcess, pid: str) -> bool:
    """Whether the PWA bundle being served (index.html's data-index) lists ``pid``."""
    html = httpx.get(f"{server.url}/", timeout=30).text
    m = re.search(r'data-index="([^"]+)"', html)
    if not m:
        return False
    index = httpx.get(f"{server.url}/{m.group(1).lstrip('/')}", timeout=30).json()
    return pid in index.get("procedures", {})


def _missing(module: str, what: str) -> str | None:
    """The name of a part of issue 14 not on this branch yet (its module is absent), for a clear skip."""
    return None if importlib.util.find_spec(module) is not None else f"{what} ({module}) has not landed"


def _wait(predicate: Any, what: str, timeout: float = 30.0) -> float:
    """Poll ``predicate`` (a cheap HTTP read) every 0.1 s; the seconds it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s: {what}")
        time.sleep(0.1)
    return time.monotonic() - start


def test_new_notebook_to_live_procedure(browser: Any, server: ServerProcess, tmp_path: Path) -> None:
    pytest.importorskip("nbclient")
    from nbclient import NotebookClient

    for module, what in (("madoguchi.studio", "the notebook client"), ("server.auth.oauth", "the device flow")):
        if (gap := _missing(module, what)):
            pytest.skip(gap)

    started = time.monotonic()
    pid_before = server.proc.pid if server.proc else None
    assert PID not in _live(server), "the notebook's procedure must be new to this server"
    errors: list[str] = []

    # 1. A configurator, invited by an administrator, enrolls a passkey on a desktop browser.
    desk = browser.new_context(**DESKTOP)
    page = desk.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    virtual_authenticator(desk, page)
    page.goto(_invite(server, "設定 花子"))
    page.get_by_label("パスキーの名前（例：窓口PC）").fill("設定担当のPC")
    page.get_by_role("button", name="パスキーを登録する").click()
    page.wait_for_url("**/console/**", timeout=20000)

    # 2. The notebook client gets a token by the device flow, approved with that passkey.
    tokens = _device_sign_in(server, page)

    # 3. A new notebook, executed cell by cell against the server: its own cells push the draft, show the
    #    check result, make the preview link (and later request publishing).
    path, nb = _notebook_copy(tmp_path, server)
    env = {**os.environ, "MADOGUCHI_TOKEN": tokens.access_token,
           "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    preview_at = _cell_index(nb, "draft.preview()")
    with client.setup_kernel(env=env):
        local = ""
        for i in range(preview_at):
            if nb.cells[i].cell_type == "code":
                local += _run(client, nb, i) + "\n"
        # The local check (madoguchi check's own functions) and the server's check agree.
        m = re.search(rf"{PID} 0\.1\.0: (\d+) s \(within 60 s\)", local)
        assert m, local
        estimate = int(m.group(1))
        pushed = _outputs(nb.cells[_cell_index(nb, "studio.push(NOTEBOOK)")])
        assert f"{PID} 0.1.0" in pushed and "エラーなし" in pushed, pushed
        assert re.search(rf"推定所要時間 / estimate: <strong>{estimate} 秒</strong> ≤ 目標 60 秒", pushed), pushed
        draft_id = re.search(r"\(draft ([^,]+), rev 1,", pushed)
        assert draft_id, pushed

        if (gap := _missing("server.preview", "the preview part (POST /api/drafts/{id}/preview, /preview/{token})")):
            pytest.skip(f"steps 1-3 passed; {gap}")
        shown = _run(client, nb, preview_at)
        urls = re.findall(r'src="(http://localhost:\d+/preview/[^"]+)"', shown)
        assert urls, shown
        preview_url = urls[0].replace("&amp;", "&")
        assert "<svg" in shown  # the QR code for a phone

        # 4. A phone, no account, opens the preview link: the real renderer, marked as a preview.
        phone = browser.new_context(**PHONE, service_workers="allow")
        ppage = phone.new_page()
        ppage.on("pageerror", lambda e: errors.append(str(e)))
        ppage.goto(preview_url)
        expect(ppage.get_by_text("プレビュー（保存されません）").first).to_be_visible(timeout=15000)
        expect(ppage.get_by_text(OLD_LABEL, exact=False).first).to_be_visible()
        expect(ppage.locator("fieldset[data-field=applicant_name]")).to_be_visible()
        expect(ppage.get_by_text("住所（収集する場所）").first).to_be_visible()
        expect(ppage.locator("#preview-version")).to_contain_text("0.1.0")
        shot(ppage, "configurator-preview-phone")

        #    The configurator changes a label, saves the notebook and pushes it again from the notebook:
        #    the open preview follows by itself.
        _edit_label(path, OLD_LABEL, NEW_LABEL)
        repush = nbformat.v4.new_code_cell("draft = studio.push(NOTEBOOK)\ndraft")
        nb.cells.insert(preview_at + 1, repush)
        t0 = time.monotonic()
        again = _run(client, nb, preview_at + 1)
        expect(ppage.get_by_text(NEW_LABEL).first).to_be_visible(timeout=15000)
        seconds = time.monotonic() - t0
        print(f"\nnotebook push -> phone preview shows the change: {seconds:.2f} s (goal < 3 s)")
        assert f"(draft {draft_id.group(1)}, rev 2," in again, again  # the same draft, its next revision
        assert seconds < 10, seconds  # generous: 2 shared cores; the goal (3 s) is the benchmark's

        # ... and the rest of the notebook: the server's scenarios, the diff, the publish request.
        if (gap := _missing("server.console.procedure_pages",
                            "the console part (publish-request, /console/procedures/requests/{id})")):
            pytest.skip(f"steps 1-4 passed; {gap}")
        outs = ""
        for i in range(preview_at + 2, len(nb.cells)):
            if nb.cells[i].cell_type == "code":
                outs += _run(client, nb, i) + "\n"
    approval = re.findall(r"http://localhost:\d+/console/procedures/requests/[A-Za-z0-9_-]+", outs)
    assert approval, outs
    # The server ran both of the notebook's scenarios with its exact validation; nothing is live to diff against.
    for name in ("ソファと自転車を玄関先に出す（最短）", "早すぎる収集日と、説明のない「その他」の場所"):
        assert f"○ {name}" in outs, outs
    assert "× " not in outs, outs
    assert "nothing live yet" in outs, outs
    assert tokens.access_token not in path.read_text(encoding="utf-8")  # never written into the notebook
    assert tokens.access_token not in json.dumps(nb)
    assert PID not in _live(server), "requesting is not publishing"

    # 5. The configurator opens the approval URL and approves with the passkey (a fresh check).
    page.goto(approval[-1])
    expect(page.locator("h1")).to_contain_text(TITLE)
    expect(page.locator("#request-state")).to_have_text("承認待ち")
    shot(page, "configurator-approval")
    _later(server)
    before = _reauths(server)
    page.get_by_role("button", name="承認して公開する").click()
    page.wait_for_url(f"**/console/procedures/{PID}", timeout=20000)
    assert _reauths(server) == before + 1, "approving ran the passkey check"
    took = _wait(lambda: PID in _live(server), "GET /api/procedures lists the approved procedure")
    print(f"approval returned -> GET /api/procedures lists it: {took:.2f} s")
    live = _live(server)[PID]
    assert (live["version"], live["origin"], live["retired"]) == ("0.1.0", "console", False), live
    (account,), = server.query("SELECT id FROM accounts WHERE display_name = ?", ("設定 花子",))
    stored = server.query("SELECT origin, draft_id, published_by FROM procedure_versions WHERE procedure_id = ?",
                          (PID,))
    assert stored == [("console", draft_id.group(1), account)], stored
    assert server.query("SELECT state FROM publish_requests WHERE id = ?", (approval[-1].rsplit("/", 1)[-1],)) \
        == [("published",)]
    assert server.query("SELECT count(*) FROM audit_log WHERE action = 'procedure.publish' AND actor = ?",
                        (account,)) == [(1,)]
    listed = subprocess.run([sys.executable, "-m", "madoguchi.cli", "list", "--json", "--server", server.url],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True).stdout
    assert any(r.get("id") == PID and r.get("version") == "0.1.0" for r in json.loads(listed)), listed

    # 6. A resident's phone (fresh context, no account) finds it in the app and opens it; no restart.
    _wait(lambda: _bundle_lists(server, PID), "the rebuilt PWA bundle lists the procedure")
    resident = browser.new_context(**PHONE, service_workers="allow")
    rpage = resident.new_page()
    rpage.on("pageerror", lambda e: errors.append(str(e)))
    rpage.goto(f"{server.url}/#/find")
    ready(rpage)
    rpage.get_by_label("手続きの名前やことば").fill("粗大ごみ")
    link = rpage.get_by_role("link", name=TITLE)
    expect(link).to_be_visible()
    link.click()
    ready(rpage)
    expect(rpage.get_by_text(NEW_LABEL).first).to_be_visible()
    shot(rpage, "configurator-live-resident")
    assert server.proc is not None and server.proc.poll() is None and server.proc.pid == pid_before
    for ctx in (desk, phone, resident):
        ctx.close()
    assert not errors, errors
    print(f"whole cycle: {time.monotonic() - started:.1f} s")
