"""What a provider's template puts on a page beyond drawing reaches the PDF or is refused,
never dropped silently (issue 28): a link is copied as a link annotation over the same
rectangle; a link inside the document, a ``javascript:`` link, are refused with exit 5 and
the template's line; a semi-transparent image is kept, and refused under ``--pdfa``.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import pytest

from sheetgen.documents.jobs import RenderOptions
from sheetgen.errors import TemplateError
from sheetgen.pipeline import plan_input
from sheetgen.rendering.pdf.document import render_pdf
from sheetgen.rendering.templating import TemplateSet
from sheetgen.resources import templates_dir
from tests import pdfcheck
from tests.applicants import personal
from tests.conftest import run_cli
from tests.pdfs import page_texts, reader

LINK = "https://beian.miit.gov.cn/"


def provider_set(tmp_path: Path, heading: str) -> Path:
    """The bundled templates with the public sheet's heading block replaced by ``heading``."""
    root = tmp_path / "templates"
    shutil.copytree(templates_dir(), root)
    (root / "public" / "sheet.html").write_text(
        '{% extends "common/sheet.html" %}\n'
        "{% block heading %}网站备案信息真实性核验单\n" + heading + "\n{% endblock %}\n",
        "utf-8")
    return root


def render(root: Path, *, pdfa: bool = False) -> bytes:
    data = json.dumps(personal(), ensure_ascii=False).encode()
    return render_pdf(plan_input(data, source="t"),
                      RenderOptions(templates=TemplateSet(root), cover=False, pdfa=pdfa)).pdf


def semi_transparent_png() -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (8, 8), (200, 0, 0, 128)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_a_link_is_copied_over_its_rectangle(tmp_path: Path) -> None:
    root = provider_set(tmp_path, f'<a href="{LINK}" style="font-size: 8pt">备案系统</a>')
    pdf = render(root)
    page = reader(pdf).pages[0]
    (annotation,) = [a.get_object() for a in page["/Annots"]]
    assert annotation["/Subtype"] == "/Link" and annotation["/A"]["/URI"] == LINK
    assert annotation["/F"] == 4  # printable, as PDF/A asks
    x1, y1, x2, y2 = (float(v) for v in annotation["/Rect"])
    assert 0 < x1 < x2 < 595.3 and 600 < y1 < y2 < 841.9  # in the heading, at the top
    assert "备案系统" in page_texts(pdf)[0]
    pdfcheck.check(pdf)
    # ... and under --pdfa too, each page its own annotation.
    archival = render(root, pdfa=True)
    assert reader(archival).pages[0]["/Annots"][0].get_object()["/A"]["/URI"] == LINK
    pdfcheck.check(archival)


@pytest.mark.parametrize(("heading", "expected"), [
    ('<a href="#x">看下文</a><span id="x"></span>', "a link to a place in the document"),
    ('<a href="javascript:alert(1)">备案</a>', "javascript:alert(1)"),
])
def test_a_link_sheetgen_does_not_keep_is_refused_naming_its_line(
        tmp_path: Path, heading: str, expected: str) -> None:
    root = provider_set(tmp_path, heading)
    with pytest.raises(TemplateError) as caught:
        render(root)
    assert caught.value.exit_code == 5
    assert expected in caught.value.message
    assert "public/sheet.html line 3" in caught.value.message, caught.value.message


def test_the_cli_refuses_a_javascript_link_with_exit_5(tmp_path: Path) -> None:
    root = provider_set(tmp_path, '<a href="javascript:alert(1)">备案</a>')
    source = tmp_path / "me.json"
    source.write_text(json.dumps(personal(), ensure_ascii=False), "utf-8")
    result = run_cli("fill", str(source), "-o", str(tmp_path / "out.pdf"), "--templates",
                     str(root), "--no-cover")
    assert result.code == 5, result.stderr
    assert "javascript:" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.pdf").exists()


def test_a_semi_transparent_image_is_kept(tmp_path: Path) -> None:
    root = provider_set(tmp_path, f'<img src="{semi_transparent_png()}" style="width: 20px">')
    pdf = render(root)
    assert _has_soft_mask(pdf)
    pdfcheck.check(pdf)


def _has_soft_mask(pdf: bytes) -> bool:
    document = reader(pdf)
    for number in range(1, int(document.trailer["/Size"])):
        value = document.get_object(number)
        if isinstance(value, dict) and value.get("/Subtype") == "/Image" and "/SMask" in value:
            return True
    return False


@pytest.mark.parametrize("style", ["width: 20px", "width: 20px; opacity: 0.5"])
def test_transparency_is_refused_under_pdfa(tmp_path: Path, style: str) -> None:
    png = semi_transparent_png() if "opacity" not in style else _opaque_png()
    root = provider_set(tmp_path, f'<img src="{png}" style="{style}">')
    render(root)  # without --pdfa: kept
    with pytest.raises(TemplateError) as caught:
        render(root, pdfa=True)
    assert caught.value.exit_code == 5
    assert "PDF/A-2b (--pdfa) forbids" in caught.value.message
    assert "public/sheet.html" in caught.value.message
    assert ("soft mask" if "opacity" not in style else "opacity below 1") in \
        caught.value.message, caught.value.message


def _opaque_png() -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 0, 0)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
