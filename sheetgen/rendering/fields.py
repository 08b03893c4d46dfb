"""Fields and fitting, shared by every output format: where a value goes and how it fits.

A layout (the PDF's, compiled by WeasyPrint, or a Word template's, read from its table cells)
is described here in format-neutral terms: a :class:`FieldBox` per value, :class:`Region` s of
blank space that long values may continue in. :func:`fit_value` decides, for any such box, the
largest font size at which a value fits, shrinking step by step down to the field's minimum
size and then continuing in the region, and :func:`refuse` is the one error of a value that
still does not fit. The PDF stamper (:mod:`sheetgen.rendering.pdf.stamp`) and the Word renderer
(:mod:`sheetgen.rendering.docx.document`) both call these, with the same text measurement (the
bundled body font's metrics), so the two formats fit a value the same way.

:data:`MIN_SIZES` is the one source of each field's minimum size: a template may ask for a
larger minimum (``data-min-size`` in HTML, ``min-size`` in a DOCX field comment), never a
smaller one, so no format can refuse a value another format accepts for being below its
minimum.

:func:`check_fonts` refuses, for every format, a value with a character no bundled font has.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sheetgen.documents.context import SheetContext
from sheetgen.errors import DoesNotFitError, Problem, TemplateError
from sheetgen.rendering import fonts

#: The smallest font size a value is shrunk to (pt), unless :data:`MIN_SIZES` says otherwise.
DEFAULT_MIN_SIZE = 7.0
#: Fields that may shrink further than :data:`DEFAULT_MIN_SIZE`, by context path: values that
#: can be long (names, e-mail, domains, the provider) or are only read by staff (the reference).
#: The one source of minimum sizes for the bundled templates, PDF and Word alike.
MIN_SIZES: dict[str, float] = {
    "website.name": 6.0, "website.domains": 6.0, "manager.name": 6.0, "manager.email": 6.0,
    "principal.name": 6.0, "provider.name": 5.5, "sheet.ref": 5.0,
    "cover.ref": 6.0, "cover.websites": 6.0, "cover.provider": 5.0,
    "sms.mobiles": 6.0, "sms.portal": 6.0, "sms.portal_note": 6.0,
    "website.preapproval": 6.0, "cover.preapproval": 6.0,
}
#: Context keys whose values are the same for every record of a layout (never blanked, never
#: fitted): the flags that steer a template's structure and the rules' static texts.
STATIC_KEYS = frozenset({"flags", "rules"})


def min_size(path: str, declared: float | None = None) -> float:
    """The minimum font size of the field at context ``path``: what its template declares
    (a provider's own template may), else :data:`MIN_SIZES`, else :data:`DEFAULT_MIN_SIZE`."""
    if declared is not None:
        return declared
    return MIN_SIZES.get(path, DEFAULT_MIN_SIZE)


def check_min_size(raw: str, where: str, path: str, option: str) -> float:
    """A minimum size a template declares (``data-min-size``, DOCX ``min-size=``): a finite
    number of points above zero, else a TemplateError naming ``where`` (a template's own
    file, untrusted: 0, negative, ``inf`` or ``nan`` would shrink a value out of sight)."""
    try:
        size = float(raw)
    except ValueError:
        size = math.nan
    if not (math.isfinite(size) and size > 0):
        raise TemplateError(f"{where}: {option}={raw!r} is not a positive number of points "
                            f"(field {path})", hint=f"e.g. {option}=7")
    return size


@dataclass(frozen=True)
class Box:
    """A rectangle on a page in PDF points, origin bottom-left (reportlab's convention)."""

    page: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class FieldBox:
    """Where one value is drawn, and how."""

    path: str
    box: Box
    kind: str = "text"
    font_size: float = 10.5
    min_size: float = DEFAULT_MIN_SIZE
    align: str = "left"
    overflow: str | None = None
    overflow_caption: str = ""
    fallback: str | None = None


@dataclass(frozen=True)
class Region:
    """Blank space of a page that long values may continue in."""

    name: str
    box: Box
    font_size: float


#: Line height as a multiple of the font size.
LEADING = 1.2
#: Font sizes are tried from the box's size downwards in this step (pt).
STEP = 0.5


@dataclass(frozen=True)
class FieldFit:
    """How one value fitted: at its size, shrunk, continued in blank space, or empty."""

    path: str
    field: str
    status: str
    size: float
    lines: int

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "field": self.field, "status": self.status,
                "size": self.size, "lines": self.lines}


