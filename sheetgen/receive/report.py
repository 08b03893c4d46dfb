"""The receipt as a file: JSON (the ``--json`` document), or a spreadsheet for staff.

The spreadsheet (CSV, or XLSX) has one row per website of each record: how many originals came
back, how many of them are signed, sealed, fingerprinted and undated, whether that website's
originals are complete and whether the whole record is, and the problems in words; then one
row per page that matched no record (no code, a foreign code, an unreadable file), with its
file and page, so nothing scanned goes missing.

The XLSX is written directly (a minimal SpreadsheetML package: one sheet of inline strings
and numbers, a bold wrapped header row, column widths) rather than through a spreadsheet
library: it is a few lines of XML, and the same receipt always gives the same bytes. It is
set up to be read and printed: the header row frozen and repeated on every printed page,
landscape A4 fitted to the page width, long problems wrapped. Every text cell is an inline
string (never a formula); the CSV's cells are neutralised as every CSV sheetgen writes
(:func:`sheetgen.sources.spreadsheet.csv_bytes`): a scan named ``=HYPERLINK(1).png`` is text.
"""

from __future__ import annotations

import io
import json
import unicodedata
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from sheetgen.errors import UsageError
from sheetgen.output import write_atomic
from sheetgen.sources.spreadsheet import column_letter, csv_bytes, sheet_text

if TYPE_CHECKING:
    from sheetgen.receive import Receipt

HEADERS = ("编号 reference", "主办者 applicant", "网站 website", "收到 received", "应收 expected",
           "已签字 signed", "已盖章 sealed", "已按手印 fingerprint", "日期留空 date blank",
           "本网站齐全 website complete", "整条记录齐全 record complete", "页 pages",
           "问题 problems")
#: Column widths in characters: wide enough for the header's longer half once wrapped, the
#: references and the page lists; problems wrap in the widest.
WIDTHS = (22, 24, 9, 10, 10, 9, 9, 13, 12, 13, 13, 28, 70)
FORMATS = (".json", ".csv", ".xlsx")

Cell = str | int


def rows(receipt: Receipt, *, originals: int = 2) -> list[list[Cell]]:
    """The spreadsheet's rows after its header."""
    out: list[list[Cell]] = []
    for record in receipt.records:
        numbers = set(record.received) | set(range(1, (record.websites or 0) + 1))
        general = [p["message"] for p in record.problems if p.get("website") is None]
        if not numbers:
            out.append([record.reference, record.applicant or "", "", 0, originals,
                        "", "", "", "", "", _yes(record.complete), "", "; ".join(general)])
            continue
        for number in sorted(numbers):
            website = record.received.get(number)
            pages = website.pages if website else []
            mine = [p["message"] for p in record.problems if p.get("website") == number]
            counts: list[Cell] = []
            for flag in ("signed", "seal", "fingerprint", "date_blank"):
                value = website.count(flag) if website is not None else None
                counts.append("" if value is None else value)
            # A website is complete when all its originals came back and none has a problem
            # of its own (the record may still lack another website's).
            whole = website is not None and len(pages) >= originals and not mine
            out.append([record.reference, record.applicant or "", number, len(pages),
                        originals, *counts, _yes(whole), _yes(record.complete),
                        ", ".join(p.where for p in pages), "; ".join(general + mine)])
    for page in receipt.pages:
        if not page.matched:
            out.append(["", "", "", "", "", "", "", "", "", "", "", page.where,
                        "; ".join(p.message for p in page.problems)])
    return out


def _yes(value: bool) -> str:
    return "是 yes" if value else "否 no"


