"""--pdfa: the structures PDF/A-2b requires, checked with pypdf, HarfBuzz and qpdf on every
example's ``--pdfa`` output.

No PDF/A validator (veraPDF) can be installed from the registries this project uses, so this
checks what a validator would check at the document level, and the font rules: the XMP
identification (part 2, conformance B) and its agreement with the Info dictionary, the
output intent with an RGB ICC profile, the trailer's file identifier, every font embedded
with a ToUnicode map and widths equal to its program's advances, no encryption, JavaScript,
actions, attachments or transparency. What a full validator would add: the symbolic
TrueType cmap rules, the colour spaces used inside content streams, XMP schema conformance.
A template that would break the claim is refused (tests/test_pdf_templates.py).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from sheetgen.documents.jobs import RenderOptions
from sheetgen.pipeline import plan_input
from sheetgen.rendering.pdf.document import render_pdf
from tests import pdfcheck
from tests.applicants import example
from tests.conftest import EXAMPLES
from tests.pdfs import checked_widths, embedded_font_names, reader

NS = {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
      "pdfaid": "http://www.aiim.org/pdfa/ns/id/", "dc": "http://purl.org/dc/elements/1.1/",
      "xmp": "http://ns.adobe.com/xap/1.0/", "pdf": "http://ns.adobe.com/pdf/1.3/"}


@pytest.fixture(scope="module", params=sorted(p.stem for p in EXAMPLES.glob("*.json")))
def archival(request: pytest.FixtureRequest) -> bytes:
    data = json.dumps(example(request.param), ensure_ascii=False).encode()
    return render_pdf(plan_input(data, source="t"), RenderOptions(pdfa=True)).pdf


def test_header_and_file_identifier(archival: bytes) -> None:
    assert archival.startswith(b"%PDF-1.7\n%")
    assert all(byte > 127 for byte in archival.split(b"\n")[1][1:5])  # binary comment
    ids = reader(archival).trailer["/ID"]
    assert len(ids) == 2 and len(ids[0]) == 16 and ids[0] == ids[1]


def test_xmp_metadata_declares_pdfa_2b_and_mirrors_the_info(archival: bytes,
                                                           monkeypatch: Any) -> None:
    pdf = reader(archival)
    stream = pdf.trailer["/Root"]["/Metadata"].get_object()
    assert stream["/Type"] == "/Metadata" and stream["/Subtype"] == "/XML"
    assert "/Filter" not in stream
    xmp = ET.fromstring(stream.get_data().split(b"?>", 1)[1].rsplit(b"<?xpacket", 1)[0])
    assert xmp.findtext(".//pdfaid:part", namespaces=NS) == "2"
    assert xmp.findtext(".//pdfaid:conformance", namespaces=NS) == "B"
    info = pdf.metadata
    assert info is not None
    assert xmp.findtext(".//dc:title/rdf:Alt/rdf:li", namespaces=NS) == info.title
    assert xmp.findtext(".//xmp:CreatorTool", namespaces=NS) == info.creator
    assert xmp.findtext(".//pdf:Producer", namespaces=NS) == info.producer


def test_dates_agree_between_info_and_xmp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    data = json.dumps(example("zhejiang-personal"), ensure_ascii=False).encode()
    pdf = reader(render_pdf(plan_input(data, source="t"), RenderOptions(pdfa=True)).pdf)
    xmp = pdf.trailer["/Root"]["/Metadata"].get_object().get_data()
    assert pdf.metadata is not None and pdf.metadata["/CreationDate"] == "D:20260101000000Z"
    assert b"<xmp:CreateDate>2026-01-01T00:00:00Z</xmp:CreateDate>" in xmp


def test_srgb_output_intent(archival: bytes) -> None:
    (intent,) = reader(archival).trailer["/Root"]["/OutputIntents"]
    intent = intent.get_object()
    assert intent["/S"] == "/GTS_PDFA1"
    profile = intent["/DestOutputProfile"].get_object()
    data = profile.get_data()
    assert profile["/N"] == 3 and data[36:40] == b"acsp"  # an ICC profile
    assert data[16:20] == b"RGB " and data[12:16] in (b"mntr", b"prtr", b"scnr", b"spac")


def test_every_font_embedded_with_to_unicode_and_its_programs_widths(archival: bytes) -> None:
    document = reader(archival)
    checked = 0
    for number in range(1, int(document.trailer["/Size"])):
        font = document.get_object(number)
        if not (isinstance(font, dict) and font.get("/Type") == "/Font"):
            continue
        if font.get("/Subtype") == "/Type0":
            assert "/ToUnicode" in font, number
            continue
        assert font.get("/Subtype") == "/CIDFontType2", number  # all TrueType, as CID fonts
        checked += checked_widths(font, number)
    assert checked > 50


def test_fonts_embedded_no_encryption_scripts_or_transparency(archival: bytes) -> None:
    pdf = reader(archival)
    assert embedded_font_names(archival)
    assert "/Encrypt" not in pdf.trailer
    raw = archival
    for forbidden in (b"/JavaScript", b"/JS ", b"/AA ", b"/Launch", b"/EmbeddedFile",
                      b"/SMask /Luminosity", b"/Transparency"):
        assert forbidden not in raw
    for page in pdf.pages:
        assert "/Annots" not in page
        stack = [page["/Resources"]]
        while stack:
            resources = stack.pop().get_object()
            for state in (resources.get("/ExtGState") or {}).values():
                state = state.get_object()
                assert state.get("/CA", 1) == 1 and state.get("/ca", 1) == 1
                assert state.get("/SMask", "/None") == "/None"
            for xobject in (resources.get("/XObject") or {}).values():
                xobject = xobject.get_object()
                assert xobject.get("/Subtype") in ("/Form", "/Image")
                if "/Resources" in xobject:
                    stack.append(xobject["/Resources"])


def test_without_pdfa_there_is_no_pdfa_claim() -> None:
    data = json.dumps(example("zhejiang-personal"), ensure_ascii=False).encode()
    pdf = render_pdf(plan_input(data, source="t")).pdf
    assert b"pdfaid" not in pdf and "/OutputIntents" not in reader(pdf).trailer["/Root"]


def test_qpdf_finds_no_structural_errors(archival: bytes) -> None:
    pdfcheck.check(archival)  # fails in CI without qpdf (SHEETGEN_REQUIRE_QPDF)


def test_the_output_intents_profile_carries_no_clock() -> None:
    """LittleCMS stamps the current time into a new profile's header; PDF/A output must not
    change with it (run twice across a second boundary)."""
    import struct
    import time

    from sheetgen.rendering.pdf.compose import ICC_DATE, srgb_profile

    first = srgb_profile()
    time.sleep(1.1)
    assert srgb_profile() == first
    assert struct.unpack(">6H", first[24:36]) == ICC_DATE and first[36:40] == b"acsp"

