"""Compose output PDFs: backgrounds and stamped values, outline, metadata, written as a stream.

Each background page of a compiled layout becomes one Form XObject per output document, and
every page that uses it draws it by reference (``q /SgBgN Do Q``) beneath the page's stamped
values. A bundle of a thousand sheets of one layout therefore holds that layout's content and
fonts once, and each page adds only its values (design.md §2).

The document is written object by object as it is composed (:class:`PdfStream`), never held
whole: a page's objects go out when its stamp document is composed, and what is kept until
the end is a few numbers per page (its object number, its bookmark's). So a bundle of 100 000
records needs no more memory than one of 1000. Small objects are packed into compressed
object streams, the cross-reference table is a compressed stream (PDF 1.5; PDF/A-2 allows
both), pages carry only what they use (no ``/ProcSet``, ``/Rotate 0`` or ``/Trans``) and
bookmarks point at their page with ``/Dest`` rather than a GoTo action object each.

The stamped values arrive as content streams (:mod:`~.stamp`) and are written as they are.
Fonts are per output document, **one font program per face**: every font of a bundled face
(the backgrounds' WeasyPrint subsets, recognised when the layout is compiled, and the
stamp's)
points at one ``FontFile2``, a subset of the union of their glyphs keeping the bundled font's
glyph ids (:meth:`~sheetgen.rendering.fonts.Face.subset`), so no content stream changes.
Those objects are reserved when first used and written by :meth:`Composer.finish` with the
union of the whole document: for a streamed bundle, memory stays a set of glyph ids per face.
Any other font (a provider's template with a system font) is copied untouched.

The backgrounds come as objects ready to copy (:mod:`~.background`, made when the layout
was compiled): :class:`_Copier` renumbers their references and writes them into the stream.
No PDF library is imported to compose (pypdf's writer would hold the whole document in
memory and has no object streams; reading the backgrounds with it was 76 ms of imports and
about 20 ms a layout in every process).
"""

from __future__ import annotations

import array
import hashlib
import io
import itertools
import os
import sys
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sheetgen.errors import TemplateError, UsageError
from sheetgen.rendering import fonts
from sheetgen.rendering.pdf import background as stored
from sheetgen.rendering.pdf import syntax
from sheetgen.rendering.pdf.layout import BackgroundFonts, CompiledLayout, identify_fonts
from sheetgen.rendering.pdf.stamp import StampedPage, StampFonts
from sheetgen.rendering.pdf.syntax import Name, Ref, Text

#: Small objects per compressed object stream: big enough to compress well, small enough to
#: keep little in memory and let a reader find an object without inflating much.
OBJECTS_PER_STREAM = 200
#: Cross-reference rows compressed at a time when the document is closed.
XREF_ROWS_PER_CHUNK = 50_000
HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"  # the binary comment marks the file as binary
#: zlib levels of a face's program and of its ``/CIDToGIDMap`` (60 KB, mostly zeros): level 9
#: saves 0.05 % of a program's bytes for 6 % more time, and takes 1.8 ms on a map where
#: level 4 takes 0.16 ms for the same size (docs/performance.md).
FONT_LEVEL = 6
MAP_LEVEL = 4


#: A background page's links: (rectangle, URI) each.
_Links = tuple[tuple[tuple[float, float, float, float], str], ...]


class Sink(Protocol):
    """Where a PDF is written: a binary file, an :class:`~sheetgen.output.AtomicFile`."""

    def write(self, data: bytes, /) -> int: ...


@dataclass(frozen=True)
class OutlineEntry:
    title: str
    page: int
    parent: int | None = None  # index of the parent entry in the list given to finish()


