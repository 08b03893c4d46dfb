"""Per record: did both originals of every website come back, signed, sealed, undated?

Pages are grouped by the reference their code carries. A record's websites are known from its
codes (``1/2``: website 1 of 2), or, when the manifest gives it, from the manifest alone: a
code is only printed text, and one that disagrees with the manifest is a problem of its page
(``website_count_mismatch``), not 998 missing originals. ``--manifest`` (the ``batch --report``
document) also adds the records that were printed (``ok`` entries) but have nothing back, and
marks references it does not list. Each website expects ``originals`` originals (two: one for
the provider, one for the communications administration).

The same original scanned twice is told from the second original by its ink: two originals
are signed (and sealed) separately, so their ink differs; two scans of one sheet carry the
same ink at the same places (pattern correlation above :data:`SAME_ORIGINAL`). Unsigned pages
carry no ink to compare and are simply counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

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


@dataclass
class WebsiteReceipt:
    """The originals of one website's sheet that came back."""

    website: int
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
    received: dict[int, WebsiteReceipt] = field(default_factory=dict)
    unplaced: list[PageResult] = field(default_factory=list)  # older codes: website unknown
    problems: list[dict[str, Any]] = field(default_factory=list)  # code, message, website

    @property
    def complete(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "in_manifest": self.in_manifest,
                "manifest_index": self.manifest_index, "source": self.source,
                "websites": self.websites, "complete": self.complete,
                "received": [{"website": w.website, "originals": w.received,
                              "signed": w.count("signed"), "sealed": w.count("seal"),
                              "fingerprint": w.count("fingerprint"),
                              "date_blank": w.count("date_blank"),
                              "pages": [{"file": p.file, "page": p.page} for p in w.pages],
                              "duplicates": [{"file": p.file, "page": p.page,
                                              "same_as": {"file": q.file, "page": q.page}}
                                             for p, q in w.duplicates]}
                             for w in sorted(self.received.values(), key=lambda w: w.website)],
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
        expected.append(Expected(str(record["reference"]),
                                 index if isinstance(index, int) else None,
                                 str(record["source"]) if record.get("source") else None,
                                 websites if type(websites) is int and websites > 0 else None))
    return expected


def group(pages: list[PageResult], expected: list[Expected] | None, *, originals: int = 2
          ) -> list[RecordResult]:
    """The records of ``pages`` (and of the manifest), manifest order first, each checked."""
    records: dict[str, RecordResult] = {}
    printed: dict[str, int] = {}  # the manifest's website counts: they outrank the codes'
    for item in expected or ():
        records.setdefault(item.reference, RecordResult(
            item.reference, True, item.index, item.source, websites=item.websites))
        if item.websites is not None:
            printed.setdefault(item.reference, item.websites)
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
        count = printed.get(page.reference)
        if count is None:
            record.websites = max(record.websites or 0, page.count or 0) or None
        elif page.count != count or page.website > count:
            page.problems.append(ScanProblem(
                "website_count_mismatch",
                f"二维码写明网站 {page.website}/{page.count}，而清单中该记录有 {count} 个"
                f"网站：请人工核对此页 / the code says website {page.website} of "
                f"{page.count}, the manifest printed {count}: check this page by hand (a "
                "sheet of another printing, or a forged code)"))
        receipt = record.received.setdefault(page.website, WebsiteReceipt(page.website))
        twin = next((p for p in receipt.pages if _same_original(p, page)), None)
        if twin is not None:
            receipt.duplicates.append((page, twin))
        else:
            receipt.pages.append(page)
    for record in records.values():
        _judge(record, originals)
    return list(records.values())


def _judge(record: RecordResult, originals: int) -> None:
    def problem(code: str, message: str, website: int | None = None) -> None:
        record.problems.append({"code": code, "message": message, "website": website})

    if record.in_manifest is False:
        problem("not_in_manifest", "编号不在清单中 / the reference is not in the manifest")
    if not record.received and not record.unplaced:
        problem("nothing_received", "没有收到任何核验单 / nothing received for this record")
        return
    if record.unplaced:
        problem("website_unknown", f"{len(record.unplaced)} 页是旧版核验单，无法确定网站 / "
                                   f"{len(record.unplaced)} pages carry an older code: their "
                                   "website is not known")
    for number in range(1, (record.websites or 0) + 1):
        receipt = record.received.get(number)
        got = receipt.received if receipt else 0
        if got < originals:
            problem("missing_originals", f"网站 {number}：收到 {got} 份，应为 {originals} 份 / "
                                         f"website {number}: {got} of {originals} originals "
                                         "received", number)
        elif got > originals:
            problem("extra_originals", f"网站 {number}：收到 {got} 份，多于 {originals} 份 / "
                                       f"website {number}: {got} originals, more than "
                                       f"{originals}", number)
    for receipt in sorted(record.received.values(), key=lambda w: w.website):
        for again, first in receipt.duplicates:
            problem("scanned_twice", f"网站 {receipt.website}：{again.where} 与 {first.where} "
                                     f"是同一份原件 / website {receipt.website}: "
                                     f"{again.where} is the original of {first.where} scanned "
                                     "again", receipt.website)
        for page in receipt.pages:
            for issue in page.problems:
                chinese, _, english = issue.message.partition(" / ")
                problem(issue.code, f"网站 {receipt.website}（{page.where}）：{chinese} / "
                                    f"website {receipt.website} ({page.where}): {english}",
                        receipt.website)


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
