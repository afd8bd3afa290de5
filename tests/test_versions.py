"""The one version order (procedure_definitions/versions.py): Semantic Versioning 2.0.0, total, shared with
pwa/js/versions.js through tests/conformance/versions.json, and used by the library, catalog and build."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from madoguchi.build import build_pwa
from procedure_definitions.library import Library
from procedure_definitions.loader import load_file
from procedure_definitions.model import Procedure
from procedure_definitions.versions import (
    InvalidVersion,
    compare,
    is_valid,
    latest,
    sort_versions,
    version_key,
)
from server.catalog import Catalog

DATA = json.loads((Path(__file__).parent / "conformance" / "versions.json").read_text(encoding="utf-8"))
ORDERED: list[str] = DATA["ordered"]


def test_conformance_order_pairwise() -> None:
    for i, a in enumerate(ORDERED):
        assert is_valid(a), a
        for j, b in enumerate(ORDERED):
            assert compare(a, b) == (i > j) - (i < j), (a, b)


def test_sorting_any_shuffle_gives_the_conformance_order() -> None:
    rng = random.Random(11)
    for _ in range(20):
        shuffled = ORDERED[:]
        rng.shuffle(shuffled)
        assert sort_versions(shuffled) == ORDERED
        assert latest(shuffled) == ORDERED[-1]


@pytest.mark.parametrize("bad", DATA["invalid"])
def test_invalid_versions_are_refused(bad: str) -> None:
    assert not is_valid(bad)
    with pytest.raises(InvalidVersion):
        version_key(bad)


_num = st.one_of(st.integers(0, 3), st.integers(0, 2**70)).map(str)
_alnum = st.from_regex(r"\A[0-9A-Za-z-]*[A-Za-z-][0-9A-Za-z-]*\Z", fullmatch=True).filter(lambda s: len(s) < 8)
_ident = st.one_of(_num, _alnum)
semver = st.builds(
    lambda core, pre, build: ".".join(core) + (f"-{'.'.join(pre)}" if pre else "") + (f"+{'.'.join(build)}" if build else ""),
    st.lists(_num, min_size=3, max_size=3),
    st.lists(_ident, max_size=3),
    st.lists(st.from_regex(r"\A[0-9A-Za-z-]{1,5}\Z", fullmatch=True), max_size=2),
)


@given(semver, semver, semver)
def test_any_valid_versions_compare_in_a_total_order(a: str, b: str, c: str) -> None:
    assert is_valid(a) and is_valid(b) and is_valid(c)
    assert compare(a, a) == 0
    assert compare(a, b) == -compare(b, a)
    assert (compare(a, b) == 0) == (a == b)  # total: only equal strings tie
    if compare(a, b) <= 0 and compare(b, c) <= 0:
        assert compare(a, c) <= 0


@given(semver)
def test_a_pre_release_sorts_before_its_release(v: str) -> None:
    core = v.split("+", 1)[0].split("-", 1)[0]
    if "-" in v.split("+", 1)[0]:
        assert compare(v, core) < 0
    assert compare(core, core + "+b") < 0  # build metadata only breaks the tie


def _proc(version: str) -> Procedure:
    return msgspec.convert({"kind": "procedure", "id": "p", "version": version, "title": {"ja": "見本"},
                            "department": {"id": "d", "name": {"ja": "市民課"}},
                            "sections": [{"id": "s", "title": {"ja": "t"},
                                          "fields": [{"id": "a", "type": "text", "label": {"ja": "A"}}]}]},
                           Procedure)


VERSIONS = ["1.0.0", "1.0.0-rc.1", "1.10.0", "1.9.0", "1.10.0-beta.2"]


def _library() -> Library:
    return Library(procedures={"p": {v: _proc(v) for v in VERSIONS}}, life_events={}, results=[], problems=[])


def test_library_catalog_and_build_agree_on_the_latest() -> None:
    lib = _library()
    latest_proc = lib.latest("p")
    assert latest_proc is not None and latest_proc.version == "1.10.0"

    class _NoDb:
        pass

    assert [p.version for p in Catalog(lib, _NoDb()).current()] == ["1.10.0"]
    index: dict[str, Any] = json.loads(next(v for k, v in build_pwa(lib).files.items()
                                             if k.startswith("data/index.") and k.endswith(".json")))
    assert index["procedures"]["p"]["latest"] == "1.10.0"


def test_the_loader_takes_the_same_rule(tmp_path: Path) -> None:
    def problems_for(version: str) -> list[str]:
        f = tmp_path / "p.yaml"
        f.write_text(f"kind: procedure\nid: p\nversion: '{version}'\ntitle: 見本\n"
                     "department: {id: d, name: 市民課}\nsections:\n- id: s\n  title: t\n"
                     "  fields:\n  - {id: a, type: text, label: A}\n", encoding="utf-8")
        return [p.code for p in load_file(f).problems]

    assert "PD107" not in problems_for("1.0.0-rc.1")
    assert "PD107" in problems_for("1.0.0-01")  # a leading zero: not semver
    assert "PD107" in problems_for("1.0.0+build")  # no precedence: could not say which is the latest
