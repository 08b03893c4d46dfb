"""The rules data (sheetgen/rules.toml) and its loader: contents, lookups, validation on load."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sheetgen.errors import RulesError, UsageError
from sheetgen.resources import rules_file
from sheetgen.rules import FLAGS, Rules, load_rules, parse_rules
from sheetgen.vocabulary import Nature

RULES = load_rules()
TEXT = rules_file().read_text("utf-8")
DOMAIN_COMMITMENT = (
    "本人已履行网站备案信息当面核验手续，承认网站备案信息和核验记录真实有效，承诺本网站是个人网站，"
    "未含企业、单位等非个人网站的信息，承诺网站备案信息一旦发生变更，将及时进行更新，填报虚假备案信息、"
    "未履行备案变更手续、超出备案项目提供服务的，愿承担关闭网站并注销备案（列黑名单）等相应处理。")
PILOTS = {"天津", "甘肃", "西藏", "宁夏", "海南", "新疆", "青海", "山西", "内蒙古", "黑龙江",
          "浙江", "安徽", "福建", "山东", "河南", "湖北", "湖南", "广西", "重庆", "四川", "陕西",
          "云南"}
PORTAL_CODES = {"北京": "bj", "天津": "tj", "河北": "he", "山西": "sx", "内蒙古": "nm",
                "辽宁": "ln", "吉林": "jl", "黑龙江": "hl", "上海": "sh", "江苏": "js",
                "浙江": "zj", "安徽": "ah", "福建": "fj", "江西": "jx", "山东": "sd",
                "河南": "ha", "湖北": "hb", "湖南": "hn", "广东": "gd", "广西": "gx",
                "海南": "hn", "重庆": "cq", "四川": "sc", "贵州": "gz", "云南": "yn",
                "西藏": "xz", "陕西": "sn", "甘肃": "gs", "青海": "qh", "宁夏": "nx",
                "新疆": "xj"}
ICP_ABBREVIATIONS = ["京", "津", "冀", "晋", "蒙", "辽", "吉", "黑", "沪", "苏", "浙", "皖", "闽",
                     "赣", "鲁", "豫", "鄂", "湘", "粤", "桂", "琼", "渝", "藏", "陕", "青", "宁",
                     "新", "蜀", "川", "黔", "贵", "滇", "云", "陇", "甘"]


def test_builtin_rules_load() -> None:
    assert len(RULES.provinces) == 31
    assert RULES.origin == "built-in"
    assert re.fullmatch(r"[0-9a-f]{16}", RULES.version)
    assert load_rules() is RULES  # parsed once per process


@pytest.mark.parametrize("province", RULES.provinces, ids=lambda p: p.key)
def test_every_province_resolves_by_every_name_form_and_has_a_portal(province: Any) -> None:
    forms = [province.name, province.full_name, *province.abbreviations, province.pinyin,
             province.pinyin.upper(), province.pinyin.title(), f"  {province.name} ",
             *province.aliases]
    for form in forms:
        assert RULES.resolve_province(form) is province, form
    assert province.portal.startswith(f"{province.portal_code}.beian.miit.gov.cn/state/outPortal/")
    assert province.portal_code == PORTAL_CODES[province.name]
    assert province.variant in RULES.variants


@pytest.mark.parametrize(("name", "key"), [
    ("江西", "jiangxi"), ("江西省", "jiangxi"), ("赣", "jiangxi"), ("jiangxi", "jiangxi"),
    ("JiangXi", "jiangxi"), ("ＪＩＡＮＧＸＩ", "jiangxi"),
    ("蜀", "sichuan"), ("川", "sichuan"), ("黔", "guizhou"), ("贵", "guizhou"),
    ("滇", "yunnan"), ("云", "yunnan"), ("陇", "gansu"), ("甘", "gansu"),
    ("广西壮族自治区", "guangxi"), ("内蒙古自治区", "neimenggu"), ("新疆维吾尔自治区", "xinjiang"),
    ("宁夏回族自治区", "ningxia"), ("西藏自治区", "xizang"), ("北京市", "beijing"),
    ("neimenggu", "neimenggu"), ("Inner Mongolia", "neimenggu"), ("tibet", "xizang"),
    ("shaanxi", "shaanxi"), ("shanxi", "shanxi"), ("陕", "shaanxi"), ("晋", "shanxi"),
    ("粤", "guangdong"), ("琼", "hainan"), ("湘", "hunan"), ("蒙", "neimenggu"),
])
def test_resolve_province(name: str, key: str) -> None:
    assert RULES.resolve_province(name).key == key


@pytest.mark.parametrize("name", ["", "江", "广东省省", "台湾", "香港", "xx", "shan xi x"])
def test_unknown_province(name: str) -> None:
    with pytest.raises(UsageError) as info:
        RULES.resolve_province(name)
    assert "unknown province" in info.value.message
    assert "jiangxi" in (info.value.hint or "")


def test_icp_abbreviations_are_the_domain_list() -> None:
    assert sorted(a for p in RULES.provinces for a in p.abbreviations) == sorted(ICP_ABBREVIATIONS)
    for abbreviation in ICP_ABBREVIATIONS:
        assert RULES.province_of_abbreviation(abbreviation) is not None
    assert [RULES.resolve_province(n).icp_abbreviation for n in ("四川", "贵州", "云南", "甘肃")] \
        == ["蜀", "黔", "滇", "陇"]


def test_gbt2260_codes_and_sample_regions() -> None:
    from sheetgen.identifiers import region_exists

    assert len({p.code for p in RULES.provinces}) == 31
    for p in RULES.provinces:
        assert p.sample_region.startswith(p.code)
        assert region_exists(p.sample_region), p.key


def test_login_portal_provinces() -> None:
    login = {p.name for p in RULES.provinces if p.portal.endswith("loginPortal.action")}
    assert login == {"内蒙古", "安徽", "福建", "山东", "河南", "湖南"}


def test_hainan_hunan_conflict_is_kept_and_visible() -> None:
    hainan, hunan = RULES.resolve_province("海南"), RULES.resolve_province("湖南")
    assert hainan.portal_code == hunan.portal_code == "hn"
    assert hainan.portal_note and hunan.portal_note
    assert "conflict" in hainan.source and "conflict" in hunan.source


def test_sms_pilot_list() -> None:
    assert {p.name for p in RULES.provinces if RULES.sms_pilot(p)} == PILOTS
    assert RULES.sms.pilot_since.isoformat(sep=" ") == "2017-12-18 09:00:00"
    assert RULES.sms.mandatory_since == "2020-08"
    assert (RULES.sms.code_digits, RULES.sms.valid_hours) == (6, 48)
    assert "485号" in RULES.sms.notice
    assert [(c.name, c.number) for c in RULES.sms.carriers] == [
        ("中国电信", "106598051001"), ("中国联通", "10655113"), ("中国移动", "106575000130")]


@pytest.mark.parametrize(("province", "nature", "fingerprint"), [
    ("江西", Nature.PERSONAL, True), ("江西", Nature.ENTERPRISE, False),
    ("新疆", Nature.PERSONAL, False), ("广东", Nature.PERSONAL, False)])
def test_fingerprint_rule(province: str, nature: Nature, fingerprint: bool) -> None:
    assert RULES.needs_fingerprint(RULES.resolve_province(province), nature) is fingerprint


def test_variants() -> None:
    assert {p.key for p in RULES.provinces if p.variant == "guangdong"} == {"guangdong"}
    assert RULES.variants["public"].templates.model_dump() == {"unit": "public/sheet",
                                                                "personal": "public/sheet"}
    assert RULES.variants["guangdong"].templates.model_dump() == {
        "unit": "guangdong/unit", "personal": "guangdong/personal"}
    assert RULES.variants["guangdong"].personal_commitment
    assert not RULES.variants["public"].personal_commitment


def test_registrar_only_in_beijing() -> None:
    assert [p.key for p in RULES.provinces if RULES.registrar_required(p)] == ["beijing"]


def test_seal_and_commitment_texts() -> None:
    assert RULES.seal.no_seal_text == "个体工商户无公章"
    assert RULES.seal.label == "单位公章"
    assert "合同专用章" in RULES.seal.not_accepted
    assert RULES.commitment.text == DOMAIN_COMMITMENT


@pytest.mark.parametrize(("name", "canonical", "holder"), [
    ("居民身份证", "居民身份证", "person"), ("身份证", "居民身份证", "person"),
    ("resident_id", "居民身份证", "person"), ("护照", "护照", "person"),
    ("港澳居民来往内地通行证", "港澳居民来往内地通行证", "person"),
    ("台湾居民来往大陆通行证", "台湾居民来往大陆通行证", "person"),
    ("外国人永久居留身份证", "外国人永久居留身份证", "person"),
    ("港澳居民居住证", "港澳居民居住证", "person"), ("台湾居民居住证", "台湾居民居住证", "person"),
    ("营业执照", "营业执照", "unit"), ("统一社会信用代码证书", "统一社会信用代码证书", "unit"),
    ("组织机构代码证", "组织机构代码证", "unit"), ("事业单位法人证书", "事业单位法人证书", "unit"),
    ("社会团体法人登记证书", "社会团体法人登记证书", "unit"),
    ("民办非企业单位登记证书", "民办非企业单位登记证书", "unit"),
    ("基金会法人登记证书", "基金会法人登记证书", "unit"),
    ("律师事务所执业许可证", "律师事务所执业许可证", "unit"),
])
def test_certificate_types(name: str, canonical: str, holder: str) -> None:
    cert = RULES.certificate(name)
    assert cert is not None and (cert.name, cert.holder) == (canonical, holder)


@pytest.mark.parametrize("nature", list(Nature), ids=str)
def test_every_nature_has_a_certificate(nature: Nature) -> None:
    certs = RULES.certificates_for(nature)
    assert certs and all((c.holder == "unit") is nature.unit for c in certs)


def _entries(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every entry of the raw rules file that must carry source and as_of."""
    out = [(name, data[name]) for name in ("fingerprint", "registrar", "seal", "sms",
                                           "commitment")]
    out += [(f"variants.{k}", v) for k, v in data["variants"].items()]
    for section in ("provinces", "materials", "signing", "backdrop", "notices", "certificates"):
        out += [(f"{section}[{i}]", entry) for i, entry in enumerate(data[section])]
    return out


