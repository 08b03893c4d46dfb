"""Checking sheetgen's PDFs with other programs: qpdf's ``--check`` and structural dump, and
pdfium's rendering against committed PNGs (issue 28, "checked by others").

qpdf is a system package (``make setup`` installs it as root). Where it is missing a test
that needs it is skipped, unless ``SHEETGEN_REQUIRE_QPDF`` is set (``.ci/run`` sets it): then
it fails, so CI can never pass without the check having run.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

#: Text streams up to this size are kept in a structural dump; longer or binary ones (font
#: programs, glyph maps, the ICC profile, the backgrounds' drawings) by size and digest.
KEPT_STREAM = 2048
#: The resolution and tolerance of the pixel comparison: a pixel "differs" when its grey
#: level is more than LEVELS apart; a page may have at most PIXELS such pixels. A missing
#: value of three characters darkens well over a hundred (tested).
DPI = 50
LEVELS = 64
PIXELS = 40


def qpdf() -> str:
    """The qpdf executable; skips the test without it, fails it in CI."""
    found = shutil.which("qpdf")
    if found is None:
        if os.environ.get("SHEETGEN_REQUIRE_QPDF"):
            pytest.fail("qpdf is not installed, and SHEETGEN_REQUIRE_QPDF is set (CI): "
                        "install it (apt-get install qpdf, or make setup as root)")
        pytest.skip("qpdf not installed (apt-get install qpdf)")
    return found


def check(pdf: bytes) -> None:
    """qpdf --check finds ``pdf`` well formed, without a warning."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.pdf"
        path.write_bytes(pdf)
        run = subprocess.run([qpdf(), "--check", str(path)], capture_output=True, text=True,
                             check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "No syntax or stream encoding errors" in run.stdout, run.stdout
    assert "WARNING" not in run.stdout + run.stderr, run.stdout + run.stderr


def structure(pdf: bytes) -> bytes:
    """A structural dump of ``pdf``: qpdf's QDF form (objects renumbered in the order they
    are reached, one per line, streams decoded, content streams one operator per line, no
    object streams), with each binary or long stream replaced by its length and SHA-256,
    and the cross-reference table (offsets) left out. Two PDFs with the same dump have the
    same objects with the same values; a change to any of them shows as a readable diff.
    """
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.pdf", Path(folder) / "out.pdf"
        source.write_bytes(pdf)
        # --deterministic-id: qpdf writes a new second /ID element, from the clock unless
        # told to compute it from the content.
        subprocess.run([qpdf(), "--qdf", "--object-streams=disable", "--deterministic-id",
                        str(source), str(target)], check=True, capture_output=True)
        qdf = target.read_bytes()
    out = io.BytesIO()
    at = search = 0
    while (start := qdf.find(b"stream\n", search)) >= 0:
        search = start + 7
        if qdf[start - 3:start] == b"end":  # "endstream"
            continue
        end = qdf.index(b"endstream", search)
        out.write(qdf[at:search])
        data = qdf[search:end]
        if len(data) <= KEPT_STREAM and _text(data):
            out.write(data)
        else:
            out.write(b"%% %d bytes, sha256 %s\n" % (len(data),
                                                     hashlib.sha256(data).hexdigest().encode()))
        at = search = end
    tail = qdf[at:]
    xref = tail.rfind(b"\nxref\n")
    trailer = tail.rfind(b"\ntrailer ")
    startxref = tail.rfind(b"\nstartxref")
    out.write(tail[:xref + 1] if xref >= 0 else tail)
    if trailer >= 0:
        out.write(tail[trailer + 1:startxref + 1])
    return out.getvalue()


def _text(data: bytes) -> bool:
    return all(32 <= byte < 127 or byte in b"\n\r\t" for byte in data)


def render(pdf: bytes) -> list[object]:
    """Each page of ``pdf`` rendered by pdfium at :data:`DPI`, in grey (PIL images)."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        return [page.render(scale=DPI / 72, grayscale=True).to_pil().convert("L")
                for page in document]
    finally:
        document.close()


def differing_pixels(image: object, expected: object) -> int:
    """How many pixels of ``image`` are more than :data:`LEVELS` grey levels off
    ``expected`` (every pixel, when the sizes differ)."""
    from PIL import Image, ImageChops

    assert isinstance(image, Image.Image) and isinstance(expected, Image.Image)
    if image.size != expected.size:
        return image.size[0] * image.size[1]
    difference = ImageChops.difference(image.convert("L"), expected.convert("L"))
    histogram = difference.histogram()
    return sum(histogram[LEVELS + 1:])


def png(image: object) -> bytes:
    """``image`` as a small PNG: 16 grey levels (4 bits a pixel), well within the
    comparison's tolerance."""
    from PIL import Image

    assert isinstance(image, Image.Image)
    grey = image.convert("L").point(lambda v: (v + 8) // 17 * 17)
    paletted = grey.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    buffer = io.BytesIO()
    paletted.save(buffer, "PNG", optimize=True, bits=4)
    return buffer.getvalue()
