"""Spreadsheet input (issue 13): real files written by openpyxl, by LibreOffice and as CSV bytes.

Covers: every cell as text and Excel's lost digits; CSV encodings; rows grouped into
applicants; headers (aliases, field paths, --map, unknown and missing columns); errors by file,
row and column in check, fill and the batch manifest; --failed; the bad inputs of the issue.
"""

from __future__ import annotations

import codecs
import copy
import csv
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from sheetgen.batch import BatchOptions, run_batch
from sheetgen.documents.example import make_example
from sheetgen.model import check_records, parse_applicant
from sheetgen.rules import load_rules
from sheetgen.sources import columns as cols
from sheetgen.sources.json import iter_records
from sheetgen.sources.spreadsheet import (
    MAX_SPREADSHEET_BYTES,
    SheetOptions,
    decode_text,
    rows_of,
    spreadsheet_records,
    uncsv_cell,
)
from tests.applicants import ID_JX, SECRET, personal, unit
from tests.conftest import REPO
from tests.conftest import run_cli as cli
from tests.test_batch import FORK

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


# --- helpers -----------------------------------------------------------------------------------

def table(*applicants: dict[str, Any], headers: str = "chinese") -> list[list[str]]:
    """A header row and the rows of ``applicants`` (one per website), as text."""
    rows = [row for applicant in applicants for row in rows_of(applicant)]
    paths = [c.path for c in cols.COLUMNS if any(c.path in row for row in rows)]
    head = [cols.BY_PATH[p].header if headers == "chinese" else p for p in paths]
    return [head] + [[row.get(p, "") for p in paths] for row in rows]


def write_xlsx(path: Path, lines: list[list[Any]], *, title: str = "申请人") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    for line in lines:
        sheet.append(line)
    workbook.save(path)
    return path


def write_csv(path: Path, lines: list[list[str]], *, encoding: str = "utf-8",
              delimiter: str = ",") -> Path:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter).writerows(lines)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def records(path: Path, **options: Any) -> list[Any]:
    return list(spreadsheet_records(path, SheetOptions(**options)))


def column(lines: list[list[str]], path: str) -> int:
    return lines[0].index(cols.BY_PATH[path].header)


def two_sites() -> dict[str, Any]:
    """The personal fixture with a second website (one applicant, two rows)."""
    data = personal()
    second = copy.deepcopy(data["websites"][0])
    second.update(name="张三的生活随笔", domains=["zhangsan-life.cn"],
                  homepage="https://zhangsan-life.cn", filing_number="赣ICP备2024012345号-2")
    data["websites"].append(second)
    return data


def other_person() -> dict[str, Any]:
    """Another person (Zhejiang) with two websites, ref ``TWO``."""
    other = make_example(load_rules(), "浙江", "personal")
    other["ref"] = "TWO"
    other["websites"].append({**other["websites"][0], "name": "另一个技术网站",
                              "domains": ["another-example.cn"], "homepage": None})
    return other


# --- cells as text ---------------------------------------------------------------------------

def test_rows_round_trip_to_the_same_applicant(tmp_path: Path) -> None:
    for data in (personal(), unit(), two_sites()):
        path = write_xlsx(tmp_path / "a.xlsx", table(data))
        [record] = records(path)
        assert record.error is None
        assert parse_applicant(record.value) == parse_applicant(data)


def test_numbers_excel_stored_are_text_and_lost_digits_an_error(tmp_path: Path) -> None:
    lines: list[list[Any]] = table(personal(), unit())
    mobile = column(lines, "website.manager.mobile")
    number = column(lines, "host.certificate.number")
    lines[1][mobile] = 13800000000           # a number cell: exact, so it is the same text
    lines[2][number] = 91110108551385082     # 17 digits as a number: digits were lost
    path = write_xlsx(tmp_path / "n.xlsx", lines)
    first, second = records(path)
    assert first.error is None
    assert first.value["websites"][0]["manager"]["mobile"] == "13800000000"
    assert second.error is not None
    [problem] = second.error.problems
    assert (problem.code, problem.row, problem.column, problem.path) == (
        "excel_number", 3, "证件号码", "host.certificate.number")
    assert "文本" in problem.message and "Format Cells" in problem.message


