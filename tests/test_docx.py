"""Editable Word output (issue 6): DOCX sheets and cover from the PDF's context, fitted, strict,
one A4 page each in LibreOffice."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sheetgen.documents.context import SheetContext, sheet_context
from sheetgen.documents.cover import cover_context
from sheetgen.documents.jobs import RenderOptions
from sheetgen.documents.plan import FilingPlan
from sheetgen.errors import DoesNotFitError, ExitCode, TemplateError
from sheetgen.pipeline import plan_input
from sheetgen.rendering.docx.document import (
    DocxFile,
    docx_template_name,
    read_package,
    render_document,
    render_docx,
    write_package,
)
from sheetgen.rendering.pdf.document import render_pdf
from sheetgen.rendering.templating import TemplateSet
from sheetgen.resources import fonts_dir, templates_dir
from tests.applicants import edit, example, personal, unit
from tests.conftest import EXAMPLES, REPO, run_cli
from tests.pdfs import page_sizes, page_texts
from tests.test_sheets import LONG_DOMAINS, STRESS

EXAMPLE_NAMES = sorted(p.stem for p in EXAMPLES.glob("*.json"))
TITLE = "网站备案信息真实性核验单"
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def plan_of(data: dict[str, Any]) -> FilingPlan:
    return plan_input(json.dumps(data, ensure_ascii=False).encode(), source="test")


def docx_text(data: bytes) -> str:
    """The text of a Word file as python-docx reads it: every paragraph, in tables too."""
    from docx import Document
    from docx.text.paragraph import Paragraph

    document = Document(io.BytesIO(data))
    return "\n".join(Paragraph(p, document).text
                     for p in document.element.body.iter(W + "p"))


def squeeze(text: str) -> str:
    """Text without whitespace: lines wrap at different places in the PDF and the DOCX."""
    return re.sub(r"\s+", "", text)


def sheets(files: list[DocxFile]) -> list[DocxFile]:
    return [f for f in files if f.name.startswith("sheet")]


# --- the templates are generated ---------------------------------------------------------------

def test_committed_templates_are_what_the_build_tool_makes() -> None:
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "build_docx_templates.py"),
                           "--check"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr


def test_packages_are_deterministic() -> None:
    parts = {"word/document.xml": b"<a/>", "[Content_Types].xml": b"<b/>"}
    first = write_package(parts)
    assert first == write_package(dict(reversed(parts.items())))
    with zipfile.ZipFile(io.BytesIO(first)) as package:
        assert package.namelist()[0] == "[Content_Types].xml"
        assert {i.date_time for i in package.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    plan = plan_of(example("guangdong-unit"))
    assert [f.data for f in render_docx(plan)] == [f.data for f in render_docx(plan)]


def test_every_page_template_has_a_docx_template() -> None:
    from sheetgen.documents.cover import TEMPLATE
    from sheetgen.rules import load_rules

    used = {TEMPLATE} | {f"{stem}.html" for variant in load_rules().variants.values()
                         for stem in (variant.templates.unit, variant.templates.personal)}
    for html in used:
        assert (templates_dir() / html).is_file(), html
        assert (templates_dir() / docx_template_name(html)).is_file(), html


def test_templates_name_the_bundled_fonts_by_their_family_names() -> None:
    from fontTools.ttLib import TTFont

    from sheetgen.rendering.docx.document import SUPPLEMENT_FAMILY
    from sheetgen.resources import FONT_FILES

    families = set()
    for filename in FONT_FILES.values():
        with TTFont(fonts_dir() / filename, lazy=True) as font:
            families.add(str(font["name"].getDebugName(1)))
    assert SUPPLEMENT_FAMILY in families
    for template in templates_dir().rglob("*.docx"):
        named = {name.decode() for part in read_package(template.read_bytes()).values()
                 for element in re.findall(rb"<w:rFonts [^>]*>", part)
                 for name in re.findall(rb'w:(?:ascii|eastAsia)="([^"]+)"', element)}
        assert "Noto Serif SC" in named and named <= families, (template, named)


# --- same text as the PDF -----------------------------------------------------------------------

@pytest.fixture(scope="module", params=[(name, details) for name in EXAMPLE_NAMES
                                        for details in (False, True)],
                ids=lambda p: f"{p[0]}{'-details' if p[1] else ''}")
def both(request: pytest.FixtureRequest
         ) -> tuple[str, FilingPlan, list[str], list[DocxFile], bool]:
    """An example rendered to PDF and DOCX, the official form or with --details: (name, plan,
    text of each PDF job, Word files, details)."""
    name, details = request.param
    plan = plan_of(example(name))
    options = RenderOptions(details=details)
    rendered = render_pdf(plan, options)
    pages = page_texts(rendered.pdf)
    texts = ["".join(pages[job.first_page:job.first_page + job.pages]) for job in rendered.jobs]
    return name, plan, texts, render_docx(plan, options), details


def contexts(plan: FilingPlan, details: bool = False) -> list[SheetContext]:
    return [cover_context(plan), *(sheet_context(plan, s, details=details) for s in plan.sheets)]


def test_pdf_and_docx_carry_the_same_values(both: Any) -> None:
    _, plan, pdf_texts, files, details = both
    assert [f.name for f in files] == ["cover", *(f"sheet{n}" for n in
                                                  range(1, len(plan.sheets) + 1))]
    for context, pdf_text, document in zip(contexts(plan, details), pdf_texts, files,
                                           strict=True):
        pdf, word = squeeze(pdf_text), squeeze(docx_text(document.data))
        printed = 0
        for path, value in context.values().items():
            for line in filter(None, (squeeze(v) for v in value.split("\n"))):
                assert (line in pdf) == (line in word), (document.name, path, line)
                printed += line in word
        assert printed >= (8 if details or document.name == "cover" else 3), document.name
    for sheet, document in zip(plan.sheets, sheets(files), strict=True):
        word = squeeze(docx_text(document.data))
        for value in (plan.applicant.host.name, *(d.name for d in sheet.website.domains)):
            assert squeeze(value) in word, value
        # The official form has no address, website name or mobile; --details prints them.
        for value in (plan.applicant.host.address, sheet.website.name,
                      sheet.website.manager.mobile):
            assert (squeeze(value) in word) is details, value


def test_labels_and_boxes_follow_the_rules(both: Any) -> None:
    name, plan, _, files, _ = both
    for sheet, document in zip(plan.sheets, sheets(files), strict=True):
        text = docx_text(document.data)
        assert TITLE in text
        for label in ("网站主办者基本信息", "网站备案信息核验内容", "网站备案信息核验承诺",
                      "网站负责人签字", "核验人员签字", "网站主办者名称", "网站域名", "备　　注"):
            assert label in text, label
        heading = text.split(TITLE)[0]
        assert ("广东" in heading) == (sheet.variant == "guangdong")
        assert ("按手印处" in text) == (name == "jiangxi-personal")
        assert ("单位公章" in text) == plan.unit
        assert ("个体工商户无公章" in text) == plan.has_no_seal
        assert ("单位证件资质" in text) == plan.unit
        assert ("网站负责人座机号码报备信息是否正确" in text) == (plan.unit or sheet.landline)
        assert ("虚线下方" in text) == (name == "guangdong-personal")
        assert text.count("□是") >= 7  # the verifier's boxes, empty
        # The dates are left blank for hand writing.
        assert text.count("日期：　　　　年　　月　　日") == 2
        assert "{{" not in text and "{%" not in text


def test_cover_is_its_own_file(both: Any) -> None:
    _, plan, _, files, _ = both
    cover = docx_text(files[0].data)
    assert "备案材料清单" in cover and plan.applicant.host.name in cover
    assert ("手写承诺" in cover) == ("commitment" in plan.flags)
    without = render_docx(plan, RenderOptions(cover=False))
    assert [f.name for f in without] == [f.name for f in sheets(files)]


def test_filing_password_is_never_written() -> None:
    secret = "Pw-docx-NEVER-PRINTED"
    files = render_docx(plan_of(edit(example("shanghai-new-access"),
                                     "access.filing_password", secret)))
    for document in files:
        assert all(secret.encode() not in part
                   for part in read_package(document.data).values())


# --- data cannot inject markup or template code -------------------------------------------------

INJECTIONS = ["</w:t><w:t>", "<b>粗</b>", "&amp;", "{{7*7}}", "{% raw %}", "{_{ x }_}",
              "{#c#}", "]]>", '"\'']


def test_data_prints_literally() -> None:
    text = "".join(INJECTIONS)
    data = edit(personal(), "host.address", f"江西省南昌市 {text}")
    data = edit(data, "websites[0].name", f"笔记 {INJECTIONS[0]} {INJECTIONS[3]}")
    files = render_docx(plan_of(data), RenderOptions(details=True))
    word = docx_text(files[1].data)
    assert f"江西省南昌市 {text}" in word.replace("\n", "")
    assert "49" not in word
    assert f"笔记 {INJECTIONS[0]} {INJECTIONS[3]}" in word
    document = read_package(files[1].data)["word/document.xml"].decode()
    assert "<b>" not in document and "<w:t><w:t>" not in document


def test_data_prints_literally_in_running_text(tmp_path: Path) -> None:
    """Values outside field cells (a cover may print them in running text) are escaped by
    the strict environment's autoescape."""
    templates = copy_templates(tmp_path, "common/cover.docx",
                               "请按本清单准备材料", "请按本清单准备材料{{ cover.host_name }}")
    data = edit(unit(), "host.name", "北京<b>&amp;{{7*7}}公司")
    plan = plan_of(data)
    document = render_document(cover_context(plan), templates, name="cover", title="t",
                               one_page=False)
    assert "请按本清单准备材料北京<b>&amp;{{7*7}}公司" in docx_text(document.data)


