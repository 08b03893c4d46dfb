"""The cover checklist (备案材料清单) made for each applicant (issue 5)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from typing import Any

import pytest

from sheetgen.documents.cover import MAX_PAGES, TEMPLATE, cover_context
from sheetgen.documents.jobs import RenderOptions
from sheetgen.documents.plan import make_plan
from sheetgen.errors import InvalidDataError
from sheetgen.model import parse_applicant
from sheetgen.pipeline import plan_input
from sheetgen.rendering.pdf.document import Rendered, render_pdf
from sheetgen.rendering.pdf.layout import compile_layout, get_layout, layout_key
from sheetgen.rendering.templating import bundled
from sheetgen.rules import Rules, load_rules
from sheetgen.vocabulary import Nature
from tests.applicants import SECRET, edit, example, personal, unit
from tests.conftest import REPO
from tests.pdfs import is_a4, page_sizes, page_texts

COMMITMENT = "本人已履行网站备案信息当面核验手续"
R2018 = load_rules(edition="2018")
ELECTRONIC = load_rules(verification="electronic")


def cover(data: dict[str, Any], rules: Rules | None = None, **options: Any
          ) -> tuple[str, Rendered]:
    """The cover's text (all its pages, spaces removed) and the whole rendering."""
    plan = plan_input(json.dumps(data, ensure_ascii=False).encode(), source="test", rules=rules)
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
        # The domain certificate only where a province asks; elsewhere the real-name record.
        # 800×600 is one provider's photo rule (群英), printed as that provider's example.
        assert "域名证书" not in text and "域名实名信息截图" in text
        assert "群英（2018年的示例）" in text and "800×600" in text


def test_the_domain_certificate_where_a_province_asks_for_it(tmp_path: Any) -> None:
    from sheetgen.resources import rules_file
    text = rules_file("rules.toml").read_text("utf-8").replace(
        "[domain_certificate]\n# Provinces", "[domain_certificate]\nprovinces = [\"jiangxi\"]\n#"
    ).replace("provinces = []\nnote = \"多数", "note = \"多数")
    path = tmp_path / "rules.toml"
    path.write_text(text, "utf-8")
    asking = load_rules(path)
    jiangxi, _ = cover(personal(), rules=asking)
    assert "域名证书" in jiangxi and "域名实名信息截图" not in jiangxi
    beijing, _ = cover(unit(), rules=asking)
    assert "域名证书" not in beijing and "域名实名信息截图" in beijing


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


@pytest.mark.parametrize(("province", "since", "portal"), [
    ("浙江", "2018-09-10", "zj.beian.miit.gov.cn/state/outPortal/messageAuthentication.action"),
    ("安徽", "2018-09-24", "ah.beian.miit.gov.cn/state/outPortal/loginPortal.action"),
    ("天津", "2017-12-1809:00",
     "tj.beian.miit.gov.cn/state/outPortal/messageAuthentication.action"),
    ("江西", None, None),
    ("北京", None, None),
])
def test_sms_facts_of_the_2018_edition(province: str, since: str | None,
                                       portal: str | None) -> None:
    data = edit(personal(), "province", province)
    data = edit(data, "websites[0].filing_number", None)
    data = edit(data, "websites[0].domains", [{"name": "example.cn", "registrar": "某某注册商"}])
    text, _ = cover(data, rules=R2018)
    assert "截至2018-09-24" in text and "2018年规定" in text
    assert ("试点省份" in text and f"自{since}起" in text) if since else "无需短信核验" in text
    assert "2020-08" not in text
    if portal:
        assert portal in text and "48小时" in text and "12:00" in text
        for sender in ("106598051001", "10655113", "106575000130"):
            assert sender in text


