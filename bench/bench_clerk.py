"""The scripted clerk: a 転入 of a family of four served at the counter by keyboard only, counted.

    python3 -m bench.bench_clerk [--write]

Starts the real server (``madoguchi serve --demo``, a SQLite file, loopback), makes the provisional registry
records of a family of four moving in (two adults, two children) through the registry adapter
(``SQLiteRegistry.upsert``, as the core-system feed does) and imports their 転出証明書情報 with
``madoguchi registry import-transfer`` (the CLI, a subprocess). Then, in headless Chromium on a desktop
viewport (1280x900, ja-JP), a counter clerk — keyboard only: Tab, typing, Enter, Space, arrows — goes from
arrival to printed forms: 来庁受付 (search, 受付する) → the visit → 聞き取り (転入) → questions → the fields
still required → 聞き取りを終えて申請する → the visit page → each application's 申請書 PDF
(``GET /console/submissions/{id}/form.pdf``). Counted: keys by kind, characters typed, screens, and the
fields typed whose value the registry or the transfer data already held (found by comparing what was
entered with those records; the goal is zero). The counts become seconds with :class:`DeskModel`
(docs/time-model.md, "The counter clerk"). Screenshots of every counter screen go to
``test-artifacts/clerk/``. ``--write`` puts the result in docs/benchmarks.md between ``<!-- clerk-bench -->``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_resident import event_for, today_jst, write_doc
from bench.clerk_driver import Entry, Keyboard, Keys, answer_for, plain
from bench.clerk_family import OPEN_GAPS, QUESTIONS, ByPerson, family_answers, known_values, load_family
from bench.resident_driver import Values
from procedure_definitions.library import load_library
from procedure_definitions.model import Procedure
from procedure_definitions.timing import DEFAULT_MODEL
from testsupport.chromium import CHROMIUM, CHROMIUM_FLAGS
from testsupport.servers import ROOT, ServerProcess

__all__ = ["DESK", "OPEN_GAPS", "DeskModel", "Visit", "load_family", "main", "render", "seconds", "serve_family"]

MARK = "<!-- clerk-bench -->"
SHOTS = ROOT / "test-artifacts" / "clerk"
EVENT = "moving-in"


class DeskModel(msgspec.Struct, frozen=True):
    """Operator times of a clerk at a desktop keyboard (seconds). The keystroke-level model of Card, Moran &
    Newell (1980, CACM 23(7) 396-410): K 0.28 s for an average skilled (non-secretary, ~40 wpm) typist (0.20
    s at 55 wpm), M 1.35 s, no P or H (keyboard only: the hand never goes to a mouse). Reused from the
    resident's ``TouchModel``: reading speed, a glance at a prefilled value, a page's system response."""

    key: float = 0.28  # K: any key press (Tab, Enter, Space, an arrow, a letter, a digit)
    romaji_per_kana: float = 2.0  # keys per kana typed by romaji (most kana are a consonant and a vowel)
    conversion_keys: float = 2.0  # a kanji run: Space to convert, Enter to confirm (first candidate)
    mental: float = DEFAULT_MODEL.mental  # M (KLM)
    read_char: float = DEFAULT_MODEL.read_char  # 500 字/分
    glance: float = DEFAULT_MODEL.glance  # verify one prefilled value
    page: float = DEFAULT_MODEL.page  # system response per screen (a server-rendered page on loopback)


DESK = DeskModel()


@dataclass
class Visit:
    """What one scripted visit did."""

    keys: Keys = field(default_factory=Keys)
    screens: list[str] = field(default_factory=list)
    decisions: int = 0  # questions answered and fields entered (one M each), plus one before filing
    glanced: int = 0  # prefilled values shown (「住民記録より」「転出証明書情報より」)
    read_chars: int = 0  # labels and headings read, once per screen
    entries: list[Entry] = field(default_factory=list)
    known_typed: list[str] = field(default_factory=list)  # entries whose value the records already held

    @property
    def known_fields(self) -> list[str]:
        """The fields (a name or an address as one) in which the clerk typed a value the records held."""
        return sorted({e.field for e in self.entries if f"{e.name} = {e.value}" in self.known_typed})
    procedures: list[str] = field(default_factory=list)  # the applications filed
    forms: list[tuple[str, int, float]] = field(default_factory=list)  # (procedure, pdf bytes, ms) per 申請書
    guide: tuple[int, float] | None = None  # the 受付案内票 (bytes, ms), when the visit page offers it
    forms_counted: bool = False  # form.pdf missing: one keystroke per form counted instead
    outcome: str = ""
    blocked: list[str] = field(default_factory=list)
    unmarked: list[str] = field(default_factory=list)  # refused as missing on finishing, not marked （必須）
    finish_rounds: int = 0  # 聞き取りを終えて申請する pressed
    wall_s: float = 0.0

    @property
    def filed(self) -> bool:
        return self.outcome == "filed"


def seconds(v: Visit, m: DeskModel = DESK) -> dict[str, float]:
    """The keystroke-level estimate of the visit by operator."""
    t = v.keys.typing
    return {
        "keys": v.keys.presses * m.key,
        "typing": (t.kana * m.romaji_per_kana + t.conversions * m.conversion_keys + t.digits + t.ascii
                   + t.switches) * m.key,
        "mental": v.decisions * m.mental,
        "read": v.read_chars * m.read_char,
        "glance": v.glanced * m.glance,
        "system": len(v.screens) * m.page,
    }


# -- the screens -------------------------------------------------------------------------------------------
# What a practised clerk reads on a screen: its headings and the error summary (a field's label is read when
# the field is answered, see Clerk.label_chars), not every label of a long form.
_READ_JS = """() => { const m = document.querySelector('main'); let s = '';
  for (const n of m.querySelectorAll('h1, h2, h3, .error-summary li')) if (n.checkVisibility()) s += n.textContent;
  return s.replace(/\\s/g, '').length; }"""
_LABEL_JS = """(f) => { const l = f.querySelector(':scope > label, :scope > fieldset > legend');
  return l ? l.textContent.replace(/\\s/g, '').length : 0; }"""
# A value folded into 「記録から入力済み」 (closed) is still glanced at, in the fold's line.
_PREFILLED_JS = """() => [...document.querySelectorAll('main .prefilled')].filter((n) => n.checkVisibility()
  || (n.closest('details.fold') && n.closest('details.fold').checkVisibility())).length"""
# The fields still to answer: visible, marked （必須）, empty.
_TODO_JS = """() => [...document.querySelectorAll('main .field[data-field]')].filter((f) => f.checkVisibility()).map((f) => {
  const lab = f.querySelector(':scope > label, :scope > fieldset > legend');
  const kind = f.dataset.kind, name = f.dataset.field;
  const own = [...f.querySelectorAll('input, select, textarea')].filter((e) => e.type !== 'hidden' && e.closest('.field') === f);
  let empty;
  if (kind === 'yesno' || kind === 'radio') empty = !own.some((e) => e.checked);
  else if (kind === 'checks' || kind === 'members') empty = !own.some((e) => e.checked);
  else if (kind === 'name' || kind === 'address') empty = own.some((e) => e.value === '' && !/\\.(building|postal_code)$/.test(e.name));
  else empty = own.length > 0 && own.every((e) => e.value === '');
  return {name, kind, empty, req: Boolean(lab && lab.querySelector('.req:not([hidden])')),
          parts: own.filter((e) => e.type === 'text' && kind !== 'text').map((e) => e.name)};
})"""


class Clerk:
    def __init__(self, page: Any, server: ServerProcess, values: Values, visit: Visit) -> None:
        self.page, self.server, self.values, self.v = page, server, values, visit
        self.kb = Keyboard(page, visit.keys)
        self.family = family_answers(values.today)
        self.glanced_at: set[str] = set()

    def want(self, name: str, person: str) -> Any:
        """The family's answer to field ``name`` (of ``person``'s item), else the scenario's or a typical one."""
        for pattern, value in self.family:
            if re.fullmatch(pattern, name):
                if isinstance(value, ByPerson):
                    return next((x for given, x in value.items() if given in person), None)
                return value
        return answer_for(self.values, name)

    def screen(self, name: str) -> None:
        """A counter screen: read its headings and labels once, glance at its prefilled values, shoot it."""
        self.v.screens.append(name)
        path = re.sub(r"[0-9a-f-]{36}", "ID", self.page.url)
        if path not in self.glanced_at:  # the same form again (with errors): only the summary is new
            self.glanced_at.add(path)
            self.v.read_chars += int(self.page.evaluate(_READ_JS))
            self.v.glanced += int(self.page.evaluate(_PREFILLED_JS))
        else:
            self.v.read_chars += int(self.page.evaluate(_READ_JS.replace("h1, h2, h3, ", "")))
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.wait_for_load_state("load")
        self.page.screenshot(path=str(SHOTS / f"{len(self.v.screens):02d}-{name}.png"), full_page=True, timeout=30000)

    def submit(self, button: Any, url: str | re.Pattern[str]) -> None:
        self.kb.activate(button)
        self.page.wait_for_url(url)
        self.page.wait_for_load_state("domcontentloaded")

    def arrive(self, name: str) -> str:
        """来庁受付: type the name into the search (focused on arrival), Enter, 受付する. Returns the visit id."""
        self.page.goto(f"{self.server.base}/console/visits/new")
        self.page.wait_for_function("() => document.activeElement && document.activeElement.id === 'vn-q'")
        self.screen("reception")
        self.page.keyboard.type(name)
        self.kb.k.typing.typed(name)  # a search key, not a form field: never a 'known field typed'
        self.kb.press("Enter")
        self.page.wait_for_selector("text=検索結果")
        self.screen("reception-results")
        self.v.decisions += 1  # pick the right person from the results
        self.submit(self.page.get_by_role("button", name=f"{name}さんを受付する"),
                    re.compile(r"/console/visits/[0-9a-f-]{36}$"))
        self.screen("visit")
        return self.page.url.rsplit("/", 1)[1]

    def start_interview(self) -> None:
        self.v.decisions += 1
        self.kb.select(self.page.get_by_label("ライフイベント"), EVENT, "life_event")
        self.submit(self.page.get_by_role("button", name="聞き取りを始める"), re.compile(r"/interviews/[0-9a-f-]{36}$"))
        self.screen("interview")

    def answer_questions(self) -> None:
        for qid, value in QUESTIONS.items():
            group = self.page.locator(f"fieldset[data-question='{qid}']")
            if not group.is_visible():
                continue
            self.v.decisions += 1
            self.v.read_chars += int(group.evaluate(_LABEL_JS.replace(":scope > fieldset > legend", ":scope > legend")))
            self.kb.choose_radio(group, value, f"q.{qid}")

    def pick_person(self, target: str) -> bool:
        """A person field (「対象の子ども」) that fills ``target``: pick the person the family names (its radio, by
        the arrow keys; interview.js fills the targets as 「更新」 would) instead of typing. True if picked."""
        scope = target.split(".")[0]
        for box in self.page.locator(f"main section[data-procedure='{scope}'] .field[data-kind='person'], "
                                     "main .field[data-kind='person'][data-field^='s.']").all():
            name = str(box.get_attribute("data-field"))
            live = json.loads(str(box.get_attribute("data-person")))
            targets = {f"{name.split('.')[0]}.{fid}": attr for fid, attr in live["fills"].items()}
            if target not in targets or box.get_attribute("data-picked") or not box.is_visible():
                continue
            # The person offered whose record matches most of what the family says for the targets.
            score = {str(m["member_id"]): sum(self.want(t, "") == m.get(attr) for t, attr in targets.items())
                     for m in live["people"]}
            value = max(score, key=lambda k: score[k], default="")
            if not value or not score[value]:
                return False  # nobody offered is the family's answer: typed (and the comparison sees it)
            self.v.decisions += 1
            self.v.read_chars += int(box.evaluate(_LABEL_JS))
            self.kb.choose_radio(box, value, name)
            return True
        return False

    def fill_required(self, only: set[str] | None = None) -> int:
        """Answer every visible required field left empty (or those ``only`` names) in page order, those an
        answer shows on the way included (a ticked person's own fields, a condition's): the screen is read again
        after each answer. A field a person pick fills is picked, not typed. Returns how many."""
        done, tried = 0, set()
        while True:
            f = next((x for x in self.page.evaluate(_TODO_JS) if x["name"] not in tried and x["empty"]
                      and (x["name"] in only if only is not None else x["req"])), None)
            if f is None:
                return done
            tried.add(f["name"])
            done += 1
            if self.pick_person(f["name"]) and not any(
                    x["name"] == f["name"] and x["empty"] for x in self.page.evaluate(_TODO_JS)):
                continue  # the pick filled it
            self.fill(f)

    def fill(self, f: dict[str, Any]) -> None:
        name, kind = f["name"], f["kind"]
        box = self.page.locator(f".field[data-field='{name}']")
        person = str(box.evaluate("(f) => { const p = f.closest('.person-item');"
                                  " return p ? p.querySelector('legend').textContent : ''; }"))
        want = self.want(name, person)
        self.v.decisions += 1
        self.v.read_chars += int(box.evaluate(_LABEL_JS))
        if kind in ("yesno", "radio"):
            if isinstance(want, bool):
                want = "yes" if want else "no"
            radios = box.locator(f"input[type=radio][name='{name}']")
            options = [radios.nth(i).get_attribute("value") for i in range(radios.count())]
            self.kb.choose_radio(box, str(want) if str(want) in options else str(options[0]), name)
        elif kind in ("checks", "members"):
            boxes = box.locator(f"input[type=checkbox][name='{name}']")
            wanted = [str(x) for x in want] if isinstance(want, list) else []
            labels = boxes.evaluate_all("(bs) => bs.map((b) => b.closest('label').textContent)")
            picks = [boxes.nth(i) for i in range(boxes.count())
                     if boxes.nth(i).get_attribute("value") in wanted or any(w in labels[i] for w in wanted)]
            for b in picks or [boxes.nth(i) for i in range(boxes.count())][: (1 if kind == "checks" else None)]:
                if not b.is_checked():
                    self.kb.tick(b, name)
        elif kind in ("name", "address"):
            parts = want if isinstance(want, dict) else {}
            for part in f["parts"]:
                sub = part.rsplit(".", 1)[1]
                inp = self.page.locator(f"input[name='{part}']")
                text = str(parts.get(sub, "") or "")
                if not text or inp.input_value():
                    continue
                self.kb.type_into(inp, text, part, name)
        elif kind == "select":
            sel = box.locator("select")
            opts = sel.evaluate("(s) => [...s.options].filter((o) => o.value && !o.disabled).map((o) => o.value)")
            self.kb.select(sel, str(want) if str(want) in opts else opts[0], name)
        else:
            inp = box.locator("input:not([type=hidden]), textarea").first
            self.kb.type_into(inp, str(want), name)

    def finish(self) -> bool:
        """聞き取りを終えて申請する until filed (the visit page) or the same errors come back."""
        self.v.decisions += 1  # check everything once before filing
        last: list[str] = []
        for _ in range(4):
            self.v.finish_rounds += 1
            # The answer replaces the document (a redirect, or console.js writing the re-rendered page into
            # it): the mark on the old one tells them apart.
            self.page.evaluate("() => { document.documentElement.dataset.clerkOld = '1'; }")
            # The button's shortcut (aria-keyshortcuts) from the field the clerk is in, when the page offers it.
            button = self.page.get_by_role("button", name="聞き取りを終えて申請する")
            if button.get_attribute("aria-keyshortcuts") == "Control+Enter" and self.page.evaluate(
                    "() => !!document.activeElement.closest('form#interview')"):
                self.kb.press("Control+Enter")
            else:
                self.kb.activate(button)
            self.page.wait_for_function("() => !document.documentElement.dataset.clerkOld && document.readyState === 'complete'"
                                        " && document.querySelector('main')", timeout=30000)
            if "/interviews/" not in self.page.url:
                return True
            errors = self.page.locator(".error-summary li").all_inner_texts()
            if os.environ.get("MADOGUCHI_BENCH_DEBUG"):
                print("finish round", self.v.finish_rounds, self.page.url, errors, flush=True)
            if not errors:
                return True
            self.screen(f"interview-errors-{self.v.finish_rounds}")
            if errors == last:
                self.v.blocked += errors
                return False
            last = errors
            hrefs = self.page.locator(".error-summary a").evaluate_all("(as) => as.map((a) => a.getAttribute('href'))")
            names = {str(n) for h in hrefs if (n := self.page.evaluate(
                "(id) => { const e = document.getElementById(id); const f = e && e.closest('.field[data-field]');"
                " return f ? f.dataset.field : null; }", h.lstrip("#")))}
            todo = {f["name"]: f for f in self.page.evaluate(_TODO_JS)}
            self.v.unmarked += sorted(n for n in names if n in todo and not todo[n]["req"] and n not in self.v.unmarked)
            # The summary's first link moves the focus to that field (as a keyboard user does), the rest
            # follow in page order from there.
            self.kb.activate(self.page.locator(".error-summary a").first)
            if not self.fill_required(names):
                self.v.blocked += errors
                return False
        return False

    def print_pdf(self, link: Any, path: str, name: str) -> tuple[int, float]:
        """Reach a print link and press Enter (the PDF opens in a new tab); the same document is fetched
        alongside to check it is a PDF and keep it as an artifact. Returns (bytes, ms of that fetch)."""
        t0 = time.monotonic()
        r = self.page.context.request.get(f"{self.server.base}{path}")
        ms = (time.monotonic() - t0) * 1000
        self.kb.reach(link)
        self.kb.press("Enter")
        if r.status != 200 or not r.headers.get("content-type", "").startswith("application/pdf"):
            return 0, ms
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / f"{name}.pdf").write_bytes(r.body())
        return len(r.body()), ms

    def print_forms(self, visit_id: str) -> None:
        """From the visit page: every 申請書 at once (forms.pdf) and the 受付案内票, by keyboard; on a visit page
        without forms.pdf, each application's page, then its 申請書 (form.pdf)."""
        together = self.page.locator(f"main a[href='/console/visits/{visit_id}/forms.pdf']")
        if together.count():
            self.v.forms.append(("every application", *self.print_pdf(
                together, f"/console/visits/{visit_id}/forms.pdf", "forms")))
        guide = self.page.locator(f"main a[href='/console/visits/{visit_id}/guide.pdf']")
        if guide.count():  # the 受付案内票 of the whole visit, handed over with the forms
            self.v.guide = self.print_pdf(guide, f"/console/visits/{visit_id}/guide.pdf", "guide")
        if together.count():
            return
        links = self.page.locator("main a[href^='/console/submissions/']")
        hrefs = links.evaluate_all("(as) => as.map((a) => a.getAttribute('href'))")
        for n, href in enumerate(hrefs):
            sid = href.rsplit("/", 1)[1]
            if n:  # back to the visit page: Alt+← (the browser's own key, one press)
                self.page.go_back(wait_until="domcontentloaded")
                self.kb.k.back += 1
            self.submit(self.page.locator(f"main a[href='{href}']"), re.compile(rf"/console/submissions/{sid}$"))
            proc = str(self.server.query("SELECT procedure_id FROM submissions WHERE id = ?", (sid,))[0][0])
            self.screen(f"application-{proc}")
            link = self.page.locator(f"main a[href='/console/submissions/{sid}/form.pdf']")
            if link.count() == 0:
                self.v.forms_counted = True
                self.kb.k.enter += 1  # not on main yet: one keystroke per form, as the brief says
                continue
            self.v.forms.append((proc, *self.print_pdf(link, f"/console/submissions/{sid}/form.pdf", f"form-{proc}")))
        for p in self.page.context.pages[1:]:  # the PDF tabs
            p.close()

    def shoot_applications(self, visit_id: str) -> None:
        """After the clerk's work (not counted): a screenshot of each application's page, the artifacts."""
        self.page.goto(f"{self.server.base}/console/visits/{visit_id}")
        hrefs = self.page.locator("main a[href^='/console/submissions/']").evaluate_all(
            "(as) => as.map((a) => a.getAttribute('href'))")
        for href in hrefs:
            self.page.goto(f"{self.server.base}{href}")
            proc = str(self.server.query("SELECT procedure_id FROM submissions WHERE id = ?",
                                         (href.rsplit("/", 1)[1],))[0][0])
            self.page.screenshot(path=str(SHOTS / f"application-{proc}.png"), full_page=True, timeout=30000)


