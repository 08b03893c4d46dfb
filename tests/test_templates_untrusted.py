"""Untrusted templates (issue 15): a ``--templates DIR`` is code, and it runs in a sandbox.

The hostile templates are fixtures in ``tests/fixtures/hostile/templates/``; each replaces
``public/sheet.html`` in a copy of the bundled set, and its first line says what it tries and
what the error must say. Before issue 15 a template could run ``id``, print ``/etc/passwd``,
walk the stack to the applicant's filing password, and, through the layout cache, put the first
applicant's password on a later applicant's sheet.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import zlib
from pathlib import Path
from typing import Any

import pytest

from sheetgen.documents.jobs import RenderOptions, sheet_jobs
from sheetgen.errors import TemplateError
from sheetgen.pipeline import plan_input
from sheetgen.rendering.docx.document import read_package, render_docx, write_package
from sheetgen.rendering.pdf import layout
from sheetgen.rendering.pdf.document import render_pdf
from sheetgen.rendering.templating import Blank, TemplateSet, template_name
from sheetgen.resources import templates_dir
from tests.applicants import ID_TJ, SECRET, edit, personal
from tests.conftest import REPO, run_cli
from tests.pdfs import page_texts

HOSTILE = REPO / "tests" / "fixtures" / "hostile" / "templates"
REFUSED = sorted(p for p in HOSTILE.glob("*.html") if p.stem != "harmless-probe")
#: What must never come out of a hostile template: the planted password, `id`'s output,
#: /etc/passwd's first entry.
LEAKS = (SECRET, "uid=", "root:x:0:0")


def expectation(path: Path) -> str:
    """The fragment the error must contain, from the fixture's first line."""
    found = re.match(r"\{# tries: .* \| expect: (.*) #\}", path.read_text("utf-8").splitlines()[0])
    assert found, path
    return found.group(1)


def hostile_set(tmp_path: Path, fixture: Path, target: str = "public/sheet.html") -> Path:
    """A copy of the bundled templates with ``target`` replaced by ``fixture``."""
    root = tmp_path / "templates"
    shutil.copytree(templates_dir(), root)
    shutil.copy(fixture, root / target)
    if fixture.stem == "escape-include-symlink":
        (root / "common" / "link.html").symlink_to("/etc/passwd")
    return root


def plan(data: dict[str, Any] | None = None) -> Any:
    return plan_input(json.dumps(data or personal(), ensure_ascii=False).encode(),
                      source="test")


def no_leak(*outputs: bytes | str) -> None:
    for output in outputs:
        text = output if isinstance(output, str) else output.decode("latin-1")
        for leak in LEAKS:
            assert leak not in text


def test_there_are_hostile_templates() -> None:
    kinds = {p.stem.split("-")[0] for p in REFUSED}
    assert kinds == {"escape", "page", "field"} and len(REFUSED) >= 20


@pytest.mark.parametrize("fixture", REFUSED, ids=[p.stem for p in REFUSED])
def test_a_hostile_template_is_a_template_error_with_file_and_line(
        fixture: Path, tmp_path: Path) -> None:
    root = hostile_set(tmp_path, fixture)
    with pytest.raises(TemplateError) as caught:
        render_pdf(plan(), RenderOptions(templates=TemplateSet(root), cover=False))
    error = caught.value
    assert error.exit_code == 5
    assert expectation(fixture) in error.message
    assert re.search(r"public/sheet\.html line \d+", error.message), error.message
    no_leak(error.message, error.hint or "", repr(error.as_dict()))


@pytest.mark.parametrize("name", ["escape-popen", "escape-frames", "escape-open"])
def test_the_cli_refuses_a_hostile_template_with_exit_5_and_prints_nothing_it_reached(
        name: str, tmp_path: Path) -> None:
    root = hostile_set(tmp_path, HOSTILE / f"{name}.html")
    source = tmp_path / "me.json"
    source.write_text(json.dumps(personal(), ensure_ascii=False), "utf-8")
    result = run_cli("fill", str(source), "-o", str(tmp_path / "out.pdf"), "--templates",
                     str(root), "--json")
    assert result.code == 5, result.stderr
    assert json.loads(result.stdout)["code"] == "template"
    assert "public/sheet.html line" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.pdf").exists()
    no_leak(result.stdout, result.stderr)


