"""Build the DOCX templates of the check sheets and the cover, and both templates of every form.

    python tools/build_docx_templates.py            # write templates/*/*.docx (and the forms'
                                                    # .html)
    python tools/build_docx_templates.py --check    # rebuild in a temporary directory and
                                                    # compare with the committed files

The committed ``.docx`` files are generated, never edited by hand (a test runs ``--check``).
Each comes from the one definition of its page; no form is described here:

- the cover: its HTML template and CSS (``templates/common/cover.html``), *converted*
  (:func:`convert`, the section "the converter"): a layout change is an edit of the HTML/CSS
  only, and a construct outside the converter's subset stops the build by name;
- the check sheets (each sheet template the rules name): their HTML and CSS too, rendered by
  Jinja for every combination of the flags they read, each rendering converted and all of
  them merged under conditions on the flags (:func:`convert_sheet`, the section "the check
  sheets"); their positioned boxes become grids of merged cells, their dashed boxes the seal
  and fingerprint marks;
- a one-page form of :mod:`sheetgen.documents.forms` (``FORMS``: a letter, a commitment):
  described once, declaratively, there; this tool writes its HTML template from it
  (:func:`~sheetgen.documents.forms.form_html`) and converts that HTML as a sheet's
  (:func:`form_templates`).

The WordprocessingML is written directly (lxml) rather than through python-docx's default
document: that template brings 800 KB of styles, a theme, a thumbnail and custom XML that a
form does not need, and it belongs to python-docx's release, so the generated files would
change with it. Written here, every part is small, readable in a diff, and the same bytes for
the same source (:func:`~.docx.document.write_package`: fixed zip timestamps and order,
no dates in the core properties).

How sheetgen reads these files (templates/README.md, "DOCX templates"): a value is printed
alone in a table cell whose row has an exact height; sheetgen fits it to that cell with the
PDF's fitting code. A row of a sheet holding a value has an exact height, the others their
static text's height as a minimum; this tool adds up the rows of every rendering of a sheet
(every combination of its flags) and refuses one that would not leave a safety margin on one
A4 page.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import difflib
import functools
import itertools
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import cssselect2  # type: ignore[import-untyped]
import tinycss2  # type: ignore[import-untyped]
from lxml import etree

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sheetgen.documents import forms  # noqa: E402
from sheetgen.rendering.docx.document import W_NS, XML_SPACE, W, read_package, write_package  # noqa: E402

TEMPLATES = REPO / "templates"

# --- page geometry: A4 (each template's margins are its CSS's @page) -------------------------

PAGE_W, PAGE_H = 210.0, 297.0  # A4, mm
CONTENT_W = PAGE_W - 2 * 14.0  # a table's default width (mm): A4 within 14 mm margins
#: Room a sheet leaves unused at the bottom of its page, for renderers' rounding.
SLACK = 8.0

BODY_FONT = "Noto Serif SC"  # the family names of fonts/NotoSerifSC-Regular.ttf …
HEADING_FONT = "Noto Sans SC"  # … and fonts/NotoSansSC-Bold.ttf (a bold face)
LINE = 1.25  # line height of static text, as the CSS's line-height
RULE = 6  # border width in eighths of a point: 0.75 pt, as the CSS
CELL_MARGIN = 1.6  # mm, left and right, as the CSS's td padding


def twips(mm: float) -> int:
    return round(mm * 1440 / 25.4)


# --- WordprocessingML elements ---------------------------------------------------------------

def w(tag: str, *children: etree._Element | None, **attributes: object) -> etree._Element:
    """A ``w:`` element with ``w:`` attributes and children (None children are skipped)."""
    element = etree.Element(W + tag)
    for name, value in attributes.items():
        element.set(W + name, str(value))
    for child in children:
        if child is not None:
            element.append(child)
    return element


def run(text: str, size: float, *, heading: bool = False, spacing: float | None = None,
        underline: bool = False) -> etree._Element:
    """A run of ``text`` at ``size`` pt; headings in the bold sans face."""
    properties = w("rPr",
                   w("rFonts", ascii=HEADING_FONT, hAnsi=HEADING_FONT, eastAsia=HEADING_FONT,
                     cs=HEADING_FONT) if heading else None,
                   w("b") if heading else None,
                   w("bCs") if heading else None,
                   w("spacing", val=round(spacing * 20)) if spacing else None,
                   w("sz", val=round(size * 2)),
                   w("szCs", val=round(size * 2)),
                   w("u", val="single") if underline else None)
    element = w("t")
    element.text = text
    element.set(XML_SPACE, "preserve")
    return w("r", properties, element)


def paragraph(*runs: etree._Element, size: float, align: str = "left",
              line: float | None = None, before: float = 0.0, indent: float = 0.0,
              bottom_rule: str | None = None) -> etree._Element:
    """A paragraph with an exact line height (``line`` pt, default LINE × ``size``)."""
    height = line if line is not None else size * LINE
    return w("p",
             w("pPr",
               w("pBdr", w("bottom", val=bottom_rule, sz=RULE if bottom_rule == "single" else 4,
                           space=1, color="000000"))
               if bottom_rule else None,
               w("spacing", before=twips(before), after=0, line=round(height * 20),
                 lineRule="exact"),
               w("ind", firstLine=round(indent * size * 20)) if indent else None,
               w("jc", val=align),
               w("rPr", w("sz", val=round(size * 2)), w("szCs", val=round(size * 2)))),
             *runs)


def text(content: str, size: float, align: str = "left", **options: Any) -> etree._Element:
    return paragraph(run(content, size), size=size, align=align, **options)


def tiny() -> etree._Element:
    """An empty paragraph of 1 pt: Word ends every cell and separates tables with one."""
    return paragraph(size=1, line=1)


# --- tables ----------------------------------------------------------------------------------

Sides = frozenset[str]
ALL: Sides = frozenset({"top", "left", "bottom", "right"})


@dataclass
class Cell:
    """A cell from ``start`` to ``end`` mm across the table; its grid span is computed."""

    start: float
    end: float
    content: list[etree._Element]
    merge: str | None = None  # vMerge: "restart" or "continue"
    valign: str = "center"
    ruled: Sides = ALL  # sides with a rule; the others are left open
    rule: str = "single"
    margin: float | None = None  # mm, left and right, when not the table's
    rule_size: int | None = None  # eighths of a point, when not the table's
    color: str | None = None  # the rules' colour, when not black
    #: A cell of a positioned box's grid: no rules written when it has none (the table has
    #: none), no vertical alignment when at the top (Word's default): a sheet's grids have
    #: many such cells, and every element costs docxtpl time at each rendering.
    bare: bool = False


@dataclass
class Row:
    height: float | None  # mm, exact; None for docxtpl's tag rows, which rendering removes
    cells: list[Cell]
    at_least: bool = False  # the height is a minimum: the row grows with its static text


def tag_row(tag: str, width: float = CONTENT_W) -> Row:
    """A row holding only a docxtpl row tag (``{%tr if flags.unit %}``)."""
    return Row(None, [Cell(0, width, [text(tag, 7)])])


def borders(tag: str, sides: Iterable[str], rule: str, size: int = RULE,
            color: str = "000000") -> etree._Element:
    element = w(tag)
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        if side in sides:
            element.append(w(side, val=rule, sz=size, space=0, color=color))
    return element


def table(rows: Sequence[Row], *, width: float = CONTENT_W, ruled: bool = True,
          align: str = "left", margin: float = CELL_MARGIN,
          rule_size: int = RULE) -> etree._Element:
    """A fixed-layout table; its grid is every cell boundary of every row."""
    edges = sorted({round(x, 3) for row in rows for cell in row.cells
                    for x in (cell.start, cell.end)} | {0.0, round(width, 3)})
    positions = [twips(x) for x in edges]
    grid = w("tblGrid", *(w("gridCol", w=b - a) for a, b in itertools.pairwise(positions)))
    element = w("tbl",
                w("tblPr",
                  w("tblW", w=twips(width), type="dxa"),
                  w("jc", val=align),
                  w("tblInd", w=0, type="dxa"),
                  borders("tblBorders", (), "nil"),
                  w("tblLayout", type="fixed"),
                  w("tblCellMar", w("top", w=0, type="dxa"), w("left", w=twips(margin),
                                                                  type="dxa"),
                    w("bottom", w=0, type="dxa"), w("right", w=twips(margin), type="dxa")),
                  w("tblLook", val="0000", firstRow=0, lastRow=0, firstColumn=0,
                    lastColumn=0, noHBand=1, noVBand=1)),
                grid)
    for row in rows:
        properties = w("trPr", w("cantSplit"),
                       w("trHeight", val=twips(row.height),
                         hRule="atLeast" if row.at_least else "exact")
                       if row.height is not None else None)
        cells = []
        for cell in row.cells:
            first = edges.index(round(cell.start, 3))
            span = edges.index(round(cell.end, 3)) - first
            ruled_sides = cell.ruled if ruled else frozenset()
            open_sides = ALL - ruled_sides
            cell_borders = w("tcBorders")
            for side in ("top", "left", "bottom", "right"):
                if side in ruled_sides:
                    cell_borders.append(w(side, val=cell.rule, sz=cell.rule_size or rule_size,
                                          space=0, color=cell.color or "000000"))
                elif side in open_sides:
                    cell_borders.append(w(side, val="nil"))
            # An lxml element has one parent: content shared between cells (a merged cell's
            # continuation) is copied, not moved.
            content = [copy.deepcopy(e) if e.getparent() is not None else e
                       for e in cell.content]
            if not content or content[-1].tag != W + "p":
                # A cell must end with a paragraph; in a grid's row of exact height an empty
                # one needs no size.
                content.append(w("p") if cell.bare else tiny())
            cells.append(w("tc",
                           w("tcPr",
                             w("tcW", w=positions[first + span] - positions[first],
                               type="dxa"),
                             w("gridSpan", val=span) if span > 1 else None,
                             w("vMerge", val=cell.merge) if cell.merge == "restart" else
                             (w("vMerge") if cell.merge else None),
                             None if cell.bare and not ruled_sides else cell_borders,
                             w("tcMar", w("left", w=twips(cell.margin), type="dxa"),
                               w("right", w=twips(cell.margin), type="dxa"))
                             if cell.margin is not None and cell.margin != margin else None,
                             None if cell.bare and cell.valign == "top" else
                             w("vAlign", val=cell.valign)),
                           *content))
        element.append(w("tr", properties, *cells))
    return element


MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
WPS_NS = "http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
WP_NS = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
EMU_PER_MM = 36000


def mark(label: list[etree._Element], width: float, height: float, *,
         geometry: str) -> list[etree._Element]:
    """A seal (``geometry="ellipse"``) or fingerprint (``"rect"``) mark as the PDF draws it:
    a grey dashed outline (0.6 pt, #444) with its label centred inside.

    An inline DrawingML shape with a text box, in its own paragraph of single line spacing
    (an exact line would clip it); word processors without DrawingML shapes print the label
    alone (the markup-compatibility fallback).
    """
    def el(ns: str, tag: str, parent: etree._Element | None = None,
           **attributes: object) -> etree._Element:
        element = (etree.SubElement(parent, f"{{{ns}}}{tag}") if parent is not None
                   else etree.Element(f"{{{ns}}}{tag}"))
        for key, value in attributes.items():
            element.set(key, str(value))
        return element

    cx, cy = round(width * EMU_PER_MM), round(height * EMU_PER_MM)
    alternate = etree.Element(f"{{{MC_NS}}}AlternateContent", nsmap={"mc": MC_NS, "wps": WPS_NS})
    choice = el(MC_NS, "Choice", alternate, Requires="wps")
    drawing = etree.SubElement(choice, W + "drawing")
    inline = etree.SubElement(drawing, f"{{{WP_NS}}}inline", nsmap={"wp": WP_NS})
    for side in ("distT", "distB", "distL", "distR"):
        inline.set(side, "0")
    el(WP_NS, "extent", inline, cx=cx, cy=cy)
    el(WP_NS, "docPr", inline, id=1, name="盖章处" if geometry == "ellipse" else "按手印处")
    el(WP_NS, "cNvGraphicFramePr", inline)
    graphic = etree.SubElement(inline, f"{{{A_NS}}}graphic", nsmap={"a": A_NS})
    data = el(A_NS, "graphicData", graphic, uri=WPS_NS)
    shape = el(WPS_NS, "wsp", data)
    el(WPS_NS, "cNvSpPr", shape)
    properties = el(WPS_NS, "spPr", shape)
    transform = el(A_NS, "xfrm", properties)
    el(A_NS, "off", transform, x=0, y=0)
    el(A_NS, "ext", transform, cx=cx, cy=cy)
    el(A_NS, "avLst", el(A_NS, "prstGeom", properties, prst=geometry))
    el(A_NS, "noFill", properties)
    line = el(A_NS, "ln", properties, w=round(0.6 * 12700))
    el(A_NS, "srgbClr", el(A_NS, "solidFill", line), val="444444")
    el(A_NS, "prstDash", line, val="sysDash")
    box = el(WPS_NS, "txbx", shape)
    content = etree.SubElement(box, W + "txbxContent")
    for element in label:
        content.append(copy.deepcopy(element))
    body = el(WPS_NS, "bodyPr", shape, rot=0, vert="horz", wrap="square", lIns=0, tIns=0,
              rIns=0, bIns=0, anchor="ctr", anchorCtr=0)
    el(A_NS, "noAutofit", body)
    fallback = el(MC_NS, "Fallback", alternate)
    shown = etree.SubElement(fallback, W + "t")
    shown.text = "".join(t.text or "" for element in label for t in element.iter(W + "t"))
    holder = paragraph(size=1, align="center")
    spacing = holder.find(f"{W}pPr/{W}spacing")
    spacing.set(W + "line", "240")
    spacing.set(W + "lineRule", "auto")
    holder.append(w("r", w("rPr", w("sz", val=2), w("szCs", val=2)), alternate))
    return [holder]


def when(condition: str, *content: etree._Element) -> list[etree._Element]:
    """Content printed only when ``condition`` holds (docxtpl paragraph tags)."""
    return [text(f"{{%p if {condition} %}}", 7), *content, text("{%p endif %}", 7)]


# --- the converter: an HTML template and its CSS → WordprocessingML ---------------------------
#
# The bundled templates' HTML is the one definition of a flowing page (the cover): this
# converter reads the Jinja source, its CSS (the cascade of tinycss2 + cssselect2, WeasyPrint's
# own parsers) and writes the same blocks as WordprocessingML with docxtpl tags. It supports
# the subset of HTML, CSS and Jinja the templates use and refuses anything else by name, so a
# template change outside the subset fails the build instead of being dropped from the DOCX.

#: A Jinja statement and comment in the source.
JINJA_STATEMENT = re.compile(r"\{%-?\s*(.*?)\s*-?%\}", re.S)
JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
#: Where a statement was in the source: a private-use marker in the HTML text.
MARKER = re.compile("\ue000(\\d+)\ue001")
#: The statements a converted template may use (docxtpl evaluates them, from the DOCX).
STATEMENTS = frozenset({"if", "elif", "else", "endif", "for", "endfor", "set"})
INLINE = frozenset({"span", "a", "b", "i", "em", "strong", "br", "small", "sub", "sup", "u",
                    "s", "code", "abbr", "time", "mark", "q", "cite", "label"})
BLOCK = frozenset({"html", "body", "div", "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol",
                   "li", "table", "section", "article", "header", "footer", "aside", "main",
                   "nav", "blockquote", "figure"})
VOID = frozenset({"meta", "col", "br", "img", "link", "hr", "input"})
#: Properties children inherit (custom properties, ``--name``, too).
INHERITED = frozenset({"font-size", "line-height", "font-family", "text-align",
                       "letter-spacing", "color", "text-indent", "white-space",
                       "list-style-type"})
#: The CSS properties the converter reads; a template using any other fails the build.
#: (``IGNORED``: print hints Word has no equal for, or that only matter to WeasyPrint's layout
#: of boxes sheetgen fits itself: a two-column list prints in one column in Word.)
PROPERTIES = frozenset({
    "font-size", "line-height", "font-family", "font-weight", "text-align", "letter-spacing",
    "color", "text-indent", "display", "width", "height", "vertical-align", "content",
    "list-style-type", "position", "break-after", "page-break-after", "left", "right",
    "top", "bottom", "border-radius",
    *(f"{box}-{side}" for box in ("margin", "padding")
      for side in ("top", "right", "bottom", "left")),
    *(f"border-{side}-{what}" for side in ("top", "right", "bottom", "left")
      for what in ("width", "style", "color"))})
IGNORED = frozenset({"white-space", "overflow", "box-sizing", "border-collapse",
                     "table-layout", "columns", "column-gap", "break-inside",
                     "break-before", "page-break-inside", "page-break-before"})
#: The templates' font families → the fonts the DOCX names (fonts/*.ttf family names).
FAMILIES = {"Sheetgen Serif": BODY_FONT, "Sheetgen Sans": HEADING_FONT}


class Unsupported(Exception):
    """The template uses HTML, CSS or Jinja outside what the converter supports."""


class _Tree(HTMLParser):
    """The HTML as an lxml tree, without an HTML5 parser's repairs (text between table rows,
    where the markers of ``{% if %}`` sit, stays where it is)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root: etree._Element | None = None
        self.open: list[etree._Element] = []
        self.last: etree._Element | None = None  # the element whose tail text continues

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = (etree.SubElement(self.open[-1], tag) if self.open else etree.Element(tag))
        for name, value in attrs:
            element.set(name, value or "")
        if self.root is None:
            self.root = element
        self.last = None
        if tag in VOID:
            self.last = element
        else:
            self.open.append(element)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        while self.open:
            element = self.open.pop()
            if element.tag == tag:
                self.last = element
                return
        raise Unsupported(f"</{tag}> closes no element")

    def handle_data(self, data: str) -> None:
        if self.last is not None:
            self.last.tail = (self.last.tail or "") + data
        elif self.open:
            self.open[-1].text = (self.open[-1].text or "") + data


