"""The composed PDF's structure (issue 16): written as a stream, object streams, compact pages,
``/Dest`` bookmarks; the same bytes whether written to a file as it goes or collected."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sheetgen.documents.jobs import RenderOptions, applicant_jobs
from sheetgen.documents.plan import FilingPlan
from sheetgen.output import AtomicFile
from sheetgen.pipeline import plan_input
from sheetgen.rendering.pdf.document import PdfBuilder, render_pdf
from sheetgen.rendering.pdf.stamp import QR_MASK, encode_qr
from tests.applicants import personal, unit
from tests.pdfs import outline_titles, page_texts, reader


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


@pytest.mark.skipif(shutil.which("qpdf") is None, reason="qpdf not installed")
def test_qpdf_finds_the_bundle_and_a_pdfa_sheet_well_formed(tmp_path: Path) -> None:
    for name, pdf in (("bundle", bundle(PdfBuilder())),
                      ("pdfa", render_pdf(plans()[1], RenderOptions(pdfa=True)).pdf)):
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(pdf)
        check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "No syntax or stream encoding errors" in check.stdout


def test_qr_uses_the_fixed_mask_and_the_same_modules_every_time() -> None:
    import segno

    code = encode_qr("QY-2026-000123")
    assert code == encode_qr("QY-2026-000123")
    assert segno.make_qr("QY-2026-000123", error="m", mask=QR_MASK).mask == QR_MASK
    dark = {(row, col) for row, first, length in code.runs
            for col in range(first, first + length)}
    matrix = segno.make_qr("QY-2026-000123", error="m", mask=QR_MASK).matrix
    assert dark == {(r, c) for r, cells in enumerate(matrix) for c, v in enumerate(cells) if v}


def test_stamp_subset_holds_only_the_characters_drawn() -> None:
    # No "ASCII readable" block: a sheet's value font has the glyphs it prints, not all 95.
    pdf = render_pdf(plans()[0], RenderOptions(cover=False)).pdf
    document = reader(pdf)
    fonts = document.pages[0]["/Resources"]["/Font"]
    subsets = [ref.get_object() for ref in fonts.values()]
    subsets = [font for font in subsets if font["/Subtype"] == "/TrueType"]
    assert subsets
    for font in subsets:
        first, last = int(font["/FirstChar"]), int(font["/LastChar"])
        assert last - first < 95
    assert "QY-2026-000123" in page_texts(pdf)[0]
    assert io.BytesIO(pdf).getbuffer().nbytes < 70_000
