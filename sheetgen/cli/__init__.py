"""The command line: Typer, thin. Each command parses, calls one library function, prints, exits.

Conventions (contract.md §3): stdout carries exactly one payload (a file, JSON, a path);
human messages and progress go to stderr as ``sheetgen: error: …``; every failure is a
:class:`~sheetgen.errors.SheetgenError` turned into its exit code by :func:`main`, the one
handler. No traceback reaches a user unless ``SHEETGEN_DEBUG=1`` is set.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import IO, Annotated, Any, BinaryIO, NoReturn

import typer

from sheetgen import __version__
from sheetgen.cli.desk import RegisterOption
from sheetgen.cli.fonts import fonts_app
from sheetgen.cli.output import emit_json, json_errors, say
from sheetgen.cli.serve import serve as serve_command
from sheetgen.cli.sheets import (
    IgnoreColumnsOption,
    MapOption,
    SheetOption,
    located,
    sheet_options,
    spreadsheet_input,
)
from sheetgen.cli.template import template as template_command
from sheetgen.errors import ExitCode, Problem, SheetgenError, UsageError

app = typer.Typer(
    name="sheetgen",
    help="Print-ready ICP filing check sheets (网站备案信息真实性核验单) from applicant JSON.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# --- output helpers (sheetgen/cli/output.py, shared with the command modules) ------------------

def _version_callback(value: bool) -> None:
    if value:
        print(f"sheetgen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version_callback, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """Print-ready ICP filing check sheets (网站备案信息真实性核验单) from applicant JSON."""


# --- commands -------------------------------------------------------------------------------

app.add_typer(fonts_app)  # sheetgen fonts path | install (sheetgen/cli/fonts.py)

@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check the environment: HarfBuzz subsetter, bundled fonts, optional LibreOffice."""
    from sheetgen.doctor import run_checks

    checks = run_checks()
    failed = [c for c in checks if c.required and not c.ok]
    if as_json:
        emit_json({"ok": not failed, "checks": [c.as_dict() for c in checks]})
    else:
        for c in checks:
            mark = "ok" if c.ok else ("FAIL" if c.required else "warn")
            print(f"[{mark:>4}] {c.name}: {c.detail}")
            if not c.ok and c.fix:
                print(f"       fix: {c.fix}")
    if failed:
        raise typer.Exit(int(ExitCode.TEMPLATE_OR_FONT))


# --- data commands: check, schema, example, rules ---------------------------------------------

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


