"""A compiled layout's background as objects ready to copy, read without a PDF library.

WeasyPrint's PDF of a layout is rewritten once, when the layout is compiled
(:func:`canonical`, with pypdf), into a PDF of the same pages in a fixed form: one object
after another (no object streams), every string in hex, each page's resources an object of
their own and its content one compressed stream, and an index of where each object's
dictionary and data are, in a comment line before ``startxref``. It is still an ordinary PDF
(the scans of ``sheetgen receive`` are compared with it through pdfium, the tests read it
with pypdf), and the layout cache stores it as it is.

Reading it back (:func:`read`) is slicing by the index, so composing from a cached layout
imports no PDF library. The index also says where, in each object's bytes, every reference
sits (the composer renumbers them by splicing at those offsets) and where the dictionary
entries are that the composer edits in a font (:data:`EDITABLE`): what is in the bytes is
known from how they were written, never found again by a pattern.
"""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass
from typing import Any

#: Marks the index comment; its version changes whenever the form of the file does.
MARK = b"%sheetgen-background 2 "
#: The entries of an object's (top-level) dictionary whose place the index records: what the
#: composer takes out of or changes in a font of a bundled face (see compose._Copier).
EDITABLE = ("/CIDSet", "/CIDToGIDMap", "/FontName", "/BaseFont")


@dataclass(frozen=True)
class Page:
    """A background page: its resources object, its content stream object, its box, and its
    links (each a rectangle, lower-left and upper-right corner, and the URI it opens)."""

    resources: int
    content: int
    box: bytes  # the MediaBox array, serialized
    links: tuple[tuple[tuple[float, float, float, float], str], ...] = ()


