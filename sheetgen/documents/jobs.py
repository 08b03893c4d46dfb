"""Page jobs: what to print for one applicant, in print order, whatever the output format.

A :class:`PageJob` is one document of a registered kind (:mod:`~sheetgen.documents.kinds`):
its template with its context, its title (the bookmark), page limit, copies and Word file
name. :func:`applicant_jobs` asks the registry which kinds this applicant gets, in their print
order, and lists their jobs under the
:class:`RenderOptions`, the one definition of the choices beyond the data that change what is
printed; the PDF (:mod:`sheetgen.rendering.pdf`) and the Word files (:mod:`sheetgen.rendering.docx`)
both render these jobs, so they print the same pages with the same text.
"""

from __future__ import annotations

from dataclasses import dataclass

from sheetgen.documents.context import SheetContext, reference
from sheetgen.documents.kinds import SHEET, DocumentKind, printed_kinds
from sheetgen.documents.options import RenderOptions
from sheetgen.documents.plan import FilingPlan
from sheetgen.errors import UsageError

__all__ = ["SUBJECT", "PageJob", "RenderOptions", "applicant_jobs", "document_title",
           "sheet_jobs"]


@dataclass(frozen=True)
class PageJob:
    """One document (one page, or a few for a cover) to produce from a template."""

    title: str
    sheet: SheetContext
    max_pages: int = 1
    copies: int = 1
    kind: str = "sheet"        # the registry name of its document kind
    name: str = ""             # its Word file's name part (``cover``, ``sheet2``)
    code: bool = False         # it carries a sheet code (not with --no-qr): receive expects
                               # it back

    def document(self) -> dict[str, object]:
        """What a manifest says of this document (``receive`` reads it back)."""
        return {"kind": self.kind, "name": self.name, "title": self.title,
                "copies": self.copies, "code": self.code}


def applicant_jobs(plan: FilingPlan, options: RenderOptions) -> list[PageJob]:
    """Every page job of one applicant, in print order: each registered kind that applies
    (the cover, then the sheets, with the bundled kinds), one per website for a per-website
    kind; kinds printed as originals as many times as ``options`` says for them
    (:meth:`RenderOptions.originals_of`)."""
    jobs = []
    for kind in printed_kinds(plan, options):
        for number, sheet in ([(s.index + 1, s) for s in kind.sheets(plan)]
                              if kind.per_website else [(None, None)]):
            context = kind.context(plan, sheet, options, kind)
            jobs.append(PageJob(kind.job_title(plan, sheet), context, max_pages=kind.max_pages,
                                copies=_copies(kind, options),
                                kind=kind.name, name=kind.file_name(number),
                                code=kind.code and options.qr))
    if not jobs:
        raise UsageError(
            "nothing to print: the cover is left out (--no-cover) and the check sheet too "
            "(the electronic flow, or --no-check-sheet) / 没有要打印的材料",
            hint="leave out --no-cover, or give --check-sheet to print the check sheet")
    return jobs


def _copies(kind: DocumentKind, options: RenderOptions) -> int:
    """How many of ``kind`` to print: a kind printed as originals (the sheet) ``--copies`` or
    the provider's ``[originals]`` count; another (a letter) once, unless ``[originals]``
    names it."""
    if kind.originals:
        return options.originals_of(kind.name)
    return dict(options.originals).get(kind.name, 1)


def sheet_jobs(plan: FilingPlan, options: RenderOptions) -> list[PageJob]:
    """The check sheets' jobs alone (one per website, × copies)."""
    return [job for job in applicant_jobs(plan, options) if job.kind == SHEET.name]


SUBJECT = "网站备案信息真实性核验单"


def document_title(plan: FilingPlan) -> str:
    return f"{plan.applicant.host.name} {SUBJECT}（{reference(plan.applicant)}）"
