"""One applicant from input bytes to output files: the library function behind ``sheetgen fill``.

Reads and validates the applicant (:mod:`sheetgen.sources`, :mod:`sheetgen.model`), plans it
under the rules (:mod:`sheetgen.plan`), renders it (:mod:`sheetgen.render`) and writes the
result atomically (:mod:`sheetgen.output`). Every failure is a
:class:`~sheetgen.errors.SheetgenError` with its exit code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sheetgen.context import reference
from sheetgen.model import Applicant, parse_applicant
from sheetgen.output import safe_stem, write_atomic, write_stdout
from sheetgen.plan import FilingPlan, make_plan
from sheetgen.render import Rendered, RenderOptions, render_pdf
from sheetgen.rules import Rules, load_rules
from sheetgen.sources import read_document


@dataclass
class FillResult:
    """What ``fill`` produced, for the human line or the ``--json`` document."""

    source: str
    outputs: list[str]
    rendered: Rendered

    def as_dict(self) -> dict[str, Any]:
        return {"ok": True, "source": self.source, "outputs": self.outputs,
                **self.rendered.report(), "errors": []}


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
         variant: str = "auto", options: RenderOptions | None = None) -> FillResult:
    """Render one applicant to ``output`` (a path, ``-`` for stdout, None for the default name)."""
    plan = plan_input(data, source=source, rules=rules, variant=variant)
    rendered = render_pdf(plan, options)
    if output == "-":
        write_stdout(rendered.pdf)
        return FillResult(source, ["-"], rendered)
    path = Path(output) if output else Path(default_name(plan.applicant))
    write_atomic(path, rendered.pdf)
    return FillResult(source, [str(path)], rendered)