@dataclass(frozen=True)
class _Fitted:
    size: float
    lines: list[str]
    rest: list[str]  # lines continued in the overflow region

    @property
    def rest_height(self) -> float:
        """How much of the overflow region the continued lines fill."""
        return len(self.rest) * self.size * LEADING


Measure = Callable[[str, float], float]


def wrap(text: str, width: float, size: float, measure: Measure) -> list[str]:
    """``text`` broken into lines no wider than ``width`` at ``size``; ``\\n`` breaks a line.
    Widths come from ``measure``."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        if not paragraph:
            lines.append("")
            continue
        split = word_split(paragraph, width, [measure(char, size) for char in paragraph])
        if all(extra >= -0.01 for extra, _ in split):
            lines.extend(line for _, line in split)
        else:
            # word_split keeps a closing mark on a full line even when that overflows it
            # (e.g. the dots of a long domain); break such a paragraph by characters instead.
            lines.extend(_split_characters(paragraph, width, size, measure))
    return lines


#: Characters that may not start a line (kinsoku): closing marks and small kana, hung at the
#: end of the line before instead. reportlab's ``textsplit.ALL_CANNOT_START``, the same set.
CANNOT_START_LINE = (
    "!',.:;?!\")]\u3001\u3002\u300d\u300f\u3011\u3015\uff3d\u3011\uff09"
    "\u3005\u2015\u3041\u3043\u3045\u3047\u3049\u3063\u3083\u3085\u3087\u308e\u30a1\u30a3"
    "\u30a5\u30a7\u30a9\u30c3\u30e3\u30e5\u30e7\u30ee\u30fc\u30f5\u30f6"
    "\u309b\u309c\u30fb\u30fd\u30fe\u309d\u309e\u2015\u2010\xb0\u2032\u2033\u2103\uffe0\uff05\u2030")
_FUZZ = 1e-6  # reportlab's rl_config._FUZZ: a line may overrun its width by this much


def word_split(word: str, width: float, widths: list[float]) -> list[tuple[float, str]]:
    """Break ``word`` (no line feeds) into lines of at most ``width``, given each character's
    width: (unused width, line) per line, the unused width negative when a line overflows.

    The same result as reportlab's ``textsplit.wordSplit`` (its ``dumbSplit``, reportlab 5.1,
    BSD licence), step for step, for one width: cut "like a knife" between characters (CJK
    needs no spaces); inside a run of Latin text, go back to the last space or CJK character
    if that is in the second half of the line; a character of :data:`CANNOT_START_LINE` hangs
    at the end of the line instead of starting the next. Importing reportlab for this (its
    ``rl_config`` and ``utils`` come along) cost about 90 ms of every process's start;
    ``tests/test_layout.py`` checks the two agree.
    """
    lines: list[tuple[float, str]] = []
    i = start = 0
    used = 0.0
    count = len(word)
    while i < count:
        w = widths[i]
        char = word[i]
        used += w
        i += 1
        if used > width + _FUZZ and used > 0:
            extra = width - used
            if ord(char) < 0x3000:  # inside a non-CJK run: back to a space or CJK character
                for j in range(i - 1, (start + i) >> 1, -1):
                    back = word[j]
                    if unicodedata.category(back) == "Zs" or ord(back) >= 0x3000:
                        k = j + 1
                        if k < i:
                            j = k + 1
                            extra += sum(widths[j:i])
                            w = widths[k]
                            char = word[k]
                            i = j
                            break
            if char not in CANNOT_START_LINE and i > start + 1:  # push the character back
                i -= 1
                extra += w
            lines.append((extra, word[start:i].strip()))
            start = i
            used = 0.0
    if used > 0:
        lines.append((width - used, word[start:]))
    return lines


def _split_characters(text: str, width: float, size: float, measure: Measure) -> list[str]:
    lines, current = [], ""
    for char in text:
        if current and measure(current + char, size) > width:
            lines.append(current)
            current = char
        else:
            current += char
    lines.append(current)
    return lines


def sizes(start: float, minimum: float) -> list[float]:
    """Candidate font sizes, largest first: ``start``, then down in STEP to ``minimum``."""
    out, size = [], start
    while size > minimum + 1e-6:
        out.append(round(size, 2))
        size -= STEP
    out.append(minimum)
    return out


def fit(text: str, field: FieldBox, region: Region | None, region_used: float,
        measure: Measure) -> _Fitted | None:
    """The largest size at which ``text`` fits its box, or box + region; None if none does."""
    box = field.box
    candidates = sizes(field.font_size, min(field.min_size, field.font_size))
    for size in candidates:
        lines = wrap(text, box.width, size, measure)
        if len(lines) * size * LEADING <= box.height + 0.01:
            return _Fitted(size, lines, [])
    if region is None:
        return None
    # Continue in the region: whole paragraphs (one domain each) stay in the box while they
    # fit; the caption and the rest are wrapped to the region's width below what it holds.
    paragraphs = text.split("\n")
    for size in candidates:
        capacity = int((box.height + 0.01) // (size * LEADING))
        head: list[str] = []
        taken = 0
        while taken < len(paragraphs):
            more = wrap(paragraphs[taken], box.width, size, measure)
            if len(head) + len(more) > capacity:
                break
            head.extend(more)
            taken += 1
        if not head:
            continue
        rest = wrap(field.overflow_caption + "\n".join(paragraphs[taken:]), region.box.width,
                    size, measure)
        if len(rest) * size * LEADING <= region.box.height - region_used + 0.01:
            return _Fitted(size, head, rest)
    return None


def fit_value(field: FieldBox, values: Mapping[str, str], region: Region | None,
              region_used: float, measure: Measure) -> _Fitted | None:
    """The field's value fitted (see :func:`fit`), else its shorter ``fallback`` value in the
    box alone; None when neither fits. Used by the PDF and the Word files alike."""
    fitted = fit(values[field.path], field, region, region_used, measure)
    if fitted is None and field.fallback and values.get(field.fallback):
        fitted = fit(values[field.fallback], field, None, 0.0, measure)
    return fitted


def fit_report(json_path: str, field: FieldBox, fitted: _Fitted) -> FieldFit:
    """The fit report entry of a value :func:`fit_value` fitted."""
    status = ("continued" if fitted.rest else
              "fitted" if fitted.size >= field.font_size else "shrunk")
    return FieldFit(json_path, field.path, status, fitted.size,
                    len(fitted.lines) + len(fitted.rest))


def does_not_fit(json_path: str, field: FieldBox, *, box: str = "box") -> Problem:
    """The problem of a value that :func:`fit_value` could not fit into its ``box``."""
    return Problem(json_path, "does_not_fit",
                   f"内容过长，缩小到 {field.min_size:g} 磅仍放不下 / too long to fit its {box} on "
                   f"one A4 page, even at {field.min_size:g} pt")


def refuse(problems: list[Problem]) -> DoesNotFitError:
    """The error of a page (or Word file) with values that do not fit (exit 4)."""
    return DoesNotFitError("some values do not fit on one A4 page", problems=problems,
                           hint="shorten the values listed, or spread the domains over "
                                "several websites")


def check_fonts(*sheets: SheetContext) -> None:
    """Refuse (FontError, exit 5) any value with a character no bundled font has.

    All of a record's pages are checked at once, so each character is reported once, at the
    most exact path any page knows for it (see :func:`~sheetgen.rendering.fonts.check_text`).
    """
    fonts.check_text((sheet.paths.get(path, path), value)
                     for sheet in sheets for path, value in sheet.values().items())