class NotCopied(ValueError):
    """A background page carries something the composer does not copy (a link inside the
    document, a form field, a page-level action …): refused rather than dropped silently.

    ``what`` says what it is; ``written`` is text of the template that names it (a link's
    target), for the error to point at its line, or None.
    """

    def __init__(self, what: str, written: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.written = written


#: Page entries the composer makes itself (the page tree, the box) or copies (resources,
#: content, links): anything else on a background page is refused (:class:`NotCopied`).
#: The trim and bleed boxes WeasyPrint writes are accepted when they are the media box.
_PAGE_ENTRIES = frozenset({"/Type", "/Parent", "/MediaBox", "/Resources", "/Contents",
                           "/Annots"})
#: The links a background may carry: to web pages, mail and phone numbers.
LINK_SCHEMES = ("http", "https", "mailto", "tel")
_SAME_AS_MEDIA_BOX = frozenset({"/CropBox", "/TrimBox", "/BleedBox", "/ArtBox"})


@dataclass(frozen=True)
class Stored:
    """One object of a background: its dictionary or value (a stream's dictionary entries,
    without ``/Length``), a stream's data as stored (still encoded), where each reference
    sits in ``body`` ((offset, object number), in order) and where each :data:`EDITABLE`
    entry of its dictionary sits (key -> (start, end) of the key and its value)."""

    body: bytes
    data: bytes | None
    references: tuple[tuple[int, int], ...]
    entries: dict[str, tuple[int, int]]


@dataclass(frozen=True)
class Objects:
    """The objects of a background by object number, and its pages."""

    objects: dict[int, Stored]
    pages: tuple[Page, ...]
    #: What the background holds that PDF/A-2b forbids (see :func:`_archival_problems`).
    archival_problems: tuple[str, ...] = ()


def read(pdf: bytes) -> Objects | None:
    """The objects of a background written by :func:`canonical`; None for any other PDF
    (or a damaged index)."""
    at = pdf.rfind(MARK)
    if at < 0:
        return None
    try:
        end = pdf.index(b"\n", at)
        index = json.loads(pdf[at + len(MARK):end])
        objects: dict[int, Stored] = {}
        for number, start, length, data_start, data_length, refs, spans in index["objects"]:
            if not (start >= 0 and start + length <= at and data_start + data_length <= at):
                return None
            data = pdf[data_start:data_start + data_length] if data_start >= 0 else None
            references = tuple((int(offset), int(target))
                               for offset, target in zip(refs[::2], refs[1::2], strict=True))
            entries = {str(key): (int(first), int(last)) for key, (first, last) in spans.items()}
            if not all(0 <= offset <= length for offset, _ in references) or not all(
                    0 <= first <= last <= length for first, last in entries.values()):
                return None
            objects[int(number)] = Stored(pdf[start:start + length], data, references, entries)
        pages = tuple(Page(int(resources), int(content), str(box).encode("ascii"), tuple(
            ((float(x1), float(y1), float(x2), float(y2)), str(uri))
            for x1, y1, x2, y2, uri in links)) for resources, content, box, links in index["pages"])
        problems = tuple(str(problem) for problem in index["pdfa"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not all(page.resources in objects and page.content in objects for page in pages) or \
            not all(target in objects for stored in objects.values()
                    for _, target in stored.references):
        return None
    return Objects(objects, pages, problems)


def canonical(pdf: bytes) -> bytes:
    """``pdf`` (WeasyPrint's background) rewritten in the form :func:`read` reads: the same
    pages, objects renumbered in the order they are reached from the first page on."""
    from pypdf import PdfReader
    from pypdf.generic import DictionaryObject, IndirectObject, StreamObject

    reader = PdfReader(io.BytesIO(pdf))
    numbers: dict[int, int] = {}  # source object number -> ours
    order: list[Any] = []
    next_number = [3]  # 1: the catalog, 2: the page tree

    def ref(reference: Any) -> int:
        number = numbers.get(reference.idnum)
        if number is None:
            number = numbers[reference.idnum] = next_number[0]
            next_number[0] += 1
            order.append((number, reference.get_object()))
        return number

    def new(value: Any) -> int:
        number = next_number[0]
        next_number[0] += 1
        order.append((number, value))
        return number

    pages = []
    page_numbers = []
    for page in reader.pages:
        resources = page.get("/Resources")
        resources_number = ref(resources) if isinstance(resources, IndirectObject) else new(
            resources.get_object() if resources is not None else {})
        contents = page.get_contents()
        data = contents.get_data() if contents is not None else b""
        content_number = new(_Stream(b"/Filter/FlateDecode", zlib.compress(data, 9)))
        box = b"[" + b" ".join(_number(v) for v in page.mediabox) + b"]"
        pages.append((resources_number, content_number, box.decode("ascii"), _links(page)))
        page_numbers.append(new(_Raw(b"<</Type/Page/Parent 2 0 R/MediaBox%s/Resources %d 0 R"
                                     b"/Contents %d 0 R>>" % (box, resources_number,
                                                              content_number))))
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    entries = []
    done = 0
    objects = [(1, _Raw(b"<</Type/Catalog/Pages 2 0 R>>")),
               (2, _Raw(b"<</Type/Pages/Kids[%s]/Count %d>>" % (
                   b" ".join(b"%d 0 R" % n for n in page_numbers), len(page_numbers))))]
    while done < len(order) or objects:
        if not objects:
            objects.append(order[done])
            done += 1
        number, value = objects.pop(0)
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n" % number)
        dump = _Dump(ref)
        if isinstance(value, _Stream | StreamObject):
            if isinstance(value, _Stream):
                dump.out += value.entries
                data = value.data
            else:
                dump.entries_of(item for item in value.items() if item[0] != "/Length")
                data = value._data if hasattr(value, "_data") else value.get_data()
            out.write(b"<<")
            start = out.tell()
            out.write(dump.out)
            out.write(b"/Length %d>>\nstream\n" % len(data))
            data_start = out.tell()
            out.write(data)
            out.write(b"\nendstream\nendobj\n")
            entries.append([number, start, len(dump.out), data_start, len(data),
                            dump.references, dump.entries])
        else:
            if isinstance(value, _Raw):
                dump.out += value.raw
            elif isinstance(value, DictionaryObject):
                dump.out += b"<<"
                dump.entries_of(value.items())
                dump.out += b">>"
            else:
                dump.value(value)
            start = out.tell()
            out.write(dump.out)
            out.write(b"\nendobj\n")
            entries.append([number, start, len(dump.out), -1, 0, dump.references,
                            dump.entries])
    size = max(offsets) + 1
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    for number in range(1, size):
        out.write(b"%010d 00000 n \n" % offsets[number])
    out.write(b"trailer\n<</Size %d/Root 1 0 R>>\n" % size)
    problems = sorted({problem for _, value in order for problem in _archival_problems(value)})
    index = {"pages": pages, "objects": entries, "pdfa": problems}
    out.write(MARK + json.dumps(index, separators=(",", ":")).encode("ascii") + b"\n")
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def _links(page: Any) -> list[list[Any]]:
    """The links of a page ([x1, y1, x2, y2, URI], corners ordered); raises
    :class:`NotCopied` for anything else the page carries that the composer would drop."""
    from pypdf.generic import ArrayObject, DictionaryObject

    for key, value in page.items():
        if key in _SAME_AS_MEDIA_BOX:
            if [float(v) for v in value] != [float(v) for v in page.mediabox]:
                raise NotCopied(f"a page {key} other than its media box")
        elif key not in _PAGE_ENTRIES:
            raise NotCopied(f"a page entry {key}")
    links: list[list[Any]] = []
    annotations = page.get("/Annots")
    annotations = annotations.get_object() if annotations is not None else ArrayObject()
    for annotation in annotations:
        annotation = annotation.get_object()
        subtype = annotation.get("/Subtype")
        action = annotation.get("/A")
        action = action.get_object() if action is not None else None
        if subtype != "/Link":
            raise NotCopied(f"a {str(subtype).lstrip('/') or 'untyped'} annotation "
                            "(a form field, a comment …)")
        if "/Dest" in annotation:
            target = str(annotation["/Dest"]) if not isinstance(
                annotation["/Dest"], ArrayObject) else ""
            raise NotCopied("a link to a place in the document (href=\"#…\")",
                            f"#{target}" if target else None)
        if "/AA" in annotation:
            raise NotCopied("a link with additional actions (/AA: JavaScript …)")
        if not (isinstance(action, DictionaryObject) and action.get("/S") == "/URI"
                and "/URI" in action and "/Next" not in action):
            kind = str(action.get("/S", "")).lstrip("/") if isinstance(
                action, DictionaryObject) else ""
            raise NotCopied(f"a link with a {kind or 'missing'} action (JavaScript, a "
                            "launch …)")
        x1, y1, x2, y2 = (float(v) for v in annotation["/Rect"])
        raw = action["/URI"]
        uri = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
        if uri.partition(":")[0].lower() not in LINK_SCHEMES:
            raise NotCopied(f"a link to {uri[:60]!r} (only {', '.join(LINK_SCHEMES)} links are "
                            "kept; a javascript: link would run code in a viewer)", uri)
        links.append([min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2), uri])
    return links


def _archival_problems(value: Any) -> list[str]:
    """What ``value`` (one object of a background) holds that PDF/A-2b (ISO 19005-2)
    forbids, or that sheetgen cannot show to be allowed, in words: transparency (soft
    masks, constant alpha below 1, blend modes, transparency groups; 6.4), fonts not
    embedded (6.2.11.4) or without a ToUnicode map, JavaScript and other actions (6.6)."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    if isinstance(value, ArrayObject):
        return [problem for item in value for problem in _archival_problems(item)]
    if not isinstance(value, DictionaryObject):
        return []
    # Direct dictionaries inside (an ExtGState in a resources dictionary); indirect ones are
    # objects of their own, checked as such.
    found = [problem for key, item in value.items() if key != "/Parent"
             for problem in _archival_problems(item)]
    if "/SMask" in value and value.get("/SMask") != "/None":
        found.append("a soft mask (a semi-transparent image or drawing)")
    if value.get("/SMaskInData", 0) not in (0, None):
        found.append("an image with transparency in its data")
    for key in ("/CA", "/ca"):
        alpha = value.get(key, 1)
        if isinstance(alpha, int | float) and alpha < 1:
            found.append("a semi-transparent drawing (opacity below 1)")
    if value.get("/BM", "/Normal") not in ("/Normal", "/Compatible"):
        found.append("a blend mode")
    group = value.get("/Group")
    group = group.get_object() if isinstance(group, IndirectObject) else group
    if isinstance(group, DictionaryObject) and group.get("/S") == "/Transparency":
        found.append("a transparency group")
    if value.get("/Type") == "/FontDescriptor" and not any(
            key in value for key in ("/FontFile", "/FontFile2", "/FontFile3")):
        found.append(f"a font not embedded ({str(value.get('/FontName', '')).lstrip('/')})")
    if value.get("/Type") == "/Font" and value.get("/Subtype") in (
            "/Type0", "/TrueType", "/Type1") and "/ToUnicode" not in value:
        found.append(f"a font without a ToUnicode map "
                     f"({str(value.get('/BaseFont', '')).lstrip('/')})")
    if value.get("/S") in ("/JavaScript", "/Launch") or "/JS" in value or "/AA" in value:
        found.append("JavaScript or another action")
    return found


@dataclass(frozen=True)
class _Stream:
    entries: bytes
    data: bytes


@dataclass(frozen=True)
class _Raw:
    raw: bytes


class _Dump:
    """Serializes pypdf objects (not streams), references renumbered by ``ref`` and every
    string written in hex, noting where each reference (``references``: offset, number, …)
    and each :data:`EDITABLE` entry of the top-level dictionary (``entries``) sits."""

    def __init__(self, ref: Any) -> None:
        self.out = bytearray()
        self.references: list[int] = []
        self.entries: dict[str, tuple[int, int]] = {}
        self._ref = ref

    def entries_of(self, items: Any) -> None:
        """A dictionary's entries (without ``<<``/``>>``), the editable ones' places noted."""
        for key, item in items:
            start = len(self.out)
            self.out += _name(key)
            inner = self._inner(item)
            # After a name, a value that starts with a letter or digit needs a space.
            if bytes(inner.out[:1]) not in (b"/", b"<", b"[", b"("):
                self.out += b" "
            self._append(inner)
            if key in EDITABLE:
                self.entries[str(key)] = (start, len(self.out))

    def value(self, value: Any) -> None:
        from pypdf.generic import (
            ArrayObject,
            ByteStringObject,
            DictionaryObject,
            IndirectObject,
            NameObject,
            TextStringObject,
        )

        if isinstance(value, IndirectObject):
            number = self._ref(value)
            self.references += (len(self.out), number)
            self.out += b"%d 0 R" % number
        elif isinstance(value, DictionaryObject):
            self.out += b"<<"
            entries, self.entries = self.entries, {}
            self.entries_of(value.items())
            self.entries = entries  # only the top-level dictionary's entries are noted
            self.out += b">>"
        elif isinstance(value, ArrayObject):
            self.out += b"["
            for at, item in enumerate(value):
                if at:
                    self.out += b" "
                self.value(item)
            self.out += b"]"
        elif isinstance(value, NameObject):
            self.out += _name(value)
        elif isinstance(value, TextStringObject):
            self.out += b"<" + value.get_original_bytes().hex().upper().encode("ascii") + b">"
        elif isinstance(value, ByteStringObject):
            self.out += b"<" + bytes(value).hex().upper().encode("ascii") + b">"
        else:
            buffer = io.BytesIO()
            value.write_to_stream(buffer)
            self.out += buffer.getvalue()

    def _inner(self, value: Any) -> _Dump:
        inner = _Dump(self._ref)
        inner.value(value)
        return inner

    def _append(self, inner: _Dump) -> None:
        shift = len(self.out)
        self.out += inner.out
        self.references += [item + shift if i % 2 == 0 else item
                            for i, item in enumerate(inner.references)]


def _name(name: str) -> bytes:
    from pypdf.generic import NameObject

    buffer = io.BytesIO()
    NameObject(name).write_to_stream(buffer)
    return buffer.getvalue()


def _number(value: Any) -> bytes:
    number = float(value)
    return b"%d" % number if number.is_integer() else (b"%.4f" % number).rstrip(b"0")
