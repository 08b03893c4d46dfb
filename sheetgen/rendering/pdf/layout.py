"""Compile a page layout once: WeasyPrint lays out a template with blank values, giving the
background pages (PDF) and the field map: where each value goes, at what size.

The background is stored in the form the composer copies without a PDF library
(:func:`~sheetgen.rendering.pdf.background.canonical`), and its fonts that are subsets of a
bundled face are recognised once, here (:func:`identify_fonts`, :class:`BackgroundFonts`):
every output document then points them, and the stamp, at one font program per face.

This is the "compile" half of compile-once/stamp-many (design.md §2). Elements of a template
marked ``data-field="host.name"`` become :class:`FieldBox` es, elements marked
``data-region="remarks"`` become :class:`Region` s (blank space a long value may continue in),
elements marked ``data-area="signature"`` (``seal``, ``fingerprint``, ``date``) become the
layout's ``areas``: where the applicant signs, seals, presses a fingerprint or (must not) date
the sheet, which ``sheetgen receive`` checks on the scans of signed sheets.
Field attributes a template may set:

``data-field``            context path of the value (``website.domains``)
``data-kind``             ``text`` (default) or ``qr`` (a QR code of the value, drawn square)
``data-min-size``         smallest font size in pt the value may shrink to (default: the
                          field's entry in ``rendering.fields.MIN_SIZES``, else 7)
``data-overflow``         name of a region the value may continue in when it does not fit
``data-overflow-caption`` text printed before the continuation (``网站域名（续）：``)
``data-fallback``         context path of a shorter value to print when this one cannot fit

The font size and alignment come from the element's computed CSS.

A compiled layout never holds record data: :func:`get_layout` blanks the context first
(:func:`~sheetgen.rendering.templating.blank_context`: only ``flags``, ``rules`` and the names of
the other keys remain), keys the layout by exactly that blank context, and compiles from it
alone, so one record can never influence the background of another. The layout is checked as
it is compiled, each problem a :class:`~sheetgen.errors.TemplateError` naming the file and
line to change: every page A4 portrait, every ``data-field`` and ``data-fallback`` a path of
the context, every field and region laid out (not ``display: none``) and on its page, a
``data-min-size`` a positive number.

Geometry is read from WeasyPrint's layout tree (``Page._page_box`` and its descendants),
which is internal API: WeasyPrint is pinned to one major version in pyproject.toml and the
extraction is covered by tests.

Compiled layouts are cached per process, and on disk (``$SHEETGEN_CACHE_DIR``, else
``$XDG_CACHE_HOME/sheetgen``, else ``~/.cache/sheetgen``; ``SHEETGEN_CACHE_DIR=off`` disables
it) under a key covering sheetgen's and WeasyPrint's versions, every file of the template set
and the static context. A process whose layouts are all cached never imports WeasyPrint, which
is most of a cold ``sheetgen fill``'s time. A cache entry that is missing, unreadable,
malformed or not as it was stored (a SHA-256 covers the whole entry: field map and background)
is simply compiled again. A cache folder or entry another user could have written is not used
at all (a warning says so, once; layouts are then compiled in memory): a replaced field map
would print one value in another's box.

**Precompiled layouts.** The layouts of the bundled templates and rules are also shipped with
the package, in ``sheetgen/_precompiled/`` (built by ``tools/precompile.py``: by the wheel's
build hook, and by ``make setup`` for a checkout), so that a first run on a new machine does
not wait for WeasyPrint either. They are looked up first, before the user's cache, and are
read-only: the cache code never writes or deletes them. Besides its key,
each entry is valid only under the :func:`engine_stamp` it was built with (WeasyPrint's
version, the sheetgen code that makes a layout, the bundled fonts); when the stamp differs, or
``SHEETGEN_PRECOMPILED=off``, none of them is used.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import hashlib
import io
import json
import logging
import math
import os
import re
import struct
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sheetgen import __version__, resources
from sheetgen.errors import FontError, SheetgenError, TemplateError
from sheetgen.rendering import fonts
from sheetgen.rendering.fields import (
    STATIC_KEYS,
    Box,
    FieldBox,
    Region,
    check_min_size,
    min_size,
)
from sheetgen.rendering.pdf.background import NotCopied, canonical
from sheetgen.rendering.templating import TemplateSet, blank_context, blank_paths

#: CSS px to PDF points.
PX = 0.75
#: ISO A4 portrait in points (210 × 297 mm), and how far a page may be off it (rounding).
A4 = (210 / 25.4 * 72, 297 / 25.4 * 72)
A4_TOLERANCE = 0.5
#: What ``data-kind`` may say.
KINDS = ("text", "qr")
#: Changes whenever what a compiled layout holds changes, so older cache entries are ignored.
FORMAT = 5


@dataclass(frozen=True)
class BackgroundFonts:
    """The fonts of a background that are subsets of a bundled face (:func:`identify_fonts`),
    by object number in the background PDF: what lets every output document point them all
    at one program per face (:mod:`~.compose`).
    """

    #: Face role -> ``head.checkSumAdjustment`` of the font file they were checked against.
    faces: Mapping[str, int]
    #: ``FontFile2`` -> (face role, the glyph ids it holds).
    programs: Mapping[int, tuple[str, frozenset[int]]]
    #: Their font descriptors (a ``/CIDSet`` is dropped), CID fonts (their ``/CIDToGIDMap``
    #: becomes the face's map) and Type0 fonts, each with its face: every one of them is
    #: given the name of the face's one program in the output document.
    descriptors: Mapping[int, str]
    cid_fonts: Mapping[int, str]
    type0_fonts: Mapping[int, str] = field(default_factory=dict)

    def current(self) -> bool:
        """Whether the bundled font files are still those the fonts were checked against."""
        try:
            return all(fonts.face(role).checksum == value for role, value in self.faces.items())
        except FontError:
            return False

    def as_json(self) -> dict[str, Any]:
        return {"faces": dict(self.faces),
                "programs": [[number, role, sorted(glyphs)]
                             for number, (role, glyphs) in sorted(self.programs.items())],
                "descriptors": sorted([number, role]
                                      for number, role in self.descriptors.items()),
                "cid_fonts": sorted([number, role] for number, role in self.cid_fonts.items()),
                "type0_fonts": sorted([number, role]
                                      for number, role in self.type0_fonts.items())}

    @classmethod
    def from_json(cls, data: Any) -> BackgroundFonts | None:
        """The fonts stored by :meth:`as_json`; None when ``data`` is missing or malformed."""
        try:
            return cls({str(role): int(value) for role, value in data["faces"].items()},
                       {int(number): (str(role), frozenset(int(g) for g in glyphs))
                        for number, role, glyphs in data["programs"]},
                       {int(number): str(role) for number, role in data["descriptors"]},
                       {int(number): str(role) for number, role in data["cid_fonts"]},
                       {int(number): str(role) for number, role in data["type0_fonts"]})
        except (TypeError, KeyError, ValueError, AttributeError):
            return None


@dataclass(frozen=True)
class CompiledLayout:
    """One layout: background pages and the boxes values are stamped into."""

    key: str
    template: str
    background: bytes
    page_sizes: tuple[tuple[float, float], ...]
    fields: tuple[FieldBox, ...]
    regions: Mapping[str, Region] = field(default_factory=dict)
    areas: Mapping[str, Box] = field(default_factory=dict)  # data-area name -> its box
    #: The background's fonts of the bundled faces, recognised when it was compiled.
    fonts: BackgroundFonts | None = None

    @property
    def page_count(self) -> int:
        return len(self.page_sizes)


def layout_key(templates: TemplateSet, template: str, context: Mapping[str, Any]) -> str:
    """Identify a layout: versions, the template set's content, the template, and the blank
    context it is compiled from (the static keys, and the paths of the blanked values)."""
    blank = blank_context(context, STATIC_KEYS)
    static = {k: blank.get(k) for k in sorted(STATIC_KEYS)}
    payload = json.dumps([FORMAT, __version__, _weasyprint_version(), templates.digest, template,
                          static, sorted(blank_paths(blank))],
                         sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


@functools.cache
def _weasyprint_version() -> str:
    # From the installed metadata: importing WeasyPrint just to read its version would cost
    # what the disk cache saves.
    from importlib.metadata import version

    return version("weasyprint")


_cache: dict[str, CompiledLayout] = {}
_lock = threading.Lock()


def get_layout(templates: TemplateSet, template: str, context: Mapping[str, Any],
               *, max_pages: int = 1) -> CompiledLayout:
    """The compiled layout of ``template`` for this context's flags, compiled on first use."""
    context = blank_context(context, STATIC_KEYS)  # from here on, no record data
    key = layout_key(templates, template, context)
    with _lock:
        cached = _cache.get(key)
    if cached is None:
        # Reading needs no lock (entries are written atomically); only compiling does.
        # The shipped layouts first: read-only and part of the package, they are preferred
        # to the user's cache whenever one matches.
        cached = _load_shipped(key, template) or _load(key, template)
        if cached is None or cached.page_count > max_pages:
            with _compiling(key):
                cached = _load(key, template)  # another process may just have compiled it
                if cached is None or cached.page_count > max_pages:
                    cached = compile_layout(templates, template, context, key=key,
                                            max_pages=max_pages)
                    _store(cached)
        with _lock:
            cached = _cache.setdefault(key, cached)
    return cached


