"""Compose output PDFs with pypdf: backgrounds and stamped values, outline, metadata.

Each background page of a compiled layout becomes one Form XObject per output document, and
every page that uses it draws it by reference (``q /SgBgN Do Q``) beneath the page's stamped
values. A bundle of a thousand sheets of one layout therefore holds that layout's content and
fonts once, and each page adds only its values (design.md §2).

pypdf has no public call to add a free-standing object to a writer, so this module uses
``PdfWriter._add_object``; pypdf is pinned to one major version and the tests cover it.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sheetgen.errors import UsageError
from sheetgen.layout import CompiledLayout


@dataclass(frozen=True)
class OutlineEntry:
    title: str
    page: int
    parent: int | None = None  # index of the parent entry in the list given to finish()


class Composer:
    """Collects pages (background + stamp) into one PDF document."""

    def __init__(self) -> None:
        from pypdf import PdfWriter

        self.writer = PdfWriter()
        self._forms: dict[tuple[str, int], tuple[str, Any]] = {}
        self._draw_calls: dict[str, Any] = {}
        self.pages = 0

    def add(self, layout: CompiledLayout, page: int, stamp_page: Any) -> int:
        """Append ``stamp_page`` drawn over page ``page`` of ``layout``; returns its index."""
        from pypdf.generic import ArrayObject, DictionaryObject, NameObject

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
               metadata: Mapping[str, str] | None = None, identity: bytes = b"") -> bytes:
        """The finished PDF; ``identity`` seeds the document ID (same input, same bytes)."""
        from pypdf.generic import ArrayObject, ByteStringObject

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
        self.writer.page_mode = "/UseOutlines" if outline else "/UseNone"
        digest = hashlib.md5(identity + title.encode(), usedforsecurity=False).digest()
        self.writer._ID = ArrayObject([ByteStringObject(digest), ByteStringObject(digest)])
        out = io.BytesIO()
        self.writer.write(out)
        return out.getvalue()

    def _form(self, layout: CompiledLayout, page: int) -> tuple[str, Any]:
        key = (layout.key, page)
        if key not in self._forms:
            from pypdf.generic import ArrayObject, DecodedStreamObject, NameObject

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
            from pypdf.generic import DecodedStreamObject

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


_readers: dict[str, Any] = {}


def _background_reader(layout: CompiledLayout) -> Any:
    """A parsed reader of the layout's background, kept for the process like the layout.

    Parsing a background (its fonts' width arrays above all) costs more than stamping a
    page, so it is done once per layout, not once per output document.
    """
    reader = _readers.get(layout.key)
    if reader is None:
        from pypdf import PdfReader

        reader = _readers[layout.key] = PdfReader(io.BytesIO(layout.background))
    return reader


def stamp_pages(stamp_pdf: bytes) -> list[Any]:
    """The pages of a stamp document, ready to be handed to :meth:`Composer.add`."""
    from pypdf import PdfReader

    return list(PdfReader(io.BytesIO(stamp_pdf)).pages)
