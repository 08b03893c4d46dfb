"""Spreadsheets in (``.xlsx``, ``.csv``, ``.tsv``): a row per website, rows grouped by applicant.

This module owns reading the spreadsheets staff keep: the file's bytes to text cells
(:func:`read_table`), the header row to field paths (:mod:`sheetgen.sources.columns`), rows to
applicant JSON values grouped by host (:func:`spreadsheet_records`), every problem of a record
back to the file, row and column it came from (:meth:`RowOrigin.locate`), and the failed rows
back to staff (:class:`FailedRows`, ``--failed``). Records are
:class:`~sheetgen.sources.json.Record` s like those of JSON inputs, so ``check``, ``fill`` and
``batch`` validate them the same way.

Every cell is text
    CSV cells are text already. XLSX cells that Excel stored as numbers are written back as
    Excel shows them when that is exact (``13800000000``); an ID or phone column holding a
    number of 16 digits or more, or a value in Excel's scientific notation (``3.60426E+17``),
    is an error (``excel_number``) that says how to fix it in Excel: Excel keeps 15 digits, so
    the last digits of an 18-digit ID are already gone.

Encodings (CSV/TSV)
    UTF-8 with or without a BOM, UTF-16 with a BOM (Excel's "Unicode text"), and GB18030 (GBK,
    GB2312: what Chinese Excel writes as "CSV"). Not UTF-8 → GB18030, accepted only when the
    text reads as Chinese: nearly every two-byte character in the GB2312 area (both bytes
    ≥ 0xA1), as real GBK text is. Bytes of another encoding (Latin-1, Big5, Shift-JIS) decode
    as GB18030 into rare characters of the extension areas, so they are refused
    (``not_utf8``) instead of becoming mojibake on a sheet.

Grouping
    Rows with the same host certificate number (or the same ``分组``/``group`` value, where a
    row has one) are one applicant, its websites in row order; other rows of the group may
    leave the applicant's columns blank. A non-blank value that differs from the group's is an
    error (``group_conflict``) naming both rows. In a personal filing blank manager name and
    certificate cells mean the host (contract: the manager is the applicant). Empty rows are
    skipped. A whole file is read before its first record (grouping needs every row); files
    are bounded by :data:`MAX_SPREADSHEET_BYTES` and :data:`MAX_ROWS`.

XLSX
    The first visible sheet, or ``--sheet NAME``; hidden sheets are never read by default.
    Formulas give their cached value (what Excel shows); a formula without one (a file written
    by a program that does not compute) is an error for its row (``formula_no_value``). A
    merged range over rows gives every cell of it the top-left value (staff merge the host's
    cells over its websites); a range over several columns of data rows is an error for those
    rows (``merged_cells``), in the header row an error of the file. A file that is not a zip
    (``not_xlsx``), an encrypted (password-protected) workbook (``encrypted``), an old ``.xls``
    workbook, or one that unpacks to more than :data:`MAX_UNPACKED_BYTES` (``too_large``) is
    one clear error for the file.

Problem codes (stable): cells ``excel_number``, ``formula_no_value``, ``merged_cells``; groups
``group_conflict``; the header ``unknown_column``, ``duplicate_column``, ``missing_column``,
``no_header``; files ``not_xlsx``, ``encrypted``, ``no_sheet``, ``not_csv``, ``not_utf8``,
``too_large``, ``no_records``. Each names the file, and where it has them the row (as the
spreadsheet numbers it) and the column header.

XLSX reader
    python-calamine (Rust) rather than openpyxl. Measured on this machine (2 shared
    cores, other work running; 2026-12-01), 10 000 rows × 38 columns written by openpyxl
    (1.3 MB), reading every cell, one process each, twice: openpyxl 3.1 ``read_only=True,
    data_only=True`` 37.0 s / 31.8 s and 32 MB peak RSS; python-calamine 0.9 ``to_python``
    2.3 s / 2.2 s and 70 MB peak (the sheet is held whole; the grouping needs every row
    anyway): 14–16× faster. openpyxl's read-only mode also has no merged ranges, which
    calamine gives. openpyxl is used only to *write* (the template, ``--failed``). Formulas
    without a cached value, which calamine reads as empty, are found in the sheet's XML
    (``<f>`` without ``<v>``), only when it has formulas at all.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, NamedTuple

import sheetgen.sources.columns as cols
from sheetgen.errors import InvalidDataError, Problem, UsageError
from sheetgen.sources.json import (  # noqa: F401 - is_spreadsheet is also this module's
    SPREADSHEET_FILES,
    Record,
    SpreadsheetReader,
    is_spreadsheet,
    json_path,
    printable,
)
from sheetgen.vocabulary import Nature

SPREADSHEET_SUFFIXES = SPREADSHEET_FILES
#: Largest spreadsheet file read. 10 000 rows are about 1.3 MB as XLSX and 4 MB as CSV; a
#: bigger file is split by staff rather than held in memory whole (grouping needs every row).
MAX_SPREADSHEET_BYTES = 32 * 1024 * 1024
#: Largest total an XLSX file may unpack to (a zip bomb is refused before it is unpacked).
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
#: Most data rows of one sheet.
MAX_ROWS = 100_000
#: Largest cell, in characters (the longest field, a homepage, allows 2000).
MAX_CELL = 4000

_SPLIT = re.compile(r"[\n\r;；、,，]+")
_SCIENTIFIC = re.compile(r"[0-9](?:\.[0-9]+)?[eE]\+?[0-9]+")
_TRUE = frozenset({"是", "有", "yes", "y", "true", "1", "√", "✓"})
_FALSE = frozenset({"否", "无", "没有", "no", "n", "false", "0", "×"})
_INDEX = re.compile(r"\[(\d+)\]")
_NO_REGISTRAR = frozenset({"-", "—", "－"})

load_map = cols.load_map


@dataclass(frozen=True)
class SheetOptions:
    """How spreadsheets are read: ``--sheet``, ``--map``, ``--ignore-columns``."""

    sheet: str | None = None
    column_map: Path | None = None
    ignore_columns: bool = False


# --- cells ---------------------------------------------------------------------------------

class Cell(NamedTuple):
    """A cell as read: its text, or the problem that keeps it from having one.

    A named tuple, not a dataclass: a sheet has hundreds of thousands of cells, and a tuple
    is several times cheaper to make."""

    text: str = ""
    code: str | None = None      # excel_number, formula_no_value, merged_cells
    message: str = ""


_BLANK = Cell()


@dataclass(frozen=True)
class Row:
    """A row of data: its number as the spreadsheet shows it and one cell per column."""

    number: int
    cells: tuple[Cell, ...]


@dataclass
class Table:
    """A sheet's rows as text: the header row, an optional field-path row, the data rows."""

    source: str
    header: list[str]
    header_row: int
    paths_row: list[str] | None = None
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)   # of the whole file