@app.command()
def check(
    input_path: Annotated[str, typer.Argument(
        metavar="INPUT", help="Applicant JSON file (an object, or an array of them), JSON "
                              "Lines file (.jsonl), a spreadsheet (.xlsx, .csv, .tsv); - reads "
                              "stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    rules_file: RulesOption = None,
    rules_edition: EditionOption = None,
    sheet: SheetOption = None,
    column_map: MapOption = None,
    ignore_columns: IgnoreColumnsOption = False,
    filing_date: DateOption = None,
) -> None:
    """Validate applicant data; list every problem with its JSON path (exit 3 if invalid).

    Also runs the acceptance rules of the province (`sheetgen rules PROVINCE` lists them):
    their errors make the data invalid, their warnings are printed and the data stays valid.
    """
    from dataclasses import replace

    from sheetgen.documents.example import applicant_warnings
    from sheetgen.errors import InvalidDataError
    from sheetgen.model import check_document, check_records
    from sheetgen.rules import load_rules
    from sheetgen.sources.json import is_spreadsheet, open_input

    source = input_name(input_path)
    with json_errors(as_json, source=source):
        today = filing_date_option(filing_date)
        rules = load_rules(rules_file, edition=rules_edition)
        if is_spreadsheet(input_path):
            from sheetgen.sources.spreadsheet import spreadsheet_records

            checked = check_records(spreadsheet_records(
                Path(input_path), sheet_options(sheet, column_map, ignore_columns)), rules,
                today)
        else:
            checked = check_document(open_input(input_path), source=source, rules=rules,
                                     today=today)
        results = [replace(r, warnings=(*r.warnings, *applicant_warnings(r.applicant, rules)))
                   if r.applicant is not None else r for r in checked]
    failed = [r for r in results if not r.ok]
    _warn_examples((f"{source} [{r.index}]" if r.index is not None else
                    f"{source} line {r.line}" if r.line is not None else source,
                    r.warnings) for r in results)
    if as_json:
        if len(results) == 1 and results[0].index is None and results[0].line is None:
            record = results[0].as_dict(rules)
            payload = {"ok": record["ok"], "source": source, **record}
        else:
            payload = {"ok": not failed, "source": source, "records": [
                {"index": r.index, **({"line": r.line} if r.line is not None else {}),
                 **r.as_dict(rules)} for r in results]}
        emit_json(payload)
        if failed:
            raise typer.Exit(int(ExitCode.INVALID_DATA))
        return
    if failed:
        problems = [p for r in failed for p in r.located()]
        records = f"{len(failed)} of {len(results)} records, " if len(results) > 1 else ""
        raise InvalidDataError(
            f"{source}: invalid applicant data ({records}{len(problems)} "
            f"problem{'s' if len(problems) != 1 else ''})", problems=problems)
    websites = sum(len(r.applicant.websites) for r in results if r.applicant)
    records = f"{len(results)} records, " if len(results) > 1 else ""
    say(f"ok: {source}: valid ({records}{websites} website{'s' if websites != 1 else ''})")


def _warn_examples(records: Iterable[tuple[str, Sequence[Problem]]]) -> None:
    """``sheetgen: warning: …`` on stderr for each record (where, warnings): one line per
    acceptance rule's warning, one line for the values still those of the fictitious sample
    of ``sheetgen example``."""
    from sheetgen.documents.example import warning_line

    for where, warnings in records:
        examples = [w for w in warnings if w.code == "example_data"]
        for warning in warnings:
            if warning.code != "example_data":
                say(f"warning: {where}: {warning.where}: {warning.code}: {warning.message}")
        if examples:
            say(f"warning: {warning_line(where, examples)}")


@app.command()
def schema(rules_file: RulesOption = None) -> None:
    """Print the JSON Schema (draft 2020-12) of the applicant input."""
    from sheetgen.model import json_schema
    from sheetgen.rules import load_rules

    emit_json(json_schema(load_rules(rules_file)))


@app.command()
def example(
    province: Annotated[str, typer.Option(
        help="Province by short name, full name, abbreviation or pinyin.")] = "江西",
    nature: Annotated[str, typer.Option(
        help="Host nature: personal 个人, enterprise 企业, … (code or Chinese name).")
    ] = "personal",
    rules_file: RulesOption = None,
) -> None:
    """Print a valid, fictitious sample applicant (JSON) for a province and nature."""
    from sheetgen.documents.example import make_example
    from sheetgen.rules import load_rules

    emit_json(make_example(load_rules(rules_file), province, nature))


@app.command("rules")
def rules_command(
    province: Annotated[str | None, typer.Argument(
        metavar="[PROVINCE]", help="江西, 江西省, 赣 or jiangxi; without it, list all provinces."
    )] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the facts as JSON.")] = False,
    rules_file: RulesOption = None,
    edition: Annotated[str | None, typer.Option(
        "--edition", "--rules-edition", metavar="EDITION",
        help="Which built-in rules edition to show: 2025 (default) or 2018.")] = None,
) -> None:
    """Show the rules for a province: variant, fingerprint, seal, SMS verification, portal."""
    from sheetgen.rules import load_rules

    with json_errors(as_json):
        rules = load_rules(rules_file, edition=edition)
    if province is None:
        summary = [rules.facts(p) for p in rules.provinces]
        if as_json:
            emit_json({"origin": rules.origin, "rules_version": rules.version,
                       "edition": rules.edition, "edition_title": rules.title,
                       "rules_as_of": rules.as_of.isoformat(), "provinces": summary})
            return
        print(f"rules edition {rules.edition} {rules.title}, as of {rules.as_of} "
              f"({rules.origin})")
        for f in summary:
            # U+3000 pads the Chinese columns: it is as wide as a hanzi in a terminal.
            names = (f"{f['name']:\u3000<4} {f['full_name']:\u3000<9} "
                     f"{''.join(f['abbreviations']):\u3000<2} {f['pinyin']:<13}")
            print(f"{names}variant {f['variant']['name']:<10}"
                  f"fingerprint {'yes' if f['fingerprint']['personal'] else 'no ':<4}"
                  f"sms {_sms_short(f['sms']):<17} {f['sms']['portal'] or '-'}")
        return
    with json_errors(as_json):
        facts = rules.facts(rules.resolve_province(province))
    if as_json:
        emit_json(facts)
        return
    for label, value in _describe(facts):
        print(f"{label + ':' if label else '':<14}{value}")


def _sms_short(sms: dict[str, Any]) -> str:
    """The SMS column of the province list: since when this province verifies by SMS."""
    if sms["pilot"]:
        return f"pilot {sms['pilot_since'][:10]}"
    if sms["required"]:
        return f"since {sms['mandatory_since']}"
    return "no"


def _describe(f: dict[str, Any]) -> list[tuple[str, str]]:
    """The human lines of ``sheetgen rules PROVINCE``."""
    variant, sms, seal = f["variant"], f["sms"], f["seal"]
    templates = variant["templates"]
    if sms["pilot"]:
        when = f"pilot province since {sms['pilot_since']}"
    elif sms["required"]:
        when = f"every province since {sms['mandatory_since']}"
    else:
        when = "not verified by SMS under this edition"
    lines = [
        ("edition", f"{f['edition']} {f['edition_title']}, as of {f['rules_as_of']}"),
        ("province", f"{f['name']} ({f['full_name']}; {'/'.join(f['abbreviations'])}; "
                     f"{f['pinyin']}; GB/T 2260 {f['code']})"),
        ("variant", f"{variant['name']} {variant['label']} (templates: unit {templates['unit']},"
                    f" personal {templates['personal']})"),
        ("verification", f"{f['verification']['flow']} (the provider's flow by default; "
                         "--verification paper|electronic)"),
        ("fingerprint", "personal filings press a fingerprint at 按手印处" if
         f["fingerprint"]["personal"] else "not required"),
    ]
    for disputed in f["fingerprint"]["disputed"]:
        lines.append(("", f"disputed ({'on' if disputed['enabled'] else 'off'}): "
                          + "; ".join(disputed["sources"])))
    lines += [
        ("seal", f"units seal with {seal['official_seal']} at {seal['label']} "
                 f"({'/'.join(seal['not_accepted'])} not accepted); without a seal write "
                 f"{seal['no_seal_text']}; personal filings have no seal"),
    ]
    if seal["no_seal_rule"]:
        rule = seal["no_seal_rule"]
        lines.append(("", f"{rule['action']}: {rule['text']} ({rule['source']}, "
                          f"as of {rule['as_of']})"))
    lines += [
        ("registrar", "write each domain's registrar after it" if f["registrar_required"]
         else "not required"),
        ("sms", f"{when}; {sms['code_digits']}-digit code, valid {sms['valid_hours']} h"
                + (f", {sms['attempts']} wrong entries return the filing"
                   if sms["attempts"] else "") + f" ({sms['notice']})"),
        ("portal", sms["portal"] or "-"),
    ]
    if sms["portal_note"]:
        lines.append(("note", sms["portal_note"]))
    if sms["required"]:
        lines += [("verify", sms["verify"]), ("resend", sms["resend"])]
        lines += [(kind if i == 0 else "", text) for i, (kind, text) in enumerate(
            ("codes", r["text"]) for r in sms["recipients"].values())]
        lines.append(("", sms["same_person"] + sms["recipient"]))
        lines.append(("senders", ", ".join(f"{c['name']} {c['number']}"
                                           for c in sms["carriers"])))
    lines.append(("sms source", f"{sms['source']} (as of {sms['as_of']})"))
    if f["commitment"]:
        lines.append(("commitment", "Guangdong personal sheets: the applicant handwrites the "
                                    "commitment (text on the cover)"))
    for i, rule in enumerate(f["acceptance"]):
        lines.append(("acceptance" if i == 0 else "", _acceptance_line(rule)))
    if not f["acceptance"]:
        lines.append(("acceptance", "no acceptance rules in this edition"))
    lines.append(("source", f"{f['source']} (as of {f['as_of']})"))
    lines.append(("rules", f"{f['origin']} {f['rules_version']}"))
    return lines


def _acceptance_line(rule: dict[str, Any]) -> str:
    """One acceptance rule of ``sheetgen rules PROVINCE``: code, severity, what it checks
    (its parameters), its source."""
    skip = {"kind", "severity", "zh", "en", "zh_missing", "en_missing", "source", "as_of",
            "provinces"}
    params = "; ".join(f"{k} {_param(v)}" for k, v in rule.items() if k not in skip)
    return (f"{rule['kind']} [{rule['severity']}]" + (f" {params}" if params else "")
            + f" — {rule['source']} (as of {rule['as_of']})")


def _param(value: Any) -> str:
    if isinstance(value, list):
        return "/".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_param(v)}" for k, v in value.items())
    return str(value)


# --- rendering commands ---------------------------------------------------------------------

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


@app.command()
def fill(
    input_path: InputArgument,
    output: Annotated[str | None, typer.Option(
        "-o", "--output", help="Output PDF, or - for stdout. Default: <ref>.pdf here.")] = None,
    output_format: Annotated[str, typer.Option(
        "--format", metavar="pdf|docx|pdf,docx",
        help="What to write: the PDF, editable Word files (OUTPUT-cover.docx, "
             "OUTPUT-sheet1.docx … beside OUTPUT), or both.")] = "pdf",
    variant: VariantOption = "auto",
    no_cover: NoCoverOption = False,
    provider: ProviderOption = None,
    copies: CopiesOption = 1,
    no_qr: NoQrOption = False,
    rules_file: RulesOption = None,
    rules_edition: EditionOption = None,
    verification: VerificationOption = None,
    details: DetailsOption = False,
    templates: TemplatesOption = None,
    pdfa: PdfaOption = False,
    as_json: JsonOption = False,
    sheet: SheetOption = None,
    column_map: MapOption = None,
    ignore_columns: IgnoreColumnsOption = False,
    filing_date: DateOption = None,
) -> None:
    """Fill the check sheets of one applicant into one print-ready PDF (or Word files)."""
    from sheetgen.output import check_formats, output_file, parse_formats
    from sheetgen.pipeline import fill as run_fill
    from sheetgen.sources.json import is_spreadsheet, open_input

    source = input_name(input_path)
    with json_errors(as_json, source=source):
        if as_json and output == "-":
            raise UsageError("--json and -o - both want stdout", hint="give -o FILE with --json")
        if output not in (None, "-"):
            output_file(output)  # a folder, device or missing folder: before reading stdin
        if output not in (None, "-") and input_path != "-" and (
                Path(output).resolve() == Path(input_path).resolve()):
            raise UsageError(f"-o {output} is the input file; it would be overwritten",
                             hint="give another output name")
        formats = parse_formats(output_format)
        check_formats(formats, output)
        today = filing_date_option(filing_date)
        options, rules, variant = render_setup(
            provider=provider, no_qr=no_qr, no_cover=no_cover, copies=copies,
            templates=templates, pdfa=pdfa, rules_file=rules_file, variant=variant,
            details=details, rules_edition=rules_edition, verification=verification)
        record = None
        if is_spreadsheet(input_path):  # one applicant: its rows, as JSON
            data, record = spreadsheet_input(
                input_path, sheet_options(sheet, column_map, ignore_columns))
        else:
            data = open_input(input_path)
        with located(record):
            result = run_fill(data, source=source, output=output, rules=rules,
                              variant=variant, options=options, formats=formats,
                              today=today)
    _warn_examples([(source, result.produced.warnings)])
    if as_json:
        emit_json(result.as_dict())
    elif output != "-":
        print("\n".join(result.outputs))


@app.command()
def preview(
    input_path: InputArgument,
    output: Annotated[Path, typer.Option(
        "-o", "--output", metavar="PNG",
        help="PNG to write; with several pages, NAME-1.png, NAME-2.png …")],
    variant: VariantOption = "auto",
    no_cover: NoCoverOption = False,
    provider: ProviderOption = None,
    no_qr: NoQrOption = False,
    rules_file: RulesOption = None,
    rules_edition: EditionOption = None,
    verification: VerificationOption = None,
    details: DetailsOption = False,
    templates: TemplatesOption = None,
    sheet: SheetOption = None,
    column_map: MapOption = None,
    ignore_columns: IgnoreColumnsOption = False,
    filing_date: DateOption = None,
) -> None:
    """Render one applicant's pages to PNG images, to look at before printing."""
    from sheetgen.pipeline import plan_input
    from sheetgen.rendering.pdf.document import render_pdf
    from sheetgen.rendering.pdf.preview import write_previews
    from sheetgen.sources.json import is_spreadsheet, open_input

    today = filing_date_option(filing_date)
    options, rules, variant = render_setup(
        provider=provider, no_qr=no_qr, no_cover=no_cover, copies=1, templates=templates,
        rules_file=rules_file, variant=variant, details=details, rules_edition=rules_edition,
        verification=verification)
    record = None
    if is_spreadsheet(input_path):
        data, record = spreadsheet_input(input_path,
                                         sheet_options(sheet, column_map, ignore_columns))
    else:
        data = open_input(input_path)
    with located(record):
        plan = plan_input(data, source=input_name(input_path), rules=rules, variant=variant,
                          today=today)
        rendered = render_pdf(plan, options)
    for path in write_previews(rendered.pdf, output):
        print(path)


# --- batch -----------------------------------------------------------------------------------

#: Failed records listed on stderr; the manifest (--report, --json) has all of them.
SHOWN_FAILURES = 20


class BatchProgress:
    """A progress display on stderr (rich) while a batch runs: records done, failed, elapsed.

    The number of records is not known in advance (inputs are streamed), so the bar pulses.
    """

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            SpinnerColumn(), TextColumn("sheetgen batch"), BarColumn(),
            TextColumn("{task.completed} records, {task.fields[failed]} failed"),
            TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self.task = self.progress.add_task("batch", total=None, failed=0)
        self.failed = 0

    def __enter__(self) -> BatchProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, result: Any) -> None:
        self.failed += not result.ok
        self.progress.update(self.task, advance=1, failed=self.failed)


