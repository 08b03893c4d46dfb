"""The applicant model (sheetgen.model): every rule, table-driven, with paths and codes."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

from sheetgen.errors import InvalidDataError
from sheetgen.model import (
    MAX_PROBLEMS,
    Applicant,
    FilingType,
    Nature,
    check_document,
    json_schema,
    parse_applicant,
)
from sheetgen.rules import load_rules
from tests.applicants import (
    DELETE,
    ID_BJ,
    ID_TJ,
    SECRET,
    USCC_BJ,
    edit,
    messages,
    personal,
    problems,
    unit,
)

RULES = load_rules()
MANAGER = "websites[0].manager"


def test_valid_fixtures() -> None:
    assert problems(personal()) == []
    assert problems(unit()) == []


def test_parsed_values_are_canonical() -> None:
    a = parse_applicant(personal(), RULES)
    assert a.province == "jiangxi"
    assert a.filing_type is FilingType.NEW_FILING
    assert a.host.nature is Nature.PERSONAL and not a.unit
    assert a.websites[0].domains[0].name == "example.cn"
    assert a.websites[0].domains[0].registrar is None
    assert a.websites[0].domains[1].registrar == "某某注册商"
    assert a.access.filing_password is not None
    assert a.access.filing_password.get_secret_value() == SECRET
    assert a.special_site is False and a.host.has_seal is True


def test_models_are_frozen() -> None:
    a = parse_applicant(personal(), RULES)
    with pytest.raises(pydantic.ValidationError):
        a.province = "guangdong"  # type: ignore[misc]


# --- enums and provinces: every accepted form ----------------------------------------------

@pytest.mark.parametrize("nature", list(Nature), ids=str)
@pytest.mark.parametrize("form", ["code", "label", "upper"])
def test_nature_forms(nature: Nature, form: str) -> None:
    value = {"code": nature.code, "label": nature.label, "upper": nature.code.upper()}[form]
    data = unit() if nature.unit else personal()
    if nature.unit:
        cert = RULES.certificates_for(nature)[0]
        number = USCC_BJ if cert.number == "uscc" else "12345678-9"
        data = edit(data, "host.certificate", {"type": cert.name, "number": number})
    assert parse_applicant(edit(data, "host.nature", value), RULES).host.nature is nature


@pytest.mark.parametrize("filing_type", list(FilingType), ids=str)
@pytest.mark.parametrize("form", ["code", "label"])
def test_filing_type_forms(filing_type: FilingType, form: str) -> None:
    value = filing_type.code if form == "code" else filing_type.label
    assert parse_applicant(edit(personal(), "filing_type", value),
                           RULES).filing_type is filing_type


@pytest.mark.parametrize("province", RULES.provinces, ids=lambda p: p.key)
def test_province_forms(province: Any) -> None:
    for form in (province.name, province.full_name, *province.abbreviations, province.pinyin):
        data = edit(unit(), "province", form)
        if province.key != "beijing":
            data = edit(data, "websites[0].domains", ["example.com.cn"])
        assert parse_applicant(data, RULES).province == province.key


# --- structure: unknown keys, types, required, lengths -------------------------------------

@pytest.mark.parametrize(("path", "value", "expected"), [
    ("provnce", "江西", ("provnce", "unknown_key")),
    ("host.adress", "x", ("host.adress", "unknown_key")),
    (f"{MANAGER}.emial", "x", (f"{MANAGER}.emial", "unknown_key")),
    ("websites[0].domains[1].registar", "x", ("websites[0].domains[1].registar", "unknown_key")),
    ("access.password", "x", ("access.password", "unknown_key")),
    ("province", 36, ("province", "wrong_type")),
    ("host", [], ("host", "wrong_type")),
    ("host.has_seal", "true", ("host.has_seal", "wrong_type")),
    ("special_site", 1, ("special_site", "wrong_type")),
    ("websites", "example.cn", ("websites", "wrong_type")),
    ("websites[0].domains[0]", 5, ("websites[0].domains[0]", "wrong_type")),
    ("websites[0].ips", "203.0.113.7", ("websites[0].ips", "wrong_type")),
    (f"{MANAGER}.mobile", 13800000000, (f"{MANAGER}.mobile", "wrong_type")),
    (f"{MANAGER}.certificate", "360426199101010071", (f"{MANAGER}.certificate", "wrong_type")),
    ("province", DELETE, ("province", "required")),
    ("province", "", ("province", "required")),
    ("province", "   ", ("province", "required")),
    ("province", "\u3000", ("province", "required")),
    ("province", None, ("province", "required")),
    ("host.name", DELETE, ("host.name", "required")),
    ("host.certificate.number", "", ("host.certificate.number", "required")),
    ("websites", DELETE, ("websites", "required")),
    (f"{MANAGER}.email", None, (f"{MANAGER}.email", "required")),
    (f"{MANAGER}.certificate", DELETE, (f"{MANAGER}.certificate", "required")),
    ("websites[0].domains[0]", "", ("websites[0].domains[0]", "required")),
    ("websites", [], ("websites", "too_few")),
    ("websites[0].domains", [], ("websites[0].domains", "too_few")),
    ("websites[0].ips", [], ("websites[0].ips", "too_few")),
    ("host.name", "张" * 101, ("host.name", "too_long")),
    (f"{MANAGER}.name", "张" * 51, (f"{MANAGER}.name", "too_long")),
    ("host.address", "路" * 201, ("host.address", "too_long")),
    ("websites[0].name", "网" * 65, ("websites[0].name", "too_long")),
    ("access.filing_password", "x" * 129, ("access.filing_password", "too_long")),
    ("ref", "a/b", ("ref", "ref_format")),
    ("ref", "x" * 65, ("ref", "ref_format")),
    ("ref", "订单1", ("ref", "ref_format")),
])
def test_structure(path: str, value: Any, expected: tuple[str, str]) -> None:
    assert expected in problems(edit(personal(), path, value))


def test_unknown_key_suggests_the_right_one() -> None:
    [message] = messages(edit(personal(), f"{MANAGER}.offce_phone", "0791-88888888"))
    assert "office_phone" in message and "unknown key" in message


def test_too_many_items_are_refused_without_validating_each() -> None:
    websites = [{"broken": True}] * 11
    assert problems(edit(personal(), "websites", websites)) == [("websites", "too_many")]
    domains = [f"d{i}.example.cn" for i in range(11)]
    assert problems(edit(personal(), "websites[0].domains", domains)) == [
        ("websites[0].domains", "too_many")]
    assert ("websites[0].ips", "too_many") in problems(
        edit(personal(), "websites[0].ips", ["203.0.113.7"] * 21))


def test_list_of_wrong_items_does_not_also_report_too_few() -> None:
    assert problems(edit(personal(), "websites[0].domains", [1, 2])) == [
        ("websites[0].domains[0]", "wrong_type"), ("websites[0].domains[1]", "wrong_type")]


def test_too_many_problems_are_cut() -> None:
    data = {f"key{i}": i for i in range(MAX_PROBLEMS + 50)}
    found = problems(data)
    assert len(found) == MAX_PROBLEMS + 1
    assert found[-1] == ("", "too_many_errors")


@pytest.mark.parametrize("value", [[], "x", 3, None, True])
def test_not_an_object(value: object) -> None:
    assert problems(value) == [("", "not_an_object")]


# --- strings: trimming, NFC, unsafe characters, full-width forms ----------------------------

@pytest.mark.parametrize("char", [
    "\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85",              # control characters
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",              # bidi embeddings/overrides
    "\u2066", "\u2067", "\u2068", "\u2069",                        # bidi isolates
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",              # zero-width
    "\u00ad", "\u200e", "\u2028", "\u2029",                        # soft hyphen, LRM, separators
    "\u0378", "\U000e0080",                                        # unassigned
    "\ud800",                                                      # lone surrogate
])
@pytest.mark.parametrize("path", ["host.name", "host.address", f"{MANAGER}.mobile",
                                  "websites[0].domains[0]", "websites[0].name", "province",
                                  "access.provider"])
def test_unsafe_characters(char: str, path: str) -> None:
    data = personal()
    value = _get(data, path)
    found = problems(edit(data, path, value[:1] + char + value[1:]))
    assert (path, "unsafe_character") in found
    report = " ".join(messages(edit(data, path, value[:1] + char + value[1:])))
    assert char not in report and f"U+{ord(char):04X}" in report


@pytest.mark.parametrize(("path", "value"), [
    ("host.name", "张\u202e三"), ("host.name", 5), ("host.certificate.number", ["x"]),
    ("host.nature", "alien"), ("province", "火星"), ("filing_type", 1)])
def test_a_bad_value_is_one_problem_not_a_cascade(path: str, value: Any) -> None:
    assert [p for p, _ in problems(edit(personal(), path, value))] == [path]


def _get(data: Any, path: str) -> Any:
    import re

    for key, index in re.findall(r"\.?([A-Za-z_]+)|\[(\d+)\]", path):
        data = data[int(index)] if index else data[key]
    return data


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("host.name", "  张三\n", "张三"),                            # trimmed (also a line break)
    ("host.address", "江西省南昌市（红谷滩区）１号", "江西省南昌市（红谷滩区）１号"),  # kept
    ("websites[0].name", "张三的ＡＩ笔记", "张三的ＡＩ笔记"),        # kept in names
    ("host.name", "Jose\u0301", "José"),                         # NFC
])
def test_text_normalisation(path: str, value: str, expected: str) -> None:
    data = edit(personal(), path, value)
    if path == "host.name":
        data = edit(data, f"{MANAGER}.name", value)
    a = parse_applicant(data, RULES).model_dump()
    assert _get(a, path) == expected


@pytest.mark.parametrize(("path", "value", "expected"), [
    (f"{MANAGER}.mobile", "１３８ ００００ ００００", "13800000000"),
    (f"{MANAGER}.office_phone", "０７９１－８８８８８８８８", "0791-88888888"),
    (f"{MANAGER}.email", "ｚｓ＠ｅｘａｍｐｌｅ．ｃｎ", "zs@example.cn"),
    ("websites[0].domains[0]", "ＥＸＡＭＰＬＥ．ＣＮ", "example.cn"),
    ("websites[0].ips[0]", "２０３．０．１１３．７", "203.0.113.7"),
    ("websites[0].filing_number", "赣ＩＣＰ备２０２４０１２３４５号－１", "赣ICP备2024012345号-1"),
    ("websites[0].homepage", "ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｎ", "https://example.cn"),
    ("ref", "ＱＹ－１", "QY-1"),
    ("access.username", "ｚｈａｎｇｓａｎ", "zhangsan"),
])
def test_full_width_identifiers_are_folded(path: str, value: str, expected: str) -> None:
    dumped = parse_applicant(edit(personal(), path, value), RULES).model_dump()
    got = _get(dumped, path.replace("domains[0]", "domains[0].name"))
    assert got == expected


def test_full_width_id_number_matches_the_host() -> None:
    number = "３６０４２６１９９１０１０１００７１"
    data = edit(edit(personal(), "host.certificate.number", number),
                f"{MANAGER}.certificate.number", number)
    assert parse_applicant(data, RULES).host.certificate.number == "360426199101010071"


# --- certificates --------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "path", "value", "expected"), [
    (personal(), "host.certificate.type", "身份证", None),
    (personal(), "host.certificate.type", "resident_id", None),
    (personal(), "host.certificate.type", "驾驶证", "certificate_type_unknown"),
    (personal(), "host.certificate.type", "营业执照", "certificate_type_mismatch"),
    (unit(), "host.certificate.type", "居民身份证", "certificate_type_mismatch"),
    (unit(), "host.certificate.type", "律师事务所执业许可证", "certificate_type_mismatch"),
    (unit(), "host.certificate.type", "统一社会信用代码证书", None),
    (unit(), f"{MANAGER}.certificate.type", "营业执照", "certificate_type_mismatch"),
    (unit(), "host.principal.certificate.type", "营业执照", "certificate_type_mismatch"),
])
def test_certificate_type(data: dict[str, Any], path: str, value: str,
                          expected: str | None) -> None:
    found = problems(edit(data, path, value))
    assert found == ([] if expected is None else [(path, expected)])


@pytest.mark.parametrize(("nature", "cert", "ok"), [
    ("law_firm", "律师事务所执业许可证", True), ("law_firm", "营业执照", False),
    ("institution", "事业单位法人证书", True), ("institution", "基金会法人登记证书", False),
    ("foundation", "基金会法人登记证书", True), ("social_group", "社会团体法人登记证书", True),
    ("private_non_enterprise", "民办非企业单位登记证书", True), ("government", "营业执照", False),
    ("government", "统一社会信用代码证书", True), ("other", "营业执照", True),
])
def test_certificate_matches_nature(nature: str, cert: str, ok: bool) -> None:
    data = edit(edit(unit(), "host.nature", nature), "host.certificate.type", cert)
    expected = [] if ok else [("host.certificate.type", "certificate_type_mismatch")]
    assert problems(data) == expected


@pytest.mark.parametrize(("data", "path", "cert", "number", "expected"), [
    (personal(), "host.certificate", "居民身份证", "360426199101010072", "ric_checksum"),
    (personal(), "host.certificate", "居民身份证", "36042619910101007", "ric_format"),
    (personal(), "host.certificate", "居民身份证", "999999199101010071", "ric_checksum"),
    (personal(), "host.certificate", "护照", "E12345678", "manager_not_host"),
    (personal(), "host.certificate", "护照", "#", "certificate_number_format"),
    (unit(), "host.certificate", "营业执照", "91110000600037341M", "uscc_checksum"),
    (unit(), "host.certificate", "营业执照", "9111000060003734", "uscc_format"),
    (unit(), "host.certificate", "组织机构代码证", "12345678-9", None),
    (unit(), f"{MANAGER}.certificate", "港澳居民居住证", "810000199001011230", None),
    (unit(), f"{MANAGER}.certificate", "港澳居民居住证", ID_TJ, "ric_region"),
    (unit(), f"{MANAGER}.certificate", "台湾居民居住证", "830000199001011234", None),
])
def test_certificate_number(data: dict[str, Any], path: str, cert: str, number: str,
                            expected: str | None) -> None:
    from stdnum.cn import ric

    if cert.endswith("居住证") and expected is None:
        number = number[:17] + ric.calc_check_digit(number[:17] + "0")
    found = problems(edit(data, path, {"type": cert, "number": number}))
    if expected is None:
        assert found == []
    else:
        at = f"{path}.number" if expected != "manager_not_host" else MANAGER
        assert (at, expected) in found


def test_id_numbers_are_masked_in_messages() -> None:
    report = " ".join(messages(edit(personal(), "host.certificate.number",
                                    "360426199101010072")))
    assert "**************0072" in report and "360426199101010072" not in report
    assert "身份证号码校验位错误" in report.replace(" **************0072 ", "")


# --- contact details -----------------------------------------------------------------------

@pytest.mark.parametrize(("path", "value", "code"), [
    (f"{MANAGER}.mobile", "12345678901", "mobile_format"),
    (f"{MANAGER}.mobile", "1380000000", "mobile_format"),
    ("host.principal.mobile", "10086", "mobile_format"),
    (f"{MANAGER}.office_phone", "0791-888", "landline_format"),
    (f"{MANAGER}.office_phone", "13800000000", "landline_format"),
    (f"{MANAGER}.email", "zs@", "email_format"),
    ("host.principal.email", "not an email", "email_format"),
    (f"{MANAGER}.emergency_phone", "123", "phone_format"),
    (f"{MANAGER}.emergency_phone", "13622223333", "emergency_same_as_mobile"),
])
def test_contact_details(path: str, value: str, code: str) -> None:
    assert (path, code) in problems(edit(unit(), path, value))


@pytest.mark.parametrize("phone", ["13900000000", "0791-88888888"])
def test_emergency_phone_mobile_or_landline(phone: str) -> None:
    assert problems(edit(personal(), f"{MANAGER}.emergency_phone", phone)) == []


# --- websites and domains ------------------------------------------------------------------

@pytest.mark.parametrize(("path", "value", "expected"), [
    ("websites[0].name", "博客", ("websites[0].name", "website_name_short")),
    ("websites[0].name", "example.cn", ("websites[0].name", "website_name_domain")),
    ("websites[0].name", "https://example.cn", ("websites[0].name", "website_name_domain")),
    ("websites[0].domains[0]", "www.example.cn", ("websites[0].domains[0]", "domain_www")),
    ("websites[0].domains[0]", "http://example.cn", ("websites[0].domains[0]", "domain_invalid")),
    ("websites[0].domains[1].name", "例子", ("websites[0].domains[1].name", "domain_invalid")),
    ("websites[0].domains[1]", "example.cn", ("websites[0].domains", "domain_duplicate")),
    ("websites[0].homepage", "https://other.cn", ("websites[0].homepage", "homepage_domain")),
    ("websites[0].homepage", "example.cn", ("websites[0].homepage", "homepage_format")),
    ("websites[0].ips[0]", "192.168.1.10", ("websites[0].ips[0]", "ip_not_public")),
    ("websites[0].ips[1]", "1.2.3", ("websites[0].ips[1]", "ip_format")),
    ("websites[0].filing_number", "粤ICP备2024012345号-1",
     ("websites[0].filing_number", "filing_number_province")),
    ("websites[0].filing_number", "中ICP备2024012345号-1",
     ("websites[0].filing_number", "filing_number_province")),
    ("websites[0].filing_number", "赣ICP备2024012345号",
     ("websites[0].filing_number", "filing_number_suffix")),
    ("websites[0].filing_number", "赣ICP备20240123号-1x",
     ("websites[0].filing_number", "filing_number_format")),
])
def test_websites(path: str, value: Any, expected: tuple[str, str]) -> None:
    assert expected in problems(edit(personal(), path, value))


def test_domain_in_two_websites() -> None:
    second = {**personal()["websites"][0], "name": "张三的第二个网站", "domains": ["example.cn"],
              "homepage": DELETE}
    del second["homepage"]
    data = edit(personal(), "websites[1]", second)
    assert problems(data) == [("websites", "domain_duplicate")]


@pytest.mark.parametrize(("province", "abbreviation", "ok"), [
    ("四川", "蜀", True), ("四川", "川", True), ("贵州", "黔", True), ("贵州", "贵", True),
    ("云南", "滇", True), ("云南", "云", True), ("甘肃", "陇", True), ("甘肃", "甘", True),
    ("四川", "渝", False), ("江西", "赣", True), ("江西", "湘", False)])
def test_filing_number_province(province: str, abbreviation: str, ok: bool) -> None:
    data = edit(edit(personal(), "province", province), "websites[0].filing_number",
                f"{abbreviation}ICP备2024012345号-1")
    found = problems(data)
    assert (("websites[0].filing_number", "filing_number_province") in found) is not ok


# --- required-if rules ---------------------------------------------------------------------

@pytest.mark.parametrize(("filing_type", "expected"), [
    ("new_filing", set()),
    ("new_website", set()),
    ("change", {("websites[0].filing_number", "filing_number_required")}),
    ("new_access", {("websites[0].filing_number", "filing_number_required"),
                    ("websites[0].ips", "ips_required"),
                    ("access.username", "username_required")}),
])
def test_required_by_filing_type(filing_type: str, expected: set[tuple[str, str]]) -> None:
    data = edit(personal(), "filing_type", filing_type)
    for path in ("websites[0].filing_number", "websites[0].ips", "access.username"):
        data = edit(data, path, DELETE)
    assert set(problems(data)) == expected


def test_username_required_without_any_access() -> None:
    data = edit(edit(personal(), "filing_type", "新增接入"), "access", DELETE)
    assert ("access.username", "username_required") in problems(data)


@pytest.mark.parametrize("nature", [n for n in Nature if n.unit], ids=str)
def test_principal_required_for_every_unit_nature(nature: Nature) -> None:
    cert = RULES.certificates_for(nature)[0]
    data = edit(unit(), "host.nature", nature.label)
    data = edit(data, "host.certificate", {"type": cert.name, "number": USCC_BJ})
    data = edit(data, "host.principal", DELETE)
    assert ("host.principal", "principal_required") in problems(data)


def test_personal_principal_must_be_the_applicant() -> None:
    me = {k: personal()["websites"][0]["manager"][k] for k in ("name", "certificate", "mobile",
                                                              "email")}
    assert problems(edit(personal(), "host.principal", me)) == []
    other = {**me, "name": "李四", "certificate": {"type": "居民身份证", "number": ID_BJ}}
    assert problems(edit(personal(), "host.principal", other)) == [
        ("host.principal", "principal_not_host")]


@pytest.mark.parametrize(("path", "value"), [
    (f"{MANAGER}.name", "李四"),
    (f"{MANAGER}.certificate.number", ID_BJ),
])
def test_personal_manager_must_be_the_applicant(path: str, value: str) -> None:
    assert problems(edit(personal(), path, value)) == [(MANAGER, "manager_not_host")]


def test_personal_manager_matches_despite_spelling() -> None:
    data = edit(personal(), f"{MANAGER}.name", " 张 三 ")
    data = edit(data, f"{MANAGER}.certificate.number", "360426 19910101 0071")
    assert problems(data) == []


def test_unit_manager_may_be_anyone() -> None:
    assert problems(unit()) == []


@pytest.mark.parametrize(("province", "domain", "expected"), [
    ("北京", "example.cn", ("websites[0].domains[0]", "registrar_required")),
    ("北京", {"name": "example.cn"}, ("websites[0].domains[0].registrar", "registrar_required")),
    ("北京", {"name": "example.cn", "registrar": ""},
     ("websites[0].domains[0].registrar", "registrar_required")),
    ("北京", {"name": "example.cn", "registrar": "某某注册商"}, None),
    ("天津", "example.cn", None),
])
def test_registrar_in_beijing(province: str, domain: Any,
                              expected: tuple[str, str] | None) -> None:
    data = edit(unit(), "province", province)
    data = edit(data, "websites[0].domains", [domain])
    assert problems(data) == ([] if expected is None else [expected])


# --- all problems at once, and secrets -----------------------------------------------------

def test_all_problems_of_a_record_are_reported() -> None:
    data = personal()
    data = edit(data, "host.certificate.number", "360426199101010072")   # checksum
    data = edit(data, f"{MANAGER}.mobile", "12345")                      # mobile
    data = edit(data, "websites[0].domains[0]", "www.example.cn")        # www
    data = edit(data, "filing_type", "new_access")
    data = edit(data, "access.username", DELETE)                         # required-if
    data = edit(data, "websites[0].colour", "blue")                      # unknown key
    found = problems(data)
    assert set(found) >= {("host.certificate.number", "ric_checksum"),
                          (f"{MANAGER}.mobile", "mobile_format"),
                          ("websites[0].domains[0]", "domain_www"),
                          ("access.username", "username_required"),
                          ("websites[0].colour", "unknown_key")}


def test_messages_are_bilingual() -> None:
    data = edit(edit(unit(), f"{MANAGER}.mobile", "x"), "host.nature", "?")
    data = edit(edit(data, "websites[0].ips", [5]), "host.colour", 1)
    found = messages(data)
    assert len(found) == 4
    for message in found:
        chinese, english = message.split(" / ", 1)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese), message
        assert sum(ch.isascii() and ch.isalpha() for ch in english) > 5, message


@pytest.mark.parametrize("password", [
    SECRET, {"value": SECRET}, [SECRET], 12345, True, SECRET * 10, SECRET + "\u202e",
])
def test_filing_password_never_appears(password: Any) -> None:
    data = edit(personal(), "access.filing_password", password)
    data = edit(data, f"{MANAGER}.mobile", "bad")  # make sure there is a report either way
    with pytest.raises(InvalidDataError) as info:
        parse_applicant(data, RULES)
    report = json.dumps(info.value.as_dict(), ensure_ascii=False) + str(info.value)
    assert SECRET not in report and "12345" not in report


def test_filing_password_is_never_dumped() -> None:
    a = parse_applicant(personal(), RULES)
    for text in (repr(a), str(a), repr(a.access), a.model_dump_json(), str(a.model_dump()),
                 json.dumps(a.model_dump(mode="json"), ensure_ascii=False)):
        assert SECRET not in text
    assert "filing_password" not in a.model_dump()["access"]


# --- check_document ------------------------------------------------------------------------

def test_check_document_single_and_array() -> None:
    [one] = check_document(json.dumps(personal()).encode(), source="s", rules=RULES)
    assert one.ok and one.index is None
    results = check_document(json.dumps([personal(), "x", unit()]).encode(), source="s",
                             rules=RULES)
    assert [(r.index, r.ok) for r in results] == [(0, True), (1, False), (2, True)]
    assert [(p.path, p.code) for p in results[1].located()] == [("[1]", "not_an_object")]
    bad = check_document(json.dumps([edit(personal(), "host.name", 1)]).encode(), source="s")
    assert [p.path for p in bad[0].located()] == ["[0].host.name"]
    problems = [p.as_dict() for p in bad[0].problems]
    assert bad[0].as_dict(RULES) == {"ok": False, "problems": problems, "errors": problems,
                                     "warnings": [], "websites": 0, "variant": None}


@pytest.mark.parametrize(("data", "code"), [(b"[]", "no_records"), (b"{", "not_json"),
                                            (b"\xff", "not_utf8"), (b"3", "not_an_object")])
def test_check_document_bad_documents(data: bytes, code: str) -> None:
    [result] = check_document(data, source="s", rules=RULES)
    assert not result.ok and result.problems[0].code == code


# --- JSON Schema ---------------------------------------------------------------------------

def test_json_schema() -> None:
    schema = json_schema(RULES)
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"province", "filing_type", "host", "websites"}
    props = schema["properties"]
    assert {"江西", "江西省", "赣", "jiangxi", "蜀"} <= set(props["province"]["enum"])
    assert {"personal", "个人", "enterprise", "企业"} <= set(
        schema["$defs"]["Host"]["properties"]["nature"]["enum"])
    assert {"new_access", "新增接入"} <= set(props["filing_type"]["enum"])
    assert (props["websites"]["minItems"], props["websites"]["maxItems"]) == (1, 10)
    assert props["ref"]["anyOf"][0]["pattern"] == "^[A-Za-z0-9._-]{1,64}$"
    domains = schema["$defs"]["Website"]["properties"]["domains"]
    assert domains["items"]["anyOf"][0] == {"type": "string", "minLength": 1}
    assert "居民身份证" in schema["$defs"]["PersonCertificate"]["properties"]["type"]["enum"]
    assert "营业执照" not in schema["$defs"]["PersonCertificate"]["properties"]["type"]["enum"]
    assert "营业执照" in schema["$defs"]["HostCertificate"]["properties"]["type"]["enum"]
    assert schema["$defs"]["Access"]["properties"]["filing_password"]["anyOf"][0][
        "writeOnly"] is True
    for name, definition in schema["$defs"].items():
        assert definition.get("additionalProperties") is False, name
    json.dumps(schema)  # serialisable


def test_applicant_is_importable_without_heavy_modules() -> None:
    assert Applicant.__module__ == "sheetgen.model"


@pytest.mark.parametrize("province", RULES.provinces, ids=lambda p: p.key)
def test_make_example_is_valid_for_every_province_and_nature(province: Any) -> None:
    from sheetgen.documents.example import make_example

    for nature in Nature:
        data = make_example(RULES, province.full_name, nature.label)
        applicant = parse_applicant(data, RULES)
        assert applicant.province == province.key and applicant.host.nature is nature
        number = applicant.websites[0].manager.certificate.number
        assert number.startswith(province.sample_region)
        assert make_example(RULES, province.pinyin, nature.code) == data  # deterministic


# --- issue 15: exact errors -----------------------------------------------------------------

@pytest.mark.parametrize(("path", "key"), [
    ("", "\ud800"), ("host", "a\udfffb"), ("websites[0].manager.certificate", "\udc00")])
def test_a_lone_surrogate_in_a_key_names_the_key_and_the_cause(path: str, key: str) -> None:
    data = personal()
    where: Any = data
    for part in path.replace("[0]", ".0").split(".") if path else []:
        where = where[int(part)] if part.isdigit() else where[part]
    where[key] = 1
    data["host"]["name"] = ""  # another problem of the record is still found
    found = problems(data)
    key_path = (f"{path}" if path else "") + f'["{key.encode("unicode_escape").decode()}"]'
    assert (key_path, "unsafe_character") in found
    assert ("host.name", "required") in found
    [message] = [m for m in messages(data) if "lone surrogate" in m]
    assert "character" in message and "U+D" in message and "代理字符" in message
    assert "invalid value" not in " ".join(messages(data))


def test_a_lone_surrogate_key_alone_is_the_only_problem() -> None:
    data = personal()
    data["\ud800x"] = True
    assert problems(data) == [('["\\ud800x"]', "unsafe_character")]


@pytest.mark.parametrize(("path", "places"), [
    ("host.mobile", "host.principal or websites[].manager"),
    ("registrar", "websites[].domains[]"),
    ("websites[0].provider", "access"),
    ("access.province", "(top level)"),
    ("websites[0].manager.number", "host.certificate or host.principal.certificate or "
                                   "host.legal_representative.certificate or "
                                   "websites[].manager.certificate"),
])
def test_a_key_at_the_wrong_level_says_where_it_belongs(path: str, places: str) -> None:
    [message] = messages(edit(personal(), path, "x"))
    assert f"it goes in {places}" in message, message
    assert "did you mean" not in message
    assert "不能写在这里" in message


def test_a_misspelt_key_suggests_the_key_of_its_own_level_first() -> None:
    # "nmae" is closest to "name", which exists here; "registar" to the domain's "registrar".
    [message] = messages(edit(personal(), "websites[0].nmae", "x"))
    assert "did you mean “name”?" in message
    [message] = messages(edit(personal(), "websites[0].domains[1].registar", "x"))
    assert "did you mean “registrar”?" in message


def test_a_character_no_font_has_in_a_website_name_is_reported_once_at_its_path() -> None:
    """The cover lists every website's name too; the problem names the exact field once."""
    from sheetgen.documents.jobs import RenderOptions
    from sheetgen.errors import FontError
    from sheetgen.pipeline import plan_input
    from sheetgen.rendering.docx.document import render_docx
    from sheetgen.rendering.pdf.document import render_pdf

    data = edit(personal(), "websites[0].name", "张三的\ue000笔记")
    plan = plan_input(json.dumps(data).encode(), source="me.json")
    for render in (render_pdf, render_docx):
        with pytest.raises(FontError) as caught:
            render(plan, RenderOptions(cover=True))
        assert [(p.path, p.code) for p in caught.value.problems] == [
            ("websites[0].name", "font_missing_char")], render
        assert "websites[0].name U+E000" in caught.value.message


