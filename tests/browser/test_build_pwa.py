"""madoguchi build: the pure build function, hashed assets, service worker precache, incremental rebuild."""

from __future__ import annotations

import json
import re
import struct
import zlib

import pytest

from madoguchi.build import _strip_css, build_pwa, png_icon


@pytest.fixture(scope="module")
def library():  # type: ignore[no-untyped-def]
    from procedure_definitions.library import load_library

    return load_library()


@pytest.fixture(scope="module")
def result(library):  # type: ignore[no-untyped-def]
    pytest.importorskip("procedure_definitions.compile")
    return build_pwa(library)


def test_icon_is_a_valid_png() -> None:
    data = png_icon(192)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    w, h = struct.unpack(">II", data[16:24])
    assert (w, h) == (192, 192)
    idat = data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8]
    assert len(zlib.decompress(idat)) == 192 * (192 * 3 + 1)


def test_stylesheet_loses_whole_line_comments_and_indentation_only(result) -> None:  # type: ignore[no-untyped-def]
    src = "/* header */\n.a {\n  color: red; /* why */\n}\n\n/*\n  long\n*/\n/*! licence */\n/* x */ .b { top: 0; }\n"
    assert _strip_css(src) == ".a {\ncolor: red; /* why */\n}\n/*! licence */\n/* x */ .b { top: 0; }\n"
    # An unclosed comment is kept as written (the browser decides), never a rule lost.
    assert _strip_css(".a {}\n/* open\n.b {}\n") == ".a {}\n/* open\n.b {}\n"
    from madoguchi.build import PWA_SOURCE

    css = result.files[result.assets["css/app.css"]].decode("utf-8")
    assert "/*" not in css and css.count("{") == (PWA_SOURCE / "css/app.css").read_text("utf-8").count("{")


