"""Compile a page layout once: WeasyPrint lays out a template with blank values, giving the
background pages (PDF) and the field map: where each value goes, at what size.

This is the "compile" half of compile-once/stamp-many (design.md §2). Elements of a template
marked ``data-field="host.name"`` become :class:`FieldBox` es, elements marked
``data-region="remarks"`` become :class:`Region` s (blank space a long value may continue in).
Field attributes a template may set:

``data-field``            context path of the value (``website.domains``)
``data-kind``             ``text`` (default) or ``qr`` (a QR code of the value, drawn square)
``data-min-size``         smallest font size in pt the value may shrink to (default: the
                          field's entry in ``rendering.fields.MIN_SIZES``, else 7)
``data-overflow``         name of a region the value may continue in when it does not fit
``data-overflow-caption`` text printed before the continuation (``网站域名（续）：``)
``data-fallback``         context path of a shorter value to print when this one cannot fit

The font size and alignment come from the element's computed CSS.

Geometry is read from WeasyPrint's layout tree (``Page._page_box`` and its descendants),
which is internal API: WeasyPrint is pinned to one major version in pyproject.toml and the
extraction is covered by tests.

Compiled layouts are cached per process, and on disk (``$SHEETGEN_CACHE_DIR``, else
``$XDG_CACHE_HOME/sheetgen``, else ``~/.cache/sheetgen``; ``SHEETGEN_CACHE_DIR=off`` disables
it) under a key covering sheetgen's and WeasyPrint's versions, every file of the template set
and the static context. A process whose layouts are all cached never imports WeasyPrint, which
is most of a cold ``sheetgen fill``'s time. A cache entry that is missing, unreadable or
malformed is simply compiled again.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sheetgen import __version__, resources
from sheetgen.errors import SheetgenError, TemplateError
from sheetgen.rendering import fonts
from sheetgen.rendering.fields import STATIC_KEYS, Box, FieldBox, Region, min_size
from sheetgen.rendering.templating import TemplateSet, blank_context

#: CSS px to PDF points.
PX = 0.75
#: Changes whenever what a compiled layout holds changes, so older cache entries are ignored.
FORMAT = 1


@dataclass(frozen=True)
class CompiledLayout:
    """One layout: background pages and the boxes values are stamped into."""

    key: str
    template: str
    background: bytes
    page_sizes: tuple[tuple[float, float], ...]
    fields: tuple[FieldBox, ...]
    regions: Mapping[str, Region] = field(default_factory=dict)

    @property
    def page_count(self) -> int:
        return len(self.page_sizes)


def layout_key(templates: TemplateSet, template: str, context: Mapping[str, Any]) -> str:
    """Identify a layout: versions, the template set's content, the template, the static context."""
    static = {k: context.get(k) for k in sorted(STATIC_KEYS)}
    payload = json.dumps([FORMAT, __version__, _weasyprint_version(), templates.digest, template,
                          static],
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
    key = layout_key(templates, template, context)
    with _lock:
        cached = _cache.get(key)
    if cached is None:
        with _compiling(key):
            cached = _load(key, template)
            if cached is None or cached.page_count > max_pages:
                cached = compile_layout(templates, template, context, key=key,
                                        max_pages=max_pages)
                _store(cached)
        with _lock:
            cached = _cache.setdefault(key, cached)
    return cached


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
        handle = (directory / f"{key}.lock").open("a")
    except OSError:
        yield  # an unwritable cache only costs time
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


def _load(key: str, template: str) -> CompiledLayout | None:
    directory = cache_dir()
    if directory is None:
        return None
    try:
        meta = json.loads((directory / f"{key}.json").read_text("utf-8"))
        background = (directory / f"{key}.pdf").read_bytes()
        if meta["key"] != key or hashlib.sha256(background).hexdigest() != meta["sha256"]:
            return None
        return CompiledLayout(
            key, template, background,
            tuple((float(w), float(h)) for w, h in meta["page_sizes"]),
            tuple(FieldBox(**{**f, "box": Box(**f["box"])}) for f in meta["fields"]),
            {r["name"]: Region(r["name"], Box(**r["box"]), r["font_size"])
             for r in meta["regions"]})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store(layout: CompiledLayout) -> None:
    directory = cache_dir()
    if directory is None:
        return
    from sheetgen.output import write_atomic

    meta = {"key": layout.key, "template": layout.template,
            "sha256": hashlib.sha256(layout.background).hexdigest(),
            "page_sizes": layout.page_sizes,
            "fields": [dataclasses.asdict(f) for f in layout.fields],
            "regions": [dataclasses.asdict(r) for r in layout.regions.values()]}
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The background first: a meta file never points at a missing or partial PDF.
        write_atomic(directory / f"{layout.key}.pdf", layout.background)
        write_atomic(directory / f"{layout.key}.json",
                     json.dumps(meta, ensure_ascii=False).encode())
    except (OSError, SheetgenError):
        pass  # a cache that cannot be written only costs time


def compile_layout(templates: TemplateSet, template: str, context: Mapping[str, Any], *,
                   key: str, max_pages: int = 1) -> CompiledLayout:
    """Lay ``template`` out with blank values; return its background PDF and field map."""
    html = templates.render(template, blank_context(context, STATIC_KEYS))
    document = _weasyprint_render(html, templates.root, template)
    if len(document.pages) > max_pages:
        raise TemplateError(
            f"template {template} lays out on {len(document.pages)} pages before any value is "
            f"added; it must fit on {max_pages}",
            hint="reduce fixed heights or margins in the template's CSS")
    fields: list[FieldBox] = []
    regions: dict[str, Region] = {}
    sizes = []
    for number, page in enumerate(document.pages):
        page_height = page.height * PX
        sizes.append((page.width * PX, page_height))
        for box, element in _marked_boxes(page._page_box):
            rect = Box(number, box.content_box_x() * PX,
                       page_height - (box.content_box_y() + box.height) * PX,
                       box.width * PX, box.height * PX)
            font_size = float(box.style["font_size"]) * PX
            if element.get("data-region"):
                regions[element.get("data-region")] = Region(
                    element.get("data-region"), rect, font_size)
                continue
            if "".join(element.itertext()).strip():
                raise TemplateError(
                    f"template {template}: the box of {element.get('data-field')} holds "
                    "text of its own; a data-field element may contain only its value")
            fields.append(FieldBox(
                path=element.get("data-field"), box=rect,
                kind=element.get("data-kind", "text"), font_size=font_size,
                min_size=_min_size(element, template),
                align=_align(box.style["text_align_all"]),
                overflow=element.get("data-overflow"),
                overflow_caption=element.get("data-overflow-caption", ""),
                fallback=element.get("data-fallback")))
    for f in fields:
        if f.overflow and f.overflow not in regions:
            raise TemplateError(f"template {template}: field {f.path} continues in region "
                                f"{f.overflow!r}, which the template does not define")
    background = document.write_pdf()
    return CompiledLayout(key, template, background, tuple(sizes), tuple(fields), regions)


def _marked_boxes(root: Any) -> Iterator[tuple[Any, Any]]:
    """Boxes generated by elements with data-field or data-region, the principal box once."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        box = stack.pop()
        element = getattr(box, "element", None)
        if (element is not None and id(element) not in seen
                and (element.get("data-field") or element.get("data-region"))):
            seen.add(id(element))
            yield box, element
        stack.extend(reversed(getattr(box, "children", ()) or ()))


def _min_size(element: Any, template: str) -> float:
    raw = element.get("data-min-size")
    try:
        return min_size(element.get("data-field"), None if raw is None else float(raw))
    except ValueError:
        raise TemplateError(f"template {template}: data-min-size={raw!r} is not a number "
                            f"(field {element.get('data-field')})") from None


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
    from weasyprint import HTML

    fetcher = _bundled_only_fetcher(base)
    font_config, fonts_css = _fonts()
    logger = logging.getLogger("weasyprint")
    handler = _WeasyLog()
    logger.addHandler(handler)
    previous_propagate = logger.propagate
    logger.propagate = False  # reported below as a TemplateError instead
    try:
        with _weasy_lock:
            document = HTML(string=html, base_url=str(base) + "/", url_fetcher=fetcher).render(
                stylesheets=[fonts_css], font_config=font_config)
    finally:
        logger.removeHandler(handler)
        logger.propagate = previous_propagate
    if handler.messages:
        raise TemplateError(f"template {template}: " + "; ".join(handler.messages[:5]))
    return document


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
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("data:"):
                return super().fetch(url, headers)
            if url.startswith("file://"):
                from urllib.parse import unquote, urlsplit

                path = Path(unquote(urlsplit(url).path)).resolve()
                if any(path.is_relative_to(root) for root in allowed):
                    return super().fetch(url, headers)
            raise ValueError(f"sheetgen templates may only load bundled files, not {url}")

    return BundledOnlyFetcher(allowed_protocols=("file", "data"))
