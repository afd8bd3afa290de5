"""The queue's and bookings' figures (issue 15 point 6) over a real SQLite file of synthetic queue data
(testsupport/analytics_data.py fill_queue): every figure equals what the generator counted in plain Python; the
dataset carries no names, phones, codes or ids; the report's 「待ち時間と予約」 section renders offline; the
forecast says so when it has nothing to go on."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from collections import defaultdict
from pathlib import Path

import pytest

from madoguchi.analytics import queue_metrics as qm
from madoguchi.analytics.dataset import Dataset, load_sqlite, read_tables, to_dataset
from madoguchi.analytics.report import QUEUE_SECTIONS, write_report
from testsupport.analytics_data import PERSONAL, QUEUE_CONFIG, QueueTruth, fill_database, fill_queue


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, QueueTruth]:
    db = tmp_path_factory.mktemp("queue-analytics") / "city.db"
    fill_database(db, submissions=30, visits=2, seed=5)
    return db, fill_queue(db, weeks=6, seed=21)


@pytest.fixture(scope="module")
def ds(filled: tuple[Path, QueueTruth]) -> Dataset:
    return load_sqlite(filled[0])


def _linear_quantile(values: list[float], q: float) -> float:
    """The 'linear' (type 7) quantile, as DuckDB's quantile_cont."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _next_weekday(after: dt.date) -> dt.date:
    d = after + dt.timedelta(days=1)
    while d.weekday() >= 5:
        d += dt.timedelta(days=1)
    return d


@pytest.mark.parametrize(("by", "index"), [("hour", 1), ("weekday", 2)])
def test_waits_to_the_first_call_by_hour_and_weekday_per_kind(ds: Dataset, filled: tuple[Path, QueueTruth],
                                                              by: str, index: int) -> None:
    truth = filled[1]
    expected: dict[tuple[str, int], list[float]] = defaultdict(list)
    for w in truth.waits:
        expected[(w[0], int(w[index]))].append(w[3])
    frame = qm.waits_by_hour(ds) if by == "hour" else qm.waits_by_weekday(ds)
    got = {(r.kind, int(getattr(r, by))): r for r in frame.itertuples()}
    assert set(got) == set(expected) and {k for k, _ in got} == {"booking", "walkin"}
    for key, values in expected.items():
        row = got[key]
        assert row.n == len(values), key
        # The log keeps whole seconds: within a second of the generator's minutes, then rounded to 0.1.
        assert abs(row.p50_min - _linear_quantile(values, 0.5)) <= 0.07, key
        assert abs(row.p90_min - _linear_quantile(values, 0.9)) <= 0.07, key
    assert {r.kind_label for r in frame.itertuples()} == {"予約", "当日"}


def test_the_no_show_rate_counts_bookings_due_not_cancelled_ones(ds: Dataset, filled: tuple[Path, QueueTruth]) -> None:
    truth = filled[1]
    rows = {r.place if isinstance(r.place, str) else None: r for r in qm.no_show_rate(ds).itertuples()}
    assert set(rows) == {*truth.due, None}
    for place, due in truth.due.items():
        assert (rows[place].due, rows[place].no_shows) == (due, truth.no_show[place])
        assert rows[place].no_show_rate == pytest.approx(truth.no_show[place] / due)
    total = rows[None]
    assert total.due == sum(truth.due.values())
    assert total.no_show_rate == pytest.approx(sum(truth.no_show.values()) / sum(truth.due.values()))


def test_capacity_use_is_booked_over_bookable_minutes(ds: Dataset, filled: tuple[Path, QueueTruth]) -> None:
    truth = filled[1]

    def minutes(hm: str) -> int:
        return int(hm[:2]) * 60 + int(hm[3:])

    frame = qm.capacity_use(ds)
    got = {(r.place, r.day): r for r in frame.itertuples()}
    assert set(got) == set(truth.booked_minutes)
    places = {p["id"]: p for p in QUEUE_CONFIG["places"]}
    for (place, day), booked in truth.booked_minutes.items():
        p = places[place]
        span = p["hours"][("mon", "tue", "wed", "thu", "fri", "sat", "sun")[dt.date.fromisoformat(day).weekday()]]
        bookable = (minutes(span[1]) - minutes(span[0])) * p["booking_booths"]
        assert got[(place, day)].booked_min == booked
        assert got[(place, day)].capacity_use == pytest.approx(booked / bookable)


def test_the_forecast_is_the_same_weekdays_mean_per_hour_with_its_weeks(ds: Dataset,
                                                                        filled: tuple[Path, QueueTruth]) -> None:
    truth = filled[1]
    day = _next_weekday(truth.today)
    frame = qm.busy_hours_forecast(ds, day)
    past = [(day - dt.timedelta(days=7 * k)).isoformat() for k in range(1, qm.FORECAST_WEEKS + 1)]
    expected: dict[tuple[str, int], float] = {}
    weeks: dict[str, int] = {}
    for place in {p for p, _ in truth.open_days}:
        days = [d for d in past if (place, d) in truth.open_days]
        weeks[place] = len(days)
        for (p, d, hour), n in truth.arrivals.items():
            if p == place and d in days:
                expected[(place, hour)] = expected.get((place, hour), 0) + n / len(days)
    got = {(r.place, r.hour): r for r in frame.itertuples()}
    assert set(got) == set(expected)
    assert min(weeks.values()) >= 4  # the generator made 6 weeks: all of them count
    for key, mean in expected.items():
        assert got[key].mean_arrivals == pytest.approx(round(mean, 1), abs=0.051), key
        assert got[key].weeks == weeks[key[0]]
        assert got[key].booked == truth.upcoming.get((key[0], day.isoformat(), key[1]), 0)
    assert sum(r.booked for r in frame.itertuples()) > 0  # tomorrow's bookings are there to be shown


