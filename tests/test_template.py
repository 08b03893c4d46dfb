"""``sheetgen template``, and the whole story of issue 13 as a new user lives it.

The template: sheets, headers, the field-path row, drop-downs, text formats, valid examples,
the Chinese instructions, ``--csv``. The story: ``sheetgen template t.xlsx``, three rows
filled in and the workbook saved by LibreOffice, ``sheetgen batch t.xlsx -o out/ --bundle
all.pdf --failed failed.xlsx``: two applicants' sheets, the broken row reported by row and
header and back in ``failed.xlsx``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

from sheetgen.documents.example import make_example
from sheetgen.documents.template import examples, header
from sheetgen.rules import load_rules
from sheetgen.sources import columns as cols
from sheetgen.sources.spreadsheet import rows_of, spreadsheet_records
from tests.conftest import run_cli
from tests.conftest import run_cli as cli
from tests.test_spreadsheet import SOFFICE, soffice_convert


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "t.xlsx"
    result = cli("template", str(path))
    assert result.code == 0, result.stderr
    assert result.text.strip() == str(path)
    return path


def test_template_sheets_headers_and_paths(template: Path) -> None:
    workbook = openpyxl.load_workbook(template)
    assert workbook.sheetnames == ["申请人", "填写说明", "示例", "选项"]
    assert [workbook[n].sheet_state for n in workbook.sheetnames] == [
        "visible", "visible", "visible", "hidden"]
    sheet = workbook["申请人"]
    assert [c.value for c in sheet[1]] == [header(c) for c in cols.COLUMNS]
    assert [c.value for c in sheet[2]] == [c.path for c in cols.COLUMNS]
    assert sheet["A2"].font.color.rgb.endswith("808080")  # greyed
    assert sheet.freeze_panes == "A3"
    assert sheet.cell(1, 1 + [c.path for c in cols.COLUMNS].index("website.domains")).comment


def test_template_text_formats_and_drop_downs(template: Path) -> None:
    workbook = openpyxl.load_workbook(template)
    sheet = workbook["申请人"]
    paths = [c.path for c in cols.COLUMNS]
    letter = {p: openpyxl.utils.get_column_letter(i + 1) for i, p in enumerate(paths)}
    for path in ("host.certificate.number", "website.manager.mobile", "ref"):
        assert sheet[f"{letter[path]}3"].number_format == "@"
        assert sheet[f"{letter[path]}400"].number_format == "@"
    lists = workbook["选项"]
    rules = load_rules()
    by_column: dict[str, str] = {}
    for validation in sheet.data_validations.dataValidation:
        assert validation.type == "list"
        for cell_range in str(validation.sqref).split():
            by_column[cell_range.split(":")[0].rstrip("0123456789")] = validation.formula1
    for path in ("province", "filing_type", "host.nature", "host.certificate.type",
                 "host.principal.certificate.type", "website.manager.certificate.type"):
        formula = by_column[letter[path]]
        column = formula.split("!")[1].split(":")[0].strip("$").rstrip("0123456789").strip("$")
        values = [c.value for c in lists[column][1:] if c.value]
        assert lists[f"{column}1"].value == path
        if path == "province":
            assert values == [p.name for p in rules.provinces] and len(values) == 31
        if path == "host.nature":
            assert "个人" in values and "企业" in values
        if path == "website.manager.certificate.type":
            assert "居民身份证" in values and "营业执照" not in values
    assert by_column[letter["host.has_seal"]] == '"是,否"'
    assert by_column[letter["special_site"]] == '"是,否"'


def test_template_examples_are_valid_one_per_kind(template: Path) -> None:
    result = cli("check", str(template), "--sheet", "示例", "--json")
    assert result.code == 0, result.stderr
    records = json.loads(result.stdout)["records"]
    assert [r["websites"] for r in records] == [1, 2, 1, 1, 1]
    kinds = examples(load_rules())
    assert kinds[0]["host"]["nature"] == "personal"
    assert kinds[2]["province"] == "北京" and isinstance(kinds[2]["websites"][0]["domains"][0],
                                                        dict)
    assert kinds[3]["filing_type"] == "new_access" and kinds[4]["host"]["has_seal"] is False
    # The empty data sheet is a clear "no rows" error, not a header problem.
    result = cli("check", str(template))
    assert result.code == 3 and "[no_records]" in result.stderr


def test_template_instructions_in_chinese(template: Path) -> None:
    guide = openpyxl.load_workbook(template)["填写说明"]
    text = "\n".join(str(c.value) for row in guide.iter_rows() for c in row if c.value)
    assert "填写说明" in text and "每个网站一行" in text and "--failed" in text
    for column in cols.COLUMNS:
        assert column.header in text and column.path in text


def test_template_csv_and_usage(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    assert cli("template", str(path), "--csv").code == 0
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").strip().split(",") == [header(c) for c in cols.COLUMNS]
    [record] = spreadsheet_records(path)
    assert record.error is not None and record.error.problems[0].code == "no_records"
    again = cli("template", str(path), "--csv")
    assert again.code == 2 and "--force" in again.stderr
    assert cli("template", str(path), "--csv", "--force").code == 0
    assert cli("template", str(tmp_path / "t.csv")).code == 2       # a workbook needs .xlsx
    assert cli("template", str(tmp_path / "t.xlsx"), "--csv").code == 2


# --- the user story -------------------------------------------------------------------------------

def _fill(template: Path, target: Path) -> None:
    """Three rows typed into the template's data sheet, the third with a bad mobile."""
    rules = load_rules()
    people = [make_example(rules, "江西", "personal"), make_example(rules, "广东", "enterprise")]
    third = make_example(rules, "浙江", "personal")
    third["websites"][0]["manager"]["mobile"] = "1380013800"  # one digit short
    workbook = openpyxl.load_workbook(template)
    sheet = workbook["申请人"]
    paths = [c.path for c in cols.COLUMNS]
    for row_number, row in enumerate((r for a in (*people, third) for r in rows_of(a)),
                                     start=3):
        for path, text in row.items():
            sheet.cell(row_number, paths.index(path) + 1, text)
    workbook.save(target)


