"""Benchmark of ``sheetgen receive`` (issue 18): pages per second at 200 and 300 dpi.

Builds signed sheets (tests/scans.py: the examples' sheets, inked, turned by 0/90/180/270°
plus up to 3° of skew, with noise), saves them as a document feeder would (one multi-page PDF
of JPEG pages, and separate JPEG files) at 200 and at 300 dpi, and times
:func:`sheetgen.receive.receive` over each set in this process, after one warm-up page (rules,
layouts and their blank pages are loaded once per run). Every page's flags are checked
against the ink drawn, so a fast wrong answer does not count.

    .venv/bin/python bench/receive.py [--pages 12]

Not part of the test suite: wall-clock figures are noisy; compare figures of one run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sheetgen-bench-receive-") as tmp:
        os.environ.setdefault("SHEETGEN_CACHE_DIR", str(Path(tmp) / "cache"))
        run(Path(tmp), args.pages)


def run(tmp: Path, count: int) -> None:
    from sheetgen.receive import receive
    from tests.scans import ink, jpeg, rendered_sheets, scan, scanner_pdf

    sheets = [sheet for name in ("jiangxi-personal", "beijing-unit-two-websites",
                                 "guangdong-personal")
              for sheet in rendered_sheets(name)[1]]
    plans = []
    for i in range(count):
        sheet = sheets[i % len(sheets)]
        signed = i % 4 != 3
        plans.append((sheet, signed, (0, 90, 180, 270)[i % 4] + (i % 7 - 3)))
    receive([_save(tmp / "warm.jpg", scan(ink(plans[0][0]), dpi=200))])  # load once
    print(f"{'scans':38} {'pages':>5} {'seconds':>8} {'pages/s':>8}  correct")
    for dpi in (200, 300):
        images = [jpeg(scan(ink(sheet, sign=signed, seed=i), angle=angle, dpi=dpi, seed=i))
                  for i, (sheet, signed, angle) in enumerate(plans)]
        pdf = scanner_pdf(tmp / f"feeder-{dpi}.pdf", images, dpi=dpi)
        jpegs = [_save(tmp / f"page-{dpi}-{i}.jpg", image) for i, image in enumerate(images)]
        for label, files in ((f"{dpi} dpi, one feeder PDF (JPEG pages)", [pdf]),
                             (f"{dpi} dpi, JPEG files", jpegs)):
            start = time.perf_counter()
            receipt = receive(files)
            elapsed = time.perf_counter() - start
            correct = sum(1 for page, (_, signed, _) in zip(receipt.pages, plans, strict=True)
                          if page.matched and page.signed is signed)
            print(f"{label:38} {len(receipt.pages):5} {elapsed:8.2f} "
                  f"{len(receipt.pages) / elapsed:8.2f}  {correct}/{len(plans)}")


def _save(path: Path, image: object) -> Path:
    image.save(path, quality=75)  # type: ignore[attr-defined]
    return path


if __name__ == "__main__":
    main()
