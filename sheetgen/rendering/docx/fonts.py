"""Fonts embedded in the Word files: subset, renamed, obfuscated, the way Word embeds them.

A DOCX names its fonts; a machine without them substitutes others (LibreOffice falls back to
DejaVu, which has no hanzi: every Chinese character becomes a box) whose widths also differ
from the fitting's. So every Word file carries the bundled fonts it uses, as Word itself does
with 文件 → 选项 → 保存 → 将字体嵌入文件 and 仅嵌入文档中使用的字符:

- **subset**: each bundled family gets only the characters the document prints in it (plus
  the digits, for page numbers), through HarfBuzz's subsetter (``uharfbuzz``: a few ms per
  font, where fontTools' takes over a second for a CJK font). OpenType layout tables (GSUB,
  GPOS) stay; of the name records, the copyright and licence ones (0, 13, 14) stay, as the
  SIL OFL asks, with the names below;
- **renamed per document**: the family becomes ``Noto Serif SC XKQWPA``, a tag made from the
  characters it has. A word processor that has opened one sheet keeps its embedded fonts by
  family name for the session (LibreOffice does: a second sheet opened or converted in the
  same process would get the first one's subset, and its other characters boxes); different
  subsets therefore never share a name, while the same subset always gets the same one, so
  the file stays reproducible. Every ``w:rFonts`` of the document is rewritten to the new
  name;
- **obfuscated** per ECMA-376 Part 1 §17.8.1: the first 32 bytes of the font are XORed with
  the 16 bytes of its font key GUID in reverse order, stored as ``word/fonts/fontN.odttf``,
  named in ``fontTable.xml`` by ``w:embedRegular`` (``w:embedBold`` for the bold heading
  face) with the GUID in ``w:fontKey``, in **upper case** (LibreOffice ignores a lower-case
  key), plus the relationship, the ``odttf`` content type and ``w:embedTrueTypeFonts`` and
  ``w:saveSubsetFonts`` in the settings (so Word, saving the file again, keeps embedding them).

The GUID is derived from the font's bytes, so the same document gives the same bytes.
Fonts a template names that are not bundled are left alone (not embedded). The cost is about
200 bytes per distinct hanzi, compressed: see the README's Word section for measured sizes.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import threading
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from sheetgen.errors import FontError
from sheetgen.resources import FONT_FILES, font_path

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W = f"{{{W_NS}}}"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
RELATIONSHIPS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
FONT_RELATIONSHIP = f"{R_NS}/font"
ODTTF_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.obfuscatedFont"

#: The family name each bundled font has (its name record 1), and the face it is embedded as.
#: A test checks these against the font files.
FAMILIES: dict[str, tuple[str, bool]] = {  # role -> (family, bold)
    "body": ("Noto Serif SC", False),
    "supplement": ("Noto Serif SC Supplement", False),
    "heading": ("Noto Sans SC", True),
}
#: Always in the body font's subset: page numbers (``PAGE``, ``NUMPAGES`` fields) are computed
#: by the word processor, not written in the file.
ALWAYS = frozenset("0123456789 ")
#: Name records kept from the original font besides those rewritten (1–6): the copyright, the
#: licence and its address (the SIL OFL travels with every copy).
KEPT_NAME_IDS = (0, 5, 13, 14)
#: The parts whose runs print text: the body, headers, footers, notes.
_TEXT_PART = re.compile(r"word/(document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml")
#: The parts that name fonts in w:rFonts (and so are rewritten to the renamed families).
_FONT_PARTS = re.compile(r"word/(document|header\d*|footer\d*|footnotes|endnotes|comments|"
                         r"styles|numbering)\.xml")
_FONT_SLOTS = ("ascii", "hAnsi", "eastAsia", "cs")
# Schema order of CT_Font's children and of the first children of CT_Settings (ECMA-376):
# Word refuses elements out of order.
_FONT_ORDER = ("altName", "panose1", "charset", "family", "notTrueType", "pitch", "sig",
               "embedRegular", "embedBold", "embedItalic", "embedBoldItalic")
_SETTINGS_BEFORE = ("writeProtection", "view", "zoom", "removePersonalInformation",
                    "removeDateAndTime", "doNotDisplayPageBoundaries", "displayBackgroundShape",
                    "printPostScriptOverText", "printFractionalCharacterWidth",
                    "printFormsData", "embedTrueTypeFonts", "embedSystemFonts",
                    "saveSubsetFonts")


@dataclass(frozen=True)
class EmbeddedFont:
    """One font embedded in a document: its family as the document names it now, the
    bundled role it came from, the characters it has and its size in the package."""

    family: str
    role: str
    characters: int
    part: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"family": self.family, "role": self.role, "characters": self.characters,
                "part": self.part, "bytes": self.size}


# --- which characters each bundled family prints ---------------------------------------------

class _RunFonts:
    """Resolves the font slots of a run: its own w:rFonts, its character style, its
    paragraph's style, the document defaults (styles.xml), in that order."""

    def __init__(self, styles: Any | None) -> None:
        self._styles: dict[str, Any] = {}
        self.defaults: dict[str, str] = {}
        if styles is None:
            return
        for style in styles.iter(W + "style"):
            self._styles[style.get(W + "styleId", "")] = style
        fonts = styles.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr/{W}rFonts")
        self.defaults = _slots(fonts)
        default_paragraph = next(
            (s.get(W + "styleId") for s in styles.iter(W + "style")
             if s.get(W + "type") == "paragraph" and s.get(W + "default") in ("1", "true")),
            None)
        self._default_paragraph = default_paragraph

    def style_slots(self, style_id: str | None) -> dict[str, str]:
        """The font slots a style sets, its own over those of the styles it is based on."""
        chain: list[dict[str, str]] = []
        seen: set[str] = set()
        while style_id and style_id not in seen:
            seen.add(style_id)
            style = self._styles.get(style_id)
            if style is None:
                break
            chain.append(_slots(style.find(f"{W}rPr/{W}rFonts")))
            based = style.find(W + "basedOn")
            style_id = based.get(W + "val") if based is not None else None
        found: dict[str, str] = {}
        for slots in reversed(chain):
            found.update(slots)
        return found

    def families(self, run: Any) -> set[str]:
        """Every family a run's text may be drawn in (one per slot: Latin, CJK, …)."""
        slots = dict(self.defaults)
        paragraph = run.getparent()
        while paragraph is not None and paragraph.tag != W + "p":
            paragraph = paragraph.getparent()
        paragraph_style = None
        if paragraph is not None:
            element = paragraph.find(f"{W}pPr/{W}pStyle")
            paragraph_style = (element.get(W + "val") if element is not None
                               else getattr(self, "_default_paragraph", None))
        slots.update(self.style_slots(paragraph_style))
        run_style = run.find(f"{W}rPr/{W}rStyle")
        if run_style is not None:
            slots.update(self.style_slots(run_style.get(W + "val")))
        slots.update(_slots(run.find(f"{W}rPr/{W}rFonts")))
        return set(slots.values())


