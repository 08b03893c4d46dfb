"""Benchmark of spreadsheet input (issue 13): read + validate 10 000 rows, XLSX vs CSV vs JSONL.

Writes N generated applicants (bench/applicants.py: one website each, so one row each) three
ways — an ``.xlsx`` written by openpyxl, a UTF-8 ``.csv`` with the Chinese headers, and the
same records as JSON Lines — then, for each file, runs a fresh process that reads every
record through :func:`sheetgen.sources.json.iter_records` (which dispatches the spreadsheets
to :mod:`sheetgen.sources.spreadsheet`: cells, header, grouping, JSON values) and validates
it (:func:`sheetgen.model.parse_applicant`), as ``sheetgen check`` and ``batch`` do. It
reports wall and CPU time (``time.process_time``: on a shared, busy machine the CPU time is the
fairer figure, wall time mostly measures the neighbours), records per CPU second and the
process's peak RSS (``VmHWM``), best of ``--repeat`` runs, and the ratio of each spreadsheet
to JSON Lines. Goal: at most 1.5× the JSONL path.

The generated applicants share certificate numbers (the sample IDs of a province), so each
row carries a 分组 (group) value of its own: one row, one applicant, as in the JSONL file.

    .venv/bin/python bench/spreadsheet.py [--records 10000] [--repeat 2]

Not part of the test suite: wall-clock figures are noisy; compare figures of one run.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # first: bench/ itself (on the path as the script's folder) has
                               # a bench.py that would hide the bench package


def write_inputs(folder: Path, count: int) -> dict[str, Path]:
    """The same ``count`` records as .xlsx, .csv and .jsonl files in ``folder``."""
    from openpyxl import Workbook

    from bench.applicants import applicants
    from sheetgen.rules import load_rules
    from sheetgen.sources.columns import COLUMNS
    from sheetgen.sources.spreadsheet import rows_of

    records = list(applicants(load_rules(), count))
    header = [c.header for c in COLUMNS]
    paths = [c.path for c in COLUMNS]
    lines = []
    for record in records:
        for row in rows_of(record):
            row["group"] = record["ref"]
            lines.append([row.get(p, "") for p in paths])
    files = {"xlsx": folder / "applicants.xlsx", "csv": folder / "applicants.csv",
             "jsonl": folder / "applicants.jsonl"}
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("申请人")
    sheet.append(header)
    for line in lines:
        sheet.append(line)
    workbook.save(files["xlsx"])
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(lines)
    files["csv"].write_bytes(out.getvalue().encode("utf-8-sig"))
    files["jsonl"].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                      for r in records), "utf-8")
    return files


def measure(path: Path) -> None:
    """In a fresh process: read and validate every record of ``path``; print the figures."""
    from sheetgen.errors import InvalidDataError
    from sheetgen.model import parse_applicant
    from sheetgen.rules import load_rules
    from sheetgen.sources.json import iter_records
    from sheetgen.sources.spreadsheet import reader

    rules = load_rules()
    started, cpu = time.perf_counter(), time.process_time()
    valid = invalid = 0
    for record in iter_records([str(path)], spreadsheets=reader()):
        try:
            if record.error is not None:
                raise record.error
            parse_applicant(record.value, rules)
            valid += 1
        except InvalidDataError:
            invalid += 1
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    status = Path("/proc/self/status").read_text()
    peak_kb = int(status.split("VmHWM:")[1].split()[0])
    print(json.dumps({"valid": valid, "invalid": invalid, "seconds": seconds, "cpu": cpu,
                      "peak_mb": peak_kb / 1024}))


def run(path: Path) -> dict[str, float]:
    proc = subprocess.run([sys.executable, __file__, "--measure", str(path)],
                          capture_output=True, text=True, check=True, cwd=REPO)
    result: dict[str, float] = json.loads(proc.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return
    with tempfile.TemporaryDirectory(prefix="sheetgen-bench-sheets-") as tmp:
        files = write_inputs(Path(tmp), args.records)
        best: dict[str, dict[str, float]] = {}
        for _ in range(args.repeat):  # interleaved, so a noisy moment hits every format
            for kind, path in files.items():
                figures = run(path)
                if kind not in best or figures["cpu"] < best[kind]["cpu"]:
                    best[kind] = figures
        print(f"{args.records} records, one row each; read + validate, best of {args.repeat}")
        base = best["jsonl"]["cpu"]
        for kind in ("jsonl", "csv", "xlsx"):
            figures, size = best[kind], files[kind].stat().st_size / 1e6
            assert figures["invalid"] == 0 and figures["valid"] == args.records, figures
            print(f"{kind:<6} {size:5.1f} MB  wall {figures['seconds']:6.1f} s  "
                  f"CPU {figures['cpu']:5.1f} s  "
                  f"{args.records / figures['cpu']:5.0f} records/CPU s  "
                  f"peak RSS {figures['peak_mb']:4.0f} MB  "
                  f"{figures['cpu'] / base:4.2f}x JSONL (CPU)")


if __name__ == "__main__":
    main()
