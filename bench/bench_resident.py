"""The scripted resident: every shipped procedure and the 転居 / 転入 life events done on a phone, counted.

    python3 -m bench.bench_resident [--write] [--only ID ...] [--resident R0005]

Starts ``madoguchi serve --demo`` on loopback with a SQLite file, registers a resident with a passkey
(Chromium's virtual authenticator), has counter staff bind the account to a registry record with a household
(``POST /api/accounts/{id}/bind``, as the counter does), then, on a phone viewport (390x844, touch, ja-JP),
completes each procedure and life event to the receipt with :class:`bench.resident_driver.Driver`, counting
taps, characters typed, screens. The counts become seconds with the ``TouchModel`` constants of
``procedure_definitions/timing.py`` (how: docs/time-model.md, "Measured by the scripted resident"), shown
next to the model's own estimate. A benchmark, not a test: a run that cannot finish is reported with its
reason. ``--write`` puts the table into docs/benchmarks.md between the ``<!-- resident-bench -->`` markers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# Run as a path too (python3 bench/bench_x.py): the project root goes first on sys.path, before the
# project imports, so this checkout (not an installed copy) is what runs.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.resident_driver import Counts, Driver, Values
from procedure_definitions.library import Library, load_library
from procedure_definitions.model import LifeEvent, Procedure
from procedure_definitions.timing import DEFAULT_MODEL, TouchModel, estimate
from procedure_definitions.timing_events import estimate_life_event
from procedure_definitions.versions import latest
from testsupport.chromium import CHROMIUM, CHROMIUM_FLAGS
from testsupport.servers import ROOT, ServerProcess

__all__ = ["Run", "event_for", "main", "run_all", "seconds", "today_jst", "write_doc"]

MARK = "<!-- resident-bench -->"
# The life events of the goal, found by the procedure they exist for (the event's id is not a contract).
EVENTS = (("転居", "moving-within"), ("転入", "moving-in"))  # life event ids (the rows are named by them)
JST = ZoneInfo("Asia/Tokyo")
SHOTS = ROOT / "test-artifacts" / "resident"  # a screenshot of each run that did not finish


def seconds(c: Counts, m: TouchModel = DEFAULT_MODEL) -> dict[str, float]:
    """The keystroke-level estimate of a scripted run, by operator (docs/time-model.md)."""
    return {
        "read": c.read_chars * m.read_char,
        "mental": (c.answered + 1) * m.mental,  # one M per answered field, one before sending
        "tap": c.taps * m.tap,
        "typing": c.kana * m.kana + c.conversions * m.conversion + c.digits * m.digit + c.ascii * m.ascii_char
        + c.switches * m.keyboard_switch,
        "select": c.selects * m.select_scroll,
        "camera": c.photos * m.photo + c.files * m.pick_file,
        "glance": c.glanced * m.glance + c.review_values * m.review_value,
        "system": c.screens * m.page + m.submit_response,
    }


@dataclass
class Run:
    kind: str  # procedure | life event
    id: str
    label: str
    model_s: float | None
    counts: Counts = field(default_factory=Counts)
    outcome: str = ""  # "receipt" or why not
    received: int = 0  # submissions the server stored for this run
    statuses: list[str] = field(default_factory=list)  # their statuses (e.g. awaiting_partner)
    wall_s: float = 0.0

    @property
    def measured_s(self) -> float:
        return sum(seconds(self.counts).values())

    @property
    def ok(self) -> bool:
        return self.outcome == "receipt" and self.received > 0


def today_jst() -> dt.date:
    return dt.datetime.now(JST).date()


def event_for(lib: Library, event_id: str) -> LifeEvent | None:
    """The latest version of life event ``event_id`` (semantic version order), or None."""
    versions = lib.life_events.get(event_id)
    return versions[latest(versions)] if versions else None


def event_model(ev: LifeEvent, lib: Library) -> float:
    """The model's estimate for the event with every question answered no (as the scripted resident does)."""
    procs = {x.procedure: q for x in ev.procedures if (q := lib.latest(x.procedure)) is not None}
    est = estimate_life_event(ev, procs, {q.id: False for q in ev.questions})
    return float(est.estimate.seconds)


