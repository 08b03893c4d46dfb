"""The acceptance rules (sheetgen/rules/acceptance.py, ``[[acceptance]]`` in the rules file).

Each rule: a record that breaks it and one that nearly does (the boundary: exactly 3 months,
the 18th birthday, the allowed number of domains). Then where the rules run (check, fill,
batch, the library, serve's /check), ``--date``, ``sheetgen rules 湘``, bad input and bad
rules files.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from stdnum.cn import ric

import sheetgen
from sheetgen.errors import InvalidDataError, Problem, RulesError
from sheetgen.model import check_document, parse_applicant, preflight
from sheetgen.resources import rules_file
from sheetgen.rules import load_rules, parse_rules
from sheetgen.rules.acceptance import add_months, birthday, filing_date
from tests.applicants import ID_BJ, ID_JX, USCC_BJ, edit, personal, problems, unit
from tests.conftest import EXAMPLES, run_cli

TODAY = date(2026, 12, 7)
RULES = load_rules()


def make_id(region: str, born: date, serial: str = "123") -> str:
    """A valid resident ID number of ``region`` for someone born on ``born``."""
    base = f"{region}{born:%Y%m%d}{serial}"
    return base + ric.calc_check_digit(base + "0")


def found(data: dict[str, Any], today: date = TODAY) -> list[tuple[str, str, str]]:
    """(path, code, severity) of every acceptance problem of the valid record ``data``."""
    return [(p.path, p.code, p.severity)
            for p in preflight(parse_applicant(data, RULES), RULES, today)]


def codes(data: dict[str, Any], today: date = TODAY) -> set[str]:
    return {code for _, code, _ in found(data, today)}


def person(data: dict[str, Any], name: str, number: str) -> dict[str, Any]:
    """``data`` (personal) with the host and every manager being ``name``/``number``."""
    data = copy.deepcopy(data)
    data["host"]["name"] = name
    data["host"]["certificate"]["number"] = number
    for website in data["websites"]:
        website["manager"]["name"] = name
        website["manager"]["certificate"]["number"] = number
    return data


def moved(data: dict[str, Any], province: str) -> dict[str, Any]:
    """``data`` filed in ``province`` (without its Jiangxi filing numbers)."""
    data = copy.deepcopy(data)
    data["province"] = province
    for website in data["websites"]:
        website.pop("filing_number", None)
    return data


def hunan_unit(**host: Any) -> dict[str, Any]:
    data = unit()
    data["province"] = "湖南"
    data["websites"][0]["domains"] = ["example.com.cn"]
    data["host"].update(host)
    return data


# --- the examples and the plain fixtures pass --------------------------------------------

def test_the_bundled_examples_and_fixtures_pass_every_rule() -> None:
    for path in sorted(EXAMPLES.glob("*.json")):
        [result] = check_document(path.read_bytes(), source=str(path), rules=RULES,
                                  today=TODAY)
        assert result.ok and not result.warnings, (path, result.problems, result.warnings)
    assert found(personal()) == []


def test_the_2018_edition_has_no_acceptance_rules() -> None:
    old = load_rules(edition="2018")
    assert old.acceptance == ()
    data = edit(personal(), "websites[0].name", "中国技术笔记")
    assert preflight(parse_applicant(data, old), old, TODAY) == []


# --- each rule: broken, and nearly broken -----------------------------------------------------

def test_website_name_reserved() -> None:
    assert found(edit(personal(), "websites[0].name", "中国技术笔记")) == [
        ("websites[0].name", "website_name_reserved", "error")]
    assert codes(edit(personal(), "websites[0].name", "技术中国笔记")) == set()
    government = edit(unit(), "host.nature", "government")
    government = edit(government, "host.certificate.type", "统一社会信用代码证书")
    government = edit(government, "websites[0].domains", [
        {"name": "example.gov.cn", "registrar": "某某注册商"}])
    assert "website_name_reserved" not in codes(
        edit(government, "websites[0].name", "国家某某局网站"))


def test_website_name_form() -> None:
    assert found(edit(personal(), "websites[0].name", "abc 123")) == [
        ("websites[0].name", "website_name_form", "error")]
    assert codes(edit(personal(), "websites[0].name", "abc 博客")) == set()
    assert found(edit(personal(), "websites[0].name", "张三@技术笔记")) == [
        ("websites[0].name", "website_name_form", "warning")]
    assert codes(edit(personal(), "websites[0].name", "张三·技术笔记")) == set()


def test_certificate_expiring_at_exactly_three_months() -> None:
    limit = add_months(TODAY, 3)
    assert limit == date(2027, 3, 7)
    day_before = edit(personal(), "host.certificate.valid_until", "2027-03-06")
    assert found(day_before) == [("host.certificate.valid_until", "certificate_expiring",
                                  "error")]
    assert codes(edit(personal(), "host.certificate.valid_until", "2027-03-07")) == set()
    assert codes(edit(personal(), "host.certificate.valid_until", "长期")) == set()
    expired = edit(unit(), "host.principal.certificate.valid_until", "2020.01.01")
    assert ("host.principal.certificate.valid_until", "certificate_expiring",
            "error") in found(expired)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


def test_applicant_under_18_from_the_18th_birthday() -> None:
    born = date(2008, 12, 7)
    hunan = edit(moved(personal(), "湖南"), "websites[0].domains", ["example.cn"])
    minor = person(hunan, "张三", make_id("430104", date(2008, 12, 8)))
    assert found(minor) == [("host.certificate.number", "applicant_under_18", "error")]
    adult = person(hunan, "张三", make_id("430104", born))
    assert codes(adult) == set()
    # Only where the province says so (冀 蒙 湘), and not for units.
    assert codes(moved(minor, "广东")) == set()
    assert birthday(date(2008, 2, 29), 18) == date(2026, 3, 1)


def test_certificate_not_local_unless_a_residence_permit() -> None:
    outsider = person(personal(), "张三", make_id("430104", date(1990, 5, 1)))
    assert found(outsider) == [("host.certificate.number", "certificate_not_local", "error")]
    assert codes(edit(outsider, "host.residence_permit", "江西省")) == set()
    assert codes(edit(outsider, "host.residence_permit", "湖南")) == {"certificate_not_local"}
    assert codes(personal()) == set()  # ID_JX is from Jiangxi (36)
    assert codes(moved(outsider, "浙江")) == set()  # not a rule there


def test_residence_permit_is_a_province() -> None:
    assert ("host.residence_permit", "province_unknown") in problems(
        edit(personal(), "host.residence_permit", "火星"))


def test_too_many_domains_per_filing_and_per_website() -> None:
    hunan = moved(personal(), "湖南")
    hunan = person(hunan, "张三", make_id("430104", date(1990, 5, 1)))
    assert found(hunan) == [("websites", "too_many_domains", "error")]
    assert codes(edit(hunan, "websites[0].domains", ["example.cn"])) == set()
    henan = moved(hunan, "河南")
    five = ["example.cn", *(f"example{i}.cn" for i in range(1, 5))]
    assert codes(edit(henan, "websites[0].domains", five)) == set()
    assert codes(edit(henan, "websites[0].domains", [*five, "example5.cn"])) == {
        "too_many_domains"}
    xinjiang = moved(hunan, "新疆")
    xinjiang = edit(xinjiang, "host.residence_permit", "新疆")
    assert found(xinjiang) == [("websites[0].domains", "too_many_domains", "error")]
    assert codes(edit(xinjiang, "websites[0].domains", ["example.cn"])) == set()


def test_domain_suffix_for_nature() -> None:
    institution = edit(unit(), "host.nature", "事业单位")
    institution = edit(institution, "host.certificate.type", "事业单位法人证书")
    institution = edit(institution, "websites[0].domains", [
        {"name": "example.com", "registrar": "某某注册商"}])
    assert ("websites[0].domains[0]", "domain_suffix_for_nature", "error") in found(institution)
    for ok in ("example.com.cn", "例子.公益", "example.cn"):
        assert "domain_suffix_for_nature" not in codes(edit(
            institution, "websites[0].domains", [{"name": ok, "registrar": "某某注册商"}])), ok
    government = edit(institution, "host.nature", "government")
    government = edit(government, "host.certificate.type", "统一社会信用代码证书")
    government = edit(government, "websites[0].domains", [
        {"name": "example.cn", "registrar": "某某注册商"}])
    assert "domain_suffix_for_nature" in codes(government)
    assert "domain_suffix_for_nature" not in codes(edit(
        government, "websites[0].domains", [{"name": "example.gov.cn", "registrar": "某"}]))


def test_contact_shared_within_an_applicant() -> None:
    shared = edit(unit(), "websites[0].manager.mobile", "13911112222")  # the principal's
    assert found(shared) == [("websites[0].manager.mobile", "contact_shared", "error")]
    email = edit(unit(), "websites[0].manager.email", "LS@example.com")
    assert found(email) == [("websites[0].manager.email", "contact_shared", "error")]
    # The same person may give the same mobile twice.
    same = edit(shared, "websites[0].manager.name", "李四")
    same = edit(same, "websites[0].manager.certificate.number", ID_BJ)
    assert codes(same) == set()


def test_contact_shared_across_the_records_of_a_run_flags_both() -> None:
    first = edit(personal(), "ref", "A-1")
    second = person(edit(personal(), "ref", "B-2"), "李四", make_id("360426",
                                                                  date(1990, 5, 1)))
    second = edit(second, "websites[0].manager.email", "ls@example.cn")
    data = json.dumps([first, second], ensure_ascii=False).encode()
    results = check_document(data, source="run.json", rules=RULES, today=TODAY)
    assert all(r.ok for r in results)
    [a], [b] = (r.warnings for r in results)
    assert (a.code, a.path, a.severity) == ("contact_shared", "websites[0].manager.mobile",
                                            "warning")
    assert "B-2" in a.message and "A-1" in b.message
    other = edit(second, "websites[0].manager.mobile", "13700000000")
    data = json.dumps([first, other], ensure_ascii=False).encode()
    assert not any(r.warnings for r in check_document(data, source="run.json", rules=RULES,
                                                      today=TODAY))


def test_preapproval_keyword_is_a_warning_until_declared() -> None:
    data = edit(personal(), "websites[0].name", "张三的教育笔记")
    assert found(data) == [("websites[0].name", "preapproval_keyword", "warning")]
    assert codes(edit(data, "websites[0].preapproval", ["education"])) == set()
    shop = edit(unit(), "host.name", "北京某某药业有限公司")
    assert found(shop) == [("host.name", "preapproval_keyword", "warning")]


def test_domain_holder_mismatch() -> None:
    data = edit(personal(), "websites[0].domains", [{"name": "example.cn", "holder": "李四"}])
    assert found(data) == [("websites[0].domains[0].holder", "domain_holder_mismatch",
                            "error")]
    assert codes(edit(data, "websites[0].domains", [{"name": "example.cn",
                                                     "holder": " 张三 "}])) == set()


def test_legal_representative_letter() -> None:
    missing = found(hunan_unit())
    assert missing == [("host.legal_representative", "legal_representative_letter", "warning")]
    [problem] = preflight(parse_applicant(hunan_unit(), RULES), RULES, TODAY)
    assert "host.legal_representative" in problem.message and "网站负责人授权书" in problem.message
    manager = unit()["websites"][0]["manager"]
    same = hunan_unit(legal_representative={"name": manager["name"],
                                            "certificate": manager["certificate"]})
    assert codes(same) == set()
    other = hunan_unit(legal_representative={
        "name": "李四", "certificate": {"type": "居民身份证", "number": ID_BJ}})
    assert found(other) == [("websites[0].manager", "legal_representative_letter", "warning")]
    # Beijing asks for no letter.
    assert codes(unit()) == set()


def sole_trader(province: str, name: str, *, seal: bool = True,
                number: str = "92500105MAC817EJ5D") -> dict[str, Any]:
    """A 个体工商户 (credit code 92…) in ``province`` named ``name``, run by 李四 (its
    principal)."""
    data = unit()
    data["province"] = province
    data["websites"][0]["domains"] = ["example.com.cn"]
    data["host"].update(name=name, has_seal=seal,
                        certificate={"type": "营业执照", "number": number})
    return data


def named(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The sole_trader_name findings of ``data`` (Anhui also asks for letters)."""
    return [f for f in found(data) if f[1] == "sole_trader_name"]


