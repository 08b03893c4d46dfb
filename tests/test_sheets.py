"""Check sheets as printed: one A4 page per website, the right form, boxes and text (issue 4)."""

from __future__ import annotations

import json
from typing import Any

import pypdfium2 as pdfium
import pytest

from sheetgen.documents.context import sheet_context
from sheetgen.documents.jobs import RenderOptions
from sheetgen.errors import DoesNotFitError, ExitCode, FontError
from sheetgen.pipeline import plan_input
from sheetgen.rendering.pdf.document import Rendered, render_pdf
from sheetgen.rendering.pdf.layout import get_layout
from sheetgen.rendering.templating import bundled
from tests.applicants import SECRET, edit, example, personal, unit
from tests.conftest import EXAMPLES, run_cli
from tests.pdfs import embedded_font_names, is_a4, outline_titles, page_sizes, page_texts

EXAMPLE_NAMES = sorted(p.stem for p in EXAMPLES.glob("*.json"))
TITLE = "网站备案信息真实性核验单"


def render(data: dict[str, Any], **options: Any) -> tuple[Any, Rendered]:
    plan = plan_input(json.dumps(data, ensure_ascii=False).encode(), source="test")
    return plan, render_pdf(plan, RenderOptions(**options))


def sheet_pages(rendered: Rendered) -> list[int]:
    """0-based page numbers of the check sheets (not the cover, not a companion letter)."""
    return [job.first_page for job in rendered.jobs
            if job.template != "common/cover.html" and not job.template.startswith("letters/")]


@pytest.fixture(scope="module", params=EXAMPLE_NAMES)
def filled(request: pytest.FixtureRequest) -> tuple[str, Any, Rendered, list[str]]:
    plan, rendered = render(example(request.param))
    return request.param, plan, rendered, page_texts(rendered.pdf)


def test_every_page_is_a4_and_one_sheet_per_website(filled: Any) -> None:
    _, plan, rendered, _ = filled
    sizes = page_sizes(rendered.pdf)
    assert all(is_a4(size) for size in sizes), sizes
    sheets = [job for job in rendered.jobs if job.template != "common/cover.html"]
    assert len(sheets) == len(plan.sheets) == len(plan.applicant.websites)
    assert all(job.pages == 1 for job in sheets)
    assert rendered.pages == len(sizes)


def test_sheet_text_has_host_domains_and_labels(filled: Any) -> None:
    _, plan, rendered, texts = filled
    for page, sheet in zip(sheet_pages(rendered), plan.sheets, strict=True):
        text = texts[page]
        assert TITLE in text
        assert plan.applicant.host.name in text
        for domain in sheet.website.domains:
            assert domain.name in text
            if domain.registrar:
                assert domain.registrar in text
        for label in ("网站主办者基本信息", "网站备案信息核验内容", "网站备案信息核验承诺",
                      "网站负责人签字", "网站主办者名称", "网站类型", "网站域名"):
            assert label in text


def test_boxes_follow_the_rules(filled: Any) -> None:
    name, plan, rendered, texts = filled
    for page, sheet in zip(sheet_pages(rendered), plan.sheets, strict=True):
        text = texts[page]
        assert ("按手印处" in text) == (name == "jiangxi-personal")
        assert ("单位公章" in text) == plan.unit
        assert ("个体工商户无公章" in text) == plan.has_no_seal
        heading = text.split(TITLE)[0]
        assert ("广东" in heading) == (sheet.variant == "guangdong")
        # §7: the landline check always on a unit's sheet, on a person's when one was reported
        assert ("网站负责人座机号码报备信息是否正确" in text) == (plan.unit or sheet.landline)
        assert sheet.landline_check == (plan.unit or sheet.landline)
        assert ("单位证件资质" in text) == plan.unit
        assert ("虚线下方" in text) == (name == "guangdong-personal")


