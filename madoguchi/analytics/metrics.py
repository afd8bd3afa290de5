"""The figures, one function per figure, each a DuckDB SQL query over the dataset returning a DataFrame.

Exact definitions (and the columns they read) are in docs/analytics.md; the SQL below is that definition. Times
are UTC in the dataset; hours and weekdays are JST (UTC+9 all year: Japan has no daylight saving).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from procedure_definitions.timing import BUDGET_SECONDS

if TYPE_CHECKING:
    import pandas as pd

    from madoguchi.analytics.dataset import Dataset

__all__ = ["GOAL_SECONDS", "STEP_LABELS", "WEEKDAYS", "all_figures", "field_dropoff", "field_errors", "overview", "query",
           "visit_step_durations", "visit_step_times", "volumes_by_hour_weekday"]

# the 60-second goal of a resident's procedure: the one `madoguchi check` holds definitions to (PD401)
GOAL_SECONDS: Final = int(BUDGET_SECONDS)
WEEKDAYS: Final = ("月", "火", "水", "木", "金", "土", "日")
# The counter visit's steps, in order: key (as in visit_step_durations) -> label.
STEP_LABELS: Final = {"reception": "受付", "interview": "聞き取り", "confirm": "確認", "review": "審査", "issue": "交付"}


def _con(ds: Dataset) -> Any:
    """One in-memory DuckDB connection per dataset, its DataFrames registered as views of the same names."""
    if ds._duck is None:
        import duckdb

        con = duckdb.connect(":memory:")
        for name, df in ds.tables.items():
            con.register(name, df)
        ds._duck = con
    return ds._duck


def query(ds: Dataset, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    """Any SQL over the dataset's tables (versions, submissions, telemetry, form_sessions, fields,
    visit_events, visit_documents): what the notebook uses for questions of its own."""
    return _con(ds).execute(sql, params or []).df()


def overview(ds: Dataset) -> pd.DataFrame:
    """Per procedure and version with any activity: starts, completed, left, submissions, completion rate,
    completion time p50/p90 (telemetry.duration_s) against the ``madoguchi check`` estimate and the 60 s goal."""
    return query(ds, f"""
WITH t AS (
    SELECT procedure_id, procedure_version AS version,
           count(*) FILTER (WHERE opened_at IS NOT NULL) AS completed,
           count(duration_s) AS timed,
           quantile_cont(duration_s, 0.5) AS p50_s,
           quantile_cont(duration_s, 0.9) AS p90_s
    FROM telemetry GROUP BY ALL),
s AS (
    SELECT procedure_id, procedure_version AS version, count(*) AS submissions,
           count(*) FILTER (WHERE staff_filed) AS staff_filed
    FROM submissions GROUP BY ALL),
f AS (
    SELECT procedure_id, procedure_version AS version, count(*) FILTER (WHERE outcome = 'left') AS left_forms
    FROM form_sessions GROUP BY ALL),
k AS (SELECT procedure_id, version FROM t UNION SELECT procedure_id, version FROM s
      UNION SELECT procedure_id, version FROM f)
SELECT k.procedure_id, k.version, coalesce(v.title, k.procedure_id) AS title,
       coalesce(t.completed, 0) + coalesce(f.left_forms, 0) AS starts,
       coalesce(t.completed, 0) AS completed,
       coalesce(f.left_forms, 0) AS left_forms,
       coalesce(s.submissions, 0) AS submissions,
       coalesce(s.staff_filed, 0) AS staff_filed,
       coalesce(t.completed, 0) / nullif(coalesce(t.completed, 0) + coalesce(f.left_forms, 0), 0) AS completion_rate,
       coalesce(t.timed, 0) AS timed,
       t.p50_s, t.p90_s, v.estimate_s, {GOAL_SECONDS} AS goal_s