@dataclass
class Source:
    """A template read for conversion: its HTML tree, statements and CSS."""

    name: str
    root: etree._Element
    statements: list[str]
    css: str


def read_template(name: str, root: Path = TEMPLATES, text: str | None = None) -> Source:
    """The template ``name`` (or its ``text``, rendered) with its ``{% include %}``d CSS; each
    Jinja statement replaced by a marker (its index in ``statements``), comments dropped,
    ``{{ }}`` expressions kept."""
    source = JINJA_COMMENT.sub("", text if text is not None
                               else (root / name).read_text(encoding="utf-8"))
    css: list[str] = []

    def style(found: re.Match[str]) -> str:
        def include(statement: re.Match[str]) -> str:
            words = statement.group(1).split()
            if len(words) != 2 or words[0] != "include":
                raise Unsupported(f"{name}: {statement.group(0)!r} in <style> (only "
                                  "{% include \"file.css\" %})")
            return (root / words[1].strip("\"'")).read_text(encoding="utf-8")
        css.append(JINJA_STATEMENT.sub(include, found.group(1)))
        return "<style></style>"

    source = re.sub(r"<style>(.*?)</style>", style, source, flags=re.S)
    statements: list[str] = []

    def mark(found: re.Match[str]) -> str:
        statement = " ".join(found.group(1).split())
        keyword = statement.split()[0] if statement else ""
        if keyword not in STATEMENTS:
            line = source.count("\n", 0, found.start()) + 1
            raise Unsupported(f"{name} line {line}: {{% {keyword} %}} (the converter takes "
                              f"{', '.join(sorted(STATEMENTS))})")
        statements.append(statement)
        return f"\ue000{len(statements) - 1}\ue001"

    source = JINJA_STATEMENT.sub(mark, source)
    tree = _Tree()
    tree.feed(re.sub(r"<!DOCTYPE[^>]*>", "", source, flags=re.I))
    tree.close()
    if tree.root is None:
        raise Unsupported(f"{name}: no HTML")
    for element in tree.root.iter():
        for attribute, text in element.attrib.items():
            if "{{" in text or "\ue000" in text:
                raise Unsupported(f"{name}: Jinja in the attribute {attribute}= of <{element.tag}>")
    return Source(name, tree.root, statements, "\n".join(css))


# --- CSS: the cascade ---

Style = dict[str, str]


def _sides(value: str) -> list[str]:
    parts = value.split()
    if not 1 <= len(parts) <= 4:
        raise Unsupported(f"{value!r}: one to four values")
    top, right, bottom, left = (parts * 4)[:4] if len(parts) == 1 else \
        (parts[0], parts[1], parts[0], parts[1]) if len(parts) == 2 else \
        (parts[0], parts[1], parts[2], parts[1]) if len(parts) == 3 else parts
    return [top, right, bottom, left]


SIDES = ("top", "right", "bottom", "left")


def expand(name: str, value: str) -> list[tuple[str, str]]:
    """A declaration as longhand properties (margin, padding, border …)."""
    if name in ("margin", "padding"):
        return [(f"{name}-{side}", part) for side, part in zip(SIDES, _sides(value),
                                                                strict=True)]
    if name == "border" or (name.startswith("border-") and name[7:] in SIDES):
        sides = SIDES if name == "border" else (name[7:],)
        width, style, color = "medium", "none", "#000"
        for part in value.split():
            if re.fullmatch(r"[\d.]+(pt|mm|px)?", part):
                width = part
            elif part in ("none", "solid", "dashed", "dotted", "double"):
                style = part
            else:
                color = part
        return [(f"border-{side}-{what}", text) for side in sides
                for what, text in (("width", width), ("style", style), ("color", color))]
    if name == "border-style":
        return [(f"border-{side}-style", part) for side, part in zip(SIDES, _sides(value),
                                                                      strict=True)]
    if name == "list-style":
        return [("list-style-type", value.split()[0])]
    return [(name, value)]


def declarations(content: Any) -> list[tuple[str, str]]:
    found = []
    for item in tinycss2.parse_declaration_list(content, skip_comments=True,
                                                skip_whitespace=True):
        if item.type != "declaration":
            raise Unsupported(f"CSS: {tinycss2.serialize([item])!r}")
        name = item.name if item.name.startswith("--") else item.lower_name
        text = tinycss2.serialize(item.value).strip()
        if name.startswith("--"):
            found.append((name, text))
            continue
        for longhand, value in expand(name, text):
            if longhand not in PROPERTIES | IGNORED:
                raise Unsupported(f"CSS: the property {name}")
            if longhand == "position" and value not in ("static", "relative", "absolute"):
                raise Unsupported(f"CSS: position: {value} (the converter lays out the "
                                  "normal flow and boxes placed in a positioned box)")
            found.append((longhand, value))
    return found