# --- strict templates ---------------------------------------------------------------------------

def copy_templates(tmp_path: Path, name: str, old: str, new: str) -> TemplateSet:
    """The bundled templates with one text replaced in ``name``'s document.xml."""
    root = tmp_path / "templates"
    shutil.copytree(templates_dir(), root)
    parts = read_package((root / name).read_bytes())
    xml = parts["word/document.xml"].decode()
    assert old in xml, old
    parts["word/document.xml"] = xml.replace(old, new, 1).encode()
    (root / name).write_bytes(write_package(parts))
    return TemplateSet(root)


@pytest.mark.parametrize(("old", "new", "name"), [
    ("{{ host.name }}", "{{ host.nme }}", "host.nme"),  # a field
    ("{%tr if flags.landline_check %}", "{%tr if flags.landlne %}", "flags.landlne"),  # a flag
    # in the foot a unit's sheet prints (under {%p if flags.unit %}, converted per flags)
    ("单位须加盖公章", "单位须加盖公章{{ hostx }}", "hostx"),
])
def test_an_unknown_variable_is_an_error_naming_it(tmp_path: Path, old: str, new: str,
                                                   name: str) -> None:
    templates = copy_templates(tmp_path, "public/sheet.docx", old, new)
    plan = plan_of(personal())  # not a unit: the branch with hostx is never taken
    with pytest.raises(TemplateError) as caught:
        render_docx(plan, RenderOptions(templates=templates))
    assert name in caught.value.message
    assert caught.value.exit_code == ExitCode.TEMPLATE_OR_FONT


