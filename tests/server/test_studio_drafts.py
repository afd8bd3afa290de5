"""The notebook client's drafts (``Studio.push``, ``Draft``) and ``madoguchi drafts push|status`` against the
real server's /api/drafts with a real bearer token: the CLI contract (the draft's id and check result; exit 1
with located ``FILE:line:col: CODE message`` lines, FILE as given), a notebook pushed as its JSON, the inline
HTML, validate/scenarios/diff, and errors as ``StudioError``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from madoguchi.studio import Draft, Studio, StudioError, connect
from procedure_definitions.library import DEFAULT_LIBRARY
from tests.server.conftest import auth_server
from tests.server.test_studio_oauth import Staff
from testsupport.webauthn import AuthServer

ROOT = Path(__file__).resolve().parents[2]


def _yaml(pid: str, version: str, **changes: object) -> str:
    path = next(p for p in DEFAULT_LIBRARY.rglob("*.yaml") if yaml.safe_load(p.read_text())["id"] == "juminhyo-copy")
    d = yaml.safe_load(path.read_text(encoding="utf-8"))
    d = {**d, "id": pid, "version": version, **changes}
    return yaml.safe_dump(d, allow_unicode=True, sort_keys=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory, "studio-drafts") as srv:
        yield srv


@pytest.fixture(scope="module")
def token(server: AuthServer) -> Iterator[str]:
    staff = Staff(server, "configurator")
    r = staff.client.post("/console/tokens", data={"name": "CI", "scopes": "drafts", "days": "1"})
    assert r.status_code == 200, r.text
    yield str(r.json()["token"])
    staff.client.close()


@pytest.fixture
def studio(server: AuthServer, token: str) -> Iterator[Studio]:
    with connect(server.base_url, token=token) as s:
        yield s


def cli(*args: str, token: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MADOGUCHI_TOKEN": token, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "madoguchi.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_cli_push_prints_the_id_and_check_result(server: AuthServer, token: str, tmp_path: Path) -> None:
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "cli-ok.yaml").write_text(_yaml("studio-cli-ok", "0.1.0"), encoding="utf-8")
    r = cli("drafts", "push", "defs/cli-ok.yaml", "--server", server.base_url, token=token, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.match(r"draft (\S+) \(studio-cli-ok 0\.1\.0, revision 1\): ok", r.stdout)
    assert m, r.stdout
    assert re.search(r"^estimate: \d+ s \(goal 60 s\)", r.stdout, re.M)
    assert token not in r.stdout + r.stderr
    status = cli("drafts", "status", m.group(1), "--server", server.base_url, token=token, cwd=tmp_path)
    assert status.returncode == 0 and status.stdout.startswith(f"draft {m.group(1)} ")
    # the console page, absolute, opens in a browser; no POST-only /preview URL (405), no preview link unasked
    for out in (r.stdout, status.stdout):
        assert f"console: {server.base_url}/console/procedures/drafts/{m.group(1)}\n" in out, out
        assert "/preview" not in out and "preview:" not in out
    assert httpx.get(f"{server.base_url}/console/procedures/drafts/{m.group(1)}").status_code != 405


def test_cli_push_of_an_unreadable_file_or_a_folder(server: AuthServer, token: str, studio: Studio,
                                                   tmp_path: Path) -> None:
    (tmp_path / "sjis.yaml").write_bytes(_yaml("studio-cli-sjis", "0.1.0").encode("shift_jis"))
    before = {d.id for d in studio.drafts()}
    r = cli("drafts", "push", "sjis.yaml", "--server", server.base_url, token=token, cwd=tmp_path)
    check = subprocess.run([sys.executable, "-m", "madoguchi.cli", "check", "sjis.yaml"], cwd=tmp_path,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in r.stderr and r.returncode == 1, r.stdout + r.stderr
    line = next(x for x in check.stdout.splitlines() if "PD005" in x)
    assert line.startswith("sjis.yaml:1:1: PD005 ") and r.stdout.splitlines() == [line], (r.stdout, check.stdout)
    (tmp_path / "defs").mkdir()
    r = cli("drafts", "push", "defs", "--server", server.base_url, token=token, cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1 and "folder" in r.stderr, r.stderr
    assert {d.id for d in studio.drafts()} == before  # nothing was pushed
    with pytest.raises(StudioError, match="cannot read"):
        studio.push(tmp_path / "sjis.yaml")  # the notebook client reads the same way


def test_cli_push_with_errors_exits_1_with_located_lines(server: AuthServer, token: str, tmp_path: Path) -> None:
    text = _yaml("studio-cli-bad", "0.1.0").replace("\nsections:", "\nnot_a_key: 1\nsections:", 1)
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    line = text.splitlines().index("not_a_key: 1") + 1
    r = cli("drafts", "push", "./bad.yaml", "--server", server.base_url, token=token, cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "has errors" in r.stdout.splitlines()[0]
    assert re.search(rf"^\./bad\.yaml:{line}:1: PD101 ", r.stdout, re.M), r.stdout
    draft_id = r.stdout.split()[1]
    status = cli("drafts", "status", draft_id, "--server", server.base_url, token=token, cwd=tmp_path)
    assert status.returncode == 1 and "PD101" in status.stdout


def test_cli_refusals_exit_2_with_the_problem(server: AuthServer, tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text(_yaml("studio-cli-x", "0.1.0"), encoding="utf-8")
    r = cli("drafts", "push", "x.yaml", "--server", server.base_url, token="mdg_revoked", cwd=tmp_path)
    assert r.returncode == 2 and "token" in r.stderr and "Traceback" not in r.stderr
    r = cli("drafts", "status", "no-such-draft", "--server", server.base_url, token="mdg_x", cwd=tmp_path)
    assert r.returncode == 2


def test_push_a_notebook_and_work_with_the_draft(studio: Studio) -> None:
    nb = ROOT / "notebooks" / "kainu-toroku.ipynb"
    draft = studio.push(nb)
    assert isinstance(draft, Draft) and draft.data["format"] == "ipynb" and draft.data["filename"] == nb.name
    html = draft._repr_html_()
    assert draft.id in html and "60 秒" in html
    assert f'href="{draft.urls["console"]}"' in html and "/preview\"" not in html  # no link to the POST-only URL
    assert draft.id in [d.id for d in studio.drafts()]
    assert studio.draft(draft.id).data["revision"] == draft.data["revision"]
    assert draft.refresh().id == draft.id
    assert draft.urls["console"].startswith(studio.server + "/console/procedures/drafts/")


def test_draft_with_errors_and_server_checks(studio: Studio) -> None:
    draft = studio.push(_yaml("studio-api", "0.1.0", bogus=True), filename="studio-api.yaml")
    assert not draft.ok and any(p["code"] == "PD101" for p in draft.problems)
    assert any(line.startswith("studio-api.yaml:") for line in draft.lines)
    assert "PD101" in draft._repr_html_() and "✗" in draft._repr_html_()
    good = studio.push(_yaml("studio-api", "0.1.0"), filename="studio-api.yaml")
    assert good.ok and good.id == draft.id and good.data["revision"] == draft.data["revision"] + 1
    assert good.estimate_seconds is not None
    errors = good.validate({})
    assert errors and all(isinstance(e, dict) for e in errors)  # required answers missing: the server's rules
    scenarios = good.scenarios()
    assert [sc["name"] for sc in scenarios] == [sc["name"] for sc in good.data["scenarios"]]
    assert scenarios and all(sc["ok"] for sc in scenarios)
    diff = good.diff()
    assert diff.against is None and not diff.breaking and [c["kind"] for c in diff.changes] == ["new"]
    assert "<table" in diff._repr_html_() and "公開中の版がないため" in diff._repr_html_()
    with pytest.raises(StudioError) as err:
        studio.draft("no-such-draft")
    assert err.value.status == 404 and err.value.title


def test_push_refuses_what_is_not_a_file_or_notebook(studio: Studio, tmp_path: Path) -> None:
    with pytest.raises(StudioError):
        studio.push(tmp_path / "missing.yaml")
    (tmp_path / "broken.ipynb").write_text("{not json", encoding="utf-8")
    with pytest.raises(StudioError) as err:
        studio.push(tmp_path / "broken.ipynb")
    assert "not a notebook" in str(err.value)


def test_an_analytics_token_cannot_reach_drafts(server: AuthServer) -> None:
    staff = Staff(server, "configurator")
    r = staff.client.post("/console/tokens", data={"name": "統計", "scopes": "analytics", "days": "1"})
    staff.client.close()
    with connect(server.base_url, token=r.json()["token"]) as s:
        assert s.whoami()["token"]["scopes"] == ["analytics"]
        with pytest.raises(StudioError) as err:
            s.push(_yaml("studio-analytics", "0.1.0"), filename="a.yaml")
        assert err.value.status == 403 and err.value.slug == "token-scope"
        assert "tables" in s.request("GET", "/api/analytics/dataset")  # what an analytics token is for


def test_preview_inline(studio: Studio) -> None:
    draft = studio.push(_yaml("studio-preview", "0.1.0"), filename="studio-preview.yaml")
    view = draft.preview()
    assert view.url.startswith(studio.server + "/preview/") and "<svg" in view.qr_svg
    html = view._repr_html_()
    assert f'<iframe src="{view.url}"' in html and 'width="390"' in html and "<svg" in html
    assert httpx.get(view.url).status_code == 200  # anyone with the link: no account, no token


def test_request_publish_returns_the_approval_url_and_never_publishes(server: AuthServer, studio: Studio,
                                                                      token: str) -> None:
    import datetime as dt

    draft = studio.push(_yaml("studio-publish", "0.1.0"), filename="studio-publish.yaml")
    assert draft.ok, draft.lines
    url = draft.request_publish(live_from=dt.datetime(2030, 4, 1, 8, 30),
                                closes_at=dt.datetime(2031, 3, 31, 17, 0), message="受付は終了しました。")
    assert url.startswith(server.base_url + "/console/procedures/requests/")
    rows = server.sql("SELECT live_from, closes_at FROM publish_requests WHERE id = ?", url.rsplit("/", 1)[1])
    assert rows and rows[0][0].startswith("2030-03-31T23:30")  # 08:30 JST
    # The token never publishes or approves: those routes refuse it before any handler runs.
    for path in (f"/console/procedures/drafts/{draft.id}/publish", url.replace(server.base_url, "") + "/approve"):
        r = httpx.post(server.base_url + path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 403 and r.json()["type"].endswith("/token-scope"), (path, r.text)
    assert draft.refresh().data["state"] != "published"