def _excel_number_cell(shown: str) -> Cell:
    return Cell(shown, "excel_number",
                f"Excel 已把该值存为数字 {shown}，超过 15 位的数字已丢失；"
                "请把该列设置为“文本”格式后重新输入完整号码（或在号码前加英文单引号 '） / "
                "Excel stored this as the number "
                f"{shown} and dropped the digits after the 15th; format the column as Text "
                "(Format Cells → Text) and type the full number again (or start it with ')")


def _number_text(value: float | int, kind: str) -> Cell:
    """A number cell as the text Excel shows, or an error where digits were lost."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return Cell(str(value))
        if value.is_integer():
            value = int(value)
        else:
            return Cell(repr(value) if kind != "number" else format(value, "g"))
    text = str(value)
    if kind == "number" and len(text.lstrip("-")) > 15:
        return _excel_number_cell(format(float(value), ".5E"))  # as Excel shows it
    return Cell(text)


def text_cell(text: str, kind: str) -> Cell:
    """A text cell; Excel's scientific notation in an ID or phone column is an error."""
    if len(text) > MAX_CELL:
        text = text[:MAX_CELL]  # the model then reports it as too long
    if kind == "number" and _SCIENTIFIC.fullmatch(text.strip()):
        return _excel_number_cell(text.strip())
    return Cell(text)


# --- CSV and TSV -----------------------------------------------------------------------------