def test_fonts_are_embedded_and_metadata_set(filled: Any) -> None:
    _, plan, rendered, _ = filled
    fonts = embedded_font_names(rendered.pdf)
    assert any("Serif" in f for f in fonts), fonts
    from tests.pdfs import reader

    info = reader(rendered.pdf).metadata
    assert info is not None
    assert TITLE in str(info.title) and plan.applicant.host.name in str(info.title)
    assert info.subject == TITLE
    assert str(info.creator).startswith("sheetgen")


def test_outline_has_cover_and_each_website(filled: Any) -> None:
    _, plan, rendered, _ = filled
    titles = outline_titles(rendered.pdf)
    assert titles[0] == "备案材料清单"
    assert titles[1:] == [f"网站 {n}：{w.name}" for n, w in
                          enumerate(plan.applicant.websites, start=1)]


def test_filing_password_is_never_printed() -> None:
    data = edit(example("shanghai-new-access"), "access.filing_password", SECRET)
    _, rendered = render(data)
    assert SECRET.encode() not in rendered.pdf
    assert all(SECRET not in text for text in page_texts(rendered.pdf))


# --- stress cases: long values and rare characters --------------------------------------------

LONG_DOMAINS = [f"very-long-subdomain-label-number-{i}-abcdefghij.example-company-{i}.com.cn"
                for i in range(10)]
LONG_NAME = "北京" + "超长名称测试示例科技发展有限公司附属研究中心" * 5
LONG_ADDRESS = "北京市海淀区中关村大街" + "某某科技园某某大厦某某层某某室附属楼" * 5


def stress_unit() -> dict[str, Any]:
    data = edit(unit(), "host.name", LONG_NAME[:100])
    data = edit(data, "host.address", LONG_ADDRESS[:100])
    return edit(data, "websites[0].domains",
                [{"name": d, "registrar": "北京新网数码信息技术有限公司"} for d in LONG_DOMAINS])


def stress_personal(province: str) -> dict[str, Any]:
    data = edit(personal(), "province", province)
    for path in ("host.name", "websites[0].manager.name"):
        data = edit(data, path, "张𠮷䶮")
    data = edit(data, "websites[0].name", "𠮷䶮的技术笔记")
    data = edit(data, "websites[0].domains", LONG_DOMAINS)
    data = edit(data, "websites[0].filing_number", None)
    data = edit(data, "websites[0].homepage", None)
    return edit(data, "host.address", LONG_ADDRESS[:100])


STRESS = {
    "unit-beijing": stress_unit,
    "personal-jiangxi": lambda: stress_personal("江西"),
    "personal-guangdong": lambda: stress_personal("广东"),
    "personal-zhejiang": lambda: stress_personal("浙江"),
}


@pytest.mark.parametrize("details", [False, True], ids=["official", "details"])
@pytest.mark.parametrize("case", sorted(STRESS))
def test_stress_cases_fit_one_page_and_extract_back(case: str, details: bool) -> None:
    data = STRESS[case]()
    plan, rendered = render(data, details=details)
    sizes = page_sizes(rendered.pdf)
    assert all(is_a4(s) for s in sizes)
    texts = page_texts(rendered.pdf)
    for page, sheet in zip(sheet_pages(rendered), plan.sheets, strict=True):
        text = texts[page]
        assert plan.applicant.host.name in text
        for domain in sheet.website.domains:
            assert domain.name in text
        # The official form has no address or website name; --details prints them.
        assert (plan.applicant.host.address in text) is details
        assert (sheet.website.name in text) is details
    fits = {f.field: f.status for job in rendered.jobs for f in job.fits}
    assert fits["website.domains"] in ("shrunk", "continued")


