"""One applicant → named output files: the record pipeline that fill, batch and serve share.

This is the only place that turns a filing plan into files: it decides which engines run for
the requested formats, names the files, and gathers what a report says about them. The callers
differ only in where records come from and where results go:

- ``sheetgen fill`` (:func:`fill`) reads one input, calls :func:`produce` and writes the files;
- ``sheetgen batch`` (:mod:`sheetgen.batch`) calls :func:`produce` in its worker processes and
  also keeps each record's fitted pages for the bundle;
- :func:`sheetgen.render` (the library API, :mod:`sheetgen.api`) and ``sheetgen serve`` return
  the bytes.

Stages (see ``docs/how-it-works.md``)::

    bytes ─ sources ─▶ JSON ─ model ─▶ Applicant ─ documents.plan ─▶ FilingPlan
      ─ documents.jobs ─▶ page jobs ─┬─ rendering.pdf  ─▶ PDF   (compile once, stamp many)
                                     └─ rendering.docx ─▶ DOCX
      ─ pipeline ─▶ named files ─ output ─▶ disk (atomic) or stdout

Names: a result is named from a *stem*: ``<stem>.pdf`` and ``<stem>-<name>.docx`` for the
Word files, ``<name>`` the document kind's suffix (:mod:`sheetgen.documents.kinds`: ``cover``,
``sheet1`` … numbered per website for a per-website kind). :func:`output_stem` is the one
rule that makes a stem from a record's data; :func:`docx_name` the one rule for the Word files
beside it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sheetgen.documents.context import reference
from sheetgen.documents.example import applicant_warnings
from sheetgen.documents.jobs import RenderOptions, applicant_jobs
from sheetgen.documents.plan import FilingPlan, make_plan
from sheetgen.errors import Problem, problem_fields
from sheetgen.model import Applicant, accept, parse_applicant
from sheetgen.output import check_formats, output_file, safe_stem, write_atomic, write_stdout
from sheetgen.rendering.fields import FieldFit
from sheetgen.rules import Rules, load_rules
from sheetgen.sources.json import read_document

if TYPE_CHECKING:  # the engines are imported only when a format needs them
    from sheetgen.rendering.docx.document import DocxFile
    from sheetgen.rendering.pdf.document import PlannedJob, Rendered

# --- names -----------------------------------------------------------------------------------

def output_stem(value: object, position: int | None = None) -> str:
    """A record's output file stem, from its data as it came in (valid or not).

    ``<ref>`` when the record has one. Otherwise, in a batch (``position``: the record's 1-based
    place in it) ``<position>-<host name>``, which stays unique and in input order; for a single
    applicant (``fill``) ``<host name>-<reference>``, where the reference is the content hash
    printed on the sheet (so this form needs a valid record). Every part goes through
    :func:`~sheetgen.output.safe_stem`, so no name made from data leaves the output folder.
    """
    if isinstance(value, Applicant):
        if value.ref:
            return safe_stem(value.ref)
        return f"{safe_stem(value.host.name)}-{reference(value)}"
    record: Mapping[str, Any] = value if isinstance(value, Mapping) else {}
    ref = record.get("ref")
    if isinstance(ref, str) and ref.strip():
        return safe_stem(ref, fallback=str(position or "sheetgen"))
    host = record.get("host")
    name = host.get("name") if isinstance(host, Mapping) else None
    name = name if isinstance(name, str) else ""
    return f"{position}-{safe_stem(name, 'applicant')}" if position else safe_stem(name)


def docx_name(stem: str, name: str) -> str:
    """The file name of a Word file beside ``<stem>.pdf``: ``<stem>-sheet1.docx``."""
    return f"{stem}-{name}.docx"


# --- producing -------------------------------------------------------------------------------

@dataclass(frozen=True)
class OutputFile:
    """One produced file: its name (relative to the output folder), format and bytes."""

    name: str
    format: str
    data: bytes


@dataclass
class Produced:
    """What the pipeline made of one applicant: the files, and what a report says of them.

    ``planned`` holds the PDF's fitted pages (:class:`~sheetgen.rendering.pdf.document.PlannedJob`)
    when there is a PDF or a bundle to draw them into.
    """

    plan: FilingPlan
    files: list[OutputFile]
    rendered: Rendered | None = None          # with a PDF
    docx: list[DocxFile] = field(default_factory=list)
    planned: list[PlannedJob] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # values still `sheetgen example`'s
    # Every document printed, in print order: its kind, name, title, copies, whether it
    # carries a code (PageJob.document); a batch's manifest lists them.
    documents: list[dict[str, object]] = field(default_factory=list)

    @property
    def variant(self) -> str:
        return self.plan.variant

    @property
    def reference(self) -> str:
        return reference(self.plan.applicant)

    @property
    def pdf(self) -> bytes | None:
        """The PDF, when it was asked for."""
        return self.rendered.pdf if self.rendered is not None else None

    @property
    def pages(self) -> int | None:
        """The PDF's page count (None when only Word files were made)."""
        if self.rendered is not None:
            return self.rendered.pages
        if self.planned:
            return sum(len(job.pages) * job.copies for job in self.planned)
        return None

    @property
    def fits(self) -> list[FieldFit]:
        """How every value fitted: the PDF's fit when there is a PDF, else the Word files'."""
        if self.planned:
            return [fit for job in self.planned for fit in job.fits]
        return [fit for document in self.docx for fit in document.fits]

    def report(self, *, source: str = "", outputs: Collection[str] | None = None
               ) -> dict[str, Any]:
        """The ``fill --json`` document: outputs, pages, variant, a fit report per field."""
        body: dict[str, Any] = (self.rendered.report() if self.rendered is not None
                                else {"variant": self.variant})
        if self.docx:
            body["docx"] = [d.report() for d in self.docx]
        names = list(outputs) if outputs is not None else [f.name for f in self.files]
        return {"ok": True, "source": source, "outputs": names, **body, **problem_fields(()),
                "warnings": [w.as_dict() for w in self.warnings]}