FROM k
LEFT JOIN t USING (procedure_id, version)
LEFT JOIN s USING (procedure_id, version)
LEFT JOIN f USING (procedure_id, version)
LEFT JOIN versions v ON v.procedure_id = k.procedure_id AND v.version = k.version
ORDER BY k.procedure_id, v.published_at NULLS LAST, k.version""")


_VIEWS = """
views AS (
    SELECT procedure_id, procedure_version AS version, path, count(DISTINCT session_no) AS views
    FROM (SELECT session_no, procedure_id, procedure_version,
                 unnest(from_json(viewed, '["VARCHAR"]')) AS path FROM form_sessions)
    GROUP BY ALL)"""

_LABELLED = """
SELECT x.*, coalesce(fl.label, x.path) AS label
FROM x LEFT JOIN fields fl ON fl.procedure_id = x.procedure_id AND fl.version = x.version AND fl.path = x.path"""


def field_dropoff(ds: Dataset) -> pd.DataFrame:
    """Per procedure, version and field: views, exits and drop-off = exits ÷ views. views(f): form sessions whose
    ``viewed`` has f; exits(f): sessions with outcome 'left' and ``last_field`` f (an exit from a field the
    session never showed is not counted)."""
    return query(ds, f"""
WITH {_VIEWS},
exits AS (
    SELECT procedure_id, procedure_version AS version, last_field AS path, count(*) AS exits
    FROM form_sessions WHERE outcome = 'left' AND last_field IS NOT NULL
        AND list_contains(from_json(viewed, '["VARCHAR"]'), last_field) GROUP BY ALL),
