"""The spreadsheet staff fill in (``sheetgen template``): headers, drop-downs, examples, help.

:func:`template_workbook` writes an ``.xlsx`` with four sheets:

``申请人`` (first, the one ``batch`` reads)
    Row 1 the Chinese headers of :data:`~sheetgen.sources.columns.COLUMNS` (``*`` marks a
    required column; each header has a comment saying how to fill it), row 2 the field paths
    in small grey text (the reader takes them as the mapping, so renaming a header changes
    nothing), then empty rows formatted as text (``@``: IDs, phone numbers and leading zeros
    survive typing), with drop-down lists for province, filing type, nature, certificate types
    and yes/no. The lists come from the rules data and the model's vocabularies in use, so a
    ``--rules`` file's provinces and certificates appear in them. The drop-downs warn but
    accept other values (aliases such as 赣 or 身份证 are valid input).
``填写说明``
    How to fill it in (Chinese): one row per website, grouping by certificate number, blank
    manager cells for personal filings, separators, then every column with its field path.
``示例``
    One example row per kind of applicant (personal; a unit with two websites; a Beijing unit
    with registrars; new access; a sole proprietor without a seal), all valid: staff copy a row.
``选项`` (hidden)
    The drop-down lists (a list longer than 255 characters must live in cells).

:func:`template_csv` is the CSV header alone (UTF-8 with a BOM, so Excel opens it as UTF-8).
"""

from __future__ import annotations

import io
from typing import Any

from sheetgen.documents.example import make_example
from sheetgen.rules import Rules
from sheetgen.sources.columns import COLUMNS, Column
from sheetgen.sources.spreadsheet import (
    YES_NO,
    add_dropdowns,
    csv_bytes,
    rows_of,
    text_cells,
)
from sheetgen.vocabulary import FilingType, Nature

#: Data rows formatted and given drop-downs in the template.
TEMPLATE_ROWS = 500
__all__ = ["YES_NO", "dropdown_lists", "examples", "template_csv", "template_workbook"]


def header(column: Column) -> str:
    """A column's header in the template: required ones marked with ``*``."""
    return column.header + ("*" if column.required else "")


def template_csv(delimiter: str = ",") -> bytes:
    """The CSV (or TSV) header row (UTF-8 with a BOM)."""
    return csv_bytes([[header(c) for c in COLUMNS]], delimiter=delimiter)


def examples(rules: Rules) -> list[dict[str, Any]]:
    """One valid applicant of each kind (the 示例 sheet; tests check that each is valid)."""
    personal = make_example(rules, "江西", "personal")
    unit = make_example(rules, "广东", "enterprise")
    second = {**unit["websites"][0], "name": unit["websites"][0]["name"].replace(
        "官方网站", "客户服务平台"), "domains": ["help-example-guangdong.cn"],
        "homepage": "https://help-example-guangdong.cn"}
    unit["websites"].append(second)
    unit["ref"] = "EX-GUANGDONG-TWO-SITES"
    beijing = make_example(rules, "北京", "institution")
    access = make_example(rules, "上海", "enterprise")
    abbreviation = rules.province(rules.resolve_province("上海").key).icp_abbreviation
    access.update(ref="EX-SHANGHAI-NEW-ACCESS", filing_type="new_access")
    access["websites"][0].update(filing_number=f"{abbreviation}ICP备2019012345号-1",
                                 ips=["203.0.113.10"])
    access["access"]["username"] = "example-shanghai"
    sole = make_example(rules, "重庆", "enterprise")
    sole["ref"] = "EX-CHONGQING-NO-SEAL"
    sole["host"]["has_seal"] = False
    sole["host"]["name"] = sole["host"]["name"].replace("网络科技有限公司", "网络工作室")
    return [personal, unit, beijing, access, sole]


def dropdown_lists(rules: Rules) -> dict[str, list[str]]:
    """The drop-down lists of the template (and of ``--failed`` workbooks), by field path."""
    person = [c.name for c in rules.certificates if c.holder == "person"]
    return {
        "province": [p.name for p in rules.provinces],
        "filing_type": [t.label for t in FilingType],
        "host.nature": [n.label for n in Nature],
        "host.certificate.type": [c.name for c in rules.certificates],
        "host.principal.certificate.type": person,
        "website.manager.certificate.type": person,
        "host.residence_permit": [p.name for p in rules.provinces],
        "host.legal_representative.certificate.type": person,
    }


