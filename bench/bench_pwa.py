"""PWA benchmark: what a phone downloads, how fast an offline reload becomes usable, Lighthouse scores.

    python3 -m bench.bench_pwa [--no-lighthouse] [--no-peer] [--size-only]

1. gzip bytes (each file compressed on its own, as served) of what a phone downloads to open one typical
   procedure (juminhyo-copy) from a link and fill in its form — goal <= 60 KB: the app shell (index.html,
   CSS, manifest, data/index, and every module app.js imports, following imports) plus the modules of
   the procedure's overview and form pages (loaded when first needed) and the procedure's JSON. Also: the
   whole first journey (adds home, finder + catalog, review and receipt pages), everything the service
   worker precaches for offline use except library files (every module), and sw.js with what it imports.
   Versus enketo-core from npm bundled and minified with esbuild.
2. Offline reload to an interactive form in headless Chromium (served by the service worker) — goal <= 300 ms.
3. Lighthouse 12 mobile performance and accessibility (goal >= 95) and lighthouse@11's PWA category.
Results are written into docs/benchmarks.md between the ``<!-- pwa-bench -->`` markers.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a path too (python3 bench/bench_x.py): the project root goes first on sys.path, before the
# project imports, so this checkout (not an installed copy) is what runs.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testsupport.chromium import CHROMIUM, CHROMIUM_FLAGS
from testsupport.servers import ROOT, ServerProcess

MARK = "<!-- pwa-bench -->"


def gz(data: bytes) -> int:
    return len(gzip.compress(data, 9))


_STATIC_IMPORT = re.compile(r"""\b(?:import|export)\s*(?:[\w*{}\s,$]+\s*from\s*)?["']\./([\w.\-]+\.js)["']""")
# The pages of the first journey: open a procedure from a link, fill in its form (the 60 KB goal) ...
FIRST_SCREEN_PAGES = ("js/page-procedure.js", "js/page-draft.js")
# ... and the rest of a first visit: home, finder, review and receipt (the finder and home load the catalog).
JOURNEY_PAGES = ("js/page-home.js", "js/page-finder.js", "js/page-review.js", "js/page-submission.js")


def module_closure(files: dict[str, bytes], roots: list[str]) -> set[str]:
    """The built modules ``roots`` load before they run: themselves and their static imports, transitively
    (``import()`` of pages is not followed: those load when first needed)."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += ["assets/" + m for m in _STATIC_IMPORT.findall(files[path].decode("utf-8"))]
    return seen


def measure_size() -> dict[str, float]:
    from madoguchi.build import build_pwa
    from procedure_definitions.library import load_library

    result = build_pwa(load_library())
    files, assets = result.files, result.assets
    index = next(p for p in files if p.startswith("data/index."))
    catalog = next(p for p in files if p.startswith("data/catalog."))
    page_files = ["index.html", "manifest.webmanifest", assets["css/app.css"], index]
    shell = set(page_files) | module_closure(files, [assets["js/app.js"]])
    first = module_closure(files, [assets[p] for p in FIRST_SCREEN_PAGES]) - shell
    journey = (module_closure(files, [assets[p] for p in JOURNEY_PAGES]) | {catalog}) - shell - first
    everything = (
        set(page_files)
        | {catalog}
        | {
            p
            for p in files
            if p.startswith("assets/") and p.endswith(".js") and not p.startswith("assets/sw-")
        }
    )
    sw_imports = [p for p in files if p.startswith("assets/sw-")]
    proc = next(p["path"] for p in result.procedures if p["id"] == "juminhyo-copy")

    def kb(paths: set[str] | list[str]) -> float:
        return sum(gz(files[p]) for p in paths) / 1024

    return {
        "shell_kb": kb(shell),
        "pages_kb": kb(first),
        "procedure_kb": kb([proc]),
        "total_kb": kb(shell | first | {proc}),
        "journey_kb": kb(shell | first | journey | {proc}),
        "all_kb": kb(everything | {proc}),
        "sw_kb": kb(["sw.js"]),
        "sw_imports_kb": kb(sw_imports),
    }


def measure_peer() -> float | None:
    """enketo-core's JS bundled+minified with esbuild, gzipped (KB). Its git-hosted leaflet.draw dependency
    cannot be fetched here, so it is overridden with the registry's leaflet-draw, and its pinned
    openrosa-xpath-evaluator 3.2.0 (not on the registry) with 3.1.0."""
    tmp = Path(tempfile.mkdtemp(prefix="enketo-"))
    try:
        (tmp / "package.json").write_text(
            json.dumps(
                {
                    "name": "peer",
                    "private": True,
                    "dependencies": {"enketo-core": "9.0.1", "esbuild": "0.28.2"},
                    "overrides": {"leaflet-draw": "1.0.4", "openrosa-xpath-evaluator": "3.1.0"},
                }
            )
        )
        r = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--legacy-peer-deps"],
            cwd=tmp,
            capture_output=True,
            text=True,
        )
        if r.returncode:
            print("peer install failed:", r.stderr[-800:], file=sys.stderr)
            return None
        (tmp / "entry.js").write_text("import { Form } from 'enketo-core';\nwindow.Form = Form;\n")
        subprocess.run(
            [
                "node",
                "-e",
                "require('esbuild').buildSync({entryPoints:['entry.js'],bundle:true,minify:true,"
                "outfile:'out.js',format:'iife',logLevel:'error',loader:{'.png':'empty','.svg':'empty','.gif':'empty'}})",
            ],
            cwd=tmp,
            check=True,
            capture_output=True,
            text=True,
        )
        return gz((tmp / "out.js").read_bytes()) / 1024
    except subprocess.CalledProcessError as e:
        print("peer bundle failed:", e.stderr[-800:], file=sys.stderr)
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measure_offline_reload(base: str, runs: int = 7) -> float:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        ctx = b.new_context(viewport={"width": 390, "height": 844})
        page = ctx.new_page()
        page.goto(base + "/")
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30000)
        page.goto(base + "/#/p/juminhyo-copy")  # opening a procedure lands on its first step
        page.wait_for_selector("#form input")
        url = page.url
        ctx.set_offline(True)
        times = []
        for _ in range(runs):
            page.goto("about:blank")
            t0 = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("#form input", state="visible")
            times.append((time.perf_counter() - t0) * 1000)
        b.close()
    return statistics.median(times)


def lighthouse(base: str, version: str, categories: list[str]) -> dict[str, float] | None:
    tmp = Path(tempfile.mkdtemp(prefix=f"lh{version}-"))
    try:
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", f"lighthouse@{version}"],
            cwd=tmp,
            check=True,
            capture_output=True,
            text=True,
        )
        out = tmp / "report.json"
        env = {**os.environ, "CHROME_PATH": CHROMIUM}
        cmd = [
            "npx",
            "lighthouse",
            base + "/",
            f"--only-categories={','.join(categories)}",
            "--output=json",
            f"--output-path={out}",
            "--quiet",
            "--form-factor=mobile",
            "--chrome-flags=--headless=new " + " ".join(CHROMIUM_FLAGS),
        ]
        subprocess.run(cmd, cwd=tmp, env=env, check=True, capture_output=True, text=True, timeout=240)
        report = json.loads(out.read_text())
        return {k: round((v.get("score") or 0) * 100) for k, v in report["categories"].items()}
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError) as e:
        print(f"lighthouse@{version} failed: {getattr(e, 'stderr', e)!s:.800}", file=sys.stderr)
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_doc(text: str) -> None:
    doc = ROOT / "docs" / "benchmarks.md"
    old = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    block = f"{MARK}\n{text.strip()}\n{MARK}"
    if old.count(MARK) >= 2:
        new = re.sub(re.escape(MARK) + r".*?" + re.escape(MARK), lambda _: block, old, count=1, flags=re.S)
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    doc.write_text(new, encoding="utf-8")


def size_rows(size: dict[str, float]) -> list[str]:
    sw = f"{size['sw_kb']:.1f} KB" + (
        f" + {size['sw_imports_kb']:.1f} KB imported" if size["sw_imports_kb"] else ""
    )
    return [
        "| metric | goal | result |",
        "|---|---|---|",
        f"| gzip: app shell (HTML, CSS, manifest, data/index, modules app.js imports) | | {size['shell_kb']:.1f} KB |",
        f"| gzip: one procedure: overview and form pages' modules + juminhyo-copy JSON | | "
        f"{size['pages_kb']:.1f} + {size['procedure_kb']:.1f} KB |",
        f"| gzip: shell + one procedure | <= 60 KB | **{size['total_kb']:.1f} KB** |",
        f"| gzip: first visit: + home, finder (with catalog), review, receipt pages | | {size['journey_kb']:.1f} KB |",
        f"| gzip: everything precached but the library (all modules, catalog) + one procedure | | {size['all_kb']:.1f} KB |",
        f"| service worker (sw.js), gzip | | {sw} |",
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--no-lighthouse", action="store_true")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--size-only", action="store_true", help="print the download sizes only (no doc update)")
    ns = ap.parse_args()
    size = measure_size()
    if ns.size_only:
        print("\n".join(size_rows(size)))
        return 0
    peer = None if ns.no_peer else measure_peer()
    tmp = Path(tempfile.mkdtemp(prefix="pwa-bench-"))
    server = ServerProcess(tmp / "bench.db", demo=True, url_host="localhost", quiet=True)
    server.start()
    base = server.url
    try:
        reload_ms = measure_offline_reload(base) if os.path.exists(CHROMIUM) else None
        lh12 = lh11 = None
        if not ns.no_lighthouse and os.path.exists(CHROMIUM):
            lh12 = lighthouse(base, "12", ["performance", "accessibility"])
            lh11 = lighthouse(base, "11", ["pwa"])
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    fmt = lambda v, unit="": "n/a" if v is None else f"{v:.1f}{unit}"  # noqa: E731
    rows = [
        "## PWA (bench/bench_pwa.py)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on this 2-core machine, headless Chromium.",
        "",
        "Sizes are gzip bytes, each file compressed on its own (as served). *Shell + one procedure* is what a",
        "phone downloads to open juminhyo-copy from a link and fill in its form: the shell (HTML, CSS, manifest,",
        "data/index, every module app.js imports), the overview and form pages with the modules they import",
        "(pages load when first needed) and the procedure JSON.",
        "",
        "| metric | goal | result |",
        "|---|---|---|",
        *size_rows(size)[2:5],
        f"| peer: enketo-core 9.0.1 bundled+minified (esbuild), gzip | | {fmt(peer, ' KB')} |",
        *size_rows(size)[5:],
        f"| offline reload to interactive form (median of 7) | <= 300 ms | **{fmt(reload_ms, ' ms')}** |",
        f"| Lighthouse 12 mobile performance | >= 95 | {lh12.get('performance') if lh12 else 'n/a'} |",
        f"| Lighthouse 12 mobile accessibility | >= 95 | {lh12.get('accessibility') if lh12 else 'n/a'} |",
        f"| Lighthouse 11 PWA category | passes | {lh11.get('pwa') if lh11 else 'n/a'} |",
    ]
    text = "\n".join(rows)
    print(text)
    write_doc(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