x AS (
    SELECT views.procedure_id, views.version, views.path, views.views, coalesce(exits.exits, 0) AS exits,
           coalesce(exits.exits, 0) / views.views AS dropoff
    FROM views LEFT JOIN exits USING (procedure_id, version, path))
{_LABELLED}
ORDER BY procedure_id, version, dropoff DESC, views DESC, path""")


def field_errors(ds: Dataset) -> pd.DataFrame:
    """Per procedure, version and field: validation errors shown (sum of form_sessions.errors, counted only for
    fields the session's ``viewed`` has), sessions with at least one, views, and the error rate = sessions with an error ÷ views."""
    return query(ds, f"""
WITH {_VIEWS},
e AS (
    SELECT procedure_id, procedure_version AS version, path,
           CAST(sum(n) AS BIGINT) AS errors, count(*) FILTER (WHERE n > 0) AS sessions_with_errors
    FROM (SELECT procedure_id, procedure_version, path,
                 CAST(json_extract(errors, '$."' || replace(path, '"', '\\"') || '"') AS BIGINT) AS n
          FROM (SELECT procedure_id, procedure_version, errors, unnest(json_keys(errors)) AS path,
                       from_json(viewed, '["VARCHAR"]') AS shown
                FROM form_sessions)
          WHERE list_contains(shown, path))  -- an error on a field the session never showed: not counted
    GROUP BY ALL),
x AS (
    SELECT e.procedure_id, e.version, e.path, e.errors, e.sessions_with_errors, coalesce(views.views, 0) AS views,
           e.sessions_with_errors / nullif(views.views, 0) AS error_rate
    FROM e LEFT JOIN views USING (procedure_id, version, path)
    WHERE e.errors > 0)
{_LABELLED}
ORDER BY procedure_id, version, errors DESC, path""")


def volumes_by_hour_weekday(ds: Dataset) -> pd.DataFrame:
    """Submissions per procedure, weekday and hour of submissions.received_at in JST (weekday 1 = 月 … 7 = 日)."""
    days = ", ".join(f"'{d}'" for d in WEEKDAYS)
    return query(ds, f"""
SELECT procedure_id, isodow(received_at + INTERVAL 9 HOUR) AS weekday,
       [{days}][isodow(received_at + INTERVAL 9 HOUR)] AS weekday_label,
       hour(received_at + INTERVAL 9 HOUR) AS hour, count(*) AS submissions
FROM submissions WHERE received_at IS NOT NULL
GROUP BY ALL ORDER BY procedure_id, weekday, hour""")


def visit_step_durations(ds: Dataset) -> pd.DataFrame:
    """One row per counter visit (and department part) and step with its duration in seconds (docs/analytics.md
    "Counter visit steps"): 受付 = reception → the first interview_started or taken; 聞き取り = the first
    interview_started → the first interview_finished after it; per part 確認 = taken → confirmed (else the last
    持ち物 seen of its applications), 審査 = that → reviewed, 交付 = the last of those → issued."""
    return query(ds, """
WITH v AS (
    SELECT visit_no,
           min("at") FILTER (WHERE step = 'reception') AS reception,
           min("at") FILTER (WHERE step = 'interview_started') AS i_start,
           min("at") FILTER (WHERE step = 'taken') AS first_taken
    FROM visit_events GROUP BY visit_no),
i AS (
    SELECT v.visit_no, min(e."at") AS i_end FROM v
    JOIN visit_events e ON e.visit_no = v.visit_no AND e.step = 'interview_finished' AND e."at" >= v.i_start
    GROUP BY v.visit_no),
d AS (SELECT visit_no, department, max(seen_at) AS seen FROM visit_documents GROUP BY ALL),
p AS (
    SELECT e.visit_no, e.department,
           min("at") FILTER (WHERE step = 'taken') AS taken,
           min("at") FILTER (WHERE step = 'confirmed') AS confirmed,
           min("at") FILTER (WHERE step = 'reviewed') AS reviewed,
           min("at") FILTER (WHERE step = 'issued') AS issued
    FROM visit_events e WHERE e.department IS NOT NULL GROUP BY ALL),
pc AS (
    SELECT p.*, coalesce(p.confirmed, CASE WHEN d.seen >= p.taken THEN d.seen END) AS confirm_at
    FROM p LEFT JOIN d USING (visit_no, department)),
steps AS (
    SELECT visit_no, NULL AS department, 'reception' AS step, 1 AS step_no,
           epoch(least(i_start, first_taken) - reception) AS seconds FROM v
    UNION ALL
    SELECT v.visit_no, NULL, 'interview', 2, epoch(i.i_end - v.i_start) FROM v JOIN i USING (visit_no)
    UNION ALL
    SELECT visit_no, department, 'confirm', 3, epoch(confirm_at - taken) FROM pc
    UNION ALL
    SELECT visit_no, department, 'review', 4, epoch(reviewed - greatest(taken, confirm_at)) FROM pc
    UNION ALL
    SELECT visit_no, department, 'issue', 5, epoch(issued - greatest(taken, confirm_at, reviewed)) FROM pc)
SELECT visit_no, department, step, step_no, seconds FROM steps
WHERE seconds IS NOT NULL AND seconds >= 0
ORDER BY visit_no, step_no, department""")


def visit_step_times(ds: Dataset) -> pd.DataFrame:
    """Per step (受付, 聞き取り, 確認, 審査, 交付) and department (NULL for the visit's own steps): how many,
    median, p90 and mean in minutes."""
    con = _con(ds)
    con.register("step_durations", visit_step_durations(ds))
    labels = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in STEP_LABELS.items())
    return con.execute(f"""
SELECT step, CASE step {labels} END AS step_label, step_no, department,
       CASE WHEN department IS NULL THEN '来庁全体' ELSE coalesce(
           (SELECT any_value(department_name) FROM versions v WHERE v.department = d.department), department)
       END AS department_label,
       count(*) AS n,
       round(quantile_cont(seconds, 0.5) / 60, 1) AS p50_min,
       round(quantile_cont(seconds, 0.9) / 60, 1) AS p90_min,
       round(avg(seconds) / 60, 1) AS mean_min
FROM step_durations d GROUP BY ALL ORDER BY step_no, department NULLS FIRST""").df()


def all_figures(ds: Dataset) -> dict[str, pd.DataFrame]:
    """Every figure's DataFrame, computed once (the report, the console page and the notebook's summary)."""
    return {"overview": overview(ds), "dropoff": field_dropoff(ds), "errors": field_errors(ds),
            "volumes": volumes_by_hour_weekday(ds), "visit_steps": visit_step_times(ds)}
