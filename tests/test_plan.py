"""The filing plan (documents.plan): variant, template and boxes per sheet, the cover's facts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sheetgen.documents.example import make_example
from sheetgen.documents.plan import FilingPlan, make_plan
from sheetgen.errors import UsageError
from sheetgen.model import parse_applicant
from sheetgen.resources import rules_file
from sheetgen.rules import load_rules
from tests.applicants import SECRET, edit, example, personal, unit

RULES = load_rules()


def plan_of(data: dict[str, object], variant: str = "auto") -> FilingPlan:
    return make_plan(parse_applicant(data, RULES), RULES, variant=variant)


# name → variant, template, fingerprint, seal, landline per sheet, commitment, sms codes, pilot
EXPECTED = [
    ("zhejiang-personal", "public", "public/sheet", False, "none", [False], False, 1, True),
    ("beijing-unit-two-websites", "public", "public/sheet", False, "seal", [True, False], False,
     2, False),
    ("guangdong-unit", "guangdong", "guangdong/unit", False, "seal", [True], False, 2, False),
    ("guangdong-personal", "guangdong", "guangdong/personal", False, "none", [False], True, 1,
     False),
    ("jiangxi-personal", "public", "public/sheet", True, "none", [False], False, 1, False),
    ("chongqing-sole-proprietor-no-seal", "public", "public/sheet", False, "no_seal", [False],
     False, 1, True),
    ("shanghai-new-access", "public", "public/sheet", False, "seal", [False, False], False, 1,
     False),
]


@pytest.mark.parametrize(("name", "variant", "template", "fingerprint", "seal", "landlines",
                          "commitment", "codes", "pilot"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_examples(name: str, variant: str, template: str, fingerprint: bool, seal: str,
                  landlines: list[bool], commitment: bool, codes: int, pilot: bool) -> None:
    plan = plan_of(example(name))
    assert plan.variant == variant
    assert [s.index for s in plan.sheets] == list(range(len(landlines)))
    assert [s.landline for s in plan.sheets] == landlines
    for sheet in plan.sheets:
        assert (sheet.variant, sheet.template, sheet.fingerprint, sheet.seal, sheet.commitment) \
            == (variant, template, fingerprint, seal, commitment)
        assert sheet.unit is plan.unit
        assert sheet.website is plan.applicant.websites[sheet.index]
        assert (sheet.no_seal_text == "个体工商户无公章") is (seal == "no_seal")
    assert plan.needs_fingerprint is fingerprint
    assert plan.needs_seal is (seal == "seal") and plan.has_no_seal is (seal == "no_seal")
    assert (plan.commitment_text is not None) is commitment
    assert plan.sms.codes_expected == codes == len(plan.sms.mobiles)
    assert plan.sms.pilot is pilot
    assert (plan.sms.pilot_since == "2017-12-18 09:00") is pilot
    assert plan.sms.mandatory_since == "2020-08"
    assert plan.sms.portal_url == plan.province.portal
    assert plan.rules_version == RULES.version


@pytest.mark.parametrize(("data", "override", "template", "commitment"), [
    (personal(), "guangdong", "guangdong/personal", True),
    (unit(), "guangdong", "guangdong/unit", False),
    (example("guangdong-personal"), "public", "public/sheet", False),
    (example("guangdong-unit"), "public", "public/sheet", False),
    (example("guangdong-personal"), "auto", "guangdong/personal", True),
])
def test_variant_override(data: dict[str, object], override: str, template: str,
                          commitment: bool) -> None:
    plan = plan_of(data, override)
    assert plan.sheets[0].template == template
    assert plan.sheets[0].commitment is commitment
    assert (plan.commitment_text is not None) is commitment


def test_override_keeps_the_province_rules() -> None:
    plan = plan_of(personal(), "guangdong")        # Jiangxi personal printed on the GD template
    assert plan.needs_fingerprint and plan.sheets[0].fingerprint
    assert plan.province.key == "jiangxi" and plan.variant == "guangdong"


def test_unknown_variant() -> None:
    with pytest.raises(UsageError, match="unknown variant"):
        plan_of(personal(), "shenzhen")


def _keys(plan: FilingPlan) -> list[str]:
    return [m.key for m in plan.materials]


@pytest.mark.parametrize(("data", "present", "absent"), [
    (personal(), {"photo", "id_card", "domain_certificate", "check_sheet"},
     {"unit_licence", "filing_password", "special_contact", "website_details", "commitment"}),
    (unit(), {"photo", "unit_licence", "id_card", "domain_certificate", "check_sheet"},
     {"filing_password"}),
    (edit(personal(), "filing_type", "new_access"),
     {"filing_password", "filing_number", "resolved_ip", "provider_username"}, set()),
    (edit(personal(), "filing_type", "new_website"), {"website_details"}, {"filing_password"}),
    (edit(personal(), "special_site", True),
     {"special_filing_number", "special_contact", "special_documents", "security_letter"}, set()),
    (example("guangdong-personal"), {"commitment"}, {"unit_licence"}),
])
def test_materials_per_case(data: dict[str, object], present: set[str],
                            absent: set[str]) -> None:
    keys = _keys(plan_of(data))
    assert present <= set(keys) and not absent & set(keys)
    assert keys.count("check_sheet") == 1


def test_check_sheet_material_follows_the_seal() -> None:
    sealed = next(m for m in plan_of(unit()).materials if m.key == "check_sheet")
    no_seal = next(m for m in plan_of(edit(unit(), "host.has_seal", False)).materials
                   if m.key == "check_sheet")
    assert "加盖单位公章" in sealed.text and sealed.note is None
    assert no_seal.note is not None and "个体工商户无公章" in no_seal.note


@pytest.mark.parametrize(("data", "present", "absent"), [
    (personal(), ["按手印处"], ["单位公章", "个体工商户无公章", "虚线"]),
    (unit(), ["单位公章"], ["按手印处", "个体工商户无公章"]),
    (edit(unit(), "host.has_seal", False), ["个体工商户无公章"], ["加盖单位公章", "按手印处"]),
    (example("guangdong-personal"), ["虚线"], ["按手印处", "单位公章"]),
])
def test_signing_is_specialised(data: dict[str, object], present: list[str],
                                absent: list[str]) -> None:
    text = "\n".join(plan_of(data).signing)
    always = ["网站负责人签字", "日期留空", "涂改", "蓝色或黑色", "一式两份", "A4"]
    for fragment in always + present:
        assert fragment in text, fragment
    for fragment in absent:
        assert fragment not in text, fragment


def test_has_seal_is_ignored_for_personal_filings() -> None:
    plan = plan_of(edit(personal(), "host.has_seal", False))
    assert plan.sheets[0].seal == "none" and not plan.has_no_seal


@pytest.mark.parametrize(("mobiles", "codes"), [
    (("13911112222", "13911112222"), 1),     # principal and manager share a mobile
    (("13911112222", "13622223333"), 2),
])
def test_sms_codes_expected(mobiles: tuple[str, str], codes: int) -> None:
    data = edit(unit(), "host.principal.mobile", mobiles[0])
    data = edit(data, "websites[0].manager.mobile", mobiles[1])
    assert plan_of(data).sms.codes_expected == codes


def test_sms_codes_count_each_manager_once() -> None:
    second = {**personal()["websites"][0], "name": "张三的相册",
              "domains": ["photos.example.cn"], "homepage": "https://photos.example.cn"}
    plan = plan_of(edit(personal(), "websites[1]", second))
    assert len(plan.sheets) == 2 and plan.sms.codes_expected == 1
    assert plan.sms.mobiles == ("13800000000",)


def test_sms_facts_for_the_cover() -> None:
    sms = plan_of(personal()).sms
    assert sms.carriers == (("中国电信", "106598051001"), ("中国联通", "10655113"),
                            ("中国移动", "106575000130"))
    assert (sms.code_digits, sms.valid_hours) == (6, 48)
    assert "485号" in sms.notice and sms.troubleshooting and "12:00" in sms.resend


def test_notices() -> None:
    assert any("注册商" in n for n in plan_of(unit()).notices)
    assert not any("注册商" in n for n in plan_of(personal()).notices)
    hainan = plan_of(edit(edit(personal(), "province", "海南"), "websites[0].filing_number",
                          "琼ICP备2024012345号-1"))
    assert hainan.sms.portal_note and "hn" in hainan.sms.portal_note


def test_no_password_anywhere_in_the_plan() -> None:
    plan = plan_of(example("shanghai-new-access"))
    password = "Example-Only-7x9Q"
    assert plan.applicant.access.filing_password is not None
    texts = [repr(plan), *(m.text for m in plan.materials), *plan.signing, *plan.notices]
    assert not any(password in t for t in texts)
    assert not any(SECRET in t for t in [repr(plan_of(personal()))])


def test_rules_data_change_reaches_the_plan(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(rules_file().read_text("utf-8").replace(
        'provinces = ["jiangxi"]', 'provinces = ["jiangxi", "xinjiang"]'), "utf-8")
    rules = load_rules(path)
    data = make_example(rules, "新疆", "personal")
    plan = make_plan(parse_applicant(data, rules), rules)
    assert plan.needs_fingerprint and plan.sheets[0].fingerprint
    assert plan.rules_version == rules.version != RULES.version
    assert not plan_of(make_example(RULES, "新疆", "personal")).needs_fingerprint


def test_layout_key_separates_structures() -> None:
    keys = {plan_of(example(e[0])).sheets[0].layout_key for e in EXPECTED}
    assert len(keys) >= 5


def test_unit_without_registrar_province_has_no_registrar_flag() -> None:
    data = edit(edit(unit(), "province", "天津"), "websites[0].domains", ["example.com.cn"])
    plan = plan_of(data)
    assert "registrar" not in plan.flags and not plan.sheets[0].registrar
    assert plan_of(unit()).sheets[0].registrar


def test_importing_the_data_layer_stays_light() -> None:
    code = ("import sys, sheetgen.model, sheetgen.rules, sheetgen.documents.plan, "
            "sheetgen.sources.json, sheetgen.documents.example; "
            "heavy = {'typer', 'weasyprint', 'reportlab', 'docxtpl', 'pypdf'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"