def decode_text(data: bytes, source: str) -> str:
    """The text of a CSV/TSV file: UTF-8 (BOM or not), UTF-16 with BOM, or GB18030."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise _file_error(source, "not_utf8", f"文件以 {encoding} 标记开头，但第 "
                                  f"{exc.start + 1} 个字节无效",
                                  f"the file starts with a {encoding} mark but byte "
                                  f"{exc.start + 1} is not {encoding}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        utf8_error = exc.start + 1
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _reads_as_gbk(text):
        return text
    raise _file_error(source, "not_utf8",
                      f"无法确定文件编码（第 {utf8_error} 个字节不是 UTF-8，也不像 GB18030 中文）；"
                      "请在 Excel 中另存为“CSV UTF-8”",
                      f"cannot tell the encoding (byte {utf8_error} is not UTF-8, and the text "
                      "does not read as GB18030 Chinese); save it as “CSV UTF-8” in Excel")


def _reads_as_gbk(text: str) -> bool:
    """Whether GB18030-decoded text looks like real Chinese (see the module docstring).

    Judged on the first 200 000 characters: enough to tell, and a big file costs no more."""
    common = rare = 0
    for char in text[:200_000]:
        if char < "\x80":
            continue
        encoded = char.encode("gb18030")
        if len(encoded) == 2 and encoded[0] >= 0xA1 and encoded[1] >= 0xA1:
            common += 1
        else:
            rare += 1
    return rare <= max(2, common // 20)


def _csv_table(data: bytes, source: str, delimiter: str) -> Table:
    text = decode_text(data, source)
    first_line = text.split("\n", 1)[0]
    if delimiter == "," and "," not in first_line and "\t" in first_line:
        delimiter = "\t"  # a tab-separated file named .csv (Excel's "Unicode text")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        return _table(source, ((number, values)
                               for number, values in enumerate(reader, start=1)))
    except csv.Error as exc:  # a field over the csv module's limit (128 KiB), and the like
        raise _file_error(source, "not_csv", f"无法按 CSV 读取（第 {reader.line_num} 行：{exc}）",
                          f"cannot be read as CSV (line {reader.line_num}: {exc})") from None


# --- XLSX ------------------------------------------------------------------------------------

_ENCRYPTED_MARK = "EncryptionInfo".encode("utf-16-le")


def _check_xlsx(data: bytes, source: str) -> None:
    """Refuse what is not an XLSX workbook before any parser sees it."""
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # an OLE compound file
        if _ENCRYPTED_MARK in data[:1024 * 1024]:
            raise _file_error(source, "encrypted", "工作簿设有打开密码（已加密），无法读取；请在 "
                              "Excel 中取消密码（文件→信息→保护工作簿→用密码进行加密，清空）后另存",
                              "the workbook is password-protected (encrypted); remove the "
                              "password in Excel (File → Info → Protect Workbook → Encrypt "
                              "with Password, clear it) and save again")
        raise _file_error(source, "not_xlsx", "这是旧版 .xls 工作簿，请另存为 .xlsx",
                          "this is an old .xls workbook; save it as .xlsx (Excel Workbook)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise _file_error(source, "not_xlsx",
                          "不是 .xlsx 工作簿（不是 zip 文件；是否改过扩展名？）",
                          "not an .xlsx workbook (not a zip file; was it renamed from another "
                          "format?)") from None
    if "xl/workbook.xml" not in names:
        raise _file_error(source, "not_xlsx", "不是 .xlsx 工作簿（缺少 xl/workbook.xml）",
                          "not an .xlsx workbook (a zip file without xl/workbook.xml)")
    if unpacked > MAX_UNPACKED_BYTES:
        limit = f"{MAX_UNPACKED_BYTES // (1024 * 1024)} MiB"
        raise _file_error(source, "too_large", f"工作簿解压后超过 {limit}，请拆分为多个文件",
                          f"the workbook unpacks to more than {limit}; split it into several "
                          "files")


def _xlsx_table(data: bytes, source: str, sheet: str | None) -> Table:
    _check_xlsx(data, source)
    import python_calamine

    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = list(workbook.sheets_metadata)
    except Exception as exc:  # calamine raises its own error types for broken parts
        raise _file_error(source, "not_xlsx", f"工作簿已损坏，无法读取（{type(exc).__name__}）",
                          f"the workbook is damaged and cannot be read "
                          f"({type(exc).__name__})") from None
    names = [meta.name for meta in sheets]
    if sheet is not None:
        if sheet not in names:
            shown = "、".join(names)
            raise _file_error(source, "no_sheet", f"没有名为 {printable(sheet, 40)} 的工作表"
                              f"（有：{shown}）", f"no sheet named {printable(sheet, 40)} "
                              f"(its sheets: {shown}); --sheet takes the name on the tab")
        name = sheet
    else:
        visible = [meta.name for meta in sheets
                   if meta.visible == python_calamine.SheetVisibleEnum.Visible]
        if not visible:
            raise _file_error(source, "no_sheet", "工作簿没有可见的工作表",
                              "the workbook has no visible sheet; name one with --sheet")
        name = visible[0]
    try:
        worksheet = workbook.get_sheet_by_name(name)
        values = worksheet.to_python(skip_empty_area=False)
        merged = list(getattr(worksheet, "merged_cell_ranges", None) or [])
    except Exception as exc:
        raise _file_error(source, "not_xlsx", f"工作表 {name} 已损坏，无法读取"
                          f"（{type(exc).__name__}）", f"sheet {name!r} is damaged and cannot "
                          f"be read ({type(exc).__name__})") from None
    formulas = _formula_cells(data, names.index(name))
    return _table(source, _xlsx_rows(values, merged, formulas), merged=merged)


def _formula_cells(data: bytes, position: int) -> set[tuple[int, int]]:
    """The (row, column), 0-based, of the cells of the sheet at ``position`` with a formula
    but no cached value: calamine reads those as empty, which must not pass for blank.

    A sheet without any ``<f>`` element (most staff files) costs one substring search; else
    one regular-expression pass over its cells (C speed, not a Python loop per cell)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        part = _sheet_part(archive, position)
        if part is None:
            return set()
        xml = archive.read(part)
    # Substring searches first (fast); the regular expression only when one matches.
    if not any(tag in xml for tag in (b"<f>", b"<f ", b":f>", b":f ")) or \
            not _FORMULA_TAG.search(xml):
        return set()
    return {_cell_position(match.group(1).decode()) for match in _CELL.finditer(xml)
            if _FORMULA_TAG.search(match.group(2)) and not _VALUE_TAG.search(match.group(2))}


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s/>]")
#: A cached value that is not empty (openpyxl writes ``<v></v>`` for a formula it did not
#: compute).
_VALUE_TAG = re.compile(rb"<(?:\w+:)?v>[^<]|<(?:\w+:)?is>\s*<")
#: A cell element with content (a self-closing ``<c …/>`` has neither formula nor value).
_CELL = re.compile(rb'<(?:\w+:)?c\s[^>]*?\br="([A-Z]+[0-9]+)"[^>]*?(?<!/)>(.*?)</(?:\w+:)?c>',
                   re.DOTALL)


def _sheet_part(archive: zipfile.ZipFile, position: int) -> str | None:
    """The zip member of the ``position``-th sheet of the workbook, from its relationships."""
    import xml.etree.ElementTree as ET

    try:
        workbook = ET.fromstring(archive.read("xl/workbook.xml"))
        rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ET.ParseError):
        return None
    sheets = [el for el in workbook.iter() if el.tag.rpartition("}")[2] == "sheet"]
    if position >= len(sheets):
        return None
    rid = next((v for k, v in sheets[position].attrib.items() if k.endswith("}id")), None)
    for rel in rels:
        if rel.get("Id") == rid:
            target = rel.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return None


