"""Reading scans: PDF pages and images (JPEG, PNG, TIFF, multi-page TIFF) → page images.

Everything a scanner or a phone produces arrives here as files; each page leaves as a
:class:`ScanPage` with its file and 1-based page number, and either an RGB image or the
problem that kept it from being read (a corrupt or encrypted PDF, an image too large to
decode safely, a format Pillow does not know). Nothing is dropped: a file that cannot be read
at all is one page with a problem, so the report still lists it.

PDF pages are rendered with pypdfium2 at :data:`PDF_DPI`, enough for the sheet's 15 mm code
(25 × 25 modules: 4.7 px a module); :func:`ScanPage.again` renders a page once more at
:data:`PDF_RETRY_DPI` when the code was not found. A page object the file names again (a page
tree can list one page thousands of times) and a page that draws nothing are rendered once
per file: the later ones are ``same_as`` the first, and their result is its result. Images are
decoded only when their header says they are below :data:`MAX_PIXELS` (an A3 page at 600 dpi
is 70 million pixels; a 20 000 × 20 000 image would take 1.2 GB in RGB).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.Image import Image

PDF_DPI = 200.0
PDF_RETRY_DPI = 300.0
MAX_PIXELS = 90_000_000
SUFFIXES = frozenset({".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"})


@dataclass(frozen=True)
class ScanProblem:
    """Why a page (or a whole file) could not be read or checked."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass
class ScanPage:
    """One page of a scan: its image, or the problem that kept it from being read."""

    file: str
    page: int | None  # 1-based; None when the file as a whole could not be read
    image: Image | None = None
    problem: ScanProblem | None = None
    rerender: Callable[[float], Image] | None = None  # PDFs: the page at another resolution
    same_as: int | None = None  # a PDF page that is this file's page N again: not rendered

    def again(self) -> Image | None:
        """The page rendered at a higher resolution (PDF pages), else None."""
        if self.rerender is None:
            return None
        try:
            return self.rerender(PDF_RETRY_DPI)
        except Exception:  # pdfium's errors are plain exceptions; the first render worked
            return None


def expand(inputs: Iterable[Path]) -> list[Path]:
    """The scan files of ``inputs``: files as given, folders walked for scan suffixes."""
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*")
                                if p.is_file() and p.suffix.lower() in SUFFIXES
                                and not any(part.startswith(".")
                                            for part in p.relative_to(path).parts)))
        else:
            files.append(path)
    return files


def read_pages(path: Path, limit: int = 1 << 62) -> Iterator[ScanPage]:
    """Every page of one scan file, one at a time (a long scan is never held whole); of a PDF,
    the first ``limit`` pages read and then one more page, not read (the caller's page limit
    is reached by then)."""
    name = str(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as err:
        yield ScanPage(name, None, problem=ScanProblem(
            "unreadable", f"无法读取文件 / cannot read the file: {err.strerror or err}"))
        return
    if head.startswith(b"%PDF") or path.suffix.lower() == ".pdf":
        yield from _pdf_pages(path, limit)
    else:
        yield from _image_pages(path)


def _pdf_pages(path: Path, limit: int) -> Iterator[ScanPage]:
    import pypdfium2 as pdfium

    name = str(path)
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as err:
        text = str(err)
        if "password" in text.lower():
            problem = ScanProblem("encrypted_pdf", "PDF 已加密，无法读取 / the PDF is encrypted "
                                  "(password-protected); scan again without a password")
        else:
            problem = ScanProblem("corrupt_pdf", f"PDF 文件损坏，无法读取 / the PDF cannot be read "
                                  f"({text})")
        yield ScanPage(name, None, problem=problem)
        return
    try:
        count = len(document)
        if count == 0:
            yield ScanPage(name, None, problem=ScanProblem(
                "empty_file", "PDF 没有页面 / the PDF has no pages"))
        identities = _page_identities(path, count, limit) if count > 1 else None
        first: dict[object, int] = {}  # a page's identity -> its first page number
        for index in range(count):
            if index >= limit:  # the caller reads no more (its page limit)
                yield ScanPage(name, index + 1)
                return
            identity = identities[index] if identities is not None else None
            if identity is not None and identity in first:
                yield ScanPage(name, index + 1, same_as=first[identity])
                continue
            if _empty(document, index):  # nothing drawn: one blank page is read for all
                if "empty" in first:
                    yield ScanPage(name, index + 1, same_as=first["empty"])
                    continue
                first["empty"] = index + 1
            if identity is not None:
                first[identity] = index + 1

            def render(dpi: float, index: int = index) -> Image:
                return _render_pdf_page(document, index, dpi)

            try:
                image = render(PDF_DPI)
            except pdfium.PdfiumError as err:
                yield ScanPage(name, index + 1, problem=ScanProblem(
                    "corrupt_page", f"此页无法渲染 / the page cannot be rendered ({err})"))
                continue
            except _TooLarge as err:
                yield ScanPage(name, index + 1, problem=err.problem)
                continue
            yield ScanPage(name, index + 1, image, rerender=render)
    finally:
        document.close()


#: Page tree levels followed at most (a real tree has a few; pdfium reads the file anyway).
MAX_TREE_DEPTH = 64


def _page_identities(path: Path, count: int, limit: int) -> list[object] | None:
    """The page object (object and generation numbers) of each of the first ``min(count,
    limit)`` pages: a page tree may name one page object, or one branch of pages, any number
    of times (20 000 entries of one page make a 120 KB file; a branch named 50 times at three
    levels, 125 000 pages in 1 KB), and such a page is read once. The tree is walked in order
    and only as far as needed. None when it cannot be read that way (then every page is
    rendered)."""
    import logging

    from pypdf import PdfReader
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    wanted = min(count, limit)
    found: list[object] = []

    def walk(node: object, ref: object, depth: int) -> None:
        if len(found) >= wanted:
            return
        if depth > MAX_TREE_DEPTH or not isinstance(node, DictionaryObject):
            raise ValueError("not a page tree pdfium would read the same way")
        kids = node.get("/Kids")
        if kids is None:
            found.append(ref)
            return
        kids = kids.get_object()
        if not isinstance(kids, ArrayObject):
            raise ValueError("/Kids is not an array")
        for kid in kids:
            if len(found) >= wanted:
                return
            if not isinstance(kid, IndirectObject):
                raise ValueError("a kid that is not a reference")
            walk(kid.get_object(), (kid.idnum, kid.generation), depth + 1)

    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)  # a damaged file is pdfium's to report, page by page
    try:
        root: Any = PdfReader(str(path), strict=False).trailer["/Root"].get_object()
        walk(root["/Pages"].get_object(), None, 0)
    except Exception:  # pypdf's errors on a damaged file are of many kinds; pdfium reports it
        return None
    finally:
        logger.setLevel(level)
    return found if len(found) == wanted and None not in found else None