def produce(plan: FilingPlan, options: RenderOptions, *, formats: Collection[str],
            stem: str, keep_pages: bool = False, warn_rules: Rules | None = None) -> Produced:
    """Render ``plan`` in ``formats`` (of :data:`~sheetgen.output.FORMATS`, possibly none) as
    files named from ``stem``. Every format is rendered before anything is returned, so a
    failure (does not fit, a font or template problem) yields no file at all.

    Whether a value fits is decided once, against the sheet's field map (the compiled PDF
    layout), whatever the formats: a value too long for it is refused for the Word files too,
    and one that fits it fits them (:func:`~sheetgen.rendering.docx.document.render_docx`,
    ``verified``). ``keep_pages``: keep the fitted pages even without a PDF (a bundle draws
    them). ``warn_rules``: the rules the plan was made under, to warn (``warnings``) about
    values still those of ``sheetgen example`` (fill and the library API; a batch does not).
    """
    from sheetgen.rendering.pdf.document import PdfBuilder, render_planned

    produced = Produced(plan, [], warnings=[] if warn_rules is None else applicant_warnings(
        plan.applicant, warn_rules))
    if not formats and not keep_pages:
        return produced
    builder = PdfBuilder(options.templates)
    jobs = applicant_jobs(plan, options)
    produced.documents = [job.document() for job in jobs]
    planned = builder.plan_record(jobs)
    if "pdf" in formats or keep_pages:  # not for Word files alone: they have no PDF pages
        produced.planned = planned
    if "pdf" in formats:
        produced.rendered = render_planned(plan, produced.planned, builder, pdfa=options.pdfa)
        produced.files.append(OutputFile(f"{stem}.pdf", "pdf", produced.rendered.pdf))
    if "docx" in formats:
        from sheetgen.rendering.docx.document import render_docx

        produced.docx = render_docx(plan, options, verified=True)
        produced.files += [OutputFile(docx_name(stem, d.name), "docx", d.data)
                           for d in produced.docx]
    return produced


# --- one applicant from input bytes (fill) -------------------------------------------------

def plan_input(data: bytes, *, source: str, rules: Rules | None = None,
               variant: str = "auto", today: date | None = None) -> FilingPlan:
    """Validate input bytes as one applicant and plan it (InvalidDataError lists all problems,
    also the acceptance rules' errors on the filing date ``today``)."""
    rules = rules or load_rules()
    applicant = parse_applicant(read_document(data, source=source), rules)
    accept(applicant, rules, today)
    return make_plan(applicant, rules, variant=variant)


@dataclass
class FillResult:
    """What ``fill`` wrote, for the human line or the ``--json`` document."""

    source: str
    outputs: list[str]
    produced: Produced

    def as_dict(self) -> dict[str, Any]:
        return self.produced.report(source=self.source, outputs=self.outputs)


def fill(data: bytes, *, source: str, output: str | None = None, rules: Rules | None = None,
         variant: str = "auto", options: RenderOptions | None = None,
         formats: Collection[str] = ("pdf",), today: date | None = None) -> FillResult:
    """Render one applicant to ``output`` (a path, ``-`` for stdout, None for the default name).

    ``formats``: ``pdf`` writes the PDF at ``output``; ``docx`` writes one Word file per
    website sheet and one for the cover beside it (``out-sheet1.docx``, ``out-cover.docx``).
    The files are written only once every format has rendered, so a failure writes nothing.
    ``today``: the filing date of the acceptance rules (their errors fail it; their warnings
    are in the report).
    """
    check_formats(formats, output)
    given = output_file(output) if output not in (None, "-") else None  # before any work
    rules = rules or load_rules()
    plan = plan_input(data, source=source, rules=rules, variant=variant, today=today)
    path = given or Path(f"{output_stem(plan.applicant)}.pdf")
    produced = produce(plan, options or RenderOptions(), formats=formats,
                       stem=path.stem, warn_rules=rules)
    produced.warnings[:0] = accept(plan.applicant, rules, today)
    if output == "-":
        assert produced.pdf is not None  # check_formats: stdout takes the PDF only
        write_stdout(produced.pdf)
        return FillResult(source, ["-"], produced)
    written = []
    for item in produced.files:
        target = path if item.format == "pdf" else path.with_name(item.name)
        write_atomic(target, item.data)
        written.append(str(target))
    return FillResult(source, written, produced)