def check_target(path: Path, scans: Sequence[Path]) -> None:
    """Refuse, before any page is read, a report that could not be written or would replace
    a scan: reading a long scan only to fail at the end wastes the staff's time."""
    if path.suffix.lower() not in FORMATS:
        raise UsageError(f"--report {path}: unknown format {path.suffix or '(no suffix)'}",
                         hint="name the report .json, .csv or .xlsx")
    if not path.parent.is_dir():
        raise UsageError(f"--report {path}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise UsageError(f"--report {path} is a folder", hint="give a file name")
    target = path.resolve()
    if any(scan.resolve() == target for scan in scans):
        raise UsageError(f"--report {path} is one of the scans", hint="give another file name")


def write_report(receipt: Receipt, path: Path, *, originals: int = 2) -> None:
    """Write the receipt to ``path`` as JSON, CSV or XLSX by its suffix (atomically)."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = json.dumps(receipt.as_dict(), ensure_ascii=False, indent=2).encode() + b"\n"
    elif suffix == ".csv":
        data = to_csv([list(HEADERS), *rows(receipt, originals=originals)])
    elif suffix == ".xlsx":
        data = to_xlsx([list(HEADERS), *rows(receipt, originals=originals)], WIDTHS)
    else:
        raise UsageError(f"--report {path}: unknown format {suffix or '(no suffix)'}",
                         hint="name the report .json, .csv or .xlsx")
    write_atomic(path, data)


def to_csv(table: Sequence[Sequence[Cell]]) -> bytes:
    """CSV with a byte-order mark (spreadsheet programs read it as UTF-8), every cell
    neutralised against formulas (the shared writer, :func:`csv_bytes`)."""
    return csv_bytes(table)


def to_xlsx(table: Sequence[Sequence[Cell]], widths: Sequence[int]) -> bytes:
    """A one-sheet XLSX workbook of ``table``; its first row is the (bold) header."""
    sheet_rows = []
    for r, row in enumerate(table, start=1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{column_letter(c)}{r}"
            # The header bold and wrapped; the pages and problems (the last two) wrapped.
            style = ' s="1"' if r == 1 else ' s="2"' if c >= len(row) - 2 else ""
            if isinstance(value, int) and not isinstance(value, bool):
                cells.append(f'<c r="{ref}"{style}><v>{value}</v></c>')
            elif value != "":
                text = escape(sheet_text(value))
                cells.append(f'<c r="{ref}"{style} t="inlineStr"><is><t xml:space="preserve">'
                             f"{text}</t></is></c>")
        # Heights set, not left to the reader: LibreOffice does not grow a row for wrapped
        # text on opening, so a long problem would print cut to one line.
        lines = 3 if r == 1 else max([1] + [
            _lines(str(value), widths[c]) for c, value in enumerate(row)
            if c >= len(row) - 2 and c < len(widths) and value != ""])
        height = f' ht="{15 * lines}" customHeight="1"' if lines > 1 else ""
        sheet_rows.append(f'<row r="{r}"{height}>{"".join(cells)}</row>')
    cols = "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
                   for i, w in enumerate(widths, start=1))
    last = f"{column_letter(max(len(widths), 1) - 1)}{max(len(table), 1)}"
    sheet = (f'{_XML}<worksheet xmlns="{_MAIN}">'
             '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
             '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
             'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
             f'<cols>{cols}</cols><sheetData>{"".join(sheet_rows)}</sheetData>'
             f'<autoFilter ref="A1:{last}"/>'
             '<printOptions gridLines="1"/>'
             '<pageMargins left="0.4" right="0.4" top="0.5" bottom="0.5" header="0.3" '
             'footer="0.3"/>'
             '<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" '
             'fitToHeight="0"/>'
             '<headerFooter><oddFooter>&amp;C&amp;P / &amp;N</oddFooter></headerFooter>'
             '</worksheet>')
    parts = {
        "[Content_Types].xml": _CONTENT_TYPES,
        "_rels/.rels": _ROOT_RELS,
        "xl/workbook.xml": _WORKBOOK,
        "xl/_rels/workbook.xml.rels": _WORKBOOK_RELS,
        "xl/styles.xml": _STYLES,
        "xl/worksheets/sheet1.xml": sheet,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, text in parts.items():
            # A fixed timestamp: the same receipt gives the same bytes.
            package.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), text.encode(),
                             compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _lines(text: str, width: int) -> int:
    """How many lines ``text`` takes wrapped in a column ``width`` characters wide (a Chinese
    character is two wide); at most 15, a row that tall is read in the cell anyway."""
    total = 0
    for part in text.split("\n"):
        shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in part)
        total += max(1, -(-shown // max(width - 1, 1)))
    return min(total, 15)


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_OOXML = "application/vnd.openxmlformats"
_CONTENT_TYPES = (
    f'{_XML}<Types xmlns="{_PKG}/content-types">'
    f'<Default Extension="rels" ContentType="{_OOXML}-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.styles+xml"/></Types>')
_ROOT_RELS = (
    f'{_XML}<Relationships xmlns="{_PKG}/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    '</Relationships>')
_WORKBOOK = (
    f'{_XML}<workbook xmlns="{_MAIN}" '
    f'xmlns:r="{_REL}"><sheets><sheet name="收件 received" sheetId="1" r:id="rId1"/></sheets>'
    # The header row on every printed page, and the filter's range as Excel records it.
    '<definedNames><definedName name="_xlnm.Print_Titles" localSheetId="0">'
    "'收件 received'!$1:$1</definedName></definedNames>"
    '</workbook>')
_WORKBOOK_RELS = (
    f'{_XML}<Relationships xmlns="{_PKG}/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/></Relationships>')
_STYLES = (
    f'{_XML}<styleSheet xmlns="{_MAIN}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" '
    'applyAlignment="1"><alignment wrapText="1" vertical="center"/></xf>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">'
    '<alignment wrapText="1" vertical="top"/></xf></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')
