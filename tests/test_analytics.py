"""madoguchi.analytics over a real SQLite file of synthetic use (testsupport/analytics_data.py): every figure equals
what the generator counted in plain Python; the file is opened read-only; no personal data reaches the dataset or
the report; `madoguchi report` keeps its contract (exit 0 and a summary; one error line and exit 2 otherwise)."""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from madoguchi.analytics import metrics
from madoguchi.analytics.dataset import (
    TABLE_COLUMNS,
    Dataset,
    DatasetError,
    load_sqlite,
    read_tables,
    to_dataset,
)
from testsupport.analytics_data import PERSONAL, Truth, fill_database

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    db = tmp_path_factory.mktemp("analytics") / "city.db"
    return db, fill_database(db, submissions=500, visits=40, seed=7)


@pytest.fixture(scope="module")
def ds(filled: tuple[Path, Truth]) -> Dataset:
    return load_sqlite(filled[0])


def _linear_quantile(values: list[float], q: float) -> float:
    """The 'linear' (type 7) quantile, as DuckDB's quantile_cont."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def test_overview_counts_starts_submissions_rates_and_times(ds: Dataset, filled: tuple[Path, Truth]) -> None:
    _, truth = filled
    ov = metrics.overview(ds).set_index(["procedure_id", "version"])
    assert set(ov.index) == set(truth.submissions)
    for key in truth.submissions:
        row = ov.loc[key]
        starts = truth.completed[key] + truth.left[key]
        assert row["starts"] == starts
        assert row["submissions"] == truth.submissions[key]
        assert row["completed"] == truth.completed[key]
        assert row["completion_rate"] == pytest.approx(truth.completed[key] / starts)
        assert row["p50_s"] == pytest.approx(_linear_quantile(truth.durations[key], 0.5))
        assert row["p90_s"] == pytest.approx(_linear_quantile(truth.durations[key], 0.9))
        assert row["goal_s"] == 60
    # The estimate is madoguchi check's, from the stored definition.
    from procedure_definitions.library import load_library
    from procedure_definitions.timing import estimate

    lib = load_library()
    for pid, version in truth.versions.items():
        expected = round(estimate(lib.procedures[pid][version]).seconds, 1)
        assert ov.loc[(pid, version)]["estimate_s"] == pytest.approx(expected)


def test_drop_off_is_exits_over_views_per_field(ds: Dataset, filled: tuple[Path, Truth]) -> None:
    _, truth = filled
    drop = metrics.field_dropoff(ds)
    assert len(drop) == len(truth.views)
    for row in drop.itertuples():
        key = (row.procedure_id, row.version, row.path)
        assert row.views == truth.views[key]
        assert row.exits == truth.exits[key]
        assert row.dropoff == pytest.approx(truth.exits[key] / truth.views[key])
    assert drop["exits"].sum() == sum(truth.exits.values())
    assert not drop["label"].eq(drop["path"]).all()  # labels from the definition, not paths


def test_errors_per_field(ds: Dataset, filled: tuple[Path, Truth]) -> None:
    _, truth = filled
    errs = metrics.field_errors(ds)
    assert {(r.procedure_id, r.version, r.path): r.errors for r in errs.itertuples()} == {
        k: n for k, n in truth.errors.items() if n}
    assert (errs["error_rate"] <= 1).all() and (errs["error_rate"] > 0).all()


def test_exits_and_errors_on_fields_never_shown_are_not_counted(filled: tuple[Path, Truth], ds: Dataset) -> None:
    """Rows stored before the server dropped them (or sent by anyone): an exit or error on a field the session's
    ``viewed`` lacks counts nowhere (no drop-off of 1 exit per 0 views, no error rate above 100 %)."""
    import sqlite3

    conn = sqlite3.connect(filled[0])
    try:
        tables = read_tables(conn)
    finally:
        conn.close()
    fs = tables["form_sessions"]
    cols = fs["columns"]
    drop = metrics.field_dropoff(ds)
    pid, version, path = drop.iloc[0][["procedure_id", "version", "path"]]
    no = max(r[cols.index("session_no")] for r in fs["rows"]) + 1
    extra = []
    for i, (viewed, last) in enumerate([([], path), ([f"{path}.nothing"], path)]):
        r = dict.fromkeys(cols)
        r.update(session_no=no + i, procedure_id=pid, procedure_version=version, channel="resident",
                 outcome="left", viewed=json.dumps(viewed), last_field=last, errors=json.dumps({path: 3}))
        extra.append([r[c] for c in cols])
    again = to_dataset({**tables, "form_sessions": {"columns": cols, "rows": [*fs["rows"], *extra]}}, "api")
    mine = metrics.field_dropoff(again)
    at = (mine["procedure_id"] == pid) & (mine["version"] == version) & (mine["path"] == path)
    assert mine[at]["exits"].item() == drop.iloc[0]["exits"]
    errs = metrics.field_errors(again)
    assert errs.drop(columns="label").equals(metrics.field_errors(ds).drop(columns="label"))
    assert (errs["error_rate"] <= 1).all()


def test_volumes_are_in_jst(ds: Dataset, filled: tuple[Path, Truth]) -> None:
    _, truth = filled
    vol = metrics.volumes_by_hour_weekday(ds).groupby(["weekday", "hour"])["submissions"].sum().to_dict()
    assert vol == dict(truth.by_weekday_hour)
    labels = metrics.volumes_by_hour_weekday(ds)
    assert set(zip(labels["weekday"], labels["weekday_label"], strict=True)) <= {
        (i + 1, d) for i, d in enumerate(metrics.WEEKDAYS)}


def test_visit_step_times(ds: Dataset, filled: tuple[Path, Truth]) -> None:
    _, truth = filled
    durations = metrics.visit_step_durations(ds)
    for step, seconds in truth.step_seconds.items():
        got = sorted(durations[durations["step"] == step]["seconds"].tolist())
        assert got == pytest.approx(sorted(seconds)), step
    steps = metrics.visit_step_times(ds)
    reception = steps[steps["step"] == "reception"].iloc[0]
    assert reception["step_label"] == "受付" and reception["department_label"] == "来庁全体"
    assert reception["p50_min"] == round(statistics.median(truth.step_seconds["reception"]) / 60, 1)
    assert list(dict.fromkeys(steps["step_label"])) == list(metrics.STEP_LABELS.values())
    assert "市民課" in set(steps["department_label"])  # department names, not ids


def test_the_dataset_has_no_personal_data(filled: tuple[Path, Truth], ds: Dataset) -> None:
    db, _ = filled
    assert {n: list(df.columns) for n, df in ds.tables.items()} == {
        n: [c for c, _ in cols] for n, cols in TABLE_COLUMNS.items()}
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        text = json.dumps(read_tables(conn), ensure_ascii=False, default=str)
        # The database does hold them (else this test proves nothing).
        assert conn.execute("SELECT count(*) FROM submissions WHERE answers LIKE '%窓口花子%'").fetchone()[0] > 0
    finally:
        conn.close()
    for marker in PERSONAL:
        assert marker not in text, marker


def test_report_cli_writes_one_offline_file_and_opens_the_db_read_only(filled: tuple[Path, Truth],
                                                                      tmp_path: Path) -> None:
    db, truth = filled
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    out = tmp_path / "out" / "report.html"
    done = subprocess.run([sys.executable, "-m", "madoguchi.cli", "report", "--db", str(db), "--out", str(out)],
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert str(out) in done.stdout and f"{sum(truth.submissions.values())} submissions" in done.stdout
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html and 'lang="ja"' in html
    assert html.count("<svg") == 7
    for marker in PERSONAL:
        assert marker not in html, marker
    for title in ("住民票の写し等交付請求", "受付", "聞き取り", "審査", "交付", "日本時間"):
        assert title in html


def _report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "madoguchi.cli", "report", *args], capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("content", [None, b"not a database at all", "sqlite-other"])
def test_report_refuses_what_is_not_a_madoguchi_database(tmp_path: Path, content: bytes | str | None) -> None:
    db = tmp_path / "x.db"
    if content == "sqlite-other":
        import sqlite3

        sqlite3.connect(db).execute("CREATE TABLE t (a)").connection.close()
    elif isinstance(content, bytes):
        db.write_bytes(content)
    done = _report("--db", str(db), "--out", str(tmp_path / "r.html"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("madoguchi report: error: ") and str(db) in lines[0], done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "r.html").exists()
    if content is None:
        assert not db.exists()  # read-only: a missing file is not created


@pytest.mark.parametrize("where", ["folder", "under-a-file"])
def test_report_refuses_an_out_it_cannot_write(filled: tuple[Path, Truth], tmp_path: Path, where: str) -> None:
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    out = tmp_path if where == "folder" else tmp_path / "file.txt" / "r.html"  # not writable, even for root
    done = _report("--db", str(filled[0]), "--out", str(out))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("madoguchi report: error: ") and str(out) in lines[0], done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_dataset_from_the_api_shape_gives_the_same_figures(filled: tuple[Path, Truth], ds: Dataset) -> None:
    import sqlite3

    conn = sqlite3.connect(filled[0])
    try:
        tables = json.loads(json.dumps(read_tables(conn)))  # through JSON, as GET /api/analytics/dataset sends it
    finally:
        conn.close()
    again = to_dataset(tables, "api")
    assert metrics.overview(again).equals(metrics.overview(ds))
    assert metrics.field_dropoff(again).equals(metrics.field_dropoff(ds))
    bad = dict(tables)
    bad.pop("telemetry")
    with pytest.raises(DatasetError):
        to_dataset(bad, "api")


def test_a_database_with_no_use_yet_gives_a_report_without_charts(tmp_path: Path) -> None:
    import sqlite3

    from server.storage.schema import migrate

    db = tmp_path / "new.db"
    conn = sqlite3.connect(db)
    migrate(conn)
    conn.commit()
    conn.close()
    done = _report("--db", str(db), "--out", str(tmp_path / "r.html"))
    assert done.returncode == 0, done.stderr
    assert "0 charts" in done.stdout
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    from madoguchi.analytics.report import QUEUE_SECTIONS, SECTIONS

    assert "<svg" not in html and html.count("データがありません") == len(SECTIONS) + len(QUEUE_SECTIONS)


def test_telemetry_sent_alone_is_no_completion(tmp_path: Path) -> None:
    """POST /api/telemetry is open to anyone (source 'beacon'): its rows never count as completions; a filing's own
    telemetry (source 'filing') does. Times are stored in UTC whatever offset the device sent."""
    import sqlite3

    from madoguchi.analytics.dataset import read_tables
    from server.telemetry import TelemetryIn, insert_telemetry, telemetry_row

    db = tmp_path / "beacon.db"
    fill_database(db, submissions=20, visits=2, seed=3)
    conn = sqlite3.connect(db)
    try:
        before = read_tables(conn)["telemetry"]["rows"]
        pid, version = before[0][0], before[0][1]
        t = TelemetryIn(procedure_id=pid, procedure_version=version, opened_at="2026-12-01T09:00:00+09:00",
                        acknowledged_at="2026-12-01T09:00:30+09:00")
        with conn:
            for _ in range(6):
                insert_telemetry(conn, telemetry_row(t), source="beacon")
            insert_telemetry(conn, telemetry_row(t))
        after = read_tables(conn)["telemetry"]["rows"]
    finally:
        conn.close()
    assert len(after) == len(before) + 1  # the filing's row only
    assert after[-1][2] == "2026-12-01T00:00:00+00:00"  # stored in UTC