@pytest.mark.parametrize("province", ["浙江", "江西", "北京", "海南"])
def test_sms_facts_of_today(province: str) -> None:
    data = edit(personal(), "province", province)
    data = edit(data, "websites[0].filing_number", None)
    data = edit(data, "websites[0].domains", [{"name": "example.cn", "registrar": "某某注册商"}])
    text, _ = cover(data)
    assert "本清单所列规定截至2026-12-07（现行规定（2025版））" in text
    assert "自2020-08-17起全国各省备案均须短信核验" in text and "试点" not in text
    # The basis UCloud gives, not the seed's 485号; more than 5 wrong entries (Huawei: the
    # 6th); MIIT's resend after about 12 h; the filings that send no code.
    assert "工信管函〔2017〕2322号、工信管函〔2018〕1590号" in text and "485" not in text
    assert "超过5次" in text and "第6次" in text and "约12小时" in text
    assert "反复手动重发可能导致备案被退回" in text
    assert "变更接入、注销网站和取消接入不发送验证码" in text
    assert "24小时内有效" in text and "beian.miit.gov.cn" in text and "后6位" in text
    assert "12381" in text and "重新获取验证码" in text
    for stale in ("48小时", "12:00", "106598051001", "10655113", "outPortal", "省通信管理局网站"):
        assert stale not in text, stale


def test_hainan_and_hunan_portal_conflict_is_resolved_in_2018() -> None:
    texts = {}
    for province in ("海南", "湖南"):
        data = edit(edit(personal(), "province", province), "websites[0].filing_number", None)
        texts[province], _ = cover(edit(data, "websites[0].domains", ["example.cn"]),
                                   rules=R2018)
    assert "hn.beian.miit.gov.cn" in texts["海南"] and "与海南重复" not in texts["海南"]
    assert "hn.beian.miit.gov.cn" not in texts["湖南"] and "与海南重复" in texts["湖南"]


@pytest.mark.parametrize(("same", "codes"), [(True, 1), (False, 2)])
def test_one_code_when_principal_and_manager_share_a_mobile(same: bool, codes: int) -> None:
    data = unit()
    manager = data["websites"][0]["manager"]["mobile"]
    data = edit(data, "host.principal.mobile", manager if same else "13511112222")
    if same:  # one person in both roles: two people may not share a mobile (contact_shared)
        principal = data["host"]["principal"]
        data = edit(data, "websites[0].manager.name", principal["name"])
        data = edit(data, "websites[0].manager.certificate", principal["certificate"])
    plan = plan_input(json.dumps(data, ensure_ascii=False).encode(), source="test")
    values = cover_context(plan).values()
    assert values["sms.codes"] == str(codes)
    text, _ = cover(data)
    assert "预计收到" in text and manager in text
    assert ("13511112222" in text) == (not same)


def test_new_access_with_another_principal_expects_one_code() -> None:
    data = example("shanghai-new-access")
    manager = data["websites"][0]["manager"]["mobile"]
    data = edit(data, "host.principal.mobile", "13511112222")
    assert data["host"]["principal"]["mobile"] != manager
    plan = plan_input(json.dumps(data, ensure_ascii=False).encode(), source="test")
    assert cover_context(plan).values()["sms.codes"] == "1"
    text, _ = cover(data)
    assert "预计收到" in text and "新增接入：验证码发到原接入商处登记的网站负责人手机号码" in text
    assert "13511112222" not in text


def test_backdrop_rules_are_the_providers_own() -> None:
    text, _ = cover(personal())
    assert text.startswith("网站备案材料清单核验方式：纸质核验（幕布拍照）。")
    assert "幕布拍照要求（以接入商的规定为准）" in text and "以您的接入商为准" in text
    # One provider's rules, each said to be that provider's: not stated as universal.
    assert "腾讯云（示例）：拍胸部以上" in text
    assert "群英（2018年的示例）：站在幕布中间，不穿红色或蓝色上衣" in text
    assert "约2个工作日审核" in text and text.count("2个工作日") == 1
    assert "共同营造健康诚信网络环境" not in text


def test_gansu_backdrop_shows_the_slogan() -> None:
    data = edit(edit(personal(), "province", "甘肃"), "websites[0].filing_number", None)
    text, rendered = cover(data)
    assert "甘肃：照片中须显示标语“共同营造健康诚信网络环境”，不要露出幕布的边缘" in text
    assert rendered.jobs[0].pages == 1