@pytest.mark.parametrize(("where", "entry"), _entries(tomllib.loads(TEXT)),
                         ids=lambda x: x if isinstance(x, str) else "")
def test_every_entry_has_source_and_as_of(where: str, entry: dict[str, Any]) -> None:
    assert re.match(r"(seed|doc|recon): \S", entry["source"]), where
    assert isinstance(entry["as_of"], date), where


def test_conditions_use_known_flags() -> None:
    for item in (*RULES.materials, *RULES.signing, *RULES.notices):
        assert set(item.when) <= set(FLAGS)


# --- a broken --rules file is a RulesError naming the file and the problem --------------------

def _variant(old: str, new: str, count: int = 1) -> str:
    assert TEXT.count(old) >= count, old
    return TEXT.replace(old, new, count)


def _drop_province(key: str) -> str:
    start = TEXT.index(f'[[provinces]]\nkey = "{key}"')
    return TEXT[:start] + TEXT[TEXT.index("[[provinces]]", start + 1):]


BROKEN = [
    ("syntax", _variant('name = "江西"', 'name = "江西'), "line"),
    ("thirty provinces", _drop_province("hebei"), "31"),
    ("duplicate abbreviation", _variant('abbreviations = ["赣"]', 'abbreviations = ["湘"]'),
     "also used by"),
    ("duplicate pinyin", _variant('pinyin = "hebei"', 'pinyin = "henan"'), "also used by"),
    ("unknown fingerprint key", _variant('provinces = ["jiangxi"]', 'provinces = ["jiangxy"]'),
     "jiangxy"),
    ("unknown pilot key", _variant('"tianjin", "gansu"', '"tianjin", "gansuu"'), "gansuu"),
    ("empty commitment", re.sub(r'(\[commitment\]\ntext = )".*?"', r'\1"  "', TEXT), "commitment"),
    ("unknown key", _variant('[seal]\n', '[seal]\ncolour = "red"\n'), "colour"),
    ("missing source", _variant('source = "seed: 七', 'sauce = "seed: 七'), "source"),
    ("bad source kind", _variant('source = "seed: 七', 'source = "blog: 七'), "source"),
    ("bad as_of", _variant("as_of = 2026-11-29\n\n# --- provinces",
                           'as_of = "soon"\n\n# --- provinces'), "as_of"),
    ("unknown flag", _variant('when = ["unit"]', 'when = ["units"]'), "when"),
    ("shared portal without note", re.sub(r'portal_note = "来源资料中海南.*\n', "", TEXT, count=1),
     "portal_note"),
    ("unknown variant", _variant('variant = "guangdong"', 'variant = "canton"'), "canton"),
    ("nature without certificate",
     _variant('"foundation", "law_firm", "defense"', '"foundation", "defense"', 2)
     .replace('natures = ["law_firm", "other"]', 'natures = ["other"]'), "law_firm"),
    ("person certificate with natures",
     _variant('holder = "person"\nnumber = "other"', 'holder = "person"\nnumber = "other"\n'
              'natures = ["enterprise"]'), "natures"),
]