def test_a_layout_holds_no_record_data_and_is_shared_by_records_of_one_structure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe prints everything a template can reach; none of it is a record's value."""
    monkeypatch.setenv("SHEETGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(layout, "_cache", {})
    seen: list[dict[str, Any]] = []
    real_render = TemplateSet.render

    def spy(self: TemplateSet, name: str, context: Any) -> str:
        seen.append(copy.copy(context))
        return real_render(self, name, context)

    monkeypatch.setattr(TemplateSet, "render", spy)
    root = hostile_set(tmp_path, HOSTILE / "harmless-probe.html")
    first = edit(edit(personal(), "host.name", "司马相如"), "websites[0].manager.name", "司马相如")
    second = edit(edit(edit(personal(), "host.name", "诸葛孔明"), "websites[0].manager.name",
                       "诸葛孔明"), "access.filing_password", "Other-Secret-42")
    second = edit(edit(second, "host.certificate.number", ID_TJ),
                  "websites[0].manager.certificate.number", ID_TJ)
    # A Tianjin ID filing in Jiangxi needs a Jiangxi residence permit (certificate_not_local).
    second = edit(second, "host.residence_permit", "江西")
    templates = TemplateSet(root)
    options = RenderOptions(templates=templates, cover=False)
    one = render_pdf(plan(first), options)
    layout._cache.clear()  # the second record finds the first one's layout on disk
    two = render_pdf(plan(second), options)
    # Every context a template saw was blank outside flags and rules.
    assert seen
    for context in seen:
        for key, value in context.items():
            if key not in layout.STATIC_KEYS:
                assert all(isinstance(v, Blank) for v in value.values()), key
    sheets = [sheet_jobs(plan(data), options)[0].sheet for data in (first, second)]
    background_one, background_two = (
        layout.get_layout(templates, sheet.template, sheet.context).background
        for sheet in sheets)
    assert background_one == background_two
    assert len(seen) == 1  # compiled once, for both records
    for pdf in (background_one, background_two):
        text = "".join(page_texts(pdf))
        assert "司马相如" not in text and "诸葛孔明" not in text and "13800000000" not in text
    assert "诸葛孔明" not in "".join(page_texts(one.pdf))
    assert "司马相如" not in "".join(page_texts(two.pdf))
    for pdf in (one.pdf, two.pdf, background_one):
        assert SECRET.encode() not in pdf and b"Other-Secret-42" not in pdf
        assert SECRET not in "".join(page_texts(pdf))


def test_the_layout_key_ignores_values_and_covers_the_blank_context() -> None:
    templates = TemplateSet(templates_dir())
    a = {"host": {"name": "张三"}, "flags": {"unit": False}, "rules": {"label": "x"}}
    b = {"host": {"name": "李四"}, "flags": {"unit": False}, "rules": {"label": "x"}}
    assert layout.layout_key(templates, "t.html", a) == layout.layout_key(templates, "t.html", b)
    more = {**a, "host": {"name": "张三", "nickname": "三"}}
    assert layout.layout_key(templates, "t.html", more) != layout.layout_key(templates, "t.html",
                                                                               a)


def test_compile_layout_blanks_whatever_it_is_given(tmp_path: Path) -> None:
    (tmp_path / "t.html").write_text(
        "<style>@page { size: A4 }</style>"
        '<div style="width: 50mm; height: 5mm" data-field="host.name">{{ host.name }}</div>'
        "{{ host.list }}", "utf-8")
    compiled = layout.compile_layout(
        TemplateSet(tmp_path), "t.html",
        {"host": {"name": "司马相如", "list": ["司马相如"]}, "flags": {}}, key="k")
    assert "司马相如" not in "".join(page_texts(compiled.background))


# --- the loader ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["/etc/passwd", "../x.html", "a/../../x.html", "a//b.html",
                                  "a\\b.html", "./a.html", "", "a/", "a\0b"])
def test_a_template_name_leaving_the_set_is_refused(name: str) -> None:
    with pytest.raises(TemplateError, match="not a path inside the template set"):
        template_name(name)