def test_without_past_data_the_forecast_says_so(ds: Dataset, filled: tuple[Path, QueueTruth]) -> None:
    from madoguchi.analytics.report import forecast_note

    truth = filled[1]
    sunday = truth.today + dt.timedelta(days=(6 - truth.today.weekday()) % 7 or 7)  # closed: no tickets ever
    assert qm.busy_hours_forecast(ds, sunday).empty
    assert "予測はできません" in forecast_note(qm.busy_hours_forecast(ds, sunday), sunday)
    long_ago = dt.date(2001, 1, 1)
    assert qm.busy_hours_forecast(ds, long_ago).empty
    weekday = _next_weekday(truth.today)
    assert "過去 6 週" in forecast_note(qm.busy_hours_forecast(ds, weekday), weekday)
    assert "目安" in forecast_note(qm.busy_hours_forecast(ds, weekday, weeks=2), weekday)


def test_the_dataset_has_numbers_not_ids_names_phones_or_codes(filled: tuple[Path, QueueTruth], ds: Dataset) -> None:
    db, _ = filled
    conn = sqlite3.connect(db)
    try:
        text = json.dumps(read_tables(conn), ensure_ascii=False, default=str)
        ids = [r[0] for r in conn.execute("SELECT id FROM bookings UNION SELECT ticket_id FROM queue_events"
                                          " WHERE ticket_id IS NOT NULL")]
        assert conn.execute("SELECT count(*) FROM bookings WHERE name = '予約花子'").fetchone()[0] > 0
    finally:
        conn.close()
    for marker in PERSONAL:
        assert marker not in text, marker
    assert ids and not any(i in text for i in ids)
    # The same booking is the same number in both tables (a ticket's booking is found).
    booked = set(ds.bookings["booking_no"].dropna())
    in_log = set(ds.queue_events["booking_no"].dropna())
    assert in_log and in_log <= booked


def test_a_dataset_without_the_queue_tables_still_loads(filled: tuple[Path, QueueTruth]) -> None:
    conn = sqlite3.connect(filled[0])
    try:
        tables = read_tables(conn)
    finally:
        conn.close()
    for name in ("queue_events", "bookings", "capacity"):
        del tables[name]
    old = to_dataset(tables, "an older server")
    assert old.queue_events.empty and qm.no_show_rate(old)["due"].sum() == 0
    assert qm.busy_hours_forecast(old, dt.date.today()).empty


def test_the_report_has_the_section_offline(ds: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    write_report(ds, out)
    page = out.read_text(encoding="utf-8")
    section = page[page.index('<h2 id="h-queue">待ち時間と予約</h2>'):]
    for chart in ("waits_hour", "waits_weekday", "capacity"):
        assert f'data-chart="{chart}"' in section
    assert section.count("<h3>") == len(QUEUE_SECTIONS)
    assert "来庁なしの率" in section and "%" in section
    assert "<script" not in page and not re.search(r'(src|href)="https?:', page)


def test_an_empty_database_says_there_is_no_queue_data(tmp_path: Path) -> None:
    from server.storage.schema import migrate

    db = tmp_path / "new.db"
    conn = sqlite3.connect(db)
    migrate(conn)
    conn.commit()
    conn.close()
    write_report(load_sqlite(db), tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    section = page[page.index("待ち時間と予約</h2>"):]
    assert section.count("データがありません") == len(QUEUE_SECTIONS) and "予測はできません" in section


def test_each_queue_figure_is_computed_once_for_the_report_and_the_console(
        filled: tuple[Path, QueueTruth], monkeypatch: pytest.MonkeyPatch) -> None:
    """``queue_figures`` reads the tickets' waits once for both wait tables, and the console's key figures take
    that one result (the forecast is not computed a second time for its note)."""
    from server.analytics_api import dataset_tables
    from server.console.analytics_page import key_figures

    calls: dict[str, int] = defaultdict(int)
    for name in ("ticket_waits", "busy_hours_forecast"):
        real = getattr(qm, name)

        def counted(*args: object, _real: object = real, _name: str = name, **kw: object) -> object:
            calls[_name] += 1
            return _real(*args, **kw)  # type: ignore[operator]

        monkeypatch.setattr(qm, name, counted)
    figures = qm.queue_figures(load_sqlite(filled[0]))
    assert not figures["waits_hour"].empty and not figures["waits_weekday"].empty
    assert calls == {"ticket_waits": 1, "busy_hours_forecast": 1}
    calls.clear()
    with sqlite3.connect(f"file:{filled[0]}?mode=ro", uri=True) as conn:
        tables = dataset_tables(conn)
    page = key_figures(tables)
    assert page["tables"]["queue_waits"] and page["forecast_note"]
    assert calls == {"ticket_waits": 1, "busy_hours_forecast": 1}