def test_scientific_notation_in_a_csv_is_an_error_leading_zeros_survive(tmp_path: Path) -> None:
    lines = table(personal(), unit())
    lines[1][column(lines, "host.certificate.number")] = "3.60426E+17"
    lines[2][column(lines, "website.manager.office_phone")] = "0791-0000001"
    lines[2][column(lines, "ref")] = "007"
    path = write_csv(tmp_path / "s.csv", lines)
    first, second = records(path)
    assert first.error is not None and first.error.problems[0].code == "excel_number"
    assert second.value["websites"][0]["manager"]["office_phone"] == "0791-0000001"
    assert second.value["ref"] == "007"


# --- CSV encodings -----------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
def test_csv_encodings_read_the_same(tmp_path: Path, encoding: str) -> None:
    lines = table(personal(), unit())
    expected = [r.value for r in records(write_csv(tmp_path / "u.csv", lines))]
    got = [r.value for r in records(write_csv(tmp_path / f"{encoding}.csv", lines,
                                              encoding=encoding))]
    assert got == expected and got[0]["host"]["name"] == "张三"


@pytest.mark.parametrize("encoding", ["latin-1", "big5", "shift_jis"])
def test_other_encodings_are_an_error_never_mojibake(tmp_path: Path, encoding: str) -> None:
    text = {"latin-1": "Société Générale, Zürich; Crème brûlée",
            "big5": "網站主辦者名稱：臺灣測試資訊股份有限公司，網域名稱",
            "shift_jis": "ウェブサイト名称：テスト株式会社、ドメイン"}[encoding]
    lines = table(personal())
    lines[1][column(lines, "host.address")] = text
    path = write_csv(tmp_path / "x.csv", [[c.encode(encoding, "replace").decode(encoding)
                                           for c in line] for line in lines], encoding=encoding)
    [record] = records(path)
    assert record.error is not None
    assert [p.code for p in record.error.problems] == ["not_utf8"]
    assert "CSV UTF-8" in record.error.problems[0].message


def test_gb18030_text_with_rare_names_still_reads() -> None:
    text = "省份,网站主办者名称\n江西,张三\n江西,李𠮷\n广东,欧阳喆\n"
    assert decode_text(text.encode("gb18030"), "x.csv") == text


def test_tsv_and_a_tab_separated_csv(tmp_path: Path) -> None:
    lines = table(personal())
    for name in ("t.tsv", "t.csv"):
        [record] = records(write_csv(tmp_path / name, lines, delimiter="\t"))
        assert record.error is None and record.value["host"]["name"] == "张三"


# --- grouping ------------------------------------------------------------------------------------

def test_rows_of_one_host_are_one_applicant_in_row_order(tmp_path: Path) -> None:
    lines = table(two_sites(), unit())
    # The second website's row leaves the applicant's columns blank but the certificate.
    for path in cols.BY_PATH:
        if not cols.BY_PATH[path].website and path != "host.certificate.number" and \
                cols.BY_PATH[path].header in lines[0]:
            lines[2][lines[0].index(cols.BY_PATH[path].header)] = ""
    lines.insert(2, lines.pop(3))  # the unit's row between the two websites of the person
    first, second = records(write_xlsx(tmp_path / "g.xlsx", lines))
    assert first.rows == (2, 4) and second.rows == (3,)
    assert [w["name"] for w in first.value["websites"]] == ["张三的技术笔记", "张三的生活随笔"]
    assert parse_applicant(first.value) == parse_applicant(two_sites())


def test_a_group_column_groups_rows(tmp_path: Path) -> None:
    lines = table(personal(), personal())
    lines[0].append("分组")
    lines[1].append("A")
    lines[2].append("B")
    first, second = records(write_csv(tmp_path / "g.csv", lines))
    assert (first.rows, second.rows) == ((2,), (3,))


def test_host_fields_that_disagree_name_both_rows(tmp_path: Path) -> None:
    lines = table(two_sites())
    lines[2][column(lines, "host.address")] = "江西省九江市某某路 2 号"
    lines[2][column(lines, "access.filing_password")] = "another-" + SECRET
    [record] = records(write_csv(tmp_path / "c.csv", lines))
    assert record.error is not None
    by_column = {p.column: p for p in record.error.problems}
    assert by_column["通信地址"].code == "group_conflict"
    assert "第 2 行" in by_column["通信地址"].message and "row 3" in by_column["通信地址"].message
    assert by_column["通信地址"].row == 3
    assert SECRET not in json.dumps([p.as_dict() for p in record.error.problems],
                                    ensure_ascii=False)


