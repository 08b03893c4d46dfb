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
    skipped. The ``编号`` (``ref``) may differ between a group's rows: a number per row is
    the row's own, the applicant's is their shared stem (:func:`_group_ref`). A whole file
    is read before its first record (grouping needs every row); files are bounded by
    :data:`MAX_SPREADSHEET_BYTES`, :data:`MAX_ROWS` and :data:`MAX_READ_SECONDS`.

The format
    By the file's first bytes, not its name (:func:`workbook_bytes`): an OLE2 compound file
    (an old ``.xls``, or an encrypted workbook) or a zip is read as a workbook whatever its
    name; other bytes as CSV/TSV (a ``.xlsx`` name on them is ``not_xlsx``).

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
    (``<f>`` without ``<v>``), only when it has formulas at all: searches that look at the
    formulas' cells only, linear in the sheet's size (:func:`_formula_scan`; the XML is
    never parsed there, so no entity is expanded, and a sheet with a ``<!DOCTYPE`` is not
    searched). Reading a file is bounded in time (:data:`MAX_READ_SECONDS`).

Files written (``--failed``, the template, ``receive --report``)
    Through one set of helpers: :func:`text_cells` (XLSX: every cell a string cell, so text
    such as ``=HYPERLINK(…)`` is never a formula), :func:`csv_bytes` / :func:`csv_cell` (CSV:
    OWASP's neutralisation, an apostrophe before a leading ``=``, ``+``, ``-``, ``@``, tab
    or CR) and :func:`uncsv_cell`, which the CSV reader applies so that a value read back
    equals the value written (the rule and why it is safe: :func:`csv_cell`).
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
from collections.abc import Callable, Iterable, Iterator, Sequence
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
#: Longest one file's reading may take, in seconds. A 10 000-row workbook reads in about
#: 3 s on a busy machine; a file past this bound is one error for the file (``too_large``),
#: never a batch stalled in its parent process.
MAX_READ_SECONDS = 120.0

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


# --- cells written to files (--failed, the template, receive --report) -----------------------

#: The first characters that make a spreadsheet program take a CSV cell as a formula (OWASP,
#: "CSV Injection": ``=``, ``+``, ``-``, ``@``, tab, carriage return), after any apostrophes.
_FORMULA_LIKE = re.compile(r"'*[=+\-@\t\r]")
#: What XML 1.0 (so an XLSX cell) cannot carry: control characters but tab, LF and CR.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def sheet_text(value: object) -> str:
    """A value as the text of a written cell: ``None`` is empty; characters XML cannot carry
    (a scan's file name may hold them) are dropped, or openpyxl refuses the whole file."""
    if value is None:
        return ""
    return _NOT_XML.sub("", value if isinstance(value, str) else str(value))


def csv_cell(value: object) -> str:
    """A cell for a CSV/TSV file sheetgen writes, neutralised as OWASP describes: a text that
    a spreadsheet program would run as a formula gets an apostrophe in front (shown, never
    run). The written cell is *text* with the apostrophe; :func:`uncsv_cell` undoes it.

    The rule is a bijection, so a value read back by sheetgen equals the value written:
    every text matching ``'*[=+-@\\t\\r]`` (any number of apostrophes, then a formula mark)
    gets one more apostrophe; the reader takes one off exactly those texts. ``-2-3`` is
    written ``'-2-3`` and read ``-2-3``; ``'=x`` (an apostrophe typed on purpose) is written
    ``''=x`` and read ``'=x``; ``'abc`` is neither and passes untouched both ways."""
    text = value if isinstance(value, str) else sheet_text(value)
    return "'" + text if _FORMULA_LIKE.match(text) else text


def uncsv_cell(text: str) -> str:
    """A CSV cell as read: the neutralisation of :func:`csv_cell` undone.

    Recognised as sheetgen's own by its exact shape (an apostrophe, then any apostrophes and
    a formula mark), in every CSV read, not only in files sheetgen wrote: a ``--failed`` file
    edited and saved by another program, or rows pasted from it into the staff's own sheet,
    still read as they were written. No field of a filing legitimately starts with an
    apostrophe followed by ``=``, ``+``, ``-``, ``@``, tab or CR, and Excel itself treats a
    leading apostrophe as a text mark, never as part of the value."""
    if text.startswith("'") and _FORMULA_LIKE.match(text):
        return text[1:]
    return text