def sign_in_bound(browser: Any, server: ServerProcess, resident_id: str) -> tuple[Any, Any, str]:
    """A phone with a resident signed in by passkey, bound by counter staff to ``resident_id``."""
    import httpx

    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ja-JP", has_touch=True,
                                  is_mobile=True, service_workers="allow")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    page.goto(f"{server.url}/#/signin")
    page.wait_for_selector("main[data-ready=true]", timeout=30000)
    page.get_by_label("表示名（ニックネーム可）").fill("髙橋 健一")
    page.locator("#register").click()
    page.wait_for_selector("#recovery-codes", timeout=30000)
    account_id = page.evaluate("fetch('/api/session').then((r) => r.json()).then((s) => s.account.id)")
    staff = server.login_as("counter", display_name="窓口職員")
    r = httpx.post(f"{server.url}/api/accounts/{account_id}/bind", cookies=staff["cookies"],
                   headers=staff["headers"], json={"resident_id": resident_id, "id_document": "マイナンバーカード"})
    r.raise_for_status()
    return context, page, account_id


def received(server: ServerProcess, account_id: str) -> dict[str, str]:
    """The account's submissions the server stored: id -> status."""
    rows = server.query("SELECT id, status FROM submissions WHERE account_id = ?", (account_id,))
    return {str(r[0]): str(r[1]) for r in rows}


def drive(page: Any, server: ServerProcess, account_id: str, run: Run, hash_: str, values: Values) -> None:
    before = received(server, account_id)
    t0 = time.monotonic()
    try:
        page.goto("about:blank")
        page.goto(f"{server.url}/{hash_}")
        run.outcome = Driver(page, values, next(iter(values.procs)), run.counts).run()
    except Exception as e:  # a benchmark reports what it could not do, and goes on
        where = page.evaluate("location.hash") if not page.is_closed() else "?"
        run.outcome = (re.sub(r"\s+", " ", str(e).split("Call log:")[0]).strip()[:240] or type(e).__name__) + f" (at {where})"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{run.id}.png"), full_page=True)
        if os.environ.get("MADOGUCHI_BENCH_DEBUG"):
            traceback.print_exc()
    end = time.monotonic() + 20
    while run.outcome == "receipt" and time.monotonic() < end:
        new = {k: v for k, v in received(server, account_id).items() if k not in before}
        run.received, run.statuses = len(new), sorted(set(new.values()))
        if run.received:
            break
        time.sleep(0.2)
    run.wall_s = time.monotonic() - t0


def report(run: Run) -> None:
    """One line per run while the benchmark goes: the outcome and the seconds by operator."""
    parts = " ".join(f"{k} {v:.1f}" for k, v in seconds(run.counts).items() if v)
    print(f"{run.id}: {run.outcome[:120]} | scripted {run.measured_s:.0f} s ({parts}) | model "
          f"{'—' if run.model_s is None else f'{run.model_s:.0f} s'} | {run.wall_s:.1f} s wall", flush=True)


def run_all(only: list[str] | None = None, resident_id: str = "R0005") -> list[Run]:
    from playwright.sync_api import sync_playwright

    lib = load_library()
    today = today_jst()
    runs: list[Run] = []
    tmp = Path(tempfile.mkdtemp(prefix="resident-bench-"))
    server = ServerProcess(tmp / "bench.db", demo=True, url_host="localhost", quiet=True)
    server.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
            context, page, account_id = sign_in_bound(browser, server, resident_id)
            for proc in lib.latest_procedures():
                if only and proc.id not in only:
                    continue
                run = Run("procedure", proc.id, proc.title.ja, estimate(proc).seconds)
                drive(page, server, account_id, run, f"#/p/{proc.id}", Values([proc], today))
                runs.append(run)
                report(run)
            for name, pid in EVENTS:
                ev = event_for(lib, pid)
                if only and (ev is None or ev.id not in only) and name not in only:
                    continue
                if ev is None:
                    runs.append(Run("life event", pid, f"{name}（ライフイベント）", None,
                                    outcome="not in the library yet"))
                    continue
                procs: list[Procedure] = [q for x in ev.procedures if (q := lib.latest(x.procedure)) is not None]
                run = Run("life event", ev.id, f"{ev.title.ja}", event_model(ev, lib))
                drive(page, server, account_id, run, f"#/e/{ev.id}", Values(procs, today, ev))
                runs.append(run)
                report(run)
            context.close()
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return runs


