"""A draft's text checked in the context of the live library (server/definitions/checking.py): the version
rule of published definitions (PD247 frozen, PD248 not newer) and a life event's links to live procedures."""

from __future__ import annotations

import yaml

from procedure_definitions.library import DEFAULT_LIBRARY, load_library
from server.definitions.checking import check_source, is_notebook, next_patch
from server.definitions.live import LiveLibrary

LIB = load_library()


def _published() -> dict[tuple[str, str], bool]:
    """What the server has published: the shipped library, none retired."""
    return {(pid, v): False for table in (LIB.procedures, LIB.life_events) for pid, vs in table.items() for v in vs}


def _live() -> LiveLibrary:
    return LiveLibrary(procedures={k: dict(v) for k, v in LIB.procedures.items()},
                       life_events={k: dict(v) for k, v in LIB.life_events.items()})


def _text(pid: str) -> tuple[str, dict]:  # type: ignore[type-arg]
    path = next(p for p in DEFAULT_LIBRARY.rglob("*.yaml") if yaml.safe_load(p.read_text())["id"] == pid)
    text = path.read_text(encoding="utf-8")
    return text, yaml.safe_load(text)


def test_a_published_version_is_frozen_pd247() -> None:
    text, d = _text("juminhyo-copy")
    out = check_source("j.yaml", text, live=_live(), published=_published())
    pd247 = [p for p in out.problems if p.code == "PD247"]
    # still loaded (it can be previewed and tried), never publishable
    assert len(pd247) == 1 and not out.ok and out.definition is not None
    assert pd247[0].line == next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("version:"))
    assert next_patch(d["version"]) in pd247[0].message


def test_a_draft_must_be_newer_than_live_pd248() -> None:
    _, d = _text("juminhyo-copy")
    older = yaml.safe_dump({**d, "version": "0.0.9"}, allow_unicode=True, sort_keys=False)
    out = check_source("j.yaml", older, live=_live(), published=_published())
    assert [p.code for p in out.problems if p.severity == "error"] == ["PD248"]
    newer = yaml.safe_dump({**d, "version": "99.0.0"}, allow_unicode=True, sort_keys=False)
    ok = check_source("j.yaml", newer, live=_live(), published=_published())
    assert ok.ok and ok.definition is not None and ok.estimate_seconds
    # a version scheduled (stored, not yet live) counts as offered: a draft must be newer than it too
    scheduled = {**_published(), ("juminhyo-copy", "99.0.0"): False}
    between = yaml.safe_dump({**d, "version": "50.0.0"}, allow_unicode=True, sort_keys=False)
    out = check_source("j.yaml", between, live=_live(), published=scheduled)
    assert [p.code for p in out.problems if p.severity == "error"] == ["PD248"] and "99.0.0" in out.problems[0].message
    # a retired version no longer stands in the way (but is still frozen)
    retired = {**scheduled, ("juminhyo-copy", "99.0.0"): True, ("juminhyo-copy", d["version"]): True}
    assert check_source("j.yaml", between, live=_live(), published=retired).ok


def test_a_life_event_draft_needs_live_procedures() -> None:
    eid = next(iter(LIB.life_events))
    _, d = _text(eid)
    bumped = yaml.safe_dump({**d, "version": "99.0.0"}, allow_unicode=True, sort_keys=False)
    assert check_source("e.yaml", bumped, live=_live(), published={}).ok
    alone = check_source("e.yaml", bumped, live=LiveLibrary(), published={})
    assert not alone.ok and any(p.code == "PD210" for p in alone.problems)


def test_unreadable_text_still_names_what_it_can() -> None:
    out = check_source("x.yaml", "kind: procedure\nid: abc\nversion: 1.0.0\nsections: [\n", live=_live(),
                       published={})
    assert not out.ok and out.problems[0].code == "PD001"
    assert is_notebook("a.ipynb", "") and not is_notebook("a.yaml", '{"cells": []}')
    assert is_notebook("draft", '{"cells": [], "nbformat": 4}')
