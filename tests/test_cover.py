"""The cover checklist (备案材料清单) made for each applicant (issue 5)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sheetgen.documents.cover import TEMPLATE, cover_context
from sheetgen.documents.jobs import RenderOptions
from sheetgen.pipeline import plan_input
from sheetgen.rendering.pdf.document import Rendered, render_pdf
from tests.applicants import SECRET, edit, example, personal, unit
from tests.pdfs import is_a4, page_sizes, page_texts

COMMITMENT = "本人已履行网站备案信息当面核验手续"


def cover(data: dict[str, Any], **options: Any) -> tuple[str, Rendered]:
    """The cover's text (all its pages, spaces removed) and the whole rendering."""
    plan = plan_input(json.dumps(data, ensure_ascii=False).encode(), source="test")
    rendered = render_pdf(plan, RenderOptions(**options))
    job = rendered.jobs[0]
    assert job.template == TEMPLATE and job.first_page == 0
    texts = page_texts(rendered.pdf)[:job.pages]
    return "".join(texts).replace(" ", ""), rendered


def test_cover_comes_first_and_sheets_stay_one_page_each() -> None:
    text, rendered = cover(example("beijing-unit-two-websites"))
    assert text.startswith("网站备案材料清单")
    assert 1 <= rendered.jobs[0].pages <= 2
    assert [job.pages for job in rendered.jobs[1:]] == [1, 1]
    assert all(is_a4(size) for size in page_sizes(rendered.pdf))
    for needle in ("北京", "新增备案", "公共版本", "1.", "2."):
        assert needle in text


def test_personal_and_unit_materials() -> None:
    mine, _ = cover(personal())
    theirs, _ = cover(unit())
    id_card = "网站负责人身份证正反面扫描件或照片"
    assert id_card in mine and id_card in theirs
    assert "单位资质证件" not in mine and "单位资质证件" in theirs
    assert "加盖单位公章" in theirs and "加盖单位公章" not in mine
    for text in (mine, theirs):
        assert "域名证书" in text and "800×600" in text


def test_signing_instructions_follow_the_boxes() -> None:
    jiangxi, _ = cover(personal())
    assert "按手印处" in jiangxi and "日期留空" in jiangxi and "一式两份" in jiangxi
    sealed, _ = cover(unit())
    assert "单位公章" in sealed and "按手印处" not in sealed
    no_seal, _ = cover(example("chongqing-sole-proprietor-no-seal"))
    assert "个体工商户无公章" in no_seal
    zhejiang, _ = cover(example("zhejiang-personal"))
    assert "按手印处" not in zhejiang and "单位公章" not in zhejiang


def test_new_access_extras_and_never_the_password() -> None:
    data = edit(example("shanghai-new-access"), "access.filing_password", SECRET)
    text, rendered = cover(data)
    assert "备案密码" in text and "网站备案号" in text and "IP" in text
    assert SECRET not in text and SECRET.encode() not in rendered.pdf
    plain, _ = cover(example("zhejiang-personal"))
    assert "备案密码" not in plain


def test_special_site_extras() -> None:
    text, _ = cover(edit(personal(), "special_site", True))
    assert "信息安全责任书" in text
    assert "信息安全责任书" not in cover(personal())[0]


def test_guangdong_commitment_only_for_guangdong_personal() -> None:
    assert COMMITMENT in cover(example("guangdong-personal"))[0]
    for name in ("guangdong-unit", "jiangxi-personal", "zhejiang-personal"):
        assert COMMITMENT not in cover(example(name))[0], name


@pytest.mark.parametrize(("province", "pilot", "portal"), [
    ("浙江", True, "zj.beian.miit.gov.cn/state/outPortal/messageAuthentication.action"),
    ("安徽", True, "ah.beian.miit.gov.cn/state/outPortal/loginPortal.action"),
    ("江西", False, "jx.beian.miit.gov.cn/state/outPortal/messageAuthentication.action"),
    ("北京", False, "bj.beian.miit.gov.cn/state/outPortal/messageAuthentication.action"),
])
def test_sms_facts_of_the_province(province: str, pilot: bool, portal: str) -> None:
    data = edit(personal(), "province", province)
    data = edit(data, "websites[0].filing_number", None)
    data = edit(data, "websites[0].domains", [{"name": "example.cn", "registrar": "某某注册商"}])
    text, _ = cover(data)
    assert ("试点省份" in text) == pilot
    assert ("2017-12-18" in text) == pilot
    assert "2020-08" in text and "48小时" in text and "12:00" in text
    assert portal in text
    for sender in ("106598051001", "10655113", "106575000130"):
        assert sender in text


def test_hainan_and_hunan_portal_conflict_is_noted() -> None:
    for province in ("海南", "湖南"):
        data = edit(edit(personal(), "province", province), "websites[0].filing_number", None)
        text, _ = cover(edit(data, "websites[0].domains", ["example.cn"]))
        assert "hn.beian.miit.gov.cn" in text
        assert "海南" in text and "湖南" in text  # the note names both


@pytest.mark.parametrize(("same", "codes"), [(True, 1), (False, 2)])
def test_one_code_when_principal_and_manager_share_a_mobile(same: bool, codes: int) -> None:
    data = unit()
    manager = data["websites"][0]["manager"]["mobile"]
    data = edit(data, "host.principal.mobile", manager if same else "13511112222")
    plan = plan_input(json.dumps(data, ensure_ascii=False).encode(), source="test")
    values = cover_context(plan).values()
    assert values["sms.codes"] == str(codes)
    text, _ = cover(data)
    assert "预计收到" in text and manager in text
    assert ("13511112222" in text) == (not same)


def test_backdrop_rules() -> None:
    text, _ = cover(personal())
    for needle in ("幕布", "红色或蓝色上衣", "2个工作日"):
        assert needle in text


def test_no_cover_and_copies() -> None:
    plan = plan_input(json.dumps(personal(), ensure_ascii=False).encode(), source="t")
    rendered = render_pdf(plan, RenderOptions(cover=False, copies=2))
    assert [job.template for job in rendered.jobs] == ["public/sheet.html"]
    assert rendered.pages == 2
