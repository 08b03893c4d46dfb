"""The data commands as a user runs them: check, schema, example, rules (exit codes, streams).

Most cases run the CLI in-process (``run_cli``: the same entry point and streams, much
faster); a representative few run it as a subprocess, exactly as a user or script would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sheetgen.resources import rules_file
from tests.applicants import DELETE, SECRET, edit, personal, unit
from tests.conftest import EXAMPLES, REPO, run_cli

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def test_there_are_examples() -> None:
    assert len(EXAMPLE_FILES) >= 5


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_check_examples(path: Path) -> None:
    result = run_cli("check", str(path))
    assert result.code == 0, result.stderr
    assert result.stdout == b""
    assert f"sheetgen: ok: {path}: valid (" in result.stderr


def test_check_stdin_and_json() -> None:
    result = run_cli("check", "-", "--json", stdin=_json(unit()))
    assert result.code == 0
    assert json.loads(result.text) == {"ok": True, "source": "<stdin>", "problems": [],
                                       "errors": [], "warnings": [], "websites": 1,
                                       "variant": "public"}


FIVE_MISTAKES = [
    ("host.certificate.number", "360426199101010072", "ric_checksum"),
    ("websites[0].manager.mobile", "12345", "mobile_format"),
    ("websites[0].domains[0]", "www.example.cn", "domain_www"),
    ("websites[0].filing_number", "粤ICP备2024012345号-1", "filing_number_province"),
    ("websites[0].manager.emial", "zs@example.cn", "unknown_key"),
]


def _five_mistakes() -> dict[str, Any]:
    data = personal()
    for path, value, _ in FIVE_MISTAKES:
        data = edit(data, path, value)
    return data


def test_check_reports_all_five_mistakes_with_paths() -> None:
    result = run_cli("check", "-", stdin=_json(_five_mistakes()))
    assert result.code == 3
    assert result.stdout == b""
    assert "sheetgen: error: <stdin>: invalid applicant data (5 problems)" in result.stderr
    for path, _, code in FIVE_MISTAKES:
        assert f"  {path}: " in result.stderr and f"[{code}]" in result.stderr, path
    assert "**************0072" in result.stderr and "360426199101010072" not in result.stderr
    assert "Traceback" not in result.stderr


def test_check_json_reports_all_five() -> None:
    result = run_cli("check", "-", "--json", stdin=_json(_five_mistakes()))
    assert result.code == 3
    report = json.loads(result.text)
    assert report["ok"] is False and report["websites"] == 0 and report["variant"] is None
    assert sorted((e["path"], e["code"]) for e in report["errors"]) == sorted(
        (path, code) for path, _, code in FIVE_MISTAKES)
    assert all(set(e) == {"path", "code", "message", "severity"} for e in report["errors"])


def test_check_array_reports_per_record(tmp_path: Path) -> None:
    path = tmp_path / "batch.json"
    path.write_bytes(_json([personal(), edit(unit(), "host.principal", DELETE), 7]))
    human = run_cli("check", str(path))
    assert human.code == 3
    assert "2 of 3 records" in human.stderr
    assert "[1].host.principal:" in human.stderr and "[2]: " in human.stderr
    report = json.loads(run_cli("check", str(path), "--json").text)
    assert report["ok"] is False
    assert [(r["index"], r["ok"]) for r in report["records"]] == [(0, True), (1, False),
                                                                  (2, False)]
    good = run_cli("check", "-", stdin=_json([personal(), unit()]))
    assert good.code == 0 and "valid (2 records, 2 websites)" in good.stderr


BAD_INPUTS = [
    ("garbage", bytes(range(256)) * 4, "not_utf8"),
    ("empty", b"", "not_json"),
    ("empty array", b"[]", "no_records"),
    ("string", b'"x"', "not_an_object"),
    ("number", b"42", "not_an_object"),
    ("deep", b"[" * 100_000, "too_deep"),
    ("truncated", b'{"province": "\xe6\xb1\x9f', "not_json"),
    ("duplicate", b'{"province": "a", "province": "b"}', "duplicate_key"),
    ("nan", b'{"x": NaN}', "not_json"),
    ("utf-16", '{"province": "江西"}'.encode("utf-16"), "not_utf8"),
]


@pytest.mark.parametrize(("case", "data", "code"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_check_bad_input(case: str, data: bytes, code: str) -> None:
    result = run_cli("check", "-", stdin=data, subprocess=True)
    assert result.code == 3
    assert result.stderr.startswith("sheetgen: error: <stdin>: ")
    assert f"[{code}]" in result.stderr
    assert "Traceback" not in result.stderr
    as_json = run_cli("check", "-", "--json", stdin=data)
    assert as_json.code == 3
    assert json.loads(as_json.text)["errors"][0]["code"] == code


def test_check_too_large_file(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    with path.open("wb") as stream:
        stream.write(b'{"host": "')
        stream.write(b"x" * 50 * 1024 * 1024)
        stream.write(b'"}')
    result = run_cli("check", str(path))
    assert result.code == 3 and "[too_large]" in result.stderr and "5 MiB" in result.stderr


@pytest.mark.parametrize(("arg", "fragment"), [("missing.json", "no such file"),
                                               (".", "is a directory")])
def test_check_usage_errors(tmp_path: Path, arg: str, fragment: str) -> None:
    result = run_cli("check", str(tmp_path / arg))
    assert result.code == 2 and fragment in result.stderr


@pytest.mark.parametrize("password", [SECRET, {"nested": SECRET}, [SECRET, SECRET], 5, None])
@pytest.mark.parametrize("valid", [True, False])
def test_check_never_prints_the_password(password: Any, valid: bool) -> None:
    data = edit(personal(), "access.filing_password", password)
    if not valid:
        data = edit(data, "websites[0].manager.mobile", "12")
    for args in (("check", "-"), ("check", "-", "--json")):
        result = run_cli(*args, stdin=_json(data))
        assert SECRET not in result.text and SECRET not in result.stderr
        assert result.code in (0, 3)


def test_check_with_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(rules_file().read_text("utf-8").replace('name = "江西"', 'name = "江西'),
                    "utf-8")
    result = run_cli("check", "-", "--rules", str(path), stdin=_json(personal()))
    assert result.code == 2
    assert f"rules file {path}: TOML syntax error" in result.stderr and "line" in result.stderr
    missing = run_cli("check", "-", "--rules", str(tmp_path / "none.toml"), stdin=b"{}")
    assert missing.code == 2 and "no such file" in missing.stderr


def test_schema() -> None:
    result = run_cli("schema")
    assert result.code == 0
    schema = json.loads(result.text)
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["properties"]["province"]["enum"]


@pytest.mark.parametrize(("province", "nature"), [
    ("江西", "personal"), ("粤", "企业"), ("beijing", "enterprise"), ("新疆维吾尔自治区", "个人"),
    ("四川", "institution"), ("黔", "law_firm"), ("Tibet", "foundation")])
def test_example_passes_check(province: str, nature: str) -> None:
    made = run_cli("example", "--province", province, "--nature", nature)
    assert made.code == 0, made.stderr
    data = json.loads(made.text)
    assert run_cli("check", "-", stdin=made.stdout).code == 0
    assert data["host"]["nature"] in (nature, {"企业": "enterprise", "个人": "personal"}[nature]
                                      if nature in ("企业", "个人") else nature)


def test_example_default_is_jiangxi_personal() -> None:
    data = json.loads(run_cli("example").text)
    assert data["province"] == "江西" and data["host"]["nature"] == "personal"


@pytest.mark.parametrize("args", [("--province", "火星"), ("--nature", "alien")])
def test_example_usage_errors(args: tuple[str, str]) -> None:
    result = run_cli("example", *args)
    assert result.code == 2 and "sheetgen: error: unknown" in result.stderr


@pytest.mark.parametrize("name", ["江西", "江西省", "赣", "jiangxi", "JIANGXI"])
def test_rules_province_any_form(name: str) -> None:
    result = run_cli("rules", name)
    assert result.code == 0
    assert "江西" in result.text and "按手印处" in result.text
    assert "portal:       beian.miit.gov.cn" in result.text and "valid 24 h" in result.text
    assert "12381" in result.text and "as of 2026-12-07" in result.text
    old = run_cli("rules", name, "--edition", "2018")
    assert old.code == 0 and "jx.beian.miit.gov.cn" in old.text and "valid 48 h" in old.text


@pytest.mark.parametrize(("name", "edition", "facts"), [
    ("粤", "2025", {"key": "guangdong", "variant.name": "guangdong", "commitment": True,
                   "fingerprint.personal": False}),
    ("赣", "2025", {"sms.portal": "beian.miit.gov.cn", "sms.valid_hours": 24,
                   "sms.mandatory_since": "2020-08-17", "rules_as_of": "2026-12-07"}),
    ("蜀", "2018", {"key": "sichuan", "sms.pilot": True, "sms.pilot_since": "2018-09-10"}),
    ("津", "2018", {"sms.pilot": True, "sms.pilot_since": "2017-12-18 09:00"}),
    ("北京市", "2025", {"key": "beijing", "registrar_required": True, "sms.pilot": False,
                      "sms.required": True, "sms.pilot_since": None}),
    ("北京市", "2018", {"sms.pilot": False, "sms.required": False}),
    ("hainan", "2018", {"key": "hainan", "sms.portal_code": "hn", "sms.portal_note": None}),
    ("内蒙古自治区", "2018", {
        "key": "neimenggu",
        "sms.portal": "nm.beian.miit.gov.cn/state/outPortal/loginPortal.action"}),
])
def test_rules_json(name: str, edition: str, facts: dict[str, Any]) -> None:
    result = run_cli("rules", name, "--json", "--edition", edition)
    assert result.code == 0
    data = json.loads(result.text)
    for dotted, expected in facts.items():
        value = data
        for key in dotted.split("."):
            value = value[key]
        assert value == expected, dotted
    assert data["seal"]["no_seal_text"] == "个体工商户无公章"


def test_rules_lists_every_province() -> None:
    result = run_cli("rules")
    header, *lines = result.text.splitlines()
    assert result.code == 0 and len(lines) == 31
    assert header.startswith("rules edition 2025 ") and "as of 2026-12-07" in header
    listing = json.loads(run_cli("rules", "--json").text)
    assert len(listing["provinces"]) == 31 and listing["origin"] == "built-in"


def test_rules_unknown_province() -> None:
    result = run_cli("rules", "火星")
    assert result.code == 2 and "unknown province" in result.stderr and result.stdout == b""


def test_commands_are_documented_in_help() -> None:
    text = run_cli("--help", subprocess=True).text
    for command in ("check", "schema", "example", "rules"):
        assert command in text
    assert (REPO / "examples" / "README.md").is_file()


@pytest.mark.parametrize("data", [bytes(range(256)), b"[" * 100_000, b"[]", b"\xef\xbb\xbf"],
                         ids=["garbage", "deep", "empty-array", "bom-only"])
def test_bad_input_in_a_real_process(data: bytes) -> None:
    result = run_cli("check", "-", stdin=data)
    assert result.code == 3 and result.stderr.startswith("sheetgen: error: <stdin>: ")
    assert "Traceback" not in result.stderr


def test_rules_of_gansu_show_its_backdrop_rule_and_the_domain_screenshot() -> None:
    result = run_cli("rules", "甘肃")
    assert result.code == 0
    assert "共同营造 健康诚信 网络环境" in result.text
    assert "real-name record" in result.text and "more than 5 wrong entries" in result.text
    assert "变更接入、注销网站和取消接入不发送验证码" in result.text
    assert "also mandatory_since 2020-08-16" in result.text
    assert "共同营造" not in run_cli("rules", "江西").text
