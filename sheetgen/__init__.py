"""sheetgen: print-ready ICP filing check sheets (网站备案信息真实性核验单) from applicant data.

The library API (documented in ``docs/api.md``)::

    import sheetgen
    applicant = sheetgen.load(data)           # bytes, str or a mapping; InvalidDataError
    problems = sheetgen.check(data)           # the same, as a list of Problem
    result = sheetgen.render(applicant)       # .pdf, .docx, .pages, .variant, .report()
    code = sheetgen.main(["check", "me.json"])  # the command line, returning its exit code

Importing ``sheetgen`` stays cheap: the names above are loaded on first use (PEP 562), and the
PDF/DOCX engines and Typer only inside the functions that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name → the module that defines it.
_EXPORTS = {
    "load": "sheetgen.api",
    "check": "sheetgen.api",
    "render": "sheetgen.api",
    "Result": "sheetgen.api",
    "main": "sheetgen.cli",
    "Applicant": "sheetgen.model",
    "Problem": "sheetgen.errors",
    "SheetgenError": "sheetgen.errors",
    "InvalidDataError": "sheetgen.errors",
    "DoesNotFitError": "sheetgen.errors",
    "TemplateError": "sheetgen.errors",
    "FontError": "sheetgen.errors",
    "UsageError": "sheetgen.errors",
    "ExitCode": "sheetgen.errors",
}

__all__ = [  # noqa: RUF022 - grouped as in _EXPORTS
    "__version__", "load", "check", "render", "Result", "main", "Applicant", "Problem",
    "SheetgenError", "InvalidDataError", "DoesNotFitError", "TemplateError", "FontError",
    "UsageError", "ExitCode",
]

if TYPE_CHECKING:
    from sheetgen.api import Result, check, load, render
    from sheetgen.cli import main
    from sheetgen.errors import (
        DoesNotFitError,
        ExitCode,
        FontError,
        InvalidDataError,
        Problem,
        SheetgenError,
        TemplateError,
        UsageError,
    )
    from sheetgen.model import Applicant


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sheetgen' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
