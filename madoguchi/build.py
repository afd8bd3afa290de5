"""Compile the procedure library into the static, offline-first PWA bundle.

``build_pwa(library)`` is a pure function: it reads the app sources under ``pwa/`` and the library, and
returns every output file as bytes in a :class:`BuildResult`; nothing is written. ``command`` (the
``madoguchi build`` CLI) writes the result to a folder. ``madoguchi serve`` calls ``build_pwa`` at start and
serves ``BuildResult.files`` at ``/``.

Layout of the bundle::

    index.html                      app shell (not hashed: it is the navigation target)
    sw.js                           service worker (not hashed: its URL must be stable)
    manifest.webmanifest
    assets/<name>.<hash>.js|css|png content-hashed; JS import specifiers rewritten to the hashed names
    data/index.<hash>.json          every version's file (and the latest) per procedure and life event,
                                    the postal folder and the catalog's path: what every page needs
    data/catalog.<hash>.json        titles, descriptions, keywords, departments: only the finder and the
                                    home page load it (a procedure opened from a link does not)
    procedures/<id>/<version>.<hash>.json  compiled procedure, plus ``estimate_seconds`` (the time model's)
                                    and, when scheduled, ``closes_at`` + ``close_message`` (also in the catalog)
    life-events/<id>/<version>.<hash>.json  compiled life event, plus ``estimate_seconds`` per included set
    postal/<datahash>/<prefix>.json postal code shards (cached lazily by the service worker)

Every library version of every procedure is shipped (not only the latest), so a draft started on an old
version keeps working offline after an app update; the service worker precaches all of them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import struct
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from procedure_definitions.versions import latest as latest_version
from procedure_definitions.versions import sort_versions

__all__ = ["PWA_SOURCE", "BuildResult", "build_pwa", "command", "png_icon"]

PWA_SOURCE = Path(__file__).resolve().parent.parent / "pwa"

_HASH_LEN = 10
_IMPORT_RE = re.compile(
    r"""(\bimport\s*(?:[\w*{}\s,$]+\s*from\s*)?|\bexport\s*[\w*{}\s,$]+\s*from\s*|\bimport\s*\()(["'])(\./[\w.\-/]+\.js)\2"""
)
THEME_COLOR = "#0017c1"
BACKGROUND_COLOR = "#ffffff"


@dataclass
class BuildResult:
    """Everything ``madoguchi build`` produces, as bytes by path (no leading slash)."""

    files: dict[str, bytes]
    version: str  # the build version: a hash over every output file
    procedures: list[dict[str, str]]  # [{id, version, path}] every procedure version included
    life_events: list[dict[str, str]]
    assets: dict[str, str]  # source name (e.g. "js/app.js") -> hashed output path
    precache: list[str]  # URLs the service worker caches at install
    # Inputs' hashes, so the next build can reuse outputs whose inputs did not change.
    source_hashes: dict[str, str] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)


def _digest(data: bytes, n: int = _HASH_LEN) -> str:
    return hashlib.sha256(data).hexdigest()[:n]


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode("utf-8")


def _hashed(path: str, data: bytes) -> str:
    stem, dot, ext = path.rpartition(".")
    return f"{stem}.{_digest(data)}.{ext}" if dot else f"{path}.{_digest(data)}"


# ---------------------------------------------------------------------------------------------- icons


def png_icon(size: int, *, maskable: bool = True) -> bytes:
    """A simple app icon drawn in pure Python: a white window (窓) on the theme colour.

    The drawing stays inside the central 80% circle so the icon also works as a maskable icon.
    """
    bg = (0x00, 0x17, 0xC1)
    fg = (0xFF, 0xFF, 0xFF)
    accent = (0xFF, 0xD4, 0x3D)
    half = size / 2
    box = size * (0.28 if maskable else 0.36)  # half side of the window frame
    bar = max(2.0, size * 0.045)
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter: none
        dy = y + 0.5 - half
        for x in range(size):
            dx = x + 0.5 - half
            color = bg
            if abs(dx) <= box and abs(dy) <= box:
                edge = abs(dx) > box - bar or abs(dy) > box - bar
                cross = abs(dx) < bar / 2 or abs(dy) < bar / 2
                color = fg if edge or cross else bg
                # The counter (口) below the window: a yellow sill.
            if box - bar < dy <= box + bar * 1.5 and abs(dx) <= box + bar:
                color = accent if dy > box else color
            rows += bytes(color)
    raw = bytes(rows)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


# ------------------------------------------------------------------------------------------ app shell


def _read_sources(root: Path) -> dict[str, bytes]:
    """Every app source file by its path relative to ``pwa/`` (POSIX separators)."""
    out: dict[str, bytes] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.startswith(".") and "__pycache__" not in p.parts:
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def _resolve(importer: str, spec: str) -> str:
    parts = importer.split("/")[:-1]
    for seg in spec.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            parts.pop()
        else:
            parts.append(seg)
    return "/".join(parts)


def _strip_js(text: str) -> str:
    """A conservative size reduction: drop indentation, blank lines and whole-line comments.

    Line breaks are kept (no change to automatic semicolon insertion) and code lines are never edited
    inside, so it is safe for sources without multi-line template literals (checked).
    """
    out: list[str] = []
    in_block = False
    lines = text.split("\n")
    if any(line.count("`") % 2 for line in lines if not line.lstrip().startswith(("//", "*", "/*"))):
        ticks = [line for line in lines if line.count("`") % 2]
        # A lone backtick inside a regex literal is fine; a multi-line template literal is not.
        if any("`" in line and "/" not in line for line in ticks):
            return text
    for line in lines:
        s = line.strip()
        if in_block:
            if "*/" in s:
                in_block = False
            continue
        if s.startswith("/*") and not s.startswith("/*!"):
            if "*/" not in s:
                in_block = True
            continue
        if not s or s.startswith("//"):
            continue
        out.append(s)
    return "\n".join(out) + "\n"


def _strip_css(text: str) -> str:
    """The stylesheet without indentation, blank lines and whole-line comments (``/*! ... */`` kept), as
    _strip_js does for modules: the CSS is part of the shell's size budget. A line is dropped only when it is
    all comment (or inside a comment that ends a line), so no rule is ever cut."""
    out: list[str] = []
    block: list[str] | None = None  # the lines of an open multi-line comment (kept if it ends mid-line)
    for line in text.split("\n"):
        s = line.strip()
        if block is not None:
            block.append(s)
            if "*/" in s:
                if not s.endswith("*/"):
                    out += block
                block = None
            continue
        if s.startswith("/*") and not s.startswith("/*!"):
            if "*/" not in s:
                block = [s]
                continue
            if s.endswith("*/") and s.index("*/") == len(s) - 2:
                continue
        if s:
            out.append(s)
    return "\n".join(out + [b for b in block or () if b]) + "\n"


def _hash_modules(sources: Mapping[str, bytes]) -> tuple[dict[str, str], dict[str, bytes]]:
    """Content-hash the JS modules, rewriting relative import specifiers to the hashed file names.

    A module's hash covers its rewritten text, so it changes when any module it imports changes
    (the hashes form a Merkle tree over the import graph). Returns (source -> output path, outputs).
    """
    modules = {k: v.decode("utf-8") for k, v in sources.items() if k.startswith("js/") and k.endswith(".js")}
    names: dict[str, str] = {}
    files: dict[str, bytes] = {}
    visiting: set[str] = set()

    def visit(mod: str) -> str:
        if mod in names:
            return names[mod]
        if mod not in modules:
            raise ValueError(f"pwa: import of a missing module {mod!r}")
        if mod in visiting:
            raise ValueError(f"pwa: import cycle through {mod!r}")
        visiting.add(mod)
        text = _strip_js(modules[mod])

        def sub(m: re.Match[str]) -> str:
            target = _resolve(mod, m.group(3))
            out = visit(target)
            rel = out.rsplit("/", 1)[-1]  # every module lands in assets/: same folder
            return f"{m.group(1)}{m.group(2)}./{rel}{m.group(2)}"

        rewritten = _IMPORT_RE.sub(sub, text).encode("utf-8")
        visiting.discard(mod)
        out_path = "assets/" + _hashed(mod.split("/", 1)[1].replace("/", "-"), rewritten)
        names[mod] = out_path
        files[out_path] = rewritten
        return out_path

    for mod in sorted(modules):
        visit(mod)
    return names, files


# ---------------------------------------------------------------------------------------- library data


def _text(t: Any) -> dict[str, str] | None:
    if t is None:
        return None
    d = msgspec.to_builtins(t)
    return d if isinstance(d, dict) else {"ja": str(d)}


def _source_hash(definition: Any) -> str:
    return _digest(msgspec.json.encode(definition), 16)


_MAX_EVENT_QUESTIONS = 10  # answer combinations tried for a life event's estimates (2**10 at most)


def _schedule(library: Any, def_id: str, ver: str) -> dict[str, Any]:
    """A live version's scheduled close (``LiveLibrary.schedules``; a folder library has none), as the app
    reads it: ``closes_at`` (UTC ISO 8601) and ``close_message`` ({ja, en, ja-easy}). Empty: no schedule."""
    sched = (getattr(library, "schedules", None) or {}).get((def_id, ver))
    if sched is None or not (sched.closes_at or sched.close_message):
        return {}
    closes_at = sched.closes_at
    with contextlib.suppress(TypeError, ValueError):  # stored as given; normalised to UTC when it parses
        when = dt.datetime.fromisoformat(closes_at)
        when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)  # the table's times are UTC
        closes_at = when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return {"closes_at": closes_at, "close_message": sched.close_message}


