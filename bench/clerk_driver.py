"""The scripted clerk's hands: the staff console driven by keyboard only, every key counted.

No mouse: a control is reached by pressing Tab (Shift+Tab when it lies behind the focus) until it has the
focus, a radio group is answered with the arrow keys (Space when its first option is the answer and none is
chosen yet), a checkbox with Space, a select with the arrow keys, a button or link with Enter, text is typed.
:class:`Keys` holds what was pressed; characters typed are classified by :class:`bench.resident_driver.Counts`
(kana, kanji runs, digits, letters), the same rule the scripted resident uses. Nothing here knows a procedure:
the values come from :class:`bench.resident_driver.Values` (the procedures' first valid scenarios).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from bench.resident_driver import Counts, Values

__all__ = ["Entry", "Keyboard", "Keys"]

# Marks the control to reach; the focus test accepts any radio of a group (Tab enters a group on one radio).
_MARK_JS = """(el) => { document.querySelectorAll('[data-clerk-target]').forEach((x) => x.removeAttribute('data-clerk-target'));
  el.setAttribute('data-clerk-target', '1'); }"""
_WHERE_JS = """() => {
  const t = document.querySelector('[data-clerk-target]'), a = document.activeElement;
  if (!t) return 'gone';
  if (a === t || (t.type === 'radio' && a && a.type === 'radio' && a.name === t.name && a.form === t.form)) return 'here';
  if (!a || a === document.body) return 'after';
  return (a.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_PRECEDING) ? 'before' : 'after';
}"""
MAX_TABS = 600  # a control farther than this is not reachable by keyboard: the run fails and says so


@dataclass
class Keys:
    """Keys pressed by kind, and the characters typed (classified by ``typing``)."""

    tab: int = 0  # Tab and Shift+Tab
    enter: int = 0
    space: int = 0
    arrow: int = 0
    back: int = 0  # Alt+← to the previous page
    ctrl: int = 0  # the Ctrl of a shortcut (Ctrl+Enter: one ctrl and one enter)
    typing: Counts = field(default_factory=Counts)

    @property
    def presses(self) -> int:
        """Every key press except the characters of typed text (those are priced by kind)."""
        return self.tab + self.enter + self.space + self.arrow + self.back + self.ctrl


@dataclass
class Entry:
    """One field the clerk entered: its form name, the value and how (typed, chosen, ticked)."""

    name: str
    value: str
    how: str
    field: str = ""  # the form field it belongs to (a name's or an address's part belongs to the whole)

    def __post_init__(self) -> None:
        self.field = self.field or self.name


class Keyboard:
    """One clerk at one browser page; every method presses real keys and counts them."""

    def __init__(self, page: Any, keys: Keys) -> None:
        self.page, self.k = page, keys
        self.entries: list[Entry] = []

    def reach(self, locator: Any) -> None:
        """Tab (or Shift+Tab) until ``locator`` (or, for a radio, its group) has the focus."""
        locator.evaluate(_MARK_JS)
        for n in range(MAX_TABS):
            where = self.page.evaluate(_WHERE_JS)
            if where == "here":
                if os.environ.get("MADOGUCHI_BENCH_DEBUG"):
                    print(f"  {n} Tab to {locator.evaluate('(e) => e.name || e.textContent.trim()')}", flush=True)
                return
            if where == "gone":
                raise RuntimeError("the control to reach left the page")
            self.page.keyboard.press("Shift+Tab" if where == "before" else "Tab")
            self.k.tab += 1
        raise RuntimeError(f"not reachable by Tab within {MAX_TABS} presses")

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        if key == "Control+Enter":
            self.k.ctrl += 1
            self.k.enter += 1
        elif key == "Enter":
            self.k.enter += 1
        elif key == "Space":
            self.k.space += 1
        elif key.startswith("Arrow"):
            self.k.arrow += 1
        else:
            raise ValueError(key)

    def activate(self, locator: Any) -> None:
        """A button or link: reach it, Enter."""
        self.reach(locator)
        self.press("Enter")

    def type_into(self, locator: Any, text: str, name: str, of: str = "") -> None:
        """Reach a text box and type ``text`` (a date box: its digits, segment by segment as Chromium takes them)."""
        self.reach(locator)
        kind = locator.evaluate("(e) => e.type")
        if kind == "date":
            # Chromium's date box orders its segments by the OS locale, not the page's (here 月/日/年; on a
            # Japanese desktop 年/月/日): the same 8 digits either way, each segment moving on when full.
            y, m, d = text.split("-")
            self.page.keyboard.type(m + d + y)
            self.k.typing.typed(y + m + d)
            if locator.input_value() != text:
                raise RuntimeError(f"{name}: the date box holds {locator.input_value()!r} after typing {text}")
        else:
            self.page.keyboard.type(text)
            self.k.typing.typed(text)
        self.entries.append(Entry(name, text, "typed", of))

    def choose_radio(self, group: Any, value: str, name: str) -> None:
        """Reach the radio group and move to ``value`` with the arrow keys (Space when it is the first and
        nothing is chosen: arrows would move past it)."""
        radios = group.locator("input[type=radio]")
        values = [radios.nth(i).get_attribute("value") for i in range(radios.count())]
        if value not in values:
            raise RuntimeError(f"{name}: no option {value!r}")
        self.reach(radios.first)
        cur = self.page.evaluate("() => document.activeElement.value")
        checked = self.page.evaluate("() => document.activeElement.checked")
        want, at = values.index(value), values.index(cur)
        if want == at and not checked:
            self.press("Space")
        while at != want:
            self.press("ArrowDown" if want > at else "ArrowUp")
            at += 1 if want > at else -1
        self.entries.append(Entry(name, value, "chosen"))

    def tick(self, box: Any, name: str) -> None:
        self.reach(box)
        self.press("Space")
        self.entries.append(Entry(name, str(box.get_attribute("value")), "ticked"))

    def select(self, sel: Any, value: str, name: str) -> None:
        """A native select: reach it, arrow down to the option (a closed select changes with the arrows)."""
        self.reach(sel)
        opts = sel.evaluate("(s) => [...s.options].map((o) => [o.value, o.disabled])")
        enabled = [v for v, off in opts if not off]
        cur = sel.evaluate("(s) => s.value")
        at, want = enabled.index(cur) if cur in enabled else -1, enabled.index(value)
        while at != want:
            self.press("ArrowDown" if want > at else "ArrowUp")
            at += 1 if want > at else -1
        if sel.evaluate("(s) => s.value") != value:
            raise RuntimeError(f"{name}: the arrows did not reach {value!r}")
        self.entries.append(Entry(name, value, "chosen"))


def scope_path(name: str) -> tuple[str, str]:
    """A console form name to the scripted resident's (scope, path): ``s.x`` is the life event's shared
    field ``x``, ``proc.a.b`` the field ``a.b`` of procedure ``proc``."""
    head, _, rest = name.partition(".")
    return ("shared" if head == "s" else head), rest


def answer_for(values: Values, name: str) -> Any:
    """The value a field should get: the scenario's answer, else a typical one of its type."""
    scope, path = scope_path(name)
    v = values.value(scope, path)
    if v is None:
        v = values.default(values.field(scope, path))
    return v


def plain(value: Any) -> str:
    return re.sub(r"[\s\-‐－ー・/]", "", str(value))