def _slots(fonts: Any | None) -> dict[str, str]:
    if fonts is None:
        return {}
    return {slot: fonts.get(W + slot) for slot in _FONT_SLOTS if fonts.get(W + slot)}


def _run_text(run: Any) -> str:
    """The characters a run prints: its text (also inside text boxes' own runs, which are
    runs themselves) and docxtpl's line breaks; field codes are not printed."""
    return "".join(t.text or "" for t in run.iterfind(W + "t"))


def used_characters(parts: Mapping[str, bytes]) -> dict[str, set[str]]:
    """The characters each family prints, over every text part of the package."""
    from lxml import etree

    styles = etree.fromstring(parts["word/styles.xml"]) if "word/styles.xml" in parts else None
    resolver = _RunFonts(styles)
    found: dict[str, set[str]] = {}
    for name, data in parts.items():
        if not _TEXT_PART.fullmatch(name):
            continue
        for run in etree.fromstring(data).iter(W + "r"):
            text = _run_text(run)
            if not text:
                continue
            for family in resolver.families(run):
                found.setdefault(family, set()).update(text)
    if "word/numbering.xml" in parts:  # list labels (1. 2. •) are drawn in the default font
        for level in etree.fromstring(parts["word/numbering.xml"]).iter(W + "lvlText"):
            for family in set(resolver.defaults.values()):
                found.setdefault(family, set()).update(level.get(W + "val", ""))
    return found


