"""Benchmark of ``sheetgen batch`` (issues 7 and 16): 1000 applicants, cover + one sheet each.

Writes N generated applicants (bench/applicants.py: deterministic, every province, a mix of
natures, one website each) as JSON Lines, then runs ``sheetgen batch --jobs J --bundle`` as a
user would (a subprocess), three times:

cold   a fresh, empty layout cache (``SHEETGEN_CACHE_DIR``): every worker compiles its layouts
warm   the same cache, a fresh OUTDIR: the steady state of a staff machine
rerun  the warm run's OUTDIR again: every record up to date, only the bundle is rebuilt

varied the warm cache again, on records whose unit names and addresses vary too (more distinct
       characters for the bundle's fonts)

and measures wall time, CPU time (the run's whole process tree), the peak RSS of every process
of the run (``VmHWM`` of each process in the run's session, read from /proc while it runs) and
the bundle's size. CPU per record is set against the Typst form's warm sheet
(:class:`bench.peers.TypstSheet`, measured here). Then it renders a sample of the same records
through the naive path (Jinja2 → WeasyPrint per page, values inline;
:func:`bench.naive.render_naive`) in this process and extrapolates to N. Last, the parent's
memory with ``--bundle`` at ``--memory`` records (10 000 by default; 100 000 takes a while): a
child process does what the batch parent does for the bundle (draws the records' fitted pages
in order, composes every ``BUNDLE_CHUNK``, writes the bundle), on fitted records repeated in
turn, so the workers' cost is not paid for N records.

    .venv/bin/python bench/batch.py [--records 1000] [--jobs 2] [--naive 100] [--memory N,...]

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
    cpu: float = 0.0  # user + system seconds of the whole process tree
    peaks: dict[int, tuple[str, int]] = field(default_factory=dict)  # pid → (role, KiB)
    ticks: dict[int, int] = field(default_factory=dict)  # pid → its CPU clock ticks so far
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


def _ticks(pid: int) -> int | None:
    """User + system CPU clock ticks of process ``pid`` itself (not its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
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
                ticks = _ticks(pid)
                if ticks is not None:
                    run.ticks[pid] = ticks
            time.sleep(0.05)
        run.wall = time.perf_counter() - started
        run.code = proc.returncode
        # Sampled per process: the workers are the forkserver's children, whose CPU time does
        # not reach this process's RUSAGE_CHILDREN. The last 50 ms of each process are missed.
        run.cpu = sum(run.ticks.values()) / os.sysconf("SC_CLK_TCK")
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
    parser.add_argument("--memory", default="10000",
                        help="bundle sizes (records, comma-separated) to measure the parent's "
                             "memory at; 0: none")
    parser.add_argument("--bundle-memory", type=int, help=argparse.SUPPRESS)  # the child
    args = parser.parse_args()
    if args.bundle_memory:
        bundle_memory(args.bundle_memory)
        return

    from bench.applicants import applicants
    from bench.naive import render_naive
    from bench.peers import TypstSheet
    from sheetgen.documents.jobs import RenderOptions
    from sheetgen.documents.plan import make_plan
    from sheetgen.model import parse_applicant
    from sheetgen.rules import load_rules

    rules = load_rules()
    records = list(applicants(rules, args.records))
    work = Path(tempfile.mkdtemp(prefix="sheetgen-bench-batch-"))
    source = work / "applicants.jsonl"
    varied = work / "varied.jsonl"
    for path, items in ((source, records), (varied, applicants(rules, args.records,
                                                                varied=True))):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items),
                        encoding="utf-8")
    env = {**os.environ, "SHEETGEN_CACHE_DIR": str(work / "layout-cache")}
    env.pop("SOURCE_DATE_EPOCH", None)

    runs: dict[str, Run] = {}
    for name, data, outdir in (("cold", source, "out-cold"), ("warm", source, "out-warm"),
                               ("rerun", source, "out-warm"), ("varied", varied, "out-varied")):
        out = work / outdir
        runs[name] = run_batch([str(data), "-o", str(out), "--jobs", str(args.jobs),
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

    # Typst's warm sheet, CPU per record, on the public records (what its form models).
    typst = TypstSheet()
    public = [p for p in plans if p.variant == "public"][:40]
    typst.render(public[0])
    started = time.process_time()
    for plan in public:
        typst.render(plan)
    typst_cpu = (time.process_time() - started) / len(public)

    warm = runs["warm"]
    bundle, varied_bundle = warm.manifest["bundle"], runs["varied"].manifest["bundle"]
    assert isinstance(bundle, dict) and isinstance(varied_bundle, dict)
    pages = int(bundle["pages"])
    size = int(bundle["bytes"])
    per_page = size / pages / 1024
    varied_per_page = int(varied_bundle["bytes"]) / int(varied_bundle["pages"]) / 1024
    outputs = sum(p.stat().st_size for p in (work / "out-warm").glob("*.pdf")
                  if p.name != "bundle.pdf")
    cpu_per_record = warm.cpu / args.records
    rows = [
        ("records (cover + one sheet each)", f"{args.records}, --jobs {args.jobs}"),
        ("wall, cold layout cache", f"{runs['cold'].wall:.1f} s"),
        ("wall, warm layout cache", f"{warm.wall:.1f} s  ({warm.wall / args.records * 1000:.1f}"
                                    " ms per record)"),
        ("wall, re-run (all up to date)", f"{runs['rerun'].wall:.1f} s  (bundle rebuilt)"),
        ("CPU, warm (every process)", f"{warm.cpu:.1f} s  ({cpu_per_record * 1000:.1f} ms per "
                                      f"record; Typst warm sheet {typst_cpu * 1000:.1f} ms: "
                                      f"{cpu_per_record / typst_cpu:.2f}×)"),
        ("peak RSS main / worker / forkserver",
         f"{warm.peak('main') / 1024:.0f} / {warm.peak('worker') / 1024:.0f} / "
         f"{warm.peak('forkserver') / 1024:.0f} MB (cold: "
         f"{runs['cold'].peak('main') / 1024:.0f} / {runs['cold'].peak('worker') / 1024:.0f} / "
         f"{runs['cold'].peak('forkserver') / 1024:.0f})"),
        ("bundle", f"{pages} pages, {size / 1e6:.2f} MB ({per_page:.2f} KB/page)"),
        ("bundle, varied names and addresses", f"{varied_bundle['pages']} pages, "
                                               f"{int(varied_bundle['bytes']) / 1e6:.2f} MB "
                                               f"({varied_per_page:.2f} KB/page)"),
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
    memory = {}
    for count in (int(n) for n in args.memory.split(",") if int(n) > 0):
        memory[count] = measure_bundle_memory(count, env)
        rows.append((f"parent with --bundle, {count} records",
                     f"peak {memory[count][0]:.0f} MB; RSS along the way "
                     f"{' → '.join(f'{mb:.0f}' for mb in memory[count][1])} MB"))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")

    goals = [
        ("bundle, KB/page", per_page, 1.2),
        ("bundle, varied, KB/page", varied_per_page, 2.0),
        (f"batch {args.records}, warm, wall (s)", warm.wall, 12.0),
        ("CPU per record ÷ Typst warm sheet", cpu_per_record / typst_cpu, 1.5),
        *((f"parent peak MB, bundle of {count}", peak, 250.0)
          for count, (peak, _) in memory.items()),
    ]
    print("\ngoals (issue 16):")
    for label, value, limit in goals:
        print(f"  {label:<40} {value:8.2f}  goal ≤ {limit:g}  "
              f"{'met' if value <= limit else 'NOT met'}")
    print(f"(work files in {work})")


def measure_bundle_memory(count: int, env: dict[str, str]) -> tuple[float, list[float]]:
    """Run :func:`bundle_memory` in a fresh process; (peak MB, RSS MB at each fifth).

    ``env`` has the batch runs' layout cache: the layouts come from it, as in a batch parent,
    which never runs WeasyPrint itself (the workers compile)."""
    out = subprocess.run([sys.executable, __file__, "--bundle-memory", str(count)], env=env,
                         check=True, capture_output=True, text=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    return figures["peak"], figures["rss"]


def bundle_memory(count: int) -> None:
    """What the batch parent does for ``--bundle``, for ``count`` records; prints its memory.

    Fits 50 varied records once (the workers' part), then draws ``count`` records into the
    bundle in turn from them (a bookmark each, composing every BUNDLE_CHUNK records, as
    ``sheetgen batch`` does) and writes the bundle to a temporary file.
    """
    from bench.applicants import applicants
    from sheetgen.batch import BUNDLE_CHUNK
    from sheetgen.documents.jobs import RenderOptions, applicant_jobs
    from sheetgen.documents.plan import make_plan
    from sheetgen.model import parse_applicant
    from sheetgen.output import AtomicFile
    from sheetgen.rendering.pdf.document import PdfBuilder
    from sheetgen.rules import load_rules

    rules = load_rules()
    tmp = tempfile.TemporaryDirectory()
    sink = AtomicFile(Path(tmp.name) / "bundle.pdf")
    builder = PdfBuilder(sink=sink)
    fitted = [builder.plan_record(applicant_jobs(make_plan(parse_applicant(data, rules), rules),
                                                 RenderOptions()))
              for data in applicants(rules, 50, varied=True)]
    rss = []
    for n in range(count):
        builder.add_planned(fitted[n % len(fitted)], outline=f"记录 {n + 1}")
        if (n + 1) % BUNDLE_CHUNK == 0:
            builder.flush()
        if (n + 1) % max(1, count // 5) == 0:
            rss.append(_status("VmRSS") / 1024)
    builder.finish(title="bench", subject="bench", identity=b"bench")
    sink.commit()
    tmp.cleanup()
    print(json.dumps({"peak": _status("VmHWM") / 1024, "rss": rss}))


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


if __name__ == "__main__":
    main()
