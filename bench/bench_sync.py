"""Sync benchmark: one device pushes 10,000 queued mutations and an empty device pulls 10,000 changes,
side by side with PouchDB replicating the same 10,000 ~1 KB documents to and from
``pouchdb-server --in-memory``.

Ours runs the real server (``madoguchi serve``, or ``--server standalone``: auth + sync only) in a subprocess
on a SQLite file with ``synchronous=FULL`` (every acknowledged batch is on disk), over HTTP, through the
reference client (``sync/client.py``).

    python3 -m bench.bench_sync [--n 10000] [--no-pouch] [--server serve|standalone] [--write-docs]

PouchDB (npm ``pouchdb-server@4.2.0`` + ``pouchdb@9.0.0``) is installed into ``bench/node_modules`` on first
use. Results go to docs/benchmarks.md between the ``<!-- sync-bench -->`` markers with ``--write-docs``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a path too (python3 bench/bench_x.py): the project root goes first on sys.path, before the
# project imports, so this checkout (not an installed copy) is what runs.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sync.client import Device, HTTPTransport
from testsupport.servers import ROOT, ServerProcess, free_port
from testsupport.sessions import login, prepare_db

BENCH = ROOT / "bench"
MARK = "<!-- sync-bench -->"


def doc(i: int) -> dict[str, object]:
    # About 1 KB of JSON, the shape of a household record.
    return {"head_name": {"family": "山田", "given": f"太郎{i}"}, "address": f"北海道札幌市中央区北{i % 30}条西{i % 20}丁目",
            "phone": f"011-{i % 1000:03d}-{i % 10000:04d}", "notes": [],
            "memo": ("訪問記録 " * 60)[: 300] + f"#{i}"}


def bench_ours(n: int, batch: int, page: int, mode: str = "serve") -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        prepare_db(db)
        _, session = login(db, "counter")
        server = ServerProcess(db, mode=mode)
        server.start()
        try:
            dev = Device(HTTPTransport(server.url, session=session, timeout=120), batch=batch, page=page)
            for i in range(n):
                dev.patch("household", f"bench-{i:05d}", doc(i))
            size = len(json.dumps([doc(0)], ensure_ascii=False).encode())
            t0 = time.perf_counter()
            while dev.pending():
                dev.push_once()
            push_s = time.perf_counter() - t0
            assert all(e.state == "sent" for e in dev.outbox), "not every mutation was applied"
            empty = Device(HTTPTransport(server.url, session=session, timeout=120), page=page)
            t0 = time.perf_counter()
            empty.pull_all()
            pull_s = time.perf_counter() - t0
            assert len(empty.replica) == n, len(empty.replica)
        finally:
            server.stop()
    return {"push_s": push_s, "pull_s": pull_s, "doc_bytes": size}


NODE_SCRIPT = r"""
const PouchDB = require('pouchdb');
const path = require('path');
const n = parseInt(process.argv[2], 10), url = process.argv[3], dir = process.argv[4];
function doc(i) {
  return {_id: 'bench-' + String(i).padStart(5, '0'), head_name: {family: '山田', given: '太郎' + i},
    address: '北海道札幌市中央区北' + (i % 30) + '条西' + (i % 20) + '丁目',
    phone: '011-' + String(i % 1000).padStart(3, '0') + '-' + String(i % 10000).padStart(4, '0'), notes: [],
    memo: '訪問記録 '.repeat(60).slice(0, 300) + '#' + i};
}
(async () => {
  const local = new PouchDB(path.join(dir, 'local'));
  const docs = [];
  for (let i = 0; i < n; i++) docs.push(doc(i));
  for (let i = 0; i < n; i += 1000) await local.bulkDocs(docs.slice(i, i + 1000));
  const remote = new PouchDB(url + '/bench');
  let t0 = process.hrtime.bigint();
  const up = await PouchDB.replicate(local, remote, {batch_size: 100});
  const push = Number(process.hrtime.bigint() - t0) / 1e9;
  const empty = new PouchDB(path.join(dir, 'empty'));
  t0 = process.hrtime.bigint();
  const down = await PouchDB.replicate(remote, empty, {batch_size: 100});
  const pull = Number(process.hrtime.bigint() - t0) / 1e9;
  const info = await empty.info();
  console.log(JSON.stringify({push_s: push, pull_s: pull, written: up.docs_written, pulled: info.doc_count}));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def ensure_pouch() -> Path:
    mods = BENCH / "node_modules"
    if not (mods / "pouchdb-server").exists() or not (mods / "pouchdb").exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", "--no-save", "--prefix", str(BENCH),
                        "pouchdb-server@4.2.0", "pouchdb@9.0.0"], check=True)
    return mods


