"""The public library API: validate applicant data and render it, bytes in, bytes out.

These are the functions ``sheetgen/__init__.py`` re-exports (lazily, so ``import sheetgen``
stays cheap); ``docs/api.md`` documents them with an example that the tests run. They are thin:
:func:`load` is the model's validation, :func:`render` is :func:`sheetgen.pipeline.produce`
with keyword options. Nothing here writes a file or prints; the CLI (:func:`sheetgen.main`)
and the HTTP service are built on the same functions.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sheetgen.documents.jobs import RenderOptions
from sheetgen.documents.plan import make_plan
from sheetgen.errors import InvalidDataError, Problem, UsageError
from sheetgen.model import Applicant, accept, clean_provider, parse_applicant, preflight
from sheetgen.output import check_formats
from sheetgen.pipeline import Produced, output_stem, produce
from sheetgen.rules import Rules, load_rules
from sheetgen.sources.json import read_document

if TYPE_CHECKING:
    from sheetgen.rendering.templating import TemplateSet

#: What :func:`load` names its input in problems when the caller gives no name.
SOURCE = "<data>"


def _rules(rules: Rules | str | Path | None) -> Rules:
    if isinstance(rules, Rules):
        return rules
    return load_rules(Path(rules) if rules is not None else None)


def load(data: bytes | str | Mapping[str, Any], *, rules: Rules | str | Path | None = None,
         source: str = SOURCE, filing_date: date | None = None) -> Applicant:
    """One validated applicant from JSON text (bytes or str) or an already parsed mapping.

    Raises :class:`~sheetgen.errors.InvalidDataError`, whose ``problems`` lists every problem
    at once as :class:`~sheetgen.errors.Problem` (``path``, ``code``, ``message``). ``rules``:
    a :class:`~sheetgen.rules.Rules` or the path of a rules file (default: the built-in rules).
    A well-formed applicant that the acceptance rules reject on ``filing_date`` (default:
    ``SOURCE_DATE_EPOCH``, else today) raises too, with those errors (``severity``).
    """
    applicant = _parse(data, rules=rules, source=source)
    accept(applicant, _rules(rules), filing_date)
    return applicant


def _parse(data: bytes | str | Mapping[str, Any], *, rules: Rules | str | Path | None,
           source: str) -> Applicant:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if isinstance(data, bytes | bytearray):
        value: object = read_document(bytes(data), source=source)
    elif isinstance(data, Mapping):
        # Through JSON once, so a mapping is held to exactly the rules of a document (no
        # tuples, no non-string keys, no NaN), and is not changed in the caller's hands.
        try:
            value = json.loads(json.dumps(data, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise InvalidDataError(f"{source}: not JSON data", problems=[Problem(
                "", "not_json", f"数据无法表示为 JSON / the data is not JSON-compatible: "
                                f"{type(exc).__name__}")]) from None
    else:
        raise TypeError(f"load() takes bytes, str or a mapping, not {type(data).__name__}")
    return parse_applicant(value, _rules(rules))


def check(data: bytes | str | Mapping[str, Any], *, rules: Rules | str | Path | None = None,
          source: str = SOURCE, filing_date: date | None = None) -> list[Problem]:
    """Every problem of ``data`` (see :func:`load`), errors and warnings alike, each with its
    ``severity``: the data is valid when none is an ``error`` (an empty list: nothing to say).
    Warnings come from the acceptance rules the sources are not firm on."""
    loaded_rules = _rules(rules)
    try:
        applicant = _parse(data, rules=loaded_rules, source=source)
    except InvalidDataError as err:
        return list(err.problems)
    return preflight(applicant, loaded_rules, filing_date)


class Result:
    """One rendered applicant: the PDF and Word files, and what a report says of them."""

    def __init__(self, produced: Produced) -> None:
        self._produced = produced

    @property
    def pdf(self) -> bytes | None:
        """The PDF (cover and sheets), or None when it was not among the formats."""
        return self._produced.pdf

    @property
    def docx(self) -> dict[str, bytes]:
        """The Word files by file name (``<stem>-cover.docx``, ``<stem>-sheet1.docx`` …)."""
        return {f.name: f.data for f in self._produced.files if f.format == "docx"}

    @property
    def files(self) -> dict[str, bytes]:
        """Every file by the name ``sheetgen fill`` would give it (``<ref>.pdf`` …)."""
        return {f.name: f.data for f in self._produced.files}

    @property
    def pages(self) -> int | None:
        """The PDF's page count (None for Word files alone)."""
        return self._produced.pages

    @property
    def variant(self) -> str:
        """The template variant used: ``public`` or ``guangdong``."""
        return self._produced.variant

    @property
    def reference(self) -> str:
        """The reference printed on every sheet (``ref``, else a content hash)."""
        return self._produced.reference

    def report(self) -> dict[str, Any]:
        """The ``sheetgen fill --json`` document (``outputs`` are the file names)."""
        return self._produced.report()

    def __repr__(self) -> str:
        return f"<sheetgen.Result {self.reference} {self.variant} {sorted(self.files)}>"


