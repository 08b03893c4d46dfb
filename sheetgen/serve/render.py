"""What the server asks of the library: check one applicant, render its sheets to files.

The functions here run inside a render worker (:mod:`sheetgen.serve.pool`) or, for
:func:`check`, in a thread of the server process, and speak only plain, picklable data:
a :class:`SheetRequest` in, a :class:`SheetResult` or a :class:`Failure` out. They call the
public library API (:func:`sheetgen.check`, :func:`sheetgen.render`, the functions behind
``sheetgen fill``) and the PNG preview of ``sheetgen preview``, so a sheet from the API is the
sheet the CLI writes for the same data and options, with the same file names, and every error
is the CLI's :class:`~sheetgen.errors.Problem`.

Nothing is written to disk: the files are returned as bytes and only live in memory for the
time of the request.
"""

from __future__ import annotations

import functools
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sheetgen.errors import (
    DoesNotFitError,
    FontError,
    InvalidDataError,
    Problem,
    SheetgenError,
    UsageError,
)

if TYPE_CHECKING:
    from sheetgen.rendering.templating import TemplateSet
    from sheetgen.rules import Rules

Format = Literal["pdf", "docx", "png", "pdf,docx"]
SOURCE = "<request>"
MEDIA_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "png": "image/png",
    "zip": "application/zip",
}
#: The date in ZIP entries: fixed, so the same request gives byte-identical archives.
_ZIP_DATE = (2026, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class SheetRequest:
    """One ``POST /api/v1/sheets``: the body as sent and the query's options."""

    body: bytes
    format: Format = "pdf"
    cover: bool = True
    qr: bool = True
    variant: str = "auto"
    provider: str | None = None
    copies: int = 1
    details: bool = False
    # The provider configuration of the server (sheetgen serve --config): plain data, it
    # travels to the render workers.
    verification: str | None = None       # paper | electronic; None: the rules'
    templates: str | None = None          # the provider's template folder
    sheet: bool | None = None             # the check sheet: None as the flow says
    originals: tuple[tuple[str, int], ...] = ()  # originals per document kind


@dataclass(frozen=True)
class OutputFile:
    name: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class SheetResult:
    """The files of a rendered applicant and the fill report (pages, variant, fit per field)."""

    files: tuple[OutputFile, ...]
    report: dict[str, Any]

    def single(self) -> OutputFile:
        """The response body: the one file, or a ZIP of several (DOCX sheets, PNG pages)."""
        if len(self.files) == 1:
            return self.files[0]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for item in self.files:
                info = zipfile.ZipInfo(item.name, date_time=_ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, item.data)
        stem = Path(self.files[0].name).stem.rsplit("-", 1)[0]
        return OutputFile(f"{stem}.zip", MEDIA_TYPES["zip"], buffer.getvalue())


@dataclass(frozen=True)
class Failure:
    """A SheetgenError as plain data (exceptions with keyword arguments do not pickle)."""

    kind: str  # invalid_data, does_not_fit, font, usage, template, internal, …
    message: str
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, err: SheetgenError) -> Failure:
        problems = tuple(err.problems) or (Problem("", err.code, err.message),)
        return cls(err.code, err.message, problems)

    @property
    def status(self) -> int:
        """The HTTP status: 422 for what is wrong in the data, 400 for options, else 500."""
        if self.kind in (InvalidDataError.code, DoesNotFitError.code, FontError.code):
            return 422
        if self.kind in (UsageError.code, "rules"):
            return 400
        return 500


def check(body: bytes) -> list[Problem]:
    """Every problem of one applicant's JSON (the CLI's reader and validator); [] if valid."""
    from sheetgen.api import check as check_data

    return check_data(body, source=SOURCE)


def render(request: SheetRequest) -> SheetResult | Failure:
    """The files of one applicant in the requested format; never raises a SheetgenError."""
    try:
        return _render(request)
    except SheetgenError as err:
        return Failure.of(err)


def _render(request: SheetRequest) -> SheetResult:
    from sheetgen.api import load
    from sheetgen.api import render as render_data
    from sheetgen.rendering.pdf.preview import page_images, preview_paths

    rules = _rules(request.verification)
    result = render_data(load(request.body, source=SOURCE, rules=rules), cover=request.cover,
                         qr=request.qr, provider=request.provider, variant=request.variant,
                         copies=request.copies, details=request.details, rules=rules,
                         templates=_templates(request.templates) if request.templates else None,
                         sheet=request.sheet, originals=dict(request.originals),
                         formats=("pdf",) if request.format == "png"
                         else tuple(sorted(request.format.split(","), reverse=True)))
    report = result.report()
    files = result.files
    if request.format == "png":
        assert result.pdf is not None
        images = page_images(result.pdf)
        pdf_name = next(iter(files))
        names = preview_paths(Path(pdf_name).with_suffix(".png"), len(images))
        return SheetResult(tuple(OutputFile(n.name, MEDIA_TYPES["png"], data)
                                 for n, data in zip(names, images, strict=True)), report)
    return SheetResult(tuple(OutputFile(name, MEDIA_TYPES[Path(name).suffix[1:]], data)
                             for name, data in files.items()), report)


@functools.cache
def _rules(flow: str | None) -> Rules:
    """The built-in rules under the server's flow, once per worker."""
    from sheetgen.rules import load_rules

    return load_rules(verification=flow)


@functools.cache
def _templates(folder: str) -> TemplateSet:
    """The provider's template set, once per worker (its compiled templates are kept)."""
    from sheetgen.rendering.templating import TemplateSet

    return TemplateSet(Path(folder))


def fit_summary(report: dict[str, Any]) -> str:
    """The ``X-Sheetgen-Fit`` header: how many values, and the JSON paths of those that had to
    shrink or continue (ASCII JSON: header values are Latin-1)."""
    fits = [fit for sheet in report.get("sheets") or report.get("docx") or ()
            for fit in sheet.get("fit", ())]
    summary = {"fields": len(fits),
               "shrunk": sorted({f["path"] for f in fits if f["status"] == "shrunk"}),
               "continued": sorted({f["path"] for f in fits if f["status"] == "continued"})}
    return json.dumps(summary, separators=(",", ":"))


def example_body() -> bytes:
    """A valid applicant (Jiangxi, personal): what the warm-ups run through."""
    from sheetgen.documents.example import make_example
    from sheetgen.rules import load_rules

    return json.dumps(make_example(load_rules(), "江西", "personal")).encode()


def warm_up() -> None:
    """Load what every render needs (rules, templates, fonts, the engines) and compile the
    layouts of a common applicant, so that the first request a worker serves is not slow."""
    render(SheetRequest(example_body(), format="pdf"))
