"""notebooks/analytics.ipynb executes (nbclient, a real kernel) against a real SQLite file of synthetic use made
through the real code paths (testsupport/analytics_data.py); its HTML export (the template madoguchi-offline) and
the `madoguchi report` HTML both open in Chromium with the network off and every chart drawn, no request leaves
the file, and axe-core finds nothing on either."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from madoguchi.analytics.dataset import load_sqlite
from testsupport.analytics_data import Truth, fill_database, fill_queue

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "analytics.ipynb"
CHARTS = 11  # the chart cells of the notebook = the charts of the report when every figure has data
# The report forecasts tomorrow: on the eve of a weekend day (the synthetic places are closed) there is no forecast
# chart; the notebook is given a weekday (FORECAST_DAY).
_TOMORROW = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=9 + 24)).date()
REPORT_CHARTS = CHARTS - (_TOMORROW.weekday() >= 5)


def _a_weekday() -> str:
    day = _TOMORROW
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day.isoformat()


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    db = tmp_path_factory.mktemp("analytics") / "city.db"
    truth = fill_database(db, submissions=300, visits=30)
    fill_queue(db, weeks=5, seed=8)
    return db, truth


@pytest.fixture(scope="module")
def executed(filled: tuple[Path, Truth], tmp_path_factory: pytest.TempPathFactory) -> Any:
    from nbclient import NotebookClient

    db, _ = filled
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    params = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1 and "DB =" in params[0].source
    # what papermill's injected parameters cell does
    params[0].source = f"DB = {str(db)!r}\nSERVER = None\nFORECAST_DAY = {_a_weekday()!r}"
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env_path) if p)  # the kernel imports this tree
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    finally:
        os.environ["PYTHONPATH"] = env_path
    return nb


def _outputs(nb: Any, mime: str) -> list[str]:
    return [o["data"][mime] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if "data" in o and mime in o["data"]]


def test_the_notebook_shows_every_figure_from_the_database(executed: Any, filled: tuple[Path, Truth]) -> None:
    db, truth = filled
    versions = load_sqlite(db).versions
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, errors
    svgs = _outputs(executed, "image/svg+xml")
    assert len(svgs) == CHARTS
    # The overview table carries the generated numbers (counted in Python by the generator, not by the SQL).
    overview = next(h for h in _outputs(executed, "text/html") if "完了率" in h and "開始" in h)
    for pid, version in truth.versions.items():
        key = (pid, version)
        starts = truth.completed[key] + truth.left[key]
        # By title and version: two procedures may share a version number (inkan-toroku, kokuho-kanyu 2.1.0).
        title = versions[(versions.procedure_id == pid) & (versions.version == version)]["title"].iloc[0]
        row = next(r for r in overview.split("<tr") if f"<td>{title}</td>" in r and f"<td>{version}</td>" in r)
        assert f"<td>{starts}</td>" in row and f"<td>{truth.submissions[key]}</td>" in row, (pid, row)
    # Japanese labels in the charts, not codes.
    assert any("離脱率" in s for s in svgs) and any("受付" in s for s in svgs)
    assert any("待ち時間" in s for s in svgs) and any("混む時間帯の予測" in s for s in svgs)
    assert any("過去 5 週の同じ曜日から" in o for c in executed.cells if c.cell_type == "code"
               for o in (x.get("text", "") for x in c.get("outputs", [])))


def _export(executed: Any, path: Path) -> Path:
    from madoguchi.analytics.notebook_html import export_html

    path.write_text(export_html(executed), encoding="utf-8")
    return path


def _no_network_references(html: str) -> None:
    assert "<script src" not in html.replace(" ", " ")
    for attr in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html):
        assert not attr.startswith(("http:", "https:", "//")), attr


def _report(db: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "madoguchi.cli", "report", "--db", str(db), "--out", str(out)],
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_exports_reference_nothing_on_the_network(executed: Any, filled: tuple[Path, Truth], tmp_path: Path) -> None:
    db, _ = filled
    _no_network_references(_export(executed, tmp_path / "analytics.html").read_text(encoding="utf-8"))
    done = _report(db, tmp_path / "report.html")
    assert done.returncode == 0, done.stderr
    _no_network_references((tmp_path / "report.html").read_text(encoding="utf-8"))


@pytest.mark.browser
def test_both_html_files_open_offline_with_every_chart_drawn(executed: Any, filled: tuple[Path, Truth],
                                                             tmp_path: Path) -> None:
    from tests.browser.helpers import axe_check
    from testsupport.chromium import CHROMIUM, CHROMIUM_FLAGS

    if not os.path.exists(CHROMIUM):
        pytest.skip("needs /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    db, _ = filled
    notebook_html = _export(executed, tmp_path / "analytics.html")
    done = _report(db, tmp_path / "report.html")
    assert done.returncode == 0, done.stderr
    drawn_in_report = int(re.search(r"(\d+) charts", done.stdout).group(1))  # type: ignore[union-attr]
    assert drawn_in_report == REPORT_CHARTS
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--headless", *CHROMIUM_FLAGS])
        try:
            for path, expected in ((notebook_html, CHARTS), (tmp_path / "report.html", drawn_in_report)):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.set_offline(True)
                left: list[str] = []

                def refuse(route: Any, left: list[str] = left) -> None:
                    if route.request.url.startswith("file:"):
                        route.continue_()
                    else:
                        left.append(route.request.url)
                        route.abort()

                context.route("**/*", refuse)
                page = context.new_page()
                page.goto(path.as_uri())
                page.wait_for_load_state("load")
                charts = page.evaluate("""() => [...document.querySelectorAll('svg.marks')].map(svg => {
                    const box = svg.getBoundingClientRect();
                    const marks = [...svg.querySelectorAll('g.role-mark')]
                        .filter(g => !g.closest('.role-axis, .role-legend, .role-title'));
                    return {width: box.width, height: box.height,
                            shapes: marks.reduce((n, g) => n + g.querySelectorAll('path, rect, line').length, 0)};
                })""")
                assert len(charts) == expected, (path.name, charts)
                for chart in charts:
                    assert chart["width"] > 100 and chart["height"] > 50, (path.name, chart)
                    assert chart["shapes"] > 0, (path.name, chart)  # bars, rects, ticks, rules: drawn
                # WCAG 2.2 AA: both files are read by people too; and no blank header cell (pandas' index corner)
                axe_check(page, f"analytics-{path.stem}", also=["empty-table-header"])
                assert left == [], left
                context.close()
        finally:
            browser.close()
