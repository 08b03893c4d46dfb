"""Per record: did both originals of every document come back, signed, sealed, undated?

Pages are grouped by the reference their code carries, then by document: the kind the code
names (:mod:`sheetgen.documents.kinds`; a version 1 code is a check sheet) and its number
(``1/2``: website 1 of 2 for a sheet, ``1/1`` for a one-per-applicant letter). A record's
documents are known from its codes, or, when the manifest gives them, from the manifest alone:
a code is only printed text, and one whose count disagrees with the manifest is a problem of
its page (``website_count_mismatch``), not 998 missing originals. ``--manifest`` (the ``batch
--report`` document) also adds the records that were printed (``ok`` entries) but have nothing
back, and marks references it does not list. Each document expects ``originals`` originals
(two: one for the provider, one for the communications administration). ``received`` and
``websites`` keep the check sheets' view (one entry per website) that the spreadsheet report
prints.

The same original scanned twice is told from the second original by its ink: two originals
are signed (and sealed) separately, so their ink differs; two scans of one sheet carry the
same ink at the same places (pattern correlation above :data:`SAME_ORIGINAL`). Unsigned pages
carry no ink to compare and are simply counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sheetgen.documents.sheetcode import LEGACY_KIND
from sheetgen.errors import UsageError
from sheetgen.receive.scans import ScanProblem

if TYPE_CHECKING:
    from sheetgen.receive import PageResult

SAME_ORIGINAL = 0.85
MIN_INK = 0.01  # of an area's pattern, for two patterns to be compared at all


@dataclass(frozen=True)
class Expected:
    """A record the manifest says was printed."""

    reference: str
    index: int | None
    source: str | None
    websites: int | None = None  # as printed: what the codes' counts are checked against
    # How many documents of each kind that carries a code it printed (the manifest's
    # ``documents``; empty for a manifest written before document kinds).
    documents: dict[str, int] = field(default_factory=dict)
    applicant: str | None = None  # the 主办者's name, as the manifest gives it


@dataclass
class WebsiteReceipt:
    """The originals of one document (one website's sheet, one letter) that came back."""

    website: int                      # the document's number among its kind's (1-based)
    kind: str = LEGACY_KIND
    pages: list[PageResult] = field(default_factory=list)
    duplicates: list[tuple[PageResult, PageResult]] = field(default_factory=list)  # (scan, first)

    @property
    def received(self) -> int:
        return len(self.pages)

    def count(self, flag: str) -> int | None:
        """How many received originals have ``flag`` true (None: no such box)."""
        values = [getattr(p, flag) for p in self.pages]
        if all(v is None for v in values):
            return None
        return sum(1 for v in values if v)


@dataclass
class RecordResult:
    """One record: its websites' originals, and whether it is complete."""

    reference: str
    in_manifest: bool | None          # None: no manifest given
    manifest_index: int | None = None
    source: str | None = None
    websites: int | None = None       # how many websites (sheets) it has
    applicant: str | None = None      # the 主办者's name (from the manifest)
    # Every document received, by (kind, number); and how many of each kind it has.
    documents: dict[tuple[str, int], WebsiteReceipt] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    unplaced: list[PageResult] = field(default_factory=list)  # older codes: website unknown
    problems: list[dict[str, Any]] = field(default_factory=list)  # code, message, website

    @property
    def complete(self) -> bool:
        return not self.problems

    @property
    def received(self) -> dict[int, WebsiteReceipt]:
        """The check sheets received, by website."""
        return {number: receipt for (kind, number), receipt in self.documents.items()
                if kind == LEGACY_KIND}

    def as_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "in_manifest": self.in_manifest,
                "manifest_index": self.manifest_index, "source": self.source,
                "applicant": self.applicant,
                "websites": self.websites, "complete": self.complete,
                "received": [{"kind": w.kind, "website": w.website, "originals": w.received,
                              "signed": w.count("signed"), "sealed": w.count("seal"),
                              "fingerprint": w.count("fingerprint"),
                              "date_blank": w.count("date_blank"),
                              "pages": [{"file": p.file, "page": p.page} for p in w.pages],
                              "duplicates": [{"file": p.file, "page": p.page,
                                              "same_as": {"file": q.file, "page": q.page}}
                                             for p, q in w.duplicates]}
                             for w in _in_order(self.documents.values())],
                "unplaced": [{"file": p.file, "page": p.page} for p in self.unplaced],
                "problems": self.problems}


