"""The scripted resident's hands: drives the PWA generically, screen by screen, and counts what it does.

On every screen it fills the visible, empty inputs marked ※必須 (from the procedure's first valid scenario,
else a typical answer of the field's type), leaves prefilled values alone, then presses the screen's
forward button (申請を始める, 次へ進む, 入力内容を確認する, まとめて入力する, 送信). When the app answers with an
error summary, it fills the fields named there (an optional-marked field refused as required is recorded as a
marker mismatch) and tries again. Nothing here knows a procedure: the definitions only supply values and
field types. What it counts (taps, characters by keyboard, conversions, screens, fields answered, values
glanced at, label characters read) becomes seconds in :mod:`bench.bench_resident` with ``TouchModel``.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Error as PlaywrightError

from procedure_definitions.model import FieldBase, GroupField, LifeEvent, Procedure

__all__ = ["Counts", "Driver", "Values", "classify", "shift_dates"]

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)
PDF_MIN = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n" \
          b"trailer<</Root 1 0 R>>\n%%EOF\n"

# Typical answers by field type when no scenario gives one (the assumptions of docs/time-model.md).
DEFAULTS: dict[str, Any] = {
    "text": "勤務先", "longtext": "特になし", "kana": "ヤマダ タロウ", "phone": "090-1234-5678",
    "email": "taro.yamada@example.jp", "postal_code": "3300063", "number": 1,
    "name": {"family": "山田", "given": "太郎"}, "my_number": "123456789018", "corporate_number": "1234567890123",
    "address": {"postal_code": "3300063", "block": "3-15-1"},
}
SCREEN_JS = """() => {
  const m = document.querySelector('main');
  // The error summary's own heading is not a new screen.
  const h = (s) => { const n = m && [...m.querySelectorAll(s)].find((x) => !x.closest('#error-summary'));
    return n ? n.textContent.trim() : ''; };
  return [location.hash, document.querySelector('h1') ? document.querySelector('h1').textContent.trim() : '',
          h('h2'), m && m.dataset.ready === 'true', Boolean(document.querySelector('#error-summary:not([data-bench-old])'))];
}"""
# Every visible field of the screen: its path, its first control's id (which names the scope), the markers
# in its label, whether it still lacks an answer, and the label text a resident reads.
SCAN_JS = """() => {
  const out = [];
  let i = 0;
  for (const node of document.querySelectorAll('main [data-path]')) {
    if (!node.checkVisibility()) continue;
    node.setAttribute('data-bench-i', String(++i));
    const lab = node.querySelector(':scope > legend, :scope > label');
    const ctl = node.querySelector('input, select, textarea, button');
    const radios = node.querySelectorAll(':scope > .choices input');
    const parts = [...node.querySelectorAll(':scope > .parts input')];
    const items = node.querySelectorAll(':scope > div > .group-item').length;
    const picks = [...node.querySelectorAll('input[type=checkbox]')].filter((c) => !c.closest('.group-item'));
    let empty;
    if (node.querySelector(':scope > div > .group-item') !== null || node.querySelector(':scope > button')) {
      empty = items === 0 && !picks.some((c) => c.checked);
    } else if (radios.length) empty = ![...radios].some((r) => r.checked);
    else if (parts.length) empty = parts.some((p) => p.value === '' && !/\\.(building|postal_code)$/.test(p.name));
    else if (ctl && ctl.type === 'file') empty = !node.querySelector('.file-list li');
    else empty = !ctl || ctl.value === '';
    const text = lab && lab.firstChild ? lab.firstChild.textContent : (node.querySelector('.label') || {}).textContent || '';
    out.push({
      i, path: node.dataset.path, id: ctl ? ctl.id : '', req: Boolean(lab && lab.querySelector('.req')),
      opt: Boolean(lab && lab.querySelector('.opt')), prefilled: Boolean(lab && lab.querySelector('.prefilled')),
      calculated: Boolean(node.querySelector('[data-calculated]')) || Boolean(ctl && ctl.readOnly),
      empty, items, picks: picks.length, label: text.trim(), notice: node.classList.contains('notice'),
      // Some parts filled, some empty: a partial prefill (the 氏 given, the 名 to type), glanced at as the model does.
      partial: parts.some((p) => p.value !== '') && parts.some((p) => p.value === ''),
      text: node.classList.contains('notice') ? node.textContent.trim() : '',
    });
  }
  return out;
}"""
FORWARD_JS = """() => {
  const m = document.querySelector('main');
  const b = m.querySelector('#submit:not([disabled])') || m.querySelector('form button[type=submit]')
    || [...m.querySelectorAll('.actions button.btn, .actions a.btn')].find((x) => !x.classList.contains('btn-secondary'));
  if (!b) return null;
  document.querySelectorAll('[data-bench-next]').forEach((x) => x.removeAttribute('data-bench-next'));
  b.setAttribute('data-bench-next', '1');
  // The app sets data-ready when it has drawn a route; the hash changes before that, so clear it to know
  // when the next screen is really there. A summary already shown is old: a new one answers this press.
  m.dataset.ready = 'false';
  const es = document.getElementById('error-summary');
  if (es) es.dataset.benchOld = '1';
  return b.textContent.trim();
}"""
# A step's prefilled values folded into one line (pwa/js/render.js renderFields): the line is read, the values
# inside are not seen unless it is opened.
FOLD_JS = """() => [...document.querySelectorAll('main details.prefill-values > summary')]
  .filter((n) => n.checkVisibility()).map((n) => n.textContent)"""
READ_JS = """() => {
  const m = document.querySelector('main');
  if (/^#\\/(p|e)\\//.test(location.hash)) {
    // An overview or a life event's result: everything it says (description, fee, deadline, documents,
    // the procedures that apply and why); questions are counted as they are answered, buttons not at all.
    const c = m.cloneNode(true);
    c.querySelectorAll('h1, fieldset, .actions, button, [hidden]').forEach((n) => n.remove());
    return c.textContent.replace(/\\s/g, '').length;
  }
  let s = '';
  for (const n of m.querySelectorAll('h2, h3')) if (n.checkVisibility()) s += n.textContent;
  return s.replace(/\\s/g, '').length;
}"""
_KANJI = re.compile(r"[\u3400-\u9fff\U00020000-\U0002ffff々]")
_KANA = re.compile(r"[\u3040-\u30ff]")


@dataclass
class Counts:
    """What the resident did in one run; seconds come from :func:`bench.bench_resident.seconds`."""

    taps: int = 0
    kana: int = 0
    conversions: int = 0
    digits: int = 0
    ascii: int = 0
    switches: int = 0
    selects: int = 0
    photos: int = 0
    files: int = 0
    screens: int = 0
    answered: int = 0  # fields the resident acted on (one M each)
    glanced: int = 0  # prefilled or calculated values checked
    review_values: int = 0  # answers shown on the check-answers page
    read_chars: int = 0  # headings, field labels, options scanned, notices
    typed_chars: int = 0
    mismatches: list[str] = field(default_factory=list)  # optional-marked fields the app refused as required
    notes: list[str] = field(default_factory=list)

    def typed(self, text: str) -> None:
        """Count one box's text by keyboard: kanji as 2 kana + one conversion per run, kana, digits, letters."""
        self.typed_chars += len(text)
        kinds: list[str] = []
        for run in re.findall(r"[\u3400-\u9fff\U00020000-\U0002ffff々]+", text):
            self.conversions += 1
            self.kana += 2 * len(run)
        for ch in text:
            kind = classify(ch)
            if kind == "kana":
                self.kana += 1
            elif kind == "digit":
                self.digits += 1
            elif kind == "ascii":
                self.ascii += 1
            if kind in ("kana", "kanji"):
                kind = "kana"
            if kind != "space" and (not kinds or kinds[-1] != kind):
                kinds.append(kind)
        self.switches += max(0, len(kinds) - 1)


