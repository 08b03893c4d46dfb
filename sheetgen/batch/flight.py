"""The parent side of a batch: records in flight, results in input order, Ctrl-C and SIGTERM.

:class:`_Run` reads records into a bounded window, names their outputs in input order
(:class:`_Names`), hands them to the worker pool (:class:`sheetgen.workers.Pool`), reports each
record when its turn comes (a hung one as ``worker_timeout``, a crashed worker's as
``worker_crashed``) and draws the bundle as results arrive. :class:`_Stop` turns signals into
a clean stop at safe points.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from sheetgen.batch.results import BatchOptions, RecordResult, _interrupted
from sheetgen.batch.worker import (
    _check_name,
    _crashed_outcome,
    _failure,
    _init_worker,
    _Outcome,
    _process,
    _Setup,
    _Task,
    _timeout_outcome,
)
from sheetgen.documents.context import content_digest
from sheetgen.errors import (
    Problem,
    WorkersCrashedError,
)
from sheetgen.output import AtomicFile
from sheetgen.pipeline import output_stem
from sheetgen.rendering.pdf.document import PdfBuilder, PlannedJob
from sheetgen.rendering.pdf.layout import CompiledLayout
from sheetgen.rules.acceptance import SharedContacts
from sheetgen.sources.json import Record
from sheetgen.sources.spreadsheet import FailedRows, locate
from sheetgen.workers import Pool, StartMethod, WorkerCrashed, WorkerTimeout

#: parent waits for the oldest record, small enough that memory does not grow with the input.
IN_FLIGHT_PER_JOB = 4


#: anything is a broken installation, not a bad record.
MAX_CONSECUTIVE_CRASHES = 8


#: all at the end (see PdfBuilder.flush); each part adds its own font subset to the bundle.
BUNDLE_CHUNK = 250


def given_ref(value: object) -> str | None:
    """The ``ref`` a record gives, trimmed (None when it has none), valid or not: the manifest
    names a failed record by it too."""
    ref = value.get("ref") if isinstance(value, dict) else None
    return ref.strip()[:100] or None if isinstance(ref, str) else None


def _applicant(value: object) -> str | None:
    """A valid record's 主办者 name: the staff's received.xlsx names who each row is."""
    host = value.get("host") if isinstance(value, dict) else None
    name = host.get("name") if isinstance(host, dict) else None
    return name if isinstance(name, str) else None


def _websites(value: object) -> int | None:
    """How many websites (one sheet each) a valid record has: receive's count to expect."""
    websites = value.get("websites") if isinstance(value, dict) else None
    return len(websites) if isinstance(websites, list) else None


@dataclass
class _Pending:
    """A record read and not yet reported."""

    record: Record
    position: int
    task: _Task | None = None
    digest: str | None = None
    future: Future[_Outcome] | None = None
    outcome: _Outcome | None = None


class _Names:
    """Output stems, unique in the batch (case-insensitively), decided in input order."""

    def __init__(self, reserved: Sequence[str]) -> None:
        self._taken = {name.casefold() for name in reserved}

    def claim(self, stem: str, extensions: Sequence[str]) -> str:
        candidate, n = stem, 1
        while any(f"{candidate}.{ext}".casefold() in self._taken for ext in extensions):
            n += 1
            candidate = f"{stem}~{n}"
        self._taken.update(f"{candidate}.{ext}".casefold() for ext in extensions)
        return candidate