def test_rare_characters_extract_back_exactly() -> None:
    _plan, rendered = render(stress_personal("江西"), details=True)
    text = page_texts(rendered.pdf)[sheet_pages(rendered)[0]]
    assert "张𠮷䶮" in text and "𠮷䶮的技术笔记" in text
    document = pdfium.PdfDocument(rendered.pdf)  # a second reader agrees
    try:
        page = document[sheet_pages(rendered)[0]]
        assert "张𠮷䶮" in page.get_textpage().get_text_bounded().replace("\r\n", "")
    finally:
        document.close()


def test_domains_continue_in_the_remarks_when_the_box_is_full() -> None:
    # Guangdong personal has the smallest domain box and remarks (room for the commitment).
    data = stress_personal("广东")
    data = edit(data, "websites[0].domains",
                [{"name": d, "registrar": "某某注册商有限公司"} for d in LONG_DOMAINS])
    _plan, rendered = render(data, details=True)
    fits = {f.field: f for job in rendered.jobs for f in job.fits
            if job.first_page in sheet_pages(rendered)}  # the website plan lists them too
    assert fits["website.domains"].status == "continued"
    text = page_texts(rendered.pdf)[sheet_pages(rendered)[0]]
    assert "网站域名（续）" in text
    assert all(d in text for d in LONG_DOMAINS)


def test_values_land_inside_their_boxes() -> None:
    plan, rendered = render(example("guangdong-unit"), details=True)
    sheet = sheet_context(plan, plan.sheets[0], details=True)
    layout = get_layout(bundled(), sheet.template, sheet.context)
    values = sheet.values()
    document = pdfium.PdfDocument(rendered.pdf)
    try:
        textpage = document[sheet_pages(rendered)[0]].get_textpage()
        checked = 0
        for field in layout.fields:
            value = values.get(field.path, "")
            if field.kind != "text" or not value or "\n" in value:
                continue
            box = field.box
            inside = textpage.get_text_bounded(box.x - 1, box.y - 1, box.x + box.width + 1,
                                               box.y + box.height + 1)
            assert inside.replace("\r\n", "").strip() == value, field.path
            checked += 1
        assert checked >= 12
    finally:
        document.close()


def test_a_value_that_cannot_fit_is_refused_with_its_path() -> None:
    data = edit(unit(), "websites[0].domains",
                [{"name": d, "registrar": "某某" * 40} for d in LONG_DOMAINS])
    with pytest.raises(DoesNotFitError) as caught:
        render(data, details=True)
    assert [p.path for p in caught.value.problems] == ["websites[0].domains"]
    assert caught.value.exit_code == ExitCode.DOES_NOT_FIT


def test_a_character_no_font_has_is_refused_naming_field_and_character() -> None:
    data = edit(personal(), "host.address", "江西省南昌市😀路 1 号")
    with pytest.raises(FontError) as caught:
        render(data)
    problem = caught.value.problems[0]
    assert problem.path == "host.address"
    assert "U+1F600" in problem.message
    assert caught.value.exit_code == ExitCode.TEMPLATE_OR_FONT


def test_copies_and_no_cover() -> None:
    _plan, rendered = render(example("beijing-unit-two-websites"), cover=False, copies=2)
    assert rendered.pages == 4
    texts = page_texts(rendered.pdf)
    assert all(TITLE in t for t in texts)
    assert texts[0].count("北京") >= 1 and texts[0] == texts[1]
    assert "备案材料清单" not in "".join(texts)


def test_qr_code_can_be_turned_off() -> None:
    _, with_qr = render(personal())
    _, without = render(personal(), qr=False)
    assert len(without.pdf) < len(with_qr.pdf)
    fields = {f.field for job in without.jobs for f in job.fits}
    assert "sheet.ref" in fields  # the reference text stays


# --- the command line ---------------------------------------------------------------------------

def test_fill_writes_the_default_name_and_prints_it(tmp_path: Any) -> None:
    source = EXAMPLES / "jiangxi-personal.json"
    result = run_cli("fill", str(source), cwd=tmp_path)
    assert result.code == 0, result.stderr
    ref = json.loads(source.read_text("utf-8"))["ref"]
    assert result.text.strip() == f"{ref}.pdf"
    assert (tmp_path / f"{ref}.pdf").read_bytes().startswith(b"%PDF-")
    assert not list(tmp_path.glob(".*.part"))


