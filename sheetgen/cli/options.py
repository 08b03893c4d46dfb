"""The options the command line's commands share: rules, dates, rendering choices.

Each is an ``Annotated`` type (one definition, one help text) and, where an option's value
needs checking or turning into a library object, the function that does it.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from sheetgen.errors import UsageError

RulesOption = Annotated[Path | None, typer.Option(
    "--rules", metavar="FILE", help="Rules data (TOML) replacing the built-in rules.")]
EditionOption = Annotated[str | None, typer.Option(
    "--rules-edition", metavar="EDITION",
    help="Built-in rules edition: 2025 (today's regulation, the default) or 2018 (the seed's "
         "paper flow). With --rules FILE: the edition that file must be.")]


def filing_date_option(value: str | None) -> date | None:
    """``--date``: the filing date, YYYY-MM-DD (a usage error otherwise)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(f"--date {value[:20]!r} is not a date",
                         hint="write the filing date as YYYY-MM-DD") from None


DateOption = Annotated[str | None, typer.Option(
    "--date", metavar="YYYY-MM-DD",
    help="The filing date the acceptance rules count from (certificate validity, age). "
         "Default: SOURCE_DATE_EPOCH's date, else today.")]

InputArgument = Annotated[str, typer.Argument(
    metavar="INPUT", help="Applicant JSON file, or - for stdin.")]
VariantOption = Annotated[str, typer.Option(
    "--variant", help="Template variant: auto (by province), public, guangdong, or another "
                      "variant of the --rules file.")]
NoCoverOption = Annotated[bool, typer.Option("--no-cover", help="Leave out the cover checklist.")]
ProviderOption = Annotated[str | None, typer.Option(
    "--provider", help="接入服务单位: the provider's name, when the data has none.")]
CopiesOption = Annotated[int, typer.Option(
    "--copies", min=1, max=10, help="Print each sheet N times.")]
NoQrOption = Annotated[bool, typer.Option("--no-qr", help="No QR code of the reference.")]
TemplatesOption = Annotated[Path | None, typer.Option(
    "--templates", metavar="DIR",
    help="A directory of your own templates (same layout as the bundled ones).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON report on stdout.")]
PdfaOption = Annotated[bool, typer.Option("--pdfa", help="Write archival PDF/A-2b.")]
DetailsOption = Annotated[bool, typer.Option(
    "--details", help="Print the detailed applicant block on each sheet (certificate numbers, "
                      "mobiles, e-mail, address, principal); the official form has none.")]
VerificationOption = Annotated[str | None, typer.Option(
    "--verification", metavar="paper|electronic",
    help="The provider's verification flow, for the cover: paper (signed sheet, backdrop "
         "photo) or electronic (face and ID in the provider's app). Default: the rules'.")]


def input_name(path: str) -> str:
    """How an INPUT argument is named in messages and reports."""
    return "<stdin>" if path == "-" else path


def render_options(*, provider: str | None, no_qr: bool, no_cover: bool, copies: int,
                   templates: Path | None, pdfa: bool = False, details: bool = False) -> Any:
    """The RenderOptions of the shared rendering options."""
    from sheetgen.documents.jobs import RenderOptions
    from sheetgen.rendering.templating import TemplateSet

    return RenderOptions(provider=provider_option(provider), qr=not no_qr, cover=not no_cover,
                         copies=copies, templates=TemplateSet(templates) if templates else None,
                         pdfa=pdfa, details=details)


def render_setup(*, provider: str | None, no_qr: bool, no_cover: bool, copies: int,
                 templates: Path | None, rules_file: Path | None, variant: str,
                 pdfa: bool = False, details: bool = False, rules_edition: str | None = None,
                 verification: str | None = None) -> tuple[Any, Any, str]:
    """Options, rules and the checked variant of a rendering command, all before its input is
    read: a usage error must not wait for (or consume) stdin."""
    from sheetgen import scratch
    from sheetgen.rules import load_rules

    scratch.sweep()  # what killed runs left in the temp folder
    options = render_options(provider=provider, no_qr=no_qr, no_cover=no_cover, copies=copies,
                             templates=templates, pdfa=pdfa, details=details)
    rules = load_rules(rules_file, edition=rules_edition, verification=verification)
    return options, rules, rules.check_variant(variant)


def provider_option(value: str | None) -> str | None:
    """``--provider``, held to the rules of ``access.provider`` (it is printed on every sheet)."""
    if value is None:
        return None
    from sheetgen.model import clean_provider

    return clean_provider(value) or None