def render(runs: list[Run], resident_id: str) -> str:
    fmt = lambda v: "—" if v is None else f"{v:.0f}"  # noqa: E731
    rows = [
        "## The resident's 60 seconds: model vs scripted resident (`bench/bench_resident.py`)",
        "",
        f"`python3 -m bench.bench_resident --write` ({dt.date.today().isoformat()}; headless Chromium, phone viewport "
        f"390x844, touch, ja-JP). A resident signed in with a passkey and bound by counter staff to the demo "
        f"registry record {resident_id} (a household of two) completes each shipped procedure and the 転居 / 転入 "
        "life events (every event question answered いいえ) to the receipt, filling only what is marked ※必須 and "
        "left empty. *Model*: `estimate(proc)` of `madoguchi check`; *scripted*: the same `TouchModel` constants "
        "applied to what the scripted resident actually did (docs/time-model.md, \"Measured by the scripted "
        "resident\"). Seconds are keystroke-level estimates, not stopwatch times.",
        "",
        "| procedure | model s | scripted s | taps | typed: kana / digits / letters (conversions) | screens "
        "| answered | glanced | result |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        c = r.counts
        result = "receipt" if r.ok else ("receipt, not on the server" if r.outcome == "receipt" else r.outcome)
        if r.ok and r.statuses != ["received"]:
            result += f" ({', '.join(r.statuses)})"  # e.g. a two-person procedure's first part
        scripted = f"{r.measured_s:.0f}" if r.outcome == "receipt" else "—"
        over = " ⚠" if r.outcome == "receipt" and r.measured_s > 60 else ""
        model_over = " ⚠" if r.model_s is not None and r.model_s > 60 else ""
        rows.append(f"| {r.label} (`{r.id}`) | {fmt(r.model_s)}{model_over} | {scripted}{over} | {c.taps} | {c.kana} / {c.digits} / "
                    f"{c.ascii} ({c.conversions}) | {c.screens} | {c.answered} | {c.glanced} | {result} |")
    done = [r for r in runs if r.outcome == "receipt"]
    rows += ["", "⚠: over the 60 s goal.", "", f"{len(done)} of {len(runs)} runs reached the receipt; "
             f"{sum(1 for r in done if r.measured_s <= 60)} of them within 60 s by the scripted count, "
             f"{sum(1 for r in runs if r.model_s is not None and r.model_s <= 60)} of {len(runs)} by the model."]
    notes = [f"- `{r.id}`: optional-marked but refused as required: {m}" for r in runs for m in r.counts.mismatches]
    if any("prefilled" in n for r in runs for n in r.counts.notes):
        notes.append(f"- ({resident_id} and the other member of the household are in their seventies: a procedure for "
                     "children or for people under 60 refuses their prefilled data, and the scripted resident corrects "
                     "it, as below.)")
    notes += [f"- `{r.id}`: {n}" for r in runs for n in r.counts.notes]
    if notes:
        rows += ["", "Noticed on the way:", "", *notes]
    return "\n".join(rows)


def write_doc(text: str, mark: str = MARK) -> None:
    """Put ``text`` into docs/benchmarks.md between two ``mark`` lines (appended the first time)."""
    doc = ROOT / "docs" / "benchmarks.md"
    old = doc.read_text(encoding="utf-8")
    block = f"{mark}\n{text.strip()}\n{mark}"
    if old.count(mark) >= 2:
        new = re.sub(re.escape(mark) + r".*?" + re.escape(mark), lambda _: block, old, count=1, flags=re.S)
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    doc.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    ap.add_argument("--only", nargs="*", help="procedure or life-event ids (default: all)")
    ap.add_argument("--resident", default="R0005", help="registry record to bind (default: a household of two)")
    ns = ap.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        print(f"needs {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 2
    runs = run_all(ns.only, ns.resident)
    text = render(runs, ns.resident)
    print(text)
    if ns.write:
        write_doc(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