@dataclass
class PageRule:
    margins: tuple[float, float, float, float]  # mm: top, right, bottom, left
    footer: list[str | None] = field(default_factory=list)  # text, None: page, "": pages
    footer_size: float = 8.0


@functools.lru_cache(maxsize=8)
def stylesheet(css: str) -> tuple[Any, PageRule]:
    """A stylesheet's rules, compiled once (a sheet is converted once per combination of its
    flags, with the same CSS), and its @page rule."""
    matcher = cssselect2.Matcher()
    page = PageRule((0.0, 0.0, 0.0, 0.0))
    for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        if rule.type == "at-rule" and rule.lower_at_keyword == "page":
            page = page_rule(rule)
        elif rule.type == "qualified-rule":
            for selector in cssselect2.compile_selector_list(rule.prelude):
                matcher.add_selector(selector, declarations(rule.content))
        else:
            raise Unsupported(f"CSS: {tinycss2.serialize([rule])[:60]!r}")
    return matcher, page


class Styles:
    """Computed styles of a template's elements: its stylesheet's cascade, inline styles,
    inheritance and ``var()``; the ``::before`` content of list items."""

    def __init__(self, css: str, root: etree._Element) -> None:
        matcher, self.page = stylesheet(css)
        self.computed: dict[etree._Element, Style] = {}
        self.before: dict[etree._Element, Style] = {}
        for wrapper in cssselect2.ElementWrapper.from_html_root(root).iter_subtree():
            element = wrapper.etree_element
            parent = element.getparent()
            inherited = {name: value for name, value in
                         (self.computed[parent] if parent is not None else {
                             "font-size": "12pt", "line-height": "1.2"}).items()
                         if name in INHERITED or name.startswith("--")}
            own: list[tuple[str, str]] = []
            before: list[tuple[str, str]] = []
            for _, _, pseudo, payload in matcher.match(wrapper):
                if pseudo is None:
                    own += payload
                elif pseudo == "before":
                    before += payload
                else:
                    raise Unsupported(f"CSS: ::{pseudo}")
            if element.get("style"):
                own += declarations(element.get("style"))
            self.computed[element] = self.cascade(inherited, own)
            if before:
                self.before[element] = self.cascade(self.computed[element], before)

    @staticmethod
    def cascade(inherited: Style, own: list[tuple[str, str]]) -> Style:
        style = dict(inherited)
        parent_size = pt(inherited.get("font-size", "12pt"), 12.0)
        for name, value in own:  # custom properties first: var() may use one set here
            if name.startswith("--"):
                style[name] = value
        for name, value in own:
            if name.startswith("--"):
                continue
            value = re.sub(r"var\((--[\w-]+)\)", lambda m: style[m.group(1)], value)
            if name == "font-size":
                value = f"{pt(value, parent_size)}pt"
            style[name] = value
        return style

    def __getitem__(self, element: etree._Element) -> Style:
        return self.computed[element]


def page_rule(rule: Any) -> PageRule:
    page = PageRule((0.0, 0.0, 0.0, 0.0))
    for item in tinycss2.parse_blocks_contents(rule.content, skip_comments=True,
                                               skip_whitespace=True):
        if item.type == "declaration" and item.lower_name == "margin":
            top, right, bottom, left = (mm(part, 0) for part in
                                        _sides(tinycss2.serialize(item.value).strip()))
            page.margins = (top, right, bottom, left)
        elif item.type == "declaration" and item.lower_name == "size":
            if tinycss2.serialize(item.value).strip() != "A4":
                raise Unsupported("@page: only A4")
        elif item.type == "at-rule" and item.lower_at_keyword == "bottom-center":
            for name, value in declarations(item.content):
                if name == "content":
                    for token in tinycss2.parse_component_value_list(value):
                        if token.type == "string":
                            page.footer.append(token.value)
                        elif token.type == "function" and token.lower_name == "counter":
                            counter = tinycss2.serialize(token.arguments).strip()
                            page.footer.append(None if counter == "page" else "")
                elif name == "font-size":
                    page.footer_size = pt(value, 12)
        else:
            raise Unsupported(f"@page: {tinycss2.serialize([item])[:60]!r}")
    return page


def mm(value: str, font_size: float, whole: float = 0.0) -> float:
    """A CSS length in mm (``em`` of ``font_size`` pt, ``%`` of ``whole`` mm)."""
    found = re.fullmatch(r"(-?[\d.]+)(mm|pt|px|em|%)?", value.strip())
    if not found:
        raise Unsupported(f"CSS length {value!r}")
    number, unit = float(found.group(1)), found.group(2)
    if unit is None and number != 0:
        raise Unsupported(f"CSS length {value!r} without a unit")
    return {"mm": number, "pt": number * 25.4 / 72, "px": number * 25.4 / 96,
            "em": number * font_size * 25.4 / 72, "%": number * whole / 100,
            None: 0.0}[unit]


def pt(value: str, font_size: float) -> float:
    return round(mm(value, font_size) * 72 / 25.4, 3)


@dataclass
class Look:
    """What WordprocessingML needs of an element's computed style."""

    size: float  # pt
    line: float  # pt: the exact line height
    align: str
    heading: bool
    spacing: float  # pt: letter spacing
    color: str
    bold: bool = False


def look(style: Style) -> Look:
    size = pt(style.get("font-size", "12pt"), 12)
    height = style.get("line-height", "1.2")
    line = size * float(height) if re.fullmatch(r"[\d.]+", height) else pt(height, size)
    family = style.get("font-family", '"Sheetgen Serif"').split(",")[0].strip().strip("\"'")
    if family not in FAMILIES:
        raise Unsupported(f"font-family {family!r} (the DOCX knows {', '.join(FAMILIES)})")
    color = style.get("color", "#000").lstrip("#")
    if len(color) == 3:
        color = "".join(c * 2 for c in color)
    spacing = style.get("letter-spacing", "0")
    weight = style.get("font-weight", "normal")
    if weight not in ("normal", "bold", "400", "700"):
        raise Unsupported(f"font-weight {weight}")
    align = {"left": "left", "start": "left", "center": "center", "right": "right",
             "end": "right", "justify": "both"}.get(style.get("text-align", "left"))
    if align is None:
        raise Unsupported(f"text-align: {style['text-align']}")
    return Look(size, round(line, 2), align,
                FAMILIES[family] == HEADING_FONT,
                pt(spacing, size) if spacing != "normal" else 0.0, color.upper(),
                weight in ("bold", "700"))


def length(style: Style, name: str, size: float = 12.0, whole: float = 0.0) -> float:
    value = style.get(name, "0")
    return 0.0 if value in ("auto", "none", "normal") else mm(value, size, whole)


def border(style: Style, side: str) -> tuple[str, float, str] | None:
    """A side's rule: its WordprocessingML style, width (pt) and colour; None: no rule."""
    kind = style.get(f"border-{side}-style", "none")
    if kind == "none":
        return None
    if kind not in ("solid", "dashed", "dotted", "double"):
        raise Unsupported(f"border-style {kind}")
    color = style.get(f"border-{side}-color", "#000").lstrip("#")
    color = "".join(c * 2 for c in color) if len(color) == 3 else color
    return ({"solid": "single"}.get(kind, kind), pt(style.get(f"border-{side}-width", "1pt"), 12),
            color.upper())


# --- conversion ---

@dataclass
class Converted:
    """A template converted: its body, title and page."""

    body: list[etree._Element]
    title: str
    page: Page


