"""A compiled layout's background as objects ready to copy, read without a PDF library.

WeasyPrint's PDF of a layout is rewritten once, when the layout is compiled
(:func:`canonical`, with pypdf), into a PDF of the same pages in a fixed form: one object
after another (no object streams), every string in hex, each page's resources an object of
their own and its content one compressed stream, and an index of where each object's
dictionary and data are, in a comment line before ``startxref``. It is still an ordinary PDF
(the scans of ``sheetgen receive`` are compared with it through pdfium, the tests read it
with pypdf), and the layout cache stores it as it is.

Reading it back (:func:`read`) is slicing by the index, so composing from a cached layout
imports no PDF library. Because every string is written in hex and names cannot hold spaces,
the only ``N 0 R`` in an object's bytes is a reference: :data:`REFERENCE` finds them all for
the composer to renumber.
"""

from __future__ import annotations

import io
import json
import re
import zlib
from dataclasses import dataclass
from typing import Any

#: Marks the index comment; its version changes whenever the form of the file does.
MARK = b"%sheetgen-background 1 "
#: A reference in an object's bytes (and nothing else, see the module docstring).
REFERENCE = re.compile(rb"(?<![\w.])(\d+) 0 R(?![\w])")


@dataclass(frozen=True)
class Page:
    """A background page: its resources object, its content stream object, its box."""

    resources: int
    content: int
    box: bytes  # the MediaBox array, serialized


@dataclass(frozen=True)
class Objects:
    """The objects of a background: by object number, the dictionary or value (a stream's
    dictionary without ``/Length``) and, for a stream, its data as stored (still encoded)."""

    objects: dict[int, tuple[bytes, bytes | None]]
    pages: tuple[Page, ...]


def read(pdf: bytes) -> Objects | None:
    """The objects of a background written by :func:`canonical`; None for any other PDF
    (or a damaged index)."""
    at = pdf.rfind(MARK)
    if at < 0:
        return None
    try:
        end = pdf.index(b"\n", at)
        index = json.loads(pdf[at + len(MARK):end])
        objects: dict[int, tuple[bytes, bytes | None]] = {}
        for number, start, length, data_start, data_length in index["objects"]:
            if not (start >= 0 and start + length <= at and data_start + data_length <= at):
                return None
            data = pdf[data_start:data_start + data_length] if data_start >= 0 else None
            objects[int(number)] = (pdf[start:start + length], data)
        pages = tuple(Page(int(resources), int(content), str(box).encode("ascii"))
                      for resources, content, box in index["pages"])
    except (ValueError, KeyError, TypeError):
        return None
    if not all(page.resources in objects and page.content in objects for page in pages):
        return None
    return Objects(objects, pages)


def canonical(pdf: bytes) -> bytes:
    """``pdf`` (WeasyPrint's background) rewritten in the form :func:`read` reads: the same
    pages, objects renumbered in the order they are reached from the first page on."""
    from pypdf import PdfReader
    from pypdf.generic import IndirectObject, StreamObject

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
        pages.append((resources_number, content_number, box.decode("ascii")))
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
        if isinstance(value, _Stream | StreamObject):
            if isinstance(value, _Stream):
                head, data = value.entries, value.data
            else:
                head = b"".join(_name(key) + _separated(_dump(item, ref))
                                for key, item in value.items() if key != "/Length")
                data = value._data if hasattr(value, "_data") else value.get_data()
            out.write(b"<<")
            start = out.tell()
            out.write(head)
            out.write(b"/Length %d>>\nstream\n" % len(data))
            data_start = out.tell()
            out.write(data)
            out.write(b"\nendstream\nendobj\n")
            entries.append([number, start, len(head), data_start, len(data)])
        else:
            body = value.raw if isinstance(value, _Raw) else _dump(value, ref)
            start = out.tell()
            out.write(body)
            out.write(b"\nendobj\n")
            entries.append([number, start, len(body), -1, 0])
    size = max(offsets) + 1
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    for number in range(1, size):
        out.write(b"%010d 00000 n \n" % offsets[number])
    out.write(b"trailer\n<</Size %d/Root 1 0 R>>\n" % size)
    index = {"pages": pages, "objects": entries}
    out.write(MARK + json.dumps(index, separators=(",", ":")).encode("ascii") + b"\n")
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


@dataclass(frozen=True)
class _Stream:
    entries: bytes
    data: bytes


@dataclass(frozen=True)
class _Raw:
    raw: bytes


def _dump(value: Any, ref: Any) -> bytes:
    """A pypdf object (not a stream) serialized, references renumbered by ``ref`` and every
    string written in hex."""
    from pypdf.generic import (
        ArrayObject,
        ByteStringObject,
        DictionaryObject,
        IndirectObject,
        NameObject,
        TextStringObject,
    )

    if isinstance(value, IndirectObject):
        return b"%d 0 R" % ref(value)
    if isinstance(value, DictionaryObject):
        return b"<<" + b"".join(_name(key) + _separated(_dump(item, ref))
                                for key, item in value.items()) + b">>"
    if isinstance(value, ArrayObject):
        return b"[" + b" ".join(_dump(item, ref) for item in value) + b"]"
    if isinstance(value, NameObject):
        return _name(value)
    if isinstance(value, TextStringObject):
        return b"<" + value.get_original_bytes().hex().upper().encode("ascii") + b">"
    if isinstance(value, ByteStringObject):
        return b"<" + bytes(value).hex().upper().encode("ascii") + b">"
    buffer = io.BytesIO()
    value.write_to_stream(buffer)
    return buffer.getvalue()


def _name(name: str) -> bytes:
    from pypdf.generic import NameObject

    buffer = io.BytesIO()
    NameObject(name).write_to_stream(buffer)
    return buffer.getvalue()


def _separated(data: bytes) -> bytes:
    # After a name, a value that starts with a letter or digit needs a space between them.
    return data if data[:1] in (b"/", b"<", b"[", b"(") else b" " + data


def _number(value: Any) -> bytes:
    number = float(value)
    return b"%d" % number if number.is_integer() else (b"%.4f" % number).rstrip(b"0")
