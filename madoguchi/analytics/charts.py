"""Altair (Vega-Lite) charts of the figures, Japanese labels. Each function takes the DataFrame of its
``metrics`` function and returns a chart, or ``None`` when there is nothing to draw (no empty frames in a report).

:func:`figures` lists every chart of a dataset in the report's order; :func:`to_svg` renders one with vl-convert
(no browser, no network): the report and the notebook's exported HTML carry the SVG itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import altair as alt
    import pandas as pd

__all__ = ["FONT", "busy_hours", "capacity_use", "completion_rate", "completion_time", "field_dropoff", "field_errors",
           "figures", "queue_charts", "starts_submissions", "to_svg", "visit_steps", "volumes", "waits", "warm_up"]

FONT: Final = "Noto Sans CJK JP, IPAexGothic, sans-serif"
TOP: Final = 20  # fields per drop-off / error chart: the worst ones (the tables list all)
WIDTH: Final = 520


def _alt() -> Any:
    import altair as alt

    return alt


def _configured(chart: Any) -> Any:
    return chart.configure(font=FONT).configure_axis(labelLimit=360).configure_legend(orient="bottom")


def _version_label(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["手続（版）"] = out["title"].astype(str) + "（" + out["version"].astype(str) + "）"
    return out


def starts_submissions(overview: pd.DataFrame) -> alt.Chart | None:
    """開始・完了・送信 per procedure version (grouped bars)."""
    if overview.empty:
        return None
    alt = _alt()
    df = _version_label(overview).rename(columns={"starts": "開始", "completed": "完了（テレメトリー）",
                                                  "submissions": "申請（受付）"})
    order = ["開始", "完了（テレメトリー）", "申請（受付）"]
    return _configured(alt.Chart(df).transform_fold(order, as_=["指標", "件数"]).mark_bar().encode(
        y=alt.Y("手続（版）:N", title=None), yOffset=alt.YOffset("指標:N", sort=order),
        x=alt.X("件数:Q", title="件数"), color=alt.Color("指標:N", title=None, sort=order),
        tooltip=["手続（版）:N", "指標:N", "件数:Q"],
    ).properties(title="開始・完了・申請の件数", width=WIDTH))


def completion_rate(overview: pd.DataFrame) -> alt.Chart | None:
    df = overview[overview["completion_rate"].notna()] if not overview.empty else overview
    if df.empty:
        return None
    alt = _alt()
    df = _version_label(df).rename(columns={"completion_rate": "完了率"})
    return _configured(alt.Chart(df).mark_bar().encode(
        y=alt.Y("手続（版）:N", title=None), x=alt.X("完了率:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        tooltip=["手続（版）:N", alt.Tooltip("完了率:Q", format=".1%")],
    ).properties(title="完了率（完了 ÷ 開始）", width=WIDTH))


def completion_time(overview: pd.DataFrame, goal_seconds: int) -> alt.Chart | None:
    """p50 and p90 of completion time per version, the check's estimate as a tick, the goal as a rule."""
    df = overview[overview["p50_s"].notna()] if not overview.empty else overview
    if df.empty:
        return None
    alt = _alt()
    df = _version_label(df).rename(columns={"p50_s": "中央値（p50）", "p90_s": "p90", "estimate_s": "見積もり"})
    base = alt.Chart(df)
    bars = base.transform_fold(["中央値（p50）", "p90"], as_=["指標", "秒"]).mark_bar().encode(
        y=alt.Y("手続（版）:N", title=None), yOffset=alt.YOffset("指標:N", sort=["中央値（p50）", "p90"]),
        x=alt.X("秒:Q", title="完了までの時間（秒）"), color=alt.Color("指標:N", title=None, sort=["中央値（p50）", "p90"]),
        tooltip=["手続（版）:N", "指標:N", alt.Tooltip("秒:Q", format=".0f")])
    estimate = base.mark_tick(color="black", thickness=3, size=26).encode(
        y="手続（版）:N", x="見積もり:Q", tooltip=["手続（版）:N", alt.Tooltip("見積もり:Q", format=".0f")])
    goal = alt.Chart(alt.Data(values=[{"目標": goal_seconds}])).mark_rule(color="#b00", strokeDash=[6, 3]).encode(
        x="目標:Q")
    return _configured(alt.layer(bars, estimate, goal).properties(
        title=f"完了時間 p50・p90（黒の印: madoguchi check の見積もり、赤の線: 目標 {goal_seconds} 秒）", width=WIDTH))


def _field_label(df: pd.DataFrame, versions: pd.DataFrame) -> pd.DataFrame:
    titles = versions[["procedure_id", "version", "title"]]
    out = df.merge(titles, on=["procedure_id", "version"], how="left")
    out["title"] = out["title"].fillna(out["procedure_id"])
    out["項目"] = (out["title"].astype(str) + "（" + out["version"].astype(str) + "）・" + out["label"].astype(str))
    return out