def load_manifest(path: Path) -> list[Expected]:
    """The printed records of a ``sheetgen batch --report`` manifest."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as err:
        raise UsageError(f"cannot read the manifest {path}: {err.strerror or err}") from None
    except ValueError:
        raise UsageError(f"the manifest {path} is not JSON",
                         hint="give the file written by sheetgen batch --report") from None
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(records, list):
        raise UsageError(f"{path} is not a sheetgen batch manifest (it has no records list)",
                         hint="give the file written by sheetgen batch --report")
    expected = []
    for record in records:
        if not isinstance(record, dict) or not record.get("ok") or not record.get("reference"):
            continue  # a failed record printed nothing, so nothing comes back
        index, websites = record.get("index"), record.get("websites")
        documents: dict[str, int] = {}
        for document in record.get("documents") or ():
            if isinstance(document, dict) and document.get("code") is True \
                    and isinstance(document.get("kind"), str):
                documents[document["kind"]] = documents.get(document["kind"], 0) + 1
        expected.append(Expected(str(record["reference"]),
                                 index if isinstance(index, int) else None,
                                 str(record["source"]) if record.get("source") else None,
                                 websites if type(websites) is int and websites > 0 else None,
                                 documents,
                                 str(record["applicant"])[:200]
                                 if isinstance(record.get("applicant"), str) else None))
    return expected


def group(pages: list[PageResult], expected: list[Expected] | None, *, originals: int = 2
          ) -> list[RecordResult]:
    """The records of ``pages`` (and of the manifest), manifest order first, each checked."""
    records: dict[str, RecordResult] = {}
    # The manifest's counts of each record's documents: they outrank the codes'.
    printed: dict[tuple[str, str], int] = {}
    for item in expected or ():
        entry = records.setdefault(item.reference, RecordResult(
            item.reference, True, item.index, item.source, applicant=item.applicant))
        counts = dict(item.documents)
        if item.websites is not None:
            counts.setdefault(LEGACY_KIND, item.websites)
        for kind, count in counts.items():  # what was printed is what comes back
            entry.counts[kind] = max(entry.counts.get(kind, 0), count)
            printed.setdefault((item.reference, kind), count)
        if entry.counts.get(LEGACY_KIND):
            entry.websites = entry.counts[LEGACY_KIND]
    for page in pages:
        if page.reference is None:
            continue
        record = records.get(page.reference)
        if record is None:
            record = records[page.reference] = RecordResult(
                page.reference, None if expected is None else False)
        if page.website is None:
            record.unplaced.append(page)
            continue
        kind = page.kind or LEGACY_KIND
        as_printed = printed.get((page.reference, kind))
        if as_printed is None:
            record.counts[kind] = max(record.counts.get(kind, 0), page.count or 0)
        elif page.count != as_printed or page.website > as_printed:
            page.problems.append(ScanProblem(
                "website_count_mismatch",
                f"二维码写明第 {page.website}/{page.count} 份，而清单中该记录印了 {as_printed} 份"
                f"：请人工核对此页 / the code says {page.website} of {page.count}, the "
                f"manifest printed {as_printed}: check this page by hand (a sheet of another "
                "printing, or a forged code)"))
        if kind == LEGACY_KIND:
            record.websites = record.counts.get(kind) or None
        receipt = record.documents.setdefault((kind, page.website),
                                              WebsiteReceipt(page.website, kind))
        twin = next((p for p in receipt.pages if _same_original(p, page)), None)
        if twin is not None:
            receipt.duplicates.append((page, twin))
        else:
            receipt.pages.append(page)
    for record in records.values():
        _judge(record, originals)
    return list(records.values())


def _in_order(receipts: Iterable[WebsiteReceipt]) -> list[WebsiteReceipt]:
    """Documents in print order (the registry's), then by number."""
    from sheetgen.documents.kinds import kinds

    order = {kind.name: position for position, kind in enumerate(kinds())}
    return sorted(receipts, key=lambda r: (order.get(r.kind, len(order)), r.kind, r.website))


def _document(kind: str, number: int, count: int) -> tuple[str, str]:
    """How a problem names a document, in Chinese and English: 网站 2 / website 2 for a
    sheet, the kind's title (and number, when there are several) for another."""
    from sheetgen.documents.kinds import kind as registered

    if kind == LEGACY_KIND:
        return f"网站 {number}", f"website {number}"
    found = registered(kind)
    title = found.title if found is not None and not found.per_website else kind
    suffix = f" {number}" if count > 1 or (found is not None and found.per_website) else ""
    return f"{title}{suffix}", f"{kind}{suffix}"


def _judge(record: RecordResult, originals: int) -> None:
    def problem(code: str, message: str, receipt: tuple[str, int] | None = None) -> None:
        kind, number = receipt if receipt is not None else (None, None)
        entry: dict[str, Any] = {"code": code, "message": message,
                                 "website": number if kind == LEGACY_KIND else None}
        if kind is not None and kind != LEGACY_KIND:
            entry |= {"kind": kind, "number": number}
        record.problems.append(entry)

    if record.in_manifest is False:
        problem("not_in_manifest", "编号不在清单中 / the reference is not in the manifest")
    if not record.documents and not record.unplaced:
        problem("nothing_received", "没有收到任何核验单 / nothing received for this record")
        return
    if record.unplaced:
        problem("website_unknown", f"{len(record.unplaced)} 页是旧版核验单，无法确定网站 / "
                                   f"{len(record.unplaced)} pages carry an older code: their "
                                   "website is not known")
    for kind, count in sorted(record.counts.items(), key=lambda item: _rank(item[0])):
        for number in range(1, count + 1):
            receipt = record.documents.get((kind, number))
            got = receipt.received if receipt else 0
            chinese, english = _document(kind, number, count)
            if got < originals:
                problem("missing_originals", f"{chinese}：收到 {got} 份，应为 {originals} 份 / "
                                             f"{english}: {got} of {originals} originals "
                                             "received", (kind, number))
            elif got > originals:
                problem("extra_originals", f"{chinese}：收到 {got} 份，多于 {originals} 份 / "
                                           f"{english}: {got} originals, more than "
                                           f"{originals}", (kind, number))
    for receipt in _in_order(record.documents.values()):
        where = (receipt.kind, receipt.website)
        chinese, english = _document(receipt.kind, receipt.website,
                                     record.counts.get(receipt.kind, 1))
        for again, first in receipt.duplicates:
            problem("scanned_twice", f"{chinese}：{again.where} 与 {first.where} "
                                     f"是同一份原件 / {english}: "
                                     f"{again.where} is the original of {first.where} scanned "
                                     "again", where)
        for page in receipt.pages:
            for issue in page.problems:
                zh, _, en = issue.message.partition(" / ")
                problem(issue.code, f"{chinese}（{page.where}）：{zh} / "
                                    f"{english} ({page.where}): {en}", where)


def _rank(kind: str) -> tuple[int, str]:
    from sheetgen.documents.kinds import kinds

    order = [k.name for k in kinds()]
    return (order.index(kind) if kind in order else len(order), kind)


def _same_original(first: PageResult, second: PageResult) -> bool:
    """Whether two pages of one website are scans of one physical sheet (same ink).

    Only signed pages are compared: a signature is never written twice the same to a
    fraction of a millimetre, while one seal or one finger pressed twice can look alike.
    """
    if "signature" not in first.patterns or "signature" not in second.patterns:
        return False
    scores = []
    for kind, pattern in first.patterns.items():
        other = second.patterns.get(kind)
        if other is None or other.shape != pattern.shape:
            continue
        if pattern.mean() < MIN_INK or other.mean() < MIN_INK:
            continue
        a, b = pattern - pattern.mean(), other - other.mean()
        denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
        if denominator > 0:
            scores.append(float((a * b).sum()) / denominator)
    signed = min(first.patterns["signature"].mean(), second.patterns["signature"].mean())
    return signed >= MIN_INK and bool(scores) and min(scores) > SAME_ORIGINAL
