"""Benchmark of the acceptance rules (issue 24): ``check`` of 10 000 records, rules on vs off.

Generates N applicants (bench/applicants.py: every province, a mix of natures, one website
each) as one JSON Lines document (an array of 10 000 is over the document size limit), and
validates it as ``sheetgen check`` does
(:func:`sheetgen.model.check_document`) twice, in turns, in this one process:

- **off**: today's ``check`` before the acceptance rules (the rules with none);
- **on**: every acceptance rule on in every province (their ``provinces`` lists emptied), the
  run-wide ``contact_shared`` index included, on a fixed filing date.

It reports CPU time (``time.process_time``: on a shared machine the fairer figure) and wall
time, best of ``--repeat`` rounds each, the findings of the "on" run, and the ratio on/off.
Goal: at most 1.3×.

    .venv/bin/python bench/preflight.py [--records 10000] [--repeat 3]

Not part of the test suite: timing figures are noisy; compare figures of one run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # first: bench/ has a bench.py that would hide the package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from bench.applicants import applicants
    from sheetgen.model import check_document
    from sheetgen.rules import load_rules

    rules = load_rules()
    off = rules.with_acceptance(())
    on = rules.with_acceptance(r.model_copy(update={"provinces": ()})
                               for r in rules.acceptance)
    data = "".join(json.dumps(record, ensure_ascii=False) + "\n"
                   for record in applicants(rules, args.records)).encode()
    today = date(2026, 12, 7)
    best = {"off": (float("inf"), float("inf")), "on": (float("inf"), float("inf"))}
    findings: Counter[str] = Counter()
    for _ in range(args.repeat):
        for name, chosen in (("off", off), ("on", on)):
            cpu, wall = time.process_time(), time.perf_counter()
            results = check_document(data, source="bench.jsonl", rules=chosen, today=today)
            assert len(results) == args.records and all(r.ok for r in results), "invalid input"
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            best[name] = (min(best[name][0], cpu), min(best[name][1], wall))
            if name == "on":
                findings = Counter(p.code for r in results for p in (*r.problems, *r.warnings))
    print(f"check of {args.records} records, best of {args.repeat} (one process, in turns)")
    for name, (cpu, wall) in best.items():
        print(f"  rules {name:<3}  {cpu:7.2f} s CPU  {wall:7.2f} s wall  "
              f"{args.records / cpu:8.0f} records/CPU s")
    print(f"  ratio on/off: {best['on'][0] / best['off'][0]:.2f}× CPU, "
          f"{best['on'][1] / best['off'][1]:.2f}× wall (goal ≤ 1.3×)")
    print("  findings with every rule on: " + (", ".join(
        f"{code} {count}" for code, count in findings.most_common()) or "none"))


if __name__ == "__main__":
    main()
