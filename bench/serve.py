"""Load benchmark of ``sheetgen serve`` (issue 14), next to ``sheetgen batch`` in the same run.

1. N generated applicants (bench/applicants.py: every province, a mix of natures, cover + one
   sheet each) go through ``sheetgen batch --jobs J`` twice as a subprocess, with one layout
   cache: the first run fills the cache, the second gives the per-record rate of a warm batch.
2. ``sheetgen serve --workers J`` starts as a subprocess on a free loopback port with the same
   cache, and waits until its workers are warm.
3. The load: REQUESTS requests at CONCURRENCY in flight (httpx2, one connection each), mixed:
   every other request a ``POST /api/v1/check``, the rest ``POST /api/v1/sheets`` (the PDF,
   cover + sheet, the batch's output), cycling through the same applicants. Every answer must
   be 200; latencies p50/p99 per kind; the resident memory of the server and of each worker
   is sampled through the run (flat: the last tenth against the first tenth).
4. Sheets only: SHEETS ``/api/v1/sheets`` requests at the same concurrency, for sheets per
   second against the batch's records per second (goal: within 1.5×).

    .venv/bin/python bench/serve.py [--records 300] [--requests 2000] [--concurrency 16]

Not part of the test suite: wall-clock figures are noisy; compare figures of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (the forkserver and the render workers)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        kids = []
        # Every thread's list: the pool starts its workers (and so the forkserver) from threads.
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids += (task / "children").read_text().split()
            except OSError:
                continue
        found += [int(k) for k in kids]
        todo += [int(k) for k in kids]
    return found


@dataclass
class Memory:
    """RSS samples per process while the load runs."""

    samples: dict[int, list[int]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def watch(self, root: int) -> None:
        while not self.stop.is_set():
            for pid in [root, *children(root)]:
                kib = rss_kib(pid)
                if kib is not None:
                    self.samples.setdefault(pid, []).append(kib)
            time.sleep(0.2)

    def report(self, root: int) -> list[str]:
        lines = []
        for pid, values in sorted(self.samples.items(), key=lambda item: item[0] != root):
            if len(values) < 10:
                continue
            tenth = max(1, len(values) // 10)
            first, last = statistics.mean(values[:tenth]), statistics.mean(values[-tenth:])
            role = "server" if pid == root else f"child {pid}"
            lines.append(f"{role:<14} {first / 1024:6.0f} MB → {last / 1024:6.0f} MB "
                         f"({(last - first) / 1024:+.0f} MB; peak {max(values) / 1024:.0f} MB)")
        return lines


def run_batch(source: Path, outdir: Path, jobs: int, env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sheetgen", "batch", str(source), "-o",
                           str(outdir), "--jobs", str(jobs)], env=env, capture_output=True,
                          check=False)
    if proc.returncode != 0:
        sys.exit(f"sheetgen batch failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return time.perf_counter() - started


def start_server(jobs: int, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    with log.open("wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "sheetgen", "serve", "--port", "0",
                                 "--workers", str(jobs), "--no-access-log"], env=env,
                                stdout=subprocess.DEVNULL, stderr=stderr)
    for _ in range(600):
        found = re.search(r"the form is at (http://127\.0\.0\.1:\d+)/", log.read_text())
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            sys.exit(f"sheetgen serve exited: {log.read_text()}")
        time.sleep(0.1)
    sys.exit("sheetgen serve did not start")


async def wait_warm(client: object, base: str) -> None:
    import httpx2

    assert isinstance(client, httpx2.AsyncClient)
    for _ in range(1200):
        workers = (await client.get(f"{base}/api/v1/health")).json()["workers"]
        if workers["idle"] == workers["workers"]:
            return
        await asyncio.sleep(0.1)
    sys.exit("render workers never became ready")


async def load(base: str, bodies: list[bytes], kinds: list[str],
               concurrency: int) -> tuple[float, dict[str, list[float]], dict[int, int]]:
    """Send one request per entry of ``kinds`` (check or sheets), ``concurrency`` at a time."""
    import httpx2

    latencies: dict[str, list[float]] = {"check": [], "sheets": []}
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(kinds)):
        queue.put_nowait(i)
    headers = {"content-type": "application/json"}
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(timeout=120, limits=limits) as client:
        await wait_warm(client, base)

        async def user() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                kind = kinds[i]
                path = "/api/v1/check" if kind == "check" else "/api/v1/sheets"
                started = time.perf_counter()
                response = await client.post(base + path, content=bodies[i % len(bodies)],
                                             headers=headers)
                latencies[kind].append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, statuses


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--sheets", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    from bench.applicants import applicants
    from sheetgen.rules import load_rules

    records = list(applicants(load_rules(), args.records))
    bodies = [json.dumps(r, ensure_ascii=False).encode() for r in records]
    work = Path(tempfile.mkdtemp(prefix="sheetgen-bench-serve-"))
    source = work / "applicants.jsonl"
    source.write_bytes(b"".join(b + b"\n" for b in bodies))
    env = {**os.environ, "SHEETGEN_CACHE_DIR": str(work / "layout-cache")}
    env.pop("SOURCE_DATE_EPOCH", None)

    run_batch(source, work / "out-cold", args.jobs, env)  # fills the layout cache
    batch_wall = run_batch(source, work / "out-warm", args.jobs, env)
    batch_rate = args.records / batch_wall

    proc, base = start_server(args.jobs, env, work / "serve.log")
    memory = Memory()
    watcher = threading.Thread(target=memory.watch, args=(proc.pid,), daemon=True)
    try:
        watcher.start()
        kinds = ["check" if i % 2 == 0 else "sheets" for i in range(args.requests)]
        wall, latencies, statuses = asyncio.run(load(base, bodies, kinds, args.concurrency))
        memory.stop.set()
        watcher.join()
        sheets_wall, sheet_latencies, sheet_statuses = asyncio.run(
            load(base, bodies, ["sheets"] * args.sheets, args.concurrency))
    finally:
        memory.stop.set()
        proc.terminate()
        proc.wait(30)

    errors = sum(n for status, n in statuses.items() if status != 200)
    errors += sum(n for status, n in sheet_statuses.items() if status != 200)
    sheets_rate = args.sheets / sheets_wall
    print(f"{'applicants (cover + one sheet)':<36} {args.records}, --jobs/--workers {args.jobs}")
    print(f"{'sheetgen batch, warm':<36} {batch_wall:.1f} s, {batch_rate:.1f} records/s "
          f"({1000 / batch_rate:.1f} ms per record, process start included)")
    print(f"{'mixed load':<36} {args.requests} requests at concurrency {args.concurrency}: "
          f"{wall:.1f} s, {args.requests / wall:.0f} requests/s, statuses {statuses}")
    for kind, values in latencies.items():
        print(f"{'  ' + kind + ' latency':<36} p50 {percentile(values, 0.5):.1f} ms, "
              f"p99 {percentile(values, 0.99):.1f} ms ({len(values)} requests)")
    print(f"{'sheets only':<36} {args.sheets} requests: {sheets_wall:.1f} s, "
          f"{sheets_rate:.1f} sheets/s (p50 {percentile(sheet_latencies['sheets'], 0.5):.0f} ms, "
          f"p99 {percentile(sheet_latencies['sheets'], 0.99):.0f} ms), statuses {sheet_statuses}")
    print(f"{'batch rate / serve rate':<36} {batch_rate / sheets_rate:.2f}× (goal ≤ 1.5×)")
    print(f"{'errors':<36} {errors}")
    print("memory during the mixed load (first tenth → last tenth):")
    for line in memory.report(proc.pid):
        print(f"  {line}")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
