"""``sheetgen template FILE.xlsx [--csv]``: write the spreadsheet staff fill in.

The workbook itself is :func:`sheetgen.documents.template.template_workbook`; this command
(registered on the app by :mod:`sheetgen.cli`, which this module does not import) only
chooses the format, refuses to overwrite a file unless ``--force``, writes atomically and
prints the path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sheetgen.errors import UsageError

RulesOption = Annotated[Path | None, typer.Option(
    "--rules", metavar="FILE", help="Rules data (TOML) replacing the built-in rules.")]


def template(
    output: Annotated[Path, typer.Argument(
        metavar="FILE", help="The file to write: FILE.xlsx (or FILE.csv with --csv).")],
    as_csv: Annotated[bool, typer.Option(
        "--csv", help="Write only the CSV header row (UTF-8 with BOM) instead of a workbook.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
    rules_file: RulesOption = None,
) -> None:
    """Write a spreadsheet to fill in: headers, drop-downs, examples, instructions (Chinese)."""
    from sheetgen.documents.template import template_csv, template_workbook
    from sheetgen.output import write_atomic
    from sheetgen.rules import load_rules

    suffix = output.suffix.lower()
    wanted = (".csv", ".tsv") if as_csv else (".xlsx",)
    if suffix not in wanted:
        raise UsageError(f"{output}: the file name must end in {' or '.join(wanted)}",
                         hint="--csv writes a .csv header; without it, an .xlsx workbook")
    if output.exists() and not force:
        raise UsageError(f"{output} exists; it is not overwritten",
                         hint="give another name, or --force to replace it")
    rules = load_rules(rules_file)
    write_atomic(output, template_csv(delimiter="\t" if suffix == ".tsv" else ",")
                 if as_csv else template_workbook(rules))
    print(output)
