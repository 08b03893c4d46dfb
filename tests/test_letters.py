"""The filing packet (issue 23): the documents table in the rules, the companion letters as
document kinds, the cover's list of this applicant's documents, ``sheetgen rules 粤``.

The "Done when" cases, in the paper and the electronic flow: a Guangdong unit whose website
manager is not the legal representative, a Hunan unit filing a second website
(``new_website``), a Jiangsu personal filing; and the legal representative who is everyone
(no letter, no warning), a value that does not fit (exit 4 with the path).
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest

from sheetgen.documents import forms
from sheetgen.documents.jobs import RenderOptions
from sheetgen.documents.kinds import kind, kinds
from sheetgen.model import check_document
from sheetgen.pipeline import Produced, plan_input, produce
from sheetgen.receive import receive
from sheetgen.receive.codes import find_codes
from sheetgen.rendering.pdf.layout import cached_layout
from sheetgen.rules import Rules, load_rules
from tests.applicants import ID_BJ, ID_TJ, personal, unit
from tests.conftest import run_cli
from tests.pdfs import page_sizes, page_texts
from tests.scans import RENDER_DPI, Sheet, ink, scan

RULES = load_rules()
ELECTRONIC = RULES.with_verification("electronic")
FLOWS = {"paper": RULES, "electronic": ELECTRONIC}
LETTERS = ("legal_authorisation", "principal_authorisation", "manager_authorisation",
           "no_preapproval", "website_plan")
PROVINCE_WORDING = ("guangdong_commitment", "jiangsu_notice", "jiangsu_commitment",
                    "shanghai_commitment")
REPRESENTATIVE = {"name": "李四", "certificate": {"type": "居民身份证", "number": ID_BJ}}


def guangdong_unit() -> dict[str, Any]:
    """A Guangdong unit whose website manager (王五) is not the legal representative (李四,
    the principal); its website's name holds a prior-approval keyword (教育)."""
    data = unit()
    data["province"] = "广东"
    data["websites"][0]["name"] = "某某教育资讯"
    data["websites"][0]["domains"] = ["example.com.cn"]
    data["host"]["legal_representative"] = copy.deepcopy(REPRESENTATIVE)
    return data


def hunan_second_website() -> dict[str, Any]:
    """A Hunan unit filing another website (新增网站), manager not the legal representative."""
    data = unit()
    data["province"] = "湖南"
    data["filing_type"] = "new_website"
    data["websites"][0]["domains"] = ["example.com.cn"]
    data["host"]["legal_representative"] = copy.deepcopy(REPRESENTATIVE)
    return data


def jiangsu_personal() -> dict[str, Any]:
    data = personal()
    data["province"] = "江苏"
    del data["websites"][0]["filing_number"]  # a 赣 number would not be Jiangsu's
    return data


def everyone() -> dict[str, Any]:
    """A Hunan unit whose legal representative is its principal and its website manager."""
    data = hunan_second_website()
    manager = data["websites"][0]["manager"]
    data["host"]["principal"] = {**copy.deepcopy(manager)}
    data["host"]["legal_representative"] = {"name": manager["name"],
                                            "certificate": copy.deepcopy(manager["certificate"])}
    return data


#: case → (the printed kinds after the cover, the cover's documents in print order)
CASES: dict[str, tuple[Any, list[str], list[str]]] = {
    "guangdong": (guangdong_unit, ["sheet", "no_preapproval"],
                  ["网站备案信息真实性核验单", "互联网信息服务备案承诺书", "不涉及前置审批承诺书"]),
    "hunan": (hunan_second_website, ["sheet", "manager_authorisation", "website_plan"],
              ["网站备案信息真实性核验单", "网站负责人授权书", "网站建设方案书"]),
    "jiangsu": (jiangsu_personal, ["sheet"],
                ["网站备案信息真实性核验单", "网站备案真实性责任告知书", "承诺书（江苏）"]),
}


def _produce(data: dict[str, Any], rules: Rules, formats: tuple[str, ...] = ("pdf",)
             ) -> Produced:
    plan = plan_input(json.dumps(data, ensure_ascii=False).encode(), source="t.json",
                      rules=rules)
    return produce(plan, RenderOptions(), formats=formats, stem="out")


# --- the documents table ----------------------------------------------------------------------

