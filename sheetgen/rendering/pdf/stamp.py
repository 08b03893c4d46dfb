"""Stamp values into compiled layouts: the per-record half of compile-once/stamp-many.

A :class:`Stamper` fits each page's values (:func:`plan_page`) and writes each planned page's
content stream itself (:meth:`Stamper.draw`): text as ``BT /SgB0 9 Tf x y Td <glyph ids> Tj
ET`` in a Type0 ``/Identity-H`` font whose CIDs are the bundled font's glyph ids, the QR code
as one path in module units. Each text value is wrapped (CJK line breaking, closing
punctuation kept off the start of a line) and shrunk step by step from its box's font size
down to its minimum size; a value that still does not fit may continue in a region of blank
space (``data-overflow``), else it is refused with :class:`~sheetgen.errors.DoesNotFitError`.
Nothing is ever clipped and nothing adds a page: the background decides the page count.
Every field gets a :class:`FieldFit` for the fit report.

Which glyph stands for which text is collected for the whole output document in
:class:`StampFonts`; the composer (:mod:`~.compose`) writes the font dictionaries (widths,
ToUnicode) and one font program per face from it at the end, shared with the backgrounds.

Characters above U+FFFF are drawn with the supplementary font (:func:`~sheetgen.rendering.
fonts.split_by_font`). Both fonts give CJK ideographs and .notdef the same 1000-unit advance,
so text is measured with the body font alone (:func:`~sheetgen.rendering.fonts.measure`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sheetgen.documents.sheetcode import complete
from sheetgen.errors import Problem
from sheetgen.rendering import fonts
from sheetgen.rendering.fields import (
    LEADING,
    Box,
    FieldFit,
    Measure,
    does_not_fit,
    fit_report,
    fit_value,
    refuse,
)
from sheetgen.rendering.pdf.layout import CompiledLayout

#: Where an ideograph's visual centre sits above the baseline, in em (ideographic em box
#: from -0.12 to 0.88): used to centre lines vertically in their boxes.
CENTRE = 0.38


@dataclass(frozen=True)
class _Draw:
    """One thing to draw: lines of text at a size in a box, or a QR code."""

    box: Box
    size: float
    lines: Sequence[str] = ()
    align: str = "left"
    centre: bool = True
    offset: float = 0.0
    qr: QrModules | None = None


@dataclass(frozen=True)
class QrModules:
    """A QR code as the runs of dark modules of each row: (row, first column, length)."""

    size: int
    runs: tuple[tuple[int, int, int], ...]


#: The QR mask pattern, fixed: choosing the best of the eight by ISO 18004's penalty rules
#: is most of segno's time (about 1.5 ms a code), and any mask gives a valid code; what the
#: choice avoids (large blocks, finder-like runs) hardly occurs in a short reference.
QR_MASK = 1


def encode_qr(value: str) -> QrModules:
    """Encode ``value`` (segno, level M or better) when a page is planned, so drawing only
    draws."""
    import segno

    matrix = segno.make_qr(value, error="m", mask=QR_MASK).matrix
    runs = []
    for row, cells in enumerate(matrix):
        start = None
        for col, dark in enumerate([*cells, 0]):
            if dark and start is None:
                start = col
            elif not dark and start is not None:
                runs.append((row, start, col - start))
                start = None
    return QrModules(len(matrix), tuple(runs))


@dataclass(frozen=True)
class PagePlan:
    """A page's values, fitted and ready to draw; computing it draws nothing."""

    size: tuple[float, float]
    draws: tuple[_Draw, ...]
    fits: tuple[FieldFit, ...]


def plan_page(layout: CompiledLayout, page: int, values: Mapping[str, str],
              paths: Mapping[str, str], measure: Measure) -> PagePlan:
    """Fit every value of one page of ``layout``.

    ``values`` are by context path; ``paths`` maps a context path to the JSON path of its
    data, for errors and reports. Raises DoesNotFitError listing every value that does not fit.
    """
    draws: list[_Draw] = []
    fits: list[FieldFit] = []
    problems: list[Problem] = []
    used: dict[str, float] = {}  # how much of each region continuations already fill
    for field in layout.fields:
        if field.box.page != page:
            continue
        value = values.get(field.path, "")
        json_path = paths.get(field.path, field.path)
        if not value:
            fits.append(FieldFit(json_path, field.path, "empty", field.font_size, 0))
            continue
        if field.kind == "qr":
            # A sheet code names its own layout (sheetgen.documents.sheetcode).
            draws.append(_Draw(field.box, field.font_size,
                               qr=encode_qr(complete(value, layout.key))))
            fits.append(FieldFit(json_path, field.path, "fitted", field.font_size, 1))
            continue
        region = layout.regions.get(field.overflow) if field.overflow else None
        fitted = fit_value(field, values, region, used.get(field.overflow or "", 0.0),
                           measure)
        if fitted is None:
            problems.append(does_not_fit(json_path, field))
            continue
        draws.append(_Draw(field.box, fitted.size, fitted.lines, field.align))
        if fitted.rest and region is not None and field.overflow:
            top = used.get(field.overflow, 0.0)
            draws.append(_Draw(region.box, fitted.size, fitted.rest, "left", centre=False,
                               offset=top))
            used[field.overflow] = top + fitted.rest_height
        fits.append(fit_report(json_path, field, fitted))
    if problems:
        raise refuse(problems)
    return PagePlan(layout.page_sizes[page], tuple(draws), tuple(fits))