def test_links_inside_the_set_work_and_links_out_of_it_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "set"
    (root / "inner").mkdir(parents=True)
    (root / "inner" / "part.html").write_text("部分", "utf-8")
    (root / "alias.html").symlink_to(root / "inner" / "part.html")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.html").write_text(SECRET, "utf-8")
    (root / "out.html").symlink_to(outside / "secret.html")
    (root / "outdir").symlink_to(outside, target_is_directory=True)
    (root / "t.html").write_text('{% include "alias.html" %}', "utf-8")
    templates = TemplateSet(root)
    assert templates.render("t.html", {}) == "部分"
    for name in ("out.html", "outdir/secret.html"):
        (root / "t.html").write_text(f'{{% include "{name}" %}}', "utf-8")
        with pytest.raises(TemplateError, match="outside the template set") as caught:
            TemplateSet(root).render("t.html", {})
        assert SECRET not in caught.value.message
    # What a template cannot load is not part of the set, nor of its digest.
    assert templates.loader.list_templates() == ["alias.html", "inner/part.html", "t.html"]
    before = TemplateSet(root).digest
    (outside / "secret.html").write_text("changed", "utf-8")
    layout_digest = TemplateSet(root)
    assert layout_digest.digest == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_in_the_set_is_refused_not_waited_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.html")
    (tmp_path / "t.html").write_text('{% include "fifo.html" %}', "utf-8")
    with pytest.raises(TemplateError, match="not a regular file"):
        TemplateSet(tmp_path).render("t.html", {})
    assert TemplateSet(tmp_path).loader.list_templates() == ["t.html"]


def test_a_runtime_error_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "inc.html").write_text("a\nb\n{{ 1 / 0 }}\n", "utf-8")
    (tmp_path / "t.html").write_text('x\n{% include "inc.html" %}', "utf-8")
    with pytest.raises(TemplateError, match=r"inc\.html line 3 failed: ZeroDivisionError"):
        TemplateSet(tmp_path).render("t.html", {})


def test_a_refused_stylesheet_names_the_line_that_asks_for_it(tmp_path: Path) -> None:
    (tmp_path / "t.html").write_text(
        '<style>@page { size: A4 }</style>\n\n<link rel="stylesheet" href="../x.css">',
        "utf-8")
    (tmp_path.parent / "x.css").write_text("body { color: red }", "utf-8")
    with pytest.raises(TemplateError, match=r"t\.html line 3: .*may only load bundled"):
        layout.compile_layout(TemplateSet(tmp_path), "t.html", {"flags": {}}, key="k")


# --- DOCX templates --------------------------------------------------------------------------

def docx_set(tmp_path: Path, edit_xml: Any, name: str = "public/sheet.docx",
             extra: dict[str, bytes] | None = None) -> TemplateSet:
    root = tmp_path / "templates"
    shutil.copytree(templates_dir(), root)
    parts = read_package((root / name).read_bytes())
    parts["word/document.xml"] = edit_xml(parts["word/document.xml"].decode()).encode()
    parts.update(extra or {})
    (root / name).write_bytes(write_package(parts))
    return TemplateSet(root)


def replace_first(pattern: str, new: str) -> Any:
    def edit_xml(xml: str) -> str:
        changed, count = re.subn(pattern, new, xml, count=1)
        assert count == 1, pattern
        return changed
    return edit_xml


TITLE = r'(<w:t xml:space="preserve">)网站备案信息真实性核验单(</w:t>)'
# In running text (a title), not alone in a field cell, so that they reach the renderer.
ESCAPES = {
    "popen": "标题{{ lipsum.__globals__.os.popen('id').read() }}",
    "fit-internals": "标题{{ _fit._fitter._values }}",
    "fit-class": "标题{{ _fit.__class__.__init__.__globals__ }}",
    "string-class": "标题{{ rules.seal_label.__class__.__mro__ }}",
}


@pytest.mark.parametrize("attempt", sorted(ESCAPES))
def test_a_hostile_docx_template_is_refused_by_the_sandbox(attempt: str, tmp_path: Path) -> None:
    # Every title: the sheet's heading prints in rows of each flag combination (with the QR
    # code and without), and only the rendered branch runs.
    templates = docx_set(tmp_path, lambda xml: re.sub(
        TITLE, rf"\g<1>{ESCAPES[attempt]}\g<2>", xml))
    with pytest.raises(TemplateError, match="does what templates may not") as caught:
        render_docx(plan(), RenderOptions(templates=templates))
    assert caught.value.exit_code == 5
    no_leak(caught.value.message)


