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
from sheetgen.rules import Rules, load_rules
from tests.applicants import SECRET, edit, example, personal, unit

RULES = load_rules()
R2018 = load_rules(edition="2018")
ELECTRONIC = load_rules(verification="electronic")


def plan_of(data: dict[str, object], variant: str = "auto", rules: Rules = RULES) -> FilingPlan:
    return make_plan(parse_applicant(data, rules), rules, variant=variant)


# name → variant, template, fingerprint, seal, landline per sheet, commitment, sms codes,
# pilot province in the 2018 edition
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
    # new access: only the website managers get a code (one mobile here), not the principal
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
    assert (plan.sms.required, plan.sms.pilot, plan.sms.pilot_since) == (True, False, None)
    assert plan.sms.mandatory_since == "2020-08-17"
    assert plan.sms.portal_url == "beian.miit.gov.cn"
    assert plan.rules_version == RULES.version
    assert (plan.edition, plan.rules_as_of, plan.verification) == ("2025", "2026-12-07", "paper")
    old = plan_of(example(name), rules=R2018)
    assert old.sms.pilot is old.sms.required is pilot
    assert old.sms.portal_url == old.province.portal and old.sms.mandatory_since is None
    assert (old.sms.codes_expected, bool(old.sms.not_required)) == (
        (codes, False) if pilot else (0, True))


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
    (personal(), {"photo", "id_card", "domain_real_name", "check_sheet"},
     {"unit_licence", "filing_password", "special_contact", "website_details", "commitment",
      "domain_certificate"}),
    (unit(), {"photo", "unit_licence", "id_card", "domain_real_name", "check_sheet"},
     {"filing_password", "domain_certificate"}),
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
    assert sms.carriers == (("工业和信息化部备案系统", "12381"),)
    assert (sms.code_digits, sms.valid_hours, sms.attempts) == (6, 24, 5)
    # The basis UCloud gives today (the seed's 485号 stays in the 2018 edition).
    assert "2322号" in sms.notice and "1590号" in sms.notice and "485号" not in sms.notice
    assert sms.troubleshooting and "12:00" not in sms.resend and "12 小时" in sms.resend
    assert sms.no_code is not None and "注销网站" in sms.no_code
    assert "后 6 位" in sms.verify and sms.recipients.startswith("新增备案")
    old = plan_of(personal(), rules=R2018).sms
    assert old.carriers == (("中国电信", "106598051001"), ("中国联通", "10655113"),
                            ("中国移动", "106575000130"))
    assert (old.code_digits, old.valid_hours) == (6, 48) and "12:00" in old.resend
    assert "485号" in old.notice and old.no_code is None


@pytest.mark.parametrize(("filing_type", "codes", "at_most"), [
    ("new_filing", 2, False), ("new_website", 1, False), ("new_access", 1, False),
    ("change", 2, True)])
def test_who_gets_a_code_by_filing_type(filing_type: str, codes: int, at_most: bool) -> None:
    """A unit whose principal and manager have different mobiles."""
    data = edit(unit(), "filing_type", filing_type)
    data = edit(data, "host.principal.mobile", "13911112222")
    data = edit(data, "websites[0].manager.mobile", "13622223333")
    if filing_type in ("new_access", "change"):
        data = edit(data, "websites[0].filing_number", "京ICP备2024012345号-1")
    if filing_type == "new_access":
        data = edit(edit(data, "websites[0].ips", ["203.0.113.7"]), "access", {"username": "zs"})
    sms = plan_of(data).sms
    assert (sms.codes_expected, sms.codes_at_most) == (codes, at_most)
    assert ("13911112222" in sms.mobiles) is (codes == 2)
    assert sms.recipients == RULES.sms.recipients[filing_type].text


def test_paper_flow_by_default_and_electronic_by_option() -> None:
    paper = plan_of(unit())
    assert paper.verification == "paper" and "paper" in paper.flags
    assert paper.backdrop and paper.signing and not paper.electronic
    assert "check_sheet" in {m.key for m in paper.materials}
    electronic = plan_of(unit(), rules=ELECTRONIC)
    assert electronic.verification == "electronic" and "electronic" in electronic.flags
    assert not electronic.backdrop and not electronic.signing and electronic.electronic
    keys = {m.key for m in electronic.materials}
    assert "check_sheet" not in keys and "electronic_check" in keys
    assert any("盖章" in line for line in electronic.electronic)  # units: no seal either
    assert len(electronic.sheets) == len(paper.sheets)  # the sheets are still printed
    gd = plan_of(example("guangdong-personal"), rules=ELECTRONIC)
    assert gd.commitment_text is None and "commitment" not in {m.key for m in gd.materials}


@pytest.mark.parametrize(("province", "text", "notes"), [
    ("江西", "个体工商户无公章", ["网站备注"]),
    ("安徽", "无字号无公章个体工商户", ["无字号无公章个体工商户"]),
    ("广东", "个体工商户无公章", ["网站备注", "按个人性质备案"]),
])
def test_no_seal_rules_reach_sheet_and_cover(province: str, text: str, notes: list[str]) -> None:
    data = edit(edit(example("chongqing-sole-proprietor-no-seal"), "province", province),
                "websites[0].filing_number", None)
    plan = plan_of(data)
    assert plan.sheets[0].no_seal_text == text
    seal_notes = [n for n in plan.notices if "公章" in n or "个人性质" in n]
    assert len(seal_notes) == len(notes)
    assert all(note in line for note, line in zip(notes, seal_notes, strict=True))


def test_preapproval_turns_on_its_row_and_material() -> None:
    data = edit(personal(), "websites[0].preapproval", ["news", "文化"])
    plan = plan_of(data)
    assert "preapproval" in plan.flags and plan.sheets[0].preapproval
    assert "preapproval" in {m.key for m in plan.materials}
    assert any("前置审批" in n for n in plan.notices)
    assert plan.sheets[0].layout_key != plan_of(personal()).sheets[0].layout_key
    assert "preapproval" not in plan_of(personal()).flags


def test_notices() -> None:
    assert any("注册商" in n for n in plan_of(unit()).notices)
    assert not any("注册商" in n for n in plan_of(personal()).notices)
    hunan = edit(edit(personal(), "province", "湖南"), "websites[0].filing_number",
                 "湘ICP备2024012345号-1")
    old = plan_of(hunan, rules=R2018)
    assert old.sms.portal_url is None
    assert old.sms.portal_note and "海南" in old.sms.portal_note
    today = plan_of(hunan)
    assert (today.sms.portal_url, today.sms.portal_note) == ("beian.miit.gov.cn", None)


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