@pytest.mark.slow
@pytest.mark.skipif(SOFFICE is None and not os.environ.get("SHEETGEN_REQUIRE_LIBREOFFICE"),
                    reason="LibreOffice (soffice) is not installed")
def test_new_user_story(tmp_path: Path) -> None:
    made = run_cli("template", "t.xlsx", cwd=tmp_path)
    assert made.code == 0, made.stderr
    filled = tmp_path / "filled" / "t.xlsx"
    filled.parent.mkdir()
    _fill(tmp_path / "t.xlsx", filled)
    saved = soffice_convert(filled, tmp_path, "xlsx")  # the workbook as LibreOffice saves it
    (tmp_path / "t.xlsx").write_bytes(saved.read_bytes())
    result = run_cli("batch", "t.xlsx", "-o", "out/", "--bundle", "all.pdf", "--failed",
                     "failed.xlsx", "--report", "report.json", cwd=tmp_path)
    assert result.code == 6, result.stderr
    assert "t.xlsx row 5, 网站负责人手机* (websites[0].manager.mobile)" in result.stderr
    assert "failed.xlsx" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").glob("*.pdf")) == [
        "EX-GUANGDONG-ENTERPRISE.pdf", "EX-JIANGXI-PERSONAL.pdf"]
    bundle = PdfReader(tmp_path / "all.pdf")
    titles = [o["/Title"] for o in bundle.outline if not isinstance(o, list)]
    assert [t.split("（")[1] for t in titles] == ["EX-JIANGXI-PERSONAL）",
                                                  "EX-GUANGDONG-ENTERPRISE）"]
    entries = json.loads((tmp_path / "report.json").read_text("utf-8"))["records"]
    assert [(e["ok"], e["locator"], e["ref"]) for e in entries] == [
        (True, {"row": 3}, "EX-JIANGXI-PERSONAL"), (True, {"row": 4}, "EX-GUANGDONG-ENTERPRISE"),
        (False, {"row": 5}, "EX-ZHEJIANG-PERSONAL")]
    failed = openpyxl.load_workbook(tmp_path / "failed.xlsx").active
    assert failed is not None
    lines = [[c.value for c in row] for row in failed.iter_rows()]
    assert lines[1][0] == "ref"  # the field-path row came along
    assert len(lines) == 3 and lines[2][0] == "EX-ZHEJIANG-PERSONAL"
    assert "row 5" in str(lines[2][-1]) and "网站负责人手机" in str(lines[2][-1])