def field_dropoff(dropoff: pd.DataFrame, versions: pd.DataFrame) -> alt.Chart | None:
    df = dropoff[dropoff["exits"] > 0] if not dropoff.empty else dropoff
    if df.empty:
        return None
    alt = _alt()
    df = _field_label(df.sort_values(["dropoff", "views"], ascending=False).head(TOP), versions)
    df = df.rename(columns={"dropoff": "離脱率", "views": "表示", "exits": "離脱"})
    return _configured(alt.Chart(df).mark_bar(color="#c55a11").encode(
        y=alt.Y("項目:N", sort="-x", title=None), x=alt.X("離脱率:Q", axis=alt.Axis(format="%")),
        tooltip=["項目:N", "表示:Q", "離脱:Q", alt.Tooltip("離脱率:Q", format=".1%")],
    ).properties(title=f"項目ごとの離脱率（離脱 ÷ 表示、上位 {TOP}）", width=WIDTH))


def field_errors(errors: pd.DataFrame, versions: pd.DataFrame) -> alt.Chart | None:
    if errors.empty:
        return None
    alt = _alt()
    df = _field_label(errors.sort_values("errors", ascending=False).head(TOP), versions)
    df = df.rename(columns={"errors": "エラー件数", "error_rate": "エラー率"})
    return _configured(alt.Chart(df).mark_bar(color="#7030a0").encode(
        y=alt.Y("項目:N", sort="-x", title=None), x=alt.X("エラー件数:Q"),
        tooltip=["項目:N", "エラー件数:Q", alt.Tooltip("エラー率:Q", format=".1%")],
    ).properties(title=f"項目ごとの入力エラー（上位 {TOP}）", width=WIDTH))


def volumes(vol: pd.DataFrame) -> alt.Chart | None:
    """Submissions by weekday × hour (JST), all procedures."""
    if vol.empty:
        return None
    alt = _alt()
    from madoguchi.analytics.metrics import WEEKDAYS

    df = vol.groupby(["weekday", "weekday_label", "hour"], as_index=False)["submissions"].sum()
    df = df.rename(columns={"weekday_label": "曜日", "hour": "時", "submissions": "申請件数"})
    return _configured(alt.Chart(df).mark_rect().encode(
        x=alt.X("時:O", title="時（日本時間）"), y=alt.Y("曜日:O", sort=list(WEEKDAYS), title=None),
        color=alt.Color("申請件数:Q", scale=alt.Scale(scheme="blues")),
        tooltip=["曜日:O", "時:O", "申請件数:Q"],
    ).properties(title="曜日・時間帯ごとの申請件数（日本時間）", width=WIDTH))


def visit_steps(steps: pd.DataFrame) -> alt.Chart | None:
    if steps.empty:
        return None
    alt = _alt()
    from madoguchi.analytics.metrics import STEP_LABELS

    df = steps.rename(columns={"step_label": "手順", "department_label": "課", "p50_min": "中央値（分）",
                               "p90_min": "p90（分）", "n": "件数"})
    bars = alt.Chart(df).mark_bar().encode(
        y=alt.Y("手順:N", sort=list(STEP_LABELS.values()), title=None), yOffset=alt.YOffset("課:N"),
        x=alt.X("中央値（分）:Q", title="分"), color=alt.Color("課:N"),
        tooltip=["手順:N", "課:N", "件数:Q", "中央値（分）:Q", "p90（分）:Q"])
    p90 = alt.Chart(df).mark_tick(color="black").encode(
        y=alt.Y("手順:N", sort=list(STEP_LABELS.values())), yOffset=alt.YOffset("課:N"), x="p90（分）:Q")
    return _configured(alt.layer(bars, p90).properties(
        title="来庁の手順ごとの時間（棒: 中央値、黒の印: p90）", width=WIDTH))


def figures(frames: Mapping[str, pd.DataFrame], versions: pd.DataFrame) -> list[tuple[str, Any]]:
    """``(key, chart)`` of every chart with data, in the report's order (``frames``: ``metrics.all_figures``)."""
    from madoguchi.analytics.metrics import GOAL_SECONDS

    ov = frames["overview"]
    candidates = [
        ("starts", starts_submissions(ov)),
        ("completion_rate", completion_rate(ov)),
        ("completion_time", completion_time(ov, GOAL_SECONDS)),
        ("dropoff", field_dropoff(frames["dropoff"], versions)),
        ("errors", field_errors(frames["errors"], versions)),
        ("volumes", volumes(frames["volumes"])),
        ("visit_steps", visit_steps(frames["visit_steps"])),
    ]
    return [(k, c) for k, c in candidates if c is not None]