def bench_pouch(n: int) -> dict[str, float]:
    mods = ensure_pouch()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen([str(mods / ".bin" / "pouchdb-server"), "--in-memory", "--port", str(port),
                                   "--host", "127.0.0.1", "--no-stdout-logs"], cwd=tmp,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            import httpx

            for _ in range(200):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            script = Path(tmp) / "bench.js"
            script.write_text(NODE_SCRIPT, encoding="utf-8")
            out = subprocess.run(["node", str(script), str(n), f"http://127.0.0.1:{port}", tmp], check=True,
                                 capture_output=True, text=True, env={**os.environ, "NODE_PATH": str(mods)})
            res = json.loads(out.stdout.strip().splitlines()[-1])
            assert res["written"] == n and res["pulled"] == n, res
            return res
        finally:
            server.terminate()
            server.wait(10)


def write_docs(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    block = f"{MARK}\n{text.strip()}\n{MARK}"
    if current.count(MARK) >= 2:
        head, _, rest = current.partition(MARK)
        _, _, tail = rest.partition(MARK)
        current = head + block + tail
    else:
        current = current.rstrip() + "\n\n" + block + "\n"
    path.write_text(current, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="documents / mutations")
    ap.add_argument("--batch", type=int, default=1000, help="mutations per push request")
    ap.add_argument("--page", type=int, default=2000, help="changes per pull page")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each side; the best run of each is reported")
    ap.add_argument("--no-pouch", action="store_true", help="skip PouchDB")
    ap.add_argument("--server", choices=("serve", "standalone"), default="serve",
                    help="madoguchi serve (the main app) or python -m server.sync_routes (auth + sync only)")
    ap.add_argument("--write-docs", action="store_true", help="write the results into docs/benchmarks.md")
    ns = ap.parse_args()
    load_start = os.getloadavg()
    runs = [bench_ours(ns.n, ns.batch, ns.page, ns.server) for _ in range(ns.repeat)]
    ours = {"push_s": min(r["push_s"] for r in runs), "pull_s": min(r["pull_s"] for r in runs),
            "doc_bytes": runs[0]["doc_bytes"]}
    print(f"madoguchi sync: push {ns.n} in {ours['push_s']:.2f} s, pull {ns.n} in {ours['pull_s']:.2f} s "
          f"(~{ours['doc_bytes']} B/doc)")
    pouch = None
    if not ns.no_pouch and shutil.which("node") and shutil.which("npm"):
        pruns = [bench_pouch(ns.n) for _ in range(ns.repeat)]
        pouch = {"push_s": min(r["push_s"] for r in pruns), "pull_s": min(r["pull_s"] for r in pruns)}
        print(f"PouchDB 9 → pouchdb-server 4.2 --in-memory: push {pouch['push_s']:.2f} s, pull {pouch['pull_s']:.2f} s")
        print(f"speed-up: push {pouch['push_s'] / ours['push_s']:.1f}x, pull {pouch['pull_s'] / ours['pull_s']:.1f}x")
    if ns.write_docs:
        load_end = os.getloadavg()
        server = "`madoguchi serve`" if ns.server == "serve" else "`python -m server.sync_routes` (auth + sync only)"
        lines = [
            "## Sync (`bench/bench_sync.py`)",
            "",
            f"{ns.n} records of ~{ours['doc_bytes']} bytes JSON; one device pushes its queued mutations "
            f"({ns.batch} per request) to the real server ({server} in a subprocess, SQLite WAL, "
            "`synchronous=FULL`, each mutation's effect + history + change-log row + receipt + audit entry in the "
            f"writer transaction), then an empty device pulls them ({ns.page} per page). "
            f"Best of {ns.repeat} runs per side, same machine, same run "
            f"({platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{time.strftime('%Y-%m-%d')}; 1-minute load average {load_start[0]:.1f} at the start and "
            f"{load_end[0]:.1f} at the end{': the machine was shared with other test runs' if max(load_start[0], load_end[0]) > 1.5 else ''}).",
            "",
            "| | push 10,000 | pull 10,000 |",
            "|---|---|---|",
            f"| madoguchi sync | {ours['push_s']:.2f} s | {ours['pull_s']:.2f} s |",
        ]
        if pouch:
            lines += [
                f"| PouchDB 9 (leveldb) ↔ pouchdb-server 4.2 `--in-memory` | {pouch['push_s']:.2f} s | "
                f"{pouch['pull_s']:.2f} s |",
                f"| speed-up | {pouch['push_s'] / ours['push_s']:.1f}× | {pouch['pull_s'] / ours['pull_s']:.1f}× |",
            ]
        write_docs("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
