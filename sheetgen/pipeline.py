"""One applicant from input bytes to output files: the library function behind ``sheetgen fill``.

Reads and validates the applicant (:mod:`sheetgen.sources.json`, :mod:`sheetgen.model`), plans it
under the rules (:mod:`sheetgen.documents.plan`), renders it (:mod:`~.pdf.document` for the PDF,
:mod:`sheetgen.render.docx.document` for Word files) and writes the results atomically
(:mod:`sheetgen.output`), only once every format has rendered, so a failure writes nothing.
Every failure is a :class:`~sheetgen.errors.SheetgenError` with its exit code.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sheetgen.documents.context import reference
from sheetgen.documents.example import example_warnings
from sheetgen.documents.plan import FilingPlan, make_plan
from sheetgen.errors import Problem
from sheetgen.model import Applicant, parse_applicant
from sheetgen.output import check_formats, output_file, safe_stem, write_atomic, write_stdout
from sheetgen.render.docx.document import DocxFile, docx_path, render_docx
from sheetgen.render.pdf.document import Rendered, RenderOptions, render_pdf
from sheetgen.rules import Rules, load_rules
from sheetgen.sources.json import read_document


@dataclass
class FillResult:
    """What ``fill`` produced, for the human line or the ``--json`` document."""

    source: str
    outputs: list[str]
    rendered: Rendered | None  # the PDF, unless only Word files were asked for
    docx: list[DocxFile] = field(default_factory=list)
    variant: str = ""
    warnings: list[Problem] = field(default_factory=list)  # values still `sheetgen example`'s

    def as_dict(self) -> dict[str, Any]:
        report: dict[str, Any] = (self.rendered.report() if self.rendered
                                  else {"variant": self.variant})
        if self.docx:
            report["docx"] = [d.report() for d in self.docx]
        return {"ok": True, "source": self.source, "outputs": self.outputs, **report,
                "errors": [], "warnings": [w.as_dict() for w in self.warnings]}


def plan_input(data: bytes, *, source: str, rules: Rules | None = None,
               variant: str = "auto") -> FilingPlan:
    """Validate input bytes as one applicant and plan it (InvalidDataError lists all problems)."""
    rules = rules or load_rules()
    applicant = parse_applicant(read_document(data, source=source), rules)
    return make_plan(applicant, rules, variant=variant)


def default_name(applicant: Applicant) -> str:
    """``<ref>.pdf``, else a safe name built from the host name (contract.md §3)."""
    if applicant.ref:
        return f"{safe_stem(applicant.ref)}.pdf"
    return f"{safe_stem(applicant.host.name)}-{reference(applicant)}.pdf"


def fill(data: bytes, *, source: str, output: str | None = None, rules: Rules | None = None,
         variant: str = "auto", options: RenderOptions | None = None,
         formats: Collection[str] = ("pdf",)) -> FillResult:
    """Render one applicant to ``output`` (a path, ``-`` for stdout, None for the default name).

    ``formats``: ``pdf`` writes the PDF at ``output``; ``docx`` writes one Word file per
    website sheet and one for the cover beside it (``out-sheet1.docx``, ``out-cover.docx``).
    """
    check_formats(formats, output)
    given = output_file(output) if output not in (None, "-") else None  # before any work
    rules = rules or load_rules()
    plan = plan_input(data, source=source, rules=rules, variant=variant)
    warnings = example_warnings(read_document(data, source=source), rules, plan.applicant.province,
                                plan.applicant.host.nature.code)
    rendered = render_pdf(plan, options) if "pdf" in formats else None
    documents = render_docx(plan, options) if "docx" in formats else []
    if output == "-" and rendered is not None:
        write_stdout(rendered.pdf)
        return FillResult(source, ["-"], rendered, variant=plan.variant, warnings=warnings)
    path = given or Path(default_name(plan.applicant))
    outputs = []
    if rendered is not None:
        write_atomic(path, rendered.pdf)
        outputs.append(str(path))
    for document in documents:
        target = docx_path(path, document.name)
        write_atomic(target, document.data)
        outputs.append(str(target))
    return FillResult(source, outputs, rendered, documents, plan.variant, warnings)