class PdfStream:
    """A PDF written to ``sink`` object by object, with object streams and an xref stream.

    Object numbers are handed out by :meth:`reserve` and may be written in any order;
    :meth:`close` writes the cross-reference stream and the trailer. ``size`` and ``sha256``
    describe what was written.
    """

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._hash = hashlib.sha256()
        self.size = 0
        # Cross-reference entries by object number: type (1 in the file, 2 in an object
        # stream), offset or object stream number, index in the stream. Packed arrays: a few
        # bytes per object, for a bundle of a million objects too.
        self._types = array.array("B", [0])
        self._first = array.array("Q", [0])
        self._second = array.array("L", [65535])
        self._packed: list[tuple[int, bytes]] = []  # small objects waiting for a stream
        self._write(HEADER)

    def _write(self, data: bytes) -> None:
        self._sink.write(data)
        self._hash.update(data)
        self.size += len(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def reserve(self) -> int:
        self._types.append(0)
        self._first.append(0)
        self._second.append(0)
        return len(self._types) - 1

    def put(self, number: int, data: bytes) -> None:
        """Object ``number`` (not a stream) is ``data``: into the next object stream."""
        self._packed.append((number, data))
        if len(self._packed) >= OBJECTS_PER_STREAM:
            self._flush_packed()

    def put_stream(self, number: int, entries: bytes, data: bytes) -> None:
        """Stream object ``number``: dictionary ``entries`` (without /Length) and ``data``."""
        self._types[number], self._first[number] = 1, self.size
        self._write(b"%d 0 obj\n<<%s/Length %d>>\nstream\n" % (number, entries, len(data)))
        self._write(data)
        self._write(b"\nendstream\nendobj\n")

    def _flush_packed(self) -> None:
        if not self._packed:
            return
        container = self.reserve()
        offsets, body, at = [], [], 0
        for index, (number, data) in enumerate(self._packed):
            self._types[number], self._first[number], self._second[number] = 2, container, index
            offsets.append(b"%d %d" % (number, at))
            body.append(data)
            at += len(data) + 1
        head = b" ".join(offsets) + b"\n"
        data = zlib.compress(head + b"\n".join(body), 9)
        self.put_stream(container, b"/Type/ObjStm/N %d/First %d/Filter/FlateDecode"
                        % (len(self._packed), len(head)), data)
        self._packed.clear()

    def close(self, trailer: bytes) -> None:
        """Write what is pending, the xref stream (with ``trailer`` entries) and the end."""
        self._flush_packed()
        xref = self.reserve()
        self._types[xref], self._first[xref] = 1, self.size
        width = max(4, (self.size.bit_length() + 7) // 8)
        # Compressed a slice of rows at a time: the rows of a 100 000-record bundle (millions
        # of objects) joined first would hold about 100 MB at once, at the very end.
        deflate = zlib.compressobj(9)
        chunks = []
        entries = zip(self._types, self._first, self._second, strict=True)
        while rows := b"".join(
                bytes((kind,)) + first.to_bytes(width, "big") + second.to_bytes(2, "big")
                for kind, first, second in itertools.islice(entries, XREF_ROWS_PER_CHUNK)):
            chunks.append(deflate.compress(rows))
        chunks.append(deflate.flush())
        data = b"".join(chunks)
        at = self.size
        self._write(b"%d 0 obj\n<</Type/XRef/Size %d/W[1 %d 2]%s/Filter/FlateDecode/Length %d>>"
                    b"\nstream\n" % (xref, len(self._types), width, trailer, len(data)))
        self._write(data)
        self._write(b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % at)


class _Copier:
    """Copies objects of one background (:class:`~.background.Objects`) into a
    :class:`PdfStream`, each at most once.

    Renumbers references as it goes (splicing at the offsets the background's index gives)
    and writes every object reachable from what it is asked to copy. ``substitutes`` maps
    source object numbers to output objects written elsewhere (the shared font programs):
    those are referenced, never copied. ``edits`` rewrites, by source object number, a
    dictionary (a font's ``/CIDToGIDMap`` and ``/CIDSet`` for the shared program): entries
    taken out before its references are followed, entries (with output object numbers) added
    after.
    """

    def __init__(self, out: PdfStream, objects: stored.Objects,
                 substitutes: Mapping[int, int] | None = None,
                 edits: Mapping[int, _Edit] | None = None,
                 defer: Callable[[int, bytes, str, str], None] | None = None) -> None:
        self.out = out
        self._defer = defer
        self._objects = objects.objects
        self._numbers: dict[int, int] = dict(substitutes or {})  # source -> output number
        self._edits = edits or {}
        self._queue: list[tuple[int, int]] = []

    def ref(self, source: int) -> int:
        number = self._numbers.get(source)
        if number is None:
            number = self._numbers[source] = self.out.reserve()
            self._queue.append((number, source))
        return number

    def drain(self) -> None:
        """Write every object referenced so far (and what they reference)."""
        while self._queue:
            number, source = self._queue.pop()
            stored_object = self._objects[source]
            edit = self._edits.get(source)
            body = self._spliced(stored_object, edit)
            if edit is not None and edit.name is not None and self._defer is not None:
                self._defer(number, body, *edit.name)  # named when the document is finished
            elif stored_object.data is None:
                self.out.put(number, body)
            else:
                self.out.put_stream(number, body, stored_object.data)

    def _spliced(self, source: stored.Stored, edit: _Edit | None) -> bytes:
        """``source``'s bytes with every reference renumbered and ``edit`` applied, spliced at
        the offsets the background's index gives (entries taken out first: a reference in
        one is not followed)."""
        body = source.body
        cuts = sorted(source.entries[key] for key in (edit.remove if edit else ())
                      if key in source.entries)
        parts = []
        at = 0
        cut = 0
        for offset, target in source.references:
            while cut < len(cuts) and cuts[cut][1] <= offset:
                parts.append(body[at:cuts[cut][0]])
                at = cuts[cut][1]
                cut += 1
            if cut < len(cuts) and cuts[cut][0] <= offset:
                continue  # inside an entry taken out
            parts.append(body[at:offset])
            written = b"%d 0 R" % target
            parts.append(b"%d 0 R" % self.ref(target))
            at = offset + len(written)
        for first, last in cuts[cut:]:
            parts.append(body[at:first])
            at = last
        parts.append(body[at:])
        spliced = b"".join(parts)
        if edit is not None and edit.add:
            spliced = spliced.removesuffix(b">>") + edit.add + b">>"
        return spliced


class _DocumentFonts:
    """The fonts of the bundled faces in one output document: one program per face.

    Object numbers are reserved when a face is first used (:meth:`program`, :meth:`cid_map`,
    :meth:`stamp_font`); :meth:`finish` writes them, the program holding every glyph any
    background or stamp of the document uses (:meth:`use`). The program is a compact subset
    (glyphs renumbered); every font of the face reaches it through the one ``/CIDToGIDMap``
    stream, so the CIDs of every content stream stay the bundled font's glyph ids.
    """

    def __init__(self, out: PdfStream) -> None:
        self.out = out
        self._programs: dict[str, tuple[int, int]] = {}  # role -> FontFile2, CIDToGIDMap
        self._glyphs: dict[str, set[int]] = {}
        self._stamp: dict[bytes, int] = {}
        self._deferred: list[tuple[int, bytes, str, str]] = []

    def _reserved(self, role: str) -> tuple[int, int]:
        numbers = self._programs.get(role)
        if numbers is None:
            numbers = self._programs[role] = (self.out.reserve(), self.out.reserve())
            self._glyphs.setdefault(role, set())
        return numbers

    def program(self, role: str) -> int:
        """The object number of the face's ``FontFile2``."""
        return self._reserved(role)[0]

    def cid_map(self, role: str) -> int:
        """The object number of the face's ``/CIDToGIDMap`` stream."""
        return self._reserved(role)[1]

    def use(self, role: str, glyphs: Iterable[int]) -> None:
        self._reserved(role)
        self._glyphs[role].update(glyphs)

    def defer(self, number: int, body: bytes, key: str, role: str) -> None:
        """Object ``number``, a background's font dictionary ``body`` of the face of ``role``
        without its name (``key``): written by :meth:`finish` with the face's name."""
        self._deferred.append((number, body, key, role))

    def stamp_font(self, name: bytes) -> int:
        """The object number of the stamp's font resource ``name`` (see :class:`StampFonts`)."""
        number = self._stamp.get(name)
        if number is None:
            number = self._stamp[name] = self.out.reserve()
        return number

    def finish(self, stamp: StampFonts) -> None:
        """Write the stamp's font dictionaries and every face's program and map."""
        out = self.out
        descriptors: dict[str, int] = {}
        written = []
        for name, role, glyphs in stamp.fonts():
            number = self._stamp.get(name)
            if number is None:  # registered while drawing, never on a page composed
                continue
            self.use(role, glyphs)
            written.append((number, role, glyphs))
        tags = {role: _subset_tag(role, glyphs) for role, glyphs in self._glyphs.items()}
        for number, body, key, role in self._deferred:
            out.put(number, body.removesuffix(b">>") + syntax.entries(
                {key: Name(f"{tags[role]}+{fonts.face(role).postscript_name}")}) + b">>")
        for number, role, glyphs in written:
            face = fonts.face(role)
            base = Name(f"{tags[role]}+{face.postscript_name}")
            descriptor = descriptors.get(role)
            if descriptor is None:
                descriptor = descriptors[role] = out.reserve()
                box, ascent, descent = face.metrics()
                out.put(descriptor, syntax.serialize({
                    "Type": Name("FontDescriptor"), "FontName": base, "Flags": 4,
                    "FontBBox": list(box), "ItalicAngle": 0, "Ascent": ascent,
                    "Descent": descent, "CapHeight": ascent, "StemV": 80,
                    "FontFile2": Ref(self.program(role))}))
            cid_font, to_unicode = out.reserve(), out.reserve()
            out.put(number, syntax.serialize({
                "Type": Name("Font"), "Subtype": Name("Type0"), "BaseFont": base,
                "Encoding": Name("Identity-H"), "DescendantFonts": [Ref(cid_font)],
                "ToUnicode": Ref(to_unicode)}))
            out.put(cid_font, syntax.serialize({
                "Type": Name("Font"), "Subtype": Name("CIDFontType2"), "BaseFont": base,
                "CIDSystemInfo": {"Registry": Text("Adobe"), "Ordering": Text("Identity"),
                                  "Supplement": 0},
                "FontDescriptor": Ref(descriptor), "DW": 1000, "W": _widths(face, glyphs),
                "CIDToGIDMap": Ref(self.cid_map(role))}))
            cmap = fonts.to_unicode_cmap(f"{tags[role]}-UCS", glyphs)
            out.put_stream(to_unicode, syntax.entries(_FLATE), zlib.compress(cmap, 9))
        for role, (program_number, map_number) in sorted(self._programs.items()):
            program, glyph_map = fonts.face(role).subset(self._glyphs[role])
            out.put_stream(program_number, syntax.entries({"Length1": len(program), **_FLATE}),
                           zlib.compress(program, FONT_LEVEL))
            out.put_stream(map_number, syntax.entries(_FLATE),
                           zlib.compress(_cid_to_gid_map(glyph_map), MAP_LEVEL))


def _cid_to_gid_map(glyph_map: Mapping[int, int]) -> bytes:
    """A ``/CIDToGIDMap`` stream's data: for each CID (a glyph id of the bundled face) from 0
    up, the 2-byte big-endian glyph id it has in the subset (0 for a glyph not in it)."""
    table = array.array("H", bytes(2 * (max(glyph_map) + 1)))
    for old, new in glyph_map.items():
        table[old] = new
    if sys.byteorder == "little":
        table.byteswap()
    return table.tobytes()


#: A stream's data compressed with zlib.
_FLATE: dict[str, syntax.Value] = {"Filter": Name("FlateDecode")}


def _widths(face: fonts.Face, glyphs: Iterable[int]) -> list[syntax.Value]:
    """A CID font's ``/W`` for ``glyphs``: runs of consecutive CIDs, those of the default
    width (1000) left out."""
    runs: list[list[int]] = []
    for glyph in sorted(glyphs):
        width = face.advance(glyph)
        if width == 1000:
            continue
        if runs and runs[-1][0] + len(runs[-1]) - 1 == glyph:
            runs[-1].append(width)
        else:
            runs.append([glyph, width])
    return [item for run in runs for item in (run[0], run[1:])]


def _subset_tag(role: str, glyphs: Iterable[int]) -> str:
    """Six capital letters naming a subset (ISO 32000 9.6.4): the same glyphs, the same tag."""
    digest = hashlib.sha256(f"{role}:{sorted(glyphs)}".encode()).digest()
    return "".join(chr(ord("A") + byte % 26) for byte in digest[:6])


class _Outline:
    """Bookmarks written as they come: two levels (a record, its jobs), ``/Dest`` each.

    An item is written once its next sibling is known (``/Next``), so only the open record
    and its children are held.
    """

    def __init__(self, out: PdfStream) -> None:
        self.out = out
        self.root = out.reserve()
        self.count = 0
        self.first: int | None = None
        self.last: int | None = None  # the last top-level item written or open
        self._open: tuple[int, str, int, int | None] | None = None  # number, title, page, prev
        self._children: list[tuple[int, str, int]] = []

    def add(self, title: str, page: int, *, child: bool) -> None:
        """A bookmark to the page with object number ``page``; ``child``: below the last
        top-level one."""
        number = self.out.reserve()
        self.count += 1
        if child and self._open is not None:
            self._children.append((number, title, page))
            return
        previous = None
        if self._open is not None:
            previous = self._open[0]
            self._close(next_item=number)
        self._open = (number, title, page, previous)
        self.first = self.first if self.first is not None else number
        self.last = number

    def _close(self, next_item: int | None) -> None:
        assert self._open is not None
        number, title, page, previous = self._open
        children = self._children
        self.out.put(number, _bookmark(
            title, self.root, page, previous, next_item,
            (children[0][0], children[-1][0], len(children)) if children else None))
        for i, (child, child_title, child_page) in enumerate(children):
            self.out.put(child, _bookmark(
                child_title, number, child_page, children[i - 1][0] if i else None,
                children[i + 1][0] if i + 1 < len(children) else None, None))
        self._children = []
        self._open = None

    def finish(self) -> int | None:
        """Write the outline's root; its number, or None when there are no bookmarks."""
        if self._open is not None:
            self._close(next_item=None)
        if self.first is None or self.last is None:
            return None
        self.out.put(self.root, syntax.serialize({
            "Type": Name("Outlines"), "First": Ref(self.first), "Last": Ref(self.last),
            "Count": self.count}))
        return self.root


def _bookmark(title: str, parent: int, page: int, previous: int | None, following: int | None,
              children: tuple[int, int, int] | None) -> bytes:
    """An outline item: its title as given, the page it shows (``/Dest``, whole page), its
    neighbours and (first, last, count of) its children."""
    item: dict[str, syntax.Value] = {"Title": Text(title), "Parent": Ref(parent),
                                     "Dest": [Ref(page), Name("Fit")]}
    if previous is not None:
        item["Prev"] = Ref(previous)
    if following is not None:
        item["Next"] = Ref(following)
    if children is not None:
        item.update(First=Ref(children[0]), Last=Ref(children[1]), Count=children[2])
    return syntax.serialize(item)


class Composer:
    """Collects pages (background + stamp) into one PDF, written to ``sink`` as it goes.

    Without a sink the PDF is collected in memory and :meth:`finish` returns it.
    """

    def __init__(self, sink: Sink | None = None) -> None:
        self._buffer: io.BytesIO | None = None
        if sink is None:
            sink = self._buffer = io.BytesIO()
        self.out = PdfStream(sink)
        self._pages_root = self.out.reserve()
        self._kids = array.array("Q")
        # name, object number, links
        self._forms: dict[tuple[str, int], tuple[str, int, _Links]] = {}
        self._background_copiers: dict[str, _Copier] = {}
        #: What PDF/A forbids in the backgrounds used, by template (see finish()).
        self._archival_problems: dict[str, tuple[str, ...]] = {}
        self._draw_calls: dict[str, int] = {}
        self.fonts = _DocumentFonts(self.out)
        self.outline = _Outline(self.out)
        self.pages = 0

    def reserve_page(self) -> int:
        """The object number of the next page (bookmarks may point at it before it is added)."""
        number = self.out.reserve()
        self._kids.append(number)
        return number

    def add_pages(self, pages: Iterable[tuple[CompiledLayout, int, int, StampedPage]]
                  ) -> None:
        """Compose pages: for each (layout, page of the layout, page number reserved by
        :meth:`reserve_page`, its stamp), the background beneath the stamp."""
        for layout, page, number, stamp in pages:
            self._add(layout, page, number, stamp)

    def _add(self, layout: CompiledLayout, page: int, number: int, stamp: StampedPage) -> None:
        name, form, links = self._form(layout, page)
        resources: dict[str, syntax.Value] = {}
        if stamp.fonts:
            resources["Font"] = {font.decode("ascii").removeprefix("/"):
                                 Ref(self.fonts.stamp_font(font)) for font in stamp.fonts}
        resources["XObject"] = {name: Ref(form)}
        contents = [Ref(self._draw_call(name))]
        if stamp.content:
            content = self.out.reserve()
            self.out.put_stream(content, syntax.entries(_FLATE), zlib.compress(stamp.content, 9))
            contents.append(Ref(content))
        entries: dict[str, syntax.Value] = {
            "Type": Name("Page"), "Parent": Ref(self._pages_root),
            "MediaBox": [0, 0, stamp.size[0], stamp.size[1]], "Resources": resources,
            "Contents": contents}
        if links:
            entries["Annots"] = [Ref(self._link(number, rect, uri)) for rect, uri in links]
        self.out.put(number, syntax.serialize(entries))
        self.pages += 1

    def finish(self, *, title: str, subject: str, outline: list[OutlineEntry] | None = None,
               metadata: Mapping[str, str] | None = None, identity: bytes = b"",
               pdfa: bool = False, stamp_fonts: StampFonts | None = None) -> bytes:
        """Write the rest of the document; the PDF when it was collected in memory (else b"").

        ``identity`` seeds the document ID (same input, same bytes). ``outline``, when
        given, is added to the bookmarks already added through :attr:`outline`. With
        ``pdfa`` the document is marked PDF/A-2b (see :meth:`_archival`).
        """
        from sheetgen import __version__

        if pdfa and self._archival_problems:  # refused: PDF/A's claim is checked, not hoped
            template, problems = next(iter(sorted(self._archival_problems.items())))
            raise TemplateError(
                f"template {template} draws {'; '.join(problems)}, which PDF/A-2b (--pdfa) "
                "forbids", hint="remove it from the template, or write the PDF without --pdfa")
        for entry in outline or ():
            self.outline.add(entry.title, self._kids[entry.page], child=entry.parent is not None)
        self.fonts.finish(stamp_fonts or StampFonts())
        out = self.out
        info = {"/Title": title, "/Subject": subject, "/Creator": f"sheetgen {__version__}",
                "/Producer": f"sheetgen {__version__} (WeasyPrint, HarfBuzz)"}
        created = source_date()
        if created is not None:
            info["/CreationDate"] = info["/ModDate"] = created.strftime("D:%Y%m%d%H%M%SZ")
        info.update(metadata or {})
        out.put(self._pages_root, syntax.serialize({
            "Type": Name("Pages"), "Kids": [Ref(kid) for kid in self._kids],
            "Count": len(self._kids)}))
        root = out.reserve()
        catalog: dict[str, syntax.Value] = {"Type": Name("Catalog"),
                                            "Pages": Ref(self._pages_root)}
        outlines = self.outline.finish()
        if outlines is not None:
            catalog.update(Outlines=Ref(outlines), PageMode=Name("UseOutlines"))
        else:
            catalog["PageMode"] = Name("UseNone")
        if pdfa:
            catalog.update(self._archival(info))
        out.put(root, syntax.serialize(catalog))
        info_number = out.reserve()
        out.put(info_number, syntax.serialize({key.removeprefix("/"): Text(value)
                                               for key, value in info.items()}))
        digest = hashlib.md5(identity + title.encode(), usedforsecurity=False).digest()
        out.close(syntax.entries({"Root": Ref(root), "Info": Ref(info_number),
                                  "ID": [syntax.Bytes(digest)] * 2}))
        return self._buffer.getvalue() if self._buffer is not None else b""

    def _archival(self, info: Mapping[str, str]) -> dict[str, syntax.Value]:
        """What PDF/A-2b asks of the document beyond its pages: the catalog's entries.

        The pages already qualify: every font is embedded, nothing is transparent, there are
        no annotations, actions or attachments. The document gets an sRGB output intent, an
        unfiltered XMP packet that mirrors the Info dictionary, a PDF 1.7 header and its ID
        (set by :meth:`finish`). WeasyPrint's own PDF/A variant is not used for the
        backgrounds: its pages are the same, and WeasyPrint 70 leaves the profile file open.
        """
        out = self.out
        profile = out.reserve()
        out.put_stream(profile, syntax.entries({"N": 3, **_FLATE}),
                       zlib.compress(srgb_profile(), 9))
        condition = Text("sRGB IEC61966-2.1")
        intent = out.reserve()
        out.put(intent, syntax.serialize({
            "Type": Name("OutputIntent"), "S": Name("GTS_PDFA1"),
            "OutputConditionIdentifier": condition, "Info": condition,
            "DestOutputProfile": Ref(profile)}))
        metadata = out.reserve()  # unfiltered and typed, as PDF/A wants it
        out.put_stream(metadata, syntax.entries({"Type": Name("Metadata"),
                                                 "Subtype": Name("XML")}), xmp_packet(info))
        return {"OutputIntents": [Ref(intent)], "Metadata": Ref(metadata)}

    def _link(self, page: int, rect: tuple[float, float, float, float], uri: str) -> int:
        """A link of a background on output page ``page``: an annotation of its own (an
        annotation belongs to one page), printable (``/F 4``, as PDF/A asks), no border.
        The background is drawn untransformed (its form's matrix is the identity and its
        box the page's), so the rectangle is the template's."""
        number = self.out.reserve()
        target = Text(uri) if uri.isascii() else syntax.Bytes(uri.encode("utf-8"))
        self.out.put(number, syntax.serialize({
            "Type": Name("Annot"), "Subtype": Name("Link"), "Rect": list(rect),
            "Border": [0, 0, 0], "F": 4, "P": Ref(page),
            "A": {"S": Name("URI"), "URI": target}}))
        return number

    def _form(self, layout: CompiledLayout, page: int) -> tuple[str, int, _Links]:
        key = (layout.key, page)
        if key not in self._forms:
            background = _background(layout)
            copier = self._background_copiers.get(layout.key)
            if copier is None:  # one per layout: its pages share fonts
                ours = background.fonts
                # In object number order, whatever order they were found or stored in: the
                # face programs' numbers are reserved here, and the bytes must not depend on
                # whether the layout was compiled in this process or read from the cache.
                for _, (role, glyphs) in sorted(ours.programs.items()):
                    self.fonts.use(role, glyphs)
                # Every font of a face is named after the face's one program, whose subset
                # tag is known at the end: those dictionaries are written by finish().
                edits: dict[int, _Edit] = {
                    source: _Edit(("/CIDSet", "/FontName"), name=("FontName", role))
                    for source, role in ours.descriptors.items()}
                edits.update({source: _Edit(("/CIDToGIDMap", "/BaseFont"), syntax.entries(
                    {"CIDToGIDMap": Ref(self.fonts.cid_map(role))}), ("BaseFont", role))
                    for source, role in ours.cid_fonts.items()})
                edits.update({source: _Edit(("/BaseFont",), name=("BaseFont", role))
                              for source, role in ours.type0_fonts.items()})
                copier = self._background_copiers[layout.key] = _Copier(
                    self.out, background.objects,
                    {source: self.fonts.program(role)
                     for source, (role, _) in ours.programs.items()}, edits, self.fonts.defer)
                if background.objects.archival_problems:
                    self._archival_problems[layout.template] = \
                        background.objects.archival_problems
            source = background.objects.pages[page]
            content = background.objects.objects[source.content]
            number = self.out.reserve()
            self.out.put_stream(number, syntax.entries({
                "Type": Name("XObject"), "Subtype": Name("Form"), "BBox": syntax.Raw(source.box),
                "Resources": Ref(copier.ref(source.resources)), **_FLATE}),
                content.data or b"")
            copier.drain()
            self._forms[key] = (f"SgBg{len(self._forms)}", number, source.links)
        return self._forms[key]

    def _draw_call(self, name: str) -> int:
        call = self._draw_calls.get(name)
        if call is None:
            call = self._draw_calls[name] = self.out.reserve()
            self.out.put_stream(call, b"", b"q %s Do Q\n" % syntax.name(name))
        return call


def source_date() -> datetime | None:
    """The documents' date: ``SOURCE_DATE_EPOCH`` (reproducible-builds.org), else none at all.

    Without it a PDF carries no date, so the same input always gives the same bytes.
    """
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or not raw.strip():
        return None
    try:
        return datetime.fromtimestamp(int(raw), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise UsageError(f"SOURCE_DATE_EPOCH={raw[:20]!r} is not a whole number of seconds "
                         "since 1970") from None


#: The creation date written into the sRGB profile's header (ICC.1 §7.2.8): LittleCMS writes
#: the current time there, which made every PDF/A differ from the last.
ICC_DATE = (2000, 1, 1, 0, 0, 0)


def srgb_profile() -> bytes:
    """An sRGB ICC profile (Pillow's LittleCMS built-in one), for the PDF/A output intent,
    with a fixed creation date so that the same input gives the same bytes."""
    import struct

    from PIL import ImageCms

    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[24:36] = struct.pack(">6H", *ICC_DATE)  # header bytes 24-35: dateTimeNumber
    return bytes(profile)


def xmp_packet(info: Mapping[str, str]) -> bytes:
    """The XMP metadata of a PDF/A-2b document whose Info dictionary is ``info``.

    PDF/A requires the two to agree, so every entry present in one is written in the other.
    """
    from xml.sax.saxutils import escape

    def alt(value: str) -> str:
        return f'<rdf:Alt><rdf:li xml:lang="x-default">{escape(value)}</rdf:li></rdf:Alt>'

    def date(pdf_date: str) -> str:  # D:20260101000000Z -> 2026-01-01T00:00:00Z
        d = pdf_date.removeprefix("D:")
        return f"{d[0:4]}-{d[4:6]}-{d[6:8]}T{d[8:10]}:{d[10:12]}:{d[12:14]}Z"

    mirrors = (("/Title", "dc:title", alt), ("/Subject", "dc:description", alt),
               ("/Creator", "xmp:CreatorTool", escape), ("/Producer", "pdf:Producer", escape),
               ("/CreationDate", "xmp:CreateDate", date), ("/ModDate", "xmp:ModifyDate", date))
    fields = ["<pdfaid:part>2</pdfaid:part>", "<pdfaid:conformance>B</pdfaid:conformance>"]
    fields += [f"<{element}>{write(info[key])}</{element}>"
               for key, element, write in mirrors if key in info]
    body = "\n   ".join(fields)
    packet = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/" xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
   {body}
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="r"?>"""
    return packet.encode("utf-8")


@dataclass(frozen=True)
class _Edit:
    """A font dictionary of a background, edited for the face's one program: entries taken
    out (``remove``, keys of :data:`~.background.EDITABLE`; a descriptor's ``/CIDSet``
    lists fewer glyphs than the shared program has, and PDF/A-2 wants it complete or
    absent), entries added at its end (``add``, serialized: a CID font's ``/CIDToGIDMap``
    is the face's map) and, with ``name`` (key, face role), the name of the face's program
    added when the document is finished."""

    remove: tuple[str, ...]
    add: bytes = b""
    name: tuple[str, str] | None = None


@dataclass
class _Background:
    """A layout's background, read once per process (see :func:`_background`)."""

    objects: stored.Objects
    fonts: BackgroundFonts  # its fonts of the bundled faces


_backgrounds: dict[str, _Background] = {}


def _background(layout: CompiledLayout) -> _Background:
    """The layout's background as objects (:mod:`~.background`), with its fonts of the
    bundled faces; kept for the process like the layout.

    Both were made when the layout was compiled; they are made again here only for a
    background in another form (a layout made by hand) or fonts checked against other font
    files, which imports pypdf.
    """
    found = _backgrounds.get(layout.key)
    if found is None:
        pdf = layout.background
        objects = stored.read(pdf)
        if objects is None:
            pdf = stored.canonical(pdf)
            objects = stored.read(pdf)
            assert objects is not None  # canonical() writes what read() reads
        ours = layout.fonts
        if ours is None or not ours.current() or pdf is not layout.background:
            ours = identify_fonts(pdf)
        found = _backgrounds[layout.key] = _Background(objects, ours)
    return found