def test_every_entry_of_the_documents_table_is_sourced_and_dated() -> None:
    for name, document in RULES.documents.items():
        assert document.source and document.as_of, name
        for case in (*document.cases, *document.disputed):
            assert case.source and case.as_of, name
    for name in LETTERS:
        assert RULES.documents[name].wording == "project", name
    for name in PROVINCE_WORDING:
        document = RULES.documents[name]
        assert document.wording == "province" and document.template_from, name
        assert kind(name) is None  # sheetgen never invents the province's text
    # Where sources disagree both are kept: JD lists 江苏 for the manager's letter, 江苏 asks
    # the 法人授权书, which is used.
    [jd] = RULES.documents["manager_authorisation"].disputed
    assert jd.provinces == ("jiangsu",) and not jd.used
    assert not RULES.documents["manager_authorisation"].in_province("jiangsu")
    assert RULES.documents["legal_authorisation"].in_province("jiangsu")


def test_the_letters_boxes_agree_with_the_table() -> None:
    for name in LETTERS:
        found = kind(name)
        assert found is not None and found.code and found.template == f"letters/{name}"
        form = forms.FORMS[f"letters/{name}"]
        document = RULES.documents[name]
        assert (form.seal is not None) == document.seal == ("seal" in found.boxes), name
        assert form.fingerprint == document.fingerprint == ("fingerprint" in found.boxes), name
        assert form.title == document.label
        assert {"signature", "date"} <= found.boxes


def test_the_website_plans_thresholds_per_host_kind() -> None:
    plan = RULES.documents["website_plan"]
    unit_flags, person_flags = frozenset({"unit"}), frozenset({"personal"})
    assert not plan.applies(unit_flags, "guangdong", 30)
    assert plan.applies(unit_flags, "guangdong", 31)
    assert not plan.applies(person_flags, "guangdong", 4)
    assert plan.applies(person_flags, "guangdong", 5)
    assert not plan.applies(unit_flags, "chongqing", 35) and plan.applies(unit_flags,
                                                                          "chongqing", 36)
    assert not plan.applies(unit_flags, "ningxia", 5) and plan.applies(unit_flags, "ningxia", 6)
    assert plan.applies(person_flags, "shanghai", 30)
    assert plan.applies(frozenset({"unit", "new_website"}), "hunan", 1)
    assert not plan.applies(frozenset({"unit", "new_filing"}), "hunan", 1)
    assert not plan.applies(unit_flags, "beijing", 100)


def test_the_acceptance_warnings_read_their_provinces_and_letter_from_the_table() -> None:
    rules = {r.document: r for r in RULES.acceptance if r.kind == "legal_representative_letter"}
    assert set(rules) == {"manager_authorisation", "principal_authorisation",
                          "legal_authorisation"}
    assert all(not r.provinces and r.letter is None for r in rules.values())
    hunan = [r for r in RULES.acceptance_for("hunan") if r.kind == "legal_representative_letter"]
    assert [RULES.letter(r) for r in hunan] == ["网站负责人授权书"]
    jiangsu = [r for r in RULES.acceptance_for("jiangsu")
               if r.kind == "legal_representative_letter"]
    assert [RULES.letter(r) for r in jiangsu] == ["法人授权书"]
    assert not [r for r in RULES.acceptance_for("guangdong")
                if r.kind == "legal_representative_letter"]


def _warnings(data: dict[str, Any]) -> list[tuple[str, str]]:
    [result] = check_document(json.dumps(data, ensure_ascii=False).encode(), source="t.json",
                              rules=RULES)
    assert result.ok, result.problems
    return [(p.path, p.code) for p in result.warnings]


def test_check_warns_when_the_legal_representative_is_missing_and_not_when_it_is_everyone(
        ) -> None:
    missing = hunan_second_website()
    del missing["host"]["legal_representative"]
    assert ("host.legal_representative", "legal_representative_letter") in _warnings(missing)
    assert ("websites[0].manager", "legal_representative_letter") in _warnings(
        hunan_second_website())
    assert not [w for w in _warnings(everyone()) if w[1] == "legal_representative_letter"]
    # Without the field the letters cannot be decided: none is printed.
    assert "manager_authorisation" not in [d["kind"] for d in _produce(missing, RULES).documents]


def test_the_legal_representative_who_is_everyone_gets_no_letter() -> None:
    kinds_printed = [d["kind"] for d in _produce(everyone(), RULES).documents]
    assert not set(kinds_printed) & {"manager_authorisation", "principal_authorisation",
                                     "legal_authorisation"}


# --- the done-when cases: cover, letters on one A4 page each, codes, the DOCX ------------------

