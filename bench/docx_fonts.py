"""Benchmark of the fonts embedded in the Word files (issue 17): what they cost per file.

Renders the Word files (cover + one sheet per website) of the bundled examples and of N
generated applicants, with the fonts embedded (as sheetgen does) and without (the embedding
step skipped), in the same run; prints the median size of a sheet and of a cover both ways,
the bytes per distinct character, and the time per file of the whole render and of the
embedding alone (subset with HarfBuzz, rename, obfuscate, rewrite the parts).

    .venv/bin/python bench/docx_fonts.py [--records N]

Not part of the test suite: wall-clock figures are noisy; compare within one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=40, help="generated applicants")
    args = parser.parse_args()

    from bench.applicants import applicants
    from sheetgen.pipeline import plan_input
    from sheetgen.rendering.docx import document
    from sheetgen.rules import load_rules

    sources = [p.read_bytes() for p in sorted((REPO / "examples").glob("*.json"))]
    sources += [json.dumps(a, ensure_ascii=False).encode()
                for a in applicants(load_rules(), args.records)]
    plans = [plan_input(data, source="bench") for data in sources]
    document.render_docx(plans[0])  # warm: templates compiled, fonts loaded

    embed = document.embed_fonts
    embedding: list[float] = []

    def timed(parts: MutableMapping[str, bytes]) -> Any:
        start = time.perf_counter()
        try:
            return embed(parts)
        finally:
            embedding.append(time.perf_counter() - start)

    def run(step: Callable[[MutableMapping[str, bytes]], Any]) -> tuple[list[Any], float]:
        document.embed_fonts = step  # type: ignore[assignment]
        start = time.perf_counter()
        files = [f for plan in plans for f in document.render_docx(plan)]
        return files, time.perf_counter() - start

    bare, bare_time = run(lambda parts: [])
    full, full_time = run(timed)
    document.embed_fonts = embed

    def median(files: list[Any], kind: str) -> float:
        return statistics.median(len(f.data) for f in files if f.name.startswith(kind))

    per_char = [(len(a.data) - len(b.data)) / sum(e.characters for e in a.fonts)
                for a, b in zip(full, bare, strict=True)]
    print(f"{'Word files':44} {len(full)} ({len(plans)} applicants)")
    for kind in ("sheet", "cover"):
        with_fonts, without = median(full, kind), median(bare, kind)
        print(f"{kind + ', median size with fonts':44} {with_fonts / 1000:.1f} KB "
              f"(without {without / 1000:.1f} KB: +{(with_fonts - without) / 1000:.1f} KB)")
    print(f"{'bytes per embedded character, median':44} {statistics.median(per_char):.0f} B")
    print(f"{'render per file, with fonts':44} {1000 * full_time / len(full):.1f} ms "
          f"(without {1000 * bare_time / len(bare):.1f} ms)")
    print(f"{'embedding alone per file, median':44} "
          f"{1000 * statistics.median(embedding):.1f} ms")


if __name__ == "__main__":
    main()