def test_personal_manager_cells_may_be_left_blank(tmp_path: Path) -> None:
    lines = table(personal())
    for path in ("website.manager.name", "website.manager.certificate.type",
                 "website.manager.certificate.number"):
        lines[1][column(lines, path)] = ""
    [record] = records(write_csv(tmp_path / "p.csv", lines))
    assert parse_applicant(record.value) == parse_applicant(personal())


def test_empty_rows_are_skipped(tmp_path: Path) -> None:
    lines = table(personal(), unit())
    lines = [[""] * len(lines[0]), *lines[:2], ["", " "], *lines[2:], [""]]
    first, second = records(write_xlsx(tmp_path / "e.xlsx", lines))
    assert (first.rows, second.rows) == ((3,), (5,))


# --- headers -----------------------------------------------------------------------------------

def test_aliases_field_paths_and_marks_name_the_same_columns(tmp_path: Path) -> None:
    chinese = table(personal())
    paths = table(personal(), headers="paths")
    expected = records(write_csv(tmp_path / "c.csv", chinese))[0].value
    assert records(write_csv(tmp_path / "p.csv", paths))[0].value == expected
    aliases = list(chinese[0])
    aliases[column(chinese, "host.name")] = "主办单位名称"
    aliases[column(chinese, "website.domains")] = "网站域名*"
    aliases[column(chinese, "website.manager.mobile")] = "网站负责人手机号码（必填）"
    aliases[column(chinese, "province")] = "ＰＲＯＶＩＮＣＥ"  # full-width field path
    got = records(write_csv(tmp_path / "a.csv", [aliases, *chinese[1:]]))[0].value
    assert got == expected


def test_map_file_adds_headers(tmp_path: Path) -> None:
    lines = table(personal())
    lines[0][column(lines, "host.name")] = "申请人"
    lines[0][column(lines, "website.manager.mobile")] = "联系人电话"
    path = write_csv(tmp_path / "m.csv", lines)
    mapping = tmp_path / "map.toml"
    mapping.write_text('"申请人" = "host.name"\n[columns]\n', "utf-8")
    result = cli("check", str(path), "--map", str(mapping))
    assert result.code == 3 and "联系人电话" in result.stderr and "申请人\"" not in result.stderr
    mapping.write_text('"申请人" = "host.name"\n"联系人电话" = "website.manager.mobile"\n', "utf-8")
    assert cli("check", str(path), "--map", str(mapping)).code == 0
    mapping.write_text('"申请人" = "host.nmae"\n', "utf-8")
    result = cli("check", str(path), "--map", str(mapping))
    assert result.code == 2 and "host.name" in result.stderr  # did you mean


def test_unknown_columns_are_an_error_with_did_you_mean_unless_ignored(tmp_path: Path) -> None:
    lines = table(personal())
    lines[0].append("网站负责人手集")
    lines[1].append("x")
    path = write_csv(tmp_path / "u.csv", lines)
    result = cli("check", str(path))
    assert result.code == 3
    assert "u.csv row 1, 网站负责人手集" in result.stderr and "网站负责人手机" in result.stderr
    assert "[unknown_column]" in result.stderr
    assert cli("check", str(path), "--ignore-columns").code == 0


def test_missing_required_columns_are_listed_together_before_any_record(tmp_path: Path) -> None:
    lines = table(personal())
    keep = [i for i, h in enumerate(lines[0]) if h not in ("省份", "网站名称", "网站负责人邮箱")]
    path = write_csv(tmp_path / "m.csv", [[line[i] for i in keep] for line in lines])
    result = cli("check", str(path), "--json")
    assert result.code == 3
    payload = json.loads(result.stdout)
    [record] = payload.get("records", [payload])
    [problem] = record["errors"]
    assert problem["code"] == "missing_column" and problem["row"] == 1
    for header in ("省份", "网站名称", "网站负责人邮箱"):
        assert header in problem["message"]


def test_two_columns_for_one_field_are_an_error(tmp_path: Path) -> None:
    lines = table(personal())
    lines[0].append("主办单位名称")
    lines[1].append("张三")
    [record] = records(write_csv(tmp_path / "d.csv", lines))
    assert record.error is not None
    assert [p.code for p in record.error.problems] == ["duplicate_column"]


