"""Editable Word output: the check sheets and the cover as DOCX files, rendered with docxtpl.

Providers and applicants sometimes need to adjust a sheet in Word before printing, so every
page job of the PDF (:func:`~.applicant_jobs`) can also become a DOCX file: one
per website sheet, and the cover checklist in a file of its own (a Word file cannot share the
PDF's pages, and a cover of up to two pages in front of a one-page form would make every sheet
file two or three pages long). The templates are ``templates/<variant>/*.docx`` beside the
HTML ones, built and checked by ``tools/build_docx_templates.py``; their contract is in
``templates/README.md``.

Same text as the PDF
    A DOCX template receives the very context of the PDF (:func:`~.sheet_context`,
    :func:`sheetgen.documents.cover.cover_context`) and is rendered by docxtpl through the template
    set's strict Jinja2 environment (``StrictUndefined``, autoescape on), so an unknown variable
    is a :class:`~sheetgen.errors.TemplateError` naming it, and data can never inject
    WordprocessingML.

Long values: fitted like the PDF, from the template's own geometry
    A value is printed in a table cell of its own whose row has an exact height (Word:
    行高 固定值), so a value can never make the page grow. The cell's size is read from the
    DOCX itself (grid columns, spans, cell margins, row heights), not from a side file, so a
    provider's own template needs nothing but ``{{ host.name }}`` in such a cell. Each value is
    fitted with the PDF's code (:func:`~.fit_value` and the bundled body font's metrics,
    :func:`~sheetgen.rendering.fonts.measure`): shrunk step by step to its minimum size,
    continued in a region of blank space (the 备注 cell) when the template allows it, else
    refused with :class:`~sheetgen.errors.DoesNotFitError` naming the JSON path. The fitted
    lines are printed with hard line breaks and an exact line height, so Word and LibreOffice
    cannot wrap a value onto a line the fitting did not count (and clip it).

How: compile once, render many
    A template is compiled once per process (:func:`compile_docx`): each field paragraph is
    rewritten so that its text, font size and line height come from ``_fit.<id>``, an object
    that fits a value when the template first prints it. Fields in rows a flag removes
    (``{%tr if flags.landline %}``) are therefore never fitted, exactly like the PDF, whose
    compiled layout only has the boxes its flags keep.

Untrusted templates
    A provider's DOCX template is untrusted input: its Jinja runs in the template set's
    sandbox (:mod:`sheetgen.rendering.templating`), it is read only from inside the set, a package
    is bounded in parts and size, a part with a DTD (entities: a way to read files or to
    explode in memory) is refused, and every measure the fitting reads (``w:gridCol``,
    ``w:gridSpan``, ``w:gridBefore``, row heights, margins, font sizes) must be a well-formed
    number in range; anything else is a :class:`~sheetgen.errors.TemplateError` naming the
    template, the part and its line.

Everything docxtpl and python-docx need is imported inside the functions that use them.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import io
import re
import shlex
import threading
import weakref
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from markupsafe import Markup, escape

from sheetgen.documents.context import SheetContext
from sheetgen.documents.jobs import RenderOptions, applicant_jobs, document_title
from sheetgen.documents.plan import FilingPlan
from sheetgen.errors import Problem, SheetgenError, TemplateError
from sheetgen.rendering import fonts
from sheetgen.rendering.docx.fonts import EmbeddedFont, embed_fonts
from sheetgen.rendering.fields import (
    LEADING,
    STATIC_KEYS,
    Box,
    FieldBox,
    FieldFit,
    Region,
    check_fonts,
    check_min_size,
    does_not_fit,
    fit_report,
    fit_value,
    min_size,
    refuse,
)
from sheetgen.rendering.templating import TemplateSet, bundled

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W = f"{{{W_NS}}}"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
#: The context key under which fitted values reach a compiled template.
FIT_KEY = "_fit"

#: Widths of measured text are compared with the cell width less this share, and heights with
#: the cell height less ``HEIGHT_SAFETY`` points: Word and LibreOffice round glyph positions
#: and row heights to their own units, which must never add a line to a fitted value.
WIDTH_SAFETY = 0.02
HEIGHT_SAFETY = 1.0
#: The family name of the supplement font (fonts/NotoSerifSC-Supplement.ttf): characters
#: above U+FFFF (𠮷) get a run of their own in it, as the PDF draws them; word processors
#: otherwise pick any font that has them (LibreOffice took a sans face, out of text order).
SUPPLEMENT_FAMILY = "Noto Serif SC Supplement"
#: Word's defaults where a document says nothing: cell margins (twips) and font size (pt).
DEFAULT_CELL_MARGINS = {"top": 0, "left": 108, "bottom": 0, "right": 108}
DEFAULT_FONT_SIZE = 10.0


# --- packages --------------------------------------------------------------------------------

#: Every zip entry gets this timestamp, so the same parts always make the same bytes.
PACKAGE_DATE = (1980, 1, 1, 0, 0, 0)
CONTENT_TYPES = "[Content_Types].xml"
#: Bounds of a package read: a template has a dozen parts and well under 1 MB unpacked; the
#: bounds keep a zip bomb from exhausting memory.
MAX_PARTS = 1000
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
#: A DTD in a part: entity declarations (external ones read files; nested ones explode).
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def read_package(data: bytes) -> dict[str, bytes]:
    """The parts of a DOCX (OPC zip) package by name, in the package's order."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            entries = package.infolist()
            if len(entries) > MAX_PARTS or \
                    sum(entry.file_size for entry in entries) > MAX_UNPACKED_BYTES:
                raise TemplateError(f"DOCX file too large: over {MAX_PARTS} parts or "
                                    f"{MAX_UNPACKED_BYTES // (1024 * 1024)} MiB unpacked")
            parts: dict[str, bytes] = {}
            for entry in entries:
                # Read in bounded chunks: file_size is what the zip claims, not a promise.
                with package.open(entry) as member:
                    part = member.read(MAX_UNPACKED_BYTES + 1)
                if len(part) > MAX_UNPACKED_BYTES:
                    raise TemplateError(f"DOCX file too large: part {entry.filename} is over "
                                        f"{MAX_UNPACKED_BYTES // (1024 * 1024)} MiB unpacked")
                parts[entry.filename] = part
            return parts
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, KeyError, ValueError,
            NotImplementedError, EOFError, RuntimeError) as exc:  # what zipfile raises
        raise TemplateError(f"not a DOCX file: {type(exc).__name__}: {exc}") from None


def check_parts(name: str, parts: Mapping[str, bytes]) -> None:
    """Refuse a template package with a part that declares a DTD (Word never writes one)."""
    for part, data in parts.items():
        if part.endswith((".xml", ".rels")) and _DTD.search(data):
            raise TemplateError(f"template {name}: part {part} declares a DTD or entities, "
                                "which a DOCX template may not (they can read files)",
                                hint="save the document again from Word or LibreOffice")