#: Resource name prefix of the stamp's font of each face (``/SgB0``, ``/SgS0``, …).
_FACE_NAMES = {"body": "B", "supplement": "S"}


class StampFonts:
    """The stamp's fonts of one output document: the text each glyph id stands for, per face.

    A font dictionary's ToUnicode map gives one text per CID, and here a CID is the glyph id:
    two characters drawn with the same glyph (a CJK compatibility ideograph and its unified
    twin, say) cannot share one dictionary and still both extract. Each face therefore has
    *layers* of dictionaries over the same font program: a character goes into the first layer
    where its glyph is free or already stands for it (almost always layer 0). Memory is
    bounded by the glyphs a face has, however many pages are stamped.
    """

    def __init__(self) -> None:
        self.layers: dict[str, list[dict[int, str]]] = {}

    def encode(self, role: str, text: str) -> list[tuple[bytes, bytes]]:
        """``text`` (drawn with the face of ``role``) as (font resource name, hex string of
        CIDs) runs, registering what each glyph stands for."""
        face = fonts.face(role)
        layers = self.layers.setdefault(role, [])
        runs: list[tuple[bytes, list[str]]] = []
        for char in text:
            glyph = face.glyph(ord(char))
            layer = 0
            while layer < len(layers) and layers[layer].setdefault(glyph, char) != char:
                layer += 1
            if layer == len(layers):
                layers.append({glyph: char})
            name = self.name(role, layer)
            if runs and runs[-1][0] == name:
                runs[-1][1].append(f"{glyph:04X}")
            else:
                runs.append((name, [f"{glyph:04X}"]))
        return [(name, "".join(cids).encode("ascii")) for name, cids in runs]

    @staticmethod
    def name(role: str, layer: int) -> bytes:
        return b"/Sg%s%d" % (_FACE_NAMES[role].encode(), layer)

    def fonts(self) -> list[tuple[bytes, str, dict[int, str]]]:
        """Every font dictionary to write: (resource name, face role, glyph id -> text)."""
        return [(self.name(role, layer), role, glyphs)
                for role, layers in sorted(self.layers.items())
                for layer, glyphs in enumerate(layers)]


@dataclass(frozen=True)
class StampedPage:
    """A page's stamped values: its content stream and the font resources it uses."""

    size: tuple[float, float]
    content: bytes
    fonts: tuple[bytes, ...]


def _num(value: float) -> bytes:
    """A PDF number: at most 3 decimals (1/1000 pt), no trailing zeros."""
    text = b"%.3f" % value
    text = text.rstrip(b"0").rstrip(b".")
    return b"0" if text in (b"-0", b"") else text


class Stamper:
    """Fits and draws pages of values; one per output document (see :class:`StampFonts`)."""

    def __init__(self, glyphs: StampFonts | None = None) -> None:
        self.glyphs = glyphs if glyphs is not None else StampFonts()
        self.measure: Measure = fonts.measure
        self.pages = 0

    def plan(self, layout: CompiledLayout, page: int, values: Mapping[str, str],
             paths: Mapping[str, str]) -> PagePlan:
        """Fit one page's values (see :func:`plan_page`); nothing is drawn yet."""
        return plan_page(layout, page, values, paths, self.measure)

    def draw(self, plan: PagePlan) -> StampedPage:
        """The content stream of a planned page."""
        parts: list[bytes] = []
        used: dict[bytes, None] = {}
        for item in plan.draws:
            if item.qr is not None:
                parts.append(_qr(item.qr, item.box))
            else:
                parts.extend(self._lines(item, used))
        self.pages += 1
        return StampedPage(plan.size, b"\n".join(parts), tuple(used))

    def _lines(self, item: _Draw, used: dict[bytes, None]) -> list[bytes]:
        box, size = item.box, item.size
        leading = size * LEADING
        block = len(item.lines) * leading
        top = (box.y + box.height / 2 + block / 2) if item.centre else (
            box.y + box.height - item.offset)
        out = []
        for number, line in enumerate(item.lines):
            if not line:
                continue
            baseline = top - number * leading - leading / 2 - CENTRE * size
            width = self.measure(line, size)
            x = box.x
            if item.align == "center":
                x += (box.width - width) / 2
            elif item.align == "right":
                x += box.width - width
            shown = []
            current = None
            for role, run in fonts.split_by_font(line):
                for name, cids in self.glyphs.encode(role, run):
                    if name != current:
                        shown.append(b"%s %s Tf" % (name, _num(size)))
                        current = name
                        used[name] = None
                    shown.append(b"<%s> Tj" % cids)
            out.append(b"BT %s %s Td %s ET" % (_num(x), _num(baseline), b" ".join(shown)))
        return out


def _qr(code: QrModules, box: Box) -> bytes:
    """A QR code filling the top-right square of ``box``, as one filled vector path.

    Drawn in module units (a transformation maps a module to its size on the page, rows
    downwards), so each run of dark modules is a rectangle of small whole numbers: about a
    third of the bytes of the same path in page coordinates.
    """
    side = min(box.width, box.height)
    module = side / code.size
    matrix = b"%s 0 0 %s %s %s cm" % (_num(module), _num(-module),
                                      _num(box.x + box.width - side), _num(box.y + box.height))
    runs = b" ".join(b"%d %d %d 1 re" % (first, row, length) for row, first, length in code.runs)
    return b"q %s %s f Q" % (matrix, runs)
