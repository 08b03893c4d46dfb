"""The rules data (sheetgen/rules/*.toml, one file per dated edition) and its loader: contents,
lookups, editions, validation on load."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sheetgen.errors import RulesError, UsageError
from sheetgen.resources import rules_file
from sheetgen.rules import DEFAULT_EDITION, EDITIONS, FLAGS, Rules, load_rules, parse_rules
from sheetgen.vocabulary import Nature

RULES = load_rules()
R2018 = load_rules(edition="2018")
TEXT = rules_file().read_text("utf-8")
TEXT_2018 = rules_file("rules-2018.toml").read_text("utf-8")
DOMAIN_COMMITMENT = (
    "本人已履行网站备案信息当面核验手续，承认网站备案信息和核验记录真实有效，承诺本网站是个人网站，"
    "未含企业、单位等非个人网站的信息，承诺网站备案信息一旦发生变更，将及时进行更新，填报虚假备案信息、"
    "未履行备案变更手续、超出备案项目提供服务的，愿承担关闭网站并注销备案（列黑名单）等相应处理。")
#: The seed's 22 pilot provinces, in the three batches of domain.md §6.
PILOT_BATCHES = [("2017-12-18 09:00", {"天津", "甘肃", "西藏", "宁夏", "海南", "新疆", "青海"}),
                 ("2018-09-10", {"浙江", "四川", "福建", "陕西", "重庆", "广西", "云南"}),
                 ("2018-09-24", {"山西", "内蒙古", "黑龙江", "安徽", "山东", "河南", "湖南",
                                 "湖北"})]
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
    assert (RULES.edition, DEFAULT_EDITION, list(EDITIONS)) == ("2025", "2025", ["2025", "2018"])
    assert load_rules(edition="2025") is RULES
    assert (R2018.edition, R2018.origin, R2018.as_of.isoformat()) == ("2018", "built-in 2018",
                                                                      "2018-09-24")
    assert R2018.version != RULES.version and len(R2018.provinces) == 31


@pytest.mark.parametrize("province", RULES.provinces, ids=lambda p: p.key)
def test_every_province_resolves_by_every_name_form_and_has_a_portal(province: Any) -> None:
    forms = [province.name, province.full_name, *province.abbreviations, province.pinyin,
             province.pinyin.upper(), province.pinyin.title(), f"  {province.name} ",
             *province.aliases]
    for form in forms:
        assert RULES.resolve_province(form) is province, form
    assert province.variant in RULES.variants
    # Today: one national portal; the 2018 edition has the seed's per-province portals.
    assert (province.portal, RULES.portal(province)) == (None, "beian.miit.gov.cn")
    old = R2018.province(province.key)
    if old.name == "湖南":  # the seed's hn is Hainan's: no portal, a note says why
        assert old.portal is None and old.portal_note and "海南" in old.portal_note
        return
    assert old.portal is not None and old.portal_code == PORTAL_CODES[old.name]
    assert old.portal.startswith(f"{old.portal_code}.beian.miit.gov.cn/state/outPortal/")


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
    login = {p.name for p in R2018.provinces if (p.portal or "").endswith("loginPortal.action")}
    assert login == {"内蒙古", "安徽", "福建", "山东", "河南"}


def test_hainan_hunan_conflict_is_resolved_by_its_source() -> None:
    """The seed gives both hn; the 2017 hosts (<code>cainfo.miitbeian.gov.cn) give 海南 hn."""
    hainan, hunan = R2018.resolve_province("海南"), R2018.resolve_province("湖南")
    assert (hainan.portal_code, hainan.portal_note) == ("hn", None)
    assert hainan.portal == "hn.beian.miit.gov.cn/state/outPortal/messageAuthentication.action"
    assert (hunan.portal_code, hunan.portal) == (None, None)
    assert hunan.portal_note and "海南" in hunan.portal_note
    assert "cainfo" in hunan.source and "wrong" in hunan.source
    assert R2018.facts(hunan)["sms"]["portal"] is None


def test_sms_facts_of_today() -> None:
    sms = RULES.sms
    assert sms.mandatory_since is not None and sms.mandatory_since.isoformat() == "2020-08-17"
    assert (sms.code_digits, sms.valid_hours, sms.attempts) == (6, 24, 5)
    assert sms.portal == "beian.miit.gov.cn" and not sms.pilot_batches
    assert [(c.name, c.number) for c in sms.carriers] == [("工业和信息化部备案系统", "12381")]
    assert "后 6 位" in sms.verify and "beian.miit.gov.cn" in sms.verify
    assert "3 次" in sms.resend and "24 小时" in sms.expired
    assert all(RULES.sms_required(p) and RULES.sms_pilot(p) is None for p in RULES.provinces)
    assert {k: (r.roles, r.changed_only) for k, r in sms.recipients.items()} == {
        "new_filing": (("principal", "manager"), False), "new_website": (("manager",), False),
        "new_access": (("manager",), False), "change": (("principal", "manager"), True)}
    assert "应急" in sms.recipient  # the emergency phone never gets a code
    text = "".join(f"{sms.arrival}{sms.verify}{sms.resend}{sms.expired}" for _ in [0])
    assert "48" not in text and "省通信管理局" not in text and "12:00" not in text


def test_sms_facts_of_2018_with_corrected_pilot_batches() -> None:
    sms = R2018.sms
    assert sms.mandatory_since is None and sms.portal is None
    assert [(b.since_text, {R2018.province(k).name for k in b.provinces})
            for b in sms.pilot_batches] == PILOT_BATCHES
    assert (sms.code_digits, sms.valid_hours) == (6, 48)
    assert "485号" in sms.notice
    assert [(c.name, c.number) for c in sms.carriers] == [
        ("中国电信", "106598051001"), ("中国联通", "10655113"), ("中国移动", "106575000130")]
    pilots = {p.name for p in R2018.provinces if R2018.sms_required(p)}
    assert pilots == set().union(*(names for _, names in PILOT_BATCHES)) and len(pilots) == 22
    jiangxi = R2018.facts(R2018.resolve_province("江西"))["sms"]
    assert (jiangxi["required"], jiangxi["pilot"]) == (False, False)


@pytest.mark.parametrize(("province", "nature", "fingerprint"), [
    ("江西", Nature.PERSONAL, True), ("江西", Nature.ENTERPRISE, False),
    ("新疆", Nature.PERSONAL, False), ("广东", Nature.PERSONAL, False)])
def test_fingerprint_rule(province: str, nature: Nature, fingerprint: bool) -> None:
    assert RULES.needs_fingerprint(RULES.resolve_province(province), nature) is fingerprint
    assert R2018.needs_fingerprint(R2018.resolve_province(province), nature) is fingerprint


def test_xinjiang_fingerprint_is_data_with_both_sources_off_by_default(tmp_path: Path) -> None:
    (disputed,) = RULES.fingerprint.disputed
    assert (disputed.province, disputed.enabled, len(disputed.sources)) == ("xinjiang", False, 2)
    facts = RULES.facts(RULES.resolve_province("新疆"))["fingerprint"]
    assert facts["personal"] is False and facts["disputed"][0]["sources"] == list(disputed.sources)
    path = tmp_path / "rules.toml"
    path.write_text(_variant('province = "xinjiang"\nenabled = false',
                             'province = "xinjiang"\nenabled = true'), "utf-8")
    on = load_rules(path)
    assert on.needs_fingerprint(on.resolve_province("新疆"), Nature.PERSONAL)
    assert not on.needs_fingerprint(on.resolve_province("新疆"), Nature.ENTERPRISE)


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
    assert "网站备注" in RULES.seal.remark


@pytest.mark.parametrize(("province", "action", "no_seal_text"), [
    ("浙江", "refuse", "个体工商户无公章"), ("安徽", "remark", "无字号无公章个体工商户"),
    ("广东", "hint", "个体工商户无公章"), ("江西", None, "个体工商户无公章")])
def test_no_seal_rules_per_province(province: str, action: str | None, no_seal_text: str) -> None:
    where = RULES.resolve_province(province)
    rule = RULES.no_seal_rule(where)
    assert (rule.action if rule else None) == action
    assert RULES.no_seal_text(where) == no_seal_text
    if rule:
        assert rule.source.startswith("doc: ") and RULES.facts(where)["seal"]["no_seal_rule"]


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
    """Every entry of a raw rules file that must carry source and as_of."""
    out = [(name, data[name]) for name in ("fingerprint", "registrar", "seal", "sms",
                                           "commitment", "verification")]
    out += [(f"variants.{k}", v) for k, v in data["variants"].items()]
    out += [(f"sms.recipients.{k}", v) for k, v in data["sms"]["recipients"].items()]
    for section in ("provinces", "materials", "signing", "backdrop", "notices", "certificates",
                    "electronic"):
        out += [(f"{section}[{i}]", entry) for i, entry in enumerate(data.get(section, []))]
    for name, entries in (("seal.no_seal", data["seal"].get("no_seal", [])),
                          ("sms.pilot_batches", data["sms"].get("pilot_batches", []))):
        out += [(f"{name}[{i}]", entry) for i, entry in enumerate(entries)]
    return out


@pytest.mark.parametrize(("where", "entry"), [
    (f"{edition}:{where}", entry) for edition, text in (("2025", TEXT), ("2018", TEXT_2018))
    for where, entry in _entries(tomllib.loads(text))],
    ids=lambda x: x if isinstance(x, str) else "")
def test_every_entry_has_source_and_as_of(where: str, entry: dict[str, Any]) -> None:
    assert re.match(r"(seed|doc|recon): \S", entry["source"]), where
    assert isinstance(entry["as_of"], date), where


def test_disputed_entries_carry_every_source() -> None:
    for rules in (RULES, R2018):
        for disputed in rules.fingerprint.disputed:
            assert all(re.match(r"(seed|doc|recon): \S", s) for s in disputed.sources)
            assert len(disputed.sources) >= 2


def test_conditions_use_known_flags() -> None:
    for rules in (RULES, R2018):
        for item in (*rules.materials, *rules.signing, *rules.notices, *rules.electronic):
            assert set(item.when) <= set(FLAGS)


# --- a broken --rules file is a RulesError naming the file and the problem --------------------

def _variant(old: str, new: str, count: int = 1, text: str = TEXT) -> str:
    assert text.count(old) >= count, old
    return text.replace(old, new, count)


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
    ("unknown pilot key", _variant('"tianjin", "gansu"', '"tianjin", "gansuu"', text=TEXT_2018),
     "gansuu"),
    ("province in two pilot batches",
     _variant('"zhejiang", "sichuan"', '"tianjin", "sichuan"', text=TEXT_2018), "more than one"),
    ("unknown seal rule key", _variant('provinces = ["zhejiang"]', 'provinces = ["zhejiangg"]'),
     "zhejiangg"),
    ("remark rule without its text",
     _variant('no_seal_text = "无字号无公章个体工商户"\n', ""), "remark rule"),
    ("missing filing type recipients",
     re.sub(r"\[sms\.recipients\.change\]\n(.+\n)+?as_of = .*\n", "", TEXT, count=1),
     "change"),
    ("empty commitment", re.sub(r'(\[commitment\]\ntext = )".*?"', r'\1"  "', TEXT), "commitment"),
    ("unknown key", _variant('[seal]\n', '[seal]\ncolour = "red"\n'), "colour"),
    ("missing source", _variant('source = "doc: Volcengine', 'sauce = "doc: Volcengine'), "source"),
    ("bad source kind", _variant('source = "doc: Volcengine', 'source = "blog: Volcengine'),
     "source"),
    ("bad as_of", _variant("as_of = 2026-11-29\n\n# --- provinces",
                           'as_of = "soon"\n\n# --- provinces'), "as_of"),
    ("unknown flag", _variant('when = ["unit"]', 'when = ["units"]'), "when"),
    ("unknown flow", _variant('flow = "paper"', 'flow = "fax"'), "flow"),
    ("electronic flow without its lines",
     re.sub(r"\[\[electronic\]\]\n(.+\n)+?as_of = .*\n", "",
            _variant('flow = "paper"', 'flow = "electronic"')), "electronic"),
    ("shared portal without note",
     _variant('portal_code = "bj"', 'portal_code = "hn"', text=TEXT_2018).replace(
         "bj.beian", "hn.beian"), "portal_note"),
    ("no portal at all", _variant('portal = "beian.miit.gov.cn"\n', ""), "portal"),
    ("unknown variant", _variant('variant = "guangdong"', 'variant = "canton"'), "canton"),
    ("nature without certificate",
     _variant('"foundation", "law_firm", "defense"', '"foundation", "defense"', 2)
     .replace('natures = ["law_firm", "other"]', 'natures = ["other"]'), "law_firm"),
    ("person certificate with natures",
     _variant('holder = "person"\nnumber = "other"', 'holder = "person"\nnumber = "other"\n'
              'natures = ["enterprise"]'), "natures"),
    ("unknown edition", _variant('edition = "2025"', 'edition = "2030"'), "2025, 2018"),
    ("old schema", _variant("schema_version = 2", "schema_version = 1"), "schema_version"),
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


def test_editions_are_chosen_and_checked(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        load_rules(edition="2030")
    assert info.value.exit_code == 2 and "2030" in info.value.message
    assert "2025, 2018" in (info.value.hint or "")
    path = tmp_path / "rules.toml"
    path.write_text(TEXT, "utf-8")
    assert load_rules(path, edition="2025").edition == "2025"
    with pytest.raises(UsageError, match="is the 2025 edition, not 2018"):
        load_rules(path, edition="2018")


def test_verification_flow_is_set_by_rules_or_option() -> None:
    assert RULES.verification.flow == "paper" and RULES.electronic
    electronic = load_rules(verification="electronic")
    assert electronic.verification.flow == "electronic"
    assert electronic.version != RULES.version and electronic.origin == RULES.origin
    assert RULES.with_verification("paper") is RULES
    assert RULES.verification.flow == "paper"  # the cached built-in rules are not changed
    with pytest.raises(UsageError, match="unknown verification flow"):
        load_rules(verification="fax")
    with pytest.raises(UsageError, match="no electronic verification"):
        load_rules(edition="2018", verification="electronic")


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


# --- acceptance rules (sheetgen/rules/acceptance.py) ------------------------------------------

def test_every_acceptance_kind_has_a_dated_sourced_rule_in_todays_edition() -> None:
    from sheetgen.errors import PROBLEM_CODES
    from sheetgen.rules.acceptance import KINDS

    kinds = {rule.kind for rule in RULES.acceptance}
    assert kinds == set(KINDS)
    assert kinds <= set(PROBLEM_CODES)
    for rule in RULES.acceptance:
        assert rule.source and rule.as_of <= date(2026, 12, 31), rule
        assert rule.zh.strip() and rule.en.strip()
    # Hunan's own (domain.md §8): one domain per filing, 18 years, the manager's letter.
    hunan = {rule.kind: rule for rule in RULES.acceptance_for("hunan")}
    assert hunan["too_many_domains"].per_filing == 1
    assert hunan["applicant_under_18"].min_age == 18
    assert RULES.letter(hunan["legal_representative_letter"]) == "网站负责人授权书"  # the table's
    assert "certificate_not_local" not in hunan


def test_a_province_joins_an_acceptance_rule_by_data_alone(tmp_path: Path) -> None:
    text = rules_file("rules.toml").read_text("utf-8")
    old = 'provinces = ["hebei", "neimenggu", "hunan"]'
    assert text.count(old) == 1
    path = tmp_path / "rules.toml"
    path.write_text(text.replace(old, 'provinces = ["hebei", "neimenggu", "hunan", "guangdong"]'),
                    "utf-8")
    assert "applicant_under_18" in {r.kind for r in load_rules(path).acceptance_for("guangdong")}
    assert "applicant_under_18" not in {r.kind for r in RULES.acceptance_for("guangdong")}


def test_certificate_types_of_today() -> None:
    """公证机构执业证 (not 执业证书, still read as an alias so existing data validates), 部队代号
    for 国防机构, 外国在华文化中心登记证 and the unit types the filing system lists."""
    rules = load_rules()
    notary = rules.certificate("公证机构执业证")
    assert notary is not None and notary.name == "公证机构执业证"
    assert rules.certificate("公证机构执业证书") is notary
    assert rules.certificate("部队代号") in rules.certificates_for(Nature.DEFENSE)
    assert rules.certificate("外国在华文化中心登记证") in \
        rules.certificates_for(Nature.FOREIGN_CULTURAL_CENTER)
    for name in ("社会服务机构登记证书", "民办学校办学许可证", "农村集体经济组织登记证",
                 "仲裁委员会登记证", "境外非政府组织代表机构登记证书", "外国驻华新闻机构证",
                 "北京市外国驻华使馆人员子女学校办学许可证",
                 "外国政府旅游部门常驻代表机构批准登记证",
                 "港澳台地区旅游部门常驻代表机构批准登记证", "其他境外机构登记证"):
        found = rules.certificate(name)
        assert found is not None and found.holder == "unit" and found.natures, name
    # The 2018 edition keeps its own list as it was.
    assert load_rules(edition="2018").certificate("部队代号") is None


def test_sms_facts_keep_what_other_sources_say() -> None:
    rules = load_rules()
    sms = rules.sms
    assert sms.mandatory_since is not None and sms.mandatory_since.isoformat() == "2020-08-17"
    assert {a.field: a.value for a in sms.alternatives}["mandatory_since"] == "2020-08-16"
    assert "2322号" in sms.notice and "1590号" in sms.notice
    assert sms.no_code is not None and "变更接入" in sms.no_code
    assert "87号" not in rules.verification.source
    assert "87号" not in "".join(line.source + line.text for line in rules.electronic)
    facts = rules.facts(rules.resolve_province("甘肃"))
    assert facts["sms"]["alternatives"] and facts["domain_certificate_required"] is False
    assert any(b.get("provinces") == ["gansu"] for b in facts["backdrop"])
    assert not any(b.get("provinces") for b in rules.facts(
        rules.resolve_province("江西"))["backdrop"])
    # Jiangxi's fingerprint is kept, the sources' silence noted.
    assert rules.fingerprint.provinces == ("jiangxi",)
    assert rules.fingerprint.note is not None and "未再提及" in rules.fingerprint.note
