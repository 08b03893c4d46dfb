"""The value of a document's QR code: what a scan of the signed paper is matched by.

Version 2 names the document kind (:mod:`sheetgen.documents.kinds`):
``SG2:<KIND>:<reference>:<number>/<count>:<layout>``, e.g. ``SG2:LETTER:QY-2026-000123:1/1:…``
(the kind's registry name in upper case, so the payload stays in the QR alphanumeric alphabet
but for ``_``). The check sheet, the kind every code named before kinds existed, keeps
printing version 1 (:data:`LEGACY_KIND`): its codes, and the PDFs that carry them, stay the
same bytes, and every sheet ever printed stays readable.

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
#: The kind a version 1 (and a reference-only) code names.
LEGACY_KIND = "sheet"
LAYOUT_SLOT = "{layout}"
#: Hex digits of the layout key a code carries: 40 bits, against a few dozen layouts.
LAYOUT_DIGITS = 10
_REFERENCE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_V1 = re.compile(r"SG1:(?P<ref>[A-Za-z0-9._-]{1,64}):(?P<index>[0-9]{1,3})/(?P<count>[0-9]{1,3})"
                 r":(?P<layout>[0-9A-F]{10})")
_V2 = re.compile(r"SG2:(?P<kind>[A-Z][A-Z0-9_]{0,31}):(?P<ref>[A-Za-z0-9._-]{1,64}):"
                 r"(?P<index>[0-9]{1,3})/(?P<count>[0-9]{1,3}):(?P<layout>[0-9A-F]{10})")


@dataclass(frozen=True)
class SheetCode:
    """What a sheet's QR code says."""

    version: int             # 1, or 0 for a reference-only code
    reference: str
    website: int | None      # 1-based position of the sheet's website
    count: int | None        # the applicant's number of websites (sheets)
    layout: str | None       # LAYOUT_DIGITS upper-case hex digits of the layout key
    kind: str = LEGACY_KIND  # the document kind's registry name


def sheet_code(reference: str, index: int, count: int, kind: str = LEGACY_KIND) -> str:
    """The payload of document ``index`` (0-based) of ``count`` of ``kind`` (the sheet of
    website ``index``, or ``0, 1`` for a one-per-applicant kind), its layout still to fill in."""
    if kind == LEGACY_KIND:
        return f"{PREFIX}{reference}:{index + 1}/{count}:{LAYOUT_SLOT}"
    return f"SG2:{kind.upper()}:{reference}:{index + 1}/{count}:{LAYOUT_SLOT}"


def layout_id(key: str) -> str:
    """The part of a layout key a code carries."""
    return key[:LAYOUT_DIGITS].upper()


def complete(value: str, key: str) -> str:
    """``value`` with the layout of key ``key`` filled in (other values are unchanged)."""
    return value.replace(LAYOUT_SLOT, layout_id(key))


def parse(text: str) -> SheetCode | None:
    """The sheet code in a QR code's text, or None when it is not one of sheetgen's."""
    text = text.strip()
    match = _V2.fullmatch(text)
    if match:
        index, count = int(match["index"]), int(match["count"])
        if 1 <= index <= count:
            return SheetCode(2, match["ref"], index, count, match["layout"],
                             match["kind"].lower())
        return None
    match = _V1.fullmatch(text)
    if match:
        index, count = int(match["index"]), int(match["count"])
        if 1 <= index <= count:
            return SheetCode(1, match["ref"], index, count, match["layout"])
        return None
    if _REFERENCE.fullmatch(text):
        return SheetCode(0, text, None, None, None)
    return None