def render(applicant: Applicant | bytes | str | Mapping[str, Any], *, cover: bool = True,
           qr: bool = True, provider: str | None = None, variant: str = "auto",
           copies: int = 1, pdfa: bool = False, formats: Collection[str] = ("pdf",),
           rules: Rules | str | Path | None = None,
           templates: str | Path | TemplateSet | None = None,
           details: bool = False, filing_date: date | None = None,
           sheet: bool | None = None, originals: Mapping[str, int] | None = None) -> Result:
    """Render one applicant: the same bytes as ``sheetgen fill`` with the same options.

    ``details``: the detailed applicant block on each sheet (``--details``). A rules edition
    or verification flow: ``rules=sheetgen.rules.load_rules(edition="2018",
    verification="electronic")``. ``sheet``: print the check sheet (True), leave it out
    (False), or as the flow says (None: the paper flow prints it); ``originals``: originals
    per document kind (the provider configuration's ``[originals]``; ``copies`` for the
    others).

    ``applicant`` is a validated :class:`~sheetgen.model.Applicant` (from :func:`load`) or
    anything :func:`load` takes. ``formats``: ``("pdf",)``, ``("docx",)`` or both. Raises a
    :class:`~sheetgen.errors.SheetgenError` subclass: ``InvalidDataError`` (exit code 3),
    ``DoesNotFitError`` (4, ``problems`` names each value), ``TemplateError``/``FontError``
    (5), ``UsageError`` (2, a bad option).
    """
    from sheetgen.rendering.templating import TemplateSet  # Jinja2, only when rendering

    loaded_rules = _rules(rules)
    if not isinstance(applicant, Applicant):
        applicant = _parse(applicant, rules=loaded_rules, source=SOURCE)
    warnings = accept(applicant, loaded_rules, filing_date)  # its errors: InvalidDataError
    formats = tuple(dict.fromkeys(formats))
    check_formats(formats)
    if copies < 1:
        raise UsageError("copies must be at least 1")
    if provider is not None:  # printed on every sheet: held to the rules of access.provider
        provider = clean_provider(provider) or None
    if any(not 1 <= n <= 10 for n in (originals or {}).values()):
        raise UsageError("originals must be 1 to 10 per document")
    options = RenderOptions(provider=provider, qr=qr, cover=cover, copies=copies, pdfa=pdfa,
                            templates=templates if isinstance(templates, TemplateSet)
                            else TemplateSet(Path(templates)) if templates else None,
                            details=details, sheet=sheet,
                            originals=tuple(sorted((originals or {}).items())))
    plan = make_plan(applicant, loaded_rules, variant=loaded_rules.check_variant(variant))
    produced = produce(plan, options, formats=formats, stem=output_stem(applicant),
                       warn_rules=loaded_rules)
    produced.warnings[:0] = warnings
    return Result(produced)
