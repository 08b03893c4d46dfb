"""What the benchmarks compare sheetgen with: the Typst form, the floor, a stage profile.

``TypstSheet``  the default public sheet written in Typst (``bench/typst/sheet.typ``: the same
                fields, labels and bundled fonts), compiled by one reused ``typst.Compiler``
                per record with the record's values as ``sys.inputs``: Typst's best warm case.
                With QR, segno encodes the reference (as sheetgen does) and Typst draws the
                dark-module runs as rectangles.
``profile``     one warm sheet through sheetgen's own stages, each timed on its own.
``floor``       the libraries the path stands on, alone, on the same page: what no
                rearrangement of sheetgen's own code can go below.

The Typst peer needs the ``bench`` extra (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sheetgen.documents.jobs import RenderOptions, sheet_jobs
from sheetgen.documents.plan import FilingPlan
from sheetgen.rendering.pdf.stamp import encode_qr

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def per_call(function: Callable[[], Any], items: int = 1, *, repeat: int = 1) -> float:
    """Seconds per item of ``function`` (which handles ``items`` items), best of ``repeat``."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best / items


class TypstSheet:
    """The Typst form of the default sheet, with one reused compiler (fonts loaded once)."""

    def __init__(self) -> None:
        import typst

        self.compiler = typst.Compiler(str(BENCH / "typst" / "sheet.typ"),
                                       font_paths=[str(REPO / "fonts")],
                                       ignore_system_fonts=True)

    def render(self, plan: FilingPlan, *, qr: bool = True) -> bytes:
        context = sheet_jobs(plan, RenderOptions(cover=False, qr=qr))[0].sheet.context
        inputs = {"data": json.dumps(context, ensure_ascii=False)}
        if qr:
            code = encode_qr(context["sheet"]["ref"])
            inputs["qr"] = json.dumps({"size": code.size, "runs": code.runs})
        pdf: bytes = self.compiler.compile(format="pdf", sys_inputs=inputs)
        return pdf


def cold_typst() -> float:
    """A fresh process: import typst, load the fonts, compile one sheet (seconds)."""
    import subprocess
    import sys

    code = ("import json, typst\n"
            f"c = typst.Compiler({str(BENCH / 'typst' / 'sheet.typ')!r}, "
            f"font_paths=[{str(REPO / 'fonts')!r}], ignore_system_fonts=True)\n"
            f"c.compile(format='pdf', sys_inputs={{'data': {_sample_context()!r}}})\n")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def _sample_context() -> str:
    from sheetgen.documents.example import make_example
    from sheetgen.documents.plan import make_plan
    from sheetgen.model import parse_applicant
    from sheetgen.rules import load_rules

    rules = load_rules()
    plan = make_plan(parse_applicant(make_example(rules, "浙江", "personal"), rules), rules)
    context = sheet_jobs(plan, RenderOptions(cover=False))[0].sheet.context
    return json.dumps(context, ensure_ascii=False)


def profile(plans: Sequence[FilingPlan], options: RenderOptions) -> list[tuple[str, float]]:
    """Seconds per record of each stage of ``render_pdf``, run stage by stage over ``plans``.

    The stages are those of :func:`~sheetgen.rendering.pdf.document.render_pdf`, called here one
    at a time on every record so each is timed alone (warm: layouts compiled beforehand).
    """
    from sheetgen.documents.jobs import applicant_jobs
    from sheetgen.rendering.pdf.document import PdfBuilder, render_planned

    for plan in plans[:3]:  # warm: every layout compiled, every lazy import done
        render_planned(plan, PdfBuilder().plan_record(applicant_jobs(plan, options)))
    jobs = [applicant_jobs(plan, options) for plan in plans]
    builders = [PdfBuilder() for _ in plans]
    planned: list[Any] = [None] * len(plans)
    n = len(plans)

    def fit() -> None:
        for i, builder in enumerate(builders):
            planned[i] = builder.plan_record(jobs[i])

    def draw() -> None:  # content streams and the glyphs they use
        for i, builder in enumerate(builders):
            builder.add_planned(planned[i])

    def compose() -> None:
        for builder in builders:
            builder.flush()

    def subset() -> None:  # the stamp's font dictionaries, one program per face
        for builder in builders:
            builder._composer.fonts.finish(builder._stamper.glyphs)

    def write() -> None:
        for builder in builders:
            builder._composer.fonts.finish = lambda stamp: None  # done by subset() above
            builder._composer.finish(title="t", subject="s")

    return [("fit values (incl. QR encoding)", per_call(fit, n)),
            ("stamp: content streams", per_call(draw, n)),
            ("compose: pages over backgrounds", per_call(compose, n)),
            ("fonts: one subset per face, zlib", per_call(subset, n)),
            ("write the rest (outline, xref)", per_call(write, n))]


def floor(plan: FilingPlan) -> list[tuple[str, float]]:
    """The libraries alone, per sheet: HarfBuzz subsetting the body face to the sheet's
    glyphs (its background's and its values'), and zlib compressing that program: what every
    output document pays once per face. sheetgen's own work (fitting, content streams,
    composing over the background, outline, metadata) comes on top."""
    import zlib

    from sheetgen.documents.jobs import applicant_jobs
    from sheetgen.rendering import fonts
    from sheetgen.rendering.pdf.document import PdfBuilder

    builder = PdfBuilder()
    builder.add_record(applicant_jobs(plan, RenderOptions(cover=False)))
    builder.flush()
    glyphs = set(builder._composer.fonts._glyphs["body"])
    glyphs |= set(builder._stamper.glyphs.layers["body"][0])
    face = fonts.face("body")
    program = face.subset(glyphs)[0]
    repeat = 30
    return [(f"HarfBuzz alone: subset {len(glyphs)} glyphs", per_call(
                 lambda: [face.subset(glyphs) for _ in range(repeat)], repeat, repeat=3)),
            (f"zlib alone: that program ({len(program) // 1024} KB)", per_call(
                 lambda: [zlib.compress(program, 6) for _ in range(repeat)], repeat, repeat=3))]