def test_shell_files_and_manifest(result) -> None:  # type: ignore[no-untyped-def]
    files = result.files
    for name in ("index.html", "sw.js", "manifest.webmanifest"):
        assert name in files
    manifest = json.loads(files["manifest.webmanifest"])
    sizes = {i["sizes"] for i in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    assert any(i["purpose"] == "maskable" for i in manifest["icons"])
    for icon in manifest["icons"]:
        assert icon["src"].lstrip("/") in files
    html = files["index.html"].decode()
    assert "{{" not in html and "<script>" not in html and "style=" not in html
    for ref in re.findall(r'(?:href|src|data-index)="(/[^"]+)"', html):
        assert ref.lstrip("/") in files, ref


def test_js_imports_point_at_hashed_files(result) -> None:  # type: ignore[no-untyped-def]
    js = {k: v.decode() for k, v in result.files.items() if k.startswith("assets/") and k.endswith(".js")}
    assert any(k.startswith("assets/app.") for k in js)
    for name, text in js.items():
        for spec in re.findall(r"""from\s*["'](\./[^"']+)["']""", text):
            assert "assets/" + spec[2:] in result.files, (name, spec)
            assert re.search(r"\.[0-9a-f]{10}\.js$", spec), spec


def test_every_procedure_version_and_precache(result, library) -> None:  # type: ignore[no-untyped-def]
    ids = {(p["id"], p["version"]) for p in result.procedures}
    for pid, versions in library.procedures.items():
        for v in versions:
            assert (pid, v) in ids
    for p in result.procedures:
        assert re.fullmatch(
            rf"procedures/{re.escape(p['id'])}/{re.escape(p['version'])}\.[0-9a-f]{{10}}\.json", p["path"]
        )
        assert "/" + p["path"] in result.precache
        compiled = json.loads(result.files[p["path"]])
        assert compiled["id"] == p["id"]
    sw = result.files["sw.js"].decode()
    assert f'const BUILD = "{result.version}"' in sw
    assert not re.search(r"^// @include", sw, re.M) and not re.search(r"^export ", sw, re.M)
    # The IndexedDB and sync modules reach the worker as one hashed classic script it imports (not precached:
    # the browser keeps a worker's imports with the worker).
    (include,) = re.findall(r'^importScripts\("/(assets/sw-include\.[0-9a-f]{10}\.js)"\);$', sw, re.M)
    shared = result.files[include].decode()
    assert "async function syncNow(" in shared and "const store = " in shared
    # sync.js imports syncstate.js, included before it: the import line is dropped, its functions are there.
    assert "function same(" in shared and shared.index("function same(") < shared.index("async function syncNow(")
    assert not re.search(r"^(export|import) ", shared, re.M)
    assert "/" + include not in result.precache
    assert not any(u.startswith("/postal/") for u in result.precache)
    assert "/" in result.precache and "/sw.js" not in result.precache


def test_build_is_pure_and_deterministic(result, library) -> None:  # type: ignore[no-untyped-def]
    again = build_pwa(library, previous=result)
    assert again.files == result.files
    assert again.version == result.version
    assert not again.stats["compiled"]


def test_incremental_rebuild_recompiles_only_the_changed_procedure(result, library) -> None:  # type: ignore[no-untyped-def]
    import msgspec

    from procedure_definitions.library import Library

    pid = "juminhyo-copy"
    ver = next(iter(library.procedures[pid]))
    changed = msgspec.structs.replace(
        library.procedures[pid][ver], keywords=[*library.procedures[pid][ver].keywords, "追加"]
    )
    procs = {k: dict(v) for k, v in library.procedures.items()}
    procs[pid][ver] = changed
    lib2 = Library(procedures=procs, life_events=library.life_events)
    new = build_pwa(lib2, previous=result)
    assert new.stats["compiled"] == [f"procedures/{pid}/{ver}"]
    assert new.version != result.version
    changed_files = {k for k in set(new.files) | set(result.files) if new.files.get(k) != result.files.get(k)}
    assert all(
        k.startswith(("procedures/juminhyo-copy/", "data/index.", "data/catalog.", "index.html", "sw.js"))
        for k in changed_files
    ), changed_files


def test_the_sync_engine_is_not_in_the_shell(result) -> None:  # type: ignore[no-untyped-def]
    """Opening a page does not wait for the sync engine: app.js reaches sync.js only through import()."""
    from bench.bench_pwa import module_closure

    shell = module_closure(result.files, [result.assets["js/app.js"]])
    assert result.assets["js/syncstate.js"] in shell
    assert result.assets["js/sync.js"] not in shell
    shell_js = result.files[result.assets["js/shell.js"]].decode()
    assert f"import('./{result.assets['js/sync.js'].rsplit('/', 1)[-1]}')" in shell_js


def test_worker_include_refuses_an_import_of_what_is_not_included(library) -> None:  # type: ignore[no-untyped-def]
    from madoguchi.build import PWA_SOURCE, _read_sources, _sw_include

    sources = _read_sources(PWA_SOURCE)
    with pytest.raises(ValueError, match="not included before it"):
        _sw_include("// @include js/db.js\n// @include js/sync.js\n", sources)
    data, path = _sw_include("// @include js/syncstate.js\n// @include js/sync.js\n", sources)
    assert path and b"import " not in data and b"function syncNow(" in data


def test_estimates_before_starting(result, library) -> None:  # type: ignore[no-untyped-def]
    """Each compiled procedure and its catalog entry carry the time model's estimate; a life event one per
    set of procedures some answers include together (ids in the event's order)."""
    from procedure_definitions.timing import estimate
    from procedure_definitions.timing_events import estimate_life_event

    catalog = json.loads(next(v for k, v in result.files.items() if k.startswith("data/catalog.")))
    for p in result.procedures:
        proc = library.procedures[p["id"]][p["version"]]
        assert json.loads(result.files[p["path"]])["estimate_seconds"] == round(estimate(proc).seconds)
    assert catalog["procedures"]["tennyu"]["estimate_seconds"] == round(estimate(library.latest("tennyu")).seconds)
    path = next(e["path"] for e in result.life_events if e["id"] == "moving-in")
    table = json.loads(result.files[path])["estimate_seconds"]
    ev = library.life_events["moving-in"][json.loads(result.files[path])["version"]]
    procs = {p.procedure: library.latest(p.procedure) for p in ev.procedures}
    only = estimate_life_event(ev, procs, {})  # every answer no: 転入届 alone
    assert only.procedures == ["tennyu"] and table["tennyu"] == round(only.estimate.seconds)
    both = estimate_life_event(ev, procs, {"needs_certificate": True})
    assert table["tennyu,juminhyo-copy"] == round(both.estimate.seconds)
    assert all(k.startswith("tennyu") for k in table) and len(table) > 2


def test_a_scheduled_close_is_in_the_procedure_file_and_the_catalog(result, library) -> None:  # type: ignore[no-untyped-def]
    """A live library's schedule (server.definitions.live) reaches what the app reads; a changed schedule
    recompiles that version's file only (the schedule is part of its reuse hash)."""
    from server.definitions.live import LiveLibrary, Schedule

    pid = "juminhyo-copy"
    ver = max(library.procedures[pid])  # any version: the schedule is per (id, version)
    message = {"ja": "窓口で受け付けます。", "en": "Apply at the counter.", "ja-easy": "まどぐちで うけつけます。"}

    def live(schedules: dict[tuple[str, str], Schedule]) -> LiveLibrary:
        return LiveLibrary(procedures=library.procedures, life_events=library.life_events, schedules=schedules)

    def compiled(build, def_id: str, version: str):  # type: ignore[no-untyped-def]
        path = next(p["path"] for p in build.procedures if p["id"] == def_id and p["version"] == version)
        return json.loads(build.files[path])

    def catalog(build):  # type: ignore[no-untyped-def]
        return json.loads(next(v for k, v in build.files.items() if k.startswith("data/catalog.")))

    # Given as JST: stored and shipped as UTC.
    first = build_pwa(live({(pid, ver): Schedule(closes_at="2027-03-31T17:00:00+09:00", close_message=message)}),
                      previous=result)
    assert first.stats["compiled"] == [f"procedures/{pid}/{ver}"]
    data = compiled(first, pid, ver)
    assert data["closes_at"] == "2027-03-31T08:00:00Z" and data["close_message"] == message
    assert data["id"] == pid and data["estimate_seconds"] == compiled(result, pid, ver)["estimate_seconds"]
    if ver == library.latest(pid).version:
        assert catalog(first)["procedures"][pid]["closes_at"] == "2027-03-31T08:00:00Z"
        assert catalog(first)["procedures"][pid]["close_message"] == message
    assert "closes_at" not in compiled(result, pid, ver) and "closes_at" not in catalog(result)["procedures"][pid]
    others = [p for p in catalog(first)["procedures"].values() if "closes_at" in p]
    assert len(others) == (1 if ver == library.latest(pid).version else 0)

    # Same schedule again: nothing recompiles. Another close date: that file only, with the new date.
    assert not build_pwa(live({(pid, ver): Schedule(closes_at="2027-03-31T08:00:00Z", close_message=message)}),
                         previous=first).stats["compiled"]
    moved = build_pwa(live({(pid, ver): Schedule(closes_at="2027-04-30T08:00:00Z", close_message=message)}),
                      previous=first)
    assert moved.stats["compiled"] == [f"procedures/{pid}/{ver}"]
    assert compiled(moved, pid, ver)["closes_at"] == "2027-04-30T08:00:00Z"
    # The schedule removed: the file is the unscheduled one again.
    back = build_pwa(live({}), previous=moved)
    assert back.stats["compiled"] == [f"procedures/{pid}/{ver}"]
    assert compiled(back, pid, ver) == compiled(result, pid, ver)
