"""The error hierarchy and the exit codes of the public contract (contract.md §3).

Every failure a user can cause or meet is a :class:`SheetgenError` subclass that carries its
process exit code; the CLI has one handler that turns them into ``sheetgen: error: …`` on
stderr and that exit code. Library callers catch ``SheetgenError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Process exit codes; stable, scripts depend on them."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    INVALID_DATA = 3
    DOES_NOT_FIT = 4
    TEMPLATE_OR_FONT = 5
    BATCH_PARTIAL = 6
    INTERRUPTED = 130


@dataclass(frozen=True)
class Problem:
    """One reported problem of a record: where (JSON path), what (stable code), and why.

    ``message`` is bilingual (Chinese / English) and never contains secrets; personal
    values in it are masked by whoever builds it. A problem of a spreadsheet also names the
    file (``source``), the row as the spreadsheet numbers it and the column's header; they
    are in ``as_dict`` only when set, so problems of JSON inputs read as before.
    """

    path: str
    code: str
    message: str
    source: str | None = None
    row: int | None = None
    column: str | None = None

    def as_dict(self) -> dict[str, Any]:
        place = {key: value for key, value in (("source", self.source), ("row", self.row),
                                               ("column", self.column)) if value is not None}
        return {"path": self.path, "code": self.code, "message": self.message, **place}

    @property
    def where(self) -> str:
        """Where the problem is, as a reader finds it: ``t.xlsx row 21, 网站负责人手机 (path)``,
        or the JSON path alone."""
        if self.row is None and self.source is None:
            return self.path
        place = ", ".join(part for part in (
            " ".join(p for p in (self.source or "", f"row {self.row}" if self.row else "") if p),
            self.column or "") if part)
        return f"{place} ({self.path})" if self.path else place


class SheetgenError(Exception):
    """Base of every error sheetgen reports to a user."""

    exit_code: ExitCode = ExitCode.INTERNAL
    code: str = "error"

    def __init__(self, message: str, *, hint: str | None = None,
                 problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.problems: list[Problem] = list(problems or [])

    def as_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data (for ``--json`` and batch manifests)."""
        problems = self.problems or [Problem("", self.code, self.message)]
        return {"code": self.code, "exit_code": int(self.exit_code),
                "message": self.message, "errors": [p.as_dict() for p in problems]}


class UsageError(SheetgenError):
    """The command line or its files are wrong (missing file, bad option value)."""

    exit_code = ExitCode.USAGE
    code = "usage"


class InvalidDataError(SheetgenError):
    """The applicant data is not valid; ``problems`` lists every error with its JSON path."""

    exit_code = ExitCode.INVALID_DATA
    code = "invalid_data"


class DoesNotFitError(SheetgenError):
    """A value does not fit its box on one A4 page even at its minimum size."""

    exit_code = ExitCode.DOES_NOT_FIT
    code = "does_not_fit"


class TemplateError(SheetgenError):
    """A template is missing, malformed, or uses an unknown variable."""

    exit_code = ExitCode.TEMPLATE_OR_FONT
    code = "template"


class FontError(SheetgenError):
    """A font is missing or lacks a character of the data (the message names both)."""

    exit_code = ExitCode.TEMPLATE_OR_FONT
    code = "font"


class RulesError(SheetgenError):
    """The rules data file (built-in or ``--rules FILE``) is unreadable or inconsistent."""

    exit_code = ExitCode.USAGE
    code = "rules"


class BatchPartialError(SheetgenError):
    """A batch finished but some records failed; the report lists each."""

    exit_code = ExitCode.BATCH_PARTIAL
    code = "batch_partial"
