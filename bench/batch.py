"""Benchmark of ``sheetgen batch`` (issue 7): 1000 applicants, cover + one sheet each.

Writes N generated applicants (bench/applicants.py: deterministic, every province, a mix of
natures, one website each) as JSON Lines, then runs ``sheetgen batch --jobs J --bundle`` as a
user would (a subprocess), three times:

cold   a fresh, empty layout cache (``SHEETGEN_CACHE_DIR``): every worker compiles its layouts
warm   the same cache, a fresh OUTDIR: the steady state of a staff machine
rerun  the warm run's OUTDIR again: every record up to date, only the bundle is rebuilt

and measures wall time, the peak RSS of every process of the run (``VmHWM`` of each process
in the run's session, read from /proc while it runs) and the bundle's size. Then it renders a
sample of the same records through the naive path (Jinja2 → WeasyPrint per page, values
inline; :func:`bench.naive.render_naive`) in this process and extrapolates to N.

    .venv/bin/python bench/batch.py [--records 1000] [--jobs 2] [--naive 100]

Not part of the test suite: wall-clock figures are noisy; compare figures of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


@dataclass
class Run:
    """One ``sheetgen batch`` process tree: wall time, peak RSS per process, its manifest."""

    wall: float
    code: int
    peaks: dict[int, tuple[str, int]] = field(default_factory=dict)  # pid → (role, KiB)
    manifest: dict[str, object] = field(default_factory=dict)

    def peak(self, role: str) -> int:
        return max((kib for r, kib in self.peaks.values() if r == role), default=0)


def _session_processes(sid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == sid:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _role(pid: int, main: int) -> str:
    if pid == main:
        return "main"
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    if b"resource_tracker" in cmdline:
        return "tracker"
    try:
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return "?"
    return "forkserver" if parent == main else "worker"


def _hwm(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def run_batch(args: list[str], env: dict[str, str], report: Path) -> Run:
    """Run ``sheetgen batch ARGS --report REPORT``, sampling every process's peak RSS."""
    command = [sys.executable, "-m", "sheetgen", "batch", *args, "--report", str(report)]
    started = time.perf_counter()
    # stderr to a file, not a pipe: a pipe nobody reads until the end could fill and stall it.
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(command, env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=errors)
        run = Run(0.0, 0)
        while proc.poll() is None:
            for pid in _session_processes(proc.pid):
                kib = _hwm(pid)
                if kib is not None:  # VmHWM only grows: the last reading is the peak
                    role = run.peaks[pid][0] if pid in run.peaks else _role(pid, proc.pid)
                    run.peaks[pid] = (role, kib)
            time.sleep(0.05)
        run.wall = time.perf_counter() - started
        run.code = proc.returncode
        if run.code != 0:
            errors.seek(0)
            sys.exit(f"sheetgen batch failed ({run.code}): "
                     f"{errors.read().decode(errors='replace')[-2000:]}")
    run.manifest = json.loads(report.read_text())
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--naive", type=int, default=100,
                        help="records rendered the naive way (extrapolated to --records)")
    args = parser.parse_args()

    from bench.applicants import applicants
    from bench.naive import render_naive
    from sheetgen.documents.jobs import RenderOptions
    from sheetgen.documents.plan import make_plan
    from sheetgen.model import parse_applicant
    from sheetgen.rules import load_rules

    rules = load_rules()
    records = list(applicants(rules, args.records))
    work = Path(tempfile.mkdtemp(prefix="sheetgen-bench-batch-"))
    source = work / "applicants.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                      encoding="utf-8")
    env = {**os.environ, "SHEETGEN_CACHE_DIR": str(work / "layout-cache")}
    env.pop("SOURCE_DATE_EPOCH", None)

    runs: dict[str, Run] = {}
    for name, outdir in (("cold", "out-cold"), ("warm", "out-warm"), ("rerun", "out-warm")):
        out = work / outdir
        runs[name] = run_batch([str(source), "-o", str(out), "--jobs", str(args.jobs),
                                "--bundle", str(out / "bundle.pdf")], env,
                               work / f"report-{name}.json")
        summary = runs[name].manifest["summary"]
        assert isinstance(summary, dict) and summary["ok"] == args.records, summary

    # The naive path on a sample, in this process, warm (its first record is not timed).
    plans = [make_plan(parse_applicant(r, rules), rules) for r in records[:args.naive + 1]]
    options = RenderOptions()
    render_naive(plans[0], options)
    started = time.perf_counter()
    for plan in plans[1:]:
        render_naive(plan, options)
    naive_per_record = (time.perf_counter() - started) / max(1, len(plans) - 1)
    naive_total = naive_per_record * args.records

    warm = runs["warm"]
    bundle = warm.manifest["bundle"]
    assert isinstance(bundle, dict)
    pages = int(bundle["pages"])
    size = int(bundle["bytes"])
    outputs = sum(p.stat().st_size for p in (work / "out-warm").glob("*.pdf")
                  if p.name != "bundle.pdf")
    rows = [
        ("records (cover + one sheet each)", f"{args.records}, --jobs {args.jobs}"),
        ("wall, cold layout cache", f"{runs['cold'].wall:.1f} s"),
        ("wall, warm layout cache", f"{warm.wall:.1f} s  ({warm.wall / args.records * 1000:.1f}"
                                    " ms per record)"),
        ("wall, re-run (all up to date)", f"{runs['rerun'].wall:.1f} s  (bundle rebuilt)"),
        ("peak RSS main / worker / forkserver",
         f"{warm.peak('main') / 1024:.0f} / {warm.peak('worker') / 1024:.0f} / "
         f"{warm.peak('forkserver') / 1024:.0f} MB (cold: "
         f"{runs['cold'].peak('main') / 1024:.0f} / {runs['cold'].peak('worker') / 1024:.0f} / "
         f"{runs['cold'].peak('forkserver') / 1024:.0f})"),
        ("bundle", f"{pages} pages, {size / 1e6:.2f} MB ({size / pages / 1024:.1f} KB/page)"),
        ("per-record PDFs", f"{outputs / 1e6:.0f} MB ({outputs / args.records / 1024:.0f} KB "
                            "each)"),
        ("naive WeasyPrint path", f"{naive_per_record * 1000:.0f} ms per record (sample of "
                                  f"{len(plans) - 1}, one process)"),
        (f"naive, {args.records} records (extrapolated)",
         f"{naive_total:.0f} s in one process, ~{naive_total / args.jobs:.0f} s on "
         f"{args.jobs}"),
        ("speed-up, warm batch vs naive",
         f"{naive_total / warm.wall:.1f}× (vs naive on {args.jobs} processes: "
         f"{naive_total / args.jobs / warm.wall:.1f}×)"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(f"(work files in {work})")


if __name__ == "__main__":
    main()
