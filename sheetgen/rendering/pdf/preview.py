"""PNG previews of PDF pages (pypdfium2), for people who want to look before printing."""

from __future__ import annotations

import io
from pathlib import Path

from sheetgen.output import write_atomic

#: Render resolution: 110 dpi shows a sheet legibly on a screen at a modest file size.
DPI = 110


def page_images(pdf: bytes, *, dpi: int = DPI) -> list[bytes]:
    """Every page of ``pdf`` as PNG bytes."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        images = []
        for index in range(len(document)):
            page = document[index]
            buffer = io.BytesIO()
            page.render(scale=dpi / 72).to_pil().save(buffer, format="PNG", optimize=True)
            page.close()
            images.append(buffer.getvalue())
        return images
    finally:
        document.close()


def preview_paths(target: Path, count: int) -> list[Path]:
    """``target`` for one page; ``name-1.png``, ``name-2.png`` … for several."""
    if count == 1:
        return [target]
    return [target.with_name(f"{target.stem}-{n}{target.suffix or '.png'}")
            for n in range(1, count + 1)]


def write_previews(pdf: bytes, target: Path, *, dpi: int = DPI) -> list[Path]:
    """Write a PNG per page next to ``target``; returns the paths written."""
    images = page_images(pdf, dpi=dpi)
    paths = preview_paths(target, len(images))
    for path, image in zip(paths, images, strict=True):
        write_atomic(path, image)
    return paths
