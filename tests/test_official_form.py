"""The official form and today's rules (issue 12): what the sheet prints by default and with
--details, the verifier's rows of domain.md §7, pre-approval content, the app-suffix filing
number, the per-province seal rules, and the rules editions through the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sheetgen.documents.jobs import RenderOptions
from sheetgen.errors import InvalidDataError
from sheetgen.model import parse_applicant
from sheetgen.pipeline import plan_input
from sheetgen.rendering.pdf.document import Rendered, render_pdf
from sheetgen.rules import load_rules
from tests.applicants import edit, example, personal, unit
from tests.conftest import EXAMPLES, run_cli
from tests.pdfs import page_texts

LANDLINE_CHECK = "网站负责人座机号码报备信息是否正确"
PREAPPROVAL_CHECK = "前置审批/专项审批文件是否齐全"


def sheet_text(data: dict[str, Any], **options: Any) -> str:
    """The text of the first check sheet (no cover), spaces removed."""
    plan = plan_input(json.dumps(data, ensure_ascii=False).encode(), source="test")
    rendered: Rendered = render_pdf(plan, RenderOptions(cover=False, **options))
    assert all(job.pages == 1 for job in rendered.jobs)
    return page_texts(rendered.pdf)[0].replace(" ", "")


def problems(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    with pytest.raises(InvalidDataError) as info:
        parse_applicant(data, load_rules())
    return [(p.path, p.code, p.message) for p in info.value.problems]


# --- the sheet: official by default, the detailed block with --details ----------------------

@pytest.mark.parametrize("data", [unit(), personal()], ids=["unit", "personal"])
def test_default_sheet_prints_no_certificate_number_mobile_or_address(data: dict[str, Any]
                                                                      ) -> None:
    text = sheet_text(data)
    host, manager = data["host"], data["websites"][0]["manager"]
    assert host["name"] in text and "网站类型" in text and "网站域名" in text
    for private in (host["certificate"]["number"], manager["certificate"]["number"],
                    manager["mobile"], manager["email"], host["address"].replace(" ", "")):
        assert private not in text, private
    for label in ("证件号码", "手机号码", "通信地址", "电子邮箱"):
        assert f"{label}报备信息是否正确" in text  # the verifier still checks them


@pytest.mark.parametrize("data", [unit(), personal()], ids=["unit", "personal"])
def test_details_bring_the_detailed_block_back(data: dict[str, Any]) -> None:
    text = sheet_text(data, details=True)
    host, manager = data["host"], data["websites"][0]["manager"]
    for shown in (host["certificate"]["number"], manager["certificate"]["number"],
                  manager["mobile"], manager["email"], host["address"].replace(" ", ""),
                  data["websites"][0]["name"]):
        assert shown in text, shown
    if "principal" in host:
        assert host["principal"]["name"] in text and "主体负责人" in text


def test_beijing_registrar_stays_on_the_official_form() -> None:
    data = example("beijing-unit-two-websites")
    text = sheet_text(data)
    registrar = next(d["registrar"] for d in data["websites"][0]["domains"]
                     if isinstance(d, dict))
    assert registrar in text


@pytest.mark.parametrize(("data", "shown"), [
    (edit(unit(), "websites[0].manager.office_phone", None), True),   # a unit: always
    (edit(unit(), "websites[0].manager.office_phone", "010-88886666"), True),
    (edit(personal(), "websites[0].manager.office_phone", None), False),  # a person: only
    (edit(personal(), "websites[0].manager.office_phone", "0791-88888888"), True),  # if told
], ids=["unit-none", "unit-reported", "personal-none", "personal-reported"])
def test_landline_check_row(data: dict[str, Any], shown: bool) -> None:
    for details in (False, True):
        text = sheet_text(data, details=details)
        assert (LANDLINE_CHECK in text) is shown
        assert "单位证件资质" in text if data["host"]["nature"] != "personal" else \
            "单位证件资质" not in text


def test_preapproval_row_only_when_declared() -> None:
    data = edit(personal(), "websites[0].preapproval", ["新闻", "education"])
    for details in (False, True):
        text = sheet_text(data, details=details)
        assert PREAPPROVAL_CHECK in text and "涉及前置审批的内容" in text
        assert "新闻、教育" in text
    assert PREAPPROVAL_CHECK not in sheet_text(personal())


# --- the data: pre-approval, app-suffixed numbers, seal rules ---------------------------------

def test_preapproval_accepts_codes_and_names() -> None:
    data = edit(personal(), "websites[0].preapproval",
                ["news", "出版", "教育", "medical", "药品和医疗器械", "culture", "广播电影电视节目",
                 "bulletin"])
    website = parse_applicant(data, load_rules()).websites[0]
    assert [p.code for p in website.preapproval] == [
        "news", "publishing", "education", "medical", "drugs", "culture", "broadcasting",
        "bulletin"]


def test_preapproval_outside_the_list_names_the_path_and_the_allowed_values() -> None:
    found = problems(edit(personal(), "websites[0].preapproval", ["新闻", "游戏"]))
    assert [(path, code) for path, code, _ in found] == [
        ("websites[0].preapproval[1]", "preapproval_unknown")]
    message = found[0][2]
    assert "游戏" in message and "药品和医疗器械" in message and "broadcasting" in message
    found = problems(edit(personal(), "websites[0].preapproval", ["news", "新闻"]))
    assert [code for _, code, _ in found] == ["preapproval_duplicate"]


@pytest.mark.parametrize(("suffix", "kind"), [("A", "App"), ("X", "小程序"), ("K", "快应用")])
def test_an_app_suffixed_website_number_has_its_own_error(suffix: str, kind: str) -> None:
    data = edit(personal(), "websites[0].filing_number", f"赣ICP备2024012345号-1{suffix}")
    ((path, code, message),) = problems(data)
    assert (path, code) == ("websites[0].filing_number", "filing_number_app")
    assert kind in message and f"-1{suffix}" in message


def test_zhejiang_refuses_a_unit_without_a_seal_naming_the_rule() -> None:
    data = edit(example("chongqing-sole-proprietor-no-seal"), "province", "浙江")
    data = edit(data, "websites[0].filing_number", None)
    ((path, code, message),) = problems(data)
    assert (path, code) == ("host.has_seal", "seal_required")
    assert "浙江" in message and "Tencent Cloud" in message
    assert parse_applicant(edit(data, "host.has_seal", True), load_rules())


# --- the command line -------------------------------------------------------------------------

def test_rules_json_shows_todays_sms_facts_and_the_as_of_date() -> None:
    result = run_cli("rules", "赣", "--json")
    assert result.code == 0, result.stderr
    facts = json.loads(result.text)
    sms = facts["sms"]
    assert (sms["valid_hours"], sms["portal"], sms["mandatory_since"]) == (
        24, "beian.miit.gov.cn", "2020-08-17")
    assert [c["number"] for c in sms["carriers"]] == ["12381"]
    assert (facts["edition"], facts["rules_as_of"]) == ("2025", "2026-12-07")
    assert sms["recipients"]["new_access"]["roles"] == ["manager"]


def test_rules_of_the_2018_edition_show_the_seeds_facts_with_corrected_pilot_dates() -> None:
    result = run_cli("rules", "--edition", "2018", "--json")
    assert result.code == 0, result.stderr
    document = json.loads(result.text)
    assert (document["edition"], document["rules_as_of"]) == ("2018", "2018-09-24")
    since = {p["name"]: p["sms"]["pilot_since"] for p in document["provinces"]}
    assert (since["天津"], since["浙江"], since["湖南"], since["江西"]) == (
        "2017-12-18 09:00", "2018-09-10", "2018-09-24", None)
    jiangxi = json.loads(run_cli("rules", "赣", "--rules-edition", "2018", "--json").text)
    assert jiangxi["sms"]["valid_hours"] == 48
    assert jiangxi["sms"]["portal"].startswith("jx.beian.miit.gov.cn/")


@pytest.mark.parametrize("command", ["fill", "check", "preview", "batch", "rules"])
def test_an_unknown_edition_is_a_usage_error(tmp_path: Path, command: str) -> None:
    example_file = str(EXAMPLES / "jiangxi-personal.json")
    args = {"fill": ["fill", example_file, "-o", str(tmp_path / "x.pdf")],
            "check": ["check", example_file],
            "preview": ["preview", example_file, "-o", str(tmp_path / "x.png")],
            "batch": ["batch", example_file, "-o", str(tmp_path / "out")],
            "rules": ["rules", "赣"]}[command]
    result = run_cli(*args, "--rules-edition", "2030")
    assert result.code == 2, result.stderr
    assert "unknown rules edition" in result.stderr and "2025, 2018" in result.stderr
    assert not any(tmp_path.iterdir())  # nothing written


def test_bad_preapproval_and_app_number_through_the_cli(tmp_path: Path) -> None:
    data = edit(edit(personal(), "websites[0].preapproval", ["游戏"]),
                "websites[0].filing_number", "赣ICP备2024012345号-2A")
    source = tmp_path / "bad.json"
    source.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    result = run_cli("fill", str(source), "-o", str(tmp_path / "out.pdf"), "--json")
    assert result.code == 3
    report = json.loads(result.text)
    assert {(e["path"], e["code"]) for e in report["errors"]} == {
        ("websites[0].preapproval[0]", "preapproval_unknown"),
        ("websites[0].filing_number", "filing_number_app")}
    assert not (tmp_path / "out.pdf").exists()


def test_verification_and_details_options_through_the_cli(tmp_path: Path) -> None:
    example_file = str(EXAMPLES / "guangdong-unit.json")
    # The electronic flow prints no sheet unless asked: --check-sheet asks.
    result = run_cli("fill", example_file, "-o", str(tmp_path / "e.pdf"), "--verification",
                     "electronic", "--check-sheet", "--details", "--format", "pdf,docx",
                     "--json")
    assert result.code == 0, result.stderr
    texts = page_texts((tmp_path / "e.pdf").read_bytes())
    assert "电子化核验" in texts[0] and "幕布拍照要求" not in "".join(texts)
    data = json.loads((EXAMPLES / "guangdong-unit.json").read_text("utf-8"))
    assert data["host"]["address"].replace(" ", "") in texts[-1].replace(" ", "")
    bad = run_cli("fill", example_file, "-o", str(tmp_path / "x.pdf"), "--verification", "fax")
    assert bad.code == 2 and "unknown verification flow" in bad.stderr
    old = run_cli("fill", example_file, "-o", str(tmp_path / "x.pdf"), "--rules-edition",
                  "2018", "--verification", "electronic")
    assert old.code == 2 and "no electronic verification" in old.stderr
    assert not (tmp_path / "x.pdf").exists()
