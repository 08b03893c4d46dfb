"""Compose output PDFs with pypdf: backgrounds and stamped values, outline, metadata.

Each background page of a compiled layout becomes one Form XObject per output document, and
every page that uses it draws it by reference (``q /SgBgN Do Q``) beneath the page's stamped
values. A bundle of a thousand sheets of one layout therefore holds that layout's content and
fonts once, and each page adds only its values (design.md §2).

pypdf has no public call to add a free-standing object to a writer, so this module uses
``PdfWriter._add_object``; pypdf is pinned to one major version and the tests cover it.
pypdf is imported at module level here: this module is loaded only to render.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from sheetgen.errors import UsageError
from sheetgen.rendering.pdf.layout import CompiledLayout


@dataclass(frozen=True)
class OutlineEntry:
    title: str
    page: int
    parent: int | None = None  # index of the parent entry in the list given to finish()


class Composer:
    """Collects pages (background + stamp) into one PDF document."""

    def __init__(self) -> None:

        self.writer = PdfWriter()
        self._forms: dict[tuple[str, int], tuple[str, Any]] = {}
        self._draw_calls: dict[str, Any] = {}
        self.pages = 0

    def add(self, layout: CompiledLayout, page: int, stamp_page: Any) -> int:
        """Append ``stamp_page`` drawn over page ``page`` of ``layout``; returns its index."""

        name, form = self._form(layout, page)
        new_page = self.writer.add_page(stamp_page)
        resources = new_page.setdefault(NameObject("/Resources"), DictionaryObject()).get_object()
        xobjects = resources.setdefault(NameObject("/XObject"), DictionaryObject()).get_object()
        xobjects[NameObject(name)] = form
        contents = new_page.get("/Contents")
        stamped = [] if contents is None else (
            list(contents.get_object()) if isinstance(contents.get_object(), ArrayObject)
            else [contents])
        # The background first, then the values over it; the call stream is shared by pages.
        new_page[NameObject("/Contents")] = ArrayObject([self._draw_call(name), *stamped])
        self.pages += 1
        return self.pages - 1

    def finish(self, *, title: str, subject: str, outline: list[OutlineEntry],
               metadata: Mapping[str, str] | None = None, identity: bytes = b"",
               pdfa: bool = False) -> bytes:
        """The finished PDF; ``identity`` seeds the document ID (same input, same bytes).

        With ``pdfa`` the document is marked PDF/A-2b (see :meth:`_archival`).
        """

        from sheetgen import __version__

        items: list[Any] = []
        for entry in outline:
            parent = items[entry.parent] if entry.parent is not None else None
            items.append(self.writer.add_outline_item(
                title=entry.title, page_number=entry.page, parent=parent))
        info = {"/Title": title, "/Subject": subject, "/Creator": f"sheetgen {__version__}",
                "/Producer": f"sheetgen {__version__} (WeasyPrint, reportlab, pypdf)"}
        created = source_date()
        if created is not None:
            info["/CreationDate"] = info["/ModDate"] = created.strftime("D:%Y%m%d%H%M%SZ")
        info.update(metadata or {})
        self.writer.add_metadata(info)
        if pdfa:
            self._archival(info)
        self.writer.page_mode = "/UseOutlines" if outline else "/UseNone"
        digest = hashlib.md5(identity + title.encode(), usedforsecurity=False).digest()
        self.writer._ID = ArrayObject([ByteStringObject(digest), ByteStringObject(digest)])
        out = io.BytesIO()
        self.writer.write(out)
        return out.getvalue()

    def _archival(self, info: Mapping[str, str]) -> None:
        """What PDF/A-2b asks of the document beyond its pages.

        The pages already qualify: every font is embedded, nothing is transparent, there are
        no annotations, actions or attachments. The document gets an sRGB output intent, an
        unfiltered XMP packet that mirrors the Info dictionary, a PDF 1.7 header and its ID
        (set by :meth:`finish`). WeasyPrint's own PDF/A variant is not used for the
        backgrounds: its pages are the same, and WeasyPrint 70 leaves the profile file open.
        """

        profile = DecodedStreamObject()
        profile.set_data(srgb_profile())
        profile[NameObject("/N")] = NumberObject(3)
        condition = TextStringObject("sRGB IEC61966-2.1")
        intent = DictionaryObject({
            NameObject("/Type"): NameObject("/OutputIntent"),
            NameObject("/S"): NameObject("/GTS_PDFA1"),
            NameObject("/OutputConditionIdentifier"): condition,
            NameObject("/Info"): condition,
            NameObject("/DestOutputProfile"): self.writer._add_object(profile.flate_encode()),
        })
        metadata = DecodedStreamObject()  # unfiltered and typed, as PDF/A wants it
        metadata.set_data(xmp_packet(info))
        metadata[NameObject("/Type")] = NameObject("/Metadata")
        metadata[NameObject("/Subtype")] = NameObject("/XML")
        root = self.writer._root_object
        root[NameObject("/OutputIntents")] = ArrayObject([self.writer._add_object(intent)])
        root[NameObject("/Metadata")] = self.writer._add_object(metadata)
        self.writer.pdf_header = "%PDF-1.7"

    def _form(self, layout: CompiledLayout, page: int) -> tuple[str, Any]:
        key = (layout.key, page)
        if key not in self._forms:

            source = _background_reader(layout).pages[page]
            form = DecodedStreamObject()
            contents = source.get_contents()
            form.set_data(contents.get_data() if contents is not None else b"")
            form[NameObject("/Type")] = NameObject("/XObject")
            form[NameObject("/Subtype")] = NameObject("/Form")
            form[NameObject("/BBox")] = ArrayObject(source.mediabox)
            form[NameObject("/Resources")] = source["/Resources"].clone(self.writer)
            name = f"/SgBg{len(self._forms)}"
            self._forms[key] = (name, self.writer._add_object(form.flate_encode()))
        return self._forms[key]

    def _draw_call(self, name: str) -> Any:
        call = self._draw_calls.get(name)
        if call is None:

            stream = DecodedStreamObject()
            stream.set_data(f"q {name} Do Q\n".encode())
            call = self._draw_calls[name] = self.writer._add_object(stream)
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


def srgb_profile() -> bytes:
    """An sRGB ICC profile (Pillow's LittleCMS built-in one), for the PDF/A output intent."""
    from PIL import ImageCms

    profile: bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return profile


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


_readers: dict[str, Any] = {}


def _background_reader(layout: CompiledLayout) -> Any:
    """A parsed reader of the layout's background, kept for the process like the layout.

    Parsing a background (its fonts' width arrays above all) costs more than stamping a
    page, so it is done once per layout, not once per output document; and its plain arrays
    are serialized once too (see :func:`_serialize_plain_arrays`).
    """
    reader = _readers.get(layout.key)
    if reader is None:

        reader = PdfReader(io.BytesIO(layout.background))
        for page in reader.pages:
            _serialize_plain_arrays(page["/Resources"], set())
        _readers[layout.key] = reader
    return reader


#: Arrays shorter than this are cloned as they are: not worth the indirection.
_SERIALIZE_FROM = 16


def _serialize_plain_arrays(node: Any, seen: set[int]) -> None:
    """Replace, below ``node``, each long array of plain values by its serialized form.

    A CID font's width array (/W) holds hundreds of small arrays; pypdf would clone it number
    by number into every output document, which was most of the cost of composing one. An
    array with no references in it is the same bytes in every document, so it is written
    once here and copied as bytes ever after.
    """

    node = node.get_object() if isinstance(node, IndirectObject) else node
    if id(node) in seen or not isinstance(node, DictionaryObject | ArrayObject):
        return
    seen.add(id(node))
    slots = node.items() if isinstance(node, DictionaryObject) else enumerate(node)
    for slot, value in list(slots):
        if isinstance(value, ArrayObject) and len(value) >= _SERIALIZE_FROM and _plain(value):
            node[slot] = _serialized_array(value)
        else:
            _serialize_plain_arrays(value, seen)


def _plain(value: Any) -> bool:

    if isinstance(value, ArrayObject):
        return all(_plain(item) for item in value)
    return isinstance(value, NumberObject | FloatObject | NameObject)


class _SerializedArray(ArrayObject):
    """A plain array as its bytes: cloned by reference (it is immutable), written as is."""

    def __init__(self, raw: bytes) -> None:
        super().__init__()
        self.raw = raw

    def clone(self, pdf_dest: Any, force_duplicate: bool = False,
              ignore_fields: Any = ()) -> Any:
        return self

    def write_to_stream(self, stream: Any, encryption_key: Any = None) -> None:
        stream.write(self.raw)


def _serialized_array(array: ArrayObject) -> _SerializedArray:
    buffer = io.BytesIO()
    array.write_to_stream(buffer)
    return _SerializedArray(buffer.getvalue())


def stamp_pages(stamp_pdf: bytes) -> list[Any]:
    """The pages of a stamp document, ready to be handed to :meth:`Composer.add`."""

    return list(PdfReader(io.BytesIO(stamp_pdf)).pages)