def write_package(parts: Mapping[str, bytes]) -> bytes:
    """A DOCX package of ``parts``, byte for byte the same for the same parts.

    Entries are ordered (``[Content_Types].xml`` first, as Office writes it, then by name)
    and carry a fixed timestamp and no host-specific attributes; python-docx would stamp the
    current time on every entry, so a rebuilt template or a re-rendered sheet would differ
    from the last one for no reason.
    """
    out = io.BytesIO()
    names = sorted(parts, key=lambda name: (name != CONTENT_TYPES, name))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as package:
        for name in names:
            info = zipfile.ZipInfo(name, PACKAGE_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0
            package.writestr(info, parts[name])
    return out.getvalue()


def docx_template_name(template: str) -> str:
    """The DOCX template beside an HTML one: ``public/sheet.html`` → ``public/sheet.docx``."""
    return str(PurePosixPath(template).with_suffix(".docx"))


# --- compiling a template --------------------------------------------------------------------

#: A field paragraph: one context path, optionally followed by its options in a comment,
#: ``{{ website.domains }}{# min-size=7 overflow=remarks overflow-caption=网站域名（续）： #}``.
_FIELD = re.compile(r"\s*\{\{\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\s*\}\}\s*(?:\{#(.*?)#\})?\s*",
                    re.DOTALL)
#: A region: blank space a long value may continue in, ``{# region=remarks #}``.
_REGION = re.compile(r"\s*\{#\s*region=(\w+)\s*#\}\s*")
_EXPRESSION = re.compile(r"\{\{-?(.*?)-?\}\}", re.DOTALL)
_FIELD_OPTIONS = ("min-size", "overflow", "overflow-caption", "fallback", "kind")
_FIELD_KINDS = ("text", "qr")

# Schema order of the children of w:pPr and w:rPr (ECMA-376 CT_PPrBase, CT_RPr): Word refuses
# a document whose property elements are out of order, so new ones are inserted in place.
_PPR_ORDER = ("pStyle", "keepNext", "keepLines", "pageBreakBefore", "framePr", "widowControl",
              "numPr", "suppressLineNumbers", "pBdr", "shd", "tabs", "suppressAutoHyphens",
              "kinsoku", "wordWrap", "overflowPunct", "topLinePunct", "autoSpaceDE",
              "autoSpaceDN", "bidi", "adjustRightInd", "snapToGrid", "spacing", "ind",
              "contextualSpacing", "mirrorIndents", "suppressOverlap", "jc", "textDirection",
              "textAlignment", "textboxTightWrap", "outlineLvl", "divId", "cnfStyle", "rPr",
              "sectPr", "pPrChange")
_RPR_ORDER = ("rStyle", "rFonts", "b", "bCs", "i", "iCs", "caps", "smallCaps", "strike",
              "dstrike", "outline", "shadow", "emboss", "imprint", "noProof", "snapToGrid",
              "vanish", "webHidden", "color", "spacing", "w", "kern", "position", "sz", "szCs",
              "highlight", "u", "effect", "bdr", "shd", "fitText", "vertAlign", "rtl", "cs",
              "em", "lang", "eastAsianLayout", "specVanish", "oMath")
#: Paragraph properties every field gets, whatever the document's defaults: no snapping to a
#: document grid, no East Asian line-breaking rules or automatic spacing between Chinese and
#: Latin text. Each would change line widths or heights behind the fitting's back.
_FIELD_PPR = (("kinsoku", "0"), ("autoSpaceDE", "0"), ("autoSpaceDN", "0"), ("snapToGrid", "0"))


@dataclass(frozen=True)
class DocxField:
    """One value's cell in a compiled template: ``_fit.<ident>`` prints it.

    ``box`` is the cell less the safety margins (:data:`WIDTH_SAFETY`, :data:`HEIGHT_SAFETY`);
    ``full`` the whole cell, which a value the sheet's field map accepted may use.
    """

    ident: str
    box: FieldBox
    full: Box


@dataclass(frozen=True)
class RunStyle:
    """A field's run properties as WordprocessingML, with ``placeholder`` where the fitted
    size goes: what a run split off the field's text (for the supplement font) carries."""

    body: str
    supplement: str
    placeholder: str

    def runs(self, text: str, size: int) -> Markup:
        """``text`` escaped, characters above U+FFFF in runs of the supplement font."""
        parts = []
        for role, part in fonts.split_by_font(text):
            escaped = _escape(part)
            if role == "supplement":
                parts.append(f'</w:t></w:r><w:r>{self._at(self.supplement, size)}'
                             f'<w:t xml:space="preserve">{escaped}</w:t></w:r>'
                             f'<w:r>{self._at(self.body, size)}<w:t xml:space="preserve">')
            else:
                parts.append(escaped)
        return Markup("".join(parts))  # every piece of data escaped above

    def _at(self, properties: str, size: int) -> str:
        return properties.replace(self.placeholder, str(size))


@dataclass(frozen=True)
class LooseValue:
    """A ``{{ … }}`` outside a field cell, and the context names it uses."""

    expression: str
    names: frozenset[str]
    reason: str


@dataclass(frozen=True)
class CompiledDocx:
    """A DOCX template ready to render: the rewritten package and its fields and regions."""

    name: str
    data: bytes
    fields: tuple[DocxField, ...]
    regions: Mapping[str, Region]  # by ident (``r_remarks``)
    loose: tuple[LooseValue, ...]
    references: frozenset[tuple[str, ...]]  # every context path the Jinja source uses
    styles: Mapping[str, RunStyle]  # by field or region ident


_compiled: dict[tuple[str, str], CompiledDocx] = {}
_compiled_lock = threading.Lock()


def compile_docx(templates: TemplateSet, name: str) -> CompiledDocx:
    """The compiled DOCX template ``name`` of ``templates`` (cached per content)."""
    path = templates.root / name
    try:
        data = templates.read_bytes(name)
    except TemplateError as exc:
        if "not found" not in exc.message:
            raise  # a link out of the set, not a regular file, too large
        raise TemplateError(f"DOCX template not found: {name} (in {templates.root})",
                            hint="each HTML template needs a DOCX template beside it for "
                                 "--format docx; see templates/README.md") from None
    key = (str(path), hashlib.sha256(data).hexdigest())
    with _compiled_lock:
        cached = _compiled.get(key)
    if cached is None:
        cached = _compile(name, data, templates.env)
        with _compiled_lock:
            _compiled[key] = cached
    return cached


def _compile(name: str, data: bytes, env: Any) -> CompiledDocx:
    try:
        return _compile_parts(name, data, env)
    except _BadMeasure as bad:
        raise TemplateError(
            f"template {name} ({bad.part} line {bad.line}): {bad.what} "
            f"{bad.value!r} is not {bad.expected}",
            hint="save the document again from Word or LibreOffice; see templates/README.md"
        ) from None


def _compile_parts(name: str, data: bytes, env: Any) -> CompiledDocx:
    from lxml import etree

    parts = read_package(data)
    check_parts(name, parts)
    # No entities, no network, no huge trees: the parts are untrusted input.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False)
    try:
        document = etree.fromstring(parts["word/document.xml"], parser)
        styles_root = (etree.fromstring(parts["word/styles.xml"], parser)
                       if "word/styles.xml" in parts else None)
    except (KeyError, etree.XMLSyntaxError) as exc:
        raise TemplateError(f"template {name} is not a readable DOCX document: {exc}") from None
    _check_tables(document)
    styles = _Styles(styles_root)
    fields: list[DocxField] = []
    regions: dict[str, Region] = {}
    region_order: dict[str, int] = {}
    region_cells: dict[str, tuple[float, float, float]] = {}  # whole cells, pt
    loose: list[LooseValue] = []
    run_styles: dict[str, RunStyle] = {}
    order: dict[str, int] = {}
    for number, paragraph in enumerate(list(document.iter(W + "p"))):
        text = "".join(t.text or "" for t in paragraph.iter(W + "t"))
        if "{" not in text:
            continue
        found = _FIELD.fullmatch(text)
        if found and found.group(1).split(".")[0] not in STATIC_KEYS:
            path = found.group(1)
            where = _cell_geometry(paragraph, styles)
            if isinstance(where, str):  # not in a cell of its own with a fixed height
                loose.append(LooseValue(path, frozenset({path.split(".")[0]}), where))
                continue
            options = _field_options(found.group(2) or "", name, path)
            ident = f"f{len(fields)}"
            width, height, size = where
            fields.append(DocxField(ident, FieldBox(
                path=path, box=_safe_box(width, height), font_size=size,
                kind=options.get("kind", "text"),
                min_size=min_size(path, float(options["min-size"])
                                  if "min-size" in options else None),
                overflow=options.get("overflow"),
                overflow_caption=options.get("overflow-caption", ""),
                fallback=options.get("fallback")), Box(0, 0.0, 0.0, width, height)))
            order[ident] = number
            run_styles[ident] = _make_slot(paragraph, ident, picture=options.get("kind") == "qr")
            continue
        region = _REGION.fullmatch(text)
        if region:
            where = _cell_geometry(paragraph, styles)
            if isinstance(where, str):
                raise TemplateError(f"template {name}: region {region.group(1)!r} {where}")
            ident = f"r_{region.group(1)}"
            # drawn in alternative rows: the smallest cell counts
            width, height, size = (min(pair) for pair in zip(
                where, region_cells.get(ident, where), strict=True))
            region_cells[ident] = (width, height, size)
            regions[ident] = Region(region.group(1), _safe_box(width, height), size)
            region_order.setdefault(ident, number)
            run_styles[ident] = _make_slot(paragraph, ident)
            continue
        for expression in _EXPRESSION.findall(text):
            loose.append(LooseValue(expression.strip(), _names(env, expression),
                                    "is printed outside a cell of its own"))
    for item in fields:
        overflow = item.box.overflow
        if overflow is None:
            continue
        ident = f"r_{overflow}"
        if ident not in regions:
            raise TemplateError(f"template {name}: field {item.box.path} continues in region "
                                f"{overflow!r}, which the template does not define")
        if region_order[ident] < order[item.ident]:
            raise TemplateError(f"template {name}: region {overflow!r} comes before field "
                                f"{item.box.path}, which continues in it; put it after")
    parts["word/document.xml"] = etree.tostring(document, xml_declaration=True,
                                                encoding="UTF-8", standalone=True)
    data = write_package(parts)
    references = _references(name, data, env) | {
        tuple(path.split(".")) for item in fields
        for path in (item.box.path, item.box.fallback) if path}
    return CompiledDocx(name, data, tuple(fields), regions, tuple(loose), references,
                        run_styles)


#: Names a template may use that are not context keys: Jinja's globals and docxtpl's loop.
_JINJA_NAMES = frozenset({"loop", "range", "dict", "lipsum", "cycler", "joiner", "namespace",
                          FIT_KEY})


def _references(name: str, data: bytes, env: Any) -> frozenset[tuple[str, ...]]:
    """Every dotted context path (``flags.landline``) the template's Jinja source uses.

    Jinja, and so docxtpl, only notices an unknown variable in a branch it takes; checking
    these paths against the context instead catches a misspelt flag in any branch.
    """
    import jinja2
    from docxtpl import DocxTemplate
    from jinja2 import nodes

    template = DocxTemplate(io.BytesIO(data))
    try:
        source = template.patch_xml(template.get_docx().element.body.xml)
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error in {name}: {exc.message}") from None
    bound = {target.name for node in tree.find_all((nodes.For, nodes.Assign))
             for target in (node.target, *node.target.find_all(nodes.Name))
             if isinstance(target, nodes.Name)}
    found: set[tuple[str, ...]] = set()

    def walk(node: Any) -> None:
        chain: list[str] = []
        while isinstance(node, nodes.Getattr):
            chain.append(node.attr)
            node = node.node
        if isinstance(node, nodes.Name):
            if node.ctx == "load" and node.name not in bound | _JINJA_NAMES:
                found.add((node.name, *reversed(chain)))
            return
        for child in node.iter_child_nodes():
            walk(child)

    walk(tree)
    return frozenset(found)


def check_references(compiled: CompiledDocx, context: Mapping[str, Any]) -> None:
    """Raise TemplateError naming the first path of ``compiled`` that ``context`` lacks."""
    for path in sorted(compiled.references):
        node: Any = context
        for depth, key in enumerate(path):
            if not isinstance(node, Mapping):
                break  # a value's own attributes (a string's, a list's) are Jinja's business
            if key not in node:
                raise TemplateError(
                    f"template {compiled.name} uses an unknown variable: "
                    f"{'.'.join(path[:depth + 1])}",
                    hint="see templates/README.md for the variables a template receives")
            node = node[key]


def _names(env: Any, expression: str) -> frozenset[str]:
    """The context names an expression uses (docxtpl's ``{{r x }}`` prefix removed)."""
    from jinja2 import TemplateSyntaxError, meta

    source = re.sub(r"^\s*[prc]\s", "", expression)
    try:
        return frozenset(meta.find_undeclared_variables(env.parse("{{ " + source + " }}")))
    except TemplateSyntaxError:
        return frozenset()  # docxtpl reports it, with its line, when rendering


def _field_options(comment: str, name: str, path: str) -> dict[str, str]:
    options: dict[str, str] = {}
    try:
        words = shlex.split(comment)
    except ValueError as exc:
        raise TemplateError(f"template {name}: options of field {path}: {exc}") from None
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or key not in _FIELD_OPTIONS:
            raise TemplateError(f"template {name}: field {path} has an unknown option "
                                f"{word!r}; known: {', '.join(_FIELD_OPTIONS)}")
        options[key] = value
    if options.get("kind", "text") not in _FIELD_KINDS:
        raise TemplateError(f"template {name}: kind={options['kind']!r} of field {path} is "
                            f"not one of {', '.join(_FIELD_KINDS)}")
    if "min-size" in options:
        check_min_size(options["min-size"], f"template {name}", path, "min-size")
    return options


class _Styles:
    """What a template's styles say about font sizes and cell margins."""

    def __init__(self, root: Any | None) -> None:
        self._by_id: dict[str, Any] = {}
        self.default_size: float | None = None
        self.default_paragraph: str | None = None
        self.table_margins: dict[str, int] = dict(DEFAULT_CELL_MARGINS)
        if root is None:
            return
        for style in root.iter(W + "style"):
            self._by_id[style.get(W + "styleId", "")] = style
            if style.get(W + "default") not in ("1", "true"):
                continue
            if style.get(W + "type") == "table":
                self.table_margins.update(_margins(style.find(f"{W}tblPr/{W}tblCellMar")))
            elif style.get(W + "type") == "paragraph":
                self.default_paragraph = style.get(W + "styleId")
        size = root.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr/{W}sz")
        if size is not None:
            self.default_size = _measure(size, "val", "a font size (w:sz)", minimum=1,
                                     per_twip=HALF_POINTS_PER_TWIP) / 2

    def size(self, style_id: str | None) -> float | None:
        """The font size a style (or the styles it is based on) sets, if any."""
        seen: set[str] = set()
        while style_id and style_id not in seen:
            seen.add(style_id)
            style = self._by_id.get(style_id)
            if style is None:
                return None
            size = style.find(f"{W}rPr/{W}sz")
            if size is not None:
                return _measure(size, "val", "a font size (w:sz)", minimum=1,
                                     per_twip=HALF_POINTS_PER_TWIP) / 2
            based = style.find(W + "basedOn")
            style_id = based.get(W + "val") if based is not None else None
        return None


def _margins(element: Any | None) -> dict[str, int]:
    """Cell margins (twips) given by a w:tcMar or w:tblCellMar element."""
    found: dict[str, int] = {}
    if element is None:
        return found
    for side, names in (("top", ("top",)), ("bottom", ("bottom",)),
                        ("left", ("left", "start")), ("right", ("right", "end"))):
        for tag in names:
            margin = element.find(W + tag)
            if margin is not None and margin.get(W + "type", "dxa") == "dxa":
                found[side] = _measure(margin, "w", "a cell margin", default=0)
                break
    return found


def _cell_geometry(paragraph: Any, styles: _Styles) -> tuple[float, float, float] | str:
    """(width, height, font size) in points of a field paragraph's box, or why it has none."""
    cell = paragraph.getparent()
    if cell is None or cell.tag != W + "tc":
        return "is not in a table cell"
    if len(cell.findall(W + "p")) != 1 or cell.find(W + "tbl") is not None:
        return "shares its table cell with other content"
    row = cell.getparent()
    table = row.getparent() if row is not None else None
    if row is None or row.tag != W + "tr" or table is None or table.tag != W + "tbl":
        return "is not in a plain table row"
    grid = [_measure(col, "w", "a grid column width (w:gridCol)", default=0)
            for col in table.iterfind(f"{W}tblGrid/{W}gridCol")]
    start, span = _grid_position(row, cell)  # within the grid (_check_tables)
    width = sum(grid[start:start + span])
    height = _row_height(row)
    if height is None:
        return "is in a row without an exact height (行高 固定值)"
    merge = cell.find(f"{W}tcPr/{W}vMerge")
    if merge is not None and merge.get(W + "val") == "restart":
        below = row.getnext()
        while below is not None and below.tag == W + "tr":
            cells = {_grid_position(below, c)[0]: c for c in below.iterfind(W + "tc")}
            continued = cells.get(start)
            more = continued.find(f"{W}tcPr/{W}vMerge") if continued is not None else None
            extra = _row_height(below)
            if more is None or more.get(W + "val") not in (None, "continue") or extra is None:
                break
            height += extra
            below = below.getnext()
    margins = dict(styles.table_margins)
    margins.update(_margins(table.find(f"{W}tblPr/{W}tblCellMar")))
    margins.update(_margins(cell.find(f"{W}tcPr/{W}tcMar")))
    width_pt = (width - margins["left"] - margins["right"]) / 20
    height_pt = (height - margins["top"] - margins["bottom"]) / 20
    if width_pt * (1 - WIDTH_SAFETY) <= 0 or height_pt - HEIGHT_SAFETY <= 0:
        return (f"is in a cell with no room inside its margins ({width_pt:g} × {height_pt:g} "
                "pt)")
    return width_pt, height_pt, _font_size(paragraph, styles)


def _safe_box(width: float, height: float) -> Box:
    """The part of a cell (``width`` × ``height`` pt) that values are fitted into."""
    return Box(0, 0.0, 0.0, width * (1 - WIDTH_SAFETY), height - HEIGHT_SAFETY)


HALF_POINTS_PER_TWIP = 0.1
#: Bounds of what a measure may say: twips of a page 22 inches across (Word's limit is 22"),
#: and columns of a table (Word's limit is 63).
MAX_TWIPS = 22 * 1440
MAX_COLUMNS = 63
_UNIVERSAL = re.compile(r"([0-9]{1,6}(?:\.[0-9]{1,6})?)(mm|cm|in|pt|pc|pi)")
_TWIPS_PER = {"mm": 1440 / 25.4, "cm": 1440 / 2.54, "in": 1440, "pt": 20, "pc": 240, "pi": 240}


class _BadMeasure(Exception):
    """A malformed measure in a template's XML (turned into a TemplateError by _compile)."""

    def __init__(self, element: Any, attribute: str, value: str, expected: str) -> None:
        super().__init__(value)
        self.part = "word/styles.xml" if element.getroottree().getroot().tag == W + "styles" \
            else "word/document.xml"
        self.line = element.sourceline
        self.what = f"{element.tag[len(W):] if element.tag.startswith(W) else element.tag}" \
                    f"/@w:{attribute}"
        self.value = value[:40]
        self.expected = expected


def _measure(element: Any, attribute: str, what: str, *, default: int | None = None,
             minimum: int = 0, maximum: int = MAX_TWIPS, per_twip: float | None = 1.0) -> int:
    """An integer measure attribute of ``element`` (twips, half-points, a count), checked.

    A whole number in ``minimum`` … ``maximum``; unless ``per_twip`` is None (a count), also a
    universal measure (``2.5cm``, ``12pt``), which ECMA-376 allows, converted to the unit that
    is ``per_twip`` of a twip. Anything else (``abc``, ``-3``, ``1e9``, five thousand digits)
    is a :class:`_BadMeasure`.
    """
    raw = element.get(W + attribute)
    if raw is None:
        if default is None:
            raise _BadMeasure(element, attribute, "(missing)", f"{what}: a number")
        return default
    text = raw.strip()
    value: float | None = None
    if text.isascii() and text.isdigit() and len(text) <= 7:
        value = int(text)
    elif per_twip is not None:
        universal = _UNIVERSAL.fullmatch(text)
        if universal:
            value = float(universal.group(1)) * _TWIPS_PER[universal.group(2)] * per_twip
    if value is None or not minimum <= value <= maximum:
        raise _BadMeasure(element, attribute, raw,
                          f"{what}: a whole number from {minimum} to {maximum}")
    return round(value)


def _check_tables(document: Any) -> None:
    """Every table has a grid of well-formed columns, every span and row height is a number.

    Checked for the whole document (docxtpl reads the grid of every table too), before any
    field's geometry is measured.
    """
    for table in document.iter(W + "tbl"):
        columns = table.findall(f"{W}tblGrid/{W}gridCol")
        if not columns:
            raise _BadMeasure(table, "tblGrid", "(none)", "a table grid (w:tblGrid/w:gridCol)")
        for column in columns:
            _measure(column, "w", "a grid column width (w:gridCol)", default=0)
        for row in table.iterfind(W + "tr"):
            for cell in row.iterfind(W + "tc"):
                start, span = _grid_position(row, cell)
                if start + span > len(columns):
                    raise _BadMeasure(cell, "gridSpan", f"column {start + 1} + {span}",
                                      "a span within the table's grid "
                                      f"({len(columns)} columns in w:tblGrid)")
            height = row.find(f"{W}trPr/{W}trHeight")
            if height is not None:
                _measure(height, "val", "a row height (w:trHeight)", default=0)


def _grid_position(row: Any, cell: Any) -> tuple[int, int]:
    """(first grid column, columns spanned) of ``cell`` in ``row``."""
    before = row.find(f"{W}trPr/{W}gridBefore")
    column = (_measure(before, "val", "w:gridBefore", maximum=MAX_COLUMNS,
                       per_twip=None)
              if before is not None else 0)
    for each in row.iterfind(W + "tc"):
        span_element = each.find(f"{W}tcPr/{W}gridSpan")
        span = (_measure(span_element, "val", "w:gridSpan", minimum=1,
                             maximum=MAX_COLUMNS, per_twip=None)
                if span_element is not None else 1)
        if each is cell:
            return column, span
        column += span
    raise ValueError("cell not in row")


def _row_height(row: Any) -> int | None:
    """The exact height of ``row`` in twips, or None if it may grow."""
    height = row.find(f"{W}trPr/{W}trHeight")
    if height is None or height.get(W + "hRule") != "exact":
        return None
    return _measure(height, "val", "a row height (w:trHeight)", default=0)


def _font_size(paragraph: Any, styles: _Styles) -> float:
    """The font size of a field's text: its run, else the run's, the paragraph's and the
    document's default styles, else Word's default."""
    run = _text_run(paragraph)
    if run is not None:
        size = run.find(f"{W}rPr/{W}sz")
        if size is not None:
            return _measure(size, "val", "a font size (w:sz)", minimum=1,
                                     per_twip=HALF_POINTS_PER_TWIP) / 2
        run_style = run.find(f"{W}rPr/{W}rStyle")
        found = styles.size(run_style.get(W + "val")) if run_style is not None else None
        if found is not None:
            return found
    paragraph_style = paragraph.find(f"{W}pPr/{W}pStyle")
    found = styles.size(paragraph_style.get(W + "val") if paragraph_style is not None
                        else styles.default_paragraph)
    return found or styles.default_size or DEFAULT_FONT_SIZE


def _text_run(paragraph: Any) -> Any | None:
    """The first run of ``paragraph`` with visible text (the one a field's look comes from)."""
    return next((r for r in paragraph.iter(W + "r") if "".join(r.itertext()).strip()), None)


def _make_slot(paragraph: Any, ident: str, *, picture: bool = False) -> RunStyle:
    """Rewrite a field or region paragraph to print ``_fit.<ident>``: one run whose text,
    size and line height the fitting decides, keeping the paragraph's alignment and the run's
    other properties (font, colour).

    A ``picture`` (a QR code) gets single line spacing instead of an exact line height: an
    exact line clips a picture taller than the line, in Word as in LibreOffice. Its row's
    exact height still bounds it, and the picture is sized to fit the cell."""
    from lxml import etree

    run = _text_run(paragraph)
    run_properties = run.find(W + "rPr") if run is not None else None
    properties = paragraph.find(W + "pPr")
    for child in list(paragraph):
        if child is not properties:
            paragraph.remove(child)
    if properties is None:
        properties = etree.SubElement(paragraph, W + "pPr")
    for child in properties.findall(W + "ind") + properties.findall(W + "spacing"):
        properties.remove(child)  # the fitting owns the box: no indents, exact lines
    spacing = etree.Element(W + "spacing")
    line = ("240", "auto") if picture else (f"{{{{ {FIT_KEY}.{ident}.line }}}}", "exact")
    for attribute, value in (("before", "0"), ("after", "0"), ("line", line[0]),
                             ("lineRule", line[1])):
        spacing.set(W + attribute, value)
    _insert(properties, spacing, _PPR_ORDER)
    for tag, value in _FIELD_PPR:
        _replace_val(properties, tag, value, _PPR_ORDER)
    new_run = etree.SubElement(paragraph, W + "r")
    run_properties = (etree.fromstring(etree.tostring(run_properties))
                      if run_properties is not None else etree.Element(W + "rPr"))
    new_run.append(run_properties)
    placeholder = f"{{{{ {FIT_KEY}.{ident}.sz }}}}"
    for tag in ("sz", "szCs"):
        _replace_val(run_properties, tag, placeholder, _RPR_ORDER)
    text = etree.SubElement(new_run, W + "t")
    text.set(XML_SPACE, "preserve")
    text.text = f"{{{{ {FIT_KEY}.{ident}.text }}}}"
    supplement = etree.fromstring(etree.tostring(run_properties))
    for old in supplement.findall(W + "rFonts"):
        supplement.remove(old)
    family = etree.Element(W + "rFonts")
    for attribute in ("ascii", "hAnsi", "eastAsia", "cs"):
        family.set(W + attribute, SUPPLEMENT_FAMILY)
    _insert(supplement, family, _RPR_ORDER)
    return RunStyle(_fragment(run_properties), _fragment(supplement), placeholder)


def _fragment(element: Any) -> str:
    """``element`` as XML to splice into the document, without namespace declarations (the
    document root declares ``w:``)."""
    from lxml import etree

    return re.sub(r' xmlns:\w+="[^"]*"', "", etree.tostring(element, encoding="unicode"))


def _replace_val(parent: Any, tag: str, value: str, order: tuple[str, ...]) -> None:
    """Set ``<w:tag w:val=value/>`` in ``parent``, replacing any it had, in schema order."""
    from lxml import etree

    for old in parent.findall(W + tag):
        parent.remove(old)
    element = etree.Element(W + tag)
    element.set(W + "val", value)
    _insert(parent, element, order)


def _insert(parent: Any, child: Any, order: tuple[str, ...]) -> None:
    """Insert ``child`` into ``parent`` at its place in the schema ``order``."""
    rank = order.index(child.tag[len(W):])
    for index, sibling in enumerate(parent):
        tag = sibling.tag[len(W):] if isinstance(sibling.tag, str) else ""
        if tag in order and order.index(tag) > rank:
            parent.insert(index, child)
            return
    parent.append(child)


# --- fitting values while rendering ----------------------------------------------------------

@dataclass(frozen=True)
class Slot:
    """What ``_fit.<ident>`` gives a compiled template: text, size (half-points) and line
    height (twips)."""

    text: Markup
    sz: int
    line: int


def _slot(lines: Iterable[str], size: float, style: RunStyle) -> Slot:
    half_points = round(size * 2)
    return Slot(style.runs("\n".join(lines), half_points), half_points,
                round(size * LEADING * 20))


def _escape(text: str) -> str:
    """``text`` escaped for a w:t element.

    Beyond the XML escape, braces become character references: docxtpl replaces ``{_{``,
    ``}_}``, ``{_%`` and ``%_}`` in its rendered XML (its own escape for literal Jinja
    delimiters), which would otherwise alter data that happens to contain them. Line feeds
    stay: docxtpl turns them into line breaks (w:br).
    """
    return str(escape(text)).replace("{", "&#123;").replace("}", "&#125;")


class _Fitter:
    """Fits each value the first time the template prints it (see the module docstring)."""

    def __init__(self, compiled: CompiledDocx, values: Mapping[str, str],
                 paths: Mapping[str, str], *, verified: bool = False) -> None:
        self._measure: Callable[[str, float], float] = fonts.measure
        self._fields = {item.ident: item.box for item in compiled.fields}
        # Values the sheet's field map accepted may use a cell's safety margins rather than
        # be refused (see render_docx): the Word file never refuses what the PDF prints.
        self._full = ({item.ident: dataclasses.replace(item.box, box=item.full)
                       for item in compiled.fields} if verified else {})
        self._regions = compiled.regions
        self._styles = compiled.styles
        self._values = values
        self._paths = paths
        self._slots: dict[str, Slot] = {}
        self._continued: dict[str, list[tuple[float, list[str]]]] = {}
        self._used: dict[str, float] = {}
        self.fits: list[FieldFit] = []
        self.problems: list[Problem] = []
        self.pictures: dict[str, bytes] = {}  # relationship id -> PNG, for add_pictures

    def __getitem__(self, ident: str) -> Slot:
        slot = self._slots.get(ident)
        if slot is None:
            if ident in self._regions:
                slot = self._region(self._regions[ident], self._styles[ident])
            else:  # KeyError: Jinja's undefined
                slot = self._field(ident, self._styles[ident])
            self._slots[ident] = slot
        return slot

    def _field(self, ident: str, style: RunStyle) -> Slot:
        box = self._fields[ident]
        value = self._values.get(box.path, "")
        json_path = self._paths.get(box.path, box.path)
        if not value:
            self.fits.append(FieldFit(json_path, box.path, "empty", box.font_size, 0))
            return _slot((), box.font_size, style)
        if box.kind == "qr":
            self.fits.append(FieldFit(json_path, box.path, "fitted", box.font_size, 1))
            return self._qr(value, box)
        region = self._regions.get(f"r_{box.overflow}") if box.overflow else None
        used = self._used.get(box.overflow or "", 0.0)
        fitted = fit_value(box, self._values, region, used, self._measure)
        if fitted is None and ident in self._full:
            box = self._full[ident]
            fitted = fit_value(box, self._values, region, used, self._measure)
        if fitted is None:
            self.problems.append(does_not_fit(json_path, box, box="cell"))
            return _slot((), box.font_size, style)
        if fitted.rest and box.overflow:
            self._continued.setdefault(box.overflow, []).append((fitted.size, fitted.rest))
            self._used[box.overflow] = self._used.get(box.overflow, 0.0) + fitted.rest_height
        self.fits.append(fit_report(json_path, box, fitted))
        return _slot(fitted.lines, fitted.size, style)

    def _qr(self, value: str, box: FieldBox) -> Slot:
        """A QR code of ``value`` filling the square the cell allows, as an inline picture
        whose image part is added to the package after rendering (:func:`add_pictures`)."""
        value = _word_code(value)
        ident = f"rIdSheetgenQr{len(self.pictures) + 1}"
        side = min(box.box.width, box.box.height)
        self.pictures[ident] = qr_png(value, side)
        drawing = _inline_picture(ident, side, len(self.pictures),
                                  f"QR code of the sheet's reference {value}")
        # The field's run holds a w:t; the picture goes between two (empty) texts of it.
        return Slot(Markup(f'</w:t>{drawing}<w:t xml:space="preserve">'), 2, 240)

    def _region(self, region: Region, style: RunStyle) -> Slot:
        continued = self._continued.get(region.name, [])
        if not continued:
            return _slot((), region.font_size, style)
        # One paragraph, one size: the smallest of the values continued here, which the
        # fitting of each of them allowed for.
        return _slot([line for _, lines in continued for line in lines],
                     min(size for size, _ in continued), style)

    def finish(self) -> None:
        """Raise DoesNotFitError listing every value that did not fit."""
        if self.problems:
            raise refuse(self.problems)


def _word_code(value: str) -> str:
    """A QR code's value as a Word file prints it. A sheet code (``sheet.code``, the PDF's)
    names the compiled layout of the PDF page, which its stamp fills in
    (:data:`~sheetgen.documents.sheetcode.LAYOUT_SLOT`); a Word file has no such layout, so
    it carries the reference alone (a version 0 code, which ``receive`` reads)."""
    from sheetgen.documents.sheetcode import LAYOUT_DIGITS, LAYOUT_SLOT, parse

    if LAYOUT_SLOT not in value:
        return value
    code = parse(value.replace(LAYOUT_SLOT, "0" * LAYOUT_DIGITS))
    return code.reference if code is not None else value


class _Slots:
    """What a template sees as ``_fit``: the fitted slots by ident, and nothing else.

    The fitter itself holds the record's values and paths; the template gets only this
    lookup (the sandbox refuses ``_``-prefixed attributes such as ``_fitter``).
    """

    __slots__ = ("_fitter",)

    def __init__(self, fitter: _Fitter) -> None:
        self._fitter = fitter

    def __getitem__(self, ident: str) -> Slot:
        return self._fitter[ident]

# --- pictures: the QR code ------------------------------------------------------------------

#: Resolution of the QR code's image: its modules stay sharp when printed or zoomed.
QR_DPI = 600
EMU_PER_POINT = 12700
_WP_NS = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
_A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
_PIC_NS = "http://schemas.openxmlformats.org/drawingml/2006/picture"
_R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CONTENT_TYPES_NS = "http://schemas.openxmlformats.org/package/2006/content-types"


def qr_png(value: str, side: float) -> bytes:
    """A QR code of ``value`` as a 1-bit PNG for a square of ``side`` points: the PDF's code
    (segno, level M, no quiet zone: the cell's margins are the white around it)."""
    import segno

    code = segno.make_qr(value, error="m")
    modules = code.symbol_size(border=0)[0]
    scale = max(4, -(-round(side / 72 * QR_DPI) // modules))  # whole pixels per module
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=0)
    return out.getvalue()


def _inline_picture(ident: str, side: float, number: int, description: str) -> str:
    """WordprocessingML of an inline square picture ``side`` points wide (``r:embed`` =
    ``ident``); its ``wp:docPr`` id is made unique by :func:`add_pictures`."""
    emu = round(side * EMU_PER_POINT)
    text = str(escape(description))
    return (f'<w:drawing><wp:inline xmlns:wp="{_WP_NS}" distT="0" distB="0" distL="0" '
            f'distR="0"><wp:extent cx="{emu}" cy="{emu}"/>'
            f'<wp:docPr id="{number}" name="QR {number}" descr="{text}"/>'
            f'<wp:cNvGraphicFramePr><a:graphicFrameLocks xmlns:a="{_A_NS}" '
            f'noChangeAspect="1"/></wp:cNvGraphicFramePr>'
            f'<a:graphic xmlns:a="{_A_NS}"><a:graphicData uri="{_PIC_NS}">'
            f'<pic:pic xmlns:pic="{_PIC_NS}"><pic:nvPicPr><pic:cNvPr id="0" '
            f'name="qr{number}.png"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill>'
            f'<a:blip xmlns:r="{_R_NS}" r:embed="{ident}"/><a:stretch><a:fillRect/>'
            f'</a:stretch></pic:blipFill><pic:spPr><a:xfrm><a:off x="0" y="0"/>'
            f'<a:ext cx="{emu}" cy="{emu}"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/>'
            f'</a:prstGeom></pic:spPr></pic:pic></a:graphicData></a:graphic></wp:inline>'
            f'</w:drawing>')


def add_pictures(parts: dict[str, bytes], pictures: Mapping[str, bytes]) -> None:
    """Add the PNG ``pictures`` (by relationship id) to the package: image parts, the
    document's relationships, the ``png`` content type."""
    if not pictures:
        return
    from lxml import etree

    rels_name = "word/_rels/document.xml.rels"
    rels = etree.fromstring(parts[rels_name])
    for number, (ident, data) in enumerate(pictures.items(), 1):
        target = f"media/sheetgen-qr{number}.png"
        parts[f"word/{target}"] = data
        etree.SubElement(rels, f"{{{_PACKAGE_RELS_NS}}}Relationship", Id=ident,
                         Type=f"{_R_NS}/image", Target=target)
    parts[rels_name] = etree.tostring(rels, xml_declaration=True, encoding="UTF-8",
                                      standalone=True)
    types = etree.fromstring(parts[CONTENT_TYPES])
    defaults = types.findall(f"{{{_CONTENT_TYPES_NS}}}Default")
    if not any(d.get("Extension", "").lower() == "png" for d in defaults):
        types.insert(types.index(defaults[-1]) + 1 if defaults else 0,
                     etree.Element(f"{{{_CONTENT_TYPES_NS}}}Default", Extension="png",
                                   ContentType="image/png"))
        parts[CONTENT_TYPES] = etree.tostring(types, xml_declaration=True, encoding="UTF-8",
                                              standalone=True)


# --- copies ----------------------------------------------------------------------------------

_W14_IDS = ("{http://schemas.microsoft.com/office/word/2010/wordml}paraId",
            "{http://schemas.microsoft.com/office/word/2010/wordml}textId")


def repeat_body(document_xml: bytes, copies: int) -> bytes:
    """The document with its body ``copies`` times, each copy its own section (page).

    Each copy but the last ends with a section break in the properties of its last
    paragraph, which adds no line (a page-break paragraph would, and a full sheet would
    spill onto a blank page). Picture ids (``wp:docPr``) are renumbered so that they stay
    unique; Word's own paragraph ids and bookmarks are left out of the copies.
    """
    from lxml import etree

    root = etree.fromstring(document_xml)
    body = root.find(W + "body")
    if copies > 1 and body is not None:
        section = body.find(W + "sectPr")
        content = [child for child in body if child is not section]
        if not content or content[-1].tag != W + "p":  # a section break needs a paragraph
            content.append(etree.SubElement(body, W + "p"))
            if section is not None:
                body.append(section)  # the body's own section properties stay last
        end = content[-1]
        properties = end.find(W + "pPr")
        if properties is None:
            properties = etree.Element(W + "pPr")
            end.insert(0, properties)
        if section is not None:
            _insert(properties, copy.deepcopy(section), _PPR_ORDER)
        else:
            _insert(properties, etree.Element(W + "sectPr"), _PPR_ORDER)
        at = body.index(content[0])
        for _ in range(copies - 1):
            for element in content:
                duplicate = copy.deepcopy(element)
                for each in duplicate.iter():
                    for attribute in _W14_IDS:
                        each.attrib.pop(attribute, None)
                # A bookmark's name and id must be unique in a document: copies have none.
                for mark in list(duplicate.iter(W + "bookmarkStart", W + "bookmarkEnd")):
                    mark.getparent().remove(mark)
                body.insert(at, duplicate)
                at += 1
        # The last copy's paragraph keeps no break: the body's sectPr ends the document.
        for child in end.find(W + "pPr").findall(W + "sectPr"):
            end.find(W + "pPr").remove(child)
    for number, picture in enumerate(root.iter(f"{{{_WP_NS}}}docPr"), 1):
        picture.set("id", str(number))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


# --- rendering -------------------------------------------------------------------------------

# docxtpl turns a template's XML into Jinja source with some sixty regular expressions and
# compiles that source on every render: about 130 ms of a 150 ms sheet. Both depend on the
# template only, so they are done once per template and reused (the cache keys are the XML
# and the source themselves, so a different template can never hit a stale entry).
_patched: dict[str, str] = {}
_sources: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


@functools.cache
def _docxtpl_class() -> Any:
    """docxtpl's DocxTemplate, remembering its XML-to-Jinja rewriting per template."""
    from docxtpl import DocxTemplate

    class CachedDocxTemplate(DocxTemplate):  # type: ignore[misc]
        body_xml: str | None = None  # the template's body, when loaded without it

        def get_xml(self) -> str:
            return self.body_xml if self.body_xml is not None else str(super().get_xml())

        def patch_xml(self, src_xml: str) -> str:
            patched = _patched.get(src_xml)
            if patched is None:
                patched = super().patch_xml(src_xml)
                with _cache_lock:
                    if len(_patched) > 64:  # templates are few; never grow without bound
                        _patched.clear()
                    _patched[src_xml] = patched
            return patched

    return CachedDocxTemplate


@dataclass(frozen=True)
class _Unbodied:
    """A compiled template's package with an empty body, and the body's XML as docxtpl reads
    it. docxtpl renders the body's XML and then swaps the loaded body for the result; lxml
    walks every element of the body it takes out, which for a sheet's template (every
    combination of its flags) cost more than the rest of the rendering. Loaded without its
    body, the package gives docxtpl nothing to walk."""

    data: bytes
    body: str


_unbodied: dict[int, tuple[CompiledDocx, _Unbodied]] = {}


def _without_body(compiled: CompiledDocx) -> _Unbodied:
    with _cache_lock:
        found = _unbodied.get(id(compiled))
    if found is not None and found[0] is compiled:
        return found[1]
    from docx import Document
    from lxml import etree

    body = Document(io.BytesIO(compiled.data))._element.body
    xml = etree.tostring(body, encoding="unicode", pretty_print=False)  # as docxtpl's get_xml
    parts = read_package(compiled.data)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(parts["word/document.xml"], parser)
    for child in root.iterfind(W + "body"):
        child.clear()
    parts["word/document.xml"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                                standalone=True)
    made = _Unbodied(write_package(parts), xml)
    with _cache_lock:
        if len(_unbodied) > 64:  # templates are few; never grow without bound
            _unbodied.clear()
        _unbodied[id(compiled)] = (compiled, made)
    return made


class _CachingEnvironment:
    """A template set's Jinja environment that compiles each distinct source once.

    docxtpl calls only ``from_string`` (for the document and its core properties); anything
    else is the wrapped environment's, so strictness and autoescape are unchanged.
    """

    def __init__(self, env: Any) -> None:
        self._env = env
        with _cache_lock:
            self._compiled = _sources.setdefault(env, {})

    def from_string(self, source: str) -> Any:
        template = self._compiled.get(source)
        if template is None:
            template = self._env.from_string(source)
            with _cache_lock:
                if len(self._compiled) > 256:
                    self._compiled.clear()
                self._compiled[source] = template
        return template

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)


@dataclass(frozen=True)
class DocxFile:
    """One rendered Word file: its name part (``cover``, ``sheetN``: the kind's suffix), its
    title, bytes and fit report."""

    name: str
    title: str
    template: str
    data: bytes
    fits: list[FieldFit] = field(default_factory=list)
    fonts: list[EmbeddedFont] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "template": self.template,
                "fit": [f.as_dict() for f in self.fits]}