def classify(ch: str) -> str:
    if _KANJI.match(ch):
        return "kanji"
    if _KANA.match(ch):
        return "kana"
    if ch.isspace() or ch == "\u3000":
        return "space"
    if ch.isdigit() or ch in "-‐－ー()":
        return "digit"
    return "ascii"


def shift_dates(value: Any, days: int) -> Any:
    """Move every full ISO date in a scenario's answers by ``days`` (the scenario's today -> this day), so
    deadlines and ages relative to today hold as the scenario meant them."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return (dt.date.fromisoformat(value) + dt.timedelta(days=days)).isoformat()
    if isinstance(value, dict):
        return {k: shift_dates(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [shift_dates(v, days) for v in value]
    return value


def _tag(f: FieldBase) -> str:
    return str(f.__struct_config__.tag)


def _tokens(path: str) -> list[str | int]:
    return [int(t) if t.isdigit() else t for t in re.findall(r"[^.\[\]]+", path)]


class Values:
    """Definitions and answers of one run: the procedures (scope ``f`` or ``p-<id>``) and a life event's
    shared fields (scope ``shared``)."""

    def __init__(self, procs: list[Procedure], today: dt.date, event: LifeEvent | None = None) -> None:
        self.procs = {p.id: p for p in procs}
        self.event = event
        self.answers: dict[str, dict[str, Any]] = {}
        for p in procs:
            sc = next((s for s in p.scenarios if s.expect.valid), p.scenarios[0] if p.scenarios else None)
            ans = dict(sc.answers) if sc else {}
            if sc and sc.today:
                ans = shift_dates(ans, (today - dt.date.fromisoformat(sc.today)).days)
            self.answers[p.id] = ans
        self.today = today

    def scope_of(self, dom_id: str, current: str) -> str:
        if dom_id.startswith("shared-"):
            return "shared"
        for pid in sorted(self.procs, key=len, reverse=True):
            if dom_id.startswith(f"p-{pid}-"):
                return pid
        return current

    def field(self, scope: str, path: str) -> FieldBase | None:
        toks = [t for t in _tokens(path) if isinstance(t, str)]
        if scope == "shared":
            fields: list[Any] = [sf.field for sf in (self.event.shared_fields if self.event else [])]
        else:
            p = self.procs.get(scope)
            fields = [f for s in p.sections for f in s.fields] if p else []
        found = None
        for t in toks:
            found = next((f for f in fields if f.id == t), None)
            if found is None:
                return None
            fields = list(getattr(found, "fields", []))
        return found

    def value(self, scope: str, path: str) -> Any:
        if scope == "shared" and self.event:
            top = str(_tokens(path)[0])
            sf = next((s for s in self.event.shared_fields if s.field.id == top), None)
            for pid, target in (sf.maps_to.items() if sf else []):
                if pid in self.answers and target in self.answers[pid]:
                    return self.answers[pid][target]
            return None
        cur: Any = self.answers.get(scope, {})
        for t in _tokens(path):
            if isinstance(t, int):
                if not isinstance(cur, list) or not cur:
                    return None
                cur = cur[min(t, len(cur) - 1)]  # more items than the scenario has: repeat its last
            elif isinstance(cur, dict):
                cur = cur.get(t)
            else:
                return None
        return cur

    def default(self, f: FieldBase | None) -> Any:
        tag = _tag(f) if f is not None else "text"
        if tag in ("date", "wareki"):
            return self.today.isoformat()
        if tag == "number" and f is not None and getattr(f, "min", None) is not None:
            return int(getattr(f, "min", 1))
        return DEFAULTS.get(tag, "テスト")


class Deferred(Exception):
    """A field that cannot be answered yet (its choices depend on a later answer)."""


class Driver:
    """One resident on one page; :meth:`run` goes from the current screen to the receipt."""

    def __init__(self, page: Any, values: Values, scope: str, counts: Counts, *, limit_s: float = 120) -> None:
        self.page, self.values, self.scope, self.c = page, values, scope, counts
        self.deadline = time.monotonic() + limit_s
        self.seen: set[tuple[str, str, str]] = set()
        self.tries: dict[str, int] = {}
        self.title = ""
        self.rounds = 0
        self.digits_wanted = 0  # digits an error message asks for (「10桁」)  # times the review sent the resident back to a form page
        page.set_default_timeout(5000)  # an element gone in a redraw fails fast, then the screen is scanned again

    # -- screens ---------------------------------------------------------------------------------------
    def screen(self) -> tuple[str, str, str, bool, bool]:
        h, h1, h2, ready, err = self.page.evaluate(SCREEN_JS)
        return h, h1, h2, ready, err

    def wait_ready(self) -> None:
        self.page.wait_for_selector("main[data-ready=true]", timeout=20000)

    def new_screen(self) -> None:
        """Count a screen when what is on it (route, title, first heading) is new, and what it asks to read."""
        h, h1, h2, _, _ = self.screen()
        if (h, h1, h2) not in self.seen:
            self.seen.add((h, h1, h2))
            self.c.screens += 1
            if h.startswith("#/e/"):  # the procedures that apply are drawn a moment after the questions
                with contextlib.suppress(PlaywrightError):
                    self.page.wait_for_selector("#event-result button", timeout=5000)
            self.c.read_chars += int(self.page.evaluate(READ_JS))
            if h1 != self.title:  # the page title is read when it changes, not on every step
                self.title = h1
                self.c.read_chars += len(re.sub(r"\s", "", h1))
            for f in self.page.evaluate(SCAN_JS):
                self.c.read_chars += len(re.sub(r"\s", "", f["label"] + f["text"]))
                if (f["prefilled"] or f["calculated"]) and (not f["empty"] or f["partial"]):
                    self.c.glanced += 1
            for line in self.page.evaluate(FOLD_JS):  # read once, one glance (docs/time-model.md)
                self.c.read_chars += len(re.sub(r"\s", "", line))
                self.c.glanced += 1
            if os.environ.get("MADOGUCHI_BENCH_DEBUG"):
                print(f"  {time.monotonic():.1f} screen", h, h1, h2, self.c.read_chars, flush=True)
            if h.endswith("/review"):
                self.c.review_values += self.page.locator("main dl.review dt").count()

    def forward(self) -> str | None:
        before = self.screen()[:3]
        for attempt in range(4):
            label = self.page.evaluate(FORWARD_JS)
            if label is None:
                return None
            try:
                self.page.locator("[data-bench-next]").click(timeout=3000)
                break
            except PlaywrightError:
                # The page redrew (a pull from the server) and the marked button is gone: mark it again.
                if attempt == 3:
                    raise
        self.c.taps += 1
        end = time.monotonic() + 20
        while time.monotonic() < end:
            h, h1, h2, ready, err = self.screen()
            if (ready and (h, h1, h2) != before) or err:  # a new screen, or a new error summary here
                return label
            self.page.wait_for_timeout(50)
        return label

    def run(self) -> str:
        """Drive to the receipt; return ``"receipt"`` or raise RuntimeError with the reason."""
        self.wait_ready()
        self.new_screen()
        while time.monotonic() < self.deadline:
            h = self.screen()[0]
            if h.startswith("#/s/"):
                return self.receipt()
            if h.startswith("#/e/"):
                self.answer_questions()
            self.fill_screen()
            was = self.screen()[:3]
            label = self.forward()
            if label is None:
                raise RuntimeError(f"no way forward on {h}")
            now = self.screen()
            if label == "送信" and now[0] in ("#/", ""):
                return "receipt"  # a life event's procedures, sent together, land on home
            if now[4] and now[:3] == was:
                self.fix_errors()
            self.new_screen()
        raise RuntimeError(f"not done within the time limit (at {self.screen()[0]})")

    def receipt(self) -> str:
        try:
            self.page.wait_for_selector("#receipt-number", timeout=20000)
        except Exception as e:
            state = self.page.locator("#item-state, main .error-text").first
            text = state.inner_text() if state.count() else self.page.locator("main").inner_text()[:200]
            raise RuntimeError(f"no receipt: {text}") from e
        return "receipt"

    # -- answering ------------------------------------------------------------------------------------------
    def answer_questions(self) -> None:
        """A life event's yes/no questions: いいえ to each (the common path: no optional procedure)."""
        for _ in range(20):
            boxes = self.page.locator("main fieldset:has(input[name^='q-']):not(:has(input:checked))")
            if boxes.count() == 0:
                return
            box = boxes.first
            self.c.read_chars += len(re.sub(r"\s", "", box.locator("legend").inner_text())) + 5
            # Answering redraws the questions: click the one input by its id, not "the first unanswered".
            self.page.locator(f"#{box.locator('input[type=radio]').nth(1).get_attribute('id')}").click()
            self.c.taps += 1
            self.c.answered += 1

    def pick_people(self) -> None:
        """A person field (``type: person``): the resident taps the first person offered (the household's
        person the procedure is about; 「ここにない人」 when nobody else is listed), reading the options up to it."""
        for node in self.page.locator("main .person > fieldset[data-path]").all():
            radios = node.locator(":scope > .choices input[type=radio]")
            if not node.is_visible() or not radios.count() or node.locator("input[type=radio]:checked").count():
                continue
            self.c.read_chars += len(node.locator(".choices label").first.inner_text())
            radios.first.check()
            self.c.taps += 1
            self.c.answered += 1

    def fill_screen(self) -> None:
        self.pick_people()
        deferred: dict[str, int] = {}  # fields whose choices wait for another answer (choice_filter)
        for _ in range(200):
            todo = [f for f in self.page.evaluate(SCAN_JS)
                    if f["req"] and f["empty"] and not f["notice"] and f["path"] not in self.tries]
            todo.sort(key=lambda f: deferred.get(f["path"], 0))
            if not todo or deferred.get(todo[0]["path"], 0) >= 2:
                return
            f = todo[0]
            self.tries[f["path"]] = 1
            before = copy.deepcopy(self.c)
            try:
                self.fill(f)
            except (Deferred, PlaywrightError):
                # Not answerable yet (choices wait for a later answer), or the page redrew under the hand (a
                # sync pull, a postal lookup): count nothing of this try, look at the screen again.
                del self.tries[f["path"]]
                self.c.__dict__.update(before.__dict__)
                deferred[f["path"]] = deferred.get(f["path"], 0) + 1
                self.page.wait_for_timeout(100)

    def fix_errors(self) -> None:
        links = self.page.locator("#error-summary a")
        targets = [(links.nth(i).get_attribute("href") or "", links.nth(i).inner_text()) for i in range(links.count())]
        if os.environ.get("MADOGUCHI_BENCH_DEBUG"):
            print(f"  {time.monotonic():.1f} errors", targets, flush=True)
        for href, text in targets:
            if href.lstrip("#").startswith("/"):  # the review links to a form page: go there, fill it next
                self.rounds += 1
                if self.rounds > 3:
                    raise RuntimeError(f"the review keeps refusing: {'; '.join(t for _, t in targets)[:200]}")
                self.page.locator("#error-summary a").first.click()
                self.c.taps += 1
                self.wait_ready()
                return
            node_id = href[1:]
            info = next((f for f in self.page.evaluate(SCAN_JS) if f["id"] == node_id), None)
            if info is None:
                self.c.notes.append(f"error without a field on screen: {text}")
                continue
            n = self.tries.get(info["path"], 0)
            self.digits_wanted = int(m.group(1)) if (m := re.search(r"(\d+)桁", text)) else 0
            if n >= 3:
                raise RuntimeError(f"refused after {n} tries: {text}")
            if info["opt"] and n == 0:
                self.c.mismatches.append(f"{info['label']} (※任意, refused: {text})")
            if info["prefilled"] and n == 0:
                self.c.notes.append(f"corrected a prefilled value: {text}")
            self.tries[info["path"]] = n + 1
            self.fill(info, attempt=n, overwrite=True)

    def fill(self, f: dict[str, Any], attempt: int = 0, overwrite: bool = False) -> None:
        """Answer one field; ``attempt`` > 0 after the app refused the earlier answer (a typical value, then
        for dates one 30 years back); ``overwrite``: replace what the boxes hold (a refused value)."""
        scope = self.values.scope_of(f["id"], self.scope)
        d = self.values.field(scope, f["path"])
        tag = _tag(d) if d is not None else "text"
        value = self.values.value(scope, f["path"]) if attempt == 0 else None
        if attempt >= 2 and tag in ("date", "wareki"):
            value = (self.values.today - dt.timedelta(days=365 * 30)).isoformat()
        if value is None or value == "" or value == []:
            value = self.values.default(d)
        if attempt >= 1 and self.digits_wanted and tag == "text":  # 「10桁の数字で」: a number of that length
            value = "1234567890123456789"[: self.digits_wanted]
        node = self.node(f)
        if os.environ.get("MADOGUCHI_BENCH_DEBUG"):
            print(f"    fill {scope}:{f['path']} ({tag}) items={f['items']} picks={f['picks']} -> {value!r:.60}", flush=True)
        self.c.answered += 1
        if isinstance(d, GroupField) or f["items"] or f["picks"]:
            self.c.answered -= 1  # the group's items are the answers, counted one by one
            self.group(node, f, d)
        elif tag in ("choice", "yesno"):
            self.choose(node, d, value)
        elif tag == "multichoice":
            picks = value if isinstance(value, list) else []
            boxes = node.locator("input[type=checkbox]")
            want = picks or [boxes.nth(i).get_attribute("value") for i in range(max(getattr(d, "min_selected", 0) or 1, 1))]
            for v in want:
                box = node.locator(f"input[type=checkbox][value='{v}']")
                if box.count() and not box.is_checked():
                    box.check()
                    self.c.taps += 1
            self.c.read_chars += sum(len(x) for x in node.locator(".choices label").all_inner_texts())
        elif tag == "attachment":
            self.attach(node, d)
        elif tag in ("date", "wareki"):
            self.date(node, str(value), overwrite)
        elif tag == "address":
            self.address(node, f, d, value if isinstance(value, dict) else DEFAULTS["address"])
        elif tag in ("name", "kana") and node.locator(":scope > .parts input").count():
            v = value if isinstance(value, dict) else {"family": str(value), "given": str(value)}
            for key, box in zip(("family", "given"), node.locator(":scope > .parts input").all(), strict=False):
                if not box.input_value():
                    self.type(box, str(v.get(key) or DEFAULTS["name"][key]))
        else:
            if isinstance(value, dict):
                value = " ".join(str(x) for x in value.values())
            self.type(node.locator("input, textarea").first, str(value))

    def node(self, f: dict[str, Any]) -> Any:
        """The field's element by path and control id, which survive a redraw of the page."""
        path = f["path"].replace('"', '\\"')
        return self.page.locator(f'main [data-path="{path}"]:has(#{f["id"]})').first if f["id"] else \
            self.page.locator(f"[data-bench-i='{f['i']}']")

    def type(self, box: Any, text: str) -> None:
        box.fill(text)
        box.blur()
        self.c.taps += 1
        self.c.typed(text)

    def choose(self, node: Any, d: FieldBase | None, value: Any) -> None:
        v = ("true" if value else "false") if isinstance(value, bool) else str(value)
        sel = node.locator("select")
        if sel.count():
            options = sel.locator("option").all()
            values = [o.get_attribute("value") for o in options]
            if len(values) < 2:
                raise Deferred(node)
            sel.select_option(v if v in values else values[1])
            self.c.taps += 2
            self.c.selects += 1
            return
        radios = node.locator("input[type=radio]")
        values = [radios.nth(i).get_attribute("value") for i in range(radios.count())]
        if not values:
            raise Deferred(node)
        i = values.index(v) if v in values else (1 if values == ["true", "false"] else 0)
        labels = node.locator(".choices label").all_inner_texts()
        self.c.read_chars += sum(len(x) for x in labels[: i + 1])  # the options scanned up to the chosen one
        radios.nth(i).check()
        self.c.taps += 1

    def date(self, node: Any, value: str, overwrite: bool = False) -> None:
        m = re.match(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", value)
        parts = [m.group(1), str(int(m.group(2))) if m and m.group(2) else "", str(int(m.group(3))) if m and m.group(3) else ""] if m else ["", "", ""]
        for box, text in zip(node.locator(":scope > .parts input").all(), parts, strict=False):
            if text and (overwrite or not box.input_value()):
                self.type(box, text)

    def address(self, node: Any, f: dict[str, Any], d: FieldBase | None, value: dict[str, Any]) -> None:
        code = str(value.get("postal_code") or DEFAULTS["address"]["postal_code"])
        own = node.locator("input[name$='.postal_code']")
        lookup = node.locator("button[id$='-postal-lookup']")
        if not own.count():  # the postal code is a field of its own, linked to this address
            scope = self.values.scope_of(f["id"], self.scope)
            for g in self.page.evaluate(SCAN_JS):
                gd = self.values.field(self.values.scope_of(g["id"], self.scope), g["path"])
                if gd is not None and getattr(gd, "address_field", None) == (d.id if d else None) \
                        and self.values.scope_of(g["id"], self.scope) == scope:
                    own = self.page.locator(f"#{g['id']}")
                    lookup = self.page.locator(f"#{g['id']}-postal-lookup")
                    self.tries[g["path"]] = 1
                    break
        if own.count() and not own.input_value():
            self.type(own, code)
        if lookup.count() and node.locator("input[name$='.prefecture']").input_value() == "":
            lookup.first.click()
            self.c.taps += 1
            self.settle_lookup(f["id"])
        node = self.page.locator(f"#{f['id']}").locator("xpath=ancestor-or-self::*[@data-path][1]")
        for key in ("prefecture", "city", "town", "block"):
            box = node.locator(f"input[name$='.{key}']")
            if box.count() and not box.input_value():
                self.type(box, str(value.get(key) or {"block": "1-1"}.get(key, "テスト")))

    def settle_lookup(self, dom_id: str) -> None:
        end = time.monotonic() + 5
        while time.monotonic() < end:
            cand = self.page.locator("main button[id*='-cand-']")
            if cand.count():
                cand.first.click()
                self.c.taps += 1
                return
            node = self.page.locator(f"#{dom_id}").locator("xpath=ancestor-or-self::*[@data-path][1]")
            if node.locator("input[name$='.prefecture']").count() and node.locator("input[name$='.prefecture']").input_value():
                return
            self.page.wait_for_timeout(50)
        self.c.notes.append("postal lookup found nothing")

    def attach(self, node: Any, d: FieldBase | None) -> None:
        accept = list(getattr(d, "accept", ["image/png"]))
        png = "image/png" in accept or not any("pdf" in a for a in accept)
        payload = {"name": "doc.png", "mimeType": "image/png", "buffer": PNG_1PX} if png else \
            {"name": "doc.pdf", "mimeType": "application/pdf", "buffer": PDF_MIN}
        node.locator("input[type=file]").set_input_files(payload)
        self.c.taps += 1
        if getattr(d, "capture", False):
            self.c.photos += 1
            self.c.taps += 1  # confirm the shot
        else:
            self.c.files += 1
        self.page.wait_for_timeout(100)

    def group(self, node: Any, f: dict[str, Any], d: FieldBase | None) -> None:
        """Household members offered to tick: tick each (one tap, the moving household); otherwise add the
        minimum number of items, whose fields the next scans fill."""
        picks = [c for c in node.locator("input[type=checkbox]").all()
                 if c.locator("xpath=ancestor::*[contains(@class,'group-item')]").count() == 0]
        if picks:
            for c in picks:
                if not c.is_checked():
                    c.check()
                    self.c.taps += 1
                    self.c.answered += 1
            return
        need = max(getattr(d, "min", None) or 1, 1) - f["items"]
        add = node.locator(":scope > button")
        for _ in range(max(need, 1 if f["items"] == 0 else 0)):
            if add.count() and add.is_visible():
                add.click()
                self.c.taps += 1