@app.command()
def batch(
    inputs: Annotated[list[str], typer.Argument(
        metavar="INPUT...",
        help="JSON files (an object or an array of them), JSON Lines files (.jsonl), "
             "spreadsheets (.xlsx, .csv, .tsv: a row per website), folders of them, or - "
             "for stdin.")],
    outdir: Annotated[Path, typer.Option(
        "-o", "--outdir", metavar="OUTDIR",
        help="Folder for the output files (created if missing).")],
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=1, help="Worker processes. Default: the number of CPUs.")] = None,
    bundle: Annotated[Path | None, typer.Option(
        "--bundle", metavar="FILE",
        help="Also put every successful record's pages into this one print-ready PDF.")
    ] = None,
    copies: CopiesOption = 1,
    formats: Annotated[str, typer.Option(
        "--format", metavar="pdf,docx", help="Output formats, comma-separated.")] = "pdf",
    pdfa: PdfaOption = False,
    variant: VariantOption = "auto",
    no_cover: NoCoverOption = False,
    provider: ProviderOption = None,
    no_qr: NoQrOption = False,
    rules_file: RulesOption = None,
    rules_edition: EditionOption = None,
    verification: VerificationOption = None,
    details: DetailsOption = False,
    templates: TemplatesOption = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Redo every record, also those whose output is up to date.")] = False,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS",
        help="Fail a record (worker_timeout) that takes longer than this; the batch goes on.")
    ] = 300.0,
    report: Annotated[Path | None, typer.Option(
        "--report", metavar="FILE", help="Write the manifest (JSON) to FILE.")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the manifest (JSON) on stdout.")] = False,
    sheet: SheetOption = None,
    column_map: MapOption = None,
    ignore_columns: IgnoreColumnsOption = False,
    failed_rows: Annotated[Path | None, typer.Option(
        "--failed", metavar="FILE",
        help="Write the failed records' rows as they came in, with an error column, to "
             "FILE.xlsx or FILE.csv: fix them there and run the batch on FILE again.")
    ] = None,
    filing_date: DateOption = None,
    register: RegisterOption = None,
) -> int:
    """Fill the check sheets of many applicants: one PDF per record, in parallel.

    Exit 0 when every record succeeded (or was already up to date), 6 when some failed; the
    manifest (--report, --json) lists every record with its source, hashes and errors.
    """
    from sheetgen.batch import BatchOptions, manifest_json, run_batch
    from sheetgen.errors import BatchPartialError
    from sheetgen.output import parse_formats

    # A run that cannot start still answers --json; the register (--register) is closed after.
    with json_errors(as_json), contextlib.ExitStack() as stack:
        recorder = stack.enter_context(_batch_recorder(register, outdir)) if register else None
        options = BatchOptions(
            outdir=outdir, jobs=jobs, bundle=bundle, formats=parse_formats(formats),
            variant=variant, templates=templates, rules=rules_file, report=report, force=force,
            rules_edition=rules_edition, verification=verification,
            render=render_options(provider=provider, no_qr=no_qr, no_cover=no_cover,
                                  copies=copies, templates=None, pdfa=pdfa,
                                  details=details),
            sheets=sheet_options(sheet, column_map, ignore_columns), failed=failed_rows,
            timeout=timeout, filing_date=filing_date_option(filing_date))
        if sys.stderr.isatty():
            with BatchProgress() as progress:
                result = run_batch(inputs, options, on_record=progress.update,
                                   on_value=recorder)
        else:
            result = run_batch(inputs, options, on_value=recorder)
        if recorder is not None and result.bundle and result.bundle.get("written"):
            recorder.printed()
    if as_json:
        sys.stdout.write(manifest_json(result))
        sys.stdout.flush()
    summary = result.summary()
    # Records an interruption stopped are counted below, not listed as failures.
    failures = [r for r in result.failed if not any(p.code == "interrupted" for p in r.errors)]
    for failure in failures[:SHOWN_FAILURES]:
        where = f"{failure.source}" + (
            "".join(f" {k} {v}" for k, v in failure.locator.items()) if failure.locator else "")
        if len(failure.rows) > 1:
            where = f"{failure.source} rows {', '.join(map(str, failure.rows))}"
        say(f"record {failure.index} ({where}) failed:")
        show_problems(failure.errors)
    done = (f"{summary['total']} records: {summary['ok']} ok ({summary['skipped']} up to date), "
            f"{summary['failed']} failed")
    if result.bundle and result.bundle.get("written"):
        done += f"; bundle {result.bundle['path']} ({result.bundle['pages']} pages)"
    if recorder is not None:
        changed = sum(1 for b in recorder.brought if b.changed)
        done += (f"; register {register}: {len(recorder.brought)} records "
                 f"({changed} new or changed)")
    if result.interrupted:
        # main() adds "sheetgen: interrupted" for the exit code.
        say(f"stopped: {done}, {summary['interrupted']} not done; run the same command again "
            "to finish")
        return int(ExitCode.INTERRUPTED)
    if failures:
        more = len(failures) - SHOWN_FAILURES
        places = [f"every record with its errors is in {report}"] if report else []
        if failed_rows:
            places.append(f"the failed rows are in {failed_rows}: fix them there and run the "
                          "batch on that file")
        raise BatchPartialError(
            f"{done}" + (f" ({more} more failures not shown)" if more > 0 else ""),
            hint="; ".join(places) if places else
            "the manifest (--report FILE or --json) lists every record with its errors")
    say(f"ok: {done}; output in {outdir}")
    return 0