def test_unknown_variable_through_the_cli(tmp_path: Path) -> None:
    copy_templates(tmp_path, "public/sheet.docx", "{{ host.name }}", "{{ host.nme }}")
    result = run_cli("fill", str(EXAMPLES / "zhejiang-personal.json"), "--format", "docx",
                     "--templates", str(tmp_path / "templates"), "-o", str(tmp_path / "o.pdf"))
    assert result.code == ExitCode.TEMPLATE_OR_FONT, result.stderr
    assert "host.nme" in result.stderr
    assert not list(tmp_path.glob("o*"))


def test_a_sheet_value_outside_a_fitted_cell_is_refused(tmp_path: Path) -> None:
    templates = copy_templates(tmp_path, "public/sheet.docx", "网站主办者基本信息",
                               "网站主办者基本信息{{ host.name }}")
    with pytest.raises(TemplateError) as caught:
        render_docx(plan_of(personal()), RenderOptions(templates=templates, cover=False))
    assert "host.name" in caught.value.message and "cell" in caught.value.message


def test_a_failing_docx_template_is_a_template_error(tmp_path: Path) -> None:
    templates = copy_templates(tmp_path, "public/sheet.docx", "网站主办者基本信息",
                               "网站主办者基本信息{{ 1 / 0 }}")
    with pytest.raises(TemplateError, match="ZeroDivisionError") as caught:
        render_docx(plan_of(personal()), RenderOptions(templates=templates, cover=False))
    assert caught.value.exit_code == 5


