"""The options the command line's commands share: rules, dates, rendering choices.

Each is an ``Annotated`` type (one definition, one help text) and, where an option's value
needs checking or turning into a library object, the function that does it.
"""
from __future__ import annotations

from dataclasses import dataclass
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
    "--provider", help="接入服务单位: the provider's name, when the data has none. Default: "
                       "the config's [provider] name.")]
CopiesOption = Annotated[int | None, typer.Option(
    "--copies", metavar="N", min=1, max=10,
    help="Print each sheet N times (and each other original not in the config's "
         "[originals]). Default: the config's [originals] sheet, else 1.")]
NoQrOption = Annotated[bool, typer.Option("--no-qr", help="No QR code of the reference.")]
TemplatesOption = Annotated[Path | None, typer.Option(
    "--templates", metavar="DIR",
    help="A directory of your own templates (same layout as the bundled ones; "
         "documents/<kind>.html|.docx print a document of the rules' documents table). "
         "Default: the config's [provider] templates.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON report on stdout.")]
PdfaOption = Annotated[bool, typer.Option("--pdfa", help="Write archival PDF/A-2b.")]
DetailsOption = Annotated[bool, typer.Option(
    "--details", help="Print the detailed applicant block on each sheet (certificate numbers, "
                      "mobiles, e-mail, address, principal); the official form has none.")]
VerificationOption = Annotated[str | None, typer.Option(
    "--verification", metavar="paper|electronic",
    help="The provider's verification flow: paper (signed sheet, backdrop photo) or "
         "electronic (face and ID in the provider's app; no check sheet unless --check-sheet). "
         "Default: the config's [provider] flow, else the rules'.")]
ConfigOption = Annotated[Path | None, typer.Option(
    "--config", metavar="FILE",
    help="The provider configuration (TOML: [provider] name, flow, templates, sheet; "
         "[originals]). Default: $SHEETGEN_CONFIG, else ./sheetgen.toml when there is one.")]
# Not ``--sheet``: that names a spreadsheet's sheet (sheetgen.cli.sheets).
PrintSheetOption = Annotated[bool | None, typer.Option(
    "--check-sheet/--no-check-sheet",
    help="Print the check sheet (核验单) or leave it out. Default: the paper flow prints it, "
         "the electronic flow does not (unless the config's [provider] sheet = true).")]


def input_name(path: str) -> str:
    """How an INPUT argument is named in messages and reports."""
    return "<stdin>" if path == "-" else path


@dataclass(frozen=True)
class Chosen:
    """The rendering options of a command with the provider configuration merged in: what
    the command line gives wins, then the config file, then the defaults."""

    config: Any                  # the ProviderConfig read (empty without a file)
    provider: str | None
    verification: str | None
    templates: Path | None
    sheet: bool | None
    copies: int
    originals: tuple[tuple[str, int], ...]


def choose_options(config_file: Path | None, *, provider: str | None = None,
                   verification: str | None = None, templates: Path | None = None,
                   sheet: bool | None = None, copies: int | None = None,
                   originals: bool = True) -> Chosen:
    """The provider configuration (``--config``, ``SHEETGEN_CONFIG`` or ./sheetgen.toml)
    under the command line's options. ``copies`` (``--copies``) sets the sheet's originals
    over the file's; ``originals=False`` (``preview``) prints each document once."""
    from sheetgen.documents.provider import load_config

    config = load_config(config_file)
    counts = tuple(sorted((kind, n) for kind, n in config.originals
                          if originals and not (copies is not None and kind == "sheet")))
    return Chosen(config=config, provider=provider if provider is not None else config.name,
                  verification=verification or config.flow,
                  templates=templates if templates is not None else config.templates,
                  sheet=sheet if sheet is not None else (True if config.sheet else None),
                  copies=copies if copies is not None else 1, originals=counts)


def render_options(*, provider: str | None, no_qr: bool, no_cover: bool, copies: int,
                   templates: Path | None, pdfa: bool = False, details: bool = False,
                   sheet: bool | None = None,
                   originals: tuple[tuple[str, int], ...] = ()) -> Any:
    """The RenderOptions of the shared rendering options."""
    from sheetgen.documents.jobs import RenderOptions
    from sheetgen.rendering.templating import TemplateSet

    return RenderOptions(provider=provider_option(provider), qr=not no_qr, cover=not no_cover,
                         copies=copies, templates=TemplateSet(templates) if templates else None,
                         pdfa=pdfa, details=details, sheet=sheet, originals=originals)


def render_setup(*, provider: str | None, no_qr: bool, no_cover: bool, copies: int | None,
                 templates: Path | None, rules_file: Path | None, variant: str,
                 pdfa: bool = False, details: bool = False, rules_edition: str | None = None,
                 verification: str | None = None, config_file: Path | None = None,
                 sheet: bool | None = None, originals: bool = True) -> tuple[Any, Any, str]:
    """Options, rules and the checked variant of a rendering command, the provider
    configuration merged in, all before its input is read: a usage error must not wait for
    (or consume) stdin."""
    from sheetgen import scratch
    from sheetgen.rules import load_rules

    scratch.sweep()  # what killed runs left in the temp folder
    chosen = choose_options(config_file, provider=provider, verification=verification,
                            templates=templates, sheet=sheet, copies=copies,
                            originals=originals)
    options = render_options(provider=chosen.provider, no_qr=no_qr, no_cover=no_cover,
                             copies=chosen.copies, templates=chosen.templates, pdfa=pdfa,
                             details=details, sheet=chosen.sheet, originals=chosen.originals)
    rules = load_rules(rules_file, edition=rules_edition, verification=chosen.verification)
    chosen.config.check_kinds(rules)
    check_provider_documents(options.templates, rules)
    return options, rules, rules.check_variant(variant)


def check_provider_documents(templates: Any, rules: Any) -> None:
    """A provider's ``documents/`` templates each name a document of the rules' documents
    table (a TemplateError, exit 5, names a file that does not)."""
    if templates is None:
        return
    from sheetgen.documents.kinds import provider_documents

    provider_documents(templates.provided, rules.documents)


def provider_option(value: str | None) -> str | None:
    """``--provider``, held to the rules of ``access.provider`` (it is printed on every sheet)."""
    if value is None:
        return None
    from sheetgen.model import clean_provider

    return clean_provider(value) or None