_INSTRUCTIONS = (
    "网站备案信息真实性核验单 · 申请人信息表 填写说明",
    "",
    "1. 在“申请人”工作表中填写，每个网站一行；第 1 行是表头，第 2 行（灰色"
    "）是字段路径，请勿修改或删除这两行。",
    "2. 同一申请人有多个网站时，每个网站各填一行，主办者信息（名称、证件号码、地址"
    "等）填写一致；证件号码相同的行会合并为同一申请人（也可填写“分组”列指定）。后续"
    "行的主办者列可以留空。",
    "3. 带 * 的列必填。单位备案还须填写主体负责人各列；个人备案的主体负责人列留"
    "空，网站负责人的姓名和证件可留空（即主办者本人），但须填写手机和邮箱。",
    "4. 证件号码、手机、座机等列已设为“文本”格式，请直接输入完整号码；如果显示为"
    " 3.60426E+17 这样的科学计数法，说明已被存为数字、末尾数字已丢失，请"
    "把单元格设为文本后重新输入。",
    "5. 一个单元格中有多个域名或 IP 地址时，用换行、分号（; ；）、顿号（、）"
    "或逗号（,）分隔。域名不带 www.；北京的备案须在“域名注册商”列按顺序填写每"
    "个域名的注册商（只填一个则适用于全部域名）。",
    "6. 省份、备案类型、主办单位性质、证件类型、是/否 等列可从下拉列表选择；也可"
    "填写简称（如 赣）或英文代码。",
    "7. 新增接入须填写网站备案号、IP 地址和备案系统用户名；变更备案须填写网站备"
    "案号。",
    "8. 备案密码选填，只用于核对，不会打印在核验单上，也不会出现在任何输出中。",
    "9. “示例”工作表中每类申请人各有一个示例，可复制到“申请人”工作表后修改。",
    "10. 填好后保存为 .xlsx（或 CSV UTF-8），运行：sheetge"
    "n check 文件.xlsx 检查；sheetgen batch 文件.xls"
    "x -o 输出目录/ --bundle 全部.pdf 生成核验单。",
    "11. 出错的行会按行号和列名列出，同一行的所有问题一次列出；加 --failed 失败.xlsx 会把"
    "出错的行连同错误说明写入新文件（说明中注明本文件和原文件中的行号），改正后可直接再次运行。",
    "12. 编号列选填；同一申请人的多行可填同一编号，也可每行各编一号（如 C-01-1、C-01-2），"
    "申请人的编号取各行共同的部分（C-01）。",
    "13. 请保存为 .xlsx；旧版 .xls 工作簿无法读取，请在 Excel 或 WPS 中另存为“Excel 工作簿”。",
    "",
    "各列说明：",
)


def template_workbook(rules: Rules) -> bytes:
    """The template ``.xlsx`` (see the module docstring). Every written cell is text
    (:func:`~sheetgen.sources.spreadsheet.text_cells`): a ``--rules`` file's names reach the
    选项 and 示例 sheets as shown, never as formulas."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "申请人"
    bold = Font(bold=True)
    required_fill = PatternFill("solid", fgColor="FCE4D6")
    optional_fill = PatternFill("solid", fgColor="DDEBF7")
    grey = Font(color="808080", size=8)
    text_cells(sheet, 1, [header(c) for c in COLUMNS])
    text_cells(sheet, 2, [c.path for c in COLUMNS])
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        cell = sheet.cell(row=1, column=index)
        cell.font = bold
        cell.fill = required_fill if column.required else optional_fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        if column.note:
            cell.comment = Comment(column.note, "sheetgen")
        sheet.cell(row=2, column=index).font = grey
        sheet.column_dimensions[letter].width = max(12, min(30, 2.2 * len(column.header) + 2))
        for row in range(3, 3 + TEMPLATE_ROWS):
            sheet.cell(row=row, column=index).number_format = "@"
    sheet.freeze_panes = "A3"
    lists = dropdown_lists(rules)
    lists_sheet = workbook.create_sheet("选项")
    add_dropdowns(sheet, [c.path for c in COLUMNS], lists, first_row=3,
                  last_row=2 + TEMPLATE_ROWS, list_sheet=lists_sheet)
    lists_sheet.sheet_state = "hidden"

    guide = workbook.create_sheet("填写说明", 1)
    for number, line in enumerate(_INSTRUCTIONS, start=1):
        text_cells(guide, number, [line])
    guide["A1"].font = Font(bold=True, size=14)
    number = len(_INSTRUCTIONS) + 1
    for cell in text_cells(guide, number, ["列名", "字段路径", "必填", "说明", "也可写作"]):
        cell.font = bold
    for row, column in enumerate(COLUMNS, start=number + 1):
        text_cells(guide, row, [column.header, column.path, "是" if column.required else "",
                                   column.note, "、".join(column.aliases)])
    for letter, width in zip("ABCDE", (22, 34, 6, 60, 40), strict=True):
        guide.column_dimensions[letter].width = width

    sample = workbook.create_sheet("示例", 2)
    text_cells(sample, 1, [header(c) for c in COLUMNS])
    text_cells(sample, 2, [c.path for c in COLUMNS])
    for cell in sample[1]:
        cell.font = bold
    for cell in sample[2]:
        cell.font = grey
    number = 2
    for applicant in examples(rules):
        for cells in rows_of(applicant):
            number += 1
            text_cells(sample, number, [_shown(c.path, cells.get(c.path, "")) for c in COLUMNS])
    for row_cells in sample.iter_rows(min_row=3):
        for cell in row_cells:
            cell.number_format = "@"
    for index in range(1, len(COLUMNS) + 1):
        sample.column_dimensions[get_column_letter(index)].width = \
            sheet.column_dimensions[get_column_letter(index)].width
    sample.freeze_panes = "A3"
    workbook.active = 0
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _shown(path: str, text: str) -> str:
    """An example's value as the drop-down lists show it: the Chinese label of a filing type
    or nature (``新增备案``, ``企业``), not the JSON code (``new_filing``) staff never type."""
    member = (FilingType.parse(text) if path == "filing_type" else
              Nature.parse(text) if path == "host.nature" else None)
    return member.label if member is not None else text