@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("case", CASES)
def test_fill_prints_the_cover_listing_exactly_the_documents_then_each_on_one_page(
        case: str, flow: str) -> None:
    make, printed, listed = CASES[case]
    if flow == "electronic":  # the sheet is confirmed in the app: neither printed nor listed
        printed = [k for k in printed if k != "sheet"]
        listed = [t for t in listed if t != RULES.documents["sheet"].label]
    produced = _produce(make(), FLOWS[flow], formats=("pdf", "docx"))
    assert produced.pdf is not None
    documents = [d["kind"] for d in produced.documents]
    letters = [k for k in printed if k != "sheet"]
    assert documents[0] == "cover"
    assert [k for k in documents if k in LETTERS] == letters
    assert [k for k in documents if k in LETTERS or k == "sheet"] == printed
    texts = page_texts(produced.pdf)
    cover = "".join(texts[:2])
    for title in listed:
        assert f"《{title}》" in cover, (case, title)
    for other in {*(RULES.documents[n].label for n in (*LETTERS, *PROVINCE_WORDING))} - {
            *listed}:
        assert f"《{other}》" not in cover, (case, other)
    # In print order.
    assert [cover.index(f"《{t}》") for t in listed] == sorted(
        cover.index(f"《{t}》") for t in listed)
    for name in PROVINCE_WORDING:
        if RULES.documents[name].label in listed:
            assert "向接入服务商索取模板" in cover
    # Each letter: one A4 page, its title, its boxes, a code.
    assert produced.rendered is not None
    for name in letters:
        [job] = [j for j in produced.rendered.jobs if j.template == f"letters/{name}.html"]
        assert job.pages == 1
    assert all(abs(w - 595.3) < 1 and abs(h - 841.9) < 1 for w, h in page_sizes(produced.pdf))
    coded = _coded_pages(produced.pdf)
    assert sorted(k for k in coded if k in LETTERS) == sorted(letters)
    # The DOCX prints the same documents.
    names = [f.name for f in produced.files if f.name.endswith(".docx")]
    for name in letters:
        docx = next(n for n in names if n.startswith(f"out-{name}"))
        body = _docx_text(produced, docx)
        assert forms.FORMS[f"letters/{name}"].title in body
        assert make()["host"]["name"] in body
    cover_docx = _docx_text(produced, "out-cover.docx")
    for title in listed:
        assert f"《{title}》" in cover_docx


def _docx_text(produced: Produced, name: str) -> str:
    data = next(f.data for f in produced.files if f.name == name)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return package.read("word/document.xml").decode()


def _coded_pages(pdf: bytes) -> dict[str, Sheet]:
    """Each page of ``pdf`` that carries a letter's code, by its kind, rendered as a scan
    would be."""
    found: dict[str, Sheet] = {}
    document = pdfium.PdfDocument(pdf)
    try:
        for index in range(len(document)):
            image = document[index].render(scale=RENDER_DPI / 72).to_pil().convert("RGB")
            codes = find_codes(image)
            if codes and codes[0].code is not None and codes[0].code.kind != "sheet":
                code = codes[0].code
                assert code.layout is not None
                layout = cached_layout(code.layout)
                assert layout is not None
                found[code.kind] = Sheet(code.reference, code.website or 0, image, layout)
    finally:
        document.close()
    return found


def test_the_hunan_letters_hold_the_applicants_values_and_the_right_boxes() -> None:
    produced = _produce(hunan_second_website(), RULES)
    assert produced.pdf is not None
    texts = page_texts(produced.pdf)
    [page] = [t for t in texts if "网站负责人授权书" in t and "授权单位" in t]
    for value in ("北京某某科技有限公司", "91110108551385082Q", "李四", ID_BJ, "王五", ID_TJ,
                  "某某科技官网", "example.com.cn", "湖南", "法定代表人签字", "单位公章"):
        assert value in page, value
    assert "按手印处" not in page
    [plan_page] = [t for t in texts if "网站建设方案书" in t and "主要内容及栏目" in t]
    assert "王五（13622223333）" in plan_page and "单位公章" in plan_page


def test_a_personal_filer_in_a_fingerprint_province_gets_the_fingerprint_box() -> None:
    data = personal()  # 江西: personal fingerprints; a website name with a keyword
    data["websites"][0]["name"] = "张三的教育笔记"
    produced = _produce(data, RULES)
    assert produced.pdf is not None
    [page] = [t for t in page_texts(produced.pdf) if "不涉及前置审批承诺书" in t
              and "网站名称及域名" in t]
    assert "按手印处" in page and "单位公章" not in page and "张三的教育笔记" in page


# --- receive: a scan of a letter --------------------------------------------------------------