def test_a_character_only_the_cover_prints_keeps_the_covers_path() -> None:
    from sheetgen.documents.jobs import RenderOptions
    from sheetgen.errors import FontError
    from sheetgen.pipeline import plan_input
    from sheetgen.rendering.pdf.document import render_pdf

    data = edit(personal(), "host.name", "张\ue000")
    data["host"]["certificate"]["number"] = data["websites"][0]["manager"]["certificate"][
        "number"]
    data["websites"][0]["manager"]["name"] = "张\ue000"
    plan = plan_input(json.dumps(data).encode(), source="me.json")
    with pytest.raises(FontError) as caught:
        render_pdf(plan, RenderOptions(cover=True))
    paths = [p.path for p in caught.value.problems]
    assert len(paths) == len(set(paths)) and "host.name" in paths


def test_example_data_is_warned_about_until_every_sample_value_is_replaced(tmp_path: Any) -> None:
    from tests.conftest import run_cli as cli

    made = cli("example", "--province", "广东", "--nature", "enterprise")
    sample = json.loads(made.text)
    checked = cli("check", "-", stdin=made.stdout)
    assert checked.code == 0 and "sheetgen: warning: <stdin>: " in checked.stderr
    assert "fictitious sample data of `sheetgen example`" in checked.stderr
    report = json.loads(cli("check", "-", "--json", stdin=made.stdout).text)
    paths = {w["path"] for w in report["warnings"]}
    assert {"ref", "host.name", "host.certificate.number", "access.provider",
            "websites[0].manager.mobile", "websites[0].domains[0].name"} <= paths
    assert {w["code"] for w in report["warnings"]} == {"example_data"}
    # Province, filing type, nature and certificate type are not sample values.
    assert not paths & {"province", "filing_type", "host.nature", "host.certificate.type"}
    source = tmp_path / "sample.json"
    source.write_bytes(made.stdout)
    filled = cli("fill", str(source), "-o", str(tmp_path / "out.pdf"), "--json")
    assert filled.code == 0 and "sheetgen: warning:" in filled.stderr
    assert {w["path"] for w in json.loads(filled.text)["warnings"]} == paths
    # Replaced one by one, the warning names fewer values, and none once all are real.
    data = {**sample, "ref": "REAL-1"}
    partly = json.loads(cli("check", "-", "--json", stdin=json.dumps(data).encode()).text)
    assert {w["path"] for w in partly["warnings"]} == paths - {"ref"}
    clean = cli("check", "-", "--json", stdin=json.dumps(personal()).encode())
    assert json.loads(clean.text)["warnings"] == [] and "warning" not in clean.stderr
