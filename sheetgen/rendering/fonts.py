"""The bundled fonts: what they cover, and how the PDF stamp and WeasyPrint use them.

This module owns
- the coverage questions asked before rendering (:func:`coverage`, :func:`role_for`,
  :func:`missing_characters`, :func:`check_text`, :func:`split_by_font`): every character of the
  data must be in the body font or in the supplement (characters above U+FFFF), else the record
  is refused with a :class:`~sheetgen.errors.FontError` naming the field and the character;
- the faces as the PDF stamp uses them (:class:`Face`, :func:`face`, :func:`measure`,
  :func:`to_unicode_cmap`): glyph ids, advances (the widths every value is fitted with),
  subsets for one font program per face, read through HarfBuzz (``uharfbuzz``); the Word
  files are fitted with the same :func:`measure`;
- the ``@font-face`` rules for WeasyPrint (:func:`font_face_css`);
- the environment check behind ``sheetgen doctor`` (:func:`self_check`).

Files are located through :mod:`sheetgen.resources` only; where they come from and how they are
built is in ``fonts/README.md``. Importing this module imports neither WeasyPrint
nor fontTools nor HarfBuzz; the engines are imported when used. Coverage is read by HarfBuzz
(:func:`code_points`: a few milliseconds, where fontTools needs about 0.3 s for the body
font).
"""

from __future__ import annotations

import array
import io
import mmap
import struct
import sys
import threading
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from sheetgen.errors import FontError, Problem
from sheetgen.resources import FONT_FILES, REQUIRED_FONTS, font_path, fonts_dir

#: CSS family names that :func:`font_face_css` declares for each role.
CSS_FAMILIES: dict[str, str] = {
    "body": "Sheetgen Serif",
    "supplement": "Sheetgen Serif Supplement",
    "heading": "Sheetgen Sans",
}
_CSS_WEIGHTS = {"body": 400, "supplement": 400, "heading": 700}

#: ``font-family`` values for the HTML templates: the supplement follows as the fallback for
#: characters above U+FFFF.
BODY_FONT_STACK = '"Sheetgen Serif", "Sheetgen Serif Supplement"'
HEADING_FONT_STACK = '"Sheetgen Sans", "Sheetgen Serif Supplement"'

#: A character the supplement must map (a common rare-name character, 𠮷).
SUPPLEMENT_PROBE = 0x20BB7


# --- reading the fonts -----------------------------------------------------------------------

_TRUETYPE_VERSIONS = (b"\x00\x01\x00\x00", b"true")
_REQUIRED_TABLES = (b"cmap", b"glyf", b"head", b"hhea", b"hmtx", b"loca", b"maxp", b"name",
                    b"post")
_SFNT_CHECKSUM = 0xB1B0AFBA  # what a whole font file sums to, by head.checkSumAdjustment


def _table_directory(stream: BinaryIO, size: int) -> dict[bytes, tuple[int, int]]:
    """The sfnt table directory (tag -> offset, length) of a TrueType-outline font file.

    Raises ValueError for anything else (CFF fonts, collections, truncated files).
    """
    header = stream.read(12)
    if len(header) < 12 or header[:4] not in _TRUETYPE_VERSIONS:
        raise ValueError("not a TrueType-outline font")
    (count,) = struct.unpack_from(">H", header, 4)
    records = stream.read(16 * count)
    if len(records) < 16 * count:
        raise ValueError("table directory truncated")
    tables = {}
    for tag, _checksum, offset, length in struct.iter_unpack(">4sLLL", records):
        if offset + length > size:
            raise ValueError(f"table {tag.decode('latin-1')!r} runs past the end of the "
                             "file (truncated?)")
        tables[tag] = (offset, length)
    return tables