@pytest.mark.parametrize("separator", ["\n", ";", "；", "、", ",", ", "])
def test_multi_value_cells_split_on_every_separator(tmp_path: Path, separator: str) -> None:
    lines = table(personal())
    lines[1][column(lines, "website.domains")] = separator.join(["example.cn", "例子.中国"])
    lines[1][column(lines, "website.registrars")] = f"-{separator}某某注册商"
    lines[1][column(lines, "website.ips")] = separator.join(["203.0.113.7", "2001:db8::7"])
    [record] = records(write_xlsx(tmp_path / "v.xlsx", lines))
    website = record.value["websites"][0]
    assert website["domains"] == ["example.cn", {"name": "例子.中国", "registrar": "某某注册商"}]
    assert website["ips"] == ["203.0.113.7", "2001:db8::7"]


def test_the_readme_documents_the_header_table() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme.split("## From a spreadsheet", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_.]+)` \| (.+?) \| (.*?) \|", section, re.M)
    assert [path for path, _, _ in rows] == [c.path for c in cols.COLUMNS]
    for path, header, aliases in rows:
        column_ = cols.BY_PATH[path]
        assert header.strip() == column_.header + (" *" if column_.required else "")
        assert [a for a in aliases.split("、") if a.strip()] == list(column_.aliases)


# --- errors by row: check, fill, batch ---------------------------------------------------------

def test_check_names_file_row_and_header(tmp_path: Path) -> None:
    lines = table(personal(), unit())
    lines[2][column(lines, "website.manager.mobile")] = "12345"
    path = write_xlsx(tmp_path / "applicants.xlsx", lines)
    result = cli("check", str(path))
    assert result.code == 3
    assert (f"{path} row 3, 网站负责人手机 (websites[0].manager.mobile):") in result.stderr
    result = cli("check", str(path), "--json")
    payload = json.loads(result.stdout)
    assert [r["rows"] for r in payload["records"]] == [[2], [3]]
    [problem] = payload["records"][1]["errors"]
    assert problem == {**problem, "source": str(path), "row": 3, "column": "网站负责人手机",
                       "path": "websites[0].manager.mobile", "code": "mobile_format"}
    assert SECRET not in result.text + result.stderr


def test_fill_reads_a_one_applicant_spreadsheet(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "one.xlsx", table(two_sites()))
    out = tmp_path / "one.pdf"
    result = cli("fill", str(path), "-o", str(out), "--no-cover")
    assert result.code == 0, result.stderr
    from pypdf import PdfReader

    assert len(PdfReader(out).pages) == 2
    many = write_xlsx(tmp_path / "many.xlsx", table(personal(), unit()))
    result = cli("fill", str(many), "-o", str(tmp_path / "x.pdf"))
    assert result.code == 2 and "2 applicants" in result.stderr and "batch" in result.stderr
    lines = table(personal())
    lines[1][column(lines, "website.manager.email")] = "not-an-email"
    bad = write_csv(tmp_path / "bad.csv", lines)
    result = cli("fill", str(bad), "-o", str(tmp_path / "b.pdf"))
    assert result.code == 3 and f"{bad} row 2, 网站负责人邮箱" in result.stderr


def _batch(inputs: list[str], outdir: Path, *, cover: bool = True, **options: Any) -> Any:
    from sheetgen.documents.jobs import RenderOptions

    return run_batch(inputs, BatchOptions(outdir=outdir, jobs=2, render=RenderOptions(
        cover=cover), **options), mp_context=FORK)


def test_batch_manifest_carries_source_row_and_ref_also_when_failed(tmp_path: Path) -> None:
    good, bad = personal(), unit()
    bad["ref"] = "BJ-7"
    bad["websites"][0]["manager"]["mobile"] = "12345"
    lines = table(good, bad, other_person())
    path = write_xlsx(tmp_path / "in.xlsx", lines)
    result = _batch([str(path)], tmp_path / "out", cover=False, formats=("pdf",))
    entries = result.manifest()["records"]
    assert [(e["ok"], e["source"], e["locator"], e["ref"]) for e in entries] == [
        (True, str(path), {"row": 2}, "QY-2026-000123"), (False, str(path), {"row": 3}, "BJ-7"),
        (True, str(path), {"row": 4}, "TWO")]
    assert entries[2]["rows"] == [4, 5]
    [problem] = entries[1]["errors"]
    assert (problem["row"], problem["column"]) == (3, "网站负责人手机")
    assert sorted(p.name for p in (tmp_path / "out").glob("*.pdf")) == [
        "QY-2026-000123.pdf", "TWO.pdf"]


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_failed_rows_come_back_with_an_error_column(tmp_path: Path, suffix: str) -> None:
    bad = two_sites()
    bad["websites"][1]["manager"]["mobile"] = "12345"
    lines = table(unit(), bad)
    source = write_csv(tmp_path / "in.csv", lines)
    failed = tmp_path / f"failed{suffix}"
    result = _batch([str(source)], tmp_path / "out", failed=failed, cover=False)
    assert [r.ok for r in result.records] == [True, False]
    back = list(spreadsheet_records(failed))
    [record] = back
    assert record.rows == (2, 3) and record.error is None
    # The rows as they came in (but the filing password), plus the error column.
    got = read_back(failed)
    assert got[0][-1] == cols.ERROR_HEADER
    assert got[0][:-1] == [h for h in lines[0] if h != "备案密码"]
    keep = [i for i, h in enumerate(lines[0]) if h != "备案密码"]
    assert [row[:-1] for row in got[1:]] == [[lines[r][i] for i in keep] for r in (2, 3)]
    # Each row its own problems, by its row here and in the file it came from (issue 27.6).
    assert got[2][-1].startswith(f"本文件第 3 行（原文件 {source} 第 4 行）")
    assert "\n网站负责人手机: " in got[2][-1] and "mobile_format" in got[2][-1]
    assert "mobile_format" not in got[1][-1]
    assert got[1][-1].startswith(f"本文件第 2 行（原文件 {source} 第 3 行）")
    assert "本行没有错误" in got[1][-1] and "第 3 行（原第 4 行）" in got[1][-1]
    assert SECRET not in failed.read_bytes().decode("utf-8", "replace")
    # Fixed there, the same file runs again.
    fixed = [row[:-1] for row in got]
    fixed[2][got[0].index("网站负责人手机")] = "13800000000"
    again = write_csv(tmp_path / f"fixed{suffix}.csv", fixed)
    assert [r.ok for r in _batch([str(again)], tmp_path / "out2", cover=False).records] == [True]


def read_back(path: Path) -> list[list[str]]:
    if path.suffix == ".csv":
        text = path.read_bytes().decode("utf-8-sig")  # as sheetgen reads it: neutralised
        return [[uncsv_cell(v) for v in row]       # cells ('-…, '=…) taken back
                for row in csv.reader(io.StringIO(text, newline=""))]
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


# --- bad input -----------------------------------------------------------------------------------

def test_merged_cells_over_rows_fill_across_columns_are_an_error(tmp_path: Path) -> None:
    lines = table(two_sites(), unit())
    for index, header in enumerate(lines[0]):
        if not cols.BY_PATH[cols.resolve(header, {}) or "ref"].website:
            lines[2][index] = ""
    path = write_xlsx(tmp_path / "m.xlsx", lines)
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    assert sheet is not None
    for index, header in enumerate(lines[0], start=1):  # the host's cells over its two rows
        if not cols.BY_PATH[cols.resolve(header, {}) or "ref"].website:
            letter = openpyxl.utils.get_column_letter(index)
            sheet.merge_cells(f"{letter}2:{letter}3")
    name = lines[0].index("网站名称") + 1
    sheet.merge_cells(start_row=4, start_column=name, end_row=4, end_column=name + 1)
    workbook.save(path)
    first, second = records(path)
    assert first.error is None and first.rows == (2, 3)
    assert parse_applicant(first.value) == parse_applicant(two_sites())
    assert second.error is not None
    assert {p.code for p in second.error.problems} == {"merged_cells"}
    assert {p.row for p in second.error.problems} == {4}


def test_formulas_use_the_cached_value_none_is_an_error_for_its_row(tmp_path: Path) -> None:
    lines: list[list[Any]] = table(personal(), unit())
    lines[2][column(lines, "host.name")] = '="北京某某"&"科技有限公司"'
    path = write_xlsx(tmp_path / "f.xlsx", lines)  # openpyxl computes nothing: no cached value
    first, second = records(path)
    assert first.error is None
    assert second.error is not None
    [problem] = second.error.problems
    assert (problem.code, problem.row, problem.column) == ("formula_no_value", 3, "网站主办者名称")


@pytest.mark.skipif(SOFFICE is None and not os.environ.get("SHEETGEN_REQUIRE_LIBREOFFICE"),
                    reason="LibreOffice (soffice) is not installed")
def test_formulas_saved_by_libreoffice_give_their_value(tmp_path: Path) -> None:
    lines: list[list[Any]] = table(personal(), unit())
    lines[2][column(lines, "host.name")] = '="北京某某"&"科技有限公司"'
    saved = soffice_convert(write_xlsx(tmp_path / "f.xlsx", lines), tmp_path, "xlsx")
    first, second = records(saved)
    assert first.error is None and second.error is None
    assert second.value["host"]["name"] == "北京某某科技有限公司"


def test_hidden_sheets_are_skipped_and_sheet_picks_one(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    hidden = workbook.active
    assert hidden is not None
    hidden.title = "旧数据"
    for line in table(unit()):
        hidden.append(line)
    hidden.sheet_state = "hidden"
    data = workbook.create_sheet("申请人")
    for line in table(personal()):
        data.append(line)
    path = tmp_path / "h.xlsx"
    workbook.save(path)
    [record] = records(path)
    assert record.value["host"]["name"] == "张三"
    [record] = records(path, sheet="旧数据")
    assert record.value["host"]["name"] == "北京某某科技有限公司"
    [record] = records(path, sheet="没有")
    assert record.error is not None and record.error.problems[0].code == "no_sheet"
    assert "申请人" in record.error.problems[0].message


def test_not_a_zip_an_old_xls_and_a_huge_file_are_clear_errors(tmp_path: Path) -> None:
    cases = {"renamed.xlsx": b"name,value\n1,2\n",
             "old.xlsx": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096),
             "huge.xlsx": b"PK\x03\x04" + bytes(50 * 1024 * 1024)}
    codes = {}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        result = cli("check", str(path))
        assert result.code == 3 and "Traceback" not in result.stderr
        codes[name] = re.findall(r"\[(\w+)\]", result.stderr)
    assert codes == {"renamed.xlsx": ["not_xlsx"], "old.xlsx": ["not_xlsx"],
                     "huge.xlsx": ["too_large"]}
    assert MAX_SPREADSHEET_BYTES < 50 * 1024 * 1024


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (300 * 1024 * 1024))
    [record] = records(path)
    assert record.error is not None and record.error.problems[0].code == "too_large"


def test_a_password_protected_workbook_is_a_clear_error(tmp_path: Path) -> None:
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = write_xlsx(tmp_path / "plain.xlsx", table(personal()))
    locked = tmp_path / "locked.xlsx"
    with plain.open("rb") as source, locked.open("wb") as target:
        OOXMLFile(source).encrypt("secret-password", target)
    result = cli("check", str(locked))
    assert result.code == 3 and "[encrypted]" in result.stderr and "password" in result.stderr


def test_a_bad_file_in_a_batch_fails_alone(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_xlsx(folder / "a.xlsx", table(personal()))
    (folder / "b.xlsx").write_bytes(b"not a zip")
    write_csv(folder / "c.csv", table(unit()))
    result = _batch([str(folder)], tmp_path / "out", cover=False)
    assert [(Path(r.source).name, r.ok) for r in result.records] == [
        ("a.xlsx", True), ("b.xlsx", False), ("c.csv", True)]


def test_iter_records_dispatches_spreadsheets(tmp_path: Path) -> None:
    from sheetgen.sources.json import RECORD_SUFFIXES
    from sheetgen.sources.spreadsheet import SPREADSHEET_SUFFIXES

    assert SPREADSHEET_SUFFIXES <= RECORD_SUFFIXES  # folders are walked for them
    path = write_csv(tmp_path / "x.csv", table(personal(), unit()))
    from sheetgen.sources.spreadsheet import reader

    assert next(iter(iter_records([str(path)]))).error is not None  # no reader: not read
    got = list(iter_records([str(path)], spreadsheets=reader()))
    assert [r.rows for r in got] == [(2,), (3,)]
    results = check_records(iter(got))
    assert [r.ok for r in results] == [True, True]


# --- LibreOffice ---------------------------------------------------------------------------------

def soffice_convert(source: Path, tmp_path: Path, target: str, *,
                    infilter: str | None = None) -> Path:
    """Convert one file with LibreOffice, one file per process, in its own profile and HOME."""
    assert SOFFICE is not None, "LibreOffice (soffice) is required here but not installed"
    out = tmp_path / f"lo-{source.stem}"
    args = [SOFFICE, "--headless", "--norestore",
            f"-env:UserInstallation={(tmp_path / 'lo-profile').as_uri()}"]
    if infilter:
        args.append(f"--infilter={infilter}")
    proc = subprocess.run([*args, "--convert-to", target, "--outdir", str(out), str(source)],
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "HOME": str(tmp_path)})
    converted = out / f"{source.stem}.{target}"
    assert proc.returncode == 0 and converted.is_file(), proc.stdout + proc.stderr
    return converted


@pytest.mark.slow
@pytest.mark.skipif(SOFFICE is None and not os.environ.get("SHEETGEN_REQUIRE_LIBREOFFICE"),
                    reason="LibreOffice (soffice) is not installed")
def test_libreoffice_written_workbooks(tmp_path: Path) -> None:
    lines = table(personal(), unit(), other_person())
    source = write_csv(tmp_path / "staff.csv", lines)
    width = len(lines[0])
    # UTF-8 (76), every column imported as text (format 2): what staff get from the template.
    as_text = "CSV:44,34,76,1," + "/".join(f"{i}/2" for i in range(1, width + 1))
    converted = soffice_convert(source, tmp_path, "xlsx", infilter=as_text)
    got = records(converted)
    assert [r.error for r in got] == [None, None, None]
    assert [parse_applicant(r.value) for r in got] == [
        parse_applicant(a) for a in (personal(), unit(), other_person())]
    # Default import: LibreOffice turns IDs and mobiles into numbers, as Excel does.
    (tmp_path / "numbers.csv").write_bytes(source.read_bytes())
    numbers = soffice_convert(tmp_path / "numbers.csv", tmp_path, "xlsx",
                              infilter="CSV:44,34,76,1")
    results = check_records(spreadsheet_records(numbers))
    codes = {(p.row, p.column, p.code) for r in results for p in r.problems}
    assert (2, "证件号码", "excel_number") in codes
    assert (2, "网站负责人证件号码", "excel_number") in codes
    # A mobile stored as a number is exact, so it reads back as typed.
    assert not any(column == "网站负责人手机" for _, column, _ in codes)


def test_gb18030_csv_as_chinese_excel_writes_it(tmp_path: Path) -> None:
    lines = table(personal(), unit())
    path = write_csv(tmp_path / "gbk.csv", lines, encoding="gb18030")
    assert codecs.BOM_UTF8 not in path.read_bytes()
    assert [r.error for r in records(path)] == [None, None]
    assert ID_JX in path.read_bytes().decode("gb18030")


def test_hostile_bytes_are_records_with_errors_never_a_crash(tmp_path: Path) -> None:
    import random
    import zipfile

    rng = random.Random(13)
    header = ",".join(c.header for c in cols.COLUMNS).encode()
    workbook = write_xlsx(tmp_path / "w.xlsx", table(personal())).read_bytes()
    cases = [b"", b"\x00" * 10, header + b'\n"' + b"a" * 200_000 + b'"\n',
             header + b"\n\"unclosed,\n", header + b"\r\n\r\n", "省份\n".encode("utf-16-le")]
    cases += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))) for _ in range(20)]
    cases += [workbook[:cut] for cut in (10, 100, len(workbook) // 2, len(workbook) - 10)]
    cut_sheet = tmp_path / "cut.xlsx"
    with zipfile.ZipFile(tmp_path / "w.xlsx") as source, \
            zipfile.ZipFile(cut_sheet, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            target.writestr(info, data[:len(data) // 2] if "worksheets" in info.filename
                            else data)
    cases.append(cut_sheet.read_bytes())
    for n, data in enumerate(cases):
        for suffix in (".csv", ".xlsx"):
            path = tmp_path / f"case{n}{suffix}"
            path.write_bytes(data)
            for record in spreadsheet_records(path):
                if record.error is not None:
                    assert record.error.problems and all(
                        p.code != "internal" for p in record.error.problems)