class Converter:
    """One template's conversion (see the section's comment)."""

    def __init__(self, source: Source, *, sheet: bool = False) -> None:
        self.source = source
        self.styles = Styles(source.css, source.root)
        # A sheet (a form of one page, converted per combination of flags): every cell keeps
        # its own padding, and a row without a value's box gets its HTML height as a minimum.
        self.sheet = sheet
        #: The rows of each table made, for merging a sheet's tables into one grid.
        self.made: list[tuple[etree._Element, list[Row]]] = []

    def fail(self, element: etree._Element, what: str) -> Unsupported:
        where = f"<{element.tag} class=\"{element.get('class', '')}\">"
        return Unsupported(f"{self.source.name}: {where}: {what} is outside what "
                           "tools/build_docx_templates.py converts")

    def display(self, element: etree._Element) -> str:
        shown = self.styles[element].get("display")
        if shown not in (None, "block", "inline", "inline-block", "list-item"):
            raise self.fail(element, f"display: {shown}")
        if shown in ("inline", "inline-block"):
            return "inline"
        if element.tag in INLINE:
            return "inline"
        if element.tag in BLOCK or shown == "block":
            return "block"
        raise self.fail(element, "this element")

    def statement(self, index: str, level: str) -> str:
        """A statement as docxtpl writes it at ``level`` (``p``, ``tr`` or inline ``""``)."""
        return f"{{%{level} {self.source.statements[int(index)]} %}}"

    def convert(self) -> Converted:
        root = self.source.root
        body = root.find("body")
        title = root.find("head/title")
        if body is None or title is None:
            raise Unsupported(f"{self.source.name}: no <body> or <title>")
        top, right, bottom, left = self.styles.page.margins
        page = Page(top, right, bottom, left, footer=tuple(self.styles.page.footer),
                    footer_size=self.styles.page.footer_size)
        content = self.blocks(body, page.width)
        if not content or content[-1].tag != W + "p":
            content.append(tiny())
        return Converted(content, (title.text or "").strip(), page)

    # Blocks: a container's children as paragraphs and tables.

    def blocks(self, container: etree._Element, width: float) -> list[etree._Element]:
        """The content of ``container``: its inline content as paragraphs, its blocks
        converted; a statement alone between blocks becomes a docxtpl paragraph tag."""
        if all(self.display(child) == "inline" for child in container):
            return [self.paragraph(container, self.inline(container))]
        out: list[etree._Element] = []
        pending: list[tuple[etree._Element, str | None]] = []  # inline content in a run

        def flush() -> None:
            if any(text is None or text.strip() for _, text in pending):
                out.append(self.paragraph(container, self.inline_items(pending)))
            pending.clear()

        def loose(text: str | None) -> None:
            if not text:
                return
            if not pending and not MARKER.sub("", text).strip():
                out.extend(text_tag(self.statement(i, "p"))
                           for i in MARKER.findall(text))
            else:
                pending.append((container, text))

        loose(container.text)
        for child in container:
            if self.styles[child].get("position") == "absolute":
                raise self.fail(child, "position: absolute outside a box with position: "
                                "relative and a height")
            if self.display(child) == "inline":
                pending.append((child, None))
                if child.tail:
                    pending.append((container, child.tail))
                continue
            else:
                flush()
                out += self.block(child, width)
            loose(child.tail)
        flush()
        return out

    def block(self, element: etree._Element, width: float) -> list[etree._Element]:
        style = self.styles[element]
        size = look(style).size
        if element.tag == "table":
            return self.table(element, width)
        if element.tag in ("ul", "ol"):
            return self.items(element, width)
        if element.get("data-field") or element.get("data-region"):
            return [self.field(element)]
        if self.positioned(element):
            rows = self.grid([(0.0, width, element, None)])
            made = table(rows, width=width, margin=0.0)
            self.made.append((made, rows))
            return [made]
        rules = [border(style, side) for side in SIDES]
        height = length(style, "height", size)
        if (rules[0] or rules[2]) and not rules[1] and not rules[3] and height and \
                not len(element) and not (element.text or "").strip():
            # An empty block of a given height ruled above or below (a line to write under):
            # an empty paragraph of that line height with the rule.
            side = "top" if rules[0] else "bottom"
            kind, thickness, color = rules[0] or rules[2]  # type: ignore[misc]
            return [w("p", w("pPr",
                             w("pBdr", w(side, val=kind, sz=round(thickness * 8), space=0,
                                         color=color)),
                             w("spacing", before=twips(length(style, "margin-top", size)),
                               after=twips(length(style, "margin-bottom", size)),
                               line=round(height * 72 / 25.4 * 20), lineRule="exact"),
                             w("rPr", w("sz", val=2), w("szCs", val=2))))]
        if all(rules):
            # A bordered block: a one-cell table with the block's padding as cell margins.
            pad = length(style, "padding-left", size)
            inner = self.blocks(element, width - 2 * pad)
            boxed = table([Row(None, [Cell(0, width, inner)])], width=width, margin=pad,
                          rule_size=round(rules[0][1] * 8))  # type: ignore[index]
            before = length(style, "margin-top", size)
            return ([paragraph(size=1, line=before * 72 / 25.4)] if before > 0 else []) + [boxed]
        if rules[0] or rules[1] or rules[3] or (rules[2] and len(element) and any(
                self.display(child) == "block" for child in element)):
            raise self.fail(element, "a border on some sides")
        height = length(style, "height", size)
        if self.sheet and height and not length(style, "width", size, width) and not any(
                self.display(child) == "block" for child in element):
            # A block of text of a fixed height (a form's paragraph): its paragraph, spaced
            # to take that height (the padding above it; the rest below).
            pads = [length(style, f"padding-{side}", size) for side in SIDES]
            room = height - pads[0] - pads[2] if style.get("box-sizing") == "border-box" \
                else height
            made = self.paragraph(element, self.inline(element))
            spacing = made.find(f"{W}pPr/{W}spacing")
            rest = max(0.0, room - self.text_height(element, width - pads[1] - pads[3]))
            spacing.set(W + "before", str(twips(length(style, "margin-top", size) + pads[0])))
            spacing.set(W + "after", str(twips(length(style, "margin-bottom", size)
                                               + pads[2] + rest)))
            return [made]
        if height or length(style, "width", size, width):
            raise self.fail(element, "a width or height on a block other than a value's box")
        return self.blocks(element, width)

    def field(self, element: etree._Element) -> etree._Element:
        """A value's box: ``{{ path }}`` alone in its paragraph, with its options; a region:
        ``{# region=name #}``."""
        shown = look(self.styles[element])
        if element.get("data-region"):
            return text_tag(f"{{# region={element.get('data-region')} #}}", shown.size)
        path = element.get("data-field", "")
        if element.get("data-kind") == "qr":
            if len(element) or (element.text or "").strip():
                raise self.fail(element, "content in a QR code's box")
            # A picture, no text: a paragraph of 1 pt, so no line of text adds to its height.
            return paragraph(run(f"{{{{ {path} }}}}{{# kind=qr #}}", 1), size=1, align="right")
        elif (element.text or "").strip() != f"{{{{ {path} }}}}" or len(element):
            raise self.fail(element, f"a data-field box holding more than {{{{ {path} }}}}")
        options = {"overflow": element.get("data-overflow"),
                   "overflow-caption": element.get("data-overflow-caption"),
                   "fallback": element.get("data-fallback"),
                   "kind": element.get("data-kind")}
        comment = " ".join(f"{key}={option}" for key, option in options.items() if option)
        return self.paragraph(element, [run(f"{{{{ {path} }}}}"
                                            + (f"{{# {comment} #}}" if comment else ""),
                                            shown.size)])

    def items(self, element: etree._Element, width: float) -> list[etree._Element]:
        """A list: each item a paragraph with its marker (``::before`` content, the number,
        ``{{ loop.index }}`` in a loop, a bullet) hanging in the list's indent."""
        out: list[etree._Element] = []
        kind = self.styles[element].get("list-style-type",
                                        "decimal" if element.tag == "ol" else "disc")
        depth = 0
        padding = length(self.styles[element], "padding-left")

        def tags(text: str | None) -> None:
            nonlocal depth
            if text and MARKER.sub("", text).strip():
                raise self.fail(element, "text between list items")
            for index in MARKER.findall(text or ""):
                keyword = self.source.statements[int(index)].split()[0]
                depth += {"for": 1, "endfor": -1}.get(keyword, 0)
                out.append(text_tag(self.statement(index, "p")))

        tags(element.text)
        for number, item in enumerate(element, 1):
            if item.tag != "li":
                raise self.fail(item, "a list's child other than <li>")
            style = self.styles[item]
            before = self.styles.before.get(item)
            marker: list[etree._Element] = []
            if before is not None:
                content = before.get("content", "").strip("\"'")
                marker = [run(content, look(before).size)]
            elif kind == "decimal":
                marker = [run("{{ loop.index }}." if depth else f"{number}.",
                              look(style).size)]
            elif kind in ("disc", "circle", "square"):
                marker = [run("•", look(style).size)]
            elif kind != "none":
                raise self.fail(element, f"list-style-type {kind}")
            indent = padding + length(style, "padding-left")
            if marker:
                marker.append(w("r", w("tab")))
            out.append(self.paragraph(item, marker + self.inline(item),
                                      hanging=indent if marker else 0.0, left=indent))
            tags(item.tail)
        return out

    # Inline content: runs.

    def inline(self, element: etree._Element) -> list[etree._Element]:
        items: list[tuple[etree._Element, str | None]] = [(element, element.text or "")]
        for child in element:
            items += [(child, None), (element, child.tail or "")]
        return self.inline_items(items)

    def inline_items(self, items: list[tuple[etree._Element, str | None]]
                     ) -> list[etree._Element]:
        """Runs of text (``(parent, text)``) and inline elements (``(element, None)``; their
        tails are items of their own)."""
        runs: list[etree._Element] = []
        for element, text in items:
            if text is not None:
                runs += self.runs(element, text)
                continue
            if self.display(element) != "inline":
                raise self.fail(element, "a block inside inline content")
            if element.tag == "br":
                runs.append(w("r", w("br")))
            elif (self.styles[element].get("display") == "inline-block"
                  and not element.get("data-field") and not len(element)
                  and not (element.text or "").strip()):
                # An empty box of a width (a line to sign on): no-break spaces, underlined
                # when the box is ruled below (a space of the body font is about 0.28 em).
                style = self.styles[element]
                size = look(style).size
                count = round(length(style, "width", size) / (size * 0.1))
                runs.append(run("\u00a0" * count, size,
                                underline=border(style, "bottom") is not None))
            elif element.get("data-field"):
                path = element.get("data-field")
                if (element.text or "").strip() != f"{{{{ {path} }}}}" or len(element):
                    raise self.fail(element, "a data-field box holding more than its value")
                runs += self.runs(element, f" {{{{ {path} }}}} ")
            else:
                runs += self.inline(element)
        return runs

    def runs(self, element: etree._Element, content: str) -> list[etree._Element]:
        shown = look(self.styles[element])
        content = MARKER.sub(lambda found: self.statement(found.group(1), ""), content)
        content = re.sub(f"[{HTML_SPACE}]+", " ", content)
        if not content:
            return []
        made = run(content, shown.size, heading=shown.heading, spacing=shown.spacing or None)
        if shown.color != "000000":  # in the schema's order: before spacing and size
            properties = made[0]
            later = [child for child in properties if child.tag in (W + "spacing", W + "sz")]
            properties.insert(properties.index(later[0]), w("color", val=shown.color))
        if shown.bold and not shown.heading:  # the heading face is bold already
            made[0].insert(0, w("bCs"))
            made[0].insert(0, w("b"))
        return [made]

    def paragraph(self, element: etree._Element, runs: list[etree._Element], *,
                  hanging: float = 0.0, left: float = 0.0) -> etree._Element:
        """A paragraph of ``runs`` in ``element``'s style: exact line height, alignment,
        margins as spacing, first-line or hanging indent, a bottom rule, keep-with-next."""
        style = self.styles[element]
        shown = look(style)
        _trim(runs)
        first = length(style, "text-indent", shown.size)
        # A cell's or a bordered box's rules and margins are the table's, not the paragraph's.
        framed = element.tag in ("td", "th") or all(border(style, side) for side in SIDES)
        rule = None if framed else border(style, "bottom")
        before, after = ((0.0, 0.0) if framed else
                         (length(style, "margin-top", shown.size),
                          length(style, "margin-bottom", shown.size)))
        keep = style.get("break-after") == "avoid" or style.get("page-break-after") == "avoid"
        return w("p",
                 w("pPr",
                   w("keepNext") if keep else None,
                   w("pBdr", w("bottom", val=rule[0], sz=round(rule[1] * 8),
                               space=round(length(style, "padding-bottom") * 72 / 25.4),
                               color=rule[2])) if rule else None,
                   w("spacing", before=twips(before), after=twips(after),
                     line=round(shown.line * 20), lineRule="exact"),
                   w("ind", left=twips(left), hanging=twips(hanging)) if hanging or left else
                   (w("ind", firstLine=twips(first)) if first > 0 else None),
                   w("jc", val=shown.align),
                   w("rPr", w("sz", val=round(shown.size * 2)),
                     w("szCs", val=round(shown.size * 2)))),
                 *runs)

    # Tables.

    def table(self, element: etree._Element, width: float) -> list[etree._Element]:
        """A table: the colgroup's widths (equal columns without one), rows (statements
        between rows become docxtpl row tags; ``{% if %}`` between cells makes a row per
        branch), col- and rowspans; a row holding a value's box gets an exact height (the
        box's, with the cell's padding), so sheetgen can fit the value; other rows grow, and
        so does a row whose other cells print data of unknown length (``{{ rules.flow }}``)."""
        trs: list[etree._Element] = []
        between: list[str | None] = [element.text]  # the text before each row, and after
        columns: etree._Element | None = None
        for child in element:
            if child.tag == "colgroup":
                columns = child
                between[-1] = (between[-1] or "") + (child.tail or "")
            elif child.tag in ("thead", "tbody", "tfoot"):
                between[-1] = (between[-1] or "") + (child.text or "")
                for tr in child:
                    trs.append(tr)
                    between.append(tr.tail)
                between[-1] = (between[-1] or "") + (child.tail or "")
            else:
                trs.append(child)
                between.append(child.tail)
        for tr in trs:
            if tr.tag != "tr":
                raise self.fail(tr, "a table's child other than <colgroup>, <tbody> and <tr>")
        if columns is not None:
            widths = [length(self.styles[col], "width", whole=width) or None for col in columns]
        else:
            count = max((sum(int(td.get("colspan", "1")) for td in tr) for tr in trs),
                        default=1)
            widths = [None] * count
            whole = next((tr for tr in trs if len(tr) == count), None)
            if self.sheet and whole is not None:
                # Without a colgroup: the widths of a row's cells (with their padding).
                def cell_width(td: etree._Element) -> float | None:
                    style = self.styles[td]
                    size = look(style).size
                    given = length(style, "width", size, width)
                    return (given + length(style, "padding-left", size)
                            + length(style, "padding-right", size)) if given else None
                widths = [cell_width(td) for td in whole]
        free = width - sum(x for x in widths if x)
        auto = sum(1 for x in widths if not x)
        edges = [0.0]
        for x in widths:
            edges.append(edges[-1] + (x or free / auto))
        rows: list[Row] = []
        spans: dict[int, tuple[int, int]] = {}  # column → (rows left, last column)
        cells = [td for tr in trs for td in tr]
        if not cells:
            raise self.fail(element, "a table without cells")
        first = cells[0]

        def tags(text: str | None) -> None:
            if text and MARKER.sub("", text).strip():
                raise self.fail(element, "text between table rows")
            rows.extend(tag_row(self.statement(i, "tr"), width)
                        for i in MARKER.findall(text or ""))

        for tr, text in zip(trs, between, strict=False):
            tags(text)
            if any(self.positioned(child) for td in tr for child in td):
                rows += self.grid_row(tr, edges, spans)
                continue
            branches = self.branches(tr)
            if len(branches) == 1:
                made_row = self.row(branches[0][1], edges, spans, first)
                # A row's own height, when the HTML sets one, is its least.
                least = length(self.styles[tr], "height")
                if self.sheet and made_row.height is not None and least > made_row.height:
                    made_row.height = round(least, 2)
                rows.append(made_row)
                continue
            if spans or any(td.get("rowspan", "1") != "1" for td in tr):
                raise self.fail(tr, "a rowspan beside {% if %} between cells")
            for condition, tds in branches:
                rows += [tag_row(f"{{%tr if {condition} %}}", width),
                         self.row(tds, edges, spans, first), tag_row("{%tr endif %}", width)]
        tags(between[-1])
        above = length(self.styles[element], "margin-top")
        if self.sheet and above > 0:  # (a sheet's tables are merged into one grid)
            rows.insert(0, Row(round(above, 2), [Cell(0, width, [], ruled=frozenset(),
                                                      margin=0.0, bare=True)]))
        style = self.styles[first]
        rule = border(style, "top")
        made = table(rows, width=width, margin=length(style, "padding-left",
                                                      look(style).size),
                     rule_size=round(rule[1] * 8) if rule else RULE)
        self.made.append((made, rows))
        return [made]

    def branches(self, tr: etree._Element) -> list[tuple[str, list[etree._Element]]]:
        """The row's cells for each branch of the ``{% if %}`` statements between them, with
        the condition of the branch (``"True"`` for a row without statements)."""
        tokens: list[str | etree._Element] = []

        def statements(text: str | None) -> None:
            if text and MARKER.sub("", text).strip():
                raise self.fail(tr, "text between cells")
            tokens.extend(self.source.statements[int(i)] for i in MARKER.findall(text or ""))

        statements(tr.text)
        for td in tr:
            if td.tag not in ("td", "th"):
                raise self.fail(td, "a row's child other than <td> and <th>")
            tokens.append(td)
            statements(td.tail)
        position = 0

        def parse(until: tuple[str, ...]) -> list[Any]:
            nonlocal position
            items: list[Any] = []
            while position < len(tokens):
                token = tokens[position]
                if not isinstance(token, str):
                    items.append(token)
                    position += 1
                    continue
                keyword = token.split()[0]
                if keyword in until:
                    return items
                if keyword != "if":
                    raise self.fail(tr, f"{{% {keyword} %}} between cells (only if/elif/else)")
                chain: list[tuple[str | None, list[Any]]] = []
                condition: str | None = token[3:]
                while True:
                    position += 1
                    chain.append((condition, parse(("elif", "else", "endif"))))
                    if position >= len(tokens):
                        raise self.fail(tr, "{% if %} without {% endif %} in the row")
                    ending = str(tokens[position])
                    if ending.startswith("endif"):
                        position += 1
                        break
                    condition = ending[5:] if ending.startswith("elif") else None
                if chain[-1][0] is not None:
                    chain.append((None, []))
                items.append(chain)
            return items

        def paths(items: list[Any]) -> list[tuple[list[str], list[etree._Element]]]:
            found: list[tuple[list[str], list[etree._Element]]] = [([], [])]
            for item in items:
                if not isinstance(item, list):
                    found = [(terms, [*tds, item]) for terms, tds in found]
                    continue
                grown = []
                earlier: list[str] = []
                for condition, branch in item:
                    terms = [f"not ({c})" for c in earlier] + (
                        [f"({condition})"] if condition is not None else [])
                    if condition is not None:
                        earlier.append(condition)
                    grown += [(a + terms + b, tds + more) for a, tds in found
                              for b, more in paths(branch)]
                found = grown
            return found

        tree = parse(())
        return [(" and ".join(terms) or "True", tds) for terms, tds in paths(tree)]

    def row(self, tds: list[etree._Element], edges: list[float],
            spans: dict[int, tuple[int, int]], first: etree._Element) -> Row:
        """One table row of cells ``tds`` (``spans``: the rowspans it continues)."""
        cells: list[Cell] = []
        heights: list[float] = []
        fixed = growing = False
        column = 0

        def continued() -> None:
            nonlocal column
            while column in spans:
                left, end = spans.pop(column)
                cells.append(Cell(edges[column], edges[end], [tiny()], merge="continue",
                                  ruled=self.ruled(first)))
                if left > 1:
                    spans[column] = (left - 1, end)
                column = end

        for td in tds:
            continued()
            end = column + int(td.get("colspan", "1"))
            if end >= len(edges):
                raise self.fail(td, "more cells than the table has columns")
            style = self.styles[td]
            size = look(style).size
            pad = length(style, "padding-left", size)
            inner = edges[end] - edges[column] - 2 * pad
            content = self.blocks(td, inner)
            boxes = [child for child in td if child.get("data-field") or
                     child.get("data-region")]
            vertical = (length(style, "padding-top", size)
                        + length(style, "padding-bottom", size))
            if len(td) == 1 and boxes and not MARKER.sub("", td.text or "").strip() \
                    and not (boxes[0].tail or "").strip():
                fixed = True
                heights.append(length(self.styles[boxes[0]], "height") + vertical)
            else:
                heights.append(self.text_height(td, inner) + vertical)
                # Text of data ({{ rules.flow }}) has no known length: its row must grow as
                # the HTML's does, so the row's values print as running text, unfitted.
                growing = growing or "{{" in "".join(td.itertext())
            rowspan = int(td.get("rowspan", "1"))
            if rowspan > 1:
                spans[column] = (rowspan - 1, end)
                if self.sheet and not boxes:
                    heights[-1] = 0.0  # its text spreads over the rows it spans
            valign = {"middle": "center", "top": "top", "bottom": "bottom"}.get(
                style.get("vertical-align", "middle"))
            if valign is None:
                raise self.fail(td, f"vertical-align: {style['vertical-align']}")
            cells.append(Cell(edges[column], edges[end], content,
                              merge="restart" if rowspan > 1 else None, valign=valign,
                              ruled=self.ruled(td), margin=pad if self.sheet else None))
            column = end
        continued()
        rule = border(self.styles[first], "top")
        thick = rule[1] * 25.4 / 72 if rule else 0.0
        if fixed and not growing:
            return Row(round(max(heights) + thick, 2), cells)
        if self.sheet and heights and not growing:
            # Static text: its HTML height (with the cell's padding) as the row's minimum.
            return Row(round(max(heights) + thick, 2), cells, at_least=True)
        return Row(None, cells)

    # Boxes placed in a positioned box: a grid of merged cells.

    def positioned(self, element: etree._Element) -> bool:
        """A box with ``position: relative`` and a height whose children may be placed
        absolutely (the sheet's heading, each half of its promise)."""
        style = self.styles[element]
        return (style.get("position") == "relative" and bool(length(style, "height"))
                and self.display(element) == "block")

    def grid_row(self, tr: etree._Element, edges: list[float],
                 spans: dict[int, tuple[int, int]]) -> list[Row]:
        """A table row whose cells each hold one positioned box: the row as the grid of
        their boxes (:meth:`grid`), the cells' rules around each cell's part."""
        if spans or any(td.get("rowspan", "1") != "1" for td in tr):
            raise self.fail(tr, "a rowspan beside a positioned box")
        regions: list[tuple[float, float, etree._Element, etree._Element | None]] = []
        column = 0
        for td in tr:
            end = column + int(td.get("colspan", "1"))
            if end >= len(edges):
                raise self.fail(td, "more cells than the table has columns")
            boxes = [child for child in td if self.positioned(child)]
            if len(td) != 1 or len(boxes) != 1 or (td.text or "").strip() or \
                    (boxes[0].tail or "").strip():
                raise self.fail(td, "a cell holding more than one positioned box")
            style = self.styles[td]
            if any(length(style, f"padding-{side}") for side in SIDES):
                raise self.fail(td, "padding around a positioned box")
            regions.append((edges[column], edges[end], boxes[0], td))
            column = end
        return self.grid(regions)

    def grid(self, regions: list[tuple[float, float, etree._Element, etree._Element | None]]
             ) -> list[Row]:
        """Positioned boxes side by side (``(start, end, box, cell or None)``, mm across the
        table) as rows of a grid: every edge of every placed part is a column or a row
        boundary, each part a cell merged across the columns and rows it covers (its value
        alone in it, with its exact height, as sheetgen fits values), the rest empty cells;
        the enclosing cells' rules on the grid's outer edges."""
        placed: list[tuple[float, float, list[Part], Sides, etree._Element | None]] = []
        height = 0.0
        for start, end, box, td in regions:
            parts, tall = self.place(box, end - start)
            placed.append((start, end, [p.moved(start) for p in parts],
                           self.ruled(td) if td is not None else frozenset(), td))
            height = max(height, tall)
        ys = sorted({0.0, round(height, 2)} | {round(y, 2) for _, _, parts, _, _ in placed
                                               for p in parts for y in (p.y0, p.y1)})
        rule = RULE
        rows: list[Row] = []
        for top, bottom in itertools.pairwise(ys):
            cells: list[Cell] = []
            for start, end, parts, ruled, _ in placed:
                xs = sorted({round(start, 2), round(end, 2)}
                            | {round(x, 2) for p in parts for x in (p.x0, p.x1)})

                def sides(x0: float, x1: float, ruled: Sides = ruled, start: float = start,
                          end: float = end, top: float = top, bottom: float = bottom) -> Sides:
                    return frozenset(
                        side for side in ruled
                        if (side == "top" and top == ys[0])
                        or (side == "bottom" and bottom == ys[-1])
                        or (side == "left" and x0 == round(start, 2))
                        or (side == "right" and x1 == round(end, 2)))

                x = xs[0]
                while x < xs[-1]:
                    here = next((p for p in parts if round(p.x0, 2) <= x < round(p.x1, 2)
                                 and round(p.y0, 2) <= top < round(p.y1, 2)), None)
                    if here is None:
                        following = [round(p.x0, 2) for p in parts if round(p.x0, 2) > x
                                     and round(p.y0, 2) <= top < round(p.y1, 2)]
                        x1 = min(following, default=xs[-1])
                        cells.append(Cell(x, x1, [], valign="top", ruled=sides(x, x1),
                                          margin=0.0, bare=True))
                        x = x1
                        continue
                    x0, x1 = round(here.x0, 2), round(here.x1, 2)
                    first, last = top == round(here.y0, 2), bottom == round(here.y1, 2)
                    own = frozenset(s for s in here.ruled if (s != "top" or first)
                                    and (s != "bottom" or last))
                    cells.append(Cell(x0, x1, here.content if first else [],
                                      merge=None if first and last else
                                      ("restart" if first else "continue"),
                                      valign=here.valign, ruled=sides(x0, x1) | own,
                                      rule=here.rule if own else "single",
                                      margin=here.margin, rule_size=here.rule_size if own
                                      else rule, color=here.color if own else None,
                                      bare=True))
                    x = x1
            rows.append(Row(round(bottom - top, 2), cells))
        return rows

    def place(self, box: etree._Element, width: float) -> tuple[list[Part], float]:
        """The parts of a positioned box ``width`` mm wide, placed (mm from its top left
        corner), and its height: its children in the normal flow stacked from the top, those
        with ``position: absolute`` at their offsets; a centred block in the flow narrowed
        evenly to stay clear of the placed ones; overlapping parts refused."""
        style = self.styles[box]
        size = look(style).size
        pad = [length(style, f"padding-{side}", size) for side in SIDES]
        height = length(style, "height", size) + pad[0] + pad[2]
        if (box.text or "").strip():
            raise self.fail(box, "text directly in a positioned box")
        flowing: list[Part] = []
        placed: list[Part] = []
        y = pad[0]
        for child in box:
            if (child.tail or "").strip():
                raise self.fail(child, "text directly in a positioned box")
            shown = self.styles[child]
            child_size = look(shown).size
            if shown.get("position") == "absolute":
                w_, h_ = self.extent(child, width)
                x = (length(shown, "left", child_size) if "left" in shown else
                     width - length(shown, "right", child_size) - w_)
                top = (length(shown, "top", child_size) if "top" in shown else
                       height - length(shown, "bottom", child_size) - h_)
                placed += self.leaves(child, x, top, w_, h_)
                continue
            y += length(shown, "margin-top", child_size) + length(shown, "padding-top",
                                                                  child_size)
            inner = width - pad[1] - pad[3]
            h_ = self.extent(child, inner)[1] - length(shown, "padding-top", child_size)
            flowing += self.leaves(child, pad[3], y, inner, h_)
            y += h_ + length(shown, "margin-bottom", child_size)
        if y > height + 0.01:
            raise self.fail(box, f"content {y:.1f} mm tall in a box of {height:.1f} mm")
        for i, part in enumerate(flowing):
            for other in placed:
                if not part.overlaps(other):
                    continue
                if part.align != "center":
                    raise self.fail(box, "a box placed over text that is not centred")
                middle = (part.x0 + part.x1) / 2
                half = (other.x0 - middle if other.x0 >= middle else middle - other.x1)
                if half <= 0:
                    raise self.fail(box, "a box placed over the middle of centred text")
                part = dataclasses.replace(part, x0=middle - half, x1=middle + half)
            flowing[i] = part
        parts = flowing + placed
        for a, b in itertools.combinations(parts, 2):
            if a.overlaps(b):
                raise self.fail(box, "boxes placed over each other")
        return parts, height

    def natural_width(self, element: etree._Element) -> float:
        """The width (mm) of an element's content on one line: characters (CJK 1 em, others
        about 0.55 em) and the widths of its inline boxes."""
        def em(content: str, shown: Look) -> float:
            content = re.sub(f"[{HTML_SPACE}]+", " ", content)
            return sum((1.0 if ord(c) > 0x2E80 else 0.55) * shown.size * 25.4 / 72
                       + shown.spacing * 25.4 / 72 for c in content)
        total = em(element.text or "", look(self.styles[element]))
        for child in element:
            shown = self.styles[child]
            if self.display(child) != "inline":
                raise self.fail(child, "a block in a box placed without a width")
            width = length(shown, "width", look(shown).size)
            total += width if width else self.natural_width(child)
            total += em(child.tail or "", look(self.styles[element]))
        return total

    def extent(self, element: etree._Element, width: float) -> tuple[float, float]:
        """The width and height (mm, with the padding) of a box: its CSS width and height,
        or its content's (one line of text and inline boxes, or its blocks stacked)."""
        shown = self.styles[element]
        size = look(shown).size
        pad = [length(shown, f"padding-{side}", size) for side in SIDES]
        given = length(shown, "width", size, width)
        if shown.get("box-sizing") == "border-box":
            pad = [0.0] * 4
        # (a box as wide as its text, with a little room: Word wraps text that only just fits)
        w_ = (given + pad[1] + pad[3] if given else
              self.natural_width(element) + 1.0 + pad[1] + pad[3]
              if shown.get("position") == "absolute" else width)
        h_ = length(shown, "height", size)
        if not h_:
            blocks = [child for child in element if self.display(child) == "block"]
            if blocks:
                anonymous = look(shown).line * 25.4 / 72 if (element.text or "").strip() else 0
                h_ = anonymous + sum(self.extent(child, w_ - pad[1] - pad[3])[1]
                                     + length(self.styles[child], "margin-top", size)
                                     + length(self.styles[child], "margin-bottom", size)
                                     for child in blocks)
            else:
                h_ = max([self.text_height(element, w_ - pad[1] - pad[3])]
                         + [length(self.styles[child], "height") for child in element
                            if self.display(child) == "inline"])
        return w_, h_ + pad[0] + pad[2]

    def leaves(self, element: etree._Element, x: float, y: float, width: float,
               height: float) -> list[Part]:
        """The parts of a placed box: a dashed box as a seal (rounded) or fingerprint mark
        with its label; a solid box as a ruled cell; a value's box alone; a line of text
        split at its value boxes; a box of blocks stacked."""
        shown = self.styles[element]
        size = look(shown).size
        rules = [border(shown, side) for side in SIDES]
        align = look(shown).align
        if any(rules) and not all(rules):
            raise self.fail(element, "a border on some sides of a placed box")
        if rules[0] and rules[0][0] == "dashed":
            label = [self.label(element)]
            geometry = "ellipse" if length(shown, "border-radius", size) else "rect"
            return [Part(x, y, x + width, y + height, mark(label, width, height,
                                                           geometry=geometry), align)]
        if rules[0]:
            # A ruled box: its placed children (a caption) first, then its text.
            kind, thickness, color = rules[0]
            content = [self.label(child) for child in element
                       if self.styles[child].get("position") == "absolute"]
            kept: list[tuple[etree._Element, str | None]] = [(element, element.text or "")]
            for child in element:
                if self.styles[child].get("position") != "absolute":
                    kept.append((child, None))
                kept.append((element, child.tail or ""))
            content.append(self.paragraph(element, self.inline_items(kept)))
            return [Part(x, y, x + width, y + height, content, align,
                         ruled=ALL, rule=kind, rule_size=round(thickness * 8), color=color,
                         margin=length(shown, "padding-left", size))]
        if element.get("data-field") or element.get("data-region"):
            return [Part(x, y, x + width, y + height, [self.field(element)], align)]
        children = list(element)
        if any(self.display(child) == "block" for child in children):
            parts: list[Part] = []
            top = y
            if (element.text or "").strip():
                line = look(shown).line * 25.4 / 72
                parts.append(Part(x, top, x + width, top + line,
                                  [self.paragraph(element, self.runs(element, element.text
                                                                     or ""))], align))
                top += line
            for child in children:
                if self.display(child) != "block" or (child.tail or "").strip():
                    raise self.fail(child, "text beside a block in a placed box")
                child_height = self.extent(child, width)[1]
                parts += self.leaves(child, x, top, width, child_height)
                top += child_height
            return parts
        if any(child.get("data-field") for child in children):
            # A line of text and value boxes: a cell for each piece, side by side.
            parts = []
            left = x
            items: list[tuple[etree._Element, str | None]] = [(element, element.text or "")]
            for child in children:
                items += [(child, None), (element, child.tail or "")]
            pending: list[tuple[etree._Element, str | None]] = []

            def flush(until: float | None = None) -> None:
                nonlocal left
                text = "".join(t or "" for _, t in pending)
                if text.strip():
                    # with a little room: Word wraps text that only just fits
                    right = until if until is not None else left + 1.0 + sum(
                        (1.0 if ord(c) > 0x2E80 else 0.55) * size * 25.4 / 72
                        for c in re.sub(f"[{HTML_SPACE}]+", " ", text).strip(HTML_SPACE))
                    parts.append(Part(left, y, right, y + height, [
                        self.paragraph(element, self.inline_items(pending))], "left",
                        valign="center"))
                    left = right
                elif text and until is None:
                    left += 0.55 * size * 25.4 / 72
                pending.clear()

            for child, text in items:
                if text is None and child.get("data-field"):
                    flush()
                    box_width = length(self.styles[child], "width", size)
                    parts.append(Part(left, y, left + box_width, y + height,
                                      [self.field(child)], "left", valign="center"))
                    left += box_width
                else:
                    pending.append((child, text))
            flush()
            return parts
        return [Part(x, y, x + width, y + height, [self.paragraph(element,
                                                                  self.inline(element))],
                     align)]

    def label(self, element: etree._Element) -> etree._Element:
        """A placed box's text as a paragraph of single lines (the CSS's line height of a
        box's height only centres the label, which Word does by the shape's anchor)."""
        made = self.paragraph(element, self.inline(element))
        spacing = made.find(f"{W}pPr/{W}spacing")
        size = look(self.styles[element]).size
        spacing.set(W + "line", str(round(size * LINE * 20)))
        return made

    def ruled(self, cell: etree._Element | None) -> Sides:
        if cell is None:
            return ALL
        return frozenset(side for side in SIDES if border(self.styles[cell], side))

    def text_height(self, element: etree._Element, width: float) -> float:
        """The height (mm) of an element's static text: its lines at its line height, lines
        counted with full-width CJK and half-width Latin characters."""
        shown = look(self.styles[element])
        content = MARKER.sub("", "".join(element.itertext()))
        content = re.sub(r"\{\{.*?\}\}", "", " ".join(content.split()))
        em = sum(1.0 if ord(c) > 0x2E80 else 0.55 for c in content)
        per_line = max(1.0, width / (shown.size * 25.4 / 72))
        lines = max(1, -(-round(em * 100) // round(per_line * 100)))
        return lines * shown.line * 25.4 / 72


@dataclass(frozen=True)
class Part:
    """A placed part of a positioned box (mm) and what its cell holds."""

    x0: float
    y0: float
    x1: float
    y1: float
    content: list[etree._Element]
    align: str = "left"
    valign: str = "top"
    ruled: Sides = frozenset()
    rule: str = "single"
    rule_size: int | None = None
    color: str | None = None
    margin: float = 0.0

    def moved(self, dx: float) -> Part:
        return dataclasses.replace(self, x0=self.x0 + dx, x1=self.x1 + dx)

    def overlaps(self, other: Part) -> bool:
        return (self.x0 < other.x1 - 0.01 and other.x0 < self.x1 - 0.01
                and self.y0 < other.y1 - 0.01 and other.y0 < self.y1 - 0.01)


HTML_SPACE = " \t\n\r\f"


def _trim(runs: list[etree._Element]) -> None:
    """Whitespace at the start and end of a paragraph is not printed (as in HTML)."""
    texts = [t for r in runs for t in r.iter(W + "t")]
    if texts:
        # HTML's white space only: a no-break or ideographic space is printed.
        texts[0].text = (texts[0].text or "").lstrip(HTML_SPACE)
        texts[-1].text = (texts[-1].text or "").rstrip(HTML_SPACE)


def text_tag(content: str, size: float = 7) -> etree._Element:
    """A paragraph holding only a docxtpl tag (or a region), which rendering removes."""
    return text(content, size)


def convert(name: str, root: Path = TEMPLATES) -> Converted:
    """The DOCX body, title and page of the HTML template ``name`` (see the section's comment)."""
    try:
        return Converter(read_template(name, root)).convert()
    except Unsupported as exc:
        raise SystemExit(f"build_docx_templates: {exc}") from None


# --- the check sheets: converted per combination of flags, merged --------------------------
#
# A sheet template's structure depends on its flags only (templates/README.md): its HTML is
# rendered by Jinja itself (extends, blocks, macros, loops, the rowspans it computes) for every
# combination of the flags it reads, its data left as ``{{ host.name }}`` for docxtpl; each
# rendering is converted (its CSS as the body's classes select it); the renderings' rows and
# paragraphs are merged into one sequence, each printed under the condition on the flags
# (reduced to the fewest flags) that selects exactly the renderings holding it.


class _Data:
    """A value of the context left for docxtpl: prints as ``{{ path }}``."""

    def __init__(self, path: str) -> None:
        self._path = path

    def __getattr__(self, name: str) -> _Data:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Data(f"{self._path}.{name}")

    def __str__(self) -> str:
        return f"{{{{ {self._path} }}}}"

    def __html__(self) -> str:
        return str(self)


class _Context(dict[str, Any]):
    """Every name is defined: ``flags`` as given, anything else data (:class:`_Data`)."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> _Data:
        return _Data(key)


class _Flags(dict[str, bool]):
    """The flags of one rendering, recording which the template reads."""

    def __init__(self, values: dict[str, bool], read: set[str]) -> None:
        super().__init__(values)
        self.read = read

    def __getitem__(self, key: str) -> bool:
        if key not in self:
            # (flags.variant, a name: the rules' variant picks the template, not its rows)
            raise SystemExit(f"build_docx_templates: flags.{key}: a sheet's structure may "
                             "depend on the flags of sheetgen.rules.FLAGS, details and qr "
                             "only (converted per combination of them)")
        self.read.add(key)
        return super().__getitem__(key)


def sheet_uses(root: Path = TEMPLATES) -> dict[str, set[tuple[bool, bool]]]:
    """Each sheet template of the rules (every edition) and the (unit, commitment) it prints
    for: the rules give a variant a unit and a personal template, and the personal one the
    handwritten commitment when the variant asks for it."""
    from sheetgen.rules import EDITIONS, load_rules

    uses: dict[str, set[tuple[bool, bool]]] = {}
    for edition in EDITIONS:
        for spec in load_rules(edition=edition).variants.values():
            uses.setdefault(f"{spec.templates.unit}.html", set()).add((True, False))
            uses.setdefault(f"{spec.templates.personal}.html", set()).add(
                (False, spec.personal_commitment))
    return {name: found for name, found in sorted(uses.items()) if (root / name).is_file()}


def flag_combinations(read: set[str], uses: set[tuple[bool, bool]]) -> list[dict[str, bool]]:
    """The flags a sheet context can hold (sheetgen.documents.context), over the flags a
    template reads: unit or personal (and the commitment) as the rules use the template, a
    unit's seal or no-seal box, a person's fingerprint box (sheetgen.rules.needs_fingerprint),
    the landline check (a unit's, or a reported landline), every other flag free."""
    from sheetgen.rules import FLAGS

    derived = {"unit", "personal", "seal", "no_seal", "landline_check", "commitment"}
    free = sorted((read - derived) | ({"landline"} if "landline_check" in read else set()))
    found: dict[tuple[bool, ...], dict[str, bool]] = {}
    for unit, commitment in sorted(uses):
        for seal, values in itertools.product(("seal", "no_seal") if unit else ("none",),
                                              itertools.product((False, True),
                                                                repeat=len(free))):
            flags = dict.fromkeys((*FLAGS, "details", "qr", "landline", "landline_check"),
                                  False)
            flags |= dict(zip(free, values, strict=True))
            flags |= {"unit": unit, "personal": not unit, "seal": seal == "seal",
                      "no_seal": seal == "no_seal", "commitment": commitment}
            flags["landline_check"] = unit or flags["landline"]
            flags["fingerprint"] = flags["fingerprint"] and not unit  # personal filings only
            found.setdefault(tuple(flags[n] for n in sorted(read)), flags)
    return list(found.values())


@functools.lru_cache(maxsize=8)
def _jinja(root: Path) -> Any:
    """One environment per template directory: it compiles each template once."""
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(root), autoescape=True,
                              undefined=jinja2.StrictUndefined)


def render_sheet(name: str, flags: dict[str, bool], read: set[str],
                 root: Path = TEMPLATES) -> str:
    """The sheet template ``name`` rendered by Jinja under ``flags``, its data left as
    ``{{ … }}`` (the flags it reads added to ``read``)."""
    template = _jinja(root).get_template(name)
    context = _Context(flags=_Flags(flags, read))
    return "".join(template.root_render_func(template.new_context(context, shared=True)))


@dataclass
class Piece:
    """A unit of a converted sheet's body: rows (of one table row, or one positioned box)
    or a paragraph; ``key`` compares pieces of different renderings."""

    key: bytes
    rows: list[Row] | None
    element: etree._Element | None
    height: float  # mm


def row_key(row: Row) -> bytes:
    return repr((row.height, row.at_least, [
        (c.start, c.end, c.merge, c.valign, sorted(c.ruled), c.rule, c.margin, c.rule_size,
         c.color, [etree.tostring(e) for e in c.content]) for c in row.cells])).encode()


def paragraph_height(element: etree._Element) -> float:
    spacing = element.find(f"{W}pPr/{W}spacing")
    if spacing is None:
        return 0.0
    return (int(spacing.get(W + "line", "240")) + int(spacing.get(W + "before", "0"))
            + int(spacing.get(W + "after", "0"))) / 20 * 25.4 / 72


def sheet_pieces(name: str, html: str, root: Path) -> tuple[list[Piece], Converted]:
    """One rendering of a sheet converted, as pieces: a table's rows one by one (the rows
    of a positioned box, and a rowspan's, together), its paragraphs."""
    converter = Converter(read_template(name, root, html), sheet=True)
    converted = converter.convert()
    pieces: list[Piece] = []
    for element in converted.body:
        rows = next((r for made, r in converter.made if made is element), None)
        if rows is None:
            pieces.append(Piece(etree.tostring(element), None, element,
                                paragraph_height(element)))
            continue
        if twips(sum(c.end - c.start for c in rows[0].cells)) != twips(converted.page.width):
            raise SystemExit(f"build_docx_templates: {name}: a table narrower than the page")
        group: list[Row] = []
        for row in rows:
            if row.height is None:
                raise SystemExit(f"build_docx_templates: {name}: a row of data of unknown "
                                 "length; a sheet's values are printed in value boxes")
            group.append(row)
            # A rowspan (merged cells) continues: the rows stay together.
            if any(cell.merge for cell in _next_row(rows, row)):
                continue
            pieces.append(Piece(b"".join(row_key(r) for r in group), group, None,
                                sum(r.height or 0.0 for r in group)))
            group = []
    return pieces, converted


def _next_row(rows: list[Row], row: Row) -> list[Cell]:
    index = next(i for i, r in enumerate(rows) if r is row)
    if index + 1 < len(rows):
        return [c for c in rows[index + 1].cells if c.merge == "continue"]
    return []


def flag_condition(members: set[int], combinations: list[dict[str, bool]],
                   names: list[str]) -> str | None:
    """The condition on the fewest flags that holds exactly for the combinations
    ``members`` (None: all of them)."""
    if len(members) == len(combinations):
        return None
    for count in range(1, len(names) + 1):
        for chosen in itertools.combinations(names, count):
            outcome: dict[tuple[bool, ...], bool] = {}
            if all(outcome.setdefault(tuple(c[n] for n in chosen), i in members)
                   == (i in members) for i, c in enumerate(combinations)):
                held = sorted(k for k, v in outcome.items() if v)
                other = sorted(k for k, v in outcome.items() if not v)
                negate = len(other) < len(held)

                def term(values: tuple[bool, ...], chosen: tuple[str, ...] = chosen) -> str:
                    return " and ".join(f"flags.{n}" if v else f"not flags.{n}"
                                        for n, v in zip(chosen, values, strict=True))
                terms = other if negate else held
                joined = (term(terms[0]) if len(terms) == 1 else
                          " or ".join(f"({term(t)})" for t in terms))
                return f"not ({joined})" if negate else joined
    raise AssertionError("the flags do not tell the renderings apart")


def convert_sheet(name: str, root: Path = TEMPLATES,
                  uses: set[tuple[bool, bool]] | None = None) -> Converted:
    """The DOCX body of the sheet template ``name``: converted for every combination of the
    flags it reads, merged (see the section's comment); every rendering must fit its page."""
    uses = uses if uses is not None else sheet_uses(root).get(name, {(False, False),
                                                                    (True, False)})
    read: set[str] = set()
    combinations: list[dict[str, bool]] = []
    while True:  # the flags read, until no rendering reads another
        known = set(read)
        combinations = flag_combinations(known, uses)
        for flags in combinations:
            render_sheet(name, flags, read, root)
        if read == known:
            break
    merged: list[tuple[Piece, set[int]]] = []
    converted: Converted | None = None
    try:
        for index, flags in enumerate(combinations):
            pieces, converted = sheet_pieces(name, render_sheet(name, flags, set(), root), root)
            tall = sum(p.height for p in pieces)
            page = converted.page  # its CSS's @page
            room = PAGE_H - page.top - page.bottom - SLACK
            if tall > room:
                which = ", ".join(k for k in sorted(read) if flags[k]) or "no flags"
                raise SystemExit(
                    f"build_docx_templates: {name} ({which}): the sheet is {tall:.1f} mm tall; "
                    f"one A4 page holds {room:.1f} mm with the safety margin")
            keys = [p.key for _, p in enumerate(pieces)]
            matcher = difflib.SequenceMatcher(None, [p.key for p, _ in merged], keys,
                                              autojunk=False)
            grown: list[tuple[Piece, set[int]]] = []
            for op, a0, a1, b0, b1 in matcher.get_opcodes():
                if op == "equal":
                    grown += [(merged[i][0], merged[i][1] | {index}) for i in range(a0, a1)]
                    continue
                grown += merged[a0:a1]
                grown += [(pieces[j], {index}) for j in range(b0, b1)]
            merged = grown
    except Unsupported as exc:
        raise SystemExit(f"build_docx_templates: {exc}") from None
    assert converted is not None
    names = sorted(read)
    body: list[etree._Element] = []
    rows: list[Row] = []
    width = converted.page.width

    def flush() -> None:
        if rows:
            # The table's cell margin: its cells' most common one (the others say theirs).
            margins = [c.margin for r in rows for c in r.cells if c.margin is not None]
            common = max(sorted(set(margins)), key=margins.count, default=CELL_MARGIN)
            for row in rows:
                for cell in row.cells:
                    if cell.margin is None:  # a tag row's
                        cell.margin = CELL_MARGIN
            body.append(table(rows, width=width, margin=common))
            rows.clear()

    held: str | None = None
    for piece, members in merged:
        condition = flag_condition(members, combinations, names)
        if piece.rows is not None:
            if condition != held:
                if held is not None:
                    rows.append(tag_row("{%tr endif %}", width))
                if condition is not None:
                    rows.append(tag_row(f"{{%tr if {condition} %}}", width))
                held = condition
            rows.extend(piece.rows)
            continue
        if held is not None:
            rows.append(tag_row("{%tr endif %}", width))
        held = None
        flush()
        assert piece.element is not None
        body += when(condition, piece.element) if condition else [piece.element]
    if held is not None:
        rows.append(tag_row("{%tr endif %}", width))
    flush()
    if not body or body[-1].tag != W + "p":
        body.append(tiny())
    return Converted(body, converted.title, converted.page)


# --- the package -----------------------------------------------------------------------------

# --- forms (sheetgen.documents.forms): its HTML from its one definition, its DOCX converted ---

#: Whom a form prints for: units, persons with the handwritten commitment or without (the
#: rules' ``when`` picks the applicants), as (unit, commitment).
FORM_USES = frozenset({(False, False), (False, True), (True, False)})


def form_templates(stem: str, form: forms.Form) -> dict[str, bytes]:
    """Both templates of ``form`` by their paths under a template set: ``<stem>.html`` for the
    PDF (:func:`~sheetgen.documents.forms.form_html`) and ``<stem>.docx`` for Word, converted
    from that HTML as a sheet's (:func:`convert_sheet`)."""
    html = forms.form_html(form)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"{stem}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        converted = convert_sheet(f"{stem}.html", Path(scratch), set(FORM_USES))
    return {f"{stem}.html": html.encode(),
            f"{stem}.docx": package(converted.body, converted.title, converted.page)}


def xml(element: etree._Element) -> bytes:
    return bytes(etree.tostring(element, xml_declaration=True, encoding="UTF-8",
                                standalone=True))


@dataclass(frozen=True)
class Page:
    """A4 with the margins (mm) of the PDF's @page rule; ``footer``: the text of its
    ``@bottom-center`` (strings; None: the page number; "": the number of pages)."""

    top: float
    right: float
    bottom: float
    left: float
    footer: tuple[str | None, ...] = ()
    footer_size: float = 8.0

    @property
    def width(self) -> float:
        return PAGE_W - self.left - self.right




def document_part(body: list[etree._Element], page: Page) -> bytes:
    footer = etree.Element(W + "footerReference", nsmap={"r": OFFICE})
    footer.set(W + "type", "default")
    footer.set(f"{{{OFFICE}}}id", "rIdFooter")
    section_properties = w("sectPr",
                           footer if page.footer else None,
                           w("pgSz", w=twips(PAGE_W), h=twips(PAGE_H)),
                           w("pgMar", top=twips(page.top), right=twips(page.right),
                             bottom=twips(page.bottom), left=twips(page.left), header=0,
                             footer=twips(5), gutter=0),
                           w("cols", space=425),
                           w("docGrid", linePitch=312))
    root = etree.Element(W + "document", nsmap={"w": W_NS, "r": OFFICE})
    root.append(w("body", *body, section_properties))
    return xml(root)


def footer_part(page: Page) -> bytes:
    """The page's footer, as the PDF's @bottom-center (第 N 页，共 M 页)."""
    root = etree.Element(W + "ftr", nsmap={"w": W_NS})
    size = page.footer_size
    runs = [run(piece, size) if piece else
            w("fldSimple", run("1", size), instr=" PAGE " if piece is None else " NUMPAGES ")
            for piece in page.footer]
    root.append(paragraph(*runs, size=size, align="center"))
    return xml(root)


def styles_part() -> bytes:
    """Document defaults (the body font, Chinese language, no grid or autospace) and the
    built-in styles Word expects."""
    fonts = w("rFonts", ascii=BODY_FONT, hAnsi=BODY_FONT, eastAsia=BODY_FONT, cs=BODY_FONT)
    root = etree.Element(W + "styles", nsmap={"w": W_NS})
    root.append(w("docDefaults",
                  w("rPrDefault", w("rPr", fonts, w("kern", val=0), w("sz", val=21),
                                    w("szCs", val=21),
                                    w("lang", val="en-US", eastAsia="zh-CN", bidi="ar-SA"))),
                  w("pPrDefault", w("pPr", w("autoSpaceDE", val=0), w("autoSpaceDN", val=0),
                                    w("snapToGrid", val=0),
                                    w("spacing", before=0, after=0, line=240,
                                      lineRule="auto")))))
    root.append(w("style", w("name", val="Normal"), w("qFormat"),
                  type="paragraph", default=1, styleId="Normal"))
    root.append(w("style", w("name", val="Default Paragraph Font"), w("uiPriority", val=1),
                  w("semiHidden"), w("unhideWhenUsed"),
                  type="character", default=1, styleId="DefaultParagraphFont"))
    root.append(w("style", w("name", val="Normal Table"), w("uiPriority", val=99),
                  w("semiHidden"), w("unhideWhenUsed"),
                  w("tblPr", w("tblInd", w=0, type="dxa"),
                    w("tblCellMar", w("top", w=0, type="dxa"), w("left", w=108, type="dxa"),
                      w("bottom", w=0, type="dxa"), w("right", w=108, type="dxa"))),
                  type="table", default=1, styleId="TableNormal"))
    return xml(root)


def settings_part() -> bytes:
    root = etree.Element(W + "settings", nsmap={"w": W_NS})
    for element in (w("zoom", percent=100), w("defaultTabStop", val=420),
                    w("characterSpacingControl", val="doNotCompress"),
                    w("compat", w("useFELayout"),
                      w("compatSetting", name="compatibilityMode",
                        uri="http://schemas.microsoft.com/office/word", val=15)),
                    w("themeFontLang", val="en-US", eastAsia="zh-CN"),
                    w("decimalSymbol", val="."), w("listSeparator", val=",")):
        root.append(element)
    return xml(root)


def font_table_part() -> bytes:
    """The fonts, with what Word needs to pick a substitute where they are not installed: a
    Chinese character set and the generic family (宋体-like serif, 黑体-like sans)."""
    root = etree.Element(W + "fonts", nsmap={"w": W_NS})
    for name, alternative, family in ((BODY_FONT, "宋体", "roman"),
                                      (HEADING_FONT, "黑体", "swiss")):
        root.append(w("font", w("altName", val=alternative), w("charset", val="86"),
                      w("family", val=family), w("pitch", val="variable"), name=name))
    return xml(root)


RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CORE = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
CORE_RELATIONSHIP = ("http://schemas.openxmlformats.org/package/2006/relationships/metadata/"
                     "core-properties")


def relationships(*targets: tuple[str, str, str]) -> bytes:
    root = etree.Element(f"{{{RELATIONSHIPS}}}Relationships", nsmap={None: RELATIONSHIPS})
    for ident, kind, target in targets:
        etree.SubElement(root, f"{{{RELATIONSHIPS}}}Relationship", Id=ident, Type=kind,
                         Target=target)
    return xml(root)


def content_types(footer: bool) -> bytes:
    ns = "http://schemas.openxmlformats.org/package/2006/content-types"
    root = etree.Element(f"{{{ns}}}Types", nsmap={None: ns})
    etree.SubElement(root, f"{{{ns}}}Default", Extension="rels",
                     ContentType="application/vnd.openxmlformats-package.relationships+xml")
    etree.SubElement(root, f"{{{ns}}}Default", Extension="xml", ContentType="application/xml")
    main = "application/vnd.openxmlformats-officedocument.wordprocessingml"
    for part, kind in (("/word/document.xml", f"{main}.document.main+xml"),
                       ("/word/styles.xml", f"{main}.styles+xml"),
                       ("/word/settings.xml", f"{main}.settings+xml"),
                       ("/word/fontTable.xml", f"{main}.fontTable+xml"),
                       ("/docProps/core.xml",
                        "application/vnd.openxmlformats-package.core-properties+xml"),
                       *((("/word/footer1.xml", f"{main}.footer+xml"),) if footer else ())):
        etree.SubElement(root, f"{{{ns}}}Override", PartName=part, ContentType=kind)
    return xml(root)


def core_part(title: str) -> bytes:
    """Core properties without dates, so rebuilding changes nothing (Word adds its own)."""
    dc = "http://purl.org/dc/elements/1.1/"
    root = etree.Element(f"{{{CORE}}}coreProperties", nsmap={"cp": CORE, "dc": dc})
    etree.SubElement(root, f"{{{dc}}}title").text = title
    etree.SubElement(root, f"{{{dc}}}creator").text = "sheetgen"
    etree.SubElement(root, f"{{{CORE}}}revision").text = "1"
    return xml(root)


def package(body: list[etree._Element], title: str, page: Page) -> bytes:
    parts = {
        "[Content_Types].xml": content_types(bool(page.footer)),
        "_rels/.rels": relationships(("rId1", f"{OFFICE}/officeDocument", "word/document.xml"),
                                     ("rId2", CORE_RELATIONSHIP, "docProps/core.xml")),
        "docProps/core.xml": core_part(title),
        "word/document.xml": document_part(body, page),
        "word/_rels/document.xml.rels": relationships(
            ("rId1", f"{OFFICE}/styles", "styles.xml"),
            ("rId2", f"{OFFICE}/settings", "settings.xml"),
            ("rId3", f"{OFFICE}/fontTable", "fontTable.xml"),
            *((("rIdFooter", f"{OFFICE}/footer", "footer1.xml"),) if page.footer else ())),
        "word/styles.xml": styles_part(),
        "word/settings.xml": settings_part(),
        "word/fontTable.xml": font_table_part(),
    }
    if page.footer:
        parts["word/footer1.xml"] = footer_part(page)
    return write_package(parts)


#: The templates whose DOCX is converted from their HTML (the one definition of the page).
CONVERTED = ("common/cover.html",)


def build() -> dict[str, bytes]:
    """Every template by its path under templates/."""
    built = {}
    for name, uses in sheet_uses().items():
        converted = convert_sheet(name, uses=uses)
        built[name.removesuffix(".html") + ".docx"] = package(converted.body, converted.title,
                                                              converted.page)
    for name in CONVERTED:
        converted = convert(name)
        built[name.removesuffix(".html") + ".docx"] = package(converted.body, converted.title,
                                                              converted.page)
    for stem, form in forms.FORMS.items():
        built |= form_templates(stem, form)
    return built


def differences(built: dict[str, bytes], root: Path) -> list[str]:
    """What differs between freshly built templates and the files under ``root``.

    Compared part by part (the XML), not as zip bytes: deflate output may differ between zlib
    builds while the documents are the same.
    """
    found = []
    for name, data in built.items():
        path = root / name
        if not path.is_file():
            found.append(f"{name}: missing")
            continue
        if not name.endswith(".docx"):  # a form's generated HTML: compared as text
            if path.read_bytes() != data:
                found.append(f"{name} differs")
            continue
        want, have = read_package(data), read_package(path.read_bytes())
        for part in sorted(set(want) | set(have)):
            if want.get(part) != have.get(part):
                found.append(f"{name}: {part} differs")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="rebuild in a temporary directory and compare with templates/")
    args = parser.parse_args(argv)
    built = build()
    if args.check:
        with tempfile.TemporaryDirectory() as scratch:
            for name, data in built.items():
                (Path(scratch) / name).parent.mkdir(parents=True, exist_ok=True)
                (Path(scratch) / name).write_bytes(data)
            found = differences(
                {n: (Path(scratch) / n).read_bytes() for n in built}, TEMPLATES)
        for line in found:
            print(f"build_docx_templates: {line}", file=sys.stderr)
        if found:
            print("build_docx_templates: the DOCX templates are not what this tool builds; "
                  "run `python tools/build_docx_templates.py` and commit the result",
                  file=sys.stderr)
            return 1
        print(f"build_docx_templates: {len(built)} templates up to date")
        return 0
    for name, data in built.items():
        (TEMPLATES / name).write_bytes(data)
        print(f"wrote templates/{name} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
