"""notebooks/new-procedure.ipynb: a new procedure authored from a blank template, checked, and (with a server) drafted.

It must pass ``madoguchi check`` as a definition source and execute end to end with no server (``SERVER = None``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from madoguchi.cli import main
from procedure_definitions.loader import load_file
from procedure_definitions.notebook import PROCEDURE_TAG

ROOT = Path(__file__).resolve().parents[1]
NEW = ROOT / "notebooks" / "new-procedure.ipynb"


def test_new_procedure_notebook_passes_madoguchi_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(NEW)]) == 0
    out = capsys.readouterr().out
    assert "1 file checked: 0 errors, 0 warnings" in out
    assert re.search(r"sodai-gomi 0\.1\.0: \d+ s \(within 60 s\)", out), out
    proc = load_file(NEW).definition
    assert proc.id == "sodai-gomi" and len(proc.scenarios) >= 2
    assert any(f.required_if and f.show_if for s in proc.sections for f in s.fields), "step 4 adds a rule"


def test_new_procedure_notebook_shows_each_step_as_yaml_and_with_the_builder() -> None:
    nb = nbformat.read(NEW, as_version=4)
    yaml_cells = [c for c in nb.cells if PROCEDURE_TAG in c.metadata.get("tags", [])]
    assert len(yaml_cells) >= 5 and all(c.cell_type == "markdown" and "```yaml" in c.source for c in yaml_cells)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and params[0].cell_type == "code" and "SERVER = None" in params[0].source
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for call in ("p.section(", "p.rule(", "p.scenario(", "from madoguchi.studio import connect", "connect(SERVER)",
                 "studio.push(", "draft.preview()", "draft.scenarios()", "draft.diff()", "draft.request_publish()"):
        assert call in code, call


@pytest.mark.slow
def test_new_procedure_notebook_executes_without_a_server() -> None:
    from nbclient import NotebookClient

    nb = nbformat.read(NEW, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []  # the saved outputs must not stand in for a run
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NEW.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert [o for o in outputs if o.output_type == "error"] == []
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "sodai-gomi 0.1.0: 3 pages, 2 scenarios, 0 errors, 0 warnings" in text
    assert "the builder and the YAML give the same definition" in text
    # The deliberate mistake is located in the builder's YAML, with a suggestion.
    assert re.search(r"sodai-gomi\.yaml:\d+:\d+: PD202 unknown field 'plase' in show_if \(did you mean 'place'\?\)", text)
    assert "server steps skipped" in text
    assert "<0x" not in str(outputs) and " object at 0x" not in str(outputs)


@pytest.mark.slow
def test_new_procedure_notebook_runs_its_server_steps_against_the_real_server(
        tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``SERVER`` set (papermill's way: a cell after the parameters cell) and a configurator's token in the
    kernel's environment (never in the notebook), every server step runs: push, preview, scenarios, diff,
    publish request."""
    import shutil

    from nbclient import NotebookClient

    from tests.server.conftest import auth_server
    from tests.server.test_studio_oauth import Staff

    with auth_server(tmp_path_factory, "notebook-studio") as srv:
        staff = Staff(srv, "configurator")
        r = staff.client.post("/console/tokens", data={"name": "notebook", "scopes": "drafts", "days": "1"})
        assert r.status_code == 200, r.text
        token = str(r.json()["token"])
        monkeypatch.setenv("MADOGUCHI_TOKEN", token)
        path = tmp_path / NEW.name
        shutil.copyfile(NEW, path)
        nb = nbformat.read(path, as_version=4)
        at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(f"SERVER = {srv.base_url!r}"))
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()

        def shown(code: str) -> str:
            cell = next(c for c in nb.cells if c.cell_type == "code" and code in c.source)
            assert not [o for o in cell.outputs if o.output_type == "error"], cell.outputs
            return "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/html", "")) for o in cell.outputs)

        pushed = shown("studio.push(NOTEBOOK)")
        draft_id = re.search(r"drf_[\w-]+", pushed)
        assert draft_id and "sodai-gomi 0.1.0" in pushed
        row = srv.sql("SELECT procedure_id, state FROM procedure_drafts WHERE id = ?", draft_id.group())
        assert row == [("sodai-gomi", "draft")]
        assert re.search(rf'<iframe src="{re.escape(srv.base_url)}/preview/[\w.-]+"', shown("draft.preview()"))
        assert "<svg" in shown("draft.preview()")
        assert shown("draft.scenarios()").count("○") == 2
        assert "nothing live yet" in shown("draft.diff()")
        approval = re.search(r"/console/procedures/requests/(\S+)", shown("draft.request_publish()"))
        assert approval, "the publish request answers its approval URL"
        assert srv.sql("SELECT draft_id FROM publish_requests WHERE id = ?", approval.group(1)) == [
            (draft_id.group(),)]
        assert token not in json.dumps(nb), "the token never lands in the notebook"
        staff.client.close()