# --- subsetting ------------------------------------------------------------------------------

_faces: dict[str, Any] = {}
_faces_lock = threading.Lock()


def _face(role: str) -> Any:
    """The HarfBuzz face of a bundled font, loaded once per process (the body font is 15 MB)."""
    import uharfbuzz as hb

    with _faces_lock:
        face = _faces.get(role)
        if face is None:
            path = font_path(role)
            try:
                face = hb.Face(hb.Blob(path.read_bytes()))
            except (OSError, ValueError) as exc:
                raise FontError(f"bundled font {path.name} is unreadable: {exc}",
                                hint="run `sheetgen doctor`; reinstall sheetgen") from exc
            _faces[role] = face
    return face


def subset_tag(role: str, code_points: Iterable[int]) -> str:
    """Six capital letters naming a subset: the same characters always give the same tag."""
    digest = hashlib.sha256(f"{role}:{','.join(map(str, sorted(code_points)))}".encode())
    return base64.b32encode(digest.digest()).decode()[:6].translate(
        str.maketrans("234567", "QRSTUV"))  # letters only, as PDF subset tags


def subset_font(role: str, code_points: Iterable[int], family: str) -> bytes:
    """The bundled font of ``role`` cut down to ``code_points``, its family renamed ``family``.

    Raises FontError if the subsetter fails (a damaged font file).
    """
    import uharfbuzz as hb

    wanted = sorted(set(code_points))
    request = hb.SubsetInput()
    request.unicode_set.update(wanted)
    request.name_id_set.update(range(1, 7))
    request.name_id_set.update(KEPT_NAME_IDS)
    subset = hb.subset(_face(role), request)
    if subset is None:
        raise FontError(f"cannot subset the bundled font {FONT_FILES[role]} for a Word file",
                        hint="run `sheetgen doctor`; reinstall sheetgen")
    return _rename(bytes(subset.blob.data), family, bold=FAMILIES[role][1])


def _rename(data: bytes, family: str, *, bold: bool) -> bytes:
    """``data`` with the names of the family ``family`` (records 1–4 and 6; 16 and 17 go).

    The ``name`` table is rebuilt here and the font reassembled around it (checksums and
    ``head.checkSumAdjustment`` recomputed): fontTools would take 25 ms a font, and 0.1 s
    to import, for the same result.
    """
    tables = _tables(data)
    style = "Bold" if bold else "Regular"
    postscript = re.sub(r"[^A-Za-z0-9]", "", family) + f"-{style}"
    (revision,) = struct.unpack_from(">l", tables[b"head"], 4)
    names = {1: family, 2: style, 3: f"{revision / 65536:.3f};{postscript}",
             4: f"{family} {style}" if bold else family, 6: postscript}
    records = [r for r in _name_records(tables[b"name"]) if r[3] not in (*names, 16, 17)]
    for name_id, text in names.items():
        records.append((3, 1, 0x409, name_id, text.encode("utf-16-be")))  # Windows, en-US
        records.append((1, 0, 0, name_id, text.encode("mac-roman")))  # Macintosh, English
    tables[b"name"] = _name_table(records)
    return _assemble(data[:4], tables)


