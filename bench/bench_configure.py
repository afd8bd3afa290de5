"""The configurator's cycle, timed: push a draft, publish it, see it in ``GET /api/procedures`` and in the PWA.

Usage: ``python3 -m bench.bench_configure [--rounds 7] [--write]``

The real app (uvicorn in a thread on loopback) on a real SQLite file with the shipped library and a real PWA
build. Each round pushes a new version of a shipped procedure as a draft over HTTP (``POST /api/drafts``: the
check, scenarios and estimate), publishes it with ``server.definitions.publishing.publish_draft`` (what the
console's 公開する calls after the passkey check), then polls ``GET /api/procedures`` until it lists the version and
the service worker's bundle index until the rebuilt PWA has it. Baseline in the same run: one
``GET /api/procedures`` round trip. Goals (issue 14): publish → listed under 1 s. With ``--write`` the results
replace the section between the ``<!-- configure-bench -->`` markers of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_resident import write_doc  # noqa: E402

MARK = "<!-- configure-bench -->"
PID = "juminhyo-copy"
GOAL_LISTED_S = 1.0


def _poll(fn: Any, timeout: float = 60.0) -> float:
    start = time.perf_counter()
    while not fn():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("not seen in time")
        time.sleep(0.002)
    return time.perf_counter()


def _index(client: httpx.Client) -> dict[str, Any]:
    sw = client.get("/sw.js").text
    path = next(p for p in json.loads(sw[sw.index("["):sw.index("]") + 1]) if "/data/index." in p)
    r = client.get(path)  # a rebuild between the two requests removes the old index: look again
    out: dict[str, Any] = r.json() if r.status_code == 200 else {}
    return out


def run(rounds: int) -> dict[str, Any]:
    from madoguchi.build import build_pwa
    from procedure_definitions.library import DEFAULT_LIBRARY, load_library
    from server.definitions.publishing import publish_draft
    from server.settings import Settings
    from testsupport.servers import AppServer

    lib = load_library()
    source = next(p for p in DEFAULT_LIBRARY.rglob("*.yaml") if yaml.safe_load(p.read_text())["id"] == PID)
    base = yaml.safe_load(source.read_text(encoding="utf-8"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-configure-"))
    srv = AppServer.create(Settings(db_path=str(tmp / "m.db"), origin="http://localhost:8000",
                                    build_result=build_pwa(lib)), library=lib)
    try:
        c = srv.login("configurator")
        anon = srv.client()
        svc = srv.app.state.services
        for _ in range(5):
            anon.get("/api/procedures")
        baseline = []
        for _ in range(30):
            t = time.perf_counter()
            anon.get("/api/procedures")
            baseline.append(time.perf_counter() - t)
        rows = []
        for i in range(rounds):
            version = f"50.0.{i}"
            text = yaml.safe_dump({**base, "version": version}, allow_unicode=True, sort_keys=False)
            t0 = time.perf_counter()
            r = c.post("/api/drafts", json={"filename": f"{PID}.yaml", "source": text})
            t_push = time.perf_counter()
            draft = r.json()
            assert draft["ok"], draft["lines"]
            t1 = time.perf_counter()
            asyncio.run(publish_draft(svc, draft["id"], actor=c.account_id))  # type: ignore[attr-defined]
            t2 = time.perf_counter()
            t3 = _poll(lambda v=version: any(x["id"] == PID and x["version"] == v
                                              for x in anon.get("/api/procedures").json()))
            t4 = _poll(lambda v=version: v in _index(anon).get("procedures", {}).get(PID, {}).get("versions", {}))
            rows.append({"push": t_push - t0, "publish": t2 - t1, "listed": t3 - t1, "pwa": t4 - t1})
        return {"rounds": rounds, "baseline": statistics.median(baseline), "rows": rows}
    finally:
        srv.stop()


def report(res: dict[str, Any]) -> str:
    rows = res["rows"]

    def med(k: str) -> float:
        return statistics.median(r[k] for r in rows) * 1000

    def worst(k: str) -> float:
        return max(r[k] for r in rows) * 1000

    base = res["baseline"] * 1000
    listed_ok = worst("listed") < GOAL_LISTED_S * 1000
    return "\n".join([
        f"`python3 -m bench.bench_configure --write` ({dt.date.today().isoformat()}; Python "
        f"{platform.python_version()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end). "
        f"{res['rounds']} rounds: a new version of `{PID}` pushed as a draft over HTTP, published "
        f"(`publish_draft`, what 公開する calls after the passkey check), then polled every 2 ms. Baseline in the "
        f"same run: one `GET /api/procedures` round trip, **{base:.1f} ms**.",
        "",
        "| step | median ms | slowest ms | × baseline (median) |",
        "|---|---|---|---|",
        f"| push a draft (`POST /api/drafts`: load, check, scenarios, estimate, store) | {med('push'):.1f} | "
        f"{worst('push'):.1f} | {med('push') / base:.1f} |",
        f"| publish (`publish_draft` returns: stored, live library reloaded) | {med('publish'):.1f} | "
        f"{worst('publish'):.1f} | {med('publish') / base:.1f} |",
        f"| publish → listed by `GET /api/procedures` | {med('listed'):.1f} | {worst('listed'):.1f} | "
        f"{med('listed') / base:.1f} |",
        f"| publish → in the rebuilt PWA bundle (service worker's index) | {med('pwa'):.1f} | {worst('pwa'):.1f} | "
        f"{med('pwa') / base:.1f} |",
        "",
        f"Publish → listed: slowest **{worst('listed'):.0f} ms** ({'under' if listed_ok else 'NOT under'} the "
        f"{GOAL_LISTED_S * 1000:.0f} ms goal); no restart.",
    ])


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--write", action="store_true", help="write the results into docs/benchmarks.md")
    ns = ap.parse_args()
    text = report(run(max(1, ns.rounds)))
    print(text)
    if ns.write:
        write_doc(text, MARK)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
