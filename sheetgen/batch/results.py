"""What a batch was asked to do and what it answers: :class:`BatchOptions`, one
:class:`RecordResult` per record, the :class:`BatchResult` and its manifest (``--report``,
``--json``)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sheetgen import __version__
from sheetgen.documents.jobs import RenderOptions
from sheetgen.errors import Problem, problem_fields
from sheetgen.rendering.templating import TemplateSet
from sheetgen.sources.spreadsheet import SheetOptions

#: a record takes well under a second, a cold layout compile a few seconds on a slow machine;
#: only a hung worker gets anywhere near this.
DEFAULT_TIMEOUT = 300.0


@dataclass(frozen=True)
class BatchOptions:
    """What ``sheetgen batch`` was asked to do (everything but the inputs)."""

    outdir: Path
    jobs: int | None = None                  # worker processes; None: the CPUs available
    formats: tuple[str, ...] = ("pdf",)
    variant: str = "auto"
    #: What is printed, as for fill; its ``templates`` is unused: each process opens the set
    #: at ``templates`` (a template set does not travel to worker processes).
    render: RenderOptions = dataclasses.field(default_factory=RenderOptions)
    templates: Path | None = None            # None: the bundled templates
    rules: Path | None = None                # None: the built-in rules
    rules_edition: str | None = None         # a built-in edition (or the --rules file's check)
    verification: str | None = None          # paper | electronic; None: the rules' flow
    bundle: Path | None = None
    report: Path | None = None
    force: bool = False
    sheets: SheetOptions = field(default_factory=SheetOptions)  # spreadsheet inputs
    failed: Path | None = None               # --failed: the failed rows, back as a spreadsheet
    timeout: float = DEFAULT_TIMEOUT         # per record, seconds (see DEFAULT_TIMEOUT)
    filing_date: date | None = None          # --date: "today" of the acceptance rules

    def render_options(self, templates: TemplateSet | None) -> RenderOptions:
        return dataclasses.replace(self.render, templates=templates)


@dataclass(frozen=True)
class Output:
    """One file written for a record: its path relative to OUTDIR, format and SHA-256."""

    path: str
    format: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "format": self.format, "sha256": self.sha256}


@dataclass(frozen=True)
class RecordResult:
    """The result of one input record: a manifest entry."""

    index: int                      # 1-based position in the batch (input order)
    source: str
    locator: dict[str, int] | None  # {"line": n} (JSON Lines), {"index": i, "line": n} (arrays)
    input_sha256: str | None        # of the canonical JSON, without the filing password
    ok: bool
    skipped: bool = False           # up to date: nothing was rewritten
    reference: str | None = None    # the reference printed on the sheets
    outputs: tuple[Output, ...] = ()
    pages: int | None = None        # of the PDF (None: Word files only)
    variant: str | None = None
    fit: dict[str, Any] | None = None
    errors: tuple[Problem, ...] = ()
    ref: str | None = None          # the record's ``ref`` as given, also when it failed
    rows: tuple[int, ...] = ()      # a spreadsheet record's rows (one per website)
    websites: int | None = None     # of a record printed: what receive expects back
    applicant: str | None = None    # of a record printed: its 主办者, for receive's report
    documents: tuple[dict[str, Any], ...] = ()  # what was printed, by document kind
    warnings: tuple[Problem, ...] = ()  # acceptance rules' warnings: the record goes on

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "index": self.index, "source": self.source, "locator": self.locator,
            "input_sha256": self.input_sha256, "ok": self.ok, "skipped": self.skipped,
            "ref": self.ref, "reference": self.reference,
            "outputs": [o.as_dict() for o in self.outputs],
            "pages": self.pages, "variant": self.variant, "fit": self.fit,
            **problem_fields(self.errors),
            "warnings": [p.as_dict() for p in self.warnings]}
        if self.rows:
            entry["rows"] = list(self.rows)
        if self.websites is not None:
            entry["websites"] = self.websites
        if self.applicant is not None:
            entry["applicant"] = self.applicant
        if self.documents:
            entry["documents"] = list(self.documents)
        return entry


@dataclass
class BatchResult:
    """A finished (or interrupted) batch: every record read, in input order."""

    outdir: Path
    records: list[RecordResult]
    bundle: dict[str, Any] | None = None
    interrupted: bool = False
    elapsed: float = 0.0

    @property
    def failed(self) -> list[RecordResult]:
        return [r for r in self.records if not r.ok]

    @property
    def ok(self) -> bool:
        bundle_failed = self.bundle is not None and "error" in self.bundle
        return not self.interrupted and not self.failed and not bundle_failed

    def summary(self) -> dict[str, int]:
        interrupted = sum(1 for r in self.records if _interrupted(r))
        return {"total": len(self.records), "ok": sum(1 for r in self.records if r.ok),
                "failed": len(self.failed) - interrupted, "interrupted": interrupted,
                "skipped": sum(1 for r in self.records if r.skipped)}

    def manifest(self) -> dict[str, Any]:
        """The manifest (``--report`` and ``--json``): the summary, then every record."""
        return {"ok": self.ok, "sheetgen": __version__, "outdir": str(self.outdir),
                "interrupted": self.interrupted, "summary": self.summary(),
                "elapsed_seconds": round(self.elapsed, 3), "bundle": self.bundle,
                "records": [r.as_dict() for r in self.records]}


def _interrupted(result: RecordResult) -> bool:
    return any(p.code == "interrupted" for p in result.errors)


def _manifest_bytes(result: BatchResult) -> bytes:
    return (json.dumps(result.manifest(), ensure_ascii=False, indent=2) + "\n").encode()


def manifest_json(result: BatchResult) -> str:
    """The manifest as the JSON text ``--json`` prints and ``--report`` writes."""
    return _manifest_bytes(result).decode()