def _tables(data: bytes) -> dict[bytes, bytes]:
    """The tables of an sfnt font by tag."""
    (count,) = struct.unpack_from(">H", data, 4)
    tables = {}
    for tag, _checksum, offset, length in struct.iter_unpack(">4sLLL", data[12:12 + 16 * count]):
        tables[tag] = data[offset:offset + length]
    return tables


def _name_records(table: bytes) -> list[tuple[int, int, int, int, bytes]]:
    """(platform, encoding, language, name id, string bytes) of a ``name`` table."""
    _version, count, storage = struct.unpack_from(">HHH", table, 0)
    records = []
    for platform, encoding, language, name_id, length, offset in struct.iter_unpack(
            ">6H", table[6:6 + 12 * count]):
        start = storage + offset
        records.append((platform, encoding, language, name_id, table[start:start + length]))
    return records


def _name_table(records: list[tuple[int, int, int, int, bytes]]) -> bytes:
    """A format 0 ``name`` table of ``records``, sorted as the format requires."""
    records = sorted(records, key=lambda r: r[:4])
    storage = b""
    directory = b""
    for platform, encoding, language, name_id, text in records:
        directory += struct.pack(">6H", platform, encoding, language, name_id, len(text),
                                 len(storage))
        storage += text
    return struct.pack(">HHH", 0, len(records), 6 + len(directory)) + directory + storage


def _checksum(data: bytes) -> int:
    padded = data + b"\0" * (-len(data) % 4)
    total: int = sum(struct.unpack(f">{len(padded) // 4}L", padded))
    return total & 0xFFFFFFFF


def _assemble(version: bytes, tables: Mapping[bytes, bytes]) -> bytes:
    """An sfnt font of ``tables``: directory sorted by tag, tables 4-byte aligned, every
    checksum and ``head.checkSumAdjustment`` set."""
    head = bytearray(tables[b"head"])
    head[8:12] = b"\0\0\0\0"
    tables = {**tables, b"head": bytes(head)}
    count = len(tables)
    power = 1 << (count.bit_length() - 1)
    header = version + struct.pack(">4H", count, power * 16, power.bit_length() - 1,
                                   count * 16 - power * 16)
    offset = len(header) + 16 * count
    directory = b""
    body = b""
    head_at = 0
    for tag in sorted(tables):
        table = tables[tag]
        if tag == b"head":
            head_at = offset + len(body)
        directory += struct.pack(">4sLLL", tag, _checksum(table), offset + len(body),
                                 len(table))
        body += table + b"\0" * (-len(table) % 4)
    font = bytearray(header + directory + body)
    adjustment = (0xB1B0AFBA - _checksum(bytes(font))) & 0xFFFFFFFF
    font[head_at + 8:head_at + 12] = struct.pack(">L", adjustment)
    return bytes(font)


def font_key(data: bytes) -> str:
    """A GUID for ``data`` in ``{XXXXXXXX-XXXX-…}`` form: upper case, derived from the bytes."""
    hexa = hashlib.sha256(data).hexdigest()[:32].upper()
    return f"{{{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}}}"


def obfuscate(data: bytes, key: str) -> bytes:
    """``data`` obfuscated with ``key`` (ECMA-376 Part 1 §17.8.1); the same call undoes it.

    The key's 32 hex digits, read as 16 bytes and reversed, are XORed over bytes 0–15 of the
    font and again over bytes 16–31.
    """
    secret = bytes.fromhex(key.strip("{}").replace("-", ""))[::-1]
    head = bytes(byte ^ secret[i % 16] for i, byte in enumerate(data[:32]))
    return head + data[32:]


# --- the package -----------------------------------------------------------------------------

