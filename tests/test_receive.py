"""Returned paper (issue 18): scans of signed sheets are matched to their records and checked.

The scans are built here: sheets are filled, rendered to images with pypdfium2, inked where
the applicant signs (pen strokes), seals (a red circle), presses a fingerprint (a blob of
ridges) or writes a date, then turned (90/180/270° plus a few degrees), rescaled to
150-300 dpi, given noise and JPEG compression, and saved as the files a scanner makes.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw

from sheetgen.documents.sheetcode import complete, layout_id, parse, sheet_code
from sheetgen.pipeline import plan_input
from sheetgen.receive import PageResult, Receipt, receive
from sheetgen.receive.codes import find_codes
from sheetgen.receive.layouts import Layouts
from sheetgen.receive.report import write_report
from sheetgen.rendering.pdf.document import RenderOptions, render_pdf
from sheetgen.rendering.pdf.layout import cached_layout, layout_key
from sheetgen.rendering.templating import bundled
from sheetgen.rules import load_rules
from tests.applicants import example
from tests.conftest import EXAMPLES, run_cli
from tests.scans import RENDER_DPI, Sheet, ink, jpeg, rendered_sheets, scan, scanner_pdf

# --- fixtures -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def jiangxi() -> list[Sheet]:
    return rendered_sheets("jiangxi-personal")[1]


@pytest.fixture(scope="module")
def beijing() -> list[Sheet]:
    return rendered_sheets("beijing-unit-two-websites")[1]


@pytest.fixture(scope="module")
def no_seal() -> list[Sheet]:
    return rendered_sheets("chongqing-sole-proprietor-no-seal")[1]


def manifest(path: Path, references: list[str]) -> Path:
    """A batch --report manifest listing these printed records (and one that failed)."""
    records = [{"index": i, "source": "applicants.jsonl", "ok": True, "reference": ref}
               for i, ref in enumerate(references, start=1)]
    records.append({"index": len(records) + 1, "source": "applicants.jsonl", "ok": False,
                    "reference": None})
    path.write_text(json.dumps({"ok": False, "records": records}), "utf-8")
    return path


def flags(page: PageResult) -> tuple[bool | None, ...]:
    return (page.signed, page.seal, page.fingerprint, page.date_blank)


def codes(page: PageResult) -> set[str]:
    return {p.code for p in page.problems}


# --- the sheet code -------------------------------------------------------------------------

def test_sheet_code_carries_reference_website_and_layout() -> None:
    value = complete(sheet_code("QY-2026-000123", 1, 3), "3fa9c2d10b5e6f7a8b9c0d1e")
    assert value == "SG1:QY-2026-000123:2/3:3FA9C2D10B"
    code = parse(value)
    assert code is not None
    assert (code.version, code.reference, code.website, code.count, code.layout) == (
        1, "QY-2026-000123", 2, 3, "3FA9C2D10B")
    old = parse("QY-2026-000123")  # a sheet printed before the versioned code
    assert old is not None and (old.version, old.website, old.layout) == (0, None, None)
    for foreign in ("https://example.cn/", "SG1:REF:3/2:3FA9C2D10B", "", "SG1:REF:1/2:xyz"):
        assert parse(foreign) is None


def test_printed_code_names_the_layout_and_reads_at_150_dpi(jiangxi: list[Sheet]) -> None:
    sheet = jiangxi[0]
    small = sheet.image.resize((round(sheet.image.width * 0.75),
                                round(sheet.image.height * 0.75)))  # 150 dpi
    found = find_codes(jpeg(small, 60))
    assert found and found[0].code is not None
    assert found[0].code.layout == layout_id(sheet.layout.key)
    assert found[0].text.startswith(f"SG1:{sheet.reference}:1/1:")


def test_every_layout_printed_is_found_without_the_cache() -> None:
    """The enumeration of layouts finds the layout of every example's sheets, so a scan is
    checked on a machine (or in a process) that never printed that layout."""
    rules = load_rules()
    templates = bundled()
    layouts = Layouts(templates, rules)
    known = {layout_id(layout_key(templates, template, context))
             for template, context in layouts._enumerate()}
    for path in sorted(EXAMPLES.glob("*.json")):
        plan = plan_input(path.read_bytes(), source=path.name)
        pdf = render_pdf(plan, RenderOptions(cover=False)).pdf
        document = pdfium.PdfDocument(pdf)
        for page in document:
            found = find_codes(page.render(scale=150 / 72).to_pil())
            assert found and found[0].code is not None, path.name
            assert found[0].code.layout in known, path.name
        document.close()


# --- matching and checking ------------------------------------------------------------------

def test_scans_match_and_every_flag_is_right(tmp_path: Path, jiangxi: list[Sheet],
                                            beijing: list[Sheet], no_seal: list[Sheet]) -> None:
    jx, bj1, bj2, cq = jiangxi[0], beijing[0], beijing[1], no_seal[0]
    # (image, expected flags (signed, seal, fingerprint, date_blank), what it is)
    cases = [
        (scan(ink(jx, seed=1), angle=0.0, dpi=200, seed=1), (True, None, True, True)),
        (scan(ink(jx, seed=2), angle=92.5, dpi=150, seed=2), (True, None, True, True)),
        (scan(ink(bj1, seed=3), angle=178.0, dpi=200, seed=3), (True, True, None, True)),
        (scan(ink(bj1, seed=4), angle=-87.0, dpi=300, grey=True, seed=4),
         (True, True, None, True)),
        (scan(ink(bj2, sign=False, seed=5), angle=2.0, dpi=150, seed=5),
         (False, True, None, True)),
        (scan(ink(bj2, seal=False, seed=6), angle=271.5, dpi=200, seed=6),
         (True, False, None, True)),
        (scan(ink(cq, date=True, seed=7), angle=-3.0, dpi=200, seed=7),
         (True, None, None, False)),
        (scan(ink(cq, fingerprint=False, seed=8), angle=180.0, dpi=150, grey=True, seed=8),
         (True, None, None, True)),
    ]
    feeder = scanner_pdf(tmp_path / "feeder.pdf", [jpeg(c[0]) for c in cases[:4]])
    files = [feeder]
    for number, (image, _) in enumerate(cases[4:], start=5):
        path = tmp_path / f"page{number}.{'jpg' if number % 2 else 'png'}"
        image.save(path, quality=65) if number % 2 else jpeg(image, 80).save(path)
        files.append(path)
    fingerless = jiangxi[0]
    tiff = tmp_path / "more.tif"
    first = scan(ink(fingerless, fingerprint=False, seed=9), angle=1.5, dpi=200, seed=9)
    second = scan(ink(fingerless, sign=False, seed=10), angle=-90, dpi=200, seed=10)
    first.save(tiff, save_all=True, append_images=[second], compression="tiff_deflate")
    files.append(tiff)
    expected = [c[1] for c in cases] + [(True, None, False, True), (False, None, True, True)]

    receipt = receive(files)
    assert len(receipt.pages) == len(expected)
    for page, want in zip(receipt.pages, expected, strict=True):
        assert page.matched and page.version == 1, page.where
        assert flags(page) == want, (page.where, page.ink, page.registration)
        assert page.registration is not None and page.registration["patches"] >= 4
        assert page.registration["residual_mm"] < 0.6
        missing = {"not_signed": want[0] is False, "no_seal": want[1] is False,
                   "no_fingerprint": want[2] is False, "date_filled": want[3] is False}
        assert codes(page) == {code for code, held in missing.items() if held}, page.where
        assert all(0.5 <= c <= 1 for c in page.confidence.values())
    assert [p.page for p in receipt.pages[:4]] == [1, 2, 3, 4]
    assert [round(p.registration["dpi"] / 50) * 50 for p in receipt.pages[:4]  # type: ignore[index]
            ] == [200, 150, 200, 300]


def test_records_complete_incomplete_missing_and_unknown(tmp_path: Path, jiangxi: list[Sheet],
                                                         beijing: list[Sheet]) -> None:
    jx, bj1, bj2 = jiangxi[0], beijing[0], beijing[1]
    pages = [
        scan(ink(jx, seed=11), angle=90, seed=11), scan(ink(jx, seed=12), angle=-1, seed=12),
        scan(ink(bj1, seed=13), seed=13), scan(ink(bj1, seed=14), angle=180, seed=14),
        scan(ink(bj2, sign=False, seed=15), seed=15),  # website 2: one original, unsigned
    ]
    again = scan(ink(bj1, seed=13), angle=3, dpi=150, seed=99)  # bj1's first original again
    scans = scanner_pdf(tmp_path / "scans.pdf", [jpeg(p) for p in [*pages, again]])
    report = manifest(tmp_path / "report.json", [jx.reference, bj1.reference, "QY-NOTHING-BACK"])
    receipt = receive([scans], manifest=report)
    by_ref = {r.reference: r for r in receipt.records}
    assert [r.reference for r in receipt.records] == [jx.reference, bj1.reference,
                                                      "QY-NOTHING-BACK"]
    assert by_ref[jx.reference].complete and by_ref[jx.reference].problems == []
    beijing_record = by_ref[bj1.reference]
    assert not beijing_record.complete
    assert beijing_record.websites == 2
    assert {p["code"] for p in beijing_record.problems} == {
        "missing_originals", "not_signed", "scanned_twice"}
    assert beijing_record.received[1].received == 2
    assert [(a.page, b.page) for a, b in beijing_record.received[1].duplicates] == [(6, 3)]
    assert [p["code"] for p in by_ref["QY-NOTHING-BACK"].problems] == ["nothing_received"]
    assert not receipt.ok

    # A sheet of a record the manifest does not list.
    other = manifest(tmp_path / "other.json", [bj1.reference])
    receipt = receive([scans], manifest=other)
    stray = next(r for r in receipt.records if r.reference == jx.reference)
    assert stray.in_manifest is False and "not_in_manifest" in {p["code"]
                                                               for p in stray.problems}


def _with_code(sheet: Sheet, text: str, image: Image.Image | None = None) -> Image.Image:
    """The sheet (or ``image`` of it) with its QR code replaced by one of ``text``."""
    import segno

    image = (image or sheet.image).copy()
    qr = next(f for f in sheet.layout.fields if f.kind == "qr")
    k = RENDER_DPI / 72
    side = min(qr.box.width, qr.box.height) * k
    left = (qr.box.x + qr.box.width) * k - side
    top = (sheet.layout.page_sizes[0][1] - qr.box.y - qr.box.height) * k
    buffer = io.BytesIO()
    segno.make_qr(text, error="m").save(buffer, kind="png", scale=10, border=0)
    buffer.seek(0)
    code = Image.open(buffer).convert("RGB").resize((round(side), round(side)),
                                                    Image.Resampling.NEAREST)
    image.paste(code, (round(left), round(top)))
    return image


def test_pages_without_a_usable_code_are_listed(tmp_path: Path, jiangxi: list[Sheet]) -> None:
    sheet = jiangxi[0]
    blank = Image.new("RGB", sheet.image.size, "white")
    cover_pdf, _ = rendered_sheets("jiangxi-personal")
    cover = pdfium.PdfDocument(cover_pdf)[0].render(scale=RENDER_DPI / 72).to_pil()
    damaged = ink(sheet, seed=21)
    qr = next(f for f in sheet.layout.fields if f.kind == "qr")
    k = RENDER_DPI / 72
    qx = (qr.box.x + qr.box.width) * k
    qy = (sheet.layout.page_sizes[0][1] - qr.box.y - qr.box.height) * k
    side = min(qr.box.width, qr.box.height) * k
    ImageDraw.Draw(damaged).rectangle((qx - side, qy, qx - side * 0.35, qy + side * 0.7),
                                      fill="white")  # a sticker over two finder patterns
    foreign = _with_code(sheet, "https://example.cn/not-a-sheet")
    unknown_layout = _with_code(sheet, f"SG1:{sheet.reference}:1/1:0123456789")
    old = _with_code(sheet, sheet.reference, ink(sheet, seed=22))
    scans = scanner_pdf(tmp_path / "mixed.pdf", [scan(p, seed=i) for i, p in enumerate(
        [blank, cover.convert("RGB"), damaged, foreign, unknown_layout, old])])
    receipt = receive([scans])
    assert [p.page for p in receipt.pages] == [1, 2, 3, 4, 5, 6]
    assert [sorted(codes(p)) for p in receipt.pages] == [
        ["no_code"], ["no_code"], ["no_code"], ["foreign_code"], ["unknown_layout"],
        ["old_code"]]
    # Matched by reference, boxes unchecked, and it says so.
    for page in receipt.pages[4:]:
        assert page.reference == sheet.reference
        assert flags(page) == (None, None, None, None)
    assert receipt.pages[5].website is None
    record = next(r for r in receipt.records if r.reference == sheet.reference)
    assert "website_unknown" in {p["code"] for p in record.problems}


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` × ``height`` (its data is a few bytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
            + chunk(b"IEND", b""))


@pytest.fixture
def bad_files(tmp_path: Path) -> Iterator[list[Path]]:
    import pypdf

    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\ngarbage, not a PDF\n")
    writer = pypdf.PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt("secret")
    encrypted = tmp_path / "encrypted.pdf"
    with encrypted.open("wb") as handle:
        writer.write(handle)
    huge = tmp_path / "huge.png"
    huge.write_bytes(_png_header(20_000, 20_000))
    truncated = tmp_path / "truncated.jpg"  # the transfer broke off half-way
    buffer = io.BytesIO()
    noise = np.random.default_rng(1).integers(0, 255, (600, 400, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, "JPEG")
    truncated.write_bytes(buffer.getvalue()[:len(buffer.getvalue()) // 2])
    text = tmp_path / "notes.tif"
    text.write_text("not an image")
    yield [corrupt, encrypted, huge, truncated, text]


def test_bad_files_are_a_problem_each_never_a_crash(bad_files: list[Path]) -> None:
    receipt = receive(bad_files)
    assert [(Path(p.file).name, sorted(codes(p))) for p in receipt.pages] == [
        ("corrupt.pdf", ["corrupt_pdf"]), ("encrypted.pdf", ["encrypted_pdf"]),
        ("huge.png", ["image_too_large"]), ("truncated.jpg", ["corrupt_image"]),
        ("notes.tif", ["unreadable"])]
    assert not receipt.ok


def test_cli_bad_input_exit_6_no_traceback(bad_files: list[Path], tmp_path: Path) -> None:
    result = run_cli("receive", *map(str, bad_files), "--json")
    assert result.code == 6, result.stderr
    assert "Traceback" not in result.stderr
    document = json.loads(result.text)
    assert document["ok"] is False and len(document["pages"]) == len(bad_files)
    assert "image_too_large" in result.stderr or "too large" in result.stderr
    missing = run_cli("receive", str(tmp_path / "nope.pdf"))
    assert missing.code == 2 and "scan not found" in missing.stderr
    bad_report = run_cli("receive", str(bad_files[0]), "--report", str(tmp_path / "r.txt"))
    assert bad_report.code == 2 and ".json, .csv or .xlsx" in bad_report.stderr
    nowhere = run_cli("receive", str(bad_files[0]), "--report", str(tmp_path / "no" / "r.csv"))
    assert nowhere.code == 2 and "does not exist" in nowhere.stderr
    odd = tmp_path / "scan.csv"
    odd.write_bytes(bad_files[0].read_bytes())
    onto_scan = run_cli("receive", str(odd), "--report", str(odd))
    assert onto_scan.code == 2 and "one of the scans" in onto_scan.stderr


def test_batch_print_sign_scan_receive(tmp_path: Path) -> None:
    """The whole loop as staff run it: batch → print → sign → scan → receive."""
    applicants = tmp_path / "applicants.jsonl"
    applicants.write_text("\n".join(json.dumps(example(n), ensure_ascii=False) for n in
                                    ("jiangxi-personal", "guangdong-unit")) + "\n", "utf-8")
    out = tmp_path / "out"
    batch = run_cli("batch", str(applicants), "-o", str(out), "--no-cover", "--copies", "2",
                    "--jobs", "1", "--bundle", str(tmp_path / "bundle.pdf"),
                    "--report", str(tmp_path / "report.json"))
    assert batch.code == 0, batch.stderr
    document = pdfium.PdfDocument(tmp_path / "bundle.pdf")
    printed = [document[i].render(scale=RENDER_DPI / 72).to_pil().convert("RGB")
               for i in range(len(document))]
    document.close()
    assert len(printed) == 4  # two originals of each applicant's one sheet
    sheets = []
    for image in printed:
        code = find_codes(image)[0].code
        assert code is not None and code.layout is not None
        layout = cached_layout(code.layout)
        assert layout is not None
        sheets.append(Sheet(code.reference, 1, image, layout))
    signed = [scan(ink(s, seed=30 + i), angle=(0, 90, 180, 270)[i], seed=i)
              for i, s in enumerate(sheets)]
    complete_scans = scanner_pdf(tmp_path / "scans.pdf", [jpeg(p) for p in signed])
    received = tmp_path / "received.xlsx"
    result = run_cli("receive", str(complete_scans), "--manifest", str(tmp_path / "report.json"),
                     "--report", str(received))
    assert result.code == 0, result.stderr
    assert "4 pages: 4 matched" in result.stderr and "2 complete, 0 incomplete" in result.stderr
    with zipfile.ZipFile(received) as package:
        sheet_xml = package.read("xl/worksheets/sheet1.xml").decode()
    assert sheets[0].reference in sheet_xml and sheets[2].reference in sheet_xml
    # With the manifest, each row names its applicant (the 主办者), as staff know them.
    assert example("jiangxi-personal")["host"]["name"] in sheet_xml

    # The Guangdong unit's second original comes back without its seal.
    signed[3] = scan(ink(sheets[3], seal=False, seed=40), angle=3, seed=40)
    partial = scanner_pdf(tmp_path / "partial.pdf", [jpeg(p) for p in signed])
    result = run_cli("receive", str(partial), "--manifest", str(tmp_path / "report.json"),
                     "--report", str(tmp_path / "received.csv"), "--json")
    assert result.code == 6
    assert "NO SEAL" in result.stderr and f"record {sheets[3].reference} incomplete" in (
        result.stderr)
    rows = (tmp_path / "received.csv").read_text("utf-8-sig").splitlines()
    assert len(rows) == 3  # the header, one row per website
    assert any(sheets[3].reference in row and ",2,2,2,1,," in row for row in rows), rows
    document_json = json.loads(result.text)
    assert {r["reference"]: r["complete"] for r in document_json["records"]} == {
        sheets[0].reference: True, sheets[3].reference: False}


def test_report_formats(tmp_path: Path, jiangxi: list[Sheet]) -> None:
    image = tmp_path / "one.jpg"
    scan(ink(jiangxi[0], sign=False), seed=5).save(image, quality=70)
    receipt: Receipt = receive([image, image])  # the same file twice: counted, not "twice"
    for suffix in ("json", "csv", "xlsx"):
        write_report(receipt, tmp_path / f"r.{suffix}")
    data: dict[str, Any] = json.loads((tmp_path / "r.json").read_text("utf-8"))
    assert data["summary"]["pages"] == 2 and data["pages"][0]["signed"] is False
    csv_rows = (tmp_path / "r.csv").read_text("utf-8-sig").splitlines()
    assert csv_rows[0].startswith("编号 reference,主办者 applicant,网站 website,收到 received")
    assert csv_rows[1].startswith(f"{jiangxi[0].reference},,1,2,2,0,,2,2,")  # no manifest
    with zipfile.ZipFile(tmp_path / "r.xlsx") as package:
        assert {"xl/workbook.xml", "xl/worksheets/sheet1.xml"} <= set(package.namelist())
        assert "未签字" in package.read("xl/worksheets/sheet1.xml").decode()