def code_points(font: bytes | Path) -> frozenset[int]:
    """The code points the ``cmap`` of ``font`` (a font file's bytes, or its path) maps to a
    glyph other than .notdef: HarfBuzz's ``hb_face_collect_unicodes``, which picks the best
    Unicode subtable as fontTools' ``getBestCmap`` does (format 12, else format 4).

    Raises ValueError when ``font`` is not a font HarfBuzz can read.
    """
    import uharfbuzz as hb

    if isinstance(font, Path) and not font.is_file():
        raise FileNotFoundError(f"no such file: {font}")
    blob = hb.Blob.from_file_path(str(font)) if isinstance(font, Path) else hb.Blob(font)
    face = hb.Face(blob)
    if face.glyph_count == 0:  # HarfBuzz reads what is no font as an empty face
        raise ValueError("not a font")
    return frozenset(face.unicodes)


def _check_font_file(path: Path) -> None:
    """Raise ValueError unless ``path`` is a whole, undamaged TrueType-outline font."""
    data = path.read_bytes()
    with path.open("rb") as stream:
        tables = _table_directory(stream, len(data))
    missing = [tag.decode() for tag in _REQUIRED_TABLES if tag not in tables]
    if missing:
        raise ValueError(f"tables missing: {', '.join(missing)}")
    words = array.array("I")  # the whole-file checksum catches damage anywhere in the file
    words.frombytes(data + b"\0" * (-len(data) % 4))
    if sys.byteorder == "little":
        words.byteswap()
    if sum(words) & 0xFFFFFFFF != _SFNT_CHECKSUM:
        raise ValueError("checksum mismatch (damaged file)")


# --- coverage --------------------------------------------------------------------------------

@cache
def coverage(role: str) -> frozenset[int]:
    """The code points the font of ``role`` (a key of ``FONT_FILES``) maps; cached per process.

    Raises FontError if the file is missing or unreadable.
    """
    if role not in FONT_FILES:
        raise ValueError(f"unknown font role {role!r}; expected one of {sorted(FONT_FILES)}")
    path = font_path(role)
    try:
        return code_points(path)
    except (OSError, ValueError) as exc:
        raise FontError(f"bundled font {path.name} is unreadable: {exc}",
                        hint="run `sheetgen doctor`; reinstall sheetgen") from exc


def role_for(codepoint: int) -> str | None:
    """``"body"`` if the body font maps ``codepoint``, else ``"supplement"`` if the supplement
    does, else None: the font a data character is drawn with."""
    if codepoint in coverage("body"):
        return "body"
    if codepoint in coverage("supplement"):
        return "supplement"
    return None


def missing_characters(text: str) -> list[str]:
    """The characters of ``text`` that no data font (body, supplement) maps, in order of first
    appearance, each once. Line feeds are ignored (they break lines, they are not drawn)."""
    seen: set[str] = set()
    missing = []
    for char in text:
        if char == "\n" or char in seen:
            continue
        seen.add(char)
        if role_for(ord(char)) is None:
            missing.append(char)
    return missing