def cached_layout(prefix: str) -> CompiledLayout | None:
    """A layout compiled before whose key starts with ``prefix``: from this process's cache,
    else from the disk cache; None when neither holds one (or more than one matches)."""
    prefix = prefix.lower()
    with _lock:
        found = [layout for key, layout in _cache.items() if key.startswith(prefix)]
    if len(found) == 1:
        return found[0]
    if found or not prefix.isalnum():
        return None
    shipped = [(key, template) for key, template in _shipped_index().items()
               if key.startswith(prefix)]
    if len(shipped) == 1 and (layout := _load_shipped(*shipped[0])) is not None:
        return layout  # the package's own, as get_layout prefers it
    directory = cache_dir()
    if directory is None or not _trusted(directory):
        return None
    try:
        metas = sorted(directory.glob(f"{prefix}*.json"))
        if len(metas) == 1:
            template = json.loads(_read_entry(metas[0], check=True))["template"]
            return _load(metas[0].stem, str(template))
    except _Untrusted as refused:
        _warn_untrusted(str(refused))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


@contextlib.contextmanager
def _compiling(key: str) -> Iterator[None]:
    """Hold the cache entry's lock file while looking for it and compiling it.

    The workers of a batch often need the same new layout at the same moment; with the lock,
    one compiles it and the others wait and load it from disk instead of compiling it too.
    Without a disk cache (or on a system without ``flock``) there is nothing to share.
    """
    directory = cache_dir()
    if directory is None or os.name != "posix":
        yield
        return
    import fcntl

    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # A folder others can write is not used (another user could hold the lock for ever).
        handle = (directory / f"{key}.lock").open("a") if _trusted(directory) else None
    except OSError:
        handle = None  # an unwritable cache only costs time
    if handle is None:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def cache_dir() -> Path | None:
    """The on-disk layout cache directory, or None when disabled."""
    configured = os.environ.get("SHEETGEN_CACHE_DIR")
    if configured is not None:
        return None if configured.lower() in ("", "0", "off", "no") else Path(configured)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    if not base.is_absolute():  # no usable home (Path.home() can return "~"): no disk cache
        return None
    return base / "sheetgen" / "layouts"