def _batch_recorder(where: str, outdir: Path) -> Any:
    """``batch --register``: what records the run's records in the register, a context
    manager that closes it (imported only then: a batch without it loads no database
    library)."""
    from sheetgen.desk import open_register
    from sheetgen.desk.runs import BatchRecorder

    return BatchRecorder(open_register(where), outdir)


# --- commands in modules of their own (each imports what it needs only when it runs) ----------

app.command("serve")(serve_command)

from sheetgen.cli.desk import register as _register_desk  # noqa: E402
from sheetgen.cli.receive import register as _register_receive  # noqa: E402

_register_receive(app)
_register_desk(app)


# --- the one error handler ------------------------------------------------------------------

def report_error(err: SheetgenError) -> None:
    """``sheetgen: error: …`` on stderr, every problem on its own line, then the next step."""
    say(f"error: {err.message}")
    show_problems(err.problems)
    if err.hint:
        print(f"  hint: {err.hint}", file=sys.stderr)


def show_problems(problems: Iterable[Problem]) -> None:
    """Each problem on its own indented line of stderr: ``  path: message [code]``."""
    for problem in problems:
        where = f"{problem.where}: " if problem.where else ""
        print(f"  {where}{problem.message} [{problem.code}]", file=sys.stderr)


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM ends a run as Ctrl-C does (exit 130), so that its temporary files and folders
    are removed on the way out (atexit does not run when SIGTERM kills the process)."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None, *, stdin: IO[Any] | None = None,
         stdout: IO[Any] | None = None, stderr: IO[Any] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return its exit code
    (contract.md §3), mapping every outcome to it; nothing escapes as a traceback.

    ``stdin``, ``stdout`` and ``stderr`` are streams to use instead of the process's own (a
    test, or a program embedding the CLI): binary (``io.BytesIO``; text goes to them as UTF-8)
    or text (``io.StringIO``; a PDF needs a binary stdout), see :mod:`sheetgen.cli.streams`.
    Anything else is a TypeError. While it runs, the processes it starts (batch and server
    workers) do not run the caller's script again (:mod:`sheetgen.cli.mainguard`): a script
    without an ``if __name__ == "__main__":`` guard is safe. The console script and
    ``python -m sheetgen`` exit with the code this returns.
    """
    from sheetgen.cli.mainguard import main_kept_from_workers

    with _streams(stdin, stdout, stderr), main_kept_from_workers() as starting:
        if starting is not None:  # a script without a __main__ guard, run again in a child
            report_error(starting)
            return int(starting.exit_code)
        return _run(list(argv) if argv is not None else sys.argv[1:], own_stdout=stdout is None)


def run() -> NoReturn:
    """The process entry point (the ``sheetgen`` script, ``python -m sheetgen``): exit with
    :func:`main`'s code.

    An interrupted run (Ctrl-C, SIGTERM: 130) leaves through ``os._exit`` once the exit
    handlers have run (its temporary folder is removed by one): under ``python -m``, CPython
    3.11 remembers a KeyboardInterrupt that left code run from a string (an ``exec``, as in
    Typer's and pydantic's generated code) even when it was handled later, and at exit kills
    the process with SIGINT (-2) instead of exiting with 130 (seen in 3 of 30 SIGTERMs;
    ``tests/interrupted_main.py`` reproduces it).
    """
    code = main()
    if code == ExitCode.INTERRUPTED:
        import atexit

        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(ValueError, OSError):
                stream.flush()
        os._exit(code)
    sys.exit(code)


@contextlib.contextmanager
def _streams(stdin: IO[Any] | None, stdout: IO[Any] | None, stderr: IO[Any] | None
             ) -> Iterator[None]:
    """``sys.stdin``/``stdout``/``stderr`` replaced by text wrappers of the given streams for
    the duration (``.buffer`` is a binary stream, or their byte side), then restored; the
    wrappers are detached, so the caller's streams stay open."""
    from sheetgen.cli.streams import binary_side

    sides = [binary_side(stream, name, reading=name == "stdin") if stream is not None else None
             for name, stream in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr))]
    saved = sys.stdin, sys.stdout, sys.stderr
    wrappers: list[io.TextIOWrapper] = []

    def wrap(stream: BinaryIO) -> io.TextIOWrapper:
        wrapper = io.TextIOWrapper(stream, encoding="utf-8", errors="backslashreplace",
                                   write_through=True)
        wrappers.append(wrapper)
        return wrapper

    try:
        if sides[0] is not None:
            sys.stdin = wrap(sides[0])
        if sides[1] is not None:
            sys.stdout = wrap(sides[1])
        if sides[2] is not None:
            sys.stderr = wrap(sides[2])
        yield
    finally:
        for wrapper in wrappers:
            with contextlib.suppress(ValueError, OSError):
                wrapper.flush()
            with contextlib.suppress(ValueError, OSError):
                wrapper.detach()
        sys.stdin, sys.stdout, sys.stderr = saved