def _estimate_seconds(kind: str, definition: Any, library: Any) -> int | dict[str, int]:
    """The time model's estimate (``madoguchi check``), shown to a resident before they start (「約40秒」).

    A procedure: whole seconds. A life event: whole seconds per set of included procedures (their ids in
    the event's order, joined by ``,``), over every yes/no answer to its questions: the navigator looks up
    the set that applies.
    """
    if kind == "procedure":
        from procedure_definitions.timing import estimate

        return round(estimate(definition).seconds)
    from procedure_definitions.timing_events import estimate_life_event, included_procedures

    procs = {p.procedure: proc for p in definition.procedures if (proc := library.latest(p.procedure)) is not None}
    questions = [q.id for q in definition.questions][:_MAX_EVENT_QUESTIONS]
    out: dict[str, int] = {}
    for bits in range(2 ** len(questions)):
        answers = {q: bool(bits >> k & 1) for k, q in enumerate(questions)}
        key = ",".join(p.procedure for p in included_procedures(definition, answers) if p.procedure in procs)
        if key not in out:  # the first answers that include this set (the fewest yes answers)
            out[key] = round(estimate_life_event(definition, procs, answers).estimate.seconds)
    return dict(sorted(out.items()))


def _compile(kind: str, definition: Any, estimate: int | dict[str, int]) -> dict[str, Any]:
    from procedure_definitions import compile as compiler

    data = (compiler.compile_procedure if kind == "procedure" else compiler.compile_life_event)(definition)
    data["estimate_seconds"] = estimate
    return data