def render_document(sheet: SheetContext, templates: TemplateSet | None = None, *, name: str,
                    title: str, one_page: bool = True, verified: bool = False,
                    copies: int = 1) -> DocxFile:
    """Render one page job's context with its DOCX template, ``copies`` times in the file.

    ``one_page`` (the check sheets) requires every value to be printed in a field cell, where
    it is fitted; the cover may also print values in running text, which flows.
    """
    import jinja2
    from jinja2.exceptions import SecurityError
    from lxml import etree

    templates = templates or bundled()
    template = docx_template_name(sheet.template)
    compiled = compile_docx(templates, template)
    values = sheet.values()
    check_references(compiled, sheet.context)
    if one_page:
        data_keys = set(sheet.context) - STATIC_KEYS
        for loose in compiled.loose:
            if loose.names & data_keys:
                raise TemplateError(
                    f"template {template}: {{{{ {loose.expression} }}}} {loose.reason}",
                    hint="print each value alone in a table cell whose row has an exact "
                         "height, so it can be fitted to one A4 page")
    if FIT_KEY in sheet.context:
        raise TemplateError(f"the context key {FIT_KEY} is reserved for fitted values")
    fitter = _Fitter(compiled, values, sheet.paths, verified=verified)
    unbodied = _without_body(compiled)
    document = _docxtpl_class()(io.BytesIO(unbodied.data))
    document.body_xml = unbodied.body
    try:
        document.render({**sheet.context, FIT_KEY: _Slots(fitter)},
                        _CachingEnvironment(templates.env))
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"template {template} uses an unknown variable: {exc.message}",
                            hint="see templates/README.md for the variables a template "
                                 "receives") from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error in {template}: {exc.message}") from None
    except SecurityError as exc:
        raise TemplateError(f"template {template} does what templates may not: {exc}",
                            hint="templates may print and test their context only; see "
                                 "templates/README.md") from None
    except (jinja2.TemplateError, etree.XMLSyntaxError) as exc:
        raise TemplateError(f"template {template} cannot be rendered: {exc}") from None
    except SheetgenError:
        raise
    except Exception as exc:  # the template's own code failed ({{ 1 / 0 }}), not sheetgen
        # Only the type: the message of an error met with the record's values may echo one.
        raise TemplateError(f"template {template} failed: {type(exc).__name__}",
                            hint="see templates/README.md") from exc
    fitter.finish()
    document.docx.core_properties.title = title
    out = io.BytesIO()
    document.save(out)
    parts = read_package(out.getvalue())
    add_pictures(parts, fitter.pictures)
    parts["word/document.xml"] = repeat_body(parts["word/document.xml"], copies)
    embedded = embed_fonts(parts)  # so the file prints the same where the fonts are missing
    return DocxFile(name, title, template, write_package(parts), fitter.fits, embedded)


def render_docx(plan: FilingPlan, options: RenderOptions | None = None, *,
                verified: bool = False) -> list[DocxFile]:
    """One applicant's Word files: the cover (unless ``options.cover`` is false), then one
    check sheet per website, in print order; a sheet's file holds it ``options.copies``
    times, one page each, as the PDF does. Nothing is written.

    ``verified``: every value was already fitted into the sheet's field map (the PDF layout,
    :func:`sheetgen.pipeline.produce` does this first), so a value this format's safety margins
    would refuse may use its whole cell instead: a value fits the Word file whenever it fits
    the PDF, and one the PDF refuses never gets here.
    """
    options = options or RenderOptions()
    files = []
    jobs = applicant_jobs(plan, options)
    check_fonts(*(job.sheet for job in jobs))
    for job in jobs:  # each named by its kind (the registry's suffix, numbered per website)
        files.append(render_document(job.sheet, options.templates, name=job.name,
                                     title=f"{document_title(plan)} {job.title}",
                                     one_page=job.max_pages == 1, verified=verified,
                                     copies=job.copies))
    return files