def _load(key: str, template: str, folder: Path | None = None) -> CompiledLayout | None:
    """The layout stored under ``key`` in ``folder`` (default: the user's disk cache), or None
    when it is missing, unreadable, malformed, not whole or not as it was stored (the
    :func:`entry_digest` covers the field map as well as the background), or when the user's
    cache folder or the entry's files could have been written by another user
    (:func:`_trusted`)."""
    user_cache = folder is None
    directory = folder or cache_dir()
    if directory is None or (user_cache and not _trusted(directory)):
        return None
    try:
        meta = json.loads(_read_entry(directory / f"{key}.json", check=user_cache))
        background = _read_entry(directory / f"{key}.pdf", check=user_cache)
        if meta["key"] != key or entry_digest(meta, background) != meta["entry_sha256"]:
            return None
        return CompiledLayout(
            key, template, background,
            tuple((float(w), float(h)) for w, h in meta["page_sizes"]),
            tuple(FieldBox(**{**f, "box": Box(**f["box"])}) for f in meta["fields"]),
            {r["name"]: Region(r["name"], Box(**r["box"]), r["font_size"])
             for r in meta["regions"]},
            {name: Box(**box) for name, box in meta["areas"].items()},
            BackgroundFonts.from_json(meta.get("fonts")))
    except _Untrusted as refused:
        _warn_untrusted(str(refused))
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store(layout: CompiledLayout, folder: Path | None = None) -> None:
    """Keep ``layout`` in ``folder`` (default: the user's disk cache; the cache code never
    passes the shipped folder, which only tools/precompile.py writes). A user cache folder
    others can write is left alone: the layout lives in this process's memory only."""
    user_cache = folder is None
    directory = folder or cache_dir()
    if directory is None:
        return
    from sheetgen.output import write_atomic

    meta: dict[str, Any] = {
        "key": layout.key, "template": layout.template,
        "page_sizes": layout.page_sizes,
        "fields": [dataclasses.asdict(f) for f in layout.fields],
        "regions": [dataclasses.asdict(r) for r in layout.regions.values()],
        "areas": {name: dataclasses.asdict(box) for name, box in layout.areas.items()},
        "fonts": layout.fonts.as_json() if layout.fonts is not None else None}
    meta = json.loads(json.dumps(meta, ensure_ascii=False))  # as _load will read it
    meta["entry_sha256"] = entry_digest(meta, layout.background)
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if user_cache and not _trusted(directory):
            return
        names = (f"{layout.key}.json", f"{layout.key}.pdf")
        if user_cache:  # new files, this user's with the umask's mode (not an old entry's)
            for name in names:
                with contextlib.suppress(FileNotFoundError):
                    (directory / name).unlink()
        # The background first: a meta file never points at a missing or partial PDF.
        write_atomic(directory / names[1], layout.background, follow_symlinks=False)
        write_atomic(directory / names[0], json.dumps(meta, ensure_ascii=False).encode(),
                     follow_symlinks=False)
    except (OSError, SheetgenError):
        pass  # a cache that cannot be written only costs time


