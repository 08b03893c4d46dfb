"""The value of a check sheet's QR code: what a scan of the signed paper is matched by.

A versioned payload, ``SG1:<reference>:<website>/<count>:<layout>``, e.g.
``SG1:QY-2026-000123:1/2:3FA9C2D10B``: the sheet's reference, the website's position among the
applicant's sheets (1-based) and how many there are, and the first ten hex digits of the
compiled layout's key (:func:`sheetgen.rendering.pdf.layout.layout_key`), which leads
``sheetgen receive`` back to the exact field map of the page (where the signature, seal,
fingerprint and date go). ``:`` and ``/`` cannot occur in a reference (``A-Za-z0-9._-``), so
the parts split unambiguously; with an upper-case reference the whole payload is in the QR
alphanumeric alphabet, which keeps the code at 25 × 25 modules, readable at 150 dpi.

The layout's key is only known once the layout is compiled, after the sheet's context is made:
the context carries the payload with a :data:`LAYOUT_SLOT` that the stamp fills in
(:func:`complete`). Sheets printed before this payload existed carry the reference alone;
:func:`parse` reads those too (version 0, no website or layout).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VERSION = 1
PREFIX = f"SG{VERSION}:"
LAYOUT_SLOT = "{layout}"
#: Hex digits of the layout key a code carries: 40 bits, against a few dozen layouts.
LAYOUT_DIGITS = 10
_REFERENCE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_V1 = re.compile(r"SG1:(?P<ref>[A-Za-z0-9._-]{1,64}):(?P<index>[0-9]{1,3})/(?P<count>[0-9]{1,3})"
                 r":(?P<layout>[0-9A-F]{10})")


@dataclass(frozen=True)
class SheetCode:
    """What a sheet's QR code says."""

    version: int             # 1, or 0 for a reference-only code
    reference: str
    website: int | None      # 1-based position of the sheet's website
    count: int | None        # the applicant's number of websites (sheets)
    layout: str | None       # LAYOUT_DIGITS upper-case hex digits of the layout key


def sheet_code(reference: str, index: int, count: int) -> str:
    """The payload of the sheet of website ``index`` (0-based), its layout still to fill in."""
    return f"{PREFIX}{reference}:{index + 1}/{count}:{LAYOUT_SLOT}"


def layout_id(key: str) -> str:
    """The part of a layout key a code carries."""
    return key[:LAYOUT_DIGITS].upper()


def complete(value: str, key: str) -> str:
    """``value`` with the layout of key ``key`` filled in (other values are unchanged)."""
    return value.replace(LAYOUT_SLOT, layout_id(key))


def parse(text: str) -> SheetCode | None:
    """The sheet code in a QR code's text, or None when it is not one of sheetgen's."""
    text = text.strip()
    match = _V1.fullmatch(text)
    if match:
        index, count = int(match["index"]), int(match["count"])
        if 1 <= index <= count:
            return SheetCode(1, match["ref"], index, count, match["layout"])
        return None
    if _REFERENCE.fullmatch(text):
        return SheetCode(0, text, None, None, None)
    return None
