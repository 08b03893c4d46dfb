"""Returned paper: scans of the signed check sheets, matched to their records and checked.

``sheetgen receive`` closes the loop the QR code on every sheet opens. For each page of each
scan (PDFs from a document feeder, JPEG/PNG/TIFF images: :mod:`.scans`) it finds the sheet's
code (:mod:`.codes`), goes from the code to the layout the sheet was printed from
(:mod:`.layouts`), maps the layout onto the scan (:mod:`.register`) and looks for the
applicant's ink in the signature, seal, fingerprint and date areas (:mod:`.ink`). With a
``batch --report`` manifest it also says, per record, whether both originals of every website
came back complete (:mod:`.records`); :mod:`.report` writes it all as JSON, CSV or XLSX.

:func:`receive` is the library entry point; the CLI (``sheetgen.cli.receive``) only prints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sheetgen.receive.scans import ScanPage, ScanProblem

if TYPE_CHECKING:
    from PIL.Image import Image

    from sheetgen.receive.layouts import Layouts
    from sheetgen.receive.records import RecordResult
    from sheetgen.rendering.templating import TemplateSet
    from sheetgen.rules import Rules

#: What each area's flag is called in a page's result.
FLAGS = {"signature": "signed", "seal": "seal", "fingerprint": "fingerprint",
         "date": "date_blank"}


@dataclass
class PageResult:
    """One scanned page: which sheet it is and what the applicant did on it."""

    file: str
    page: int | None
    code: str | None = None          # the QR code's text
    version: int | None = None       # of the sheet code (0: reference only)
    reference: str | None = None
    kind: str | None = None          # the document kind the code names (sheet, letter …)
    website: int | None = None       # 1-based: the website (a sheet) or the document's number
    count: int | None = None         # websites (sheets) of the record
    layout: str | None = None        # the layout id the code names
    signed: bool | None = None
    seal: bool | None = None
    fingerprint: bool | None = None
    date_blank: bool | None = None
    confidence: dict[str, float] = field(default_factory=dict)
    ink: dict[str, float] = field(default_factory=dict)
    registration: dict[str, Any] | None = None
    problems: list[ScanProblem] = field(default_factory=list)
    patterns: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def matched(self) -> bool:
        return self.reference is not None

    @property
    def where(self) -> str:
        return self.file if self.page is None else f"{self.file} p. {self.page}"

    def problem(self, code: str, message: str) -> None:
        self.problems.append(ScanProblem(code, message))

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "page": self.page, "code": self.code,
                "version": self.version, "reference": self.reference, "kind": self.kind,
                "website": self.website,
                "websites": self.count, "layout": self.layout, "signed": self.signed,
                "seal": self.seal, "fingerprint": self.fingerprint,
                "date_blank": self.date_blank, "confidence": self.confidence, "ink": self.ink,
                "registration": self.registration,
                "problems": [p.as_dict() for p in self.problems]}


@dataclass
class Receipt:
    """Everything received: every page, and every record they (or the manifest) name."""

    pages: list[PageResult]
    records: list[RecordResult]
    manifest: str | None = None
    interrupted: bool = False  # Ctrl-C or SIGTERM: ``pages`` are those read before it

    @property
    def ok(self) -> bool:
        return (not self.interrupted and all(not p.problems for p in self.pages)
                and all(r.complete for r in self.records))

    def summary(self) -> dict[str, int]:
        return {"pages": len(self.pages),
                "matched": sum(1 for p in self.pages if p.matched),
                "unmatched": sum(1 for p in self.pages if not p.matched),
                "pages_with_problems": sum(1 for p in self.pages if p.problems),
                "records": len(self.records),
                "complete": sum(1 for r in self.records if r.complete),
                "incomplete": sum(1 for r in self.records if not r.complete)}

    def as_dict(self) -> dict[str, Any]:
        from sheetgen import __version__

        return {"ok": self.ok, "sheetgen": __version__, "manifest": self.manifest,
                "interrupted": self.interrupted, "summary": self.summary(),
                "pages": [p.as_dict() for p in self.pages],
                "records": [r.as_dict() for r in self.records]}


#: Pages read in one run unless the caller allows more (``--max-pages``): a day's returned
#: sheets are hundreds; a file naming one page 20 000 times is an attack on the time it takes.
MAX_PAGES = 5000


def receive(scans: Iterable[Path], *, manifest: Path | None = None,
            templates: TemplateSet | None = None, rules: Rules | None = None,
            originals: int = 2, max_pages: int = MAX_PAGES,
            on_page: Callable[[PageResult], None] | None = None) -> Receipt:
    """Read every page of ``scans`` and check it; with ``manifest``, every record too.

    A missing scan file or an unreadable manifest is a UsageError; every problem of a page
    (no code, an unknown layout, a corrupt file, a missing signature) is in its result. At most
    ``max_pages`` pages are read (the rest is one ``page_limit`` problem). Ctrl-C (or SIGTERM)
    ends the reading: the receipt holds the pages read so far, with ``interrupted`` set.
    ``on_page`` is called with each page's result as soon as it is known (progress).
    """
    from sheetgen.receive.records import group, load_manifest

    expected = load_manifest(manifest) if manifest is not None else None
    pages: list[PageResult] = []
    interrupted = False
    try:
        for page in check_scans(scans, templates=templates, rules=rules, max_pages=max_pages):
            pages.append(page)
            if on_page is not None:
                on_page(page)
    except KeyboardInterrupt:
        interrupted = True
    records = group(pages, expected, originals=originals)
    return Receipt(pages, records, str(manifest) if manifest is not None else None,
                   interrupted=interrupted)


def check_scans(scans: Iterable[Path], *, templates: TemplateSet | None = None,
                rules: Rules | None = None, max_pages: int = MAX_PAGES
                ) -> Iterator[PageResult]:
    """Each page of each scan, checked, in order (one page image in memory at a time).

    A page a PDF names again (or another blank one), and a page whose image is exactly that
    of an earlier page of the same file (a TIFF of 5 000 identical frames is a few MB), is
    checked once: its result is the first's, at its own page number. After ``max_pages``
    pages, one ``page_limit`` result says where reading stopped.
    """
    import dataclasses
    import hashlib

    from sheetgen.errors import UsageError
    from sheetgen.receive.layouts import Layouts
    from sheetgen.receive.scans import expand, read_pages
    from sheetgen.rendering.templating import bundled
    from sheetgen.rules import load_rules

    if max_pages < 1:
        raise UsageError(f"--max-pages must be at least 1, not {max_pages}")
    files = expand(scans)
    missing = [str(p) for p in files if not p.exists()]
    if missing:
        raise UsageError(f"scan not found: {', '.join(missing)}",
                         hint="give PDF or image files (or folders of them)")
    if not files:
        raise UsageError("no scans given", hint="give PDF or image files (or folders of them)")
    layouts = Layouts(templates or bundled(), rules or load_rules())
    read = 0
    for path in files:
        checked: dict[int, PageResult] = {}  # this file's pages by number, for ``same_as``
        images: dict[bytes, PageResult] = {}  # and by the digest of their pixels
        for scan in read_pages(path, limit=max_pages - read):
            if read >= max_pages:
                limit = PageResult(scan.file, scan.page)
                limit.problem("page_limit", f"已读 {max_pages} 页，达到上限，其余页面未读 / "
                              f"{max_pages} pages read, the limit of one run: this page and "
                              "the rest were not read (--max-pages N reads more)")
                yield limit
                return
            read += 1
            earlier = checked.get(scan.same_as) if scan.same_as is not None else None
            digest = None
            if earlier is None and scan.image is not None:
                digest = hashlib.blake2b(scan.image.tobytes(), digest_size=20).digest()
                digest += repr((scan.image.size, scan.image.mode)).encode()
                earlier = images.get(digest)
            if earlier is not None:
                result = dataclasses.replace(
                    earlier, page=scan.page, problems=list(earlier.problems),
                    confidence=dict(earlier.confidence), ink=dict(earlier.ink))
            else:
                result = check_page(scan, layouts)
            if scan.page is not None and scan.same_as is None:
                checked[scan.page] = result
            if digest is not None:
                images.setdefault(digest, result)
            yield result


def check_page(scan: ScanPage, layouts: Layouts) -> PageResult:
    """What one scanned page shows."""
    from sheetgen.receive.codes import find_codes

    result = PageResult(scan.file, scan.page)
    if scan.problem is not None or scan.image is None:
        if scan.problem is not None:
            result.problems.append(scan.problem)
        return result
    image = scan.image
    found = find_codes(image)
    if not found:
        sharper = scan.again()
        if sharper is not None:
            found = find_codes(sharper)
            image = sharper
    if not found:
        result.problem("no_code", "未找到核验单二维码（空白页、封面，或二维码损坏、被遮挡）"
                                  "/ no sheet code found: a blank page, a cover, or a damaged "
                                  "or covered code")
        return result
    best = found[0]
    result.code = best.text
    if best.code is None:
        result.problem("foreign_code", "二维码不是 sheetgen 核验单的 / a QR code, but not that "
                                       "of a sheetgen check sheet")
        return result
    code = best.code
    result.version, result.reference, result.kind = code.version, code.reference, code.kind
    result.website, result.count, result.layout = code.website, code.count, code.layout
    if code.layout is None:
        result.problem("old_code", "旧版核验单（二维码只有编号）：已按编号匹配，签字、盖章未检查"
                                   " / an older sheet (its code holds the reference only): "
                                   "matched by reference, boxes not checked")
        return result
    layout = layouts.find(code.layout)
    if layout is None:
        result.problem("unknown_layout", f"版式 {code.layout} 不是本版本的："
                                         "已按编号匹配，签字、盖章未检查"
                                         f" / layout {code.layout} is not one this version "
                                         "knows (another sheetgen version, templates or rules): "
                                         "matched by reference, boxes not checked")
        return result
    _check_areas(result, image, layout, layouts, best.corners)
    return result


def _check_areas(result: PageResult, image: Image, layout: Any, layouts: Layouts,
                 corners: tuple[tuple[float, float], ...]) -> None:
    import numpy as np

    from sheetgen.receive import ink
    from sheetgen.receive.register import SEARCH_DPI, register

    qr = next((f for f in layout.fields if f.kind == "qr"), None)
    if qr is None or not layout.areas:
        result.problem("no_areas", "此版式没有标出签字、盖章等位置（data-area）：未检查 / this "
                                   "layout marks no signature, seal, fingerprint or date areas "
                                   "(data-area): boxes not checked")
        return
    width, height = layout.page_sizes[0]
    side = min(qr.box.width, qr.box.height)
    left = qr.box.x + qr.box.width - side
    top = height - (qr.box.y + qr.box.height)
    page_corners = np.array([(left, top), (left + side, top), (left + side, top + side),
                             (left, top + side)], dtype=np.float64)
    registration = register(image, page_corners, np.array(corners, dtype=np.float64),
                            layouts.blank(layout, SEARCH_DPI), (width, height))
    result.registration = registration.as_dict()
    if registration.patches == 0:
        result.problem("registration_uncertain",
                       "页面与版式对不上，只按二维码定位；结果可能不准"
                       " / the page's print could not be matched to its layout (placed by "
                       "the code alone): the flags may be wrong; scan it again, flat and whole")
    blank = layouts.blank(layout, ink.AREA_DPI)
    boxes = layouts.boxes(result.kind)  # only the boxes the document's kind declares
    for kind, flag in FLAGS.items():
        area = layout.areas.get(kind)
        if area is None or kind not in boxes:
            continue
        measured = ink.measure(image, registration, blank, area, height, kind)
        value: bool | None = measured.inked if kind != "date" else not measured.inked
        if measured.uncertain:
            value = None
            result.problem("seal_uncertain",
                           "印章可能太淡或不完整，无法确定是否已盖章：请人工核对此页 / the seal "
                           "area holds faint or little red ink: not judged; a person should "
                           "look at this page")
        setattr(result, flag, value)
        result.confidence[flag] = measured.confidence
        result.ink[kind] = round(measured.fraction, 4)
        result.patterns[kind] = measured.pattern
    for flag, code, message in (
            ("signed", "not_signed", "网站负责人未签字 / not signed"),
            ("seal", "no_seal", "未盖单位公章 / no seal"),
            ("fingerprint", "no_fingerprint", "未按手印 / no fingerprint"),
            ("date_blank", "date_filled", "日期应留空，却已填写 / the date is filled in; the "
                                          "applicant must leave it blank")):
        if getattr(result, flag) is False:
            result.problem(code, message)
