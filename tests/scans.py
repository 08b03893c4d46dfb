"""Building scans of signed sheets for the receive tests and benchmark (issue 18).

Sheets are filled and rendered to images with pypdfium2, inked where the applicant signs (pen
strokes), seals (a red ring and star), presses a fingerprint (ridges in red paste) or writes a
date, then turned, rescaled, given noise and JPEG artefacts, and saved as a scanner would.
"""

from __future__ import annotations

import io
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageDraw

from sheetgen.pipeline import plan_input
from sheetgen.receive.codes import find_codes
from sheetgen.rendering.pdf.document import RenderOptions, render_pdf
from sheetgen.rendering.pdf.layout import CompiledLayout, cached_layout
from tests.applicants import example

RENDER_DPI = 200


@dataclass(frozen=True)
class Sheet:
    """One rendered check sheet: its page image at RENDER_DPI and its layout."""

    reference: str
    website: int
    image: Image.Image
    layout: CompiledLayout


def rendered_sheets(name: str) -> tuple[bytes, list[Sheet]]:
    """The example's PDF (cover first) and each of its sheets as an image."""
    plan = plan_input(json.dumps(example(name), ensure_ascii=False).encode(), source=name)
    pdf = render_pdf(plan, RenderOptions()).pdf
    document = pdfium.PdfDocument(pdf)
    sheets = []
    for index in range(len(document)):
        image = document[index].render(scale=RENDER_DPI / 72).to_pil().convert("RGB")
        found = find_codes(image)
        if not found:
            continue  # the cover
        code = found[0].code
        assert code is not None and code.layout is not None
        layout = cached_layout(code.layout)
        assert layout is not None
        sheets.append(Sheet(code.reference, code.website or 0, image, layout))
    document.close()
    return pdf, sheets


def rect(sheet: Sheet, area: str) -> tuple[float, float, float, float]:
    """An area of the layout in pixels of the sheet's image (left, top, right, bottom)."""
    box = sheet.layout.areas[area]
    k = RENDER_DPI / 72
    height = sheet.layout.page_sizes[0][1]
    return (box.x * k, (height - box.y - box.height) * k, (box.x + box.width) * k,
            (height - box.y) * k)


def ink(sheet: Sheet, *, sign: bool = True, seal: bool = True, fingerprint: bool = True,
        date: bool = False, seed: int = 1) -> Image.Image:
    """The sheet as the applicant returns it."""
    rnd = random.Random(seed)
    image = sheet.image.copy()
    draw = ImageDraw.Draw(image)
    mm = RENDER_DPI / 25.4
    areas = sheet.layout.areas
    if sign:  # a pen signature: a few strokes rising above the line
        x0, y0, x1, y1 = rect(sheet, "signature")
        for stroke in range(3):
            start = x0 + (x1 - x0) * (0.05 + 0.3 * stroke) + rnd.uniform(-1, 1) * mm
            phase, amplitude = rnd.uniform(0, 6), rnd.uniform(1.5, 3) * mm
            points = [(start + t * 0.9 * mm, y1 - 2 * mm - amplitude * math.sin(phase + t * 0.8))
                      for t in range(10)]
            draw.line(points, fill=(25, 35, 110), width=round(0.5 * mm))
    if seal and "seal" in areas:  # the unit's red seal: a ring and a star
        x0, y0, x1, y1 = rect(sheet, "seal")
        dx, dy = rnd.uniform(-2, 2) * mm, rnd.uniform(-2, 2) * mm
        margin = 1.5 * mm
        draw.ellipse((x0 + margin + dx, y0 + margin + dy, x1 - margin + dx, y1 - margin + dy),
                     outline=(205, 35, 45), width=round(1.0 * mm))
        cx, cy = (x0 + x1) / 2 + dx, (y0 + y1) / 2 + dy
        star = [(cx + 4 * mm * math.cos(a * math.pi / 5 - math.pi / 2) * (1 if a % 2 else 0.4),
                 cy + 4 * mm * math.sin(a * math.pi / 5 - math.pi / 2) * (1 if a % 2 else 0.4))
                for a in range(10)]
        draw.polygon(star, fill=(205, 35, 45))
    if fingerprint and "fingerprint" in areas:  # a pressed finger: ridges in red ink paste
        x0, y0, x1, y1 = rect(sheet, "fingerprint")
        cx = (x0 + x1) / 2 + rnd.uniform(-2, 2) * mm
        cy = (y0 + y1) / 2 + rnd.uniform(-2, 2) * mm
        for radius in np.arange(0.8 * mm, 6 * mm, 0.7 * mm):
            draw.ellipse((cx - radius, cy - radius * 1.35, cx + radius, cy + radius * 1.35),
                         outline=(175, 30, 40), width=max(2, round(0.3 * mm)))
    if date:  # 2026 年 12 月 1 日, written into the blanks of the date line
        x0, y0, x1, y1 = rect(sheet, "date")
        for fraction in (0.2, 0.25, 0.3, 0.35, 0.55, 0.6, 0.8):
            x = x0 + (x1 - x0) * fraction
            draw.line([(x, y0 + 0.5 * mm), (x + 1.2 * mm, y1 - 0.5 * mm)], fill=(20, 20, 20),
                      width=round(0.4 * mm))
    return image


def scan(image: Image.Image, *, angle: float = 0.0, dpi: int = 200, noise: float = 6.0,
         grey: bool = False, seed: int = 0) -> Image.Image:
    """What a scanner makes of the page: rescaled, turned, noisy; JPEG comes when saved."""
    if dpi != RENDER_DPI:
        size = (round(image.width * dpi / RENDER_DPI), round(image.height * dpi / RENDER_DPI))
        image = image.resize(size, Image.Resampling.LANCZOS)
    if angle:
        image = image.rotate(angle, expand=True, fillcolor=(248, 248, 246),
                             resample=Image.Resampling.BICUBIC)
    pixels = np.asarray(image, dtype=np.float32)
    pixels += np.random.default_rng(seed).standard_normal(pixels.shape, np.float32) * noise
    noisy = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return noisy.convert("L") if grey else noisy


def jpeg(image: Image.Image, quality: int = 70) -> Image.Image:
    """The image after a trip through JPEG at ``quality``."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert(image.mode)


def scanner_pdf(path: Path, pages: list[Image.Image], dpi: int = 200) -> Path:
    """A document feeder's PDF: one JPEG image per page."""
    first, *rest = [p.convert("RGB") for p in pages]
    first.save(path, "PDF", save_all=True, append_images=rest, resolution=dpi, quality=75)
    return path