class _Run:
    """One batch run in the parent: the pool, the in-flight window, results in order."""

    def __init__(self, options: BatchOptions, setup: _Setup, jobs: int, context: StartMethod,
                 on_record: Callable[[RecordResult], None] | None,
                 on_value: Callable[[RecordResult, object], None] | None = None) -> None:
        self.options = options
        self.setup = setup
        self.jobs = jobs
        self.context = context
        self.on_record = on_record
        self.on_value = on_value
        self.results: dict[int, RecordResult] = {}  # by position
        self.stop = _Stop()
        self.read = 0
        self.window: deque[_Pending] = deque()
        self.pool: Pool | None = None
        self.layouts: dict[str, CompiledLayout] = {}
        # The bundle is written as it is composed, into a hidden file renamed at the end.
        self.bundle_file = AtomicFile(options.bundle) if options.bundle is not None else None
        self.bundle = PdfBuilder(sink=self.bundle_file) if self.bundle_file else None
        self.bundled = 0  # records added to the bundle
        self.failed_rows = FailedRows() if options.failed is not None else None
        self.crashes_in_a_row = 0
        self.limit = max(2, jobs * IN_FLIGHT_PER_JOB)
        outdir = options.outdir.resolve()
        reserved = [path.name for path in (options.bundle, options.report, options.failed)
                    if path is not None and path.resolve().parent == outdir]
        self.names = _Names(reserved)
        # contact_shared across the run (rules/acceptance.py): set by run_batch. A spreadsheet
        # record's origin is kept to place a finding that arrives after it was reported.
        self.shared: SharedContacts | None = None
        self.origins: dict[int, Record] = {}

    # pool

    def _submit(self, pending: _Pending) -> None:
        assert pending.task is not None
        if self.pool is None:  # started with the first record: a run of only bad records
            # (or none) starts no process
            self.pool = Pool(self.jobs, _process, initializer=_init_worker,
                             initargs=(self.setup,), context=self.context,
                             name="sheetgen-batch")
        pending.future = self.pool.submit(pending.task, timeout=self.options.timeout)

    def close(self, *, cancel: bool = False) -> None:
        if self.pool is not None:
            self.pool.close(cancel=cancel)
            self.pool = None

    # the main loop

    def run(self, records: Iterator[Record]) -> None:
        exhausted = False
        limit = self.limit
        while True:
            self.stop.check()
            while not exhausted and len(self.window) < limit:
                with self.stop.waiting():  # reading stdin may block
                    record = next(records, None)
                if record is None:
                    exhausted = True
                    break
                self._admit(record)
            if not self.window:
                break
            head = self.window[0]
            outcome = self._wait(head)
            self._report(head, outcome)
            self.window.popleft()

    def _admit(self, record: Record) -> None:
        self.read += 1
        pending = _Pending(record, self.read)
        self.window.append(pending)
        if record.error is not None:
            pending.outcome = _failure(record.error)
            return
        pending.digest = content_digest(record.value)
        if self.shared is not None:
            self.shared.add(self.read, record.value)
            if record.origin is not None:
                self.origins[self.read] = Record(record.source, origin=record.origin)
        stem = self.names.claim(output_stem(record.value, self.read), self.options.formats)
        for fmt in self.options.formats:
            _check_name(self.options.outdir, f"{stem}.{fmt}")
        key = hashlib.sha256(f"{self.setup.digest}:{pending.digest}".encode()).hexdigest()
        pending.task = _Task(self.read, record.value, stem, key)
        self._submit(pending)

    def _wait(self, head: _Pending) -> _Outcome:
        """The head's outcome once its worker is done with it. A record that hung or whose
        worker died fails alone (the pool stops and replaces only that worker); it is not run
        again: it may have written some of its files."""
        if head.outcome is not None:
            return head.outcome
        assert head.future is not None
        try:
            while True:  # a wait with a timeout: signals are handled between the waits
                with self.stop.waiting():
                    try:
                        outcome: _Outcome = head.future.result(timeout=1.0)
                        break
                    except TimeoutError:
                        continue
        except WorkerTimeout:
            outcome = _timeout_outcome(self.options.timeout)
        except WorkerCrashed as crash:
            outcome = _crashed_outcome(crash)
            self.crashes_in_a_row += 1
            if self.crashes_in_a_row >= MAX_CONSECUTIVE_CRASHES:
                head.outcome = outcome
                raise WorkersCrashedError(
                    f"worker processes crashed on {self.crashes_in_a_row} records in a row; "
                    "stopping the batch",
                    hint="run `sheetgen doctor`; run again with --jobs 1 to narrow it down"
                ) from None
        else:
            self.crashes_in_a_row = 0
        head.outcome = outcome
        return outcome

    def _report(self, pending: _Pending, outcome: _Outcome, *, bundle: bool = True) -> None:
        record = pending.record
        if bundle and outcome.ok and self.bundle is not None:
            self.layouts.update(outcome.layouts)
            self.bundle.add_planned(
                [PlannedJob(job.title, job.template, job.copies, self.layouts[job.layout],
                            job.pages) for job in outcome.bundle], outline=outcome.outline)
            self.bundled += 1
            if self.bundled % BUNDLE_CHUNK == 0:
                self.bundle.flush()
        errors = locate(record, outcome.errors)  # spreadsheets: by row and column header
        result = RecordResult(
            index=pending.position, source=record.source, locator=record.locator,
            input_sha256=pending.digest, ok=outcome.ok, skipped=outcome.skipped,
            reference=outcome.reference, outputs=outcome.outputs, pages=outcome.pages,
            variant=outcome.variant, fit=outcome.fit, errors=errors,
            ref=given_ref(record.value), rows=record.rows,
            websites=_websites(record.value) if outcome.ok else None,
            applicant=_applicant(record.value) if outcome.ok else None,
            documents=outcome.documents, warnings=locate(record, outcome.warnings))
        if self.failed_rows is not None and not outcome.ok and not _interrupted(result):
            self.failed_rows.add(record, errors)
        self.results[pending.position] = result  # by position: reporting twice is harmless
        if self.on_record is not None:
            self.on_record(result)
        if self.on_value is not None:
            self.on_value(result, record.value)

    def with_shared(self, result: RecordResult) -> RecordResult:
        """``result`` with the run's ``contact_shared`` findings of its record (known only
        once the whole run is read): warnings added, errors fail it."""
        found = self.shared.problems(result.index) if self.shared is not None else []
        if not found:
            return result
        origin = self.origins.get(result.index)
        placed = locate(origin, found) if origin is not None else tuple(found)
        errors = tuple(p for p in placed if p.severity == "error")
        return dataclasses.replace(
            result, ok=result.ok and not errors, errors=(*result.errors, *errors),
            warnings=(*result.warnings, *(p for p in placed if p.severity != "error")))

    def interrupt(self) -> None:
        """Stop: cancel what is queued, let running records finish, report what is read.

        The bundle is not drawn any more: an interrupted run does not write it.
        """
        self.stop.quiet()
        self.close(cancel=True)  # the records running finish (within --timeout)
        stopped = _Outcome(False, errors=(Problem(
            "", "interrupted", "批处理被中断，该记录未处理 / the batch was interrupted before "
                               "this record was done; run the same command again"),))
        for pending in self.window:
            if pending.position in self.results:
                continue
            outcome = pending.outcome
            future = pending.future
            if outcome is None and future is not None and future.done() \
                    and not future.cancelled() and future.exception() is None:
                outcome = future.result()
            self._report(pending, outcome or stopped, bundle=False)
        self.window.clear()


class _Stop:
    """Ctrl-C and SIGTERM during a run: noted at once, acted on only where it is safe.

    The signal handler raises KeyboardInterrupt only while the parent waits (for a worker's
    result, for input); anywhere else it only sets ``requested``, which the main loop checks
    between records. So an interruption never falls between two steps of the bookkeeping
    (a record taken out of the window but not yet in the results), and every record read is
    reported, done or ``interrupted``.
    """

    def __init__(self) -> None:
        self.requested = False
        self._waiting = False

    def handle(self, signum: int, frame: object) -> None:
        self.requested = True
        if self._waiting:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        self.check()
        self._waiting = True
        try:
            yield
        finally:
            self._waiting = False

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt

    def quiet(self) -> None:
        """While stopping, a second signal is only noted."""
        self._waiting = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Route SIGINT and SIGTERM here for the run (only the main thread can)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