def test_fill_reads_stdin_and_writes_stdout() -> None:
    data = (EXAMPLES / "zhejiang-personal.json").read_bytes()
    result = run_cli("fill", "-", "-o", "-", stdin=data)
    assert result.code == 0, result.stderr
    assert result.stdout.startswith(b"%PDF-") and result.stdout.rstrip().endswith(b"%%EOF")


def test_fill_json_report(tmp_path: Any) -> None:
    out = tmp_path / "a.pdf"
    result = run_cli("fill", str(EXAMPLES / "guangdong-unit.json"), "-o", str(out), "--json")
    assert result.code == 0, result.stderr
    report = json.loads(result.text)
    assert report["ok"] is True and report["outputs"] == [str(out)]
    assert report["variant"] == "guangdong" and report["pages"] == len(page_sizes(
        out.read_bytes()))
    sheet = report["sheets"][-1]
    assert {"path", "field", "status", "size", "lines"} <= set(sheet["fit"][0])


@pytest.mark.parametrize(("data", "code"), [
    (lambda: edit(personal(), "websites[0].manager.mobile", "12345"), ExitCode.INVALID_DATA),
    (lambda: edit(unit(), "websites[0].domains",
                  [{"name": d, "registrar": "某某" * 40} for d in LONG_DOMAINS]),
     ExitCode.DOES_NOT_FIT),
    (lambda: edit(personal(), "host.address", "😀"), ExitCode.TEMPLATE_OR_FONT),
])
def test_fill_exit_codes_and_json_errors(tmp_path: Any, data: Any, code: int) -> None:
    payload = json.dumps(data(), ensure_ascii=False).encode()
    # --details: the detailed form has the smallest domain box (the official form's holds
    # these domains by continuing them in its larger remarks).
    result = run_cli("fill", "-", "-o", str(tmp_path / "x.pdf"), "--json", "--details",
                     stdin=payload)
    assert result.code == code, result.stderr
    report = json.loads(result.text)
    assert report["ok"] is False and report["errors"][0]["path"]
    assert result.stderr.startswith("sheetgen: error: ")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_preview_writes_a_png_per_page(tmp_path: Any) -> None:
    result = run_cli("preview", str(EXAMPLES / "jiangxi-personal.json"), "-o",
                     str(tmp_path / "p.png"), "--no-cover")
    assert result.code == 0, result.stderr
    assert result.text.split() == [str(tmp_path / "p.png")]
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("name", [n for n in EXAMPLE_NAMES if len(example(n)["websites"]) == 1])
def test_a_single_sheet_pdf_is_at_most_80_kb(name: str) -> None:
    _, rendered = render(example(name), cover=False)
    assert rendered.pages == 1
    assert len(rendered.pdf) <= 80 * 1024, len(rendered.pdf)


def test_every_context_key_is_documented_for_template_authors() -> None:
    """templates/README.md lists what a sheet template receives (sheetgen.documents.context promises
    this test): every key of every example's sheet context, ``principal.*`` as one."""
    import re
    from pathlib import Path

    from sheetgen.documents.context import flatten

    readme = (Path(__file__).parent.parent / "templates" / "README.md").read_text("utf-8")
    documented = set(re.findall(r"`([a-z_]+(?:\.[a-z_*]+)+)`", readme))
    for path in sorted(EXAMPLES.glob("*.json")):
        plan = plan_input(path.read_bytes(), source=path.name)
        context = sheet_context(plan, plan.sheets[0]).context
        keys = {key for key, _ in flatten(context)} | {f"flags.{flag}" for flag in context["flags"]}
        assert {key for key in keys if key not in documented
                and f"{key.split('.')[0]}.*" not in documented} == set(), path.name
