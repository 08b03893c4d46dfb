"""Page jobs: what to print for one applicant, in print order, whatever the output format.

A :class:`PageJob` is one template with its context (the cover, or one website's check sheet,
the latter ``copies`` times). :func:`applicant_jobs` lists an applicant's jobs under the
:class:`RenderOptions`, the one definition of the choices beyond the data that change what is
printed; the PDF (:mod:`sheetgen.rendering.pdf`) and the Word files (:mod:`sheetgen.rendering.docx`)
both render these jobs, so they print the same pages with the same text.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sheetgen.documents.context import SheetContext, reference, sheet_context
from sheetgen.documents.cover import MAX_PAGES as COVER_PAGES
from sheetgen.documents.cover import cover_context
from sheetgen.documents.plan import FilingPlan

if TYPE_CHECKING:  # a template set is chosen by the caller; documents never load one
    from sheetgen.rendering.templating import TemplateSet


@dataclass(frozen=True)
class RenderOptions:
    """How to render: the choices of ``sheetgen fill`` beyond the data."""

    provider: str | None = None
    qr: bool = True
    cover: bool = True
    copies: int = 1
    templates: TemplateSet | None = None
    pdfa: bool = False  # mark the PDF as PDF/A-2b (archival)

    def identity(self) -> dict[str, Any]:
        """The options as plain data, for a key over everything that changes an output (the
        template set is keyed by its own digest, elsewhere)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != "templates"}


@dataclass(frozen=True)
class PageJob:
    """One logical page (or pages, for a cover) to produce from a template."""

    title: str
    sheet: SheetContext
    max_pages: int = 1
    copies: int = 1


def sheet_jobs(plan: FilingPlan, options: RenderOptions) -> list[PageJob]:
    """The page jobs of one applicant: one check sheet per website (× copies)."""
    jobs = []
    for sheet in plan.sheets:
        context = sheet_context(plan, sheet, provider=options.provider, qr=options.qr)
        jobs.append(PageJob(f"网站 {sheet.index + 1}：{sheet.website.name}", context,
                            copies=options.copies))
    return jobs


def applicant_jobs(plan: FilingPlan, options: RenderOptions) -> list[PageJob]:
    """Every page job of one applicant, in print order: the cover, then the sheets."""
    jobs = sheet_jobs(plan, options)
    if options.cover:
        jobs.insert(0, PageJob("备案材料清单", cover_context(plan), max_pages=COVER_PAGES))
    return jobs


SUBJECT = "网站备案信息真实性核验单"


def document_title(plan: FilingPlan) -> str:
    return f"{plan.applicant.host.name} {SUBJECT}（{reference(plan.applicant)}）"