def test_the_cover_names_the_provider_when_one_is_given() -> None:
    text, _ = cover(personal())
    assert "接入商" in text and "某某云计算有限公司" in text
    data = edit(personal(), "access.provider", None)
    assert "接入商" not in cover(data)[0].split("网站及域名")[0]
    given, _ = cover(data, provider="另一家云")
    assert "另一家云" in given


@pytest.mark.parametrize("name", ["beijing-unit-two-websites", "guangdong-personal",
                                  "shanghai-new-access"])
def test_electronic_flow_explains_the_app_and_drops_paper_only_parts(name: str) -> None:
    text, rendered = cover(example(name), rules=ELECTRONIC)
    paper, paper_rendered = cover(example(name))
    assert 1 <= rendered.jobs[0].pages <= 2 and 1 <= paper_rendered.jobs[0].pages <= 2
    assert all(job.pages == 1 for job in rendered.jobs[1:])  # the sheets are still printed
    assert "核验方式：电子化核验（手机App）" in text and "人脸识别" in text
    assert "不拍幕布照片" in text and "4–6秒" in text and "白色或浅色背景" in text
    assert "不戴帽子、耳机和口罩" in text
    # The province's letters are still signed (and sealed by units) in this flow.
    assert "随附文件仍须打印、手写签名" in text
    nature = Nature.parse(example(name)["host"]["nature"])
    assert nature is not None and ("加盖单位公章" in text) == nature.unit
    for paper_only in ("幕布拍照要求", "核验单签署要求", COMMITMENT, "按手印处", "87号",
                       "2019-04-01"):
        assert paper_only not in text, paper_only
    assert "幕布拍照要求" in paper and "核验单签署要求" in paper


def test_sections_are_numbered_in_order() -> None:
    text, _ = cover(example("guangdong-personal"))
    assert text.index("一、需要准备的材料") < text.index("二、备案文件（按打印顺序）") \
        < text.index("三、核验单签署要求") < text.index("四、手写承诺") \
        < text.index("五、幕布拍照要求") < text.index("六、短信核验")
    electronic, _ = cover(example("guangdong-personal"), rules=ELECTRONIC)
    assert "三、电子化核验" in electronic and "四、短信核验" in electronic


def test_preapproval_content_is_on_the_cover() -> None:
    data = edit(personal(), "websites[0].preapproval", ["news", "药品和医疗器械"])
    text, _ = cover(data)
    assert "前置审批内容" in text and "新闻、药品和医疗器械" in text
    assert "前置审批或专项审批文件" in text
    assert "前置审批" not in cover(personal())[0]


def test_no_seal_text_follows_the_province() -> None:
    data = edit(edit(example("chongqing-sole-proprietor-no-seal"), "province", "安徽"),
                "websites[0].filing_number", None)
    text, _ = cover(data)
    assert "无字号无公章个体工商户" in text
    guangdong = edit(edit(example("chongqing-sole-proprietor-no-seal"), "province", "广东"),
                     "websites[0].filing_number", None)
    assert "按个人性质备案" in cover(guangdong)[0]


def test_no_cover_and_copies() -> None:
    plan = plan_input(json.dumps(personal(), ensure_ascii=False).encode(), source="t")
    rendered = render_pdf(plan, RenderOptions(cover=False, copies=2))
    assert [job.template for job in rendered.jobs] == ["public/sheet.html"]
    assert rendered.pages == 2


# --- one A4 page in every case the bundled rules make (issue 27.5) ---------------------------

#: The rules sets a cover can be made under: each edition in each verification flow it has
#: (the 2018 edition has no electronic verification).
RULE_SETS = {"current/paper": load_rules(verification="paper"), "current/electronic": ELECTRONIC,
             "2018/paper": R2018}