def check_text(fields: Iterable[tuple[str, str]]) -> None:
    """Raise FontError listing every character of every field that the fonts cannot print.

    ``fields`` are (JSON path, value) pairs; each missing character of each field becomes one
    :class:`~sheetgen.errors.Problem` with code ``font_missing_char``, once: a value printed
    in several places (the cover lists every website's name, the sheet prints one) is
    reported at its most exact path only (``websites[0].name``, not also ``websites``).
    """
    missing = list(dict.fromkeys(
        (path, char) for path, value in fields for char in missing_characters(value)))
    missing = [(path, char) for path, char in missing
               if not any(other != path and char == again and _inside(other, path)
                          for other, again in missing)]
    if not missing:
        return
    problems = [Problem(path, "font_missing_char",
                        f"字体缺少字符 “{char}” (U+{ord(char):04X}) / "
                        f"the bundled fonts lack character “{char}” (U+{ord(char):04X})")
                for path, char in missing]
    shown = ", ".join(f"{path} U+{ord(char):04X}" for path, char in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    raise FontError(
        f"the bundled fonts lack {len(missing)} character(s) of the data: {shown}{more}",
        hint="replace the character with a common equivalent, or report it to the "
             "sheetgen maintainers",
        problems=problems)


def _inside(path: str, parent: str) -> bool:
    """Whether JSON path ``path`` is below ``parent`` (``websites[0].name`` below ``websites``)."""
    return path.startswith(parent) and path[len(parent):len(parent) + 1] in (".", "[")


def split_by_font(text: str) -> list[tuple[str, str]]:
    """``text`` cut into runs of (role, text) to draw with one font each, in order.

    A PDF font has no fallback (a character missing from the font prints as a blank .notdef
    box), so characters above U+FFFF must be drawn with the supplement explicitly. Characters
    no font maps stay with the body run (:func:`check_text` refuses them before rendering);
    line feeds stay with the run they are in.
    """
    runs: list[tuple[str, str]] = []
    for char in text:
        role = (role_for(ord(char)) or "body") if char != "\n" else None
        if runs and role in (None, runs[-1][0]):
            runs[-1] = (runs[-1][0], runs[-1][1] + char)
        else:
            runs.append((role or "body", char))
    return runs


# --- faces: metrics, glyph ids, subsets (HarfBuzz) ------------------------------------------

#: Tables a PDF's ``FontFile2`` needs of a TrueType font drawn by glyph id (ISO 32000 9.9:
#: head, hhea, loca, maxp, glyf, hmtx; the hinting tables are dropped with the hints). The
#: rest (cmap, name, post, OS/2, layout tables, vertical metrics) is never read by a PDF
#: viewer through ``/Identity-H`` and would only add bytes.
_DROPPED_TABLES = ("GSUB", "GPOS", "GDEF", "BASE", "JSTF", "MATH", "STAT", "gasp", "name",
                   "post", "cmap", "OS/2", "vhea", "vmtx", "VORG", "DSIG", "meta", "prep",
                   "fpgm", "cvt ", "hdmx", "LTSH", "VDMX", "kern")


class Face:
    """One bundled font file, as the PDF stamp draws with it: glyph ids, advances, subsets.

    Loaded with HarfBuzz (``uharfbuzz``) from a memory map of the file: about a millisecond
    for the 15 MB body font, where reportlab's ``TTFont`` parsed all of it (0.25 s a process).
    Widths are in 1/1000 em (the bundled fonts all have 1000 units per em).
    """

    def __init__(self, role: str) -> None:
        import uharfbuzz as hb

        path = font_path(role)
        try:
            self._face = hb.Face(hb.Blob.from_file_path(str(path)))
            self._font = hb.Font(self._face)
        except (OSError, ValueError) as exc:
            raise FontError(f"bundled font {path.name} is unreadable: {exc}",
                            hint="run `sheetgen doctor`; reinstall sheetgen") from exc
        if self._face.glyph_count == 0:  # HarfBuzz reads what is no font as an empty face
            raise FontError(f"bundled font {path.name} is not a font",
                            hint="run `sheetgen doctor`; reinstall sheetgen")
        self.role = role
        self.glyph_count: int = self._face.glyph_count
        self._scale = 1000 / self._face.upem
        self.postscript_name = _postscript_name(self._face) or path.stem
        #: ``head.checkSumAdjustment``: tells one build of the font file from another.
        self.checksum: int = struct.unpack_from(">L", self._face.reference_table("head").data,
                                                8)[0]
        self._glyphs: dict[int, int] = {}
        self._advances: dict[int, int] = {}
        self._widths: dict[str, int] = {}  # character -> advance of its glyph, for measure
        self._outlines: tuple[Any, memoryview] | None = None
        self._subsets = 0
        self._preprocessed: Any = None
        self._lock = threading.Lock()

    def glyph(self, codepoint: int) -> int:
        """The glyph id ``codepoint`` maps to in the font's cmap; 0 (.notdef) if none."""
        glyph = self._glyphs.get(codepoint)
        if glyph is None:
            glyph = self._glyphs[codepoint] = self._font.get_nominal_glyph(codepoint) or 0
        return glyph

    def advance(self, glyph: int) -> int:
        """The advance width of ``glyph`` in 1/1000 em (rounded as a PDF ``/W`` holds it)."""
        width = self._advances.get(glyph)
        if width is None:
            width = self._advances[glyph] = round(
                self._font.get_glyph_h_advance(glyph) * self._scale)
        return width

    def measure(self, text: str, size: float) -> float:
        """The width of ``text`` at ``size`` pt, each character at its cmap glyph's advance
        (.notdef's for a character the font lacks).

        Summed and scaled in the order reportlab's ``stringWidth`` does (widths in 1/1000 em,
        then ``* 0.001 * size``), so that it gives the same floats to the last bit: fitting
        measures exactly what it measured when it went through reportlab
        (``tests/test_fonts.py`` checks it against reportlab, kept as a test oracle).
        """
        widths = self._widths
        try:
            return sum([widths[char] for char in text]) * 0.001 * size
        except KeyError:  # a character not measured before in this process
            for char in text:
                if char not in widths:
                    widths[char] = self.advance(self.glyph(ord(char)))
            return sum([widths[char] for char in text]) * 0.001 * size

    def metrics(self) -> tuple[tuple[int, int, int, int], int, int]:
        """(font bounding box, ascent, descent) in 1/1000 em, for a PDF font descriptor."""
        head = self._face.reference_table("head").data
        hhea = self._face.reference_table("hhea").data
        x_min, y_min, x_max, y_max = struct.unpack_from(">4h", head, 36)
        ascent, descent = struct.unpack_from(">2h", hhea, 4)
        box = tuple(round(v * self._scale) for v in (x_min, y_min, x_max, y_max))
        return (box[0], box[1], box[2], box[3]), round(ascent * self._scale), round(
            descent * self._scale)

    def outline(self, glyph: int) -> bytes:
        """The ``glyf`` data of ``glyph`` (b"" for an empty glyph), trailing padding removed."""
        if self._outlines is None:  # a memory map: only the pages of the glyphs read count
            with font_path(self.role).open("rb") as file:
                mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
            self._outlines = _glyph_table(mapped)
        return _outline(self._outlines, glyph)

    def subset(self, glyphs: Iterable[int], *, retain_gids: bool = False
               ) -> tuple[bytes, dict[int, int]]:
        """A TrueType font of ``glyphs`` (with .notdef and the components of composite
        glyphs), and the glyph id each glyph of the face has in it.

        HarfBuzz's subsetter without hinting, every table a PDF does not read dropped (see
        :data:`_DROPPED_TABLES`). Glyphs are renumbered in the order of their ids (a PDF font
        reaches them through a ``/CIDToGIDMap`` stream made from the returned map), unless
        ``retain_gids``: then each keeps its id (as WeasyPrint embeds its fonts), at the cost
        of full-length ``loca`` and ``hmtx`` tables.
        Raises FontError if the subsetter fails (a damaged font file).
        """
        import uharfbuzz as hb

        request = hb.SubsetInput()
        request.glyph_set.update(sorted({0, *glyphs}))
        request.flags = hb.SubsetFlags.NO_HINTING | (
            hb.SubsetFlags.RETAIN_GIDS if retain_gids else hb.SubsetFlags.DEFAULT)
        for tag in _DROPPED_TABLES:
            request.drop_table_tag_set.add(int.from_bytes(tag.encode("latin-1"), "big"))
        plan = hb.SubsetPlan(self._source(), request)
        subset = plan.execute()
        if subset is None:
            raise FontError(f"cannot subset the bundled font {FONT_FILES[self.role]}",
                            hint="run `sheetgen doctor`; reinstall sheetgen")
        return bytes(subset.blob.data), dict(plan.old_to_new_glyph_mapping.items())

    def _source(self) -> Any:
        """The face to subset: from the third subset in a process on, HarfBuzz's
        preprocessed face (``hb_subset_preprocess``, the same output bytes).

        A subset of the body font costs about 3 ms whatever its size, most of it HarfBuzz
        indexing the whole font again; a preprocessed face answers in about 0.1 ms, but
        preprocessing costs about 55 ms once. One ``fill`` subsets each face once (one
        program per face per document) and a bundle once in all, so only a process making
        many documents (``sheetgen serve``, the per-record PDFs of a batch) gets there.
        """
        with self._lock:
            self._subsets += 1
            if self._subsets > 2 and self._preprocessed is None:
                import uharfbuzz as hb

                self._preprocessed = hb.subset_preprocess(self._face)
            return self._preprocessed if self._preprocessed is not None else self._face


def _postscript_name(face: Any) -> str | None:
    name = face.get_name(6)  # name ID 6: the PostScript name
    return str(name) if name else None


def _glyph_table(font: Any) -> tuple[Any, memoryview]:
    """The ``loca`` offsets and a view of the ``glyf`` table of a TrueType font held in
    ``font`` (bytes, or a memory map of a font file: nothing is copied but ``loca``)."""
    view = memoryview(font)
    tables = _table_directory(io.BytesIO(view[:12 + 16 * struct.unpack_from(">H", view, 4)[0]]),
                              len(view))
    try:
        head, maxp = tables[b"head"][0], tables[b"maxp"][0]
        loca, glyf = tables[b"loca"], tables[b"glyf"]
    except KeyError as exc:
        raise ValueError(f"no {exc.args[0].decode('latin-1')!r} table") from None
    (long_offsets,) = struct.unpack_from(">h", view, head + 50)  # indexToLocFormat
    (count,) = struct.unpack_from(">H", view, maxp + 4)  # numGlyphs
    offsets: Any = array.array("I" if long_offsets else "H")
    offsets.frombytes(view[loca[0]:loca[0] + (count + 1) * offsets.itemsize])
    if sys.byteorder == "little":
        offsets.byteswap()
    if not long_offsets:
        offsets = array.array("I", (2 * offset for offset in offsets))
    if len(offsets) != count + 1:
        raise ValueError("loca table truncated")
    return offsets, view[glyf[0]:glyf[0] + glyf[1]]


def _outline(table: tuple[Any, memoryview], glyph: int) -> bytes:
    offsets, glyf = table
    if glyph + 1 >= len(offsets):
        return b""
    return bytes(glyf[offsets[glyph]:offsets[glyph + 1]]).rstrip(b"\0")


def program_glyphs(program: bytes) -> tuple[int, dict[int, bytes]]:
    """(glyph count, outline of each non-empty glyph) of an embedded TrueType program.

    Raises ValueError (or struct.error) if ``program`` is not a TrueType font."""
    table = _glyph_table(program)
    offsets = table[0]
    count = len(offsets) - 1
    return count, {glyph: _outline(table, glyph) for glyph in range(count)
                   if offsets[glyph + 1] > offsets[glyph]}


_face_lock = threading.Lock()
_faces: dict[str, Face] = {}


def face(role: str) -> Face:
    """The :class:`Face` of ``role`` (a key of ``FONT_FILES``), loaded once per process.

    Raises FontError if the file is missing or unreadable.
    """
    found = _faces.get(role)
    if found is None:
        with _face_lock:
            found = _faces.get(role)
            if found is None:
                found = _faces[role] = Face(role)
    return found


def measure(text: str, size: float) -> float:
    """The width of ``text`` at ``size`` pt in the body font (see :meth:`Face.measure`):
    how every value is measured for fitting. Characters above U+FFFF, drawn with the
    supplement, take .notdef's advance, which is the supplement ideographs' (1000 units)."""
    return face("body").measure(text, size)


def _utf16_hex(codepoint: int) -> str:
    """``codepoint`` as the hex of its UTF-16BE code units: 4 digits in the BMP, else the 8
    digits of its surrogate pair (``D842DFB7`` for U+20BB7)."""
    if codepoint <= 0xFFFF:
        return f"{codepoint:04X}"
    offset = codepoint - 0x10000
    return f"{0xD800 + (offset >> 10):04X}{0xDC00 + (offset & 0x3FF):04X}"


def to_unicode_cmap(name: str, glyphs: Mapping[int, str]) -> bytes:
    """A ToUnicode CMap for 2-byte codes (``/Identity-H`` CIDs): each CID of ``glyphs`` to
    its text, as UTF-16BE hex (a surrogate pair above U+FFFF, ISO 32000 9.10.3), in blocks
    of at most 100 entries as the CMap syntax allows."""
    entries = sorted(glyphs.items())
    blocks = []
    for start in range(0, len(entries), 100):
        block = entries[start:start + 100]
        blocks.append(f"{len(block)} beginbfchar\n" + "\n".join(
            f"<{cid:04X}> <{''.join(_utf16_hex(ord(c)) for c in text)}>"
            for cid, text in block) + "\nendbfchar")
    return "\n".join([
        "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        f"/CMapName /{name} def", "/CMapType 2 def",
        "1 begincodespacerange", "<0000> <FFFF>", "endcodespacerange",
        *blocks, "endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end",
    ]).encode("ascii")


def _present(role: str) -> bool:
    return (fonts_dir() / FONT_FILES[role]).is_file()


# --- WeasyPrint ------------------------------------------------------------------------------

def font_face_css() -> str:
    """``@font-face`` rules for WeasyPrint, one per role, pointing at the bundled files.

    Families: ``"Sheetgen Serif"`` (body, weight 400), ``"Sheetgen Serif Supplement"``
    (characters above U+FFFF, weight 400) and ``"Sheetgen Sans"`` (headings, weight 700; the
    body file when the optional heading font is missing). Templates use
    :data:`BODY_FONT_STACK` and :data:`HEADING_FONT_STACK`. WeasyPrint uses these rules only
    when the same ``FontConfiguration`` is passed to ``CSS()`` and to ``render()``.
    """
    rules = []
    for role, family in CSS_FAMILIES.items():
        path = font_path(role if role in REQUIRED_FONTS or _present(role) else "body")
        rules.append(f'@font-face {{ font-family: "{family}"; '
                     f'src: url("{path.resolve().as_uri()}") format("truetype"); '
                     f"font-weight: {_CSS_WEIGHTS[role]}; font-style: normal; }}")
    return "\n".join(rules) + "\n"


# --- sheetgen doctor -------------------------------------------------------------------------

@cache
def gb2312_hanzi() -> frozenset[int]:
    """The 6763 hanzi of GB2312 (rows 16–87), from Python's ``gb2312`` codec."""
    hanzi = set()
    for row in range(0xB0, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                hanzi.add(ord(bytes((row, cell)).decode("gb2312")))
            except UnicodeDecodeError:  # the five unassigned cells at the end of row 55
                continue
    return frozenset(hanzi)


def self_check() -> str:
    """Check the bundled fonts for ``sheetgen doctor``; return a one-line summary.

    Every required font is present, a whole TrueType-outline font (table directory, required
    tables, file checksum) with a readable cmap; the body covers all GB2312 hanzi; the
    supplement covers 𠮷 U+20BB7. Raises FontError naming the first failure.
    """
    present = []
    for role, filename in FONT_FILES.items():
        path = fonts_dir() / filename
        if not path.is_file():
            if role in REQUIRED_FONTS:
                raise FontError(f"bundled font {filename} ({role}) is missing")
            continue
        try:
            _check_font_file(path)
        except (OSError, ValueError) as exc:
            raise FontError(f"bundled font {filename} ({role}) is unusable: {exc}") from exc
        present.append(role)

    body, supplement = coverage("body"), coverage("supplement")
    lacking = sorted(gb2312_hanzi() - body)
    if lacking:
        raise FontError(f"body font {FONT_FILES['body']} lacks {len(lacking)} GB2312 hanzi, "
                        f"e.g. {chr(lacking[0])} U+{lacking[0]:04X}")
    if SUPPLEMENT_PROBE not in supplement:
        raise FontError(f"supplement font {FONT_FILES['supplement']} lacks "
                        f"{chr(SUPPLEMENT_PROBE)} U+{SUPPLEMENT_PROBE:04X}")
    heading = "" if "heading" in present else "; heading font missing, headings use the body font"
    return (f"{len(present)} fonts, body {len(body)} code points (GB2312 hanzi complete), "
            f"supplement {len(supplement)} code points{heading}")