def text_cells(sheet: Any, row: int, values: Sequence[object], *, column: int = 1) -> list[Any]:
    """Write ``values`` as *text* cells of an openpyxl ``sheet`` from (``row``, ``column``):
    every non-empty value is a string cell (``data_type = "s"``), so ``=HYPERLINK(…)`` typed
    by staff, or a rules file's text, is shown and read back as written, never run as a
    formula (openpyxl takes any string starting with ``=`` as one). The cells, for styling."""
    cells = []
    for offset, value in enumerate(values):
        cell = sheet.cell(row=row, column=column + offset)
        text = sheet_text(value)
        if text:
            cell.value = text
            cell.data_type = "s"  # after the value: setting it guesses the type again
        cells.append(cell)
    return cells


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


def _csv_table(data: bytes, source: str, delimiter: str, deadline: _Deadline) -> Table:
    text = decode_text(data, source)
    first_line = text.split("\n", 1)[0]
    if delimiter == "," and "," not in first_line and "\t" in first_line:
        delimiter = "\t"  # a tab-separated file named .csv (Excel's "Unicode text")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        return _table(source, ((number, [uncsv_cell(v) for v in values])
                               for number, values in enumerate(reader, start=1)),
                      deadline=deadline)
    except csv.Error as exc:  # a field over the csv module's limit (128 KiB), and the like
        raise _file_error(source, "not_csv", f"无法按 CSV 读取（第 {reader.line_num} 行：{exc}）",
                          f"cannot be read as CSV (line {reader.line_num}: {exc})") from None


# --- XLSX ------------------------------------------------------------------------------------

_ENCRYPTED_MARK = "EncryptionInfo".encode("utf-16-le")


def _check_xlsx(data: bytes, source: str) -> None:
    """Refuse what is not an XLSX workbook before any parser sees it."""
    if data.startswith(OLE2_MAGIC):  # an OLE compound file
        if _ENCRYPTED_MARK in data[:1024 * 1024]:
            raise _file_error(source, "encrypted", "工作簿设有打开密码（已加密），无法读取；请在 "
                              "Excel 中取消密码（文件→信息→保护工作簿→用密码进行加密，清空）后另存",
                              "the workbook is password-protected (encrypted); remove the "
                              "password in Excel (File → Info → Protect Workbook → Encrypt "
                              "with Password, clear it) and save again")
        raise _file_error(source, "not_xlsx", "这是旧版 .xls 工作簿（与文件扩展名无关），无法读取；"
                          "请在 Excel 或 WPS 中打开，文件→另存为→“Excel 工作簿 (*.xlsx)”，"
                          "再用新文件运行",
                          "this is an old .xls workbook (whatever its name says); open it in "
                          "Excel, File → Save As → Excel Workbook (*.xlsx), and run on the new "
                          "file")
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


def _xlsx_table(data: bytes, source: str, sheet: str | None, deadline: _Deadline) -> Table:
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
    deadline.check()
    formulas = _formula_cells(data, names.index(name), deadline)
    return _table(source, _xlsx_rows(values, merged, formulas), merged=merged,
                  deadline=deadline)