def entry_digest(meta: Mapping[str, Any], background: bytes) -> str:
    """The SHA-256 of a whole cache entry: its meta file's content (the field map, regions,
    areas, fonts, page sizes; all but this digest) and the background PDF.

    It tells an entry as it was stored from one damaged or edited since: a field pointed at
    another value is as wrong as a changed background. (Against a user who can write the
    folder a digest alone proves nothing: :func:`_trusted` keeps such folders out.)
    """
    content = {k: v for k, v in meta.items() if k != "entry_sha256"}
    sha = hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False,
                                    separators=(",", ":")).encode())
    sha.update(b"\0")
    sha.update(background)
    return sha.hexdigest()


class _Untrusted(Exception):
    """A cache folder or entry another user could have written (the message says why)."""


def _writable_by_others(info: os.stat_result) -> str | None:
    """Why a file or folder with ``info`` could have been written by another user, or None.

    Owned by this user (or root), and writable by nobody else: not by "others", and by its
    group only when that is this user's own private group (Debian's and Fedora's umask 002).
    """
    import stat

    if info.st_uid not in (os.geteuid(), 0):
        return f"owned by another user (uid {info.st_uid})"
    if info.st_mode & stat.S_IWOTH:
        return f"writable by every user (mode {stat.S_IMODE(info.st_mode):04o})"
    if info.st_mode & stat.S_IWGRP and not _private_group(info.st_gid):
        return f"writable by its group (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


@functools.cache
def _private_group(gid: int) -> bool:
    """Whether ``gid`` is this user's own group: named as the user, with no other members."""
    try:
        import grp
        import pwd

        user = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(gid)
    except (ImportError, KeyError):
        return False
    return group.gr_name == user and set(group.gr_mem) <= {user}


def _trusted(directory: Path) -> bool:
    """Whether the user's cache folder is safe to read layouts from and write them to.

    A layout says where each value is printed: whoever can replace one makes every later
    sheet print, say, the provider's name in the applicant's box. A folder another user can
    write (or owns) is refused with a warning (once), and layouts are compiled in memory.
    A folder that does not exist yet is fine (it is created ``0700``). Outside POSIX there
    are no such modes to read.
    """
    if os.name != "posix":
        return True
    try:
        info = directory.stat()
    except OSError:
        return True  # missing: nothing to read; _store creates it as this user's alone
    why = _writable_by_others(info)
    if why is not None:
        _warn_untrusted(f"the layout cache folder {directory} is {why}")
        return False
    return True


def _read_entry(path: Path, *, check: bool) -> bytes:
    """The bytes of one entry file; with ``check``, refused (:class:`_Untrusted`) when the
    file could have been written by another user (checked on the open file itself)."""
    with path.open("rb") as handle:
        if check and os.name == "posix":
            why = _writable_by_others(os.fstat(handle.fileno()))
            if why is not None:
                raise _Untrusted(f"the layout cache entry {path} is {why}")
        return handle.read()


_warned: set[str] = set()


def _warn_untrusted(why: str) -> None:
    """``sheetgen: warning: …`` on stderr, once per process and reason."""
    import sys

    with _lock:
        if why in _warned:
            return
        _warned.add(why)
    with contextlib.suppress(OSError, ValueError):
        print(f"sheetgen: warning: {why}: not used (another user could change what is printed "
              "where); layouts are compiled in memory. Give SHEETGEN_CACHE_DIR a folder only "
              "you can write (chmod go-w), or SHEETGEN_CACHE_DIR=off", file=sys.stderr)


# --- precompiled layouts, shipped with the package -------------------------------------------

#: The file of the shipped folder that lists its layouts and the stamp they were built under.
SHIPPED_INDEX = "index.json"
#: What a layout is made by besides its key (the template set's files, the static context and
#: WeasyPrint's version): these modules of sheetgen, relative to the package, and the fonts.
ENGINE_SOURCES = ("rendering/pdf/layout.py", "rendering/pdf/background.py", "rendering/fields.py",
                  "rendering/templating.py", "rendering/fonts.py")


def shipped_dir() -> Path | None:
    """The folder of precompiled layouts inside the package, or None when they are turned off
    (``SHEETGEN_PRECOMPILED=off``)."""
    if os.environ.get("SHEETGEN_PRECOMPILED", "").lower() in ("0", "off", "no"):
        return None
    return Path(__file__).resolve().parents[2] / "_precompiled" / "layouts"


@functools.cache
def engine_stamp() -> str:
    """A hash of everything besides :func:`layout_key` that goes into a compiled layout.

    The key names the inputs (templates, static context, versions); a layout is also made by
    sheetgen's code (compiling, fitting sizes, rendering the template, the @font-face rules)
    and by the bundled font files, which a checkout can change without a new version number.
    Each font enters by its size and its first 4 KB, which hold the table directory: a
    checksum of every table, so any change to a glyph changes it, without hashing 26 MB.
    """
    from sheetgen.resources import FONT_FILES, fonts_dir

    package = Path(__file__).resolve().parents[2]
    sha = hashlib.sha256(json.dumps([FORMAT, __version__, _weasyprint_version()]).encode())
    for name in ENGINE_SOURCES:
        sha.update(f"\0{name}\0".encode())
        sha.update((package / name).read_bytes())
    for name in sorted(FONT_FILES.values()):
        path = fonts_dir() / name
        with contextlib.suppress(OSError), path.open("rb") as font:
            sha.update(f"\0{name}\0{path.stat().st_size}\0".encode())
            sha.update(font.read(4096))
    return sha.hexdigest()[:24]