def _run(argv: list[str], *, own_stdout: bool) -> int:
    import signal
    import threading

    # SIGTERM → an orderly exit for the duration of the command only (main() may be called by
    # a program with its own handler); only the main thread can set handlers.
    if threading.current_thread() is not threading.main_thread():
        return _handled(argv, own_stdout=own_stdout)
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return _handled(argv, own_stdout=own_stdout)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _handled(argv: list[str], *, own_stdout: bool) -> int:
    debug = os.environ.get("SHEETGEN_DEBUG") == "1"
    try:
        result = app(args=argv, prog_name="sheetgen", standalone_mode=False)
        code = result if isinstance(result, int) else 0
        if code == ExitCode.INTERRUPTED:  # Typer turns Ctrl-C into exit code 130 itself
            say("interrupted")
    except (typer.Abort, KeyboardInterrupt):
        say("interrupted")
        code = ExitCode.INTERRUPTED
    except typer.TyperException as exc:  # Click's usage errors: bad option, missing argument
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            say(f"error: {exc.message}")
        code = ExitCode.USAGE if exc.exit_code != ExitCode.INTERNAL else ExitCode.INTERNAL
    except SheetgenError as exc:
        if debug:
            raise
        report_error(exc)
        code = exc.exit_code
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`); nothing more to say. Python would
        # complain again when it flushes stdout at exit: point the descriptor at /dev/null.
        if own_stdout:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        code = ExitCode.INTERNAL
    except Exception as exc:
        if debug:
            raise
        say(f"error: internal error ({type(exc).__name__}); this is a bug in sheetgen. "
            "Run again with SHEETGEN_DEBUG=1 for details and report it.")
        code = ExitCode.INTERNAL
    return int(code)


# Commands in their own modules (which do not import this one: no import cycle).
app.command()(template_command)