def _formula_cells(data: bytes, position: int, deadline: _Deadline) -> set[tuple[int, int]]:
    """The (row, column), 0-based, of the cells of the sheet at ``position`` with a formula
    but no cached value: calamine reads those as empty, which must not pass for blank.

    A sheet without any ``<f>`` element (most staff files) costs one substring search; else
    :func:`_formula_scan` looks at the formulas' cells only, in time linear in the part's
    size. The regular expression used before (every cell's content up to ``</c>``) went
    quadratic on cells closed as ``</c >``, which is well-formed XML: 53 KB held ``check``
    for a minute."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        part = _sheet_part(archive, position)
        if part is None:
            return set()
        try:
            xml = archive.read(part)
        except (KeyError, zipfile.BadZipFile, ValueError, EOFError, OSError):
            return set()
    if not any(tag in xml for tag in (b"<f>", b"<f ", b":f>", b":f ", b"<f/", b":f/")):
        return set()
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:  # never in a sheet; nothing is expanded
        return set()
    return _formula_scan(xml, deadline)


#: A formula element (``<f>``, ``<f t="shared" …/>``, ``<x:f>``).
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s/>]")
#: The start of a cell element, and its end (also written ``</c >``).
_CELL_START = re.compile(rb"<(?:\w+:)?c[\s>]")
_CELL_END = re.compile(rb"</(?:\w+:)?c\s*>")
_CELL_REF_ATTR = re.compile(rb'\sr\s*=\s*["\']([A-Z]{1,3}[0-9]{1,7})["\']')
#: A cached value that is not empty (openpyxl writes ``<v></v>`` for a formula it did not
#: compute), or an inline string.
_VALUE_TAG = re.compile(rb"<(?:\w+:)?v(?:\s[^<>]*)?>[^<]|<(?:\w+:)?is[\s>]")


def _last_cell_start(xml: bytes, low: int, high: int) -> int:
    """Where the last cell element starting in ``xml[low:high]`` starts (-1: none), found
    backwards from ``high`` one ``<`` at a time: usually the formula's own tag is the cell's
    first child, so this is one or two steps."""
    at = high
    while True:
        at = xml.rfind(b"<", low, at)
        if at < 0 or _CELL_START.match(xml, at):
            return at


def _formula_scan(xml: bytes, deadline: _Deadline) -> set[tuple[int, int]]:
    """The cells of ``xml`` (a sheet part) whose formula has no cached value.

    Linear in ``len(xml)``: each formula tag is found by one left-to-right search; its cell
    is the last cell start between the end of the previous formula's cell and the formula
    (so these backward windows never overlap), and ends at the first cell end after it (the
    forward windows do not overlap either: a formula before the previous cell's end is in
    that cell and skipped). Each pattern is anchored on a ``<`` and scans at most to the
    next ``<`` or ``>``, so no position is scanned more than a bounded number of times. The
    value test reads only the cell itself; the cells are disjoint. A ``<!DOCTYPE`` was refused
    before (no entity is ever expanded: the XML is only searched, never parsed)."""
    found: set[tuple[int, int]] = set()
    done = 0  # where the last formula's cell ended: nothing before it is looked at again
    for count, formula in enumerate(_FORMULA_TAG.finditer(xml)):
        if not count % 1024:
            deadline.check()
        at = formula.start()
        if at < done:
            continue  # a second formula element of a cell already judged
        start = _last_cell_start(xml, done, at)
        if start < 0:  # a formula outside any cell (a broken part): passed over
            done = at + 1
            continue
        end = _CELL_END.search(xml, at)
        if end is None:  # no cell ends after here: none of the later formulas' cells does
            break
        done = end.end()
        tag_end = xml.find(b">", start, at)
        if tag_end < 0:
            continue
        ref = _CELL_REF_ATTR.search(xml, start, tag_end)
        if ref is not None and not _VALUE_TAG.search(xml, tag_end + 1, end.start()):
            found.add(_cell_position(ref.group(1).decode()))
    return found



class _Deadline:
    """A bound on the time one file's reading may take (:data:`MAX_READ_SECONDS`): checked
    between slices of work, so a file that would take too long is one clear error for the
    file rather than a batch stalled in its parent (where ``--timeout`` does not reach)."""

    def __init__(self, source: str, seconds: float | None = None) -> None:
        import time as _time

        self.source = source
        self.seconds = MAX_READ_SECONDS if seconds is None else seconds
        self.end = _time.monotonic() + self.seconds
        self._clock = _time.monotonic

    def check(self) -> None:
        if self._clock() > self.end:
            limit = f"{self.seconds:g}"
            raise _file_error(self.source, "too_large",
                              f"读取该文件超过 {limit} 秒，已停止；请拆分为多个较小的文件，"
                              "或在 Excel 中另存为新的 .xlsx 后重试",
                              f"reading the file took more than {limit} s and was stopped; "
                              "split it into smaller files, or save it as a new .xlsx in "
                              "Excel and try again")


def _sheet_part(archive: zipfile.ZipFile, position: int) -> str | None:
    """The zip member of the ``position``-th sheet of the workbook, from its relationships."""
    import xml.etree.ElementTree as ET

    try:
        parts = [archive.read(n) for n in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels")]
        if any(b"<!DOCTYPE" in part for part in parts):  # never expanded (entities)
            return None
        workbook, rels = (ET.fromstring(part) for part in parts)
    except (KeyError, ET.ParseError, zipfile.BadZipFile, ValueError, EOFError, OSError):
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
           merged: Sequence[Any] = (), deadline: _Deadline | None = None) -> Table:
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
        if deadline is not None and not number % 1024:
            deadline.check()
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
    deadline = _Deadline(name)
    # The format by content, not by name: a real .xls saved as "x.csv" (or renamed) is told
    # to be saved as .xlsx, not that its bytes are not UTF-8; a workbook renamed .csv reads.
    if workbook_bytes(data) or suffix == ".xlsx":
        return _xlsx_table(data, name, sheet, deadline)
    if sheet is not None:
        raise UsageError(f"--sheet {sheet!r}: {name} is a {suffix} file, which has no sheets")
    return _csv_table(data, name, "\t" if suffix == ".tsv" else ",", deadline)


#: The first bytes of an OLE2 compound file (old .xls, encrypted .xlsx) and of a zip (.xlsx).
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


def workbook_bytes(data: bytes) -> bool:
    """Whether ``data`` begins as a workbook does (an OLE2 compound file or a zip)."""
    return data.startswith(OLE2_MAGIC) or data.startswith(ZIP_MAGICS)


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
        reword = _SHEET_MESSAGES.get(problem.code)
        message = reword(problem.message) if reword is not None else problem.message
        return Problem(problem.path, problem.code, message, self.source, number, column,
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


#: Problems worded for a spreadsheet where the model's words are about JSON: a clerk sees
#: the column to fill, not ``{"name": …, "registrar": …}``.
def _registrar_in_sheet(message: str) -> str:
    zh, _, en = message.partition(" / ")
    return (f"{zh.rstrip('。')}：请在“域名注册商”列按域名的顺序填写，多个用 ; 分隔"
            f"（某个域名没有则填 -；只填一个则适用于本行全部域名） / {en.partition(':')[0]}: "
            "fill the 域名注册商 "
            "column, one per domain in the same order, separated by ; (- for none; a single "
            "one applies to all the row's domains)")


_SHEET_MESSAGES: dict[str, Callable[[str], str]] = {"registrar_required": _registrar_in_sheet}


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
    refs: list[tuple[int, str]] = []
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
            if path == "ref":  # a number per row is the rows' own (see _group_ref)
                refs.append((row_index, text))
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
    if refs:
        sources["ref"] = refs[0][0]
        value["ref"] = _group_ref([text for _, text in refs])
    _registrars(websites)
    _personal_manager(value, websites)
    if websites:
        value["websites"] = websites
    origin = RowOrigin(layout_, tuple(rows), tuple(sources.items()))
    return value, origin, problems


_REF_SEPARATORS = "-_."


def _group_ref(refs: Sequence[str]) -> str:
    """The reference (``编号``) of an applicant whose rows carry several (issue 27.10).

    Staff number each row (``C-01-1``, ``C-01-2`` for one company's two websites); the rows
    are one applicant already (by certificate number or ``分组``), so the numbers are the
    rows' own and not a conflict. The applicant's reference is then the part all of them
    share up to a separator (``-``, ``_``, ``.``): ``C-01``; when they share none
    (``A7``, ``B9``), the first row's. Equal numbers on every row are that number."""
    first = refs[0]
    if all(ref == first for ref in refs):
        return first
    stem = min(refs, key=len)
    while stem:
        if all(ref.startswith(stem) and (ref == stem or ref[len(stem)] in _REF_SEPARATORS)
               for ref in refs):
            break
        stem = stem[:-1]
    stem = stem.rstrip(_REF_SEPARATORS)
    return stem or first


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


#: Checks an applicant's JSON value: its problems, none when valid (the model's; this stage
#: may not import the model, so the callers that can pass it).
Validate = Callable[[object], Sequence[Problem]]


def spreadsheet_records(path: Path, options: SheetOptions | None = None, *,
                        source: str | None = None,
                        mapping: dict[str, str] | None = None,
                        validate: Validate | None = None) -> Iterator[Record]:
    """The records of a spreadsheet file: one applicant per group of rows (module docstring).

    A file that cannot be read, or whose header cannot be used, is one failed record with
    the file's name; a group with cell problems or conflicts is one failed record with them
    and, when ``validate`` is given, with every other problem of its value too
    (:func:`merge_problems`): staff fix a record in one round, not one problem per run.
    A missing file or ``--sheet`` is a UsageError.
    """
    options = options or SheetOptions()
    name = source or str(path)
    try:
        table = read_table(path, source=name, sheet=options.sheet)
    except InvalidDataError as err:
        yield Record(name, error=err)
        return
    mapping = mapping if mapping is not None else cols.load_map(options.column_map)
    try:
        columns = layout(table, mapping, ignore_columns=options.ignore_columns)
    except InvalidDataError as err:
        # The rows were read: they go with the error, so --failed copies them (issue 27.7).
        yield Record(name, error=err, origin=TableOrigin(table, _guess_paths(table, mapping)))
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
            if validate is not None:
                problems = list(merge_problems(problems, origin.locate(validate(value))))
            where = f"{name} row{'s' if len(numbers) > 1 else ''} " + ", ".join(map(str, numbers))
            yield Record(name, value=value, rows=numbers, origin=origin,
                         error=InvalidDataError(f"{where}: invalid applicant data",
                                                problems=problems))
        else:
            yield Record(name, value=value, rows=numbers, origin=origin)


def _guess_paths(table: Table, mapping: dict[str, str]) -> tuple[str | None, ...]:
    """The field path of each column whose header names one, for a header that could not be
    used as a whole (to copy its rows into ``--failed`` under the right columns)."""
    width = max([len(table.header)] + [len(row.cells) for row in table.rows])
    given = (table.paths_row or []) + [""] * width
    header = table.header + [""] * width
    return tuple((cols.resolve_path(given[i]) if given[i] else None)
                 or (cols.resolve(header[i], mapping) if header[i] else None)
                 for i in range(width))


def merge_problems(cells: Sequence[Problem], more: Iterable[Problem]) -> tuple[Problem, ...]:
    """A record's cell and grouping problems, then the problems of its value (both located)
    that are not at a cell already reported: a cell with a problem (an ID stored as a number)
    was left out of the value, so the value's "missing" for it says nothing new."""
    covered = {(p.row, p.column) for p in cells}
    seen = set(cells)
    extra = []
    for problem in more:
        if (problem.row, problem.column) in covered or problem in seen:
            continue
        seen.add(problem)
        extra.append(problem)
    return (*cells, *extra)


def reader(options: SheetOptions | None = None, *,
           validate: Validate | None = None) -> SpreadsheetReader:
    """What :func:`~sheetgen.sources.json.iter_records` reads spreadsheets with, as ``options``
    say; the ``--map`` file is read now, so a bad one fails before any record. ``validate``:
    see :func:`spreadsheet_records`."""
    options = options or SheetOptions()
    mapping = cols.load_map(options.column_map)

    def read(path: Path) -> Iterator[Record]:
        return spreadsheet_records(path, options, mapping=mapping, validate=validate)

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


@dataclass(frozen=True)
class TableOrigin:
    """Where a record that is a whole file came from when its rows could be read but its
    header not used (a missing or unknown column): its rows go to ``--failed`` as they came,
    so a re-run on the fixed file loses none of its applicants (issue 27, item 7)."""

    table: Table
    paths: tuple[str | None, ...]   # the field path of each column, where its header names one

    @property
    def source(self) -> str:
        return self.table.source


@dataclass(frozen=True)
class _FailedRow:
    cells: dict[str, str]              # column key → text
    source: str
    number: int | None                 # its row in the file it came from (None: not a row)
    problems: tuple[Problem, ...]      # its own, or the record's when it is not a row
    fellows: tuple[int, ...] = ()      # the record's rows that have problems, if not this one
    where: str = ""                    # a record that is not a spreadsheet row: where it is


@dataclass
class FailedRows:
    """The failed rows of a run, to write as a spreadsheet staff fix and run again (without
    the filing password column).

    Every failed row is copied as it came in, the error column naming *its own* problems and
    its row both in the file it came from and in this one (rows of this file differ: other
    rows are left out). A row of a failed applicant that has no problem of its own says so
    and names the rows that do (an applicant's rows are fixed and re-run together). A file
    whose header could not be used has all its rows copied, each with the file's problems,
    and the missing required columns added (empty) for staff to fill.

    ``lists`` (field path → values; the template's drop-down lists) gives the ``.xlsx`` the
    template's drop-downs; set by the caller, which knows the rules."""

    keys: list[str] = field(default_factory=list)     # column keys: field paths, or "?header"
    header: list[str] = field(default_factory=list)
    with_paths_row: bool = False
    rows: list[_FailedRow] = field(default_factory=list)
    lists: dict[str, list[str]] = field(default_factory=dict)

    @property
    def paths(self) -> list[str]:
        """The field path of each column ('' where the header names none)."""
        return [key if not key.startswith("?") else "" for key in self.keys]

    def _column(self, key: str, header: str) -> None:
        if key not in self.keys:
            self.keys.append(key)
            self.header.append(header)

    def add(self, record: Record, problems: Sequence[Problem]) -> None:
        """Add a failed record: its rows as they came in (spreadsheets), or one line saying
        where it is (other inputs), with its problems in the error column."""
        origin = record.origin
        if isinstance(origin, TableOrigin):
            self._add_table(origin, problems)
            return
        if not isinstance(origin, RowOrigin):
            where = record.source + "".join(f" {k} {v}" for k, v in
                                            (record.locator or {}).items())
            self.rows.append(_FailedRow({}, record.source, None, tuple(problems), where=where))
            return
        columns = origin.layout
        self.with_paths_row = self.with_paths_row or columns.paths_row is not None
        for index, path in enumerate(columns.paths):
            # The filing password is never written anywhere: staff type it again if needed.
            if path is not None and path != SECRET_COLUMN:
                self._column(path, columns.header[index] or cols.BY_PATH[path].header)
        numbers = set(origin.numbers)
        whole = [p for p in problems if p.row is None or p.row not in numbers]
        troubled = tuple(sorted({p.row for p in problems if p.row in numbers}))
        for row in origin.rows:
            cells = {path: row.cells[i].text for i, path in enumerate(columns.paths)
                     if path is not None and path != SECRET_COLUMN and i < len(row.cells)}
            own = tuple(p for p in problems if p.row == row.number) + tuple(whole)
            fellows = () if own else tuple(n for n in troubled if n != row.number)
            self.rows.append(_FailedRow(cells, origin.source, row.number, own, fellows))

    def _add_table(self, origin: TableOrigin, problems: Sequence[Problem]) -> None:
        table = origin.table
        self.with_paths_row = self.with_paths_row or table.paths_row is not None
        keys: list[str | None] = []
        seen: set[str] = set()
        for index, path in enumerate(origin.paths):
            text = table.header[index] if index < len(table.header) else ""
            if path == SECRET_COLUMN or text == cols.ERROR_HEADER:
                keys.append(None)
                continue
            key = path if path is not None and path not in seen else (
                f"?{text}" if text else None)
            if key is not None:
                seen.add(key)
                self._column(key, text or cols.BY_PATH[key].header)
            keys.append(key)
        for column in cols.missing_required(p for p in origin.paths if p is not None):
            self._column(column.path, column.header)  # empty: for staff to fill
        if not table.rows:
            self.rows.append(_FailedRow({}, origin.source, None, tuple(problems),
                                        where=origin.source))
        for row in table.rows:
            cells = {key: row.cells[i].text for i, key in enumerate(keys)
                     if key is not None and i < len(row.cells)}
            if not any(text.strip() for text in cells.values()):
                continue
            self.rows.append(_FailedRow(cells, origin.source, row.number, tuple(problems)))

    def lines(self) -> list[list[str]]:
        """The rows of the file: the header, the field paths (if any input had them), the
        failed rows with their error column."""
        lines: list[list[str]] = [[*self.header, cols.ERROR_HEADER]]
        if self.with_paths_row:
            lines.append([*self.paths, ""])
        first = len(lines) + 1
        here = {(row.source, row.number): first + i for i, row in enumerate(self.rows)
                if row.number is not None}
        for i, row in enumerate(self.rows):
            lines.append([row.cells.get(key, "") for key in self.keys]
                         + [_row_errors(row, first + i, here)])
        return lines

    def write(self, path: Path) -> None:
        """Write ``path`` (``.xlsx``, ``.csv`` or ``.tsv``) atomically."""
        from sheetgen.output import write_atomic

        lines = self.lines()
        suffix = path.suffix.lower()
        if suffix == ".xlsx":
            data = _xlsx_bytes(lines, paths_row=self.with_paths_row, paths=self.paths,
                               lists=self.lists)
        else:
            data = csv_bytes(lines, delimiter="\t" if suffix == ".tsv" else ",")
        write_atomic(path, data)


def _row_errors(row: _FailedRow, line: int, here: dict[tuple[str, int], int]) -> str:
    """The error column of one failed row (see :class:`FailedRows`)."""
    if row.number is None:
        return f"{row.where}: " + _errors_text(row.problems)
    head = (f"本文件第 {line} 行（原文件 {row.source} 第 {row.number} 行）/ row {line} here "
            f"(row {row.number} of {row.source})")
    if row.problems:
        return f"{head}:\n" + _errors_text(row.problems)
    others = "、".join(f"第 {here.get((row.source, n), '?')} 行（原第 {n} 行）"
                      for n in row.fellows)
    return (f"{head}: 本行没有错误；同一申请人的{others or '其他行'}有错误，"
            "改正后整组一起重新运行 / this row has no problem of its own; the same "
            "applicant's other rows do: fix them and run the group again")


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


def csv_bytes(lines: Iterable[Sequence[object]], *, delimiter: str = ",") -> bytes:
    """CSV (or TSV) of text cells, each neutralised (:func:`csv_cell`), with a UTF-8 BOM so
    that Excel reads it as UTF-8: every CSV sheetgen writes goes through here."""
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(
        [csv_cell(value) for value in line] for line in lines)
    return codecs.BOM_UTF8 + out.getvalue().encode()


def add_dropdowns(sheet: Any, paths: Sequence[str], lists: dict[str, list[str]], *,
                  first_row: int, last_row: int, list_sheet: Any) -> None:
    """The template's drop-down lists on the columns of ``paths`` (field path per column,
    '' for none), rows ``first_row``..``last_row``: each list written as text into a column
    of ``list_sheet`` (a list longer than 255 characters must live in cells), yes/no inline.
    The drop-downs warn but accept other values (aliases such as 赣 or 身份证 are valid)."""
    from openpyxl.worksheet.datavalidation import DataValidation

    def rule(formula: str, letter: str) -> None:
        validation = DataValidation(type="list", formula1=formula, allow_blank=True,
                                    showErrorMessage=True, errorStyle="warning",
                                    errorTitle="不在列表中",
                                    error="该值不在下拉列表中；如确认无误（如简称、别名）可继续。")
        validation.add(f"{letter}{first_row}:{letter}{last_row}")
        sheet.add_data_validation(validation)

    for index, (path, values) in enumerate(lists.items()):
        list_letter = column_letter(index)
        for row, value in enumerate([path, *values], start=1):  # a list runs down a column
            text_cells(list_sheet, row, [value], column=index + 1)
        if path in paths:
            rule(f"'{list_sheet.title}'!${list_letter}$2:${list_letter}${len(values) + 1}",
                 column_letter(paths.index(path)))
    for index, path in enumerate(paths):
        if path and cols.BY_PATH[path].kind == "bool":
            rule('"' + ",".join(YES_NO) + '"', column_letter(index))


#: The values of a yes/no column's drop-down.
YES_NO = ("是", "否")


def _xlsx_bytes(lines: list[list[str]], *, paths_row: bool, paths: Sequence[str] = (),
                lists: dict[str, list[str]] | None = None) -> bytes:
    """A workbook of text cells (the failed rows): bold header, grey field paths, text
    format, the template's drop-downs when ``lists`` are given."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "失败的行"
    for number, line in enumerate(lines, start=1):
        text_cells(sheet, number, line)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    if paths_row:
        for cell in sheet[2]:
            cell.font = Font(color="808080", size=8)
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.number_format = "@"
    for index, text in enumerate(lines[0][:-1]):
        sheet.column_dimensions[column_letter(index)].width = max(
            12, min(30, 2.2 * len(text) + 2))
    error_letter = column_letter(len(lines[0]) - 1)
    sheet.column_dimensions[error_letter].width = 80
    for cell in sheet[error_letter]:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    first = 3 if paths_row else 2
    sheet.freeze_panes = f"A{first}"
    # Printed: landscape, as wide as the page, the header on every page.
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = f"1:{first - 1}"
    if lists:
        options = workbook.create_sheet("选项")
        add_dropdowns(sheet, list(paths), lists, first_row=first,
                      last_row=max(len(lines), first) + 200, list_sheet=options)
        options.sheet_state = "hidden"
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