def embed_fonts(parts: MutableMapping[str, bytes]) -> list[EmbeddedFont]:
    """Embed the bundled fonts a DOCX package uses into it (``parts``, changed in place).

    Returns what was embedded, in role order. A package that uses no bundled family is left
    unchanged. Raises FontError if a font cannot be read or subset.
    """
    from lxml import etree

    used = used_characters(parts)
    renamed: dict[str, str] = {}
    fonts: list[tuple[str, str, bytes, bool, int]] = []  # (family, role, data, bold, chars)
    for role, (family, bold) in FAMILIES.items():
        characters = used.get(family)
        if not characters:
            continue
        characters = {c for c in characters if c not in "\n\t"}
        if role == "body":
            characters |= ALWAYS
        code_points = {ord(c) for c in characters}
        unique = f"{family} {subset_tag(role, code_points)}"
        renamed[family] = unique
        fonts.append((unique, role, subset_font(role, code_points, unique), bold,
                      len(code_points)))
    if not fonts:
        return []

    for name in sorted(parts):
        if _FONT_PARTS.fullmatch(name):
            parts[name] = _rename_fonts(parts[name], renamed)

    table = etree.Element(W + "fonts", nsmap={"w": W_NS, "r": R_NS})
    if "word/fontTable.xml" in parts:  # its entries, under a root that declares r:
        old = etree.fromstring(parts["word/fontTable.xml"])
        table = etree.Element(W + "fonts", nsmap={**old.nsmap, "w": W_NS, "r": R_NS})
        table.attrib.update(old.attrib)
        table.extend(list(old))
    rels_name = "word/_rels/fontTable.xml.rels"
    rels = (etree.fromstring(parts[rels_name]) if rels_name in parts
            else etree.Element(f"{{{RELATIONSHIPS_NS}}}Relationships",
                               nsmap={None: RELATIONSHIPS_NS}))
    taken_ids = {r.get("Id") for r in rels}
    taken_parts = {name for name in parts if name.startswith("word/fonts/")}
    embedded = []
    number = 0
    for family, role, data, bold, count in fonts:
        number += 1
        while f"word/fonts/font{number}.odttf" in taken_parts:
            number += 1
        part = f"word/fonts/font{number}.odttf"
        ident = f"rIdSheetgenFont{number}"
        while ident in taken_ids:
            ident += "x"
        key = font_key(data)
        parts[part] = obfuscate(data, key)
        etree.SubElement(rels, f"{{{RELATIONSHIPS_NS}}}Relationship", Id=ident,
                         Type=FONT_RELATIONSHIP, Target=part.removeprefix("word/"))
        _font_entry(table, family, role, ident, key, bold)
        embedded.append(EmbeddedFont(family, role, count, part, len(data)))
    parts["word/fontTable.xml"] = _xml(table)
    parts[rels_name] = _xml(rels)
    parts["[Content_Types].xml"] = _content_types(parts["[Content_Types].xml"])
    if "word/settings.xml" in parts:
        parts["word/settings.xml"] = _settings(parts["word/settings.xml"])
    _ensure_font_table_relationship(parts)
    return embedded


def _xml(element: Any) -> bytes:
    from lxml import etree

    return bytes(etree.tostring(element, xml_declaration=True, encoding="UTF-8",
                                standalone=True))


def _rename_fonts(data: bytes, renamed: Mapping[str, str]) -> bytes:
    from lxml import etree

    root = etree.fromstring(data)
    changed = False
    for fonts in root.iter(W + "rFonts"):
        for slot in _FONT_SLOTS:
            value = fonts.get(W + slot)
            if value in renamed:
                fonts.set(W + slot, renamed[value])
                changed = True
    return _xml(root) if changed else data


