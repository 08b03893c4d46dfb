"""Helpers to look inside rendered PDFs: pages, sizes, text, fonts, outline."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfReader

A4 = (595.28, 841.89)


def reader(pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf))


def page_texts(pdf: bytes) -> list[str]:
    """Extracted text of each page, line breaks removed (values wrap anywhere)."""
    return [page.extract_text().replace("\n", "") for page in reader(pdf).pages]


def page_sizes(pdf: bytes) -> list[tuple[float, float]]:
    return [(float(p.mediabox.width), float(p.mediabox.height)) for p in reader(pdf).pages]


def is_a4(size: tuple[float, float]) -> bool:
    return abs(size[0] - A4[0]) < 0.5 and abs(size[1] - A4[1]) < 0.5


def outline_titles(pdf: bytes) -> list[Any]:
    """The outline as nested lists of titles."""
    def walk(items: list[Any]) -> list[Any]:
        return [walk(item) if isinstance(item, list) else item.title for item in items]

    return walk(reader(pdf).outline)


def embedded_font_names(pdf: bytes) -> set[str]:
    """BaseFont names of every embedded font (page and form XObject resources)."""
    names: set[str] = set()
    for page in reader(pdf).pages:
        stack = [page["/Resources"]]
        while stack:
            resources = stack.pop().get_object()
            for font in (resources.get("/Font") or {}).values():
                font = font.get_object()
                for descendant in font.get("/DescendantFonts", [font]):
                    descriptor = descendant.get_object().get("/FontDescriptor")
                    if descriptor is not None and any(
                            key in descriptor.get_object() for key in
                            ("/FontFile", "/FontFile2", "/FontFile3")):
                        names.add(str(font["/BaseFont"]))
            for xobject in (resources.get("/XObject") or {}).values():
                xobject = xobject.get_object()
                if "/Resources" in xobject:
                    stack.append(xobject["/Resources"])
    return names


def checked_widths(font: Any, number: int) -> int:
    """Every width of CID font ``font`` (object ``number``) is its glyph's advance in the
    embedded program (PDF/A-2 6.2.11.5), through its /CIDToGIDMap; how many were checked."""
    import uharfbuzz as hb

    program = font["/FontDescriptor"]["/FontFile2"].get_object().get_data()
    advances = hb.Font(hb.Face(hb.Blob(program)))
    cid_map = font.get("/CIDToGIDMap")
    table = cid_map.get_object().get_data() if cid_map != "/Identity" else None
    widths, at, checked = font.get("/W", []), 0, 0
    while at < len(widths):
        first = int(widths[at])
        if isinstance(widths[at + 1], list):
            pairs = [(first + i, w) for i, w in enumerate(widths[at + 1])]
            at += 2
        else:
            pairs = [(cid, widths[at + 2]) for cid in range(first, int(widths[at + 1]) + 1)]
            at += 3
        for cid, width in pairs:
            glyph = cid if table is None else int.from_bytes(table[2 * cid:2 * cid + 2], "big")
            assert glyph, (number, cid)  # the glyph is in the program
            assert advances.get_glyph_h_advance(glyph) == round(float(width)), (number, cid)
            checked += 1
    return checked