@pytest.mark.parametrize(("case", "text", "fragment"), BROKEN, ids=[c[0] for c in BROKEN])
def test_broken_rules_file(tmp_path: Path, case: str, text: str, fragment: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(RulesError) as info:
        load_rules(path)
    report = info.value.message + " ".join(f"{p.path} {p.message}" for p in info.value.problems)
    assert str(path) in info.value.message
    assert fragment in report, report


@pytest.mark.parametrize(("content", "fragment"), [
    (None, "no such file"), (b"\xff\xfe", "not UTF-8"), (b"", "invalid")])
def test_unreadable_rules_file(tmp_path: Path, content: bytes | None, fragment: str) -> None:
    path = tmp_path / "rules.toml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RulesError, match=fragment):
        load_rules(path)


def test_rules_directory(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="directory"):
        load_rules(tmp_path)


def test_a_province_joins_a_rule_without_code(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(_variant('provinces = ["jiangxi"]', 'provinces = ["jiangxi", "xinjiang"]'),
                    "utf-8")
    rules = load_rules(path)
    assert rules.needs_fingerprint(rules.resolve_province("新"), Nature.PERSONAL)
    assert rules.origin == str(path)
    assert rules.version != RULES.version


def test_parse_rules_from_bytes() -> None:
    rules = parse_rules(TEXT.encode(), origin="memory")
    assert isinstance(rules, Rules) and rules.origin == "memory"
    assert rules.version == RULES.version


def test_a_variant_of_a_rules_file_can_be_chosen(tmp_path: Path) -> None:
    """--variant takes the variants of the rules in use, not a fixed list (fill and batch)."""
    import json

    from tests.conftest import EXAMPLES, run_cli

    path = tmp_path / "rules.toml"
    path.write_text(_variant("[variants.guangdong]", (
        '[variants.island]\nlabel = "海岛版本"\npersonal_commitment = false\n'
        'templates = { unit = "public/sheet", personal = "public/sheet" }\n'
        'source = "seed: a test variant"\nas_of = 2026-01-01\n\n[variants.guangdong]')), "utf-8")
    assert load_rules(path).check_variant("island") == "island"
    with pytest.raises(UsageError) as info:
        RULES.check_variant("island")
    assert info.value.hint == "use one of: auto, public, guangdong"
    example = str(EXAMPLES / "jiangxi-personal.json")
    for args in (["fill", example, "-o", str(tmp_path / "x.pdf"), "--json"],
                 ["batch", example, "-o", str(tmp_path / "out"), "--jobs", "1", "--json"]):
        result = run_cli(*args, "--rules", str(path), "--variant", "island")
        assert result.code == 0, result.stderr
        report = json.loads(result.text)
        assert (report.get("records") or [report])[0]["variant"] == "island"