def serve_family(browser: Any, server: ServerProcess, known: dict[str, Any]) -> Visit:
    """One clerk serves the family from arrival to printed forms; the visit as counted."""
    lib = load_library()
    ev = event_for(lib, EVENT)
    assert ev is not None, EVENT
    procs: list[Procedure] = [q for x in ev.procedures if (q := lib.latest(x.procedure)) is not None]
    v = Visit()
    from tests.browser.helpers import add_session

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    add_session(context, server.base, server.login_as("counter", display_name="窓口 職員"))
    page = context.new_page()
    page.set_default_timeout(10000)
    clerk = Clerk(page, server, Values(procs, today_jst(), ev), v)
    t0 = time.monotonic()
    try:
        head = known["records"][0]
        visit_id = clerk.arrive(f"{head['family']} {head['given']}")
        clerk.start_interview()
        clerk.answer_questions()
        clerk.fill_required()
        if clerk.finish():
            v.outcome = "filed"
            clerk.screen("visit-filed")
            rows = server.query("SELECT s.procedure_id FROM visit_submissions vs JOIN submissions s ON s.id = vs.submission_id"
                                " WHERE vs.visit_id = ?", (visit_id,))
            v.procedures = sorted(str(r[0]) for r in rows)
            clerk.print_forms(visit_id)
            v.wall_s = time.monotonic() - t0
            clerk.shoot_applications(visit_id)
        else:
            v.outcome = "blocked: " + "; ".join(v.blocked)[:400]
    except Exception as e:  # a benchmark reports what it could not do
        v.outcome = re.sub(r"\s+", " ", str(e).split("Call log:")[0]).strip()[:240] or type(e).__name__
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "failed.png"), full_page=True)
    v.wall_s = v.wall_s or time.monotonic() - t0
    v.entries = clerk.kb.entries
    seen = known_values(known)
    v.known_typed = [f"{e.name} = {e.value}" for e in v.entries if e.how == "typed" and plain(e.value) in seen]
    context.close()
    return v


