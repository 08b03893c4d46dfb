"""Ink in the applicant's boxes: signed, sealed, fingerprinted, dated.

Each area of the layout (``data-area``: the signature line, the 单位公章 circle, the 按手印处
box, the applicant's date line) is cut out of the scan through the registration at
:data:`AREA_DPI`, with a margin where handwriting goes beyond the printed box (a signature
rises above its line). A pixel is ink when it is dark, or strongly coloured (a red seal, a
blue pen); it counts only where the blank layout prints nothing within :data:`TOLERANCE_MM`
(the box's own label and border, and registration's last fraction of a millimetre), and only
in a neighbourhood of ink (a 3 × 3 majority), which removes scanner noise and JPEG speckle.
Red ink does not count as signature or date (on a colour scan; a grey one cannot tell): a
seal often overlaps the signature line.

Where red ink counts (seal, fingerprint), red over the blank layout's own print counts too:
the form prints in black and grey, so red there is ink; a seal's ring pressed exactly over the
printed 单位公章 circle would otherwise hide in the tolerance band around it.

The fraction of the area's free pixels that carry ink is compared with a threshold per kind;
the confidence grows with the distance from it (0.5 at the threshold, 1 at twice or none). A
seal is not judged absent on a measure near its threshold: below it but above
:data:`UNCERTAIN` of it, or with faint colour (half the strength that counts as ink) over the
threshold, it is ``uncertain`` (real seals vary in ink; a person looks) rather than false.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sheetgen.receive.register import MM, Array, Registration, warp
from sheetgen.rendering.fields import Box

if TYPE_CHECKING:
    from PIL.Image import Image

AREA_DPI = 150.0
TOLERANCE_MM = 0.6
DARK = 0.42        # darkness above which a pixel is ink (0 paper, 1 black)
CHROMA = 0.25      # or a colour this far from grey
BLANK_INK = 0.15   # the blank layout prints here
UNCERTAIN = 0.5    # of the threshold: a seal measured between this and it is not judged
FAINT = 0.5        # of DARK and CHROMA: ink too light to count, enough to doubt a "no"


@dataclass(frozen=True)
class AreaRule:
    """How one kind of area is read: its margins (mm: left, top, right, bottom) and threshold."""

    margins: tuple[float, float, float, float]
    threshold: float   # fraction of free pixels with ink
    red_counts: bool   # a seal's red ink counts here
    doubt: bool = False  # near the threshold, or faint ink: uncertain rather than absent


RULES = {
    "signature": AreaRule((1.0, 6.0, 1.0, 1.5), 0.02, red_counts=False),
    "seal": AreaRule((1.0, 1.0, 1.0, 1.0), 0.03, red_counts=True, doubt=True),
    "fingerprint": AreaRule((0.5, 0.5, 0.5, 0.5), 0.03, red_counts=True),
    "date": AreaRule((0.0, 1.5, 0.0, 1.0), 0.012, red_counts=False),
}


@dataclass(frozen=True)
class AreaInk:
    """How much ink one area carries, and what that says."""

    fraction: float
    inked: bool
    confidence: float
    pattern: Array  # the new ink at a third of AREA_DPI: tells one original from another
    uncertain: bool = False  # not inked, but too near to say "none" (rules with ``doubt``)


def measure(image: Image, registration: Registration, blank: Array, area: Box,
            page_height: float, kind: str) -> AreaInk:
    """The ink in ``area`` (a layout box, origin bottom-left) of the registered scan.

    ``blank`` is the layout's background page at :data:`AREA_DPI` as darkness.
    """
    rule = RULES[kind]
    left, top, right, bottom = (m * MM for m in rule.margins)
    x0 = area.x - left
    y0 = page_height - (area.y + area.height) - top
    width, height = area.width + left + right, area.height + top + bottom
    crop = warp(image, registration.matrix, (x0, y0), (width, height), AREA_DPI)
    rgb = np.asarray(crop.convert("RGB"), dtype=np.float64) / 255.0
    dark = 1.0 - (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2])
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    redness = rgb[..., 0] - np.maximum(rgb[..., 1], rgb[..., 2])
    ink = (dark > DARK) | (chroma > CHROMA)
    if not rule.red_counts:
        ink &= ~(redness > CHROMA)
    ink = _majority(ink)
    printed = _blank_crop(blank, x0, y0, ink.shape) > BLANK_INK
    printed = _dilate(printed, max(1, round(TOLERANCE_MM * MM * AREA_DPI / 72)))
    free = ~printed
    found = ink & free
    if rule.red_counts:  # the print is black: red on it is ink (a seal's ring on the circle)
        found |= _majority(redness > CHROMA) & printed
    fraction = float(found.sum()) / max(1, int(free.sum()))
    inked = fraction >= rule.threshold
    ratio = fraction / rule.threshold
    confidence = min(1.0, 0.5 + (ratio - 1) / 2) if inked else min(1.0, 0.5 + (1 - ratio) / 2)
    uncertain = False
    if rule.doubt and not inked:
        faint = _majority((dark > DARK * FAINT) | (chroma > CHROMA * FAINT)) & free
        faint |= _majority(redness > CHROMA * FAINT) & printed
        uncertain = (ratio >= UNCERTAIN
                     or float(faint.sum()) / max(1, int(free.sum())) >= rule.threshold)
        if uncertain:
            confidence = 0.5  # neither way
    return AreaInk(fraction, inked, round(confidence, 2), _pattern(found), uncertain)


def _blank_crop(blank: Array, x0: float, y0: float, shape: tuple[int, ...]) -> Array:
    """The blank page's pixels under a crop at (x0, y0) pt, paper outside the page."""
    scale = AREA_DPI / 72
    top, left = round(y0 * scale), round(x0 * scale)
    out = np.zeros(shape[:2])
    rows = slice(max(0, top), min(blank.shape[0], top + shape[0]))
    cols = slice(max(0, left), min(blank.shape[1], left + shape[1]))
    if rows.start < rows.stop and cols.start < cols.stop:
        out[rows.start - top:rows.stop - top, cols.start - left:cols.stop - left] = \
            blank[rows, cols]
    return out


def _neighbours(mask: np.ndarray[Any, np.dtype[np.bool_]], radius: int
                ) -> list[np.ndarray[Any, np.dtype[np.bool_]]]:
    padded = np.pad(mask, radius)
    h, w = mask.shape
    return [padded[dy:dy + h, dx:dx + w]
            for dy in range(2 * radius + 1) for dx in range(2 * radius + 1)]


def _majority(mask: np.ndarray[Any, np.dtype[np.bool_]]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    count = np.sum([n.astype(np.int8) for n in _neighbours(mask, 1)], axis=0)
    return np.asarray(count >= 5)


def _dilate(mask: np.ndarray[Any, np.dtype[np.bool_]], radius: int
            ) -> np.ndarray[Any, np.dtype[np.bool_]]:
    out = np.zeros_like(mask)
    for shifted in _neighbours(mask, radius):
        out |= shifted
    return out


def _pattern(mask: np.ndarray[Any, np.dtype[np.bool_]]) -> Array:
    """The mask's block means over 3 × 3 pixels (50 dpi)."""
    h, w = (mask.shape[0] // 3) * 3, (mask.shape[1] // 3) * 3
    blocks = mask[:h, :w].reshape(h // 3, 3, w // 3, 3)
    return np.asarray(blocks.mean(axis=(1, 3)), dtype=np.float64)