MEASURES = {
    "span-text": (r'<w:gridSpan w:val="2"/>', '<w:gridSpan w:val="abc"/>', "gridSpan"),
    "span-zero": (r'<w:gridSpan w:val="2"/>', '<w:gridSpan w:val="0"/>', "gridSpan"),
    "span-negative": (r'<w:gridSpan w:val="2"/>', '<w:gridSpan w:val="-1"/>', "gridSpan"),
    "span-5000-digits": (r'<w:gridSpan w:val="2"/>', f'<w:gridSpan w:val="1{"0" * 5000}"/>',
                         "gridSpan"),
    "span-past-the-grid": (r'<w:gridSpan w:val="11"/>', '<w:gridSpan w:val="40"/>',
                           "within the table's grid"),
    "col-text": (r'<w:gridCol w:w="\d+"/>', '<w:gridCol w:w="wide"/>', "gridCol"),
    "col-negative": (r'<w:gridCol w:w="\d+"/>', '<w:gridCol w:w="-5"/>', "gridCol"),
    "col-exponent": (r'<w:gridCol w:w="\d+"/>', '<w:gridCol w:w="1e9"/>', "gridCol"),
    "col-huge": (r'<w:gridCol w:w="\d+"/>', '<w:gridCol w:w="99999999"/>', "gridCol"),
    "no-grid": (r"<w:tblGrid>.*?</w:tblGrid>", "", "tblGrid"),
    "row-height": (r'(<w:trHeight w:val=")\d+', r"\g<1>x", "trHeight"),
}


@pytest.mark.parametrize("case", sorted(MEASURES))
def test_a_malformed_docx_measure_is_a_template_error_with_part_and_line(
        case: str, tmp_path: Path) -> None:
    pattern, new, fragment = MEASURES[case]
    templates = docx_set(tmp_path, replace_first(pattern, new))
    with pytest.raises(TemplateError) as caught:
        render_docx(plan(), RenderOptions(templates=templates))
    message = caught.value.message
    assert caught.value.exit_code == 5
    assert fragment in message and "public/sheet.docx" in message
    assert re.search(r"word/document\.xml line \d+", message), message


def test_a_docx_template_with_an_entity_reading_a_file_is_refused(tmp_path: Path) -> None:
    def add_dtd(xml: str) -> str:
        declaration, _, rest = xml.partition("?>")
        rest = re.sub(TITLE, r"\g<1>&leak;\g<2>", rest, count=1)
        return (f'{declaration}?><!DOCTYPE w:document [<!ENTITY leak SYSTEM '
                f'"file:///etc/passwd">]>{rest}')

    templates = docx_set(tmp_path, add_dtd)
    with pytest.raises(TemplateError, match="declares a DTD") as caught:
        render_docx(plan(), RenderOptions(templates=templates))
    no_leak(caught.value.message)


def test_a_docx_zip_bomb_is_refused(tmp_path: Path) -> None:
    bomb = b"\0" * (65 * 1024 * 1024)
    assert len(zlib.compress(bomb)) < 100_000  # what the package costs on disk
    templates = docx_set(tmp_path, lambda xml: xml, extra={"word/bomb.bin": bomb})
    with pytest.raises(TemplateError, match="too large"):
        render_docx(plan(), RenderOptions(templates=templates))


def test_a_docx_template_linked_from_outside_the_set_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    shutil.copytree(templates_dir(), root)
    outside = tmp_path / "elsewhere.docx"
    shutil.move(root / "public" / "sheet.docx", outside)
    (root / "public" / "sheet.docx").symlink_to(outside)
    with pytest.raises(TemplateError, match="outside the template set"):
        render_docx(plan(), RenderOptions(templates=TemplateSet(root)))


@pytest.mark.parametrize("value", ["0", "-2", "inf", "nan", "big"])
def test_a_docx_min_size_must_be_a_positive_number(value: str, tmp_path: Path) -> None:
    templates = docx_set(tmp_path, replace_first(r"\{\{ host\.address \}\}(\{#[^#]*#\})?",
                                                 f"{{{{ host.address }}}}{{# min-size={value} #}}"))
    with pytest.raises(TemplateError, match=f"min-size='{value}' is not a positive number"):
        render_docx(plan(), RenderOptions(templates=templates))


def test_every_context_is_plain_data_without_the_password() -> None:
    from sheetgen.documents.jobs import applicant_jobs
    from tests.conftest import EXAMPLES

    def walk(value: Any, where: str) -> None:
        assert type(value) in (dict, list, str, int, bool), (where, type(value))
        if isinstance(value, dict):
            for key, item in value.items():
                assert type(key) is str
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{where}[{index}]")
        else:
            assert SECRET not in str(value), where

    for path in sorted(EXAMPLES.glob("*.json")):
        data = json.loads(path.read_text("utf-8"))
        data.setdefault("access", {})["filing_password"] = SECRET
        for job in applicant_jobs(plan(data), RenderOptions()):
            walk(job.sheet.context, f"{path.stem}:{job.sheet.template}")