def _font_entry(table: Any, family: str, role: str, ident: str, key: str, bold: bool) -> None:
    """Rename the table's entry of the bundled family to ``family`` (or add one) and point
    it at the embedded font."""
    from lxml import etree

    original = FAMILIES[role][0]
    entry = next((f for f in table.iterfind(W + "font")
                  if f.get(W + "name") in (original, family)), None)
    if entry is None:
        entry = etree.SubElement(table, W + "font")
        for tag, value in (("charset", "86"), ("family", "roman" if role != "heading" else
                                               "swiss"), ("pitch", "variable")):
            etree.SubElement(entry, W + tag).set(W + "val", value)
    entry.set(W + "name", family)
    for old in entry:
        if isinstance(old.tag, str) and old.tag.startswith(W + "embed"):
            entry.remove(old)
    # The bold heading face also serves any regular use of its family (no faux weights).
    for tag in (("embedRegular", "embedBold") if bold else ("embedRegular",)):
        element = etree.Element(W + tag)
        element.set(f"{{{R_NS}}}id", ident)
        element.set(W + "fontKey", key)
        element.set(W + "subsetted", "1")  # as Word marks a subset (仅嵌入文档中使用的字符)
        _insert(entry, element, _FONT_ORDER)


def _insert(parent: Any, child: Any, order: tuple[str, ...]) -> None:
    rank = order.index(child.tag[len(W):])
    for index, sibling in enumerate(parent):
        tag = sibling.tag[len(W):] if isinstance(sibling.tag, str) else ""
        if tag in order and order.index(tag) > rank:
            parent.insert(index, child)
            return
        if tag not in order and isinstance(sibling.tag, str):  # an unknown later element
            parent.insert(index, child)
            return
    parent.append(child)


def _settings(data: bytes) -> bytes:
    """Settings asking word processors to keep the fonts embedded, subset, when saving."""
    from lxml import etree

    root = etree.fromstring(data)
    for tag in ("embedTrueTypeFonts", "saveSubsetFonts"):
        if root.find(W + tag) is not None:
            continue
        element = etree.Element(W + tag)
        rank = _SETTINGS_BEFORE.index(tag)
        for index, sibling in enumerate(root):
            name = sibling.tag[len(W):] if isinstance(sibling.tag, str) else ""
            if name not in _SETTINGS_BEFORE[:rank]:
                root.insert(index, element)
                break
        else:
            root.append(element)
    return _xml(root)


def _content_types(data: bytes) -> bytes:
    from lxml import etree

    root = etree.fromstring(data)
    if not any(d.get("Extension", "").lower() == "odttf"
               for d in root.iterfind(f"{{{CONTENT_TYPES_NS}}}Default")):
        element = etree.Element(f"{{{CONTENT_TYPES_NS}}}Default", Extension="odttf",
                                ContentType=ODTTF_CONTENT_TYPE)
        defaults = root.findall(f"{{{CONTENT_TYPES_NS}}}Default")
        at = root.index(defaults[-1]) + 1 if defaults else 0  # Defaults before Overrides
        root.insert(at, element)
    fonts_override = "/word/fontTable.xml"
    if not any(o.get("PartName") == fonts_override
               for o in root.iterfind(f"{{{CONTENT_TYPES_NS}}}Override")):
        etree.SubElement(root, f"{{{CONTENT_TYPES_NS}}}Override", PartName=fonts_override,
                         ContentType="application/vnd.openxmlformats-officedocument."
                                     "wordprocessingml.fontTable+xml")
    return _xml(root)


def _ensure_font_table_relationship(parts: MutableMapping[str, bytes]) -> None:
    """The document's relationship to fontTable.xml (a template may have had none)."""
    from lxml import etree

    name = "word/_rels/document.xml.rels"
    if name not in parts:
        return
    rels = etree.fromstring(parts[name])
    kind = f"{R_NS}/fontTable"
    if any(r.get("Type") == kind for r in rels):
        return
    ids = {r.get("Id") for r in rels}
    ident = "rIdFontTable"
    while ident in ids:
        ident += "x"
    etree.SubElement(rels, f"{{{RELATIONSHIPS_NS}}}Relationship", Id=ident, Type=kind,
                     Target="fontTable.xml")
    parts[name] = _xml(rels)

