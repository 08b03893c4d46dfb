"""Finding the sheet's QR code on a page image: its text and its four corners (zxing-cpp).

The corners are what registration starts from (:mod:`.register`): zxing-cpp reports them in
the symbol's own orientation (``top_left`` is the corner of the symbol's top-left finder
pattern wherever the page was turned), in pixels of the image searched. A large image is
searched downscaled first (a 600 dpi page is 5 000 × 7 000 pixels; the code's modules are
still 7 px there at half size) and at full size only when that found nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sheetgen.documents.sheetcode import SheetCode, parse

if TYPE_CHECKING:
    from PIL.Image import Image

#: Longest side of the image searched first.
SEARCH_SIDE = 4000

Point = tuple[float, float]


@dataclass(frozen=True)
class FoundCode:
    """A QR code found on a page: its text, what it says, and its corners in image pixels."""

    text: str
    code: SheetCode | None  # None: a QR code, but not a sheetgen sheet's
    corners: tuple[Point, Point, Point, Point]  # top-left, top-right, bottom-right, bottom-left


def find_codes(image: Image) -> list[FoundCode]:
    """Every QR code on ``image``, sheetgen's own first (version 1, then reference-only)."""
    grey = image.convert("L")
    side = max(grey.size)
    found: list[FoundCode] = []
    if side > SEARCH_SIDE:
        factor = SEARCH_SIDE / side
        small = grey.resize((round(grey.width * factor), round(grey.height * factor)))
        found = _read(small, 1 / factor)
    if not found:
        found = _read(grey, 1.0)
    return sorted(found, key=lambda f: -1 if f.code is None else f.code.version, reverse=True)


def _read(image: Image, scale: float) -> list[FoundCode]:
    import zxingcpp

    found = []
    for barcode in zxingcpp.read_barcodes(
            image, formats=zxingcpp.barcode_formats_from_str("QRCode")):
        p = barcode.position
        corners = tuple((float(c.x) * scale, float(c.y) * scale)
                        for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left))
        text = str(barcode.text)
        found.append(FoundCode(text, parse(text), corners))  # type: ignore[arg-type]
    return found
