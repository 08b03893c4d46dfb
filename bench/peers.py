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
    stamps: list[bytes] = [b""] * len(plans)
    n = len(plans)

    def fit() -> None:
        for i, builder in enumerate(builders):
            planned[i] = builder.plan_record(jobs[i])

    def draw() -> None:
        for i, builder in enumerate(builders):
            builder.add_planned(planned[i])

    def save() -> None:  # reportlab writes the stamp document, with its font subset
        for i, builder in enumerate(builders):
            stamps[i] = builder._stamper.finish()

    stages: list[tuple[str, float]] = [("fit values (incl. QR encoding)", per_call(fit, n)),
                                       ("reportlab: draw values", per_call(draw, n)),
                                       ("reportlab: save stamp (font subset)", per_call(save, n))]
    rest = _compose_stages(builders, stamps)
    return stages + rest


def _compose_stages(builders: Sequence[Any], stamps: Sequence[bytes]
                    ) -> list[tuple[str, float]]:
    """The compose stages after the stamp is saved; ``builders`` hold their drawn pages."""
    n = len(builders)

    def compose() -> None:
        for i, builder in enumerate(builders):
            builder._composer.add_document(stamps[i], builder._pending)

    def write() -> None:
        for builder in builders:
            builder._composer.finish(title="t", subject="s")

    return [("compose: parse stamp, pages over backgrounds", per_call(compose, n)),
            ("compose: write the rest (outline, xref)", per_call(write, n))]


def floor(plan: FilingPlan) -> list[tuple[str, float]]:
    """The libraries alone, per sheet: reportlab drawing the sheet's text with the body font
    into a fresh document and saving it (its subsetter), pypdf reading that page and writing
    it into a new document. sheetgen's own work (fitting, composing over the background,
    outline, metadata) comes on top."""
    import io

    from pypdf import PdfReader, PdfWriter
    from reportlab.pdfgen.canvas import Canvas

    from sheetgen.rendering import fonts

    names = fonts.register_reportlab()
    values = [v for v in sheet_jobs(plan, RenderOptions(cover=False))[0].sheet.values().values()
              if v]

    def reportlab_alone() -> bytes:
        buffer = io.BytesIO()
        canvas = Canvas(buffer, invariant=1, pageCompression=1)
        canvas.setFont(names.body, 10)
        for n, value in enumerate(values):
            canvas.drawString(50, 800 - 14 * n, value)
        canvas.showPage()
        canvas.save()
        return buffer.getvalue()

    stamp = reportlab_alone()

    def pypdf_alone() -> None:
        writer = PdfWriter()
        writer.add_page(PdfReader(io.BytesIO(stamp)).pages[0])
        writer.write(io.BytesIO())

    repeat = 30
    return [("reportlab alone: draw + save the values", per_call(
                 lambda: [reportlab_alone() for _ in range(repeat)], repeat, repeat=3)),
            ("pypdf alone: read + write that page", per_call(
                 lambda: [pypdf_alone() for _ in range(repeat)], repeat, repeat=3))]