def waits(frame: pd.DataFrame, by: str) -> alt.Chart | None:
    """Waits to the first call by JST hour (``by="hour"``) or weekday (``"weekday"``): p50 bars per kind (予約,
    当日), p90 as black ticks (``queue_metrics.waits_by_hour`` / ``waits_by_weekday``)."""
    if frame.empty:
        return None
    alt = _alt()
    from madoguchi.analytics.metrics import WEEKDAYS

    axis = "時間帯" if by == "hour" else "曜日"
    df = frame.rename(columns={f"{by}_label": axis, "kind_label": "種類", "p50_min": "中央値（分）",
                               "p90_min": "p90（分）", "n": "件数"})
    order = ([f"{h}時台" for h in range(24)] if by == "hour" else list(WEEKDAYS))
    x = alt.X(f"{axis}:N", sort=order, title="待ち始めた時間帯（日本時間）" if by == "hour" else None)
    bars = alt.Chart(df).mark_bar().encode(
        x=x, xOffset=alt.XOffset("種類:N"), y=alt.Y("中央値（分）:Q", title="呼ばれるまでの分"),
        color=alt.Color("種類:N", title=None), tooltip=[f"{axis}:N", "種類:N", "件数:Q", "中央値（分）:Q", "p90（分）:Q"])
    p90 = alt.Chart(df).mark_tick(color="black", thickness=2).encode(x=x, xOffset=alt.XOffset("種類:N"), y="p90（分）:Q")
    title = "時間帯ごとの待ち時間" if by == "hour" else "曜日ごとの待ち時間"
    return _configured(alt.layer(bars, p90).properties(title=f"{title}（棒: 中央値、黒の印: p90）", width=WIDTH))


def capacity_use(frame: pd.DataFrame) -> alt.Chart | None:
    """Booked minutes ÷ bookable minutes per place and day (``queue_metrics.capacity_use``)."""
    if frame.empty:
        return None
    alt = _alt()
    df = frame.rename(columns={"place": "窓口", "day": "日", "capacity_use": "予約枠の利用率"})
    return _configured(alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("日:T", title=None), y=alt.Y("予約枠の利用率:Q", axis=alt.Axis(format="%")),
        color=alt.Color("窓口:N"), tooltip=["窓口:N", "日:T", alt.Tooltip("予約枠の利用率:Q", format=".1%")],
    ).properties(title="予約枠の利用率（予約の分 ÷ 予約できる分）", width=WIDTH))


def busy_hours(frame: pd.DataFrame) -> alt.Chart | None:
    """The forecast: mean tickets per JST hour on the same weekday, per place; bookings already made as ticks."""
    if frame.empty:
        return None
    alt = _alt()
    df = frame.rename(columns={"place": "窓口", "hour_label": "時間帯", "mean_arrivals": "平均の来庁",
                               "booked": "予約済み", "weeks": "週数"})
    order = [f"{h}時台" for h in range(24)]
    bars = alt.Chart(df).mark_bar().encode(
        x=alt.X("時間帯:N", sort=order, title=None), xOffset=alt.XOffset("窓口:N"), y=alt.Y("平均の来庁:Q", title="人"),
        color=alt.Color("窓口:N"), tooltip=["窓口:N", "時間帯:N", "平均の来庁:Q", "予約済み:Q", "週数:Q"])
    booked = alt.Chart(df).mark_tick(color="black", thickness=2).encode(
        x=alt.X("時間帯:N", sort=order), xOffset=alt.XOffset("窓口:N"), y="予約済み:Q")
    day = str(frame["day"].iloc[0])
    return _configured(alt.layer(bars, booked).properties(
        title=f"{day} の混む時間帯の予測（棒: 同じ曜日の平均、黒の印: 予約済み）", width=WIDTH))


def queue_charts(frames: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``(key, chart)`` of the queue section's charts with data (``frames``: ``queue_metrics.queue_figures``)."""
    candidates = [("waits_hour", waits(frames["waits_hour"], "hour")),
                  ("waits_weekday", waits(frames["waits_weekday"], "weekday")),
                  ("capacity", capacity_use(frames["capacity"])), ("forecast", busy_hours(frames["forecast"]))]
    return [(k, c) for k, c in candidates if c is not None]


def to_svg(chart: Any) -> str:
    """The chart as an SVG document (vl-convert: Vega in Rust, no browser, no network)."""
    import vl_convert as vlc

    return str(vlc.vegalite_to_svg(chart.to_json()))


def warm_up() -> None:
    """Start vl-convert's JavaScript engine (about a second, once per process) with a one-bar chart: the report
    calls this in a thread while it reads the database, so the first real chart does not wait for it."""
    import vl_convert as vlc

    vlc.vegalite_to_svg({"data": {"values": [{"a": 1}]}, "mark": "bar",
                         "encoding": {"x": {"field": "a", "type": "quantitative"}}})