def _empty(document: object, index: int) -> bool:
    """Whether the page draws nothing at all (no page objects): a blank page."""
    import pypdfium2.raw as pdfium_c

    try:
        page = document[index]  # type: ignore[index]
    except Exception:  # rendered (and reported) below
        return False
    try:
        return int(pdfium_c.FPDFPage_CountObjects(page.raw)) == 0
    finally:
        page.close()


class _TooLarge(Exception):
    def __init__(self, problem: ScanProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _too_large(width: float, height: float, what: str) -> ScanProblem:
    return ScanProblem("image_too_large",
                       f"{what}过大（{width:.0f} × {height:.0f}）/ {what_en(what)} is too large "
                       f"({width:.0f} × {height:.0f} pixels, over {MAX_PIXELS:,}); scan at "
                       "600 dpi or less")


def what_en(what: str) -> str:
    return {"图像": "the image", "页面": "the page"}.get(what, what)


def _render_pdf_page(document: object, index: int, dpi: float) -> Image:
    page = document[index]  # type: ignore[index]
    try:
        width, height = page.get_size()
        scale = dpi / 72
        if width * height * scale * scale > MAX_PIXELS:
            # A page far bigger than A3: render at the resolution the pixel budget allows.
            scale = (MAX_PIXELS / (width * height)) ** 0.5
            if scale < 50 / 72:
                raise _TooLarge(_too_large(width * dpi / 72, height * dpi / 72, "页面"))
        bitmap = page.render(scale=scale)
        try:
            image: Image = bitmap.to_pil().convert("RGB")
        finally:
            bitmap.close()
        return image
    finally:
        page.close()


def _image_pages(path: Path) -> Iterator[ScanPage]:
    from PIL import Image as PILImage
    from PIL import ImageSequence, UnidentifiedImageError

    name = str(path)
    try:
        with warnings.catch_warnings():
            # The size is checked below against sheetgen's own limit, before any decoding.
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            image = PILImage.open(path)
    except PILImage.DecompressionBombError:
        yield ScanPage(name, None, problem=ScanProblem(
            "image_too_large", f"图像过大 / the image is too large (over {MAX_PIXELS:,} "
                               "pixels); scan at 600 dpi or less"))
        return
    except (UnidentifiedImageError, OSError, ValueError) as err:
        yield ScanPage(name, None, problem=ScanProblem(
            "unreadable", f"不是可读的 PDF 或图像文件 / not a readable PDF or image ({err})"))
        return
    with image:
        for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
            width, height = frame.size
            if width * height > MAX_PIXELS:
                yield ScanPage(name, number, problem=_too_large(width, height, "图像"))
                continue
            try:
                with warnings.catch_warnings(), _strict_decoding():
                    warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
                    rgb = _to_rgb(frame)
            except (OSError, ValueError, SyntaxError) as err:  # truncated or damaged data
                yield ScanPage(name, number, problem=ScanProblem(
                    "corrupt_image", f"图像数据损坏 / the image data is damaged ({err})"))
                continue
            yield ScanPage(name, number, rgb)


@contextlib.contextmanager
def _strict_decoding() -> Iterator[None]:
    """A truncated image is an error, not a page with a grey end.

    WeasyPrint, once imported, tells Pillow to load truncated images for the whole process;
    a scan cut off in transfer must be reported instead.
    """
    from PIL import ImageFile

    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _to_rgb(frame: Image) -> Image:
    from PIL import Image as PILImage
    from PIL import ImageOps

    if frame.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit and float greys: scale to 8 bits before converting.
        frame = ImageOps.autocontrast(frame.convert("F").point(lambda v: v / 256).convert("L"))
    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        # Transparent pixels are paper.
        background = PILImage.new("RGB", frame.size, "white")
        background.paste(frame.convert("RGBA"), mask=frame.convert("RGBA").getchannel("A"))
        return background
    return frame.convert("RGB")
