"""The naive path the benchmarks compare with: Jinja2 then WeasyPrint per record, values inline.

The same templates and context as sheetgen, rendered the obvious way, one whole WeasyPrint
layout and PDF per page job: no compiled layouts, no fitting, no one-page guarantee. It uses
sheetgen's own WeasyPrint set-up (``layout._weasyprint_render``: fonts parsed once, the same
URL fetcher), so the comparison measures the design, not the configuration.
"""

from __future__ import annotations

import io

from pypdf import PdfWriter

from sheetgen.documents.jobs import RenderOptions, applicant_jobs
from sheetgen.documents.plan import FilingPlan
from sheetgen.rendering.pdf.layout import _weasyprint_render
from sheetgen.rendering.templating import bundled


def render_naive(plan: FilingPlan, options: RenderOptions | None = None) -> bytes:
    """One applicant's pages, each rendered by WeasyPrint with its values, merged by pypdf."""
    options = options or RenderOptions()
    templates = options.templates or bundled()
    writer = PdfWriter()
    for job in applicant_jobs(plan, options):
        html = templates.render(job.sheet.template, job.sheet.context)
        pdf = _weasyprint_render(html, templates.root, job.sheet.template).write_pdf()
        for _ in range(job.copies):
            writer.append(io.BytesIO(pdf))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
