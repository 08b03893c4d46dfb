"""Render a filing plan to PDF: the pipeline of compile once, stamp many (design.md §2).

:class:`PdfBuilder` turns *page jobs* (a template, its context and where each value came from)
into one PDF: each job's layout is compiled once per process (:mod:`~.layout`), its values
are fitted and stamped (:mod:`sheetgen.rendering.pdf.stamp`), and the pages are composed over shared
backgrounds (:mod:`~.compose`). A record is added atomically: all of its pages are
fitted before any is drawn, so a record that does not fit leaves nothing behind in a bundle.

Fitting and drawing are two steps: :meth:`PdfBuilder.plan_record` fits a record's values into
:class:`PlannedJob` s (plain, picklable data: the layout and each page's :class:`PagePlan`),
:meth:`PdfBuilder.add_planned` draws them. ``sheetgen batch`` fits each record once in a
worker process and sends the plans to the parent, which only draws them into the bundle.

:func:`render_pdf` is the one-applicant entry point behind ``sheetgen fill``. The benchmarks'
naive path (Jinja2 → WeasyPrint per record) is in ``bench/naive.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sheetgen.documents.context import reference
from sheetgen.documents.jobs import SUBJECT, PageJob, RenderOptions, applicant_jobs, document_title
from sheetgen.documents.plan import FilingPlan
from sheetgen.rendering.fields import FieldFit, check_fonts
from sheetgen.rendering.pdf.compose import Composer, Sink, source_date
from sheetgen.rendering.pdf.layout import CompiledLayout, get_layout
from sheetgen.rendering.pdf.stamp import PagePlan, StampedPage, Stamper
from sheetgen.rendering.templating import TemplateSet, bundled


@dataclass
class JobResult:
    """Where a job's pages landed and how its values fitted."""

    title: str
    template: str
    first_page: int
    pages: int
    fits: list[FieldFit] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "template": self.template, "page": self.first_page + 1,
                "pages": self.pages, "fit": [f.as_dict() for f in self.fits]}


@dataclass(frozen=True)
class PlannedJob:
    """A page job with its values fitted, ready to draw: plain data that pickles."""

    title: str
    template: str
    copies: int
    layout: CompiledLayout
    pages: tuple[PagePlan, ...]  # one per page of the layout

    @property
    def fits(self) -> list[FieldFit]:
        return [fit for plan in self.pages for fit in plan.fits]


class PdfBuilder:
    """Collects records (lists of page jobs) into one PDF; the bundle and the single file alike.

    With ``sink`` (a binary file) the PDF is written to it as it is composed, at each
    :meth:`flush`, and :meth:`finish` writes the rest: memory stays flat however many
    records are added (see :mod:`~.compose`). Without, :meth:`finish` returns the PDF.
    """

    def __init__(self, templates: TemplateSet | None = None, *,
                 sink: Sink | None = None) -> None:
        source_date()  # a malformed SOURCE_DATE_EPOCH is a usage error, before any work
        self.templates = templates or bundled()
        self._stamper = Stamper()  # one for the document: its fonts are the document's
        self._composer = Composer(sink)
        # Stamped, not yet composed: layout, page of the layout, the page's object number,
        # the stamp.
        self._pending: list[tuple[CompiledLayout, int, int, StampedPage]] = []
        self.page_count = 0

    @property
    def size(self) -> int:
        """Bytes of the PDF written so far (all of it after :meth:`finish`)."""
        return self._composer.out.size

    @property
    def sha256(self) -> str:
        """SHA-256 of the PDF written so far (all of it after :meth:`finish`)."""
        return self._composer.out.sha256

    def plan_record(self, jobs: Sequence[PageJob]) -> list[PlannedJob]:
        """Fit every value of one record's pages, drawing nothing.

        Raises FontError (a character no font has) or DoesNotFitError (a value too long even
        at its minimum size) for the whole record.
        """
        planned = []
        check_fonts(*(job.sheet for job in jobs))
        for job in jobs:
            layout = get_layout(self.templates, job.sheet.template, job.sheet.context,
                                max_pages=job.max_pages)
            values = job.sheet.values()
            planned.append(PlannedJob(job.title, job.sheet.template, job.copies, layout, tuple(
                self._stamper.plan(layout, page, values, job.sheet.paths)
                for page in range(layout.page_count))))
        return planned

    def add_planned(self, planned: Sequence[PlannedJob], *, outline: str | None = None
                    ) -> list[JobResult]:
        """Draw one record's planned pages (each job ``copies`` times) after those added so far.

        With ``outline``, the record gets a top-level bookmark and its jobs nest below it.
        """
        bookmarks = self._composer.outline
        nested = outline is not None
        results = []
        for job in planned:
            first = self.page_count
            numbers = []
            for _ in range(job.copies):
                for page, plan in enumerate(job.pages):
                    numbers.append(self._composer.reserve_page())
                    self._pending.append((job.layout, page, numbers[-1],
                                          self._stamper.draw(plan)))
                    self.page_count += 1
            if outline is not None:  # the record's bookmark, before its jobs' ones
                bookmarks.add(outline, numbers[0], child=False)
                outline = None
            bookmarks.add(job.title, numbers[0], child=nested)
            results.append(JobResult(job.title, job.template, first, self.page_count - first,
                                     job.fits))
        return results

    def add_record(self, jobs: Sequence[PageJob], *, outline: str | None = None
                   ) -> list[JobResult]:
        """Add one record's pages; raises (adding nothing) if any value fails to fit."""
        return self.add_planned(self.plan_record(jobs), outline=outline)

    def finish(self, *, title: str, subject: str, identity: bytes = b"",
               metadata: Mapping[str, str] | None = None, pdfa: bool = False) -> bytes:
        """The PDF of everything added, in order (PDF/A-2b with ``pdfa``)."""
        self.flush()
        return self._composer.finish(title=title, subject=subject, metadata=metadata,
                                     identity=identity, pdfa=pdfa,
                                     stamp_fonts=self._stamper.glyphs)

    def flush(self) -> None:
        """Compose and write out the pages stamped so far.

        A long bundle flushes every few hundred records, so that its pages are written out
        (with a sink) instead of held. The fonts are the whole document's whatever the
        flushes: their objects are written by :meth:`finish`, with every glyph used.
        """
        self._composer.add_pages(self._pending)
        self._pending = []


@dataclass(frozen=True)
class Rendered:
    """A rendered applicant: the PDF and what is in it."""

    pdf: bytes
    pages: int
    variant: str
    jobs: list[JobResult]

    def report(self) -> dict[str, Any]:
        return {"pages": self.pages, "variant": self.variant,
                "sheets": [job.as_dict() for job in self.jobs]}


def render_pdf(plan: FilingPlan, options: RenderOptions | None = None) -> Rendered:
    """One applicant's PDF: the cover checklist, then one check sheet per website."""
    options = options or RenderOptions()
    builder = PdfBuilder(options.templates)
    return render_planned(plan, builder.plan_record(applicant_jobs(plan, options)), builder,
                          pdfa=options.pdfa)


def render_planned(plan: FilingPlan, planned: Sequence[PlannedJob],
                   builder: PdfBuilder | None = None, *, pdfa: bool = False) -> Rendered:
    """One applicant's PDF from its already fitted pages (see :meth:`PdfBuilder.plan_record`)."""
    builder = builder or PdfBuilder()
    jobs = builder.add_planned(planned)
    pdf = builder.finish(title=document_title(plan), subject=SUBJECT,
                         identity=reference(plan.applicant).encode(), pdfa=pdfa)
    return Rendered(pdf, builder.page_count, plan.variant, jobs)
