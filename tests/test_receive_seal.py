"""Light seals (issue 26.11): a plain red ring over the seal box counts, and a seal measure near
the threshold (or faint colour) says ``uncertain`` (null, ``seal_uncertain``: a person looks)
instead of a confident "no seal".

The scans are made as in tests/scans.py: a unit's sheet rendered, a ring of a given width and
ink pressed over its 单位公章 circle (28 mm across, with a few strokes inside for characters),
scanned with noise and saved as JPEG.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from sheetgen.receive import receive
from tests.scans import RENDER_DPI, Sheet, ink, jpeg, rect, rendered_sheets, scan, scanner_pdf

MM = RENDER_DPI / 25.4


@pytest.fixture(scope="module")
def unit() -> Sheet:
    return rendered_sheets("beijing-unit-two-websites")[1][0]


def ring(sheet: Sheet, colour: tuple[int, int, int], width_mm: float, *,
         characters: bool = True, seed: int = 3) -> Image.Image:
    """The signed sheet with a seal that is only a ring (and a few characters) in ``colour``."""
    image = ink(sheet, seal=False, seed=seed)
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = rect(sheet, "seal")
    cx, cy, radius = (x0 + x1) / 2, (y0 + y1) / 2, 14 * MM
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=colour,
                 width=max(1, round(width_mm * MM)))
    if characters:
        for i in range(4):  # four small crossed strokes along the middle, like 公章 text
            x = cx - 6 * MM + i * 3.5 * MM
            for a, b in ((-1.5, 1.5), (1.5, -1.5)):
                draw.line([(x, cy + a * MM), (x + 2 * MM, cy + b * MM)], fill=colour,
                          width=max(1, round(0.4 * MM)))
    return image


#: (ink, ring width in mm) of rings that are seals: full red to pale, 1.5 mm to 0.4 mm.
SEALS = [((205, 35, 45), 1.0), ((230, 110, 110), 1.0), ((240, 150, 150), 1.0),
         ((235, 120, 120), 0.6), ((225, 90, 95), 0.4), ((245, 170, 170), 1.5)]


def test_a_plain_ring_counts_as_a_seal(tmp_path: Path, unit: Sheet) -> None:
    pages = [jpeg(scan(ring(unit, colour, width), seed=n))
             for n, (colour, width) in enumerate(SEALS)]
    pages.append(jpeg(scan(ring(unit, (205, 35, 45), 1.0, characters=False), seed=9)))
    receipt = receive([scanner_pdf(tmp_path / "rings.pdf", pages)])
    for page, case in zip(receipt.pages, [*SEALS, "ring alone"], strict=True):
        assert page.seal is True, (case, page.ink, page.confidence)
        assert "no_seal" not in {p.code for p in page.problems}


def test_a_seal_too_faint_to_judge_is_uncertain_not_absent(tmp_path: Path, unit: Sheet) -> None:
    faint = [jpeg(scan(ring(unit, (245, 190, 190), 1.0, characters=False), seed=1), 50),
             scan(ring(unit, (205, 35, 45), 1.0), seed=2, grey=True)]  # grey: red unseen
    unsealed = [jpeg(scan(ink(unit, seal=False, seed=n), seed=n, angle=angle), quality)
                for n, (angle, quality) in enumerate([(0, 70), (90, 50), (181, 40)])]
    receipt = receive([scanner_pdf(tmp_path / "faint.pdf", [*faint, *unsealed])])
    for page in receipt.pages[:2]:
        assert page.seal is None and page.confidence["seal"] == 0.5, page.ink
        problems = {p.code: p.message for p in page.problems}
        assert "no_seal" not in problems and "person should look" in problems["seal_uncertain"]
    for page in receipt.pages[2:]:  # no seal at all is still a confident no
        assert page.seal is False and page.confidence["seal"] >= 0.9, page.ink
        assert {p.code for p in page.problems} == {"no_seal"}
    record = receipt.records[0]
    assert "seal_uncertain" in {p["code"] for p in record.problems} and not record.complete