def _variants() -> Any:
    """tools/precompile.py's enumeration of every structural choice the rules allow."""
    spec = importlib.util.spec_from_file_location("precompile", REPO / "tools" / "precompile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.variants


def cover_layouts(rules: Rules, keep: Callable[[dict[str, Any]], bool] = lambda data: True
                  ) -> dict[str, tuple[str, dict[str, Any]]]:
    """layout key → (what the applicant is, cover context) of every distinct cover ``rules``
    make: each province × host nature × filing type × seal × 前置审批 × special site. The
    cover's layout depends on these only (the applicant's values sit in fixed boxes), so two
    applicants with the same key print the same page count."""
    templates = bundled()
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for data in _variants()(rules, everything=True):
        if data["websites"][0]["manager"].get("office_phone") or not keep(data):
            continue  # a landline is a value in a box: it changes no cover layout
        try:
            plan = make_plan(parse_applicant(data, rules), rules)
        except InvalidDataError:
            continue  # a choice the rules refuse: never printed
        context = cover_context(plan).context
        key = layout_key(templates, TEMPLATE, context)
        if key not in found:
            found[key] = (f"{data['province']} {data['host']['nature']} {data['filing_type']} "
                          f"seal={data['host'].get('has_seal')} special={data['special_site']} "
                          f"preapproval={bool(data['websites'][0]['preapproval'])}", context)
    return found


def cover_pages(context: dict[str, Any]) -> int:
    """The cover's page count for this context, from the compiled layout (shipped, cached or
    compiled now)."""
    return get_layout(bundled(), TEMPLATE, context, max_pages=MAX_PAGES).page_count


@pytest.mark.parametrize("name", sorted(p.stem for p in (REPO / "examples").glob("*.json")))
def test_every_bundled_example_has_a_one_page_cover(name: str) -> None:
    _, rendered = cover(example(name))
    assert rendered.jobs[0].pages == 1
    assert rendered.pages == 1 + len(example(name)["websites"])


def _fullest(data: dict[str, Any]) -> bool:
    """The longest covers: Guangdong's (the commitment), Beijing's (the registrar) and
    Tianjin's (a 2018 pilot province), of a new website with every extra section."""
    return (data["province"] in ("广东", "北京", "天津") and data["filing_type"] == "new_website"
            and data["special_site"] and bool(data["websites"][0]["preapproval"])
            and data["host"]["nature"] in ("personal", "enterprise"))


@pytest.mark.parametrize("name", sorted(RULE_SETS))
def test_the_fullest_covers_fit_one_page(name: str) -> None:
    layouts = cover_layouts(RULE_SETS[name], _fullest)
    assert len(layouts) >= 2
    too_long = [desc for desc, context in layouts.values() if cover_pages(context) != 1]
    assert too_long == []


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RULE_SETS))
def test_every_cover_the_rules_make_fits_one_page(name: str) -> None:
    layouts = cover_layouts(RULE_SETS[name])
    assert len(layouts) > 20
    too_long = [desc for desc, context in layouts.values() if cover_pages(context) != 1]
    assert too_long == []


def test_a_longer_cover_moves_the_whole_sms_section_never_one_row() -> None:
    """Rules longer than the bundled ones (a provider's own) may need a second page: then the
    SMS section goes there whole, its heading with its table, not a stub of its last row."""
    desc, context = next(iter(cover_layouts(load_rules(), lambda data: data["province"] == "广东"
                                            and data["host"]["nature"] == "personal").values()))
    longer = json.loads(json.dumps(context))
    longer["rules"]["materials"] += [{"text": f"另一项材料 {n}（服务商要求）", "note": ""}
                                     for n in range(40)]
    layout = compile_layout(bundled(), TEMPLATE, longer, key="longer-cover", max_pages=MAX_PAGES)
    assert layout.page_count == 2, desc
    first, second = (text.replace(" ", "") for text in page_texts(layout.background))
    assert "短信核验" not in first and "本次验证码" not in first
    assert "短信核验" in second and "本次验证码" in second and "收不到时" in second
