"""Benchmark of the desk (issue 25): a batch through ``POST /api/v1/batches`` against ``sheetgen
batch`` on the same records and workers, a page of a 100 000-record register, server memory.

1. **Batch over HTTP.** N generated applicants (bench/applicants.py) as one ``.csv`` file:
   ``sheetgen batch FILE -o OUT --jobs J --bundle B`` in a fresh process, then the same file
   posted to a ``sheetgen serve --data DIR --workers J`` started for the run (its start-up and
   warm-up not counted), timed from the POST to the job's ``done``. Reported: both wall
   times and their ratio (goal: at most 1.3×), and the server's peak RSS before and after.
2. **Listing a large register.** R records written straight into a fresh register's tables
   (bulk inserts: the time to bring them one by one is not what is measured), then
   ``Register.records(page=…)`` for the first, a middle and the last page, with a status
   filter and with a search: the median of ``--repeat`` calls each (goal: within 100 ms). On
   SQLite, and on PostgreSQL when a URL is given (``--postgresql URL``).

    .venv/bin/python bench/desk.py [--records 1000] [--jobs 2] [--runs 3] [--register-size 100000]

Not part of the test suite: wall-clock figures are noisy; compare figures of one run.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
TOKEN = "bench-desk-token-0123456789"


def write_csv(path: Path, count: int) -> None:
    from bench.applicants import applicants
    from sheetgen.rules import load_rules
    from sheetgen.sources.columns import COLUMNS
    from sheetgen.sources.spreadsheet import rows_of

    header = [c.header for c in COLUMNS]
    paths = [c.path for c in COLUMNS]
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    for record in applicants(load_rules(), count):
        for row in rows_of(record):
            row["group"] = record["ref"]
            writer.writerow([row.get(p, "") for p in paths])
    path.write_text(out.getvalue(), "utf-8")


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def batch_over_http(folder: Path, source: Path, jobs: int, runs: int) -> dict[str, Any]:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sheetgen", "batch", str(source), "-o",
                    str(folder / "cli-out"), "--jobs", str(jobs), "--bundle",
                    str(folder / "cli.pdf")], check=False, capture_output=True)
    cli = time.perf_counter() - started

    log = folder / "serve.log"
    with log.open("wb") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "sheetgen", "serve", "--port", "0", "--workers", str(jobs),
             "--data", str(folder / "register"), "--token", TOKEN, "--no-access-log"],
            stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        url = None
        for _ in range(600):
            found = re.search(r"the form is at (http://127\.0\.0\.1:\d+/)", log.read_text())
            if found:
                url = found.group(1)
                break
            time.sleep(0.1)
        assert url, log.read_text()
        headers = {"Authorization": f"Bearer {TOKEN}"}

        def call(path: str, data: bytes | None = None, kind: str = "") -> dict[str, object]:
            request = urllib.request.Request(url.rstrip("/") + path, data=data, headers={
                **headers, **({"Content-Type": kind} if kind else {})})
            with urllib.request.urlopen(request, timeout=600) as answer:
                result: dict[str, object] = json.loads(answer.read())
                return result

        for _ in range(600):  # warm: every worker idle
            workers = call("/api/v1/health")["workers"]
            assert isinstance(workers, dict)
            if workers.get("idle") == workers.get("workers"):
                break
            time.sleep(0.1)
        before = rss_kb(server.pid)
        times, after = [], []
        for _ in range(runs):  # the same file again: new versions of nothing, same work
            started = time.perf_counter()
            job = call("/api/v1/batches", source.read_bytes(), "text/csv")
            while call(str(job["url"]).replace(url.rstrip("/"), ""))["status"] not in (
                    "done", "failed"):
                time.sleep(0.05)
            times.append(time.perf_counter() - started)
            after.append(rss_kb(server.pid) / 1024)
        peak = rss_kb(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.wait(30)
    return {"cli_s": cli, "http_s": times[0], "ratio": times[0] / cli, "times": times,
            "rss_before_mb": before / 1024, "rss_after_mb": after, "rss_peak_mb": peak / 1024}


def listing(target: str, size: int, repeat: int) -> dict[str, float]:
    from sqlalchemy import insert

    from sheetgen.desk import open_register
    from sheetgen.desk.schema import RecordRow, VersionRow

    statuses = ("invalid", "ready", "printed", "received", "complete")
    provinces = ("北京市", "上海市", "广东省", "江西省", "浙江省")
    with open_register(target) as register:
        now = datetime.now(UTC)
        with register.transaction() as db:
            for start in range(0, size, 5000):
                chunk = range(start, min(size, start + 5000))
                db.execute(insert(RecordRow), [
                    {"ref": f"R-{n:06d}", "version": 1, "status": statuses[n % 5], "why": "",
                     "province": provinces[n % 5], "name": f"示例单位{n:06d}有限公司",
                     "websites": 1, "created": now, "updated": now} for n in chunk])
                db.execute(insert(VersionRow), [
                    {"ref": f"R-{n:06d}", "number": 1, "data": {"ref": f"R-{n:06d}"},
                     "input_sha256": None, "problems": [], "source": "bench",
                     "created": now} for n in chunk])
        figures = {}
        pages = size // 50
        for label, query in (("first page", {"page": 1}),
                             ("middle page", {"page": pages // 2}),
                             ("last page", {"page": pages}),
                             ("status filter", {"status": "printed", "page": 3}),
                             ("search", {"q": "单位0999"})):
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                register.records(per_page=50, **query)
                times.append(time.perf_counter() - started)
            figures[label] = statistics.median(times) * 1000
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3, help="batches posted one after another")
    parser.add_argument("--register-size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgresql", metavar="URL", help="also list on this database "
                                                            "(an empty one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sheetgen-bench-desk-") as name:
        folder = Path(name)
        source = folder / "applicants.csv"
        write_csv(source, args.records)
        http = batch_over_http(folder, source, args.jobs, args.runs)
        print(f"batch of {args.records} records, --jobs {args.jobs}, with a bundle:")
        print(f"  sheetgen batch            {http['cli_s']:7.2f} s")
        print(f"  POST /api/v1/batches      {http['http_s']:7.2f} s   "
              f"{http['ratio']:.2f}× (goal ≤ 1.3×)")
        print("  later runs of the same file: " + ", ".join(
            f"{t:.2f} s" for t in http["times"][1:]))
        print(f"  server RSS before: {http['rss_before_mb']:.0f} MB; after each run: "
              + " / ".join(f"{mb:.0f}" for mb in http["rss_after_mb"])
              + f" MB; peak {http['rss_peak_mb']:.0f} MB")
        targets = [("SQLite", str(folder / "big"))]
        if args.postgresql:
            targets.append(("PostgreSQL", args.postgresql))
        for label, target in targets:
            figures = listing(target, args.register_size, args.repeat)
            print(f"a page of 50 of a {args.register_size}-record register ({label}), "
                  f"median of {args.repeat} (goal ≤ 100 ms):")
            for what, ms in figures.items():
                print(f"  {what:15} {ms:7.1f} ms")


if __name__ == "__main__":
    main()