def _versions(table: Mapping[str, Mapping[str, Any]]) -> Iterable[tuple[str, str, Any]]:
    for def_id in sorted(table):
        for ver in sort_versions(table[def_id]):
            yield def_id, ver, table[def_id][ver]


# ------------------------------------------------------------------------------------------ the build


def build_pwa(
    library: Any, *, previous: BuildResult | None = None, source: Path | None = None
) -> BuildResult:
    """Compile ``library`` (a ``procedure_definitions.library.Library``) and the app into a bundle.

    With ``previous``, outputs whose inputs did not change are reused as they are: only a changed
    procedure version is recompiled, and the postal shards are not rebuilt.
    """
    started = time.perf_counter()
    prev_files = previous.files if previous else {}
    prev_hashes = previous.source_hashes if previous else {}
    files: dict[str, bytes] = {}
    source_hashes: dict[str, str] = {}
    stats: dict[str, Any] = {"compiled": [], "reused": []}

    # Library: one JSON per procedure version and per life event version.
    index: dict[str, Any] = {"procedures": {}, "life_events": {}}
    catalog: dict[str, Any] = {"procedures": {}, "life_events": {}}
    included: dict[str, list[dict[str, str]]] = {"procedure": [], "life_event": []}
    # Each version's estimate, computed once: the reuse check hashes it and the catalog shows the latest's.
    estimates: dict[str, int | dict[str, int]] = {}
    schedules: dict[str, dict[str, Any]] = {}
    tables = (
        ("procedure", "procedures", getattr(library, "procedures", {}) or {}),
        ("life_event", "life-events", getattr(library, "life_events", {}) or {}),
    )
    for kind, folder, table in tables:
        for def_id, ver, definition in _versions(table):
            key = f"{folder}/{def_id}/{ver}"
            # The estimate is part of the output: a change of the time model alone recompiles too.
            est = _estimate_seconds(kind, definition, library)
            estimates[key] = est
            # The schedule is part of the output too: a changed close date or message recompiles the file.
            sched = schedules[key] = _schedule(library, def_id, ver)
            src = f"{_source_hash(definition)}:{_digest(_json_bytes(est))}" + (
                f":{_digest(_json_bytes(sched))}" if sched else "")
            source_hashes[key] = src
            prev_path = previous.source_hashes.get(key + "#out") if previous else None
            if prev_hashes.get(key) == src and prev_path and prev_path in prev_files:
                path, data = prev_path, prev_files[prev_path]
                stats["reused"].append(key)
            else:
                data = _json_bytes({**_compile(kind, definition, est), **sched})
                path = f"{folder}/{def_id}/{ver}.{_digest(data)}.json"
                stats["compiled"].append(key)
            source_hashes[key + "#out"] = path
            files[path] = data
            included[kind].append({"id": def_id, "version": ver, "path": path})
            entry = index["procedures" if kind == "procedure" else "life_events"].setdefault(
                def_id, {"versions": {}}
            )
            entry["versions"][ver] = "/" + path
        section = "procedures" if kind == "procedure" else "life_events"
        for def_id, entry in index[section].items():
            latest = latest_version(entry["versions"])
            entry["latest"] = latest
            d = table[def_id][latest]
            info: dict[str, Any] = {}
            catalog[section][def_id] = info
            info["title"] = _text(d.title)
            info["description"] = _text(getattr(d, "description", None))
            info["keywords"] = list(getattr(d, "keywords", []) or [])
            info.update(schedules[f"{folder}/{def_id}/{latest}"])  # the finder marks a closed one 受付終了
            if kind == "procedure":
                info["department"] = _text(d.department.name)
                info["department_id"] = d.department.id
                info["filers"] = list(d.filers)
                info["estimate_seconds"] = estimates[f"{folder}/{def_id}/{latest}"]
                # What every filer brings, for the card's 「手元に用意するもの」 line (page-finder.js).
                info["documents"] = [_text(doc.label) for doc in d.documents if doc.required_if is None]
            else:
                info["procedures"] = [p.procedure for p in d.procedures]

    # Postal shards: they depend only on the postal data, so an incremental build reuses them.
    postal_prev = {k: v for k, v in prev_files.items() if k.startswith("postal/")}
    if postal_prev:
        postal_files = postal_prev
        postal_dir = next(iter(postal_prev)).split("/")[1]
    else:
        postal_files, postal_dir = _postal_files()
    if postal_dir:
        # The service worker warms the postal cache in the background from this list (after install).
        prefixes = sorted(k.rsplit("/", 1)[1][:-5] for k in postal_files if not k.endswith("/prefixes.json"))
        postal_files = {**postal_files, f"postal/{postal_dir}/prefixes.json": _json_bytes(prefixes)}
    files.update(postal_files)
    index["postal"] = f"/postal/{postal_dir}/" if postal_dir else None
    catalog_bytes = _json_bytes(catalog)
    catalog_path = "data/" + _hashed("catalog.json", catalog_bytes)
    files[catalog_path] = catalog_bytes
    index["catalog"] = "/" + catalog_path
    index_bytes = _json_bytes(index)
    index_path = "data/" + _hashed("index.json", index_bytes)
    files[index_path] = index_bytes

    # App shell: CSS, JS modules (hashed), icons, manifest, index.html.
    # MADOGUCHI_PWA_SOURCE lets a developer point the server's build at a working copy of pwa/.
    root = source or Path(os.environ.get("MADOGUCHI_PWA_SOURCE") or PWA_SOURCE)
    sources = _read_sources(root)
    assets: dict[str, str] = {}
    mod_names, mod_files = _hash_modules(sources)
    assets.update(mod_names)
    files.update(mod_files)
    for name, data in sources.items():
        if name.startswith("css/") or name.startswith("img/"):
            if name.endswith(".css"):
                data = _strip_css(data.decode("utf-8")).encode("utf-8")
            out = "assets/" + _hashed(name.split("/", 1)[1].replace("/", "-"), data)
            assets[name] = out
            files[out] = data
    icons: dict[int, str] = {}
    for size in (192, 512):
        key = f"icon-{size}.png"
        data = prev_files.get(previous.assets.get(key, ""), b"") if previous else b""
        if not data:
            data = png_icon(size)
        out = "assets/" + _hashed(key, data)
        assets[key] = icons[size] = out
        files[out] = data
    manifest = {
        "name": "窓口 Madoguchi — 書かない窓口",
        "short_name": "窓口",
        "description": "市役所の手続きを、書かずにスマートフォンで。オフラインでも使えます。",
        "lang": "ja",
        "dir": "ltr",
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "background_color": BACKGROUND_COLOR,
        "theme_color": THEME_COLOR,
        "categories": ["government", "utilities"],
        "icons": [
            {"src": "/" + icons[s], "sizes": f"{s}x{s}", "type": "image/png", "purpose": p}
            for s in (192, 512)
            for p in ("any", "maskable")
        ],
    }
    files["manifest.webmanifest"] = _json_bytes(manifest)

    html = sources.get("index.html", b"").decode("utf-8")

    def asset_url(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "index.json":
            return "/" + index_path
        if name not in assets:
            raise ValueError(f"pwa/index.html: unknown asset {name!r}")
        return "/" + assets[name]

    html = re.sub(r"\{\{asset:([\w./\-]+)\}\}", asset_url, html)

    # The service worker's shared code (IndexedDB, sync engine): one content-hashed classic script it
    # imports, so an app update re-downloads only the small sw.js when that code did not change.
    sw_text = sources.get("sw.js", b"").decode("utf-8")
    sw_include, sw_include_path = _sw_include(sw_text, sources)
    if sw_include_path:
        files[sw_include_path] = sw_include

    # Build version: a hash over everything the service worker precaches.
    precache = [
        "/",
        "/manifest.webmanifest",
        # The worker's own import is kept by the browser with the worker, not in the page's cache.
        *sorted(
            "/" + p
            for p in files
            if not p.startswith("postal/") and p not in ("manifest.webmanifest", sw_include_path)
        ),
    ]
    content = hashlib.sha256()
    for p in sorted(files):
        if not p.startswith("postal/"):
            content.update(p.encode() + b"\0" + files[p])
    content.update(html.encode())
    version = content.hexdigest()[:12]
    html = html.replace("{{build}}", version)
    files["index.html"] = html.encode("utf-8")
    precache = sorted(set(precache) - {"/index.html"})
    sw_src = _import_includes(sw_text, sw_include_path)
    header = (
        f"// Generated by madoguchi build {version}: do not edit.\n"
        f"const BUILD = {json.dumps(version)};\n"
        f"const PRECACHE = {json.dumps(precache, ensure_ascii=False)};\n"
        f"const POSTAL_PREFIX = {json.dumps(index['postal'])};\n"
    )
    files["sw.js"] = (header + sw_src).encode("utf-8")

    stats["seconds"] = round(time.perf_counter() - started, 4)
    stats["postal_shards"] = len(postal_files)
    return BuildResult(
        files=files,
        version=version,
        procedures=included["procedure"],
        life_events=included["life_event"],
        assets=assets,
        precache=precache,
        source_hashes=source_hashes,
        stats=stats,
    )


_INCLUDE_RE = re.compile(r"^// @include ([\w./\-]+)$", re.M)


def _sw_include(sw: str, sources: Mapping[str, bytes]) -> tuple[bytes, str | None]:
    """The modules named on ``// @include js/x.js`` lines of the classic service worker, as one script.

    An included module may import only from modules included before it: those one-line ``import``
    statements are dropped, and so are the ``export`` keywords (a classic script's top-level declarations
    are shared with the worker that imports it). Returns (bytes, output path).
    """
    parts = []
    included: set[str] = set()
    for name in _INCLUDE_RE.findall(sw):
        body = _strip_js(sources[name].decode("utf-8"))
        for line in re.findall(r"^\s*import\b.*$", body, re.M):
            m = _IMPORT_RE.search(line)
            if not m or not line.rstrip().endswith(";") or _resolve(name, m.group(3)) not in included:
                raise ValueError(f"pwa/sw.js: {name} imports what is not included before it: {line.strip()}")
        body = re.sub(r"^\s*import\b.*\n", "", body, flags=re.M)
        parts.append(re.sub(r"^export\s+", "", body, flags=re.M))
        included.add(name)
    if not parts:
        return b"", None
    data = "".join(parts).encode("utf-8")
    return data, "assets/" + _hashed("sw-include.js", data)


def _import_includes(sw: str, include_path: str | None) -> str:
    """The first ``// @include`` line becomes the worker's ``importScripts`` of the included script."""
    first = True

    def sub(_: re.Match[str]) -> str:
        nonlocal first
        line = f"importScripts({json.dumps('/' + include_path)});" if first and include_path else ""
        first = False
        return line

    return _INCLUDE_RE.sub(sub, sw)


def _postal_files() -> tuple[dict[str, bytes], str]:
    try:
        from procedure_definitions.postal import postal_shards
    except ImportError:  # the postal module is optional for a library-only build
        return {}, ""
    shards = postal_shards()
    whole = hashlib.sha256()
    for k in sorted(shards):
        whole.update(k.encode() + b"\0" + shards[k])
    d = whole.hexdigest()[:_HASH_LEN]
    return {f"postal/{d}/{k}.json": v for k, v in shards.items()}, d


# ---------------------------------------------------------------------------------------------- CLI


def write_build(result: BuildResult, out: Path) -> None:
    """Write a build to ``out``, removing files of an earlier build that are no longer part of it."""
    out.mkdir(parents=True, exist_ok=True)
    keep = set(result.files)
    for p in out.rglob("*"):
        if p.is_file() and p.relative_to(out).as_posix() not in keep and p.name != ".build.json":
            p.unlink()
    for path, data in result.files.items():
        target = out / path
        if target.exists() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def command(ns: argparse.Namespace) -> int:
    """``madoguchi build --out DIR [--library DIR]``: write the bundle and print a summary."""
    from procedure_definitions.library import load_library

    library = load_library(ns.library) if getattr(ns, "library", None) else load_library()
    problems = list(getattr(library, "problems", []) or [])
    for p in problems:  # one located line each, as `madoguchi check` prints them; the definition is left out
        print(f"warning: {p.format()}")
    result = build_pwa(library)
    out = Path(getattr(ns, "out", None) or "build/pwa")
    write_build(result, out)
    shell = sum(
        len(v)
        for k, v in result.files.items()
        if not k.startswith(("postal/", "procedures/", "life-events/"))
    )
    print(
        f"madoguchi build {result.version}: {len(result.procedures)} procedure versions, "
        f"{len(result.life_events)} life events, {len(result.files)} files "
        f"(app shell {shell / 1024:.1f} KiB, {result.stats.get('postal_shards', 0)} postal shards) -> {out}"
    )
    return 0