def run() -> tuple[Visit, dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="clerk-bench-"))
    shutil.rmtree(SHOTS, ignore_errors=True)  # this run's screens only
    server = ServerProcess(tmp / "bench.db", demo=True, url_host="localhost", quiet=True)
    server.start()
    try:
        known = load_family(server, tmp, today_jst())
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
            v = serve_family(browser, server, known)
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return v, known


def render(v: Visit) -> str:
    s = seconds(v)
    total = sum(s.values())
    t = v.keys.typing
    k = v.keys
    m = DESK
    forms = ", ".join(f"{p} {n // 1024} KB in {ms:.0f} ms" for p, n, ms in v.forms) or "—"
    if v.guide:
        forms += f"; 受付案内票 {v.guide[0] // 1024} KB in {v.guide[1]:.0f} ms"
    forms += " (wall time while the browser runs; `bench/bench_pdf.py` measures generation)" if v.forms else ""
    rows = [
        "## The counter clerk: a 転入 of a family of four by keyboard (`bench/bench_clerk.py`)",
        "",
        f"`python3 -m bench.bench_clerk --write` ({dt.date.today().isoformat()}; headless Chromium, desktop viewport "
        "1280x900, ja-JP, keyboard only). A family of four (two adults, two children) with provisional registry "
        "records and an imported 転出証明書情報 (`madoguchi registry import-transfer`) is served from arrival to "
        "printed forms: 来庁受付 → the visit → 聞き取り (転入; questions: employee insurance, two children, a 住民票 "
        "copy) → 聞き取りを終えて申請する (its shortcut, Ctrl+Enter) → every 申請書 at once (the visit's forms.pdf) and the "
        "受付案内票. Screenshots of each screen, and of each application's page after the run (not counted): "
        "`test-artifacts/clerk/`.",
        "",
        "| result | clerk time (KLM) | keys (Tab / Enter / Space / arrows / back / Ctrl) | characters typed (kana / digits / letters, "
        "kanji runs) | screens | decisions (M) | prefilled values glanced | fields typed the records knew |",
        "|---|---|---|---|---|---|---|---|",
        f"| {v.outcome} | {total:.0f} s ({total / 60:.1f} min){' ⚠' if total > 300 else ''} | {k.presses} ({k.tab} / "
        f"{k.enter} / {k.space} / {k.arrow} / {k.back} / {k.ctrl}) | {t.typed_chars} ({t.kana} / {t.digits} / {t.ascii}, {t.conversions}) "
        f"| {len(v.screens)} | {v.decisions} | {v.glanced} | {len(v.known_fields)} ({len(v.known_typed)} boxes) |",
        "",
        "Seconds by operator: " + ", ".join(f"{n} {x:.1f}" for n, x in s.items()) + ". Goal: under 5 min (300 s) "
        "and zero fields typed that the records knew (⚠ marks a miss). "
        f"Moving between controls is {k.tab} Tab presses ({k.tab * m.key:.0f} s): the interview folds the "
        "records' complete values into one stop per part (「記録から入力済み（確認・訂正）」), but each procedure's "
        "optional fields between the ones answered and the people lists stay in the tab order.",
        "",
        f"Constants (`DeskModel`): K {m.key} s per key (Card, Moran & Newell 1980 KLM: average skilled typist, "
        f"~40 wpm), a kana typed by romaji {m.romaji_per_kana:g} K, a kanji run {m.conversion_keys:g} K (Space, "
        f"Enter; a kanji counted as 2 kana of reading), M {m.mental} s per decision (KLM), no P/H (no mouse); "
        f"reading {m.read_char:.2f} s per character (500 字/分), a glance {m.glance} s per prefilled value, "
        f"{m.page} s system response per screen (these from the resident's `TouchModel`, docs/time-model.md).",
        "",
        f"Filed: {', '.join(v.procedures) or '—'}. Printed 申請書: {forms}"
        + (" (form.pdf was not on main: one keystroke counted per form)." if v.forms_counted else "."),
    ]
    if v.known_typed:
        rows += ["", "Typed although the registry or transfer data held the value (what the interview does not "
                 "prefill yet):", "", *[f"- `{x}`" for x in v.known_typed]]
    typed = [e for e in v.entries if e.how == "typed"]
    if typed:
        rows += ["", "What the clerk still typed (values the records do not hold): "
                 + ", ".join(f"`{e.name}`" for e in typed if f"{e.name} = {e.value}" not in v.known_typed) + "."]
    if v.unmarked:
        rows += ["", f"聞き取りを終えて申請する was pressed {v.finish_rounds} times: refused as missing although not "
                 "marked （必須） on the interview (a required_if, or an item field of a picked person): "
                 + ", ".join(f"`{n}`" for n in v.unmarked) + "."]
    if v.blocked:
        rows += ["", "Blocked by: " + "; ".join(v.blocked)]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    ns = ap.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        print(f"needs {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 2
    v, _ = run()
    text = render(v)
    print(text)
    if os.environ.get("MADOGUCHI_BENCH_DEBUG"):
        for e in v.entries:
            print(" ", e)
    if ns.write:
        write_doc(text, MARK)
    return 0 if v.filed else 1


if __name__ == "__main__":
    sys.exit(main())