def test_a_missing_docx_template_is_a_template_error(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    shutil.copytree(templates_dir(), root)
    (root / "public" / "sheet.docx").unlink()
    with pytest.raises(TemplateError, match=r"public/sheet\.docx"):
        render_docx(plan_of(personal()), RenderOptions(templates=TemplateSet(root)))


# --- long values --------------------------------------------------------------------------------

def test_long_values_shrink_and_extract_back() -> None:
    for case in sorted(STRESS):
        plan = plan_of(STRESS[case]())
        files = render_docx(plan, RenderOptions(details=True))
        word = squeeze(docx_text(sheets(files)[0].data))
        for value in (plan.applicant.host.name, plan.applicant.host.address,
                      plan.sheets[0].website.name, *LONG_DOMAINS):
            assert squeeze(value) in word, (case, value)
        fits = {f.field: f for f in sheets(files)[0].fits}
        assert fits["website.domains"].status in ("shrunk", "continued"), case
        assert fits["host.address"].status == "shrunk", case


def long_registrars(registrar: str) -> dict[str, Any]:
    return edit(unit(), "websites[0].domains",
                [{"name": d, "registrar": registrar} for d in LONG_DOMAINS])


def test_domains_continue_in_the_remarks(tmp_path: Path) -> None:
    # The bundled domain cell holds ten long domains; a template with a smaller one makes
    # them continue in the 备注 cell (the detailed block's domain row: sheet.css's 28 mm box,
    # its padding and rule).
    templates = copy_templates(tmp_path, "public/sheet.docx",
                               '<w:trHeight w:val="1659" w:hRule="exact"/>',
                               '<w:trHeight w:val="900" w:hRule="exact"/>')
    files = render_docx(plan_of(STRESS["personal-zhejiang"]()),
                        RenderOptions(cover=False, templates=templates, details=True))
    fits = {f.field: f for f in files[0].fits}
    assert fits["website.domains"].status == "continued"
    text = docx_text(files[0].data)
    remarks = text.split("备　　注")[1]
    assert "网站域名（续）：" in remarks
    assert all(d in squeeze(text) for d in LONG_DOMAINS)


def test_a_value_that_cannot_fit_is_refused_with_its_path() -> None:
    with pytest.raises(DoesNotFitError) as caught:
        render_docx(plan_of(long_registrars("某某" * 40)), RenderOptions(details=True))
    assert [p.path for p in caught.value.problems] == ["websites[0].domains"]
    assert caught.value.exit_code == ExitCode.DOES_NOT_FIT


def test_fitted_sizes_are_written_into_the_document() -> None:
    files = render_docx(plan_of(STRESS["unit-beijing"]()), RenderOptions(cover=False))
    fits = {f.field: f for f in files[0].fits}
    xml = read_package(files[0].data)["word/document.xml"].decode()
    size = round(fits["website.domains"].size * 2)
    line = round(fits["website.domains"].size * 1.2 * 20)
    assert f'<w:spacing w:before="0" w:after="0" w:line="{line}" w:lineRule="exact"/>' in xml
    assert f'<w:sz w:val="{size}"/>' in xml
    assert "_fit" not in xml


# --- the command line ---------------------------------------------------------------------------

def test_fill_writes_pdf_and_word_files_and_lists_them(tmp_path: Path) -> None:
    out = tmp_path / "out.pdf"
    result = run_cli("fill", str(EXAMPLES / "beijing-unit-two-websites.json"), "--format",
                     "pdf,docx", "-o", str(out), "--json")
    assert result.code == 0, result.stderr
    report = json.loads(result.text)
    expected = [out, *(tmp_path / f"out-{n}.docx" for n in ("cover", "sheet1", "sheet2"))]
    assert report["outputs"] == [str(p) for p in expected]
    assert all(p.is_file() for p in expected)
    assert [d["name"] for d in report["docx"]] == ["cover", "sheet1", "sheet2"]
    assert report["variant"] == "public" and len(report["sheets"]) == 3  # the PDF's jobs
    assert not list(tmp_path.glob(".*.part"))


def test_fill_docx_only_prints_each_path(tmp_path: Path) -> None:
    result = run_cli("fill", str(EXAMPLES / "jiangxi-personal.json"), "--format", "docx",
                     "--no-cover", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.text.split() == ["JX-2026-0005-sheet1.docx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["JX-2026-0005-sheet1.docx"]


@pytest.mark.parametrize("args", [["--format", "docx", "-o", "-"],
                                  ["--format", "odt"], ["--format", ""]])
def test_format_usage_errors(tmp_path: Path, args: list[str]) -> None:
    result = run_cli("fill", str(EXAMPLES / "jiangxi-personal.json"), *args, cwd=tmp_path)
    assert result.code == ExitCode.USAGE, result.stderr
    assert "sheetgen: error:" in result.stderr
    assert not list(tmp_path.iterdir())


def test_does_not_fit_through_the_cli(tmp_path: Path) -> None:
    source = tmp_path / "long.json"
    source.write_text(json.dumps(long_registrars("某某" * 40), ensure_ascii=False), "utf-8")
    result = run_cli("fill", str(source), "--format", "docx", "-o", str(tmp_path / "o.pdf"),
                     "--details")  # the detailed form: the smallest domain cell
    assert result.code == ExitCode.DOES_NOT_FIT
    assert "websites[0].domains" in result.stderr
    assert not list(tmp_path.glob("o*"))


def test_importing_sheetgen_does_not_import_docxtpl() -> None:
    code = ("import sys, sheetgen, sheetgen.cli, sheetgen.pipeline, "
            "sheetgen.rendering.docx.document; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('docxtpl', 'docx')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert proc.stdout.strip() == "[]"


# --- LibreOffice: every DOCX opens and prints on one A4 page ------------------------------------

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def lo_cases() -> dict[str, dict[str, Any]]:
    cases = {name: example(name) for name in EXAMPLE_NAMES}
    cases |= {f"stress-{name}": make() for name, make in STRESS.items()}
    cases["stress-registrars"] = long_registrars("某某" * 12)
    return cases


@pytest.mark.skipif(SOFFICE is None and not os.environ.get("SHEETGEN_REQUIRE_LIBREOFFICE"),
                    reason="LibreOffice (soffice) is not installed: apt-get install "
                           "libreoffice-writer-nogui (make test does it when run as root)")
def test_libreoffice_prints_every_docx_on_one_a4_page(tmp_path: Path) -> None:
    # .ci/run sets SHEETGEN_REQUIRE_LIBREOFFICE: there a missing LibreOffice fails the test.
    assert SOFFICE is not None, "LibreOffice (soffice) is required here but not installed"
    sources = tmp_path / "docx"
    sources.mkdir()
    expected: dict[str, list[str]] = {}
    for case, data in lo_cases().items():
        # The official form, and with --details (the detailed block, smaller boxes).
        documents = [*render_docx(plan_of(data)),
                     *(replace(d, name=f"details-{d.name}") for d in render_docx(
                         plan_of(data), RenderOptions(details=True, cover=False)))]
        for document in documents:
            path = sources / f"{case}-{document.name}.docx"
            path.write_bytes(document.data)
            expected[path.stem] = [v for v in (data["host"]["name"],) if v]
    # The bundled fonts, visible to LibreOffice through fontconfig (as to a Word user who
    # installed them): without them it would lay the sheets out with substitutes.
    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        f"  <dir>{fonts_dir()}</dir>\n  <cachedir>{tmp_path / 'fontconfig'}</cachedir>\n"
        "</fontconfig>\n", "utf-8")
    out = tmp_path / "pdf"
    # One soffice for every file: it takes seconds to start.
    proc = subprocess.run(
        [SOFFICE, "--headless", "--norestore",
         f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
         "--convert-to", "pdf", "--outdir", str(out), *sorted(map(str, sources.iterdir()))],
        capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "FONTCONFIG_FILE": str(config), "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    problems = []
    for stem, values in sorted(expected.items()):
        pdf = out / f"{stem}.pdf"
        if not pdf.is_file():
            problems.append(f"{stem}: not converted")
            continue
        data = pdf.read_bytes()
        sizes = page_sizes(data)
        limit = 2 if stem.endswith("-cover") else 1
        if not 1 <= len(sizes) <= limit or (not stem.endswith("-cover") and len(sizes) != 1):
            problems.append(f"{stem}: {len(sizes)} pages")
        if any(abs(w - 595.3) > 1 or abs(h - 841.9) > 1 for w, h in sizes):
            problems.append(f"{stem}: not A4: {sizes}")
        text = squeeze("".join(page_texts(data)))
        problems += [f"{stem}: {v!r} missing" for v in values if squeeze(v) not in text]
        fonts = embedded_fonts(data)
        if not any("NotoSerifSC" in f for f in fonts):
            problems.append(f"{stem}: body font not used: {sorted(fonts)}")
    assert not problems, "\n".join(problems)


def embedded_fonts(pdf: bytes) -> set[str]:
    from tests.pdfs import reader

    return {str(font.get_object()["/BaseFont"]) for page in reader(pdf).pages
            for font in (page["/Resources"].get("/Font") or {}).values()}