def _cell_position(ref: str) -> tuple[int, int]:
    letters = "".join(ch for ch in ref if ch.isalpha())
    digits = "".join(ch for ch in ref if ch.isdigit())
    column = 0
    for ch in letters.upper():
        column = column * 26 + ord(ch) - 64
    return (int(digits or "0") - 1, column - 1)


def _xlsx_rows(values: list[list[Any]], merged: Sequence[Any],
               formulas: set[tuple[int, int]]) -> Iterator[tuple[int, list[Any]]]:
    """Rows of raw cell values with merged ranges filled in and formulas without a value
    marked; numbering as in the sheet (1-based). Only the cells concerned are visited."""
    for cell_range in merged:
        (top, left), (bottom, right) = cell_range
        first = values[top][left] if top < len(values) and left < len(values[top]) else ""
        for r in range(top, min(bottom + 1, len(values))):
            row = values[r]
            for c in range(left, min(right + 1, len(row))):
                row[c] = first
                if right > left and first not in ("", None):
                    row[c] = _Merged(first)
    for r, c in formulas:
        if r < len(values) and c < len(values[r]):
            values[r][c] = _FORMULA
    for r, row in enumerate(values):
        yield r + 1, row


class _Marker:
    """A cell that has no usable value (see _FORMULA, _Merged)."""


_FORMULA = _Marker()


@dataclass(frozen=True)
class _Merged:
    value: Any


# --- from raw rows to a table ----------------------------------------------------------------

def _to_cell(value: Any, kind: str) -> Cell:
    if value.__class__ is str:  # the common case first
        if not value:
            return _BLANK
        if kind != "number" and len(value) <= MAX_CELL:
            return Cell(value)
        return text_cell(value, kind)
    if value is None:
        return _BLANK
    if value is _FORMULA:
        return Cell("", "formula_no_value",
                    "公式没有计算结果（文件由未计算公式的程序写出）；"
                    "请在 Excel 中打开并保存，或改为填写值 / "
                    "a formula without a computed value (written by a program that does not "
                    "calculate); open and save the file in Excel, or type the value")
    if isinstance(value, _Merged):
        inner = _to_cell(value.value, kind)
        return Cell(inner.text, "merged_cells",
                    "跨列合并的单元格，无法确定属于哪一列；请取消合并 / "
                    "merged across columns: which "
                    "column it belongs to is unclear; unmerge the cells")
    if isinstance(value, bool):
        return Cell("是" if value else "否")
    if isinstance(value, int | float):
        return _number_text(value, kind)
    if isinstance(value, datetime):
        return Cell(value.isoformat(sep=" ") if value.time() != time() else
                    value.date().isoformat())
    if isinstance(value, date | time):
        return Cell(value.isoformat())
    return text_cell(str(value), kind)


