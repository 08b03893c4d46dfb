"""The spreadsheet options shared by ``check``, ``fill``, ``preview`` and ``batch``.

``--sheet NAME``, ``--map FILE`` and ``--ignore-columns`` say how a spreadsheet input is read
(:class:`sheetgen.sources.spreadsheet.SheetOptions`); :func:`spreadsheet_input` turns a one-
applicant spreadsheet into the JSON bytes the single-applicant commands take, with the record
kept to locate any error by row and column (:func:`located`).

The spreadsheet reader (:mod:`sheetgen.sources.spreadsheet`, with python-calamine) is imported
only when a spreadsheet is read: these options are declared on every data command, and a fill
of a JSON file must not pay for it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sheetgen.errors import SheetgenError

if TYPE_CHECKING:
    from sheetgen.sources.json import Record
    from sheetgen.sources.spreadsheet import SheetOptions

SheetOption = Annotated[str | None, typer.Option(
    "--sheet", metavar="NAME",
    help="Spreadsheets: read this sheet of an .xlsx (default: the first visible one).")]
MapOption = Annotated[Path | None, typer.Option(
    "--map", metavar="FILE",
    help='Spreadsheets: a TOML file of "header" = "field.path" lines for your own headers.')]
IgnoreColumnsOption = Annotated[bool, typer.Option(
    "--ignore-columns", help="Spreadsheets: skip columns sheetgen does not know, instead of "
                             "refusing the file.")]


def sheet_options(sheet: str | None, column_map: Path | None,
                  ignore_columns: bool) -> SheetOptions:
    from sheetgen.sources.spreadsheet import SheetOptions

    return SheetOptions(sheet=sheet, column_map=column_map, ignore_columns=ignore_columns)


def spreadsheet_input(path: str, options: SheetOptions) -> tuple[bytes, Record]:
    """The one applicant of a spreadsheet as JSON bytes, and its record (for :func:`located`)."""
    from sheetgen.sources.spreadsheet import single_record

    record = single_record(Path(path), options)
    return json.dumps(record.value, ensure_ascii=False).encode(), record


@contextlib.contextmanager
def located(record: Record | None) -> Iterator[None]:
    """Errors raised inside name the spreadsheet row and column of each problem."""
    try:
        yield
    except SheetgenError as err:
        if record is not None and err.problems:
            from sheetgen.sources.spreadsheet import locate

            err.problems = list(locate(record, err.problems))
        raise
