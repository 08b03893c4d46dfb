"""The bundled fonts: files match fonts/README.md, coverage facts, the data check, and both
engines embed the fonts and write text that extracts back (including 𠮷 above U+FFFF)."""

from __future__ import annotations

import hashlib
import io
import logging
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont

from sheetgen import resources
from sheetgen.errors import ExitCode, FontError
from sheetgen.rendering import fonts

from .conftest import REPO, reportlab_body

FONTS = REPO / "fonts"
RARE_NAME = "张𠮷䶮"  # 𠮷 U+20BB7 is above U+FFFF (supplement), 䶮 U+4DAE is in Extension A (body)
MISSING_PUA, MISSING_PLANE16 = "\ue000", "\U0010fffd"


def recorded_sha256() -> dict[str, str]:
    text = (FONTS / "README.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", text, re.MULTILINE))


# --- files -----------------------------------------------------------------------------------

def test_every_font_file_matches_its_sha256_in_readme() -> None:
    recorded = recorded_sha256()
    assert set(recorded) == set(resources.FONT_FILES.values())
    for name, sha in recorded.items():
        assert hashlib.sha256((FONTS / name).read_bytes()).hexdigest() == sha, name


def test_licence_is_the_full_ofl_with_the_fonts_copyright() -> None:
    text = (FONTS / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1 - 26 February 2007" in text
    for part in ("PREAMBLE", "DEFINITIONS", "PERMISSION & CONDITIONS", "TERMINATION",
                 "DISCLAIMER"):
        assert part in text
    assert text.count("Copyright 20") == 3 and "Adobe" in text


def test_supplement_is_renamed_truetype_keeping_licence_records() -> None:
    with TTFont(str(FONTS / "NotoSerifSC-Supplement.ttf"), lazy=True) as font:
        assert "glyf" in font and "CFF " not in font
        name = font["name"]
        assert name.getDebugName(1) == "Noto Serif SC Supplement"
        assert "Adobe" in (name.getDebugName(0) or "")
        assert "Open Font License" in (name.getDebugName(13) or "")


# --- coverage --------------------------------------------------------------------------------

@pytest.mark.parametrize("role", sorted(resources.FONT_FILES))
def test_coverage_equals_fonttools_best_cmap(role: str) -> None:
    with TTFont(str(resources.font_path(role)), lazy=True) as font:
        assert fonts.coverage(role) == frozenset(font.getBestCmap())


def test_coverage_reads_a_format_4_only_cmap(tmp_path: Path) -> None:
    # The bundled fonts all have format 12; the BMP-only format 4 path is the fallback.
    names = [".notdef", "a", "b", "c"]
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(names)
    # Non-consecutive glyph ids force an idRangeOffset segment, a gap a second segment.
    builder.setupCharacterMap({0x41: "b", 0x42: "a", 0x43: "c", 0x4E00: "a"})
    empty = TTGlyphPen(None).glyph()
    builder.setupGlyf(dict.fromkeys(names, empty))
    builder.setupHorizontalMetrics(dict.fromkeys(names, (500, 0)))
    builder.setupHorizontalHeader()
    builder.setupNameTable({"familyName": "Test", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.setupMaxp()
    path = tmp_path / "test.ttf"
    builder.save(str(path))
    with TTFont(str(path)) as font:
        assert [t.format for t in font["cmap"].tables] == [4, 4]
    assert fonts.code_points(path) == {0x41, 0x42, 0x43, 0x4E00}
    assert fonts.code_points(path.read_bytes()) == {0x41, 0x42, 0x43, 0x4E00}


def test_body_covers_every_gb2312_hanzi() -> None:
    assert len(fonts.gb2312_hanzi()) == 6763
    assert fonts.gb2312_hanzi() <= fonts.coverage("body")


@pytest.mark.parametrize(("char", "role"), [
    ("张", "body"), ("䶮", "body"), ("□", "body"), ("√", "body"), ("■", "body"), ("A", "body"),
    ("𠮷", "supplement"), ("𬱖", "body"),  # U+2CC56: above U+FFFF, in the body font
    ("☐", None), (MISSING_PUA, None), (MISSING_PLANE16, None),
])
def test_role_for(char: str, role: str | None) -> None:
    assert fonts.role_for(ord(char)) == role


def test_supplement_covers_only_above_bmp_and_everything_body_has_there() -> None:
    supplement = fonts.coverage("supplement")
    assert 0x20BB7 in supplement and min(supplement) > 0xFFFF
    assert {cp for cp in fonts.coverage("body") if cp > 0xFFFF} <= supplement


def test_coverage_rejects_unknown_role() -> None:
    with pytest.raises(ValueError, match="unknown font role"):
        fonts.coverage("italic")


# --- the data check --------------------------------------------------------------------------

def test_missing_characters_in_order_without_duplicates() -> None:
    text = f"张{MISSING_PLANE16}𠮷\n{MISSING_PUA}a{MISSING_PLANE16}{MISSING_PUA}"
    assert fonts.missing_characters(text) == [MISSING_PLANE16, MISSING_PUA]
    assert fonts.missing_characters(f"{RARE_NAME}\n□√ example.cn") == []


def test_check_text_reports_every_missing_character_with_path_and_code() -> None:
    with pytest.raises(FontError) as caught:
        fonts.check_text([
            ("host.name", f"张{MISSING_PUA}"),
            ("websites[0].name", RARE_NAME),
            ("websites[0].manager.name", f"{MISSING_PLANE16}{MISSING_PUA}{MISSING_PUA}"),
        ])
    error = caught.value
    assert error.exit_code == ExitCode.TEMPLATE_OR_FONT == 5
    assert [(p.path, p.code) for p in error.problems] == [
        ("host.name", "font_missing_char"),
        ("websites[0].manager.name", "font_missing_char"),
        ("websites[0].manager.name", "font_missing_char"),
    ]
    assert error.problems[0].message == (
        f"字体缺少字符 “{MISSING_PUA}” (U+E000) / "
        f"the bundled fonts lack character “{MISSING_PUA}” (U+E000)")
    assert "(U+10FFFD)" in error.problems[1].message
    assert "(U+E000)" in error.problems[2].message
    assert "U+E000" in error.message and "U+10FFFD" in error.message


def test_check_text_accepts_printable_text() -> None:
    fonts.check_text([("host.name", RARE_NAME), ("host.address", "江西省南昌市\n某某路 1 号")])


def test_split_by_font_puts_above_bmp_characters_in_supplement_runs() -> None:
    assert fonts.split_by_font("张𠮷䶮\n𠮷a") == [
        ("body", "张"), ("supplement", "𠮷"), ("body", "䶮\n"), ("supplement", "𠮷"),
        ("body", "a")]


# --- faces (HarfBuzz) ------------------------------------------------------------------------

def test_face_widths_are_reportlabs_for_every_code_point_and_string() -> None:
    # Fitting moved from reportlab's metrics to the face's: the same floats, to the last bit,
    # so no value fits differently than it did.
    import random

    from reportlab.pdfbase.pdfmetrics import getFont, stringWidth

    name = reportlab_body()
    reference = getFont(name).face
    face = fonts.face("body")
    covered = sorted(fonts.coverage("body"))
    assert [face.advance(face.glyph(cp)) for cp in covered] == [
        reference.charWidths.get(cp, reference.defaultWidth) for cp in covered]
    pool = [chr(cp) for cp in random.Random(7).sample(covered, 400)] + list(RARE_NAME + " \xa0")
    rng = random.Random(11)
    for _ in range(3000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 40)))
        size = rng.choice([5, 5.5, 6, 7.5, 9, 10.5, 12])
        assert fonts.measure(text, size) == stringWidth(text, name, size)


def test_face_subset_renumbers_in_order_or_keeps_glyph_ids_and_only_what_a_pdf_reads() -> None:
    import uharfbuzz as hb

    face = fonts.face("body")
    glyphs = sorted({face.glyph(ord(c)) for c in "张江A"})
    program, glyph_map = face.subset(glyphs)
    count, outlines = fonts.program_glyphs(program)
    assert sorted(glyph_map) == [0, *glyphs] and count == len(glyphs) + 1
    assert sorted(glyph_map.values()) == list(range(count))  # renumbered in id order
    assert all(face.outline(g) == outlines[glyph_map[g]] for g in glyphs)
    kept, same = face.subset(glyphs, retain_gids=True)
    count, outlines = fonts.program_glyphs(kept)
    assert count == max(glyphs) + 1 and all(same[g] == g for g in glyphs)
    assert all(face.outline(g) == outlines[g] for g in glyphs)
    for data in (program, kept):
        tags = {int.to_bytes(tag, 4, "big").decode() if isinstance(tag, int) else str(tag)
                for tag in hb.Face(hb.Blob(data)).table_tags}
        assert tags == {"glyf", "head", "hhea", "hmtx", "loca", "maxp"}


def test_face_subset_gives_the_same_bytes_once_the_face_is_preprocessed() -> None:
    face = fonts.Face("body")  # a face of its own: its subset count starts at 0
    glyphs = [face.glyph(ord(c)) for c in "核验单"]
    results = [face.subset(glyphs) for _ in range(4)]  # from the third on: preprocessed
    assert face._preprocessed is not None
    assert all(result == results[0] for result in results)


def test_to_unicode_cmap_maps_cids_to_utf16_with_surrogate_pairs() -> None:
    cmap = fonts.to_unicode_cmap("X", dict.fromkeys(range(150), "张") | {0x1234: "𠮷"}).decode()
    assert "<1234> <D842DFB7>" in cmap and "<0001> <5F20>" in cmap
    assert cmap.count("beginbfchar") == 2  # at most 100 entries a block
    assert "100 beginbfchar" in cmap and "51 beginbfchar" in cmap


def test_stamped_text_extracts_back_with_pypdf_and_pdfium() -> None:
    # Above U+FFFF (the supplement's font), and two characters of one glyph (two layers).
    import json

    import pypdfium2
    from pypdf import PdfReader

    from sheetgen.documents.jobs import RenderOptions
    from sheetgen.pipeline import plan_input
    from sheetgen.rendering.pdf.document import render_pdf
    from tests.applicants import edit, personal

    name = RARE_NAME + "①➀"
    data = personal()
    for path in ("host.name", "websites[0].manager.name"):
        data = edit(data, path, name)
    plan = plan_input(json.dumps(data, ensure_ascii=False).encode(), source="t")
    pdf = render_pdf(plan, RenderOptions(cover=False)).pdf
    assert name in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    document = pypdfium2.PdfDocument(pdf)
    try:
        assert name in document[0].get_textpage().get_text_bounded()
    finally:
        document.close()


# --- WeasyPrint ------------------------------------------------------------------------------

def test_weasyprint_embeds_the_bundled_fonts_and_text_extracts_back(
        caplog: pytest.LogCaptureFixture) -> None:
    from pypdf import PdfReader
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    config = FontConfiguration()
    css = CSS(string=fonts.font_face_css()
              + f"body {{ font-family: {fonts.BODY_FONT_STACK}; }}"
              + f"h1 {{ font-family: {fonts.HEADING_FONT_STACK}; }}",
              font_config=config)
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        data = HTML(string=f"<h1>核验单</h1><p>{RARE_NAME}</p>").write_pdf(
            stylesheets=[css], font_config=config)
    assert not [r for r in caplog.records if r.name.startswith("weasyprint")]

    page = PdfReader(io.BytesIO(data)).pages[0]
    assert page.extract_text().split("\n") == ["核验单", RARE_NAME]
    families = set()
    for ref in page["/Resources"]["/Font"].values():
        font = ref.get_object()
        descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font \
            else font
        descriptor = descendant["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor  # embedded TrueType, not a reference to a system font
        embedded = descriptor["/FontFile2"].get_object().get_data()
        with TTFont(io.BytesIO(embedded)) as subset:
            families.add(subset["name"].getDebugName(1))
    # The files embedded are the bundled ones (not a system Noto CJK fallback).
    assert families == {"Noto Serif SC", "Noto Serif SC Supplement", "Noto Sans SC"}


def test_font_face_css_names_the_families_and_file_urls() -> None:
    css = fonts.font_face_css()
    for role, family in fonts.CSS_FAMILIES.items():
        assert f'font-family: "{family}"' in css
        assert resources.font_path(role).resolve().as_uri() in css


# --- doctor, imports -------------------------------------------------------------------------

def test_self_check_passes() -> None:
    summary = fonts.self_check()
    assert summary.startswith("3 fonts, body 30928 code points (GB2312 hanzi complete)")
    assert "supplement 2531 code points" in summary


@pytest.fixture
def font_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of fonts/ that the fonts module uses instead of the bundled one."""
    for name in resources.FONT_FILES.values():
        shutil.copyfile(FONTS / name, tmp_path / name)
    monkeypatch.setattr(resources, "fonts_dir", lambda: tmp_path)
    monkeypatch.setattr(fonts, "fonts_dir", lambda: tmp_path)
    fonts.coverage.cache_clear()
    yield tmp_path
    fonts.coverage.cache_clear()


def test_self_check_rejects_a_truncated_font(font_copy: Path) -> None:
    path = font_copy / resources.FONT_FILES["supplement"]
    path.write_bytes(path.read_bytes()[:500_000])
    with pytest.raises(FontError, match=r"NotoSerifSC-Supplement\.ttf.*truncated"):
        fonts.self_check()


def test_self_check_rejects_a_damaged_font(font_copy: Path) -> None:
    path = font_copy / resources.FONT_FILES["body"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(FontError, match="checksum"):
        fonts.self_check()


def test_self_check_rejects_a_missing_required_font(font_copy: Path) -> None:
    (font_copy / resources.FONT_FILES["body"]).unlink()
    with pytest.raises(FontError, match=r"NotoSerifSC-Regular\.ttf.*missing"):
        fonts.self_check()


def test_self_check_reports_a_missing_heading_font(font_copy: Path) -> None:
    (font_copy / resources.FONT_FILES["heading"]).unlink()
    assert "heading font missing" in fonts.self_check()
    css = fonts.font_face_css()
    body_url = (font_copy / resources.FONT_FILES["body"]).resolve().as_uri()
    assert css.count(body_url) == 2  # body and heading families


def test_importing_fonts_imports_no_engine() -> None:
    script = ("import sys, sheetgen.rendering.fonts; "
              "print(sorted(m for m in ('reportlab', 'weasyprint', 'typer', 'docxtpl', "
              "'fontTools', 'pypdf') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, cwd=REPO)
    assert result.stdout.strip() == "[]"
