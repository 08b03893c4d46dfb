"""Benchmark of the check sheets (issue 4): compile once + stamp vs the naive WeasyPrint path.

Fills N generated applicants (one website each) through the library, and renders the same
sheets naively (Jinja2 → WeasyPrint per record, values inline) in the same run; prints the
warm cost per sheet of both, their ratio, PDF bytes per sheet and peak RSS. Then times whole
``sheetgen fill`` processes: with an empty layout cache (a first run) and with a warm one.

    .venv/bin/python bench/bench.py [--records N] [--naive N]

Not part of the test suite: wall-clock figures are noisy; compare ratios from one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200, help="applicants to fill")
    parser.add_argument("--naive", type=int, default=60, help="of those, rendered naively too")
    parser.add_argument("--cold-runs", type=int, default=5)
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="sheetgen-bench-cache-")
    os.environ["SHEETGEN_CACHE_DIR"] = cache

    from bench.applicants import applicants
    from bench.naive import render_naive
    from sheetgen.documents.jobs import RenderOptions
    from sheetgen.documents.plan import make_plan
    from sheetgen.model import parse_applicant
    from sheetgen.rendering.pdf.document import render_pdf
    from sheetgen.rules import load_rules

    rules = load_rules()
    plans = [make_plan(parse_applicant(data, rules), rules)
             for data in applicants(rules, args.records)]
    rows: list[tuple[str, str]] = [("records (one website each)", str(len(plans)))]
    for label, options in (("sheet only", RenderOptions(cover=False)),
                           ("cover + sheet", RenderOptions())):
        started = time.perf_counter()
        for plan in plans:  # the first pass compiles every layout the records need
            render_pdf(plan, options)
        first = time.perf_counter() - started
        started = time.perf_counter()
        sizes = [len(render_pdf(plan, options).pdf) for plan in plans]
        warm = (time.perf_counter() - started) / len(plans)
        sample = plans[:args.naive]
        render_naive(sample[0], options)  # warm WeasyPrint's own caches too
        started = time.perf_counter()
        naive_sizes = [len(render_naive(plan, options)) for plan in sample]
        naive = (time.perf_counter() - started) / len(sample)
        rows += [
            (f"{label}: first pass incl. compiling layouts", f"{first:.2f} s"),
            (f"{label}: warm, per applicant", f"{warm * 1000:.1f} ms"),
            (f"{label}: naive WeasyPrint, per applicant", f"{naive * 1000:.1f} ms "
                                                          f"({len(sample)} records)"),
            (f"{label}: speed-up (naive / warm)", f"{naive / warm:.1f}x"),
            (f"{label}: PDF size, median", f"{statistics.median(sizes) / 1024:.1f} KB "
                                           f"(naive {statistics.median(naive_sizes) / 1024:.1f}"
                                           " KB)"),
        ]
    rows.append(("peak RSS of this process",
                 f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"))
    rows += cold_fill(args.cold_runs)
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def cold_fill(runs: int) -> list[tuple[str, str]]:
    """Whole ``sheetgen fill`` processes: an empty layout cache, then a warm one."""
    sheetgen = str(Path(sys.executable).parent / "sheetgen")
    example = REPO / "examples" / "jiangxi-personal.json"
    times: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(runs):
            for warm in (False, True):
                cache = Path(tmp) / ("warm" if warm else f"cold-{n}")
                env = {**os.environ, "SHEETGEN_CACHE_DIR": str(cache)}
                started = time.perf_counter()
                subprocess.run([sheetgen, "fill", str(example), "-o", f"{tmp}/x.pdf"],
                               env=env, check=True, stdout=subprocess.DEVNULL)
                times[warm].append(time.perf_counter() - started)
    times[True] = times[True][1:] or times[True]  # the first "warm" run filled the cache
    result: list[Any] = []
    for warm, label in ((False, "empty layout cache"), (True, "warm layout cache")):
        result.append((f"cold `sheetgen fill` process, {label}",
                       f"{statistics.median(times[warm]):.2f} s (median of "
                       f"{len(times[warm])})"))
    return result


if __name__ == "__main__":
    main()
