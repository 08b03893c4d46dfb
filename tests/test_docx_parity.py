"""The Word files print what the PDF prints (issue 17): the QR code of the reference, every
copy of ``--copies``, seals as circles and the fingerprint box as the PDF draws them."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sheetgen.documents.jobs import RenderOptions
from sheetgen.documents.plan import FilingPlan
from sheetgen.errors import TemplateError
from sheetgen.pipeline import plan_input
from sheetgen.rendering.docx.document import read_package, render_docx, write_package
from sheetgen.rendering.templating import TemplateSet
from sheetgen.resources import templates_dir
from tests.applicants import example
from tests.conftest import EXAMPLES, run_cli
from tests.pdfs import page_sizes, page_texts

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
WP = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}"


def plan_of(data: dict[str, Any]) -> FilingPlan:
    return plan_input(json.dumps(data, ensure_ascii=False).encode(), source="test")


def document_xml(data: bytes) -> str:
    return read_package(data)["word/document.xml"].decode()


# --- the QR code ---------------------------------------------------------------------------------

def png_modules(png: bytes) -> list[list[bool]]:
    """The dark modules of a QR code image without quiet zone, read back from its pixels."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    assert width == height
    # The module size: the finder pattern's top-left run of dark pixels is 7 modules.
    run = next(x for x in range(width) if image.getpixel((x, 0)) > 128)
    module = run // 7
    count = width // module
    assert count * module == width
    return [[image.getpixel((c * module + module // 2, r * module + module // 2)) < 128
             for c in range(count)] for r in range(count)]


def test_each_sheet_carries_the_qr_code_of_its_reference() -> None:
    import segno

    from sheetgen.documents.context import sheet_context

    plan = plan_of(example("beijing-unit-two-websites"))
    files = render_docx(plan)
    cover, *sheets = files
    assert "sheetgen-qr" not in " ".join(read_package(cover.data))  # as the PDF's cover
    for sheet, planned in zip(sheets, plan.sheets, strict=True):
        parts = read_package(sheet.data)
        (png,) = [data for name, data in parts.items() if name.startswith("word/media/")]
        ref = plan.applicant.ref
        assert ref
        # The sheet's HTML prints sheet.code, whose layout part names the PDF's compiled page;
        # a Word file has none: it carries the reference alone (a version 0 code).
        code = sheet_context(plan, planned, qr=True).context["sheet"]["code"]
        assert code.startswith(f"SG1:{ref}:")
        expected = [[bool(v) for v in row] for row in segno.make_qr(ref, error="m").matrix]
        assert png_modules(png) == expected
        rels = parts["word/_rels/document.xml.rels"].decode()
        assert re.search(r'Id="rIdSheetgenQr1" Type="[^"]+/image" Target="media/sheetgen-qr1'
                         r'\.png"', rels)
        assert '<Default Extension="png" ContentType="image/png"/>' in \
            parts["[Content_Types].xml"].decode()
        xml = document_xml(sheet.data)
        # About 15 mm square, as the PDF's (.sheet-head .qr).
        side = int(re.search(r'<wp:extent cx="(\d+)" cy="\1"/>', xml).group(1))
        assert 14.5 < side / 36000 < 15.5
        qr = next(f for f in sheet.fits if f.field == "sheet.code" and f.lines == 1
                  and f.status == "fitted" and f.size == 1)
        assert qr.path == "ref"


def test_no_qr_leaves_it_out() -> None:
    plan = plan_of(example("jiangxi-personal"))
    sheet = render_docx(plan, RenderOptions(qr=False, cover=False))[0]
    parts = read_package(sheet.data)
    assert not [name for name in parts if name.startswith("word/media/")]
    assert "<pic:pic" not in document_xml(sheet.data)
    assert "JX-2026-0005" in re.sub(r"<[^>]+>", "", document_xml(sheet.data))  # as text still


def test_an_unknown_field_kind_is_a_template_error(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    shutil.copytree(templates_dir(), root)
    path = root / "public" / "sheet.docx"
    parts = read_package(path.read_bytes())
    xml = parts["word/document.xml"].decode()
    assert "kind=qr" in xml
    parts["word/document.xml"] = xml.replace("kind=qr", "kind=barcode", 1).encode()
    path.write_bytes(write_package(parts))
    with pytest.raises(TemplateError, match="kind='barcode'"):
        render_docx(plan_of(example("zhejiang-personal")),
                    RenderOptions(templates=TemplateSet(root)))


# --- seals and fingerprint ------------------------------------------------------------------

def shapes(data: bytes) -> list[tuple[str, str]]:
    """(preset geometry, label) of every DrawingML shape of a Word file."""
    xml = document_xml(data)
    found = []
    for shape in re.findall(r"<wps:wsp>.*?</wps:wsp>", xml, re.DOTALL):
        geometry = re.search(r'<a:prstGeom prst="(\w+)"', shape).group(1)
        label = "".join(re.findall(r"<w:t[^>]*>([^<]*)</w:t>", shape))
        assert 'prstDash val="sysDash"' in shape and 'val="444444"' in shape  # grey dashes
        found.append((geometry, label))
    return found


@pytest.mark.parametrize(("name", "expected"), [
    ("jiangxi-personal", [("ellipse", "接入服务单位盖章"), ("rect", "按手印处")]),
    ("zhejiang-personal", [("ellipse", "接入服务单位盖章")]),
    ("guangdong-unit", [("ellipse", "接入服务单位盖章"), ("ellipse", "单位公章")]),
    ("chongqing-sole-proprietor-no-seal", [("ellipse", "接入服务单位盖章")]),
])
def test_seals_are_circles_and_the_fingerprint_box_a_rectangle(
        name: str, expected: list[tuple[str, str]]) -> None:
    sheet = render_docx(plan_of(example(name)), RenderOptions(cover=False))[0]
    # (In the order of their rows: the fingerprint box starts higher than the seal beside it.)
    assert sorted(shapes(sheet.data)) == sorted(expected)
    # Word processors without DrawingML shapes print the label instead.
    fallbacks = re.findall(r"<mc:Fallback><w:t[^>]*>([^<]*)</w:t></mc:Fallback>",
                           document_xml(sheet.data))
    assert sorted(fallbacks) == sorted(label for _, label in expected)
    xml = document_xml(sheet.data)
    if name.startswith("chongqing"):  # no seal: the statement in a solid box, as the PDF
        assert "个体工商户无公章" in xml


# --- copies ----------------------------------------------------------------------------------

def test_copies_repeat_each_sheet_in_its_file() -> None:
    plan = plan_of(example("guangdong-unit"))
    once = render_docx(plan)
    thrice = render_docx(plan, RenderOptions(copies=3))
    assert [f.name for f in thrice] == [f.name for f in once]
    assert thrice[0].data == once[0].data  # the cover is printed once, as in the PDF
    xml = document_xml(thrice[1].data)
    single = document_xml(once[1].data)
    assert xml.count("<w:sectPr") == 3 and single.count("<w:sectPr") == 1
    text = re.sub(r"<[^>]+>", "", xml)
    assert text.count(plan.applicant.host.address) == 3 * re.sub(
        r"<[^>]+>", "", single).count(plan.applicant.host.address)
    ids = re.findall(r'<wp:docPr id="(\d+)"', xml)
    assert len(ids) == 3 * len(re.findall(r"<wp:docPr ", single)) == len(set(ids))
    # Each copy's section ends in its last paragraph: no extra line that could add a page.
    assert xml.count("<w:p>") + xml.count("<w:p ") == 3 * (single.count("<w:p>")
                                                            + single.count("<w:p "))


def test_fill_copies_word_files_through_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "o.pdf"
    result = run_cli("fill", str(EXAMPLES / "jiangxi-personal.json"), "--format", "pdf,docx",
                     "--copies", "2", "-o", str(out), "--json")
    assert result.code == 0, result.stderr
    sheet = (tmp_path / "o-sheet1.docx").read_bytes()
    assert document_xml(sheet).count("<w:sectPr") == 2
    report = json.loads(result.text)
    cover_pages = report["sheets"][0]["pages"]
    assert len(page_sizes(out.read_bytes())) == cover_pages + 2  # the PDF agrees


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.skipif(SOFFICE is None and not os.environ.get("SHEETGEN_REQUIRE_LIBREOFFICE"),
                    reason="LibreOffice (soffice) is not installed")
def test_libreoffice_prints_each_copy_on_its_own_a4_page(tmp_path: Path) -> None:
    assert SOFFICE is not None, "LibreOffice (soffice) is required here but not installed"
    plan = plan_of(example("guangdong-unit"))
    sheet = render_docx(plan, RenderOptions(copies=2, cover=False))[0]
    path = tmp_path / "copies.docx"
    path.write_bytes(sheet.data)
    proc = subprocess.run(
        [SOFFICE, "--headless", "--norestore",
         f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    pdf = path.with_suffix(".pdf").read_bytes()
    assert [(round(w), round(h)) for w, h in page_sizes(pdf)] == [(595, 842)] * 2
    for text in page_texts(pdf):
        assert plan.applicant.host.name in text and "单位公章" in text


def test_copies_leave_out_bookmarks_and_word_ids_and_end_on_a_paragraph() -> None:
    from sheetgen.rendering.docx.document import W_NS, repeat_body

    w14 = "http://schemas.microsoft.com/office/word/2010/wordml"
    xml = (f'<w:document xmlns:w="{W_NS}" xmlns:w14="{w14}"><w:body>'
           '<w:p w14:paraId="1A2B3C4D"><w:bookmarkStart w:id="0" w:name="_GoBack"/>'
           '<w:r><w:t>x</w:t></w:r><w:bookmarkEnd w:id="0"/></w:p><w:tbl/>'
           '<w:sectPr><w:pgSz w:w="11906" w:h="16838"/></w:sectPr></w:body></w:document>')
    out = repeat_body(xml.encode(), 2).decode()
    assert out.count("_GoBack") == 1 and out.count('w14:paraId="1A2B3C4D"') == 1
    assert out.count("<w:t>x</w:t>") == 2
    # The body ended with a table: a paragraph was added to carry the first copy's break,
    # and the body's own section properties stay last.
    assert out.count("<w:sectPr>") == 2
    assert out.endswith("<w:sectPr><w:pgSz w:w=\"11906\" w:h=\"16838\"/></w:sectPr>"
                        "</w:body></w:document>")
    assert repeat_body(xml.encode(), 1).decode().count("_GoBack") == 1
