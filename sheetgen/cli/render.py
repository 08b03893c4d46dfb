"""``sheetgen fill`` and ``preview``: one applicant's documents, as files or as page images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sheetgen.cli.data import warn_examples
from sheetgen.cli.options import (
    ConfigOption,
    CopiesOption,
    DateOption,
    DetailsOption,
    EditionOption,
    InputArgument,
    JsonOption,
    NoCoverOption,
    NoQrOption,
    PdfaOption,
    PrintSheetOption,
    ProviderOption,
    RulesOption,
    TemplatesOption,
    VariantOption,
    VerificationOption,
    filing_date_option,
    input_name,
    render_setup,
)
from sheetgen.cli.output import emit_json, json_errors
from sheetgen.cli.sheets import (
    IgnoreColumnsOption,
    MapOption,
    SheetOption,
    located,
    sheet_options,
    spreadsheet_input,
)
from sheetgen.errors import UsageError


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
    copies: CopiesOption = None,
    no_qr: NoQrOption = False,
    rules_file: RulesOption = None,
    rules_edition: EditionOption = None,
    verification: VerificationOption = None,
    print_sheet: PrintSheetOption = None,
    config_file: ConfigOption = None,
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
            details=details, rules_edition=rules_edition, verification=verification,
            config_file=config_file, sheet=print_sheet)
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
    warn_examples([(source, result.produced.warnings)])
    if as_json:
        emit_json(result.as_dict())
    elif output != "-":
        print("\n".join(result.outputs))


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
    print_sheet: PrintSheetOption = None,
    config_file: ConfigOption = None,
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
        verification=verification, config_file=config_file, sheet=print_sheet, originals=False)
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

def register(app: typer.Typer) -> None:
    """Add these commands to ``app``."""
    app.command()(fill)
    app.command()(preview)