@functools.cache
def _shipped_index() -> dict[str, str]:
    """key → template of the shipped layouts valid under this :func:`engine_stamp`; empty when
    there are none, they are turned off, or they were built by other code or fonts."""
    directory = shipped_dir()
    if directory is None:
        return {}
    try:
        index = json.loads((directory / SHIPPED_INDEX).read_text("utf-8"))
        if index["stamp"] != engine_stamp():
            return {}
        return {str(k): str(v) for k, v in index["layouts"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _load_shipped(key: str, template: str) -> CompiledLayout | None:
    """The precompiled layout of ``key``, when the package ships a valid one."""
    directory = shipped_dir()
    if directory is None or _shipped_index().get(key) != template:
        return None
    return _load(key, template, directory)


def compile_layout(templates: TemplateSet, template: str, context: Mapping[str, Any], *,
                   key: str, max_pages: int = 1) -> CompiledLayout:
    """Lay ``template`` out with blank values; return its background PDF and field map.

    ``context`` is blanked first (a no-op when :func:`get_layout` already did), so whatever a
    caller passes, the template sees no value.
    """
    context = blank_context(context, STATIC_KEYS)
    known = _known_paths(context)
    html = templates.render(template, context)
    document, root = _weasyprint_layout(html, templates, template)
    for number, page in enumerate(document.pages):  # a wrong page size also adds pages
        _check_a4(templates, template, number, page.width * PX, page.height * PX)
    if len(document.pages) > max_pages:
        raise TemplateError(
            f"template {template} lays out on {len(document.pages)} pages before any value is "
            f"added; it must fit on {max_pages}",
            hint="reduce fixed heights or margins in the template's CSS")
    fields: list[FieldBox] = []
    regions: dict[str, Region] = {}
    areas: dict[str, Box] = {}
    sizes = []
    laid_out: set[int] = set()
    for number, page in enumerate(document.pages):
        page_width, page_height = page.width * PX, page.height * PX
        sizes.append((page_width, page_height))
        for box, element in _marked_boxes(page._page_box):
            laid_out.add(id(element))
            rect = Box(number, box.content_box_x() * PX,
                       page_height - (box.content_box_y() + box.height) * PX,
                       box.width * PX, box.height * PX)
            _check_on_page(templates, template, element, rect, page_width, page_height)
            font_size = float(box.style["font_size"]) * PX
            if element.get("data-area"):
                areas[element.get("data-area")] = rect
                continue
            if not (math.isfinite(font_size) and font_size > 0):
                raise TemplateError(f"template {_where(templates, template, element)}: the "
                                    "font size of a field or region must be above 0")
            if element.get("data-region"):
                regions[element.get("data-region")] = Region(
                    element.get("data-region"), rect, font_size)
                continue
            path = element.get("data-field")
            if "".join(element.itertext()).strip():
                raise TemplateError(
                    f"template {_where(templates, template, element)}: the box of {path} holds "
                    "text of its own; a data-field element may contain only its value")
            fields.append(FieldBox(
                path=_known(templates, template, element, "data-field", known),
                box=rect, kind=_kind(templates, template, element), font_size=font_size,
                min_size=_min_size(templates, template, element),
                align=_align(box.style["text_align_all"]),
                overflow=element.get("data-overflow"),
                overflow_caption=element.get("data-overflow-caption", ""),
                fallback=(_known(templates, template, element, "data-fallback", known)
                          if element.get("data-fallback") is not None else None)))
    _check_all_laid_out(templates, template, root, laid_out)
    for f in fields:
        if f.overflow and f.overflow not in regions:
            raise TemplateError(f"template {template}: field {f.path} continues in region "
                                f"{f.overflow!r}, which the template does not define")
    # In the form the composer copies without a PDF library (see the background module).
    try:
        background = canonical(document.write_pdf())
    except NotCopied as exc:  # refused, never dropped silently
        where = templates.locate(re.escape(exc.written), template) if exc.written else template
        raise TemplateError(
            f"template {where}: the page holds {exc.what}, which sheetgen does not copy into "
            "its PDFs", hint="remove it from the template; links to web addresses "
            "(href=\"https://…\") are kept") from None
    return CompiledLayout(key, template, background, tuple(sizes), tuple(fields), regions,
                          areas, identify_fonts(background))


def _known_paths(context: Mapping[str, Any]) -> frozenset[str]:
    """The paths a field may print: every blanked value, and every static text."""
    static = set()
    stack: list[tuple[str, Any]] = [(k, context[k]) for k in STATIC_KEYS if k in context]
    while stack:
        path, value = stack.pop()
        if isinstance(value, Mapping):
            stack.extend((f"{path}.{k}", v) for k, v in value.items())
        elif isinstance(value, str):
            static.add(path)
    return frozenset(blank_paths(context)) | static


def _where(templates: TemplateSet, template: str, element: Any) -> str:
    """``file line N`` of an element marked data-field or data-region, by its attribute."""
    for attribute in ("data-field", "data-region"):
        value = element.get(attribute)
        if value is not None:
            return templates.locate(
                rf"{attribute}\s*=\s*[\"']?{re.escape(value)}(?=[\"'\s/>])", template)
    return template


def _known(templates: TemplateSet, template: str, element: Any, attribute: str,
           known: frozenset[str]) -> str:
    """The context path an attribute names, if the context has it; else TemplateError."""
    path: str = element.get(attribute)
    if path not in known:
        raise TemplateError(
            f"template {_where(templates, template, element)}: {attribute}=\"{path}\" is not a "
            "value of the context, so nothing would be printed there",
            hint="see templates/README.md for the paths a template may print")
    return path


def _kind(templates: TemplateSet, template: str, element: Any) -> str:
    kind: str = element.get("data-kind", "text")
    if kind not in KINDS:
        raise TemplateError(f"template {_where(templates, template, element)}: "
                            f"data-kind=\"{kind}\" is not one of {', '.join(KINDS)}")
    return kind


def _check_a4(templates: TemplateSet, template: str, number: int, width: float,
              height: float) -> None:
    """Every page of a layout is A4 portrait (contract.md §2)."""
    if abs(width - A4[0]) <= A4_TOLERANCE and abs(height - A4[1]) <= A4_TOLERANCE:
        return
    where = templates.locate(r"@page[^{]*\{[^}]*?(?P<at>\bsize\s*:)", template)
    shown = (f"{width / 72 * 25.4:.1f} × {height / 72 * 25.4:.1f} mm"
             if math.isfinite(width * height) and width * height < 1e12 else "of no usable size")
    raise TemplateError(
        f"template {where}: page {number + 1} is {shown}; a sheet must be A4 portrait "
        "(210 × 297 mm)", hint="use @page { size: A4 } (or 210mm 297mm)")


def _check_on_page(templates: TemplateSet, template: str, element: Any, rect: Box,
                   page_width: float, page_height: float) -> None:
    """A field or region has an area, inside its page: a value drawn off the page is lost."""
    inside = (rect.width > 0 and rect.height > 0 and rect.x >= -A4_TOLERANCE
              and rect.y >= -A4_TOLERANCE and rect.x + rect.width <= page_width + A4_TOLERANCE
              and rect.y + rect.height <= page_height + A4_TOLERANCE)
    if not inside:
        raise TemplateError(
            f"template {_where(templates, template, element)}: the box of "
            f"{element.get('data-field') or element.get('data-region')} is "
            + ("empty" if rect.width <= 0 or rect.height <= 0 else "not on its page")
            + f" ({rect.width:.1f} × {rect.height:.1f} pt at {rect.x:.1f}, {rect.y:.1f})",
            hint="give the box a width and a height inside the page")


def _check_all_laid_out(templates: TemplateSet, template: str, root: Any,
                        laid_out: set[int]) -> None:
    """Every element marked data-field or data-region made a box: one hidden with
    ``display: none`` (or inside a hidden element) would silently print nothing."""
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if (element.get("data-field") or element.get("data-region")) and \
                id(element) not in laid_out:
            name = element.get("data-field") or element.get("data-region")
            raise TemplateError(
                f"template {_where(templates, template, element)}: the box of {name} is not "
                "laid out (display: none, or inside a hidden element), so its value would "
                "not be printed", hint="every data-field box must be visible on the page")


def _marked_boxes(root: Any) -> Iterator[tuple[Any, Any]]:
    """Boxes generated by elements with data-field, data-region or data-area, the principal
    box once."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        box = stack.pop()
        element = getattr(box, "element", None)
        if (element is not None and id(element) not in seen
                and (element.get("data-field") or element.get("data-region")
                     or element.get("data-area"))):
            seen.add(id(element))
            yield box, element
        stack.extend(reversed(getattr(box, "children", ()) or ()))


def _min_size(templates: TemplateSet, template: str, element: Any) -> float:
    raw = element.get("data-min-size")
    declared = None if raw is None else check_min_size(
        raw, f"template {_where(templates, template, element)}", element.get("data-field"),
        "data-min-size")
    return min_size(element.get("data-field"), declared)


def _align(text_align: str) -> str:
    return {"center": "center", "right": "right", "end": "right"}.get(text_align, "left")


class _WeasyLog(logging.Handler):
    """Collects WeasyPrint's warnings during a compile: in a template they are errors."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _weasyprint_render(html: str, base: Path, template: str) -> Any:
    """The laid-out document of ``html`` (a template rendered, its files under ``base``)."""
    return _weasyprint_layout(html, TemplateSet(base), template)[0]


def _weasyprint_layout(html: str, templates: TemplateSet, template: str) -> tuple[Any, Any]:
    """The laid-out document of ``html``, and the root of its element tree."""
    from weasyprint import HTML

    base = templates.root
    fetcher = _bundled_only_fetcher(base)
    font_config, fonts_css = _fonts()
    logger = logging.getLogger("weasyprint")
    handler = _WeasyLog()
    logger.addHandler(handler)
    previous_propagate = logger.propagate
    logger.propagate = False  # reported below as a TemplateError instead
    try:
        with _weasy_lock:
            source = HTML(string=html, base_url=str(base) + "/", url_fetcher=fetcher)
            try:
                document = source.render(stylesheets=[fonts_css], font_config=font_config)
            except SheetgenError:
                raise
            except Exception as exc:  # WeasyPrint itself failed on what the template asks
                raise _layout_failure(templates, template, source, exc) from None
    finally:
        logger.removeHandler(handler)
        logger.propagate = previous_propagate
    if handler.messages:
        where = template
        # Name the line that asked for a refused file, when the URL (or its file name) is
        # written in a template; a relative URL reaches here made absolute.
        candidates = [w for url in fetcher.refused
                      for w in (url, url.rstrip("/").rpartition("/")[2]) if w]
        for written in candidates:
            found = templates.locate(re.escape(written), template)
            if " line " in found:
                where = found
                break
        raise TemplateError(f"template {where}: " + "; ".join(handler.messages[:5]))
    return document, source.etree_element


def _layout_failure(templates: TemplateSet, template: str, source: Any,
                    exc: Exception) -> TemplateError:
    """The TemplateError for a template WeasyPrint cannot lay out (a page of no size makes it
    fail with an IndexError). Laid out again on A4: if that works, the page size was the cause.
    """
    from weasyprint import CSS

    font_config, fonts_css = _fonts()
    try:
        source.render(stylesheets=[fonts_css, CSS(string="@page { size: A4 !important }")],
                      font_config=font_config)
    except Exception:  # something else in the template is the cause: said below
        return TemplateError(f"template {template} cannot be laid out: {type(exc).__name__}",
                             hint="simplify its CSS; see templates/README.md")
    where = templates.locate(r"@page[^{]*\{[^}]*?(?P<at>\bsize\s*:)", template)
    return TemplateError(f"template {where}: the page size cannot be laid out; a sheet must be "
                         "A4 portrait (210 × 297 mm)",
                         hint="use @page { size: A4 } (or 210mm 297mm)")


# WeasyPrint is not documented as thread-safe; one layout at a time per process.
_weasy_lock = threading.Lock()


@functools.cache
def _fonts() -> tuple[Any, Any]:
    """The process's FontConfiguration and the parsed @font-face stylesheet, made once.

    WeasyPrint uses @font-face fonts only when the same FontConfiguration goes to CSS() and
    render(); and parsing the rules copies each font file (26 MB in all) into a temporary
    directory for fontconfig, so the stylesheet is parsed once per process, not per render.
    """
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    from sheetgen import scratch

    font_config = FontConfiguration()
    # WeasyPrint's copies of the fonts go into sheetgen's scratch folder, which is removed
    # on every way out, batch workers and killed runs included (see sheetgen.scratch);
    # WeasyPrint's own mkdtemp folder would outlive them.
    font_config._folder = scratch.subfolder("weasyprint-fonts")
    css = CSS(string=fonts.font_face_css(), font_config=font_config,
              url_fetcher=_bundled_only_fetcher(resources.fonts_dir()))
    # Let the configuration delete its font copies while the interpreter is still whole;
    # left to the end of shutdown, its __del__ finds its helpers already torn down.
    atexit.register(_fonts.cache_clear)
    return font_config, css


def _bundled_only_fetcher(base: Path) -> Any:
    """A URL fetcher serving only files of the template set and the bundled fonts.

    Values never reach WeasyPrint (they are blank when a layout is compiled), so this guards
    against templates, not data: a template cannot make sheetgen read other files or go online.
    """
    from weasyprint.urls import URLFetcher

    allowed = [base.resolve(), resources.fonts_dir().resolve()]

    class BundledOnlyFetcher(URLFetcher):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("data:"):
                return super().fetch(url, headers)
            if url.startswith("file://"):
                from urllib.parse import unquote, urlsplit

                path = Path(unquote(urlsplit(url).path)).resolve()
                # Regular files only: a FIFO would block the read forever.
                if any(path.is_relative_to(root) for root in allowed) and path.is_file():
                    return super().fetch(url, headers)
            self.refused.append(url)
            raise ValueError(f"sheetgen templates may only load bundled files, not {url}")

    return BundledOnlyFetcher(allowed_protocols=("file", "data"))


# --- the background's fonts of the bundled faces ------------------------------------------

def identify_fonts(background: Any) -> BackgroundFonts:
    """The fonts of ``background`` (a PDF, or a pypdf reader of one) that are subsets of a
    bundled face: their programs (with their glyphs), descriptors, CID and Type0 fonts.

    A font is taken for ours when its descriptor's ``/FontName`` is a subset name
    (``ABCDEF+``) of ``Sheetgen-…`` (WeasyPrint names a font by its CSS family), its
    ``FontFile2`` is a retain-glyph-id subset of a bundled face (no more glyphs than the face
    has, each non-empty glyph the face's own outline at the same id, with the same advance),
    and every CID font using that descriptor is an indirect object mapping CIDs to glyph ids
    by ``/Identity``. Only then can the face's shared program (and map) replace its own.
    Anything else is left as it is.
    """
    from pypdf import PdfReader
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

    reader = PdfReader(io.BytesIO(background)) if isinstance(background, bytes) else background
    descriptors: dict[int, Any] = {}
    users: dict[int, list[int | None]] = {}  # descriptor -> CID fonts using it (None: unsafe)
    type0: dict[int, int] = {}  # Type0 font -> its CID font
    seen: set[int] = set()
    stack: list[tuple[int | None, Any]] = [(None, page.get("/Resources")) for page in reader.pages]
    while stack:
        number, node = stack.pop()
        if isinstance(node, IndirectObject):
            if node.idnum in seen:
                continue
            seen.add(node.idnum)
            number, node = node.idnum, node.get_object()
        if isinstance(node, DictionaryObject) and not isinstance(node, StreamObject):
            if node.get("/Type") == "/FontDescriptor":
                if number is not None:
                    descriptors[number] = node
                continue
            descendants = node.get("/DescendantFonts")
            if node.get("/Subtype") == "/Type0" and number is not None and isinstance(
                    descendants, ArrayObject) and len(descendants) == 1 and isinstance(
                    descendants[0], IndirectObject):
                type0[number] = descendants[0].idnum
            if node.get("/Subtype") == "/CIDFontType2":
                descriptor = node.get("/FontDescriptor")
                if isinstance(descriptor, IndirectObject):
                    identity = node.get("/CIDToGIDMap", "/Identity") == "/Identity"
                    users.setdefault(descriptor.idnum, []).append(
                        number if identity else None)
            stack.extend((None, value) for key, value in node.items() if key != "/Parent")
        elif isinstance(node, StreamObject):  # a form's or a pattern's dictionary
            stack.extend((None, value) for key, value in node.items() if key != "/Parent")
        elif isinstance(node, ArrayObject):
            stack.extend((None, value) for value in node)
    programs: dict[int, tuple[str, frozenset[int]]] = {}
    ours: dict[int, str] = {}
    cid_fonts: dict[int, str] = {}
    for number, descriptor in sorted(descriptors.items()):
        name = str(descriptor.get("/FontName", ""))
        file = descriptor.get("/FontFile2")
        tag, _, base = name.lstrip("/").partition("+")
        fonts_using = users.get(number, [])
        if not (isinstance(file, IndirectObject) and len(tag) == 6 and tag.isupper()
                and base.startswith("Sheetgen-") and fonts_using
                and None not in fonts_using):
            continue
        stream = file.get_object()
        found = _matching_face(stream.get_data()) if isinstance(stream, StreamObject) else None
        if found is None:
            continue
        programs[file.idnum] = found
        ours[number] = found[0]
        cid_fonts.update((font, found[0]) for font in fonts_using if font is not None)
    faces = {role: fonts.face(role).checksum
             for role in sorted({role for role, _ in programs.values()})}
    type0_fonts = {font: cid_fonts[cid] for font, cid in type0.items() if cid in cid_fonts}
    return BackgroundFonts(faces, programs, ours, cid_fonts, type0_fonts)


def _matching_face(program: bytes) -> tuple[str, frozenset[int]] | None:
    """(role, glyph ids) of the bundled face ``program`` is a retain-gids subset of, else None."""
    import uharfbuzz as hb

    try:
        count, outlines = fonts.program_glyphs(program)
        embedded = hb.Font(hb.Face(hb.Blob(program)))
    except (ValueError, struct.error):
        return None
    for role in ("body", "heading", "supplement"):
        try:
            face = fonts.face(role)
        except FontError:  # an optional face missing (the heading font)
            continue
        if count > face.glyph_count:
            continue
        if all(face.outline(glyph) == outline
               and face.advance(glyph) == round(embedded.get_glyph_h_advance(glyph)
                                                * 1000 / embedded.face.upem)
               for glyph, outline in outlines.items()):
            used = {glyph for glyph in range(count) if embedded.get_glyph_h_advance(glyph)}
            return role, frozenset(used | set(outlines))
    return None
