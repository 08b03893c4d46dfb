"""The composed PDF's structure (issue 16): written as a stream, object streams, compact pages,
``/Dest`` bookmarks; the same bytes whether written to a file as it goes or collected."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from sheetgen.documents.jobs import RenderOptions, applicant_jobs
from sheetgen.documents.plan import FilingPlan
from sheetgen.output import AtomicFile
from sheetgen.pipeline import plan_input
from sheetgen.rendering.pdf.document import PdfBuilder, render_pdf
from sheetgen.rendering.pdf.stamp import QR_MASK, encode_qr
from tests import pdfcheck
from tests.applicants import personal, unit
from tests.pdfs import checked_widths, outline_titles, page_texts, reader


def plans() -> list[FilingPlan]:
    return [plan_input(json.dumps(data, ensure_ascii=False).encode(), source="t")
            for data in (personal(), unit())]


def bundle(builder: PdfBuilder) -> bytes:
    for n, plan in enumerate(plans() * 3):
        builder.add_record(applicant_jobs(plan, RenderOptions()), outline=f"记录 {n + 1}")
        if n % 2:
            builder.flush()  # as a batch does every BUNDLE_CHUNK records
    return builder.finish(title="t", subject="s", identity=b"x")


def test_a_bundle_streamed_to_a_file_is_the_one_collected_in_memory(tmp_path: Path) -> None:
    collected = bundle(PdfBuilder())
    sink = AtomicFile(tmp_path / "b.pdf")
    builder = PdfBuilder(sink=sink)
    assert bundle(builder) == b""
    sink.commit()
    written = (tmp_path / "b.pdf").read_bytes()
    assert written == collected
    assert builder.size == len(written)
    assert builder.sha256 == hashlib.sha256(written).hexdigest()
    assert list(tmp_path.iterdir()) == [tmp_path / "b.pdf"]  # no partial file left


def test_discarded_atomic_file_leaves_nothing(tmp_path: Path) -> None:
    sink = AtomicFile(tmp_path / "b.pdf")
    sink.write(b"%PDF-")
    sink.discard()
    assert list(tmp_path.iterdir()) == []


def test_bundle_structure_object_streams_compact_pages_dest_bookmarks() -> None:
    pdf = bundle(PdfBuilder())
    assert pdf.startswith(b"%PDF-1.7\n%")
    assert b"/Type/ObjStm" in pdf and b"/Type/XRef" in pdf
    document = reader(pdf)
    for page in document.pages:
        assert set(page.keys()) == {"/Type", "/Parent", "/MediaBox", "/Resources", "/Contents"}
        assert "/ProcSet" not in page["/Resources"]
    titles = outline_titles(pdf)
    assert titles[0] == "记录 1" and titles[1][0] == "备案材料清单"
    assert len([t for t in titles if isinstance(t, str)]) == 6

    def items(outline: list[object]) -> list[object]:
        return [i for o in outline for i in (items(o) if isinstance(o, list) else [o])]

    for item in items(document.outline):
        node = item.indirect_reference.get_object()  # type: ignore[attr-defined]
        assert "/Dest" in node and "/A" not in node
        assert document.get_destination_page_number(item) is not None  # type: ignore[arg-type]
    # The bookmarks point at the pages they name: each record's first page is its cover.
    first = [document.get_destination_page_number(o) for o in document.outline
             if not isinstance(o, list)]
    texts = page_texts(pdf)
    assert all("备案材料清单" in texts[page] for page in first)


def test_qpdf_finds_the_bundle_and_a_pdfa_sheet_well_formed() -> None:
    for pdf in (bundle(PdfBuilder()), render_pdf(plans()[1], RenderOptions(pdfa=True)).pdf):
        pdfcheck.check(pdf)  # fails in CI without qpdf (SHEETGEN_REQUIRE_QPDF)


def test_qr_uses_the_fixed_mask_and_the_same_modules_every_time() -> None:
    import segno

    code = encode_qr("QY-2026-000123")
    assert code == encode_qr("QY-2026-000123")
    assert segno.make_qr("QY-2026-000123", error="m", mask=QR_MASK).mask == QR_MASK
    dark = {(row, col) for row, first, length in code.runs
            for col in range(first, first + length)}
    matrix = segno.make_qr("QY-2026-000123", error="m", mask=QR_MASK).matrix
    assert dark == {(r, c) for r, cells in enumerate(matrix) for c, v in enumerate(cells) if v}


def font_programs(pdf: bytes) -> dict[str, set[int]]:
    """For each font name (without its subset tag), the object numbers of its programs;
    checking that every program has one name, which its fonts' descriptors, CID fonts and
    Type0 fonts all give."""
    found: dict[str, set[int]] = {}
    names: dict[int, set[str]] = {}  # program -> every name a font using it gives
    document = reader(pdf)
    for number in range(1, int(document.trailer["/Size"])):
        value = document.get_object(number)
        if isinstance(value, dict) and value.get("/Type") == "/FontDescriptor":
            base = str(value["/FontName"]).partition("+")[2]
            program = value.raw_get("/FontFile2").idnum
            found.setdefault(base, set()).add(program)
            names.setdefault(program, set()).add(str(value["/FontName"]))
        if isinstance(value, dict) and value.get("/Subtype") == "/Type0":
            cid_font = value["/DescendantFonts"][0].get_object()
            program = cid_font["/FontDescriptor"].raw_get("/FontFile2").idnum
            names.setdefault(program, set()).update(
                {str(value["/BaseFont"]), str(cid_font["/BaseFont"])})
    assert all(len(given) == 1 for given in names.values()), names
    return found


def test_one_font_program_per_face_in_cover_and_sheet() -> None:
    pdf = render_pdf(plans()[0], RenderOptions()).pdf
    programs = font_programs(pdf)
    # The backgrounds' WeasyPrint fonts of the serif face (WeasyPrint names them by CSS
    # family) and the stamp's share one program, named once, by the font's PostScript name.
    assert "Sheetgen-Serif" not in programs
    assert len(programs["NotoSerifSC-Regular"]) == 1
    assert b"/CIDSet" not in pdf and b"/Helvetica" not in pdf
    # Every CID font of the merged face reaches the compact program through the face's one
    # /CIDToGIDMap stream. WeasyPrint's heading subset is not a pure retain-gids one (its
    # last glyph is another of the face's), so it keeps its own program and /Identity.
    document = reader(pdf)
    maps: dict[int, set[object]] = {}
    for number in range(1, int(document.trailer["/Size"])):
        value = document.get_object(number)
        if isinstance(value, dict) and value.get("/Subtype") == "/CIDFontType2":
            program = value["/FontDescriptor"].raw_get("/FontFile2").idnum
            cid_map = value.raw_get("/CIDToGIDMap")
            maps.setdefault(program, set()).add(getattr(cid_map, "idnum", cid_map))
    (shared,) = programs["NotoSerifSC-Regular"]
    assert len(maps[shared]) == 1 and isinstance(next(iter(maps[shared])), int)
    assert all(numbers == {"/Identity"} for program, numbers in maps.items()
               if program != shared)


def test_a_streamed_bundle_has_one_program_per_face_for_all_its_chunks() -> None:
    pdf = bundle(PdfBuilder())
    programs = font_programs(pdf)
    assert len(programs["NotoSerifSC-Regular"]) == 1 and "Sheetgen-Serif" not in programs
    document = reader(pdf)
    stamp_fonts = {ref.idnum for page in document.pages
                   for name, ref in page["/Resources"].get("/Font", {}).items()}
    assert len(stamp_fonts) == 1  # one stamp font for all chunks (no rare characters here)


def test_stamp_font_is_a_cid_font_of_the_drawn_glyphs_with_widths_and_to_unicode() -> None:
    from sheetgen.rendering import fonts

    pdf = render_pdf(plans()[0], RenderOptions(cover=False)).pdf
    document = reader(pdf)
    (font,) = [ref.get_object() for ref in document.pages[0]["/Resources"]["/Font"].values()]
    assert font["/Subtype"] == "/Type0" and font["/Encoding"] == "/Identity-H"
    cid_font = font["/DescendantFonts"][0].get_object()
    assert cid_font["/DW"] == 1000
    glyph_ids = cid_font["/CIDToGIDMap"].get_object().get_data()  # CID = the face's glyph id
    face = fonts.face("body")
    widths = cid_font["/W"]
    for at in range(0, len(widths), 2):  # every width listed is the face's own advance
        first, run = widths[at], widths[at + 1]
        assert [face.advance(first + i) for i in range(len(run))] == list(run)
    program = cid_font["/FontDescriptor"]["/FontFile2"].get_object().get_data()
    count, outlines = fonts.program_glyphs(program)
    assert count <= face.glyph_count
    text = page_texts(pdf)[0]
    assert "QY-2026-000123" in text
    for char in "QY2026":  # the glyphs the stamp draws are in the shared program
        glyph = face.glyph(ord(char))
        in_subset = int.from_bytes(glyph_ids[2 * glyph:2 * glyph + 2], "big")
        assert in_subset and outlines[in_subset] == face.outline(glyph)
    assert len(pdf) < 50_000


def test_characters_sharing_a_glyph_each_extract() -> None:
    from sheetgen.rendering import fonts
    from sheetgen.rendering.pdf.stamp import StampFonts

    face = fonts.face("body")
    assert face.glyph(ord("①")) == face.glyph(ord("➀"))  # one glyph, two characters
    glyphs = StampFonts()
    runs = glyphs.encode("body", "①➀①")
    assert [name for name, _ in runs] == [b"/SgB0", b"/SgB1", b"/SgB0"]
    assert [dict(layer) for layer in glyphs.layers["body"]] == [
        {face.glyph(ord("①")): "①"}, {face.glyph(ord("➀")): "➀"}]


def test_a_font_not_of_the_bundled_faces_is_not_taken_for_one(tmp_path: Path) -> None:
    from sheetgen.rendering import fonts
    from sheetgen.rendering.pdf.layout import _matching_face

    face = fonts.face("body")
    glyphs = [face.glyph(ord(c)) for c in "核验单"]
    role, found = _matching_face(face.subset(glyphs, retain_gids=True)[0]) or ("", frozenset())
    assert role == "body" and set(glyphs) <= found
    dejavu = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if dejavu.is_file():
        assert _matching_face(dejavu.read_bytes()) is None
    import uharfbuzz as hb

    request = hb.SubsetInput()  # a subset with its glyphs renumbered: other glyph ids
    request.glyph_set.update(glyphs)
    compact = bytes(hb.subset(hb.Face(hb.Blob.from_file_path(str(fonts.font_path("body")))),
                              request).blob.data)
    assert _matching_face(compact) is None


def test_the_same_bytes_from_a_layout_compiled_here_or_read_from_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sheetgen.rendering.pdf import compose, layout

    monkeypatch.setenv("SHEETGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SHEETGEN_PRECOMPILED", "off")  # compiled here, not shipped

    def fresh() -> bytes:
        layout._cache.clear()
        compose._backgrounds.clear()
        return render_pdf(plans()[0], RenderOptions()).pdf

    compiled = fresh()  # compiles every layout (the cache directory is empty)
    assert sorted(p.suffix for p in (tmp_path / "cache").iterdir())
    assert fresh() == compiled  # every layout from the disk cache


def test_the_background_is_stored_as_objects_read_back_without_pypdf() -> None:
    import pypdfium2

    from sheetgen.rendering.pdf import background
    from sheetgen.rendering.pdf.layout import get_layout
    from sheetgen.rendering.templating import bundled

    job = applicant_jobs(plans()[1], RenderOptions())[0]
    compiled = get_layout(bundled(), job.sheet.template, job.sheet.context,
                          max_pages=job.max_pages)
    objects = background.read(compiled.background)
    assert objects is not None and len(objects.pages) == compiled.page_count
    # The index notes every reference pypdf sees, where its bytes say so; and where the
    # entries the composer edits are.
    document = reader(compiled.background)
    pages = {page.indirect_reference.idnum for page in document.pages}  # type: ignore[union-attr]
    edited = 0
    for number, stored in objects.objects.items():
        if number in pages or number <= 2:
            continue  # the page tree: never copied, its references not noted
        found = [target for _, target in stored.references]
        assert all(target in objects.objects for target in found)
        for offset, target in stored.references:
            assert stored.body[offset:].startswith(b"%d 0 R" % target)
        refs = _references(document.get_object(number))
        assert sorted(found) == sorted(refs), number
        for key, (start, end) in stored.entries.items():
            assert stored.body[start:end].startswith(key.encode())
            edited += 1
    assert edited  # fonts' /FontName, /BaseFont, /CIDToGIDMap at least
    assert b"(Sheetgen" not in compiled.background  # strings in hex
    # Still an ordinary PDF, the same page as WeasyPrint drew it.
    assert "网站备案信息真实性核验单" in page_texts(compiled.background)[0]
    pdf = pypdfium2.PdfDocument(compiled.background)
    try:
        assert len(pdf) == compiled.page_count
    finally:
        pdf.close()
    assert background.read(render_pdf(plans()[1], RenderOptions()).pdf) is None


def _references(node: object) -> list[int]:
    """The object numbers pypdf sees referenced in ``node`` (a stream's /Length aside)."""
    from pypdf.generic import IndirectObject

    if isinstance(node, IndirectObject):
        return [node.idnum]
    if isinstance(node, dict):
        return [n for key, item in node.items() if key != "/Length" for n in _references(item)]
    if isinstance(node, list):
        return [n for item in node for n in _references(item)]
    return []


def test_rendering_from_cached_layouts_imports_no_pdf_library(tmp_path: Path) -> None:
    import os
    import sys

    from tests.conftest import EXAMPLES

    script = f"""
import sys
from pathlib import Path
from sheetgen.documents.jobs import RenderOptions
from sheetgen.pipeline import plan_input
from sheetgen.rendering.pdf.document import render_pdf
path = Path({str(EXAMPLES / "jiangxi-personal.json")!r})
render_pdf(plan_input(path.read_bytes(), source=path.name), RenderOptions())
print("pypdf" in sys.modules)
"""
    env = {**os.environ, "SHEETGEN_CACHE_DIR": str(tmp_path / "cache"),
           "SHEETGEN_PRECOMPILED": "off"}
    run = [sys.executable, "-c", script]
    first = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert first.stdout.strip() == "True"  # compiling the layouts reads WeasyPrint's PDF
    cached = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert cached.stdout.strip() == "False"
    # A first run served by the layouts shipped with the package reads no PDF library either.
    env = {**os.environ, "SHEETGEN_CACHE_DIR": str(tmp_path / "empty")}
    shipped = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert shipped.stdout.strip() == "False"


def test_a_background_in_another_form_is_stored_again_when_composed() -> None:
    import dataclasses

    from sheetgen.rendering.pdf import compose
    from sheetgen.rendering.pdf.layout import get_layout
    from sheetgen.rendering.templating import bundled
    from tests.pdfs import is_a4

    job = applicant_jobs(plans()[0], RenderOptions(cover=False))[0]
    compiled = get_layout(bundled(), job.sheet.template, job.sheet.context)
    weasy_like = render_pdf(plans()[0], RenderOptions(cover=False)).pdf  # not our stored form
    other = dataclasses.replace(compiled, key="another-form", background=weasy_like,
                                fonts=None)
    found = compose._background(other)
    assert found.objects.pages and is_a4(page_sizes_of(found.objects.pages[0].box))


def page_sizes_of(box: bytes) -> tuple[float, float]:
    values = [float(v) for v in box.strip(b"[]").split()]
    return values[2] - values[0], values[3] - values[1]


def test_every_width_is_the_shared_programs_advance_of_its_glyph() -> None:
    # PDF/A-2 (6.2.11.5): a font's widths agree with its program. With one program per face
    # behind a /CIDToGIDMap, check every CID font: backgrounds' and stamp's, cover and sheet.
    pdf = render_pdf(plans()[1], RenderOptions(pdfa=True)).pdf
    document = reader(pdf)
    checked = 0
    for number in range(1, int(document.trailer["/Size"])):
        font = document.get_object(number)
        if not (isinstance(font, dict) and font.get("/Subtype") == "/CIDFontType2"):
            continue
        checked += checked_widths(font, number)
    assert checked > 100


@pytest.mark.parametrize("damage", [
    lambda index: index.pop("pdfa"),
    lambda index: index["pages"][0].pop(),  # no links entry
    lambda index: index["objects"][0].__setitem__(5, [0, 99999]),  # a reference to nothing
    lambda index: index["objects"][0].__setitem__(5, [10**9, 3]),  # past the object's end
])
def test_a_damaged_background_index_is_read_as_none(damage: object) -> None:
    from sheetgen.rendering.pdf import background
    from sheetgen.rendering.pdf.layout import get_layout
    from sheetgen.rendering.templating import bundled

    job = applicant_jobs(plans()[0], RenderOptions(cover=False))[0]
    pdf = get_layout(bundled(), job.sheet.template, job.sheet.context).background
    at = pdf.rindex(background.MARK) + len(background.MARK)
    end = pdf.index(b"\n", at)
    index = json.loads(pdf[at:end])
    assert background.read(pdf) is not None
    damage(index)  # type: ignore[operator]
    damaged = pdf[:at] + json.dumps(index).encode() + pdf[end:]
    assert background.read(damaged) is None