def named_codes(data: dict[str, Any]) -> set[str]:
    return {code for _, code, _ in named(data)}


def test_sole_trader_name_anhui_the_operators_name() -> None:
    # Without a seal in Anhui: 无字号无公章个体工商户, filed under the operator's name.
    broken = sole_trader("安徽", "合肥某某小吃店", seal=False)
    assert named(broken) == [("host.name", "sole_trader_name", "warning")]
    [problem] = [p for p in preflight(parse_applicant(broken, RULES), RULES, TODAY)
                 if p.code == "sole_trader_name"]
    assert "“李四”" in problem.message and "host.name" in problem.message
    assert named(sole_trader("安徽", "***")) == [("host.name", "sole_trader_name", "warning")]
    # Nearly: the operator's own name (spacing aside), or a trade name with a seal.
    assert named_codes(sole_trader("安徽", " 李四 ", seal=False)) == set()
    assert named_codes(sole_trader("安徽", "合肥某某小吃店")) == set()
    # Not a sole trader: an enterprise's credit code (91…) with a seal.
    assert named_codes(sole_trader("安徽", "***", number=USCC_BJ)) == set()


def test_sole_trader_name_zhejiang_marked() -> None:
    for name in ("李四", "李四个体工商户", "无字号"):
        assert named(sole_trader("浙江", name)) == [("host.name", "sole_trader_name",
                                                    "warning")], name
    [problem] = [p for p in preflight(parse_applicant(sole_trader("浙江", "李四"), RULES), RULES,
                                      TODAY) if p.code == "sole_trader_name"]
    assert "李四（个体工商户）" in problem.message
    # Nearly: the marked name (full- or half-width brackets), or a trade name.
    assert named_codes(sole_trader("浙江", "李四（个体工商户）")) == set()
    assert named_codes(sole_trader("浙江", "李四(个体工商户)")) == set()
    assert named_codes(sole_trader("浙江", "杭州某某小吃店")) == set()
    # Other provinces ask nothing of the name.
    assert named_codes(sole_trader("上海", "李四")) == set()