def _blank_row(values: Sequence[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _table(source: str, rows: Iterable[tuple[int, list[Any]]], *,
           merged: Sequence[Any] = ()) -> Table:
    """The header (the first non-empty row), an optional field-path row, then the data rows."""
    iterator = iter(rows)
    header: list[str] | None = None
    header_row = 0
    for number, values in iterator:
        if not _blank_row(values):
            header, header_row = [_header_text(v) for v in values], number
            break
    if header is None:
        raise _file_error(source, "no_header", "表格是空的，没有表头行",
                          "the sheet is empty: no header row")
    table = Table(source, header, header_row)
    for top_left, bottom_right in merged:
        if top_left[0] + 1 <= header_row <= bottom_right[0] + 1 and \
                bottom_right[1] > top_left[1]:
            table.problems.append(Problem(
                "", "merged_cells", "表头中有跨列合并的单元格，请取消合并 / the header row has "
                                    "cells merged across columns; unmerge them",
                source, header_row))
            break
    kinds = [_column_kind(h) for h in header]
    for number, values in iterator:
        if _blank_row(values):
            continue
        texts = [v if isinstance(v, str) else "" for v in values]
        if table.paths_row is None and not table.rows and _is_paths_row(texts):
            table.paths_row = [t.strip() for t in texts]
            kinds = [_column_kind(p or h) for h, p in
                     zip(header, table.paths_row + [""] * len(header), strict=False)]
            continue
        if len(table.rows) >= MAX_ROWS:
            raise _file_error(source, "too_large", f"超过 {MAX_ROWS} 行，请拆分为多个文件",
                              f"more than {MAX_ROWS} rows; split it into several files")
        if len(values) > len(kinds):
            kinds += ["text"] * (len(values) - len(kinds))
        table.rows.append(Row(number, tuple(map(_to_cell, values, kinds))))
    return table


def _header_text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()


def _is_paths_row(texts: Sequence[str]) -> bool:
    """A row right below the header whose every non-blank cell is a field path (template)."""
    filled = [t.strip() for t in texts if t.strip()]
    return bool(filled) and all(cols.resolve_path(t) is not None for t in filled)


def _column_kind(header: str) -> str:
    path = cols.resolve(header, {})
    return cols.BY_PATH[path].kind if path else "text"


def read_table(path: Path, *, source: str | None = None, sheet: str | None = None) -> Table:
    """The text cells of a spreadsheet file (raises InvalidDataError for a file that cannot be
    read as one, UsageError for a missing file or sheet)."""
    from sheetgen.sources.json import read_file

    name = source or str(path)
    data = read_file(path, limit=MAX_SPREADSHEET_BYTES, hint="check the path")
    if len(data) > MAX_SPREADSHEET_BYTES:
        limit = f"{MAX_SPREADSHEET_BYTES // (1024 * 1024)} MiB"
        raise _file_error(name, "too_large", f"文件超过 {limit} 的上限，请拆分为多个文件",
                          f"the file is larger than {limit}; split it into several files")
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return _xlsx_table(data, name, sheet)
    if sheet is not None:
        raise UsageError(f"--sheet {sheet!r}: {name} is a {suffix} file, which has no sheets")
    return _csv_table(data, name, "\t" if suffix == ".tsv" else ",")


# --- columns ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    """What each column of a table means: the field path per column index (None: ignored)."""

    source: str
    header: tuple[str, ...]
    header_row: int
    paths: tuple[str | None, ...]
    paths_row: tuple[str, ...] | None

    @functools.cached_property
    def fields(self) -> tuple[tuple[int, str, cols.Column, tuple[str, ...]], ...]:
        """The columns that fill fields: index, path, column, keys (under the website for
        ``website.`` columns), computed once per sheet rather than once per cell."""
        return tuple((index, path, cols.BY_PATH[path],
                      tuple(path.split(".")[1:] if cols.BY_PATH[path].website
                            else path.split(".")))
                     for index, path in enumerate(self.paths)
                     if path is not None and path != "group")

    def column(self, path: str) -> int | None:
        try:
            return self.paths.index(path)
        except ValueError:
            return None

    def header_of(self, path: str) -> str | None:
        index = self.column(path)
        return None if index is None else (self.header[index] or path)


def layout(table: Table, mapping: dict[str, str], *, ignore_columns: bool) -> Layout:
    """Map the header to field paths; every header problem at once (one InvalidDataError)."""
    problems = list(table.problems)
    width = max([len(table.header)] + [len(row.cells) for row in table.rows])
    header = table.header + [""] * (width - len(table.header))
    given = (table.paths_row or []) + [""] * width
    paths: list[str | None] = []
    seen: dict[str, str] = {}
    for index, text in enumerate(header):
        letter = column_letter(index)
        if text == cols.ERROR_HEADER or (not text and not given[index]):
            if not text and any(index < len(row.cells) and row.cells[index].text.strip()
                                for row in table.rows) and not ignore_columns:
                problems.append(Problem("", "unknown_column", f"第 {letter} 列有数据但没有表头 / "
                                        f"column {letter} has values but no header",
                                        table.source, table.header_row, letter))
            paths.append(None)
            continue
        path = (cols.resolve_path(given[index]) if given[index] else None) or \
            cols.resolve(text, mapping)
        if path is None:
            paths.append(None)
            if not ignore_columns:
                hint = cols.did_you_mean(text)
                shown = printable(text, 40)
                problems.append(Problem(
                    "", "unknown_column",
                    f"未知的列 {shown}" + (f"，是否应为 “{hint}”？" if hint else "")
                    + " / unknown column " + shown
                    + (f" (did you mean “{hint}”?)" if hint else "")
                    + "; --map FILE maps it, --ignore-columns skips it",
                    table.source, table.header_row, text))
            continue
        if path in seen:
            problems.append(Problem("", "duplicate_column",
                                    f"列 “{seen[path]}” 和 “{text}” 都对应 {path} / columns "
                                    f"“{seen[path]}” and “{text}” both fill {path}",
                                    table.source, table.header_row, text))
            paths.append(None)
            continue
        seen[path] = text
        paths.append(path)
    missing = cols.missing_required(seen)
    if missing:
        listed = "、".join(f"{c.header}（{c.path}）" for c in missing)
        problems.append(Problem("", "missing_column",
                                f"缺少必填列：{listed} / missing required columns: "
                                + ", ".join(f"{c.header} ({c.path})" for c in missing),
                                table.source, table.header_row))
    if problems:
        raise InvalidDataError(f"{table.source}: the header row cannot be used "
                               f"({len(problems)} problem{'s' if len(problems) != 1 else ''})",
                               problems=problems)
    return Layout(table.source, tuple(header), table.header_row, tuple(paths),
                  tuple(table.paths_row) if table.paths_row is not None else None)


def column_letter(index: int) -> str:
    """The spreadsheet column name of 0-based ``index`` (0 → A, 26 → AA): openpyxl's
    ``get_column_letter`` less one, without importing openpyxl (0.35 s) to read a sheet."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# --- rows to applicants ----------------------------------------------------------------------

@dataclass(frozen=True)
class RowOrigin:
    """Where a spreadsheet record came from: to locate its problems and to write it back."""

    layout: Layout
    rows: tuple[Row, ...]
    sources: tuple[tuple[str, int], ...] = ()  # applicant column path → row index it came from

    @property
    def source(self) -> str:
        return self.layout.source

    @property
    def numbers(self) -> tuple[int, ...]:
        return tuple(row.number for row in self.rows)

    def locate(self, problems: Iterable[Problem]) -> tuple[Problem, ...]:
        """Each problem with the file, the row as the sheet numbers it and the column header."""
        return tuple(self._locate(p) for p in problems)

    def _locate(self, problem: Problem) -> Problem:
        if problem.row is not None:
            return problem
        row_index, column = self._place(problem.path)
        number = self.rows[row_index].number if row_index < len(self.rows) else None
        return Problem(problem.path, problem.code, problem.message, self.source, number, column,
                       problem.severity)

    def _place(self, path: str) -> tuple[int, str | None]:
        parts = [p for p in re.split(r"\.|(?=\[)", path) if p]
        row_index = 0
        if parts and parts[0] == "websites":
            match = _INDEX.fullmatch(parts[1]) if len(parts) > 1 else None
            row_index = int(match.group(1)) if match else 0
            names = ["website"] + [p for p in parts[2:] if not _INDEX.fullmatch(p)]
        else:
            names = [p for p in parts if not _INDEX.fullmatch(p)]
        if names[-2:] == ["domains", "registrar"]:
            names = [*names[:-2], "registrars"]
        if names[-2:] == ["domains", "holder"]:
            names = [*names[:-2], "domain_holders"]
        for end in range(len(names), 0, -1):
            candidate = ".".join(names[:end])
            header = self.layout.header_of(candidate)
            if header is not None:
                if not candidate.startswith("website"):
                    row_index = dict(self.sources).get(candidate, 0)
                return row_index, header
            if candidate == "website.manager" or candidate == "host.principal":
                header = self.layout.header_of(candidate + ".name")
                if header is not None:
                    return row_index, header
        return row_index, None


def _split(text: str) -> list[str]:
    return [part.strip() for part in _SPLIT.split(text) if part.strip()]


def _flag(text: str) -> object:
    key = unicodedata.normalize("NFKC", text).strip().casefold()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    return text  # the model says it must be true or false, at this cell


def _put(target: dict[str, Any], keys: tuple[str, ...], value: object) -> None:
    for key in keys[:-1]:
        child = target.setdefault(key, {})
        if not isinstance(child, dict):
            return
        target = child
    target[keys[-1]] = value


def _group_key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).upper()


def _value(column: cols.Column, text: str) -> object:
    if column.kind == "list":
        return _split(text)
    if column.kind == "bool":
        return _flag(text)
    return text


def _applicant(layout_: Layout, rows: Sequence[Row]) -> tuple[dict[str, Any], RowOrigin,
                                                               list[Problem]]:
    """The applicant JSON of a group of rows, where each value came from, and its problems."""
    value: dict[str, Any] = {}
    problems: list[Problem] = []
    sources: dict[str, int] = {}
    websites: list[dict[str, Any]] = []
    for row_index, row in enumerate(rows):
        website: dict[str, Any] = {}
        cells = row.cells
        for index, path, column, keys in layout_.fields:
            if index >= len(cells):
                continue
            cell = cells[index]
            if cell.code is not None:
                parts: list[str | int] = (["websites", row_index, *keys] if column.website
                                          else list(keys))
                problems.append(Problem(json_path(parts), cell.code, cell.message,
                                        layout_.source, row.number, layout_.header[index]
                                        or path))
                continue
            text = cell.text.strip()
            if not text:
                continue
            if column.website:
                _put(website, keys, _value(column, text))
                continue
            first = sources.get(path)
            if first is None:
                sources[path] = row_index
                _put(value, keys, _value(column, text))
                continue
            earlier = rows[first].cells[index].text.strip()
            same = (_group_key(earlier) == _group_key(text) if column.kind == "number"
                    else earlier == text)
            if not same:
                header = layout_.header[index] or path
                # Values are shown, but not the password, IDs or phone numbers.
                hidden = path == SECRET_COLUMN or column.kind == "number"
                shown_a = "" if hidden else f" {printable(earlier, 30)}"
                shown_b = "" if hidden else f" {printable(text, 30)}"
                problems.append(Problem(
                    json_path(keys), "group_conflict",
                    f"同一申请人的第 {rows[first].number} 行{shown_a}与第 {row.number} 行{shown_b}"
                    f"的“{header}”不一致 / {header} differs between row {rows[first].number}"
                    f"{shown_a} and row {row.number}{shown_b} of the same applicant",
                    layout_.source, row.number, header))
        websites.append(website)
    _registrars(websites)
    _personal_manager(value, websites)
    if websites:
        value["websites"] = websites
    origin = RowOrigin(layout_, tuple(rows), tuple(sources.items()))
    return value, origin, problems


def _registrars(websites: list[dict[str, Any]]) -> None:
    """``website.registrars`` and ``website.domain_holders``: paired with the domains in order
    (``-``: none for that one); a single one applies to all."""
    for website in websites:
        paired = {key: website.pop(column, None) for key, column in
                  (("registrar", "registrars"), ("holder", "domain_holders"))}
        domains = website.get("domains")
        if not any(paired.values()) or not isinstance(domains, list):
            continue
        for key, values in paired.items():
            if values and len(values) == 1:
                paired[key] = values * len(domains)

        website["domains"] = [_paired(name, i, paired) for i, name in enumerate(domains)]


def _paired(name: Any, i: int, paired: dict[str, Any]) -> Any:
    """Domain ``i`` of a row: its name, or ``{name, registrar, holder}`` where they are given."""
    extra = {key: values[i] for key, values in paired.items()
             if values and i < len(values) and values[i] not in _NO_REGISTRAR}
    return {"name": name, **extra} if extra else name


def _personal_manager(value: dict[str, Any], websites: list[dict[str, Any]]) -> None:
    """In a personal filing the manager is the host: blank name and certificate cells are his."""
    host = value.get("host")
    if not isinstance(host, dict) or not isinstance(host.get("nature"), str):
        return
    if Nature.parse(host["nature"]) is not Nature.PERSONAL:
        return
    certificate = host.get("certificate")
    for website in websites:
        manager = website.setdefault("manager", {})
        if "name" not in manager and "name" in host:
            manager["name"] = host["name"]
        if isinstance(certificate, dict):
            cert = manager.setdefault("certificate", {})
            for key in ("type", "number"):
                if key not in cert and key in certificate:
                    cert[key] = certificate[key]


def spreadsheet_records(path: Path, options: SheetOptions | None = None, *,
                        source: str | None = None,
                        mapping: dict[str, str] | None = None) -> Iterator[Record]:
    """The records of a spreadsheet file: one applicant per group of rows (module docstring).

    A file that cannot be read, or whose header cannot be used, is one failed record with
    the file's name; a group with cell problems or conflicts is one failed record with them.
    A missing file or ``--sheet`` is a UsageError.
    """
    options = options or SheetOptions()
    name = source or str(path)
    try:
        table = read_table(path, source=name, sheet=options.sheet)
        columns = layout(table, mapping if mapping is not None else
                         cols.load_map(options.column_map),
                         ignore_columns=options.ignore_columns)
    except InvalidDataError as err:
        yield Record(name, error=err)
        return
    group_column = columns.column("group")
    cert_column = columns.column("host.certificate.number")
    groups: dict[str, list[Row]] = {}
    used = [i for i, path in enumerate(columns.paths) if path is not None]
    for row in table.rows:
        # Empty rows are skipped; so is a row with values only in ignored columns (the error
        # column of a --failed file, where a record that was a whole file is listed).
        if all(i >= len(row.cells) or (not row.cells[i].text.strip() and row.cells[i].code
                                        is None) for i in used):
            continue
        # The group cell when there is one, else the host's certificate number.
        key = ""
        for kind, index in (("g", group_column), ("c", cert_column)):
            if index is not None and index < len(row.cells) and row.cells[index].text.strip():
                key = f"{kind}:{_group_key(row.cells[index].text)}"
                break
        groups.setdefault(key or f"r:{row.number}", []).append(row)
    if not groups:
        yield Record(name, error=_file_error(name, "no_records", "表格没有数据行",
                                             "the sheet has no data rows (only the header)"))
        return
    for rows in groups.values():
        value, origin, problems = _applicant(columns, rows)
        numbers = origin.numbers
        if problems:
            where = f"{name} row{'s' if len(numbers) > 1 else ''} " + ", ".join(map(str, numbers))
            yield Record(name, value=value, rows=numbers, origin=origin,
                         error=InvalidDataError(f"{where}: invalid applicant data",
                                                problems=problems))
        else:
            yield Record(name, value=value, rows=numbers, origin=origin)


def reader(options: SheetOptions | None = None) -> SpreadsheetReader:
    """What :func:`~sheetgen.sources.json.iter_records` reads spreadsheets with, as ``options``
    say; the ``--map`` file is read now, so a bad one fails before any record."""
    options = options or SheetOptions()
    mapping = cols.load_map(options.column_map)

    def read(path: Path) -> Iterator[Record]:
        return spreadsheet_records(path, options, mapping=mapping)

    return read


def _file_error(source: str, code: str, zh: str, en: str | None) -> InvalidDataError:
    message = f"{zh} / {en}" if en else zh
    english = en if en else zh.partition(" / ")[2]
    return InvalidDataError(f"{source}: {english}",
                            problems=[Problem("", code, message, source)])


def locate(record: Record, problems: Iterable[Problem]) -> tuple[Problem, ...]:
    """``problems`` of ``record`` located by row and column when it came from a spreadsheet."""
    origin = record.origin
    if isinstance(origin, RowOrigin):
        return origin.locate(problems)
    return tuple(problems)


# --- one applicant (fill, preview) ------------------------------------------------------------

def single_record(path: Path, options: SheetOptions | None = None) -> Record:
    """The one applicant of a spreadsheet (``fill``): its rows must be one group."""
    records = list(spreadsheet_records(path, options))
    if len(records) > 1:
        rows = ", ".join(str(r.rows[0]) for r in records[:5] if r.rows)
        raise UsageError(f"{path}: holds {len(records)} applicants (first rows {rows}); fill "
                         "takes one", hint="use `sheetgen batch` for many applicants")
    record = records[0]
    if record.error is not None:
        raise record.error
    return record


# --- failed rows back to staff (--failed) -------------------------------------------------------

#: The column ``--failed`` leaves out: the filing password appears in no output.
SECRET_COLUMN = "access.filing_password"


@dataclass
class FailedRows:
    """The failed rows of a run, to write as a spreadsheet staff fix and run again (without
    the filing password column)."""

    header: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # the field path of each header column
    with_paths_row: bool = False
    rows: list[tuple[dict[str, str], str]] = field(default_factory=list)  # path → text, errors

    def add(self, record: Record, problems: Sequence[Problem]) -> None:
        """Add a failed record: its rows as they came in (spreadsheets), or one line saying
        where it is (other inputs), with every problem in the error column."""
        origin = record.origin
        if not isinstance(origin, RowOrigin):
            where = record.source + "".join(f" {k} {v}" for k, v in
                                            (record.locator or {}).items())
            self.rows.append(({}, f"{where}: " + _errors_text(problems)))
            return
        columns = origin.layout
        self.with_paths_row = self.with_paths_row or columns.paths_row is not None
        for index, path in enumerate(columns.paths):
            # The filing password is never written anywhere: staff type it again if needed.
            if path is not None and path not in self.paths and path != SECRET_COLUMN:
                self.paths.append(path)
                self.header.append(columns.header[index] or cols.BY_PATH[path].header)
        file_problems = [p for p in problems if p.row is None]
        for row in origin.rows:
            cells = {path: row.cells[i].text for i, path in enumerate(columns.paths)
                     if path is not None and path != SECRET_COLUMN and i < len(row.cells)}
            own = [p for p in problems if p.row == row.number] + file_problems
            self.rows.append((cells, f"第 {row.number} 行 / row {row.number}: "
                              + _errors_text(own or problems)))

    def write(self, path: Path) -> None:
        """Write ``path`` (``.xlsx``, ``.csv`` or ``.tsv``) atomically."""
        from sheetgen.output import write_atomic

        header = [*self.header, cols.ERROR_HEADER]
        lines: list[list[str]] = [header]
        if self.with_paths_row:
            lines.append([*self.paths, ""])
        lines += [[cells.get(p, "") for p in self.paths] + [errors]
                  for cells, errors in self.rows]
        suffix = path.suffix.lower()
        if suffix == ".xlsx":
            data = _xlsx_bytes(lines, paths_row=self.with_paths_row)
        else:
            out = io.StringIO(newline="")
            csv.writer(out, delimiter="\t" if suffix == ".tsv" else ",",
                       lineterminator="\r\n").writerows(lines)
            data = codecs.BOM_UTF8 + out.getvalue().encode()  # the BOM: Excel reads it as UTF-8
        write_atomic(path, data)


def _errors_text(problems: Sequence[Problem]) -> str:
    parts = []
    for problem in problems:
        where = f"{problem.column}: " if problem.column else (
            f"{problem.path}: " if problem.path else "")
        parts.append(f"{where}{problem.message} [{problem.code}]")
    return "\n".join(parts)


def check_failed_path(path: Path | None) -> None:
    """``--failed FILE`` must end in .xlsx, .csv or .tsv and be writable (checked early)."""
    if path is None:
        return
    if path.suffix.lower() not in SPREADSHEET_SUFFIXES:
        raise UsageError(f"--failed {path}: the file name must end in .xlsx, .csv or .tsv")
    from sheetgen.output import check_writable

    check_writable(path)


def _xlsx_bytes(lines: list[list[str]], *, paths_row: bool) -> bytes:
    """A workbook of text cells (the failed rows): bold header, grey field paths, text format."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "失败的行"
    for line in lines:
        sheet.append(line)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    if paths_row:
        for cell in sheet[2]:
            cell.font = Font(color="808080", size=8)
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.number_format = "@"
    error_letter = column_letter(len(lines[0]) - 1)
    sheet.column_dimensions[error_letter].width = 80
    for cell in sheet[error_letter]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A3" if paths_row else "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --- applicants to rows (the template's examples, benchmarks) ----------------------------------

def rows_of(applicant: dict[str, Any]) -> list[dict[str, str]]:
    """The spreadsheet rows of an applicant JSON value: one per website, field path → text,
    the applicant's columns repeated on every row (the inverse of the grouping above)."""
    top: dict[str, str] = {}
    _flatten(applicant, "", top, skip="websites")
    rows = []
    for website in applicant.get("websites") or [{}]:
        row = dict(top)
        site = dict(website)
        domains = site.pop("domains", [])
        names = [d["name"] if isinstance(d, dict) else str(d) for d in domains]
        row["website.domains"] = "; ".join(names)
        for key, column in (("registrar", "website.registrars"),
                            ("holder", "website.domain_holders")):
            values = [(d.get(key) if isinstance(d, dict) else None) or "-" for d in domains]
            if any(v != "-" for v in values):
                row[column] = "; ".join(values)
        _flatten(site, "website.", row)
        rows.append(row)
    return rows


def _flatten(value: dict[str, Any], prefix: str, out: dict[str, str], skip: str = "") -> None:
    for key, item in value.items():
        if key == skip:
            continue
        path = f"{prefix}{key}"
        if isinstance(item, dict):
            _flatten(item, path + ".", out)
        elif isinstance(item, list):
            out[path] = "; ".join(str(v) for v in item)
        elif isinstance(item, bool):
            out[path] = "是" if item else "否"
        elif item is not None:
            out[path] = str(item)
