"""What the command line's runs tell the register: a batch's records, a receipt's pages.

``sheetgen batch … --register`` brings each record into the register as the batch reports it
(so an interrupted run keeps what it did), with its output files; the records of a bundle that
was written are marked printed. ``sheetgen receive … --register`` stores each matched page and
moves its record forward. One register replaces the manifests of many runs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from sheetgen.desk.register import Brought, OutputFile, ReceivedPage, Register

if TYPE_CHECKING:
    from sheetgen.batch import RecordResult
    from sheetgen.receive import Receipt


def record_key(result: RecordResult) -> str:
    """A batch record's key in the register: its ``ref``; without one, the reference printed
    on its sheets (a hash of its content); for a record that failed before it had either, a
    hash of its input (a record without a ref cannot be followed from version to version)."""
    if result.ref:
        return result.ref
    if result.reference:
        return result.reference
    seed = result.input_sha256 or hashlib.sha256(
        f"{result.source}:{result.locator}".encode()).hexdigest()
    return "SG-IN-" + seed[:12].upper()


class BatchRecorder:
    """The ``on_value`` of a batch run: each record's result and value into the register."""

    def __init__(self, register: Register, outdir: Path, *,
                 source_names: dict[str, str] | None = None) -> None:
        self.register = register
        self.outdir = outdir
        self.source_names = source_names or {}  # a job's input file → the name it was sent as
        self.ok: list[str] = []
        self.brought: list[Brought] = []

    def __call__(self, result: RecordResult, value: object) -> None:
        if any(p.code == "interrupted" for p in result.errors):
            return  # not done: the next run does it
        outputs = [OutputFile(Path(o.path).name, o.format, (self.outdir / o.path).read_bytes())
                   for o in result.outputs if (self.outdir / o.path).is_file()]
        source = self.source_names.get(result.source, result.source) + (
            f" rows {', '.join(map(str, result.rows))}" if result.rows else "")
        brought = self.register.bring(
            record_key(result), data=value, ok=result.ok,
            problems=[p.as_dict() for p in result.errors], source=source,
            input_sha256=result.input_sha256, outputs=outputs)
        self.brought.append(brought)
        if result.ok:
            self.ok.append(brought.ref)

    def __enter__(self) -> BatchRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.register.close()

    def printed(self) -> int:
        """Mark the records of the bundle just written printed."""
        return self.register.mark_printed(self.ok)


def record_receipt(register: Register, receipt: Receipt, *, originals: int,
                   content: bytes | None = None) -> dict[str, Brought]:
    """Store a receipt's matched pages and move their records forward. A page is told from
    another by its scan file's SHA-256 (of ``content`` when the one scan is given as bytes)
    and its page number, so the same scan uploaded twice counts once."""
    digests: dict[str, str] = {}

    def digest(name: str) -> str:
        if content is not None:
            return hashlib.sha256(content).hexdigest()
        if name not in digests:
            path = Path(name)
            data = path.read_bytes() if path.is_file() else name.encode()
            digests[name] = hashlib.sha256(data).hexdigest()
        return digests[name]

    pages = [ReceivedPage(
        reference=page.reference, file=page.file, scan_sha256=digest(page.file),
        page=page.page or 1, website=page.website,
        flags={"signed": page.signed, "seal": page.seal, "fingerprint": page.fingerprint,
               "date_blank": page.date_blank},
        problems=[p.as_dict() for p in page.problems])
        for page in receipt.pages if page.reference is not None]
    return register.receive(pages, originals=originals)
