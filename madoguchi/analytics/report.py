"""``madoguchi report``: one self-contained HTML file of every figure (docs/analytics.md).

No script, no link, no font or image fetched: the charts are SVG rendered here by vl-convert and written into
the page, the style is in the page. It opens from a USB stick on a machine with no network. Japanese labels,
times in JST.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from procedure_definitions.japan import JST

if TYPE_CHECKING:
    import pandas as pd

    from madoguchi.analytics.dataset import Dataset

__all__ = ["COLUMN_LABELS", "QUEUE_SECTIONS", "SECTIONS", "command", "display_table", "forecast_note", "render_html",
           "write_report"]


# Column -> Japanese header of the tables (values stay values; codes are shown next to labels).
COLUMN_LABELS: Final = {
    "title": "手続", "version": "版", "procedure_id": "手続ID", "starts": "開始", "completed": "完了",
    "left_forms": "途中で離脱", "submissions": "申請（受付）", "staff_filed": "うち職員入力",
    "completion_rate": "完了率", "timed": "時間の計測数", "p50_s": "p50（秒）", "p90_s": "p90（秒）",
    "estimate_s": "見積もり（秒）", "goal_s": "目標（秒）", "label": "項目", "path": "項目パス", "views": "表示",
    "exits": "離脱", "dropoff": "離脱率", "errors": "エラー件数", "sessions_with_errors": "エラーのあった回数",
    "error_rate": "エラー率", "weekday_label": "曜日", "hour": "時", "hour_label": "時間帯", "step_label": "手順",
    "department_label": "課", "n": "件数", "p50_min": "中央値（分）", "p90_min": "p90（分）", "mean_min": "平均（分）",
    "goal": "p50 と目標",
    "kind_label": "種類", "place": "窓口", "day": "日", "due": "来庁予定の予約", "no_shows": "来庁なし",
    "no_show_rate": "来庁なしの率", "bookings": "予約", "booked_min": "予約の分", "bookable_min": "予約できる分",
    "capacity_use": "予約枠の利用率", "mean_arrivals": "平均の来庁（人）", "weeks": "週数", "booked": "予約済み",
}
_PERCENT: Final = {"completion_rate", "dropoff", "error_rate", "no_show_rate", "capacity_use"}

# The section 「待ち時間と予約」 (madoguchi.analytics.queue_metrics): (frame key, chart key, heading,
# explanation ja, explanation en, columns of the table).
QUEUE_SECTIONS: Final = (
    ("waits_hour", "waits_hour", "時間帯ごとの待ち時間", "番号札を取ってから（予約の方は予約の時刻か到着の遅い方から）"
     "最初に呼ばれるまでの分。予約と当日の別に、中央値と p90。", "Minutes from the ticket (a booking: the later of "
     "arrival and its time) to the first call, by JST hour, per kind.",
     ("kind_label", "hour_label", "n", "p50_min", "p90_min")),
    ("waits_weekday", "waits_weekday", "曜日ごとの待ち時間", "同じ待ち時間を曜日ごとに。", "The same by weekday.",
     ("kind_label", "weekday_label", "n", "p50_min", "p90_min")),
    ("no_show", "", "来庁なしの率", "来庁なし ÷ 来庁予定の予約（受付済みと来庁なし。取消と先の予約は含みません）。"
     "窓口の欄が ― の行は全体。", "No-shows ÷ bookings due (checked in or no-show; not cancelled, not upcoming). "
     "The row without a place is the total.", ("place", "due", "no_shows", "no_show_rate")),
    ("capacity", "capacity", "予約枠の利用率", "予約された分 ÷ 予約できる分（開庁時間 × 予約を受ける窓口の数）、"
     "窓口と日ごと。", "Booked minutes ÷ bookable minutes (opening hours × booths taking bookings) per place and day.",
     ("place", "day", "bookings", "booked_min", "bookable_min", "capacity_use")),
    ("forecast", "forecast", "明日の混む時間帯（予測）", "過去の同じ曜日（最大 8 週）の、時間帯ごとの来庁（番号札）の"
     "平均。その曜日にデータのあった週だけで割ります（週数の欄）。予約済みは明日すでに入っている予約。",
     "Mean tickets per JST hour on the same weekday over up to 8 past weeks (weeks with data only), and the "
     "bookings already made.", ("place", "hour_label", "mean_arrivals", "weeks", "booked")),
)

# (frame key, chart key, heading, explanation ja, explanation en, columns of the table)
SECTIONS: Final = (
    ("overview", "starts", "開始・完了・申請", "手続の版ごとに、フォームを開いた数（開始）、送信まで進んだ数（完了）、"
     "受け付けた申請の数。", "Starts, completions and submissions per procedure version.",
     ("title", "version", "starts", "completed", "left_forms", "submissions", "staff_filed", "completion_rate")),
    ("overview", "completion_rate", "完了率", "完了 ÷ 開始。", "Completed ÷ started.", ()),
    ("overview", "completion_time", "完了時間と 60 秒の目標", "開いてから送信までの時間の中央値（p50）と p90 を、"
     "madoguchi check の見積もりと 60 秒の目標と比べます。",
     "Completion time p50/p90 vs the check's estimate and the 60 s goal.",
     ("title", "version", "timed", "p50_s", "p90_s", "estimate_s", "goal_s")),
    ("dropoff", "dropoff", "項目ごとの離脱率", "その項目で離れた回数 ÷ その項目が表示された回数（分岐があるため差分ではなく"
     "この比で見ます）。", "Drop-off per field = exits ÷ views (not row differences: forms branch).",
     ("title", "version", "label", "path", "views", "exits", "dropoff")),
    ("errors", "errors", "項目ごとの入力エラー", "表示された入力エラーの件数と、エラーのあった回数 ÷ 表示。",
     "Validation errors shown per field, and sessions with an error ÷ views.",
     ("title", "version", "label", "path", "errors", "sessions_with_errors", "views", "error_rate")),
    ("volumes", "volumes", "曜日・時間帯ごとの申請件数", "受け付けた時刻（日本時間）の曜日と時間ごとの件数。",
     "Submissions by weekday and hour, JST.", ()),
    ("visit_steps", "visit_steps", "来庁の手順ごとの時間", "受付・聞き取り・確認・審査・交付のそれぞれにかかった時間"
     "（分）。定義は docs/analytics.md。", "Counter visit step times in minutes (definitions: docs/analytics.md).",
     ("step_label", "department_label", "n", "p50_min", "p90_min", "mean_min")),
)

_STYLE: Final = """
body { font-family: "Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic", sans-serif; margin: 2rem auto; max-width: 1100px;
       padding: 0 1rem; color: #1a1a1a; line-height: 1.6; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.5rem; border-bottom: 2px solid #1f4e79; }
.en { color: #555; font-size: 0.9em; }
figure.chart { margin: 1rem 0; overflow-x: auto; } figure.chart svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #bbb; padding: 0.25rem 0.5rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: bold; }
.summary td { min-width: 6rem; }
"""


def _title_of(frame: pd.DataFrame, versions: pd.DataFrame) -> pd.DataFrame:
    if "title" in frame.columns or not {"procedure_id", "version"} <= set(frame.columns):
        return frame
    titles = versions[["procedure_id", "version", "title"]]
    return frame.merge(titles, on=["procedure_id", "version"], how="left")


def _cell(column: str, value: Any) -> tuple[str, bool]:
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "―", False
    if column in _PERCENT:
        return f"{float(value) * 100:.1f}%", True
    if isinstance(value, float):
        return (f"{value:.1f}" if not value.is_integer() else f"{value:.0f}"), True
    if isinstance(value, int) or (hasattr(value, "__int__") and not isinstance(value, str)):
        return str(value), True
    return str(value), False


def display_table(frame: pd.DataFrame, columns: tuple[str, ...], caption: str, limit: int = 200) -> str:
    """An HTML table with Japanese headers, percentages as %, missing values as ―; at most ``limit`` rows."""
    cols = [c for c in columns if c in frame.columns]
    head = "".join(f'<th scope="col">{html.escape(COLUMN_LABELS.get(c, c))}</th>' for c in cols)
    body = []
    for row in frame[cols].head(limit).itertuples(index=False):
        cells = []
        for c, v in zip(cols, row, strict=True):
            text, num = _cell(c, v)
            cells.append(f'<td class="num">{html.escape(text)}</td>' if num else f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = f"（{len(frame)} 行のうち {limit} 行）" if len(frame) > limit else ""
    return (f"<table><caption>{html.escape(caption)}{more}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _jst(stamp: str) -> str:
    t = dt.datetime.fromisoformat(stamp)
    return t.astimezone(JST).strftime("%Y-%m-%d %H:%M（日本時間）")


def forecast_note(forecast: pd.DataFrame, day: dt.date) -> str:
    """What the forecast rests on, in one sentence: no data at all, few weeks, or how many."""
    from madoguchi.analytics.queue_metrics import MIN_FORECAST_WEEKS

    label = f"{day.month}月{day.day}日（{'月火水木金土日'[day.weekday()]}）"
    if forecast.empty:
        return (f"{label} の予測はできません: 過去の同じ曜日の来庁の記録がありません。"
                "（No data: no tickets on this weekday in the past weeks.）")
    weeks = int(forecast["weeks"].max())
    few = f"記録が {weeks} 週分しかなく、目安です。" if weeks < MIN_FORECAST_WEEKS else ""
    return f"{label} の予測です（過去 {weeks} 週の同じ曜日から）。{few}"


def _queue_section(qframes: Mapping[str, Any], svgs: Mapping[str, str]) -> list[str]:
    parts = ['<section aria-labelledby="h-queue"><h2 id="h-queue">待ち時間と予約</h2>',
             "<p>番号札と予約の記録（docs/analytics.md「Waits and bookings」）から。時刻は日本時間。"
             "<span class=\"en\">Waits and bookings, from the queue's event log.</span></p>"]
    for frame_key, chart_key, heading, ja, en, columns in QUEUE_SECTIONS:
        frame = qframes[frame_key]
        parts.append(f"<h3>{html.escape(heading)}</h3><p>{html.escape(ja)} <span class=\"en\">{html.escape(en)}</span></p>")
        if frame_key == "forecast":
            parts.append(f"<p>{html.escape(forecast_note(frame, qframes['forecast_day']))}</p>")
        if chart_key in svgs:
            parts.append(f'<figure class="chart" data-chart="{chart_key}" aria-label="{html.escape(heading)}">'
                         f"{svgs[chart_key]}</figure>")
        if frame.empty:
            parts.append("<p>データがありません。<span class=\"en\">No data.</span></p>")
        else:
            parts.append(display_table(frame, columns, heading))
    parts.append("</section>")
    return parts


def render_html(ds: Dataset, frames: Mapping[str, pd.DataFrame], svgs: Mapping[str, str],
                qframes: Mapping[str, Any] | None = None) -> str:
    counts = ds.counts()
    parts = [
        "<!doctype html>", '<html lang="ja">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>窓口 利用状況レポート</title>", f"<style>{_STYLE}</style>", "</head>", "<body>", "<main>",
        "<h1>窓口 利用状況レポート <span class=\"en\">Madoguchi analytics report</span></h1>",
        f"<p>作成: {html.escape(_jst(ds.generated_at))}。データ: {html.escape(ds.source)}。"
        "個人情報（回答・氏名・アカウント）は含みません。<span class=\"en\">No personal data.</span></p>",
        '<table class="summary"><caption>データの件数</caption><tbody>',
        f"<tr><th scope=\"row\">申請</th><td class=\"num\">{counts['submissions']}</td></tr>",
        f"<tr><th scope=\"row\">テレメトリー（完了時間）</th><td class=\"num\">{counts['telemetry']}</td></tr>",
        f"<tr><th scope=\"row\">フォームの利用（開始〜離脱・送信）</th><td class=\"num\">{counts['form_sessions']}</td></tr>",
        f"<tr><th scope=\"row\">来庁の記録（手順）</th><td class=\"num\">{counts['visit_events']}</td></tr>",
        f"<tr><th scope=\"row\">予約</th><td class=\"num\">{counts['bookings']}</td></tr>",
        f"<tr><th scope=\"row\">番号札と予約の記録</th><td class=\"num\">{counts['queue_events']}</td></tr>",
        "</tbody></table>",
    ]
    for frame_key, chart_key, heading, ja, en, columns in SECTIONS:
        frame = _title_of(frames[frame_key], ds.versions)
        parts.append(f"<section><h2>{html.escape(heading)}</h2><p>{html.escape(ja)} "
                     f"<span class=\"en\">{html.escape(en)}</span></p>")
        if chart_key in svgs:
            parts.append(f'<figure class="chart" data-chart="{chart_key}" aria-label="{html.escape(heading)}">'
                         f"{svgs[chart_key]}</figure>")
        else:
            parts.append("<p>データがありません。<span class=\"en\">No data.</span></p>")
        if columns and not frame.empty:
            parts.append(display_table(frame, columns, heading))
    if qframes is not None:
        parts += _queue_section(qframes, svgs)
    parts += ["</main>", "</body>", "</html>"]
    return "\n".join(parts)


def write_report(dataset: Dataset, out_path: str | Path) -> dict[str, Any]:
    """Write the report to ``out_path``; a summary (charts drawn, rows read)."""
    from madoguchi.analytics.charts import figures, queue_charts, to_svg
    from madoguchi.analytics.metrics import all_figures
    from madoguchi.analytics.queue_metrics import queue_figures

    frames = all_figures(dataset)
    qframes = queue_figures(dataset)
    charts = [*figures(frames, dataset.versions), *queue_charts(qframes)]
    svgs = {key: to_svg(chart) for key, chart in charts}
    page = render_html(dataset, frames, svgs, qframes)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    ov = frames["overview"]
    return {**dataset.counts(), "out": str(out), "charts": len(svgs), "active_versions": len(ov),
            "bytes": len(page.encode())}


def command(ns: argparse.Namespace) -> int:
    """``madoguchi report --db PATH --out FILE.html`` (or ``--server URL`` with MADOGUCHI_TOKEN)."""
    import os
    import threading

    from madoguchi.analytics.charts import warm_up
    from madoguchi.analytics.dataset import DatasetError, load_api, load_sqlite

    if Path(ns.out).is_dir():  # refused before the data is read: the file to write is named, not its folder
        print(f"madoguchi report: error: --out {ns.out} is a folder: name the report file (e.g. report.html)",
              file=sys.stderr)
        return 2
    started = time.perf_counter()
    warming = threading.Thread(target=warm_up, name="vl-convert-warm-up", daemon=True)
    warming.start()  # overlaps the engine's start with reading the data (bench/bench_report.py)
    try:
        if ns.server:
            token = os.environ.get("MADOGUCHI_TOKEN", "")
            if not token:
                print("madoguchi report: error: --server needs an analytics token in MADOGUCHI_TOKEN",
                      file=sys.stderr)
                return 2
            ds = load_api(ns.server, token)
        else:
            ds = load_sqlite(ns.db)
    except DatasetError as e:
        print(f"madoguchi report: error: {e}", file=sys.stderr)
        return 2
    finally:
        warming.join()  # never leave the engine starting in a thread at exit
    try:
        summary = write_report(ds, ns.out)
    except OSError as e:  # a folder in the way, no permission, a full disk: one line, never a traceback
        print(f"madoguchi report: error: cannot write {ns.out}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(f"{summary['out']}: {summary['charts']} charts, {summary['active_versions']} procedure versions,"
          f" {summary['submissions']} submissions, {summary['telemetry']} telemetry rows,"
          f" {summary['form_sessions']} form sessions, {summary['visit_events']} visit steps"
          f" ({time.perf_counter() - started:.1f} s)")
    return 0
