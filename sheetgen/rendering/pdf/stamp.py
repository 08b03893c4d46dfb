"""Stamp values into compiled layouts: the per-record half of compile-once/stamp-many.

A :class:`Stamper` draws the values of any number of pages into one reportlab document, so a
whole bundle shares one font subset. Each text value is wrapped (CJK line breaking with
reportlab's ``wordSplit``, which keeps closing punctuation off the start of a line) and shrunk
step by step from its box's font size down to its minimum size; a value that still does not
fit may continue in a region of blank space (``data-overflow``), else it is refused with
:class:`~sheetgen.errors.DoesNotFitError`. Nothing is ever clipped and nothing adds a page:
the background decides the page count. Every field gets a :class:`FieldFit` for the fit report.

Characters above U+FFFF are drawn with the supplementary font (reportlab has no font fallback).
Both fonts give CJK ideographs and .notdef the same 1000-unit advance, so text is measured with
the body font alone.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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


def encode_qr(value: str) -> QrModules:
    """Encode ``value`` (segno, level M) when a page is planned, so drawing only draws."""
    import segno

    matrix = segno.make_qr(value, error="m").matrix
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
              paths: Mapping[str, str], measure: Measure, font: str) -> PagePlan:
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
            draws.append(_Draw(field.box, field.font_size, qr=encode_qr(value)))
            fits.append(FieldFit(json_path, field.path, "fitted", field.font_size, 1))
            continue
        region = layout.regions.get(field.overflow) if field.overflow else None
        fitted = fit_value(field, values, region, used.get(field.overflow or "", 0.0), font,
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


class Stamper:
    """Draws planned pages into one reportlab document (one font subset for all of them)."""

    def __init__(self) -> None:
        from reportlab import rl_config
        from reportlab.pdfbase.pdfmetrics import stringWidth
        from reportlab.pdfgen.canvas import Canvas

        self._fonts = fonts.register_reportlab()
        self._buffer = io.BytesIO()
        # invariant=1: no creation date or random ID, so the same input stamps the same bytes.
        # No ASCII85 on top of Flate: it only makes the pages a quarter bigger.
        rl_config.useA85 = 0
        self._canvas = Canvas(self._buffer, invariant=1, pageCompression=1)
        body = self._fonts.body
        self.measure: Measure = lambda text, size: float(stringWidth(text, body, size))
        self.pages = 0

    def plan(self, layout: CompiledLayout, page: int, values: Mapping[str, str],
             paths: Mapping[str, str]) -> PagePlan:
        """Fit one page's values (see :func:`plan_page`); nothing is drawn yet."""
        return plan_page(layout, page, values, paths, self.measure, self._fonts.body)

    def draw(self, plan: PagePlan) -> None:
        """Draw a planned page as the document's next page."""
        canvas = self._canvas
        canvas.setPageSize(plan.size)
        for item in plan.draws:
            if item.qr is not None:
                self._draw_qr(item.qr, item.box)
            else:
                self._draw_lines(item)
        canvas.showPage()
        self.pages += 1

    def finish(self) -> bytes:
        """The stamp document: one page per :meth:`draw`, in order."""
        self._canvas.save()
        return self._buffer.getvalue()

    def _draw_lines(self, item: _Draw) -> None:
        box, size = item.box, item.size
        leading = size * LEADING
        block = len(item.lines) * leading
        top = (box.y + box.height / 2 + block / 2) if item.centre else (
            box.y + box.height - item.offset)
        canvas = self._canvas
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
            text = canvas.beginText(x, baseline)
            for role, run in fonts.split_by_font(line):
                text.setFont(getattr(self._fonts, role), size)
                text.textOut(run)
            canvas.drawText(text)

    def _draw_qr(self, code: QrModules, box: Box) -> None:
        """A QR code filling the top-right square of ``box``, as one vector path.

        (reportlab's own QR widget builds a shape per module, about 70 ms a code.)
        """
        side = min(box.width, box.height)
        module = side / code.size
        left, top = box.x + box.width - side, box.y + box.height
        path = self._canvas.beginPath()
        for row, first, length in code.runs:
            path.rect(left + first * module, top - (row + 1) * module, length * module, module)
        self._canvas.drawPath(path, stroke=0, fill=1)
