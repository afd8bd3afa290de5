"""The interview's （必須） markers say what filing refuses, for every shipped life event (the counter's twin of
the resident-side test that runs every shipped scenario): the questions answered all はい, then all いいえ, the
clerk finishes with every field emptied; every field the error summary lists was marked （必須）, and no field
shown marked （必須） (all are empty) was left unrefused. Real server, shipped library, real SQLite file."""

from __future__ import annotations

import re
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

import httpx
import pytest

from tests.server.conftest import start_real_library
from testsupport.servers import AppServer

_VOID = {"input", "br", "meta", "link", "img", "hr", "source", "wbr"}


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str | None]
    parent: _Node | None = None
    children: list[_Node] = field(default_factory=list)

    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    def is_field(self) -> bool:
        return "field" in self.classes() and "data-field" in self.attrs

    def own(self) -> Iterator[_Node]:
        """The descendants that belong to this field (not to a field nested in it: a person's, a row's)."""
        for c in self.children:
            if not c.is_field():
                yield c
                yield from c.own()

    def shown(self) -> bool:
        node: _Node | None = self
        while node is not None:
            if "hidden" in node.attrs:
                return False
            node = node.parent
        return True


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = _Node("root", {})
        self.at = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = _Node(tag, dict(attrs), self.at)
        self.at.children.append(node)
        if tag not in _VOID:
            self.at = node

    def handle_endtag(self, tag: str) -> None:
        node: _Node | None = self.at
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.at = node.parent


def _all(node: _Node) -> Iterator[_Node]:
    for c in node.children:
        yield c
        yield from _all(c)


def _marked(page: str) -> dict[str, bool]:
    """dom id → marked （必須） now, of every field shown (a procedure not included is hidden with its fields)
    and empty: a group holding rows typed by hand (証人: its ``min``, empty rows to fill) is not empty, each
    field of its rows is."""
    tree = _Tree()
    tree.feed(page)
    out = {}
    for node in _all(tree.root):
        if not node.is_field() or not node.shown():
            continue
        own = list(node.own())
        dom = next((str(n.attrs["id"]) for n in own if n.tag in ("fieldset", "input", "select", "textarea", "p")
                    and str(n.attrs.get("id") or "").startswith("i-") and not str(n.attrs["id"]).endswith(
                        ("-pre", "-err"))), None)
        if dom is None or any(n.attrs.get("name") == f"{node.attrs['data-field']}._row" for n in _all(node)):
            continue
        out[dom] = any(n.tag == "span" and "req" in n.classes() and "hidden" not in n.attrs for n in own)
    return out


def _refused(page: str) -> set[str]:
    summary = page.split('class="error-summary"', 1)[1].split("</section>", 1)[0] if "error-summary" in page else ""
    return set(re.findall(r'href="#([^"]+)"', summary))


class _Empty(HTMLParser):
    """The page's form posted with every field emptied: the answers to the questions (``q.``) and the screen's
    markers kept, every other text blank and every box unticked."""

    def __init__(self) -> None:
        super().__init__()
        self.data: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        name, kind = a.get("name"), a.get("type")
        if tag == "textarea" and name:
            self.data.append((name, ""))
        if tag == "select" and name:
            self.data.append((name, ""))
        if tag != "input" or not name or kind == "submit":
            return
        if name.startswith("q."):
            if "checked" in a:
                self.data.append((name, a.get("value") or ""))
        elif kind == "hidden":
            self.data.append((name, a.get("value") or ""))
        elif kind not in ("radio", "checkbox"):
            self.data.append((name, ""))


def _post(c: httpx.Client, url: str, data: list[tuple[str, str]]) -> httpx.Response:
    return c.post(url, content=urllib.parse.urlencode(data), follow_redirects=False,
                  headers={"Content-Type": "application/x-www-form-urlencoded"})


# Each test opens visits of the demo residents afresh (one open visit per resident: tests/server/conftest.py).
pytestmark = pytest.mark.usefixtures("no_open_visits")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_real_library(tmp_path_factory.mktemp("markers"), residents=True)
    yield s
    s.stop()


def _events() -> list[str]:
    from procedure_definitions.library import load_library

    return sorted(load_library().life_events)


@pytest.mark.parametrize("answer", ["yes", "no"])
@pytest.mark.parametrize("event", _events())
def test_markers_match_what_filing_refuses(srv: AppServer, event: str, answer: str) -> None:
    c = srv.login("counter")
    r = c.post("/api/visits", json={"id": str(uuid.uuid4()), "resident_id": "R0002", "booth": "2番"})
    assert r.status_code == 201, r.text
    vid = r.json()["id"]
    r = c.post(f"/console/visits/{vid}/interviews", data={"life_event": event, "id": str(uuid.uuid4())},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    url = str(r.headers["location"])
    page = c.get(url).text
    questions = sorted(set(re.findall(r'name="(q\.[\w-]+)"', page)))
    p = _Empty()
    p.feed(page)
    data = [(k, v) for k, v in p.data if not k.startswith("q.")] + [(q, answer) for q in questions]
    assert _post(c, url, [*data, ("op", "update")]).status_code == 303
    page = c.get(url).text  # the questions answered: the derived list and the fields to ask follow
    p = _Empty()
    p.feed(page)
    r = _post(c, url, [*p.data, ("op", "finish")])
    assert r.status_code == 422, r.text[:1000]
    refused, marked = _refused(r.text), _marked(r.text)
    assert refused, r.text[:1000]
    assert not refused - set(marked), sorted(refused - set(marked))  # each refusal points to a field shown
    unmarked = sorted(d for d in refused if not marked[d])
    assert not unmarked, f"refused without （必須）: {unmarked}"
    spurious = sorted(d for d, m in marked.items() if m and d not in refused)
    assert not spurious, f"（必須） but filing did not refuse it empty: {spurious}"