# --- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["2030-02-30", "明年", "2030-1"])
def test_a_valid_until_that_is_not_a_date(value: str) -> None:
    assert problems(edit(personal(), "host.certificate.valid_until", value)) == [
        ("host.certificate.valid_until", "date_format")]


def test_a_valid_until_before_the_birth_date() -> None:
    assert problems(edit(personal(), "websites[0].manager.certificate.valid_until",
                         "1990-12-31")) == [
        ("websites[0].manager.certificate.valid_until", "valid_until_before_birth")]


def test_absent_new_fields_leave_the_dump_and_the_reference_unchanged() -> None:
    dump = parse_applicant(personal(), RULES).model_dump(mode="json")
    assert "valid_until" not in dump["host"]["certificate"]
    assert "legal_representative" not in dump["host"]
    given = parse_applicant(edit(personal(), "host.certificate.valid_until", "2030/1/2"), RULES)
    assert given.model_dump(mode="json")["host"]["certificate"]["valid_until"] == "2030-01-02"


def _broken_rules(tmp_path: Path, entry: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(rules_file("rules.toml").read_text("utf-8") + entry, "utf-8")
    return path


@pytest.mark.parametrize(("entry", "key", "text", "below"), [
    ('\n[[acceptance]]\nkind = "moon_phase"\nseverity = "error"\nzh = "x"\nen = "x"\n'
     'source = "doc: x"\nas_of = 2026-01-01\n', "acceptance[20].kind", "moon_phase", 1),
    ('\n[[acceptance]]\nkind = "domain_holder_mismatch"\nprovinces = ["atlantis"]\n'
     'severity = "error"\nzh = "x"\nen = "x"\nsource = "doc: x"\nas_of = 2026-01-01\n',
     "acceptance[20].provinces", "atlantis", 2),
    # No source at all: the entry's header line.
    ('\n[[acceptance]]\nkind = "domain_holder_mismatch"\nseverity = "error"\nzh = "x"\n'
     'en = "x"\nas_of = 2026-01-01\n', "acceptance[20].source", "required", 0),
])
def test_a_bad_acceptance_rule_names_file_line_and_key(tmp_path: Path, entry: str, key: str,
                                                        text: str, below: int) -> None:
    path = _broken_rules(tmp_path, entry)
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    header = len(path.read_text("utf-8").splitlines()) - entry.count("\n") + 2 + below
    [problem] = caught.value.problems
    assert problem.path == key and text in problem.message.lower()
    assert f"line {header}" in problem.message and str(path) in caught.value.message
    result = run_cli(*["check", "--rules", str(path), str(EXAMPLES / "jiangxi-personal.json")])
    assert result.code == 2 and key in result.stderr and "line " in result.stderr


@pytest.mark.parametrize("template", ["{nonsense}", "{domain:999999999}", "{domain!r}",
                                      "{domain.__class__}", "{domain", "{}"])
def test_a_rule_with_a_placeholder_its_kind_does_not_fill(tmp_path: Path,
                                                          template: str) -> None:
    entry = ('\n[[acceptance]]\nkind = "domain_holder_mismatch"\nseverity = "error"\n'
             f'zh = "{template}"\nen = "x"\nsource = "doc: x"\nas_of = 2026-01-01\n')
    with pytest.raises(RulesError, match="inconsistent") as caught:
        parse_rules(_broken_rules(tmp_path, entry).read_bytes(), origin="x")
    assert caught.value.problems[0].path == "acceptance[20].zh"


# --- where the rules run ----------------------------------------------------------------------

def test_check_cli_json_gives_warnings_and_errors_the_same_shape(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps(edit(personal(), "websites[0].name", "张三的教育笔记"),
                               ensure_ascii=False), "utf-8")
    result = run_cli(*["check", "--json", str(path)])
    assert result.code == 0, result.stderr
    [warning] = json.loads(result.text)["warnings"]
    assert warning["severity"] == "warning" and warning["code"] == "preapproval_keyword"
    assert set(warning) == {"path", "code", "message", "severity"}
    assert "preapproval_keyword" in result.stderr
    path.write_text(json.dumps(edit(personal(), "host.certificate.valid_until", "2027-01-01"),
                               ensure_ascii=False), "utf-8")
    result = run_cli(*["check", "--json", "--date", "2026-12-07", str(path)])
    assert result.code == 3
    [error] = json.loads(result.text)["errors"]
    assert error["severity"] == "error" and error["code"] == "certificate_expiring"
    assert set(error) == set(warning)
    # The same record a year earlier: the certificate still has over 3 months.
    assert run_cli(*["check", "--date", "2025-12-07", str(path)]).code == 0


def test_the_date_comes_from_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1796601600")  # 2026-12-07 UTC
    assert filing_date() == TODAY
    assert filing_date(date(2020, 1, 1)) == date(2020, 1, 1)


def test_a_bad_date_is_a_usage_error() -> None:
    result = run_cli(*["check", "--date", "2026-13-01", str(EXAMPLES / "jiangxi-personal.json")])
    assert result.code == 2 and "--date" in result.stderr


def test_fill_fails_on_an_acceptance_error(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps(edit(personal(), "websites[0].name", "中国技术笔记"),
                               ensure_ascii=False), "utf-8")
    result = run_cli(*["fill", str(path), "-o", str(tmp_path / "a.pdf")])
    assert result.code == 3 and "website_name_reserved" in result.stderr
    assert not (tmp_path / "a.pdf").exists()


def test_the_library_check_returns_warnings_and_load_refuses_errors() -> None:
    [warning] = sheetgen.check(edit(personal(), "websites[0].name", "张三的教育笔记"))
    assert isinstance(warning, Problem) and warning.severity == "warning"
    with pytest.raises(InvalidDataError) as caught:
        sheetgen.load(edit(personal(), "host.certificate.valid_until", "2027-01-01"),
                      filing_date=TODAY)
    assert [p.code for p in caught.value.problems] == ["certificate_expiring"]
    assert sheetgen.check(personal(), filing_date=TODAY) == []


def test_sheetgen_rules_lists_the_acceptance_rules_of_hunan() -> None:
    result = run_cli(*["rules", "湘"])
    assert result.code == 0
    for code in ("applicant_under_18", "too_many_domains", "legal_representative_letter",
                 "certificate_expiring", "contact_shared"):
        assert code in result.text
    assert "certificate_not_local" not in result.text  # not a Hunan rule
    assert "UCloud province rules 2024-04-01" in result.text
    facts = json.loads(run_cli(*["rules", "湘", "--json"]).text)
    limits = [r for r in facts["acceptance"] if r["kind"] == "too_many_domains"]
    assert [r["per_filing"] for r in limits] == [1]
    assert all(r["source"] and r["as_of"] for r in facts["acceptance"])


def test_the_spreadsheet_template_has_the_new_columns() -> None:
    from sheetgen.documents.template import template_csv

    header = template_csv().decode("utf-8-sig").splitlines()[0]
    for column in ("主办者证件有效期至", "居住证省份", "法定代表人姓名", "法定代表人证件号码",
                   "网站负责人证件有效期至"):
        assert column in header


def test_the_spreadsheet_reader_places_acceptance_problems_by_row_and_column(
        tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    header = ("省份,备案类型,主办单位性质,网站主办者名称,主办者证件类型,证件号码,通信地址,"
              "网站名称,网站域名,网站负责人手机,网站负责人邮箱,主办者证件有效期至")
    row = (f"江西,新增备案,个人,张三,居民身份证,{ID_JX},江西省南昌市某某路 1 号,张三的技术笔记,"
           "example.cn,13800000000,zs@example.cn,2027-01-01")
    path.write_text(header + "\n" + row + "\n", "utf-8")
    result = run_cli(*["check", "--json", "--date", "2026-12-07", str(path)])
    assert result.code == 3, result.text
    [record] = json.loads(result.text)["records"]
    [error] = record["errors"]
    assert error["code"] == "certificate_expiring" and error["row"] == 2
    assert error["column"] == "主办者证件有效期至"


def test_a_batch_of_two_applicants_sharing_a_mobile_flags_both(tmp_path: Path) -> None:
    import multiprocessing

    from sheetgen.batch import BatchOptions, run_batch
    from sheetgen.documents.jobs import RenderOptions

    first = edit(personal(), "ref", "A-1")
    second = person(edit(personal(), "ref", "B-2"), "李四", make_id("360426", date(1990, 5, 1)))
    second = edit(second, "websites[0].manager.email", "ls@example.cn")
    minor = edit(edit(personal(), "ref", "C-3"), "websites[0].name", "中国技术笔记")
    minor = edit(minor, "websites[0].manager.mobile", "13700000000")
    source = tmp_path / "run.json"
    source.write_text(json.dumps([first, second, minor], ensure_ascii=False), "utf-8")
    result = run_batch([str(source)], BatchOptions(
        outdir=tmp_path / "out", jobs=1, render=RenderOptions(cover=False, qr=False),
        filing_date=TODAY), mp_context=multiprocessing.get_context("fork"))
    a, b, c = result.records
    assert a.ok and b.ok and not c.ok
    [wa], [wb] = a.warnings, b.warnings
    assert (wa.code, wb.code) == ("contact_shared", "contact_shared")
    assert "B-2" in wa.message and "A-1" in wb.message
    assert [p.code for p in c.errors] == ["website_name_reserved"]
    manifest = result.manifest()["records"]
    assert manifest[0]["warnings"][0]["severity"] == "warning"
    assert manifest[2]["errors"][0]["severity"] == "error"


def test_serve_check_returns_warnings_with_the_errors_in_one_shape() -> None:
    from fastapi.testclient import TestClient

    from sheetgen.serve.app import create_app
    from sheetgen.serve.config import ServeConfig

    def post(data: dict[str, Any]) -> Any:
        return client.post("/api/v1/check", content=json.dumps(data, ensure_ascii=False),
                           headers={"content-type": "application/json"})

    with TestClient(create_app(ServeConfig(workers=1)), raise_server_exceptions=False) as client:
        warned = post(edit(personal(), "websites[0].name", "张三的教育笔记"))
        assert warned.status_code == 200, warned.text
        [warning] = warned.json()["problems"]
        assert warned.json()["ok"] is True
        assert warning["severity"] == "warning" and warning["path"] == "websites[0].name"
        refused = post(edit(edit(personal(), "websites[0].name", "中国教育笔记"), "ref", "X"))
        assert refused.status_code == 422
        assert {(p["code"], p["severity"]) for p in refused.json()["problems"]} == {
            ("website_name_reserved", "error"), ("preapproval_keyword", "warning")}


def test_a_spreadsheet_of_two_applicants_sharing_a_mobile_flags_both_rows(
        tmp_path: Path) -> None:
    other = make_id("360426", date(1990, 5, 1))
    path = tmp_path / "s.csv"
    header = ("编号,省份,备案类型,主办单位性质,网站主办者名称,主办者证件类型,证件号码,通信地址,"
              "网站名称,网站域名,网站负责人手机,网站负责人邮箱")
    rows = [f"A-1,江西,新增备案,个人,张三,居民身份证,{ID_JX},江西省南昌市某某路 1 号,"
            "张三的技术笔记,example.cn,13800000000,zs@example.cn",
            f"B-2,江西,新增备案,个人,李四,居民身份证,{other},江西省南昌市某某路 2 号,"
            "李四的技术笔记,example2.cn,13800000000,ls@example.cn"]
    path.write_text("\n".join([header, *rows]) + "\n", "utf-8")
    result = run_cli(*["check", "--json", str(path)])
    assert result.code == 0, result.text
    first, second = json.loads(result.text)["records"]
    [a], [b] = first["warnings"], second["warnings"]
    assert (a["code"], a["row"], a["column"]) == ("contact_shared", 2, "网站负责人手机")
    assert (b["code"], b["row"]) == ("contact_shared", 3)
    assert "B-2" in a["message"] and "A-1" in b["message"]


def test_every_sample_of_sheetgen_example_passes_the_acceptance_rules() -> None:
    from sheetgen.documents.example import make_example
    from sheetgen.vocabulary import Nature

    for province in RULES.provinces:
        for nature in Nature:
            applicant = parse_applicant(make_example(RULES, province.key, nature.code), RULES)
            errors = [p for p in preflight(applicant, RULES, TODAY) if p.severity == "error"]
            assert not errors, (province.key, nature.code, errors)


def test_a_spreadsheet_gives_each_domains_holder(tmp_path: Path) -> None:
    from sheetgen.sources.spreadsheet import rows_of

    path = tmp_path / "s.csv"
    header = ("省份,备案类型,主办单位性质,网站主办者名称,主办者证件类型,证件号码,通信地址,"
              "网站名称,网站域名,网站负责人手机,网站负责人邮箱,域名实名持有人")
    row = (f"江西,新增备案,个人,张三,居民身份证,{ID_JX},江西省南昌市某某路 1 号,张三的技术笔记,"
           '"example.cn; example2.cn",13800000000,zs@example.cn,"-; 李四"')
    path.write_text(header + "\n" + row + "\n", "utf-8")
    result = run_cli(*["check", "--json", str(path)])
    assert result.code == 3, result.text
    [record] = json.loads(result.text)["records"]
    [error] = record["errors"]
    assert (error["code"], error["path"]) == ("domain_holder_mismatch",
                                              "websites[0].domains[1].holder")
    assert (error["row"], error["column"]) == (2, "域名实名持有人")
    data = edit(personal(), "websites[0].domains", ["example.cn", {"name": "example2.cn",
                                                                   "holder": "李四"}])
    [flat] = rows_of(data)
    assert flat["website.domain_holders"] == "-; 李四"