def test_receive_matches_a_scan_of_a_letter_and_checks_its_boxes(tmp_path: Path) -> None:
    produced = _produce(hunan_second_website(), RULES)
    assert produced.pdf is not None
    letter = _coded_pages(produced.pdf)["manager_authorisation"]
    assert set(letter.layout.areas) == {"signature", "seal", "date"}
    scan(ink(letter, seed=5), angle=0.5, seed=5).save(tmp_path / "signed.png")
    scan(ink(letter, seal=False, seed=6), angle=-0.3, seed=6).save(tmp_path / "unsealed.png")
    receipt = receive([tmp_path / "signed.png", tmp_path / "unsealed.png"], rules=RULES)
    first, second = receipt.pages
    for page in (first, second):
        assert page.kind == "manager_authorisation" and page.signed is True
        assert page.reference == letter.reference and page.date_blank is True
    assert first.seal is True and not first.problems
    assert second.seal is False and [p.code for p in second.problems] == ["no_seal"]


# --- bad input: a value that does not fit -----------------------------------------------------

def test_a_letter_value_that_does_not_fit_is_exit_4_with_its_path(tmp_path: Path) -> None:
    data = unit()
    data["province"] = "江苏"
    data["host"]["legal_representative"] = {"name": "赵六", "certificate": {
        "type": "居民身份证", "number": ID_TJ}}
    site = data["websites"].pop()
    for i in range(10):
        website = copy.deepcopy(site)
        website["name"] = f"某某科技有限公司官方网站与产品服务信息发布平台第{i}号站点"
        website["domains"] = [f"example{i}.com.cn"]
        data["websites"].append(website)
    path = tmp_path / "long.json"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    result = run_cli("fill", str(path), "-o", str(tmp_path / "out.pdf"))
    assert result.code == 4, result.stderr
    assert "websites: " in result.stderr and "does_not_fit" in result.stderr
    assert not (tmp_path / "out.pdf").exists()


# --- sheetgen rules 粤 ------------------------------------------------------------------------

def test_rules_lists_the_provinces_documents_with_their_sources() -> None:
    result = run_cli("rules", "粤")
    assert result.code == 0
    text = result.text
    assert "互联网信息服务备案承诺书 (guangdong_commitment)" in text
    assert "the province's wording, printed only from your templates'" in text
    assert "网站建设方案书 (website_plan) — when unit and at least 31 domains; or personal " \
           "and at least 5 domains" in text.replace("\n", " ")
    assert "Huawei Cloud KB 2025-12-31" in text
    assert "网站负责人授权书" not in text  # not asked in 广东 by any source
    facts = json.loads(run_cli("rules", "粤", "--json").stdout)
    documents = {d["kind"]: d for d in facts["documents"]}
    assert list(documents) == ["sheet", "guangdong_commitment", "no_preapproval",
                               "website_plan"]
    assert documents["guangdong_commitment"]["source"].startswith("doc: Huawei")
    assert documents["guangdong_commitment"]["wording"] == "province"
    jiangsu = json.loads(run_cli("rules", "苏", "--json").stdout)
    disputed = {d["kind"]: d for d in jiangsu["documents"]}["manager_authorisation"]
    assert disputed["applies"] is False and not disputed["disputed"][0].get("used")


def test_the_registry_holds_the_letters_in_print_order_after_the_sheet() -> None:
    names = [k.name for k in kinds()]
    assert names.index("sheet") < names.index("legal_authorisation") < names.index(
        "manager_authorisation") < names.index("no_preapproval") < names.index("website_plan")


def test_a_providers_letter_printed_under_the_new_flags_is_among_the_layouts_receive_lists(
        ) -> None:
    """A kind of the generic letter context receives every rules flag; receive enumerates its
    layouts under each combination, the companion documents' flags included."""
    from sheetgen.documents.kinds import DocumentKind, flag_layouts, letter_context
    from sheetgen.rendering.pdf.layout import layout_key
    from sheetgen.rendering.templating import TemplateSet
    from sheetgen.resources import templates_dir

    letter = DocumentKind(name="provider_letter", title="授权书", context=letter_context,
                          template="letters/principal_authorisation", code=True)
    plan = plan_input(json.dumps(hunan_second_website(), ensure_ascii=False).encode(),
                      source="t.json", rules=RULES)
    assert "manager_not_representative" in plan.flags
    templates = TemplateSet(templates_dir())
    printed = letter.context(plan, None, RenderOptions(qr=True), letter)
    listed = {layout_key(templates, c.template, c.context)
              for c in flag_layouts(plan, RULES, letter)}
    assert layout_key(templates, printed.template, printed.context) in listed
