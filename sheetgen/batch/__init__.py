"""Batch generation: many applicants in one run, one result per record (``sheetgen batch``).

It streams records (at most a few per worker in flight), renders each in a worker process
through the record pipeline (:func:`sheetgen.pipeline.produce`), isolates a worker that
crashes, resumes a stopped run from per-record state files, writes the manifest, and draws the
bundle in the parent as results arrive, in input order. The design, section by section
(streaming, workers, crash isolation, names, up to date, interruption, bundle, exit codes), is
in ``docs/batch.md``. Spreadsheet records (:mod:`sheetgen.sources.spreadsheet`) have their
problems located by file, row and column header in the parent; ``--failed`` gets their rows
back with an error column.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

from sheetgen import __version__, scratch
from sheetgen.batch.processes import helpers_stopped, kill_pool
from sheetgen.documents.context import content_digest, reference
from sheetgen.documents.jobs import SUBJECT, RenderOptions
from sheetgen.documents.plan import make_plan
from sheetgen.errors import (
    InternalError,
    Problem,
    RulesError,
    SheetgenError,
    TemplateError,
    UsageError,
    WorkersCrashedError,
)
from sheetgen.model import parse_applicant
from sheetgen.output import AtomicFile, check_formats, check_writable, write_atomic
from sheetgen.pipeline import Produced, output_stem, produce
from sheetgen.rendering import fonts
from sheetgen.rendering.fields import FieldFit
from sheetgen.rendering.pdf.compose import source_date
from sheetgen.rendering.pdf.document import PdfBuilder, PlannedJob
from sheetgen.rendering.pdf.layout import CompiledLayout
from sheetgen.rendering.pdf.stamp import PagePlan
from sheetgen.rendering.templating import TemplateSet, bundled
from sheetgen.rules import Rules, choose, load_rules, parse_rules
from sheetgen.sources.json import Record, iter_records, read_file
from sheetgen.sources.spreadsheet import FailedRows, SheetOptions, check_failed_path, locate
from sheetgen.sources.spreadsheet import reader as spreadsheet_reader

__all__ = ["BatchOptions", "BatchResult", "Output", "RecordResult", "run_batch"]

#: Hidden folder of OUTDIR with the per-record state files and the lock.
STATE_DIR = ".sheetgen"
#: Records read but not yet reported, per worker: enough to keep every worker busy while the
#: parent waits for the oldest record, small enough that memory does not grow with the input.
IN_FLIGHT_PER_JOB = 4
#: Isolated retries that crash in a row before the run gives up: a worker that cannot process
#: anything is a broken installation, not a bad record.
MAX_CONSECUTIVE_CRASHES = 8
#: Seconds a record may take in a worker before it fails with ``worker_timeout`` (``--timeout``):
#: a record takes well under a second, a cold layout compile a few seconds on a slow machine;
#: only a hung worker gets anywhere near this.
DEFAULT_TIMEOUT = 300.0
#: The bundle composes its pages every this many records, while the workers go on, instead of
#: all at the end (see PdfBuilder.flush); each part adds its own font subset to the bundle.
BUNDLE_CHUNK = 250


# --- options and results ------------------------------------------------------------------

@dataclass(frozen=True)
class BatchOptions:
    """What ``sheetgen batch`` was asked to do (everything but the inputs)."""

    outdir: Path
    jobs: int | None = None                  # worker processes; None: the CPUs available
    formats: tuple[str, ...] = ("pdf",)
    variant: str = "auto"
    #: What is printed, as for fill; its ``templates`` is unused: each process opens the set
    #: at ``templates`` (a template set does not travel to worker processes).
    render: RenderOptions = dataclasses.field(default_factory=RenderOptions)
    templates: Path | None = None            # None: the bundled templates
    rules: Path | None = None                # None: the built-in rules
    rules_edition: str | None = None         # a built-in edition (or the --rules file's check)
    verification: str | None = None          # paper | electronic; None: the rules' flow
    bundle: Path | None = None
    report: Path | None = None
    force: bool = False
    sheets: SheetOptions = field(default_factory=SheetOptions)  # spreadsheet inputs
    failed: Path | None = None               # --failed: the failed rows, back as a spreadsheet
    timeout: float = DEFAULT_TIMEOUT         # per record, seconds (see DEFAULT_TIMEOUT)

    def render_options(self, templates: TemplateSet | None) -> RenderOptions:
        return dataclasses.replace(self.render, templates=templates)


@dataclass(frozen=True)
class Output:
    """One file written for a record: its path relative to OUTDIR, format and SHA-256."""

    path: str
    format: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "format": self.format, "sha256": self.sha256}


@dataclass(frozen=True)
class RecordResult:
    """The result of one input record: a manifest entry."""

    index: int                      # 1-based position in the batch (input order)
    source: str
    locator: dict[str, int] | None  # {"line": n} (JSON Lines), {"index": i, "line": n} (arrays)
    input_sha256: str | None        # of the canonical JSON, without the filing password
    ok: bool
    skipped: bool = False           # up to date: nothing was rewritten
    reference: str | None = None    # the reference printed on the sheets
    outputs: tuple[Output, ...] = ()
    pages: int | None = None        # of the PDF (None: Word files only)
    variant: str | None = None
    fit: dict[str, Any] | None = None
    errors: tuple[Problem, ...] = ()
    ref: str | None = None          # the record's ``ref`` as given, also when it failed
    rows: tuple[int, ...] = ()      # a spreadsheet record's rows (one per website)

    def as_dict(self) -> dict[str, Any]:
        entry = {"index": self.index, "source": self.source, "locator": self.locator,
                 "input_sha256": self.input_sha256, "ok": self.ok, "skipped": self.skipped,
                 "ref": self.ref, "reference": self.reference,
                 "outputs": [o.as_dict() for o in self.outputs],
                 "pages": self.pages, "variant": self.variant, "fit": self.fit,
                 "errors": [p.as_dict() for p in self.errors]}
        if self.rows:
            entry["rows"] = list(self.rows)
        return entry


@dataclass
class BatchResult:
    """A finished (or interrupted) batch: every record read, in input order."""

    outdir: Path
    records: list[RecordResult]
    bundle: dict[str, Any] | None = None
    interrupted: bool = False
    elapsed: float = 0.0

    @property
    def failed(self) -> list[RecordResult]:
        return [r for r in self.records if not r.ok]

    @property
    def ok(self) -> bool:
        bundle_failed = self.bundle is not None and "error" in self.bundle
        return not self.interrupted and not self.failed and not bundle_failed

    def summary(self) -> dict[str, int]:
        interrupted = sum(1 for r in self.records if _interrupted(r))
        return {"total": len(self.records), "ok": sum(1 for r in self.records if r.ok),
                "failed": len(self.failed) - interrupted, "interrupted": interrupted,
                "skipped": sum(1 for r in self.records if r.skipped)}

    def manifest(self) -> dict[str, Any]:
        """The manifest (``--report`` and ``--json``): the summary, then every record."""
        return {"ok": self.ok, "sheetgen": __version__, "outdir": str(self.outdir),
                "interrupted": self.interrupted, "summary": self.summary(),
                "elapsed_seconds": round(self.elapsed, 3), "bundle": self.bundle,
                "records": [r.as_dict() for r in self.records]}


def _interrupted(result: RecordResult) -> bool:
    return any(p.code == "interrupted" for p in result.errors)


# --- what the parent sends a worker, and what comes back ------------------------------------

@dataclass(frozen=True)
class _Setup:
    """Everything a worker needs, sent once to its initializer."""

    options: BatchOptions
    rules_data: bytes | None        # the --rules file as the parent read it; None: built-in
    digest: str                     # of the options, rules, templates and versions
    close_fd: int | None            # the parent's lock file, to close in *forked* workers


@dataclass(frozen=True)
class _Task:
    position: int
    value: object
    stem: str
    key: str


@dataclass(frozen=True)
class _WireJob:
    """A :class:`PlannedJob` on its way to the parent, its layout by key."""

    title: str
    template: str
    copies: int
    layout: str
    pages: tuple[PagePlan, ...]


@dataclass
class _Outcome:
    """What a worker sends back for one record (small: no PDF bytes)."""

    ok: bool
    skipped: bool = False
    reference: str | None = None
    outputs: tuple[Output, ...] = ()
    pages: int | None = None
    variant: str | None = None
    fit: dict[str, Any] | None = None
    errors: tuple[Problem, ...] = ()
    outline: str | None = None                      # the bundle's bookmark for the record
    bundle: tuple[_WireJob, ...] = ()
    layouts: dict[str, CompiledLayout] = field(default_factory=dict)  # new to the parent


def _failure(err: SheetgenError) -> _Outcome:
    return _Outcome(False, errors=tuple(err.problems or [Problem("", err.code, err.message)]))


def _timeout_outcome(seconds: float) -> _Outcome:
    return _Outcome(False, errors=(Problem(
        "", "worker_timeout",
        f"工作进程 {seconds:g} 秒内未完成该记录，已被终止 / the worker did not finish this record "
        f"within {seconds:g} s (--timeout) and was stopped; the others go on"),))


# --- the worker side ---------------------------------------------------------------------

class _Worker:
    """One worker process's long-lived state: rules, templates, fonts, layouts sent."""

    def __init__(self, setup: _Setup) -> None:
        options = setup.options
        self.options = options
        self.digest = setup.digest
        self.rules = _rules(setup.rules_data, options)
        self.templates = TemplateSet(options.templates) if options.templates else bundled()
        self.render = options.render_options(self.templates)
        self.sent: set[str] = set()  # layouts this process has sent to the parent

    def run(self, task: _Task) -> _Outcome:
        options = self.options
        state_path = options.outdir / STATE_DIR / f"{task.stem}.json"
        done = None if options.force else _up_to_date(state_path, task.key, options)
        if done is not None and options.bundle is None:
            return done
        applicant = parse_applicant(task.value, self.rules)
        plan = make_plan(applicant, self.rules, variant=options.variant)
        # An up-to-date record is only fitted again, for the bundle: nothing is rewritten.
        produced = produce(plan, self.render, formats=() if done else options.formats,
                           stem=task.stem, keep_pages=options.bundle is not None)
        outcome = done or self._write(task, produced, state_path)
        if options.bundle is not None:
            outcome.outline = f"{applicant.host.name}（{reference(applicant)}）"
            outcome.bundle = tuple(_WireJob(j.title, j.template, j.copies, j.layout.key, j.pages)
                                   for j in produced.planned)
            outcome.layouts = {j.layout.key: j.layout for j in produced.planned
                               if j.layout.key not in self.sent}
            self.sent.update(outcome.layouts)
        return outcome

    def _write(self, task: _Task, produced: Produced, state_path: Path) -> _Outcome:
        outdir = self.options.outdir
        outputs = []
        for item in produced.files:
            _check_name(outdir, item.name)
            write_atomic(outdir / item.name, item.data, follow_symlinks=False)  # stays in OUTDIR
            outputs.append(Output(item.name, item.format, hashlib.sha256(item.data).hexdigest()))
        outcome = _Outcome(True, reference=produced.reference, outputs=tuple(outputs),
                           pages=produced.pages, variant=produced.variant,
                           fit=_fit_summary(produced.fits))
        state = {"key": task.key, "reference": outcome.reference,
                 "outputs": [o.as_dict() for o in outputs], "pages": outcome.pages,
                 "variant": outcome.variant, "fit": outcome.fit}
        write_atomic(state_path, json.dumps(state, ensure_ascii=False).encode(),
                     follow_symlinks=False)
        return outcome


def _fit_summary(fits: Sequence[FieldFit]) -> dict[str, Any]:
    """How the values fitted: the count, and each value that had to shrink or continue."""
    return {"fields": len(fits),
            "shrunk": [f.as_dict() for f in fits if f.status == "shrunk"],
            "continued": [f.as_dict() for f in fits if f.status == "continued"]}


def _sha256_file(path: Path) -> str | None:
    try:
        with path.open("rb") as stream:
            return hashlib.file_digest(stream, "sha256").hexdigest()
    except OSError:
        return None


def _up_to_date(state_path: Path, key: str, options: BatchOptions) -> _Outcome | None:
    """The record's previous outcome if its state matches ``key`` and its outputs are intact."""
    try:
        state = json.loads(state_path.read_bytes())
        if state["key"] != key:
            return None
        outputs = tuple(Output(str(o["path"]), str(o["format"]), str(o["sha256"]))
                        for o in state["outputs"])
        if {o.format for o in outputs} != set(options.formats):
            return None
        for output in outputs:
            _check_name(options.outdir, output.path)
            if _sha256_file(options.outdir / output.path) != output.sha256:
                return None
        return _Outcome(True, skipped=True, reference=str(state["reference"]), outputs=outputs,
                        pages=None if state["pages"] is None else int(state["pages"]),
                        variant=str(state["variant"]),
                        fit=dict(state["fit"]))
    except (OSError, ValueError, KeyError, TypeError, SheetgenError):
        return None


_worker: _Worker | None = None
_setup_error: SheetgenError | None = None
_starts: Any = None  # the run's shared start times (see _Run.starts)


def _init_worker(setup: _Setup, starts: Any = None) -> None:
    """Pool initializer: runs once in each worker process."""
    global _worker, _setup_error, _starts
    _starts = starts
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group
    # SIGTERM kills a worker (the pool terminates workers so); a forked worker would otherwise
    # inherit the parent's handler that turns SIGTERM into KeyboardInterrupt.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if setup.close_fd is not None:
        with contextlib.suppress(OSError):
            os.close(setup.close_fd)  # a forked worker must not keep OUTDIR locked
    parent = multiprocessing.parent_process()
    if parent is not None and parent.sentinel is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), daemon=True).start()
    try:
        _worker = _Worker(setup)
    except SheetgenError as err:  # every record then fails with it, not as a crash
        _setup_error = err


def _exit_with_parent(sentinel: int) -> None:
    """Exit as soon as the parent is gone (``kill -9``): an orphaned worker would wait for work
    forever, holding the parent's stdout and stderr open. The sentinel is a pipe the parent
    holds open (not ``os.getppid()``: a forkserver worker's parent is the server, which itself
    outlives the parent as long as the workers live)."""
    from multiprocessing.connection import wait

    wait([sentinel])
    scratch.cleanup()  # os._exit skips every exit handler
    os._exit(1)


def _process(task: _Task) -> _Outcome:
    """One record in a worker: never raises for the record's own problems."""
    if _starts is not None:  # the --timeout clock starts now, not while the pool starts
        _starts[task.position % len(_starts)] = time.monotonic()
    if _worker is None:
        return _failure(_setup_error or InternalError("worker not initialised"))
    try:
        return _worker.run(task)
    except SheetgenError as err:
        return _failure(err)
    except Exception as exc:  # a bug: this record fails, the batch goes on
        return _Outcome(False, errors=(Problem(
            "", "internal", f"内部错误 / internal error ({type(exc).__name__}); this is a bug in "
                            "sheetgen, please report it"),))


# --- the parent side ----------------------------------------------------------------------

def given_ref(value: object) -> str | None:
    """The ``ref`` a record gives, trimmed (None when it has none), valid or not: the manifest
    names a failed record by it too."""
    ref = value.get("ref") if isinstance(value, dict) else None
    return ref.strip()[:100] or None if isinstance(ref, str) else None


def default_jobs() -> int:
    """Worker processes by default: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


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

    def __init__(self, options: BatchOptions, setup: _Setup, jobs: int, context: BaseContext,
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
        self.pool: ProcessPoolExecutor | None = None
        self.layouts: dict[str, CompiledLayout] = {}
        # The bundle is written as it is composed, into a hidden file renamed at the end.
        self.bundle_file = AtomicFile(options.bundle) if options.bundle is not None else None
        self.bundle = PdfBuilder(sink=self.bundle_file) if self.bundle_file else None
        self.bundled = 0  # records added to the bundle
        self.failed_rows = FailedRows() if options.failed is not None else None
        self.crashes_in_a_row = 0
        self.limit = max(2, jobs * IN_FLIGHT_PER_JOB)
        # When each record in flight started in its worker (time.monotonic(), the same clock
        # in every process; 0: not yet), by position modulo the window size, which is unique
        # within the window. Shared memory without a lock: a worker killed mid-write cannot
        # leave it locked, as it could a queue.
        self.starts: Any = context.RawArray("d", self.limit)
        outdir = options.outdir.resolve()
        reserved = [path.name for path in (options.bundle, options.report, options.failed)
                    if path is not None and path.resolve().parent == outdir]
        self.names = _Names(reserved)

    # pool

    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, mp_context=self.context,
                                   initializer=_init_worker, initargs=(self.setup, self.starts))

    def _submit(self, pending: _Pending) -> None:
        assert pending.task is not None
        if self.pool is None:
            self.pool = self._new_pool(self.jobs)
        self.starts[pending.position % len(self.starts)] = 0.0  # not started
        pending.future = self.pool.submit(_process, pending.task)

    def close(self, *, cancel: bool = False) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=cancel)
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
        stem = self.names.claim(output_stem(record.value, self.read), self.options.formats)
        for fmt in self.options.formats:
            _check_name(self.options.outdir, f"{stem}.{fmt}")
        key = hashlib.sha256(f"{self.setup.digest}:{pending.digest}".encode()).hexdigest()
        pending.task = _Task(self.read, record.value, stem, key)
        try:
            self._submit(pending)
        except BrokenProcessPool:
            self._recover()

    def _wait(self, head: _Pending) -> _Outcome:
        while head.outcome is None:
            assert head.future is not None
            try:
                head.outcome = self._result(head.future, head.position)
            except BrokenProcessPool:
                self._recover()
            except TimeoutError:
                self._timed_out(head)
        return head.outcome

    def _result(self, future: Future[_Outcome], position: int) -> _Outcome:
        """The record's outcome once it arrives; TimeoutError once it has been running in its
        worker for longer than ``--timeout`` (time waiting for a worker does not count)."""
        while True:
            try:
                with self.stop.waiting():
                    return future.result(timeout=self._remaining(position))
            except TimeoutError:
                if self._remaining(position) <= 0:
                    raise

    def _remaining(self, position: int) -> float:
        started = float(self.starts[position % len(self.starts)])
        if not started:
            return 1.0  # not started yet: look again in a second
        return max(0.0, started + self.options.timeout - time.monotonic())

    def _timed_out(self, head: _Pending) -> None:
        """The head took longer than ``--timeout``: it fails with ``worker_timeout``; its
        pool is killed (which worker hangs is not known) and the other records in flight are
        kept if done, else submitted again to a new pool."""
        head.outcome = _timeout_outcome(self.options.timeout)
        if self.pool is not None:
            kill_pool(self.pool)
            self.pool = None
        for pending in self._unfinished():
            self._submit(pending)

    def _unfinished(self) -> list[_Pending]:
        """After the pool was stopped or broke: keep the results that had arrived; the records
        in flight still without one, in input order."""
        unfinished = []
        for pending in self.window:
            if pending.outcome is not None or pending.task is None:
                continue
            future = pending.future
            if future is not None and future.done() and not future.cancelled() \
                    and future.exception() is None:
                pending.outcome = future.result()
            else:
                unfinished.append(pending)
        return unfinished

    def _recover(self) -> None:
        """The pool broke: keep what arrived, rerun the rest one by one, then a new pool."""
        suspects = self._unfinished()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        isolation: ProcessPoolExecutor | None = None
        try:
            for pending in suspects:
                assert pending.task is not None
                if isolation is None:
                    isolation = self._new_pool(1)
                try:
                    self.starts[pending.position % len(self.starts)] = 0.0
                    outcome = self._result(isolation.submit(_process, pending.task),
                                           pending.position)
                    pending.outcome = outcome
                    self.crashes_in_a_row = 0
                except TimeoutError:
                    kill_pool(isolation)
                    isolation = None
                    pending.outcome = _timeout_outcome(self.options.timeout)
                except BrokenProcessPool:
                    isolation.shutdown(wait=True)
                    isolation = None
                    pending.outcome = _Outcome(False, errors=(Problem(
                        "", "worker_crashed",
                        "处理该记录时工作进程崩溃 / the worker process crashed while rendering "
                        "this record (alone, on a retry too); it is skipped, the others go on"),))
                    self.crashes_in_a_row += 1
                    if self.crashes_in_a_row >= MAX_CONSECUTIVE_CRASHES:
                        raise WorkersCrashedError(
                            f"worker processes crashed on {self.crashes_in_a_row} records in a "
                            "row; stopping the batch",
                            hint="run `sheetgen doctor`; run again with --jobs 1 to narrow "
                                 "it down") from None
        finally:
            if isolation is not None:
                isolation.shutdown(wait=True)

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
            ref=given_ref(record.value), rows=record.rows)
        if self.failed_rows is not None and not outcome.ok and not _interrupted(result):
            self.failed_rows.add(record, errors)
        self.results[pending.position] = result  # by position: reporting twice is harmless
        if self.on_record is not None:
            self.on_record(result)
        if self.on_value is not None:
            self.on_value(result, record.value)

    def interrupt(self) -> None:
        """Stop: cancel what is queued, let running records finish, report what is read.

        The bundle is not drawn any more: an interrupted run does not write it.
        """
        self.stop.quiet()
        for pending in self.window:
            if pending.future is not None and pending.outcome is None:
                pending.future.cancel()
        with contextlib.suppress(BrokenProcessPool):
            self.close(cancel=True)
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


def _check_name(outdir: Path, name: str) -> None:
    """Refuse any output file name that is not a plain visible name directly inside OUTDIR.

    Names are built by :func:`safe_stem`, which cannot produce such a name; this check is the
    second line of defence, whatever the data says (a failure here is a bug, exit 1).
    """
    root = outdir.resolve()
    if (not name or name.startswith(".") or "/" in name or "\\" in name or "\0" in name
            or (root / name).parent != root):
        raise InternalError(f"internal error: output name {name!r} would not be inside {outdir}")


@contextlib.contextmanager
def _locked(outdir: Path) -> Iterator[int | None]:
    """Hold OUTDIR's lock for the run: two runs writing one OUTDIR would trip each other up."""
    state = outdir / STATE_DIR
    try:
        state.mkdir(parents=True, exist_ok=True)
        fd = os.open(state / "lock", os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise UsageError(f"cannot write to {outdir}: {exc.strerror or exc}",
                         hint="choose an OUTDIR you can write to") from None
    try:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            yield fd
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UsageError(f"another sheetgen batch is writing to {outdir}",
                             hint="wait for it to finish, or choose another OUTDIR") from None
        yield fd
    finally:
        os.close(fd)


def _remove_partial_files(outdir: Path) -> None:
    """Delete the ``.*.part`` files of writes that never finished (a killed run or worker)."""
    for folder in (outdir, outdir / STATE_DIR):
        for path in folder.glob(".*.part"):
            with contextlib.suppress(OSError):
                path.unlink()


def _check_templates(templates: TemplateSet) -> None:
    """Fail the run early (exit 5) on a template with a syntax error: every record would."""
    import jinja2

    for name in templates.env.list_templates(extensions=["html"]):
        try:
            templates.env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template syntax error in {exc.name or name} line "
                                f"{exc.lineno}: {exc.message}") from None


def _rules(data: bytes | None, options: BatchOptions) -> Rules:
    """The rules of the run: the --rules file's bytes (as the parent read them) or a built-in
    edition, with --rules-edition and --verification applied (the same in every worker)."""
    if data is None:
        return load_rules(edition=options.rules_edition, verification=options.verification)
    return choose(parse_rules(data, origin=str(options.rules)), edition=options.rules_edition,
                  verification=options.verification)


def _options_digest(options: BatchOptions, rules: Rules, templates: TemplateSet) -> str:
    """What, besides the record, decides its outputs' bytes: part of the up-to-date key."""
    from importlib.metadata import version

    payload = {"sheetgen": __version__, "rules": rules.version, "templates": templates.digest,
               "engines": [version(name) for name in ("weasyprint", "pypdf", "uharfbuzz", "segno")],
               "formats": sorted(options.formats), "variant": options.variant,
               "render": options.render.identity(),
               # PDF dates (compose.source_date); workers inherit the environment.
               "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _check_destinations(inputs: Sequence[str], options: BatchOptions) -> None:
    """Refuse a bundle or report that would overwrite an input file or each other, or that
    cannot be written: both are written only at the end, so a wrong path must not cost (or
    destroy) the run. (A report inside an input folder is fine: the walk passes over it.)"""
    given = {Path(arg).resolve() for arg in inputs if arg != "-"}
    check_failed_path(options.failed)
    for what, path in (("bundle", options.bundle), ("report", options.report),
                       ("failed rows", options.failed)):
        if path is None:
            continue
        if path.resolve() in given:
            raise UsageError(f"{path} is an input; writing the {what} there would overwrite it",
                             hint="choose another file name")
        check_writable(path)
    if options.bundle and options.report and options.bundle.resolve() == options.report.resolve():
        raise UsageError(f"--bundle and --report are both {options.bundle}",
                         hint="give them different file names")


def _default_context() -> BaseContext:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        # Imported once in the server, so each worker starts with them loaded (the render
        # path imports HarfBuzz and segno when it first draws).
        context.set_forkserver_preload(["sheetgen.batch", "uharfbuzz", "segno"])
        return context
    return multiprocessing.get_context("spawn")


def _check_options(options: BatchOptions, rules: Rules) -> int:
    jobs = default_jobs() if options.jobs is None else options.jobs
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {jobs}")
    check_formats(options.formats)
    rules.check_variant(options.variant)
    if options.render.copies < 1:
        raise UsageError("--copies must be at least 1")
    if not options.timeout > 0:  # also refuses nan
        raise UsageError(f"--timeout must be a number of seconds above 0, not {options.timeout}")
    if "pdf" in options.formats or options.bundle is not None:
        source_date()  # a malformed SOURCE_DATE_EPOCH would fail every record alike
    if options.outdir.exists() and not options.outdir.is_dir():
        raise UsageError(f"{options.outdir} exists and is not a directory",
                         hint="-o names the output folder")
    return jobs


def run_batch(inputs: Sequence[str], options: BatchOptions, *,
              on_record: Callable[[RecordResult], None] | None = None,
              on_value: Callable[[RecordResult, object], None] | None = None,
              stdin: Any = None, mp_context: BaseContext | None = None) -> BatchResult:
    """Generate the sheets of every record of ``inputs`` into ``options.outdir``.

    ``inputs`` are paths of JSON/JSON Lines files or folders, ``-`` for ``stdin`` (a binary
    stream; default ``sys.stdin.buffer``). ``on_record`` is called with each record's result
    in input order, as it is known (for progress); ``on_value`` with it and the record's JSON
    value as read (the desk's register keeps it). Returns every record's result; raises
    :class:`SheetgenError` only for failures of the run itself (see the module docstring),
    after writing the report when the run had started. On Ctrl-C or SIGTERM it returns with
    ``interrupted`` set, having written the report.
    """
    started = time.perf_counter()
    # The rules file is read once; workers get these bytes, so all of them use the same rules.
    rules_data = (None if options.rules is None else
                  read_file(options.rules, what="rules file", error=RulesError))
    rules = _rules(rules_data, options)
    jobs = _check_options(options, rules)
    templates = TemplateSet(options.templates) if options.templates else bundled()
    _check_templates(templates)
    for role in ("body", "supplement"):  # what the stamps draw with
        fonts.face(role)  # a missing or broken font fails the run here (exit 5)
    records = iter_records(inputs, stdin=stdin, spreadsheets=spreadsheet_reader(options.sheets),
                           exclude=[p for p in (options.report, options.failed) if p is not None])
    first = next(records, None)  # missing inputs are usage errors before anything is written
    _check_destinations(inputs, options)
    outdir = options.outdir
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {outdir}: {exc.strerror or exc}") from None
    scratch.sweep()  # what killed runs (and their workers) left in the temp folder
    with helpers_stopped(), _locked(outdir) as lock_fd:
        _remove_partial_files(outdir)
        context = mp_context or _default_context()
        # Only a forked worker has the parent's file descriptors (under the same numbers).
        inherited = lock_fd if context.get_start_method() == "fork" else None
        setup = _Setup(options, rules_data, _options_digest(options, rules, templates),
                       inherited)
        run = _Run(options, setup, jobs, context, on_record, on_value)
        interrupted = False
        # A failure that stops the run part-way (too many worker crashes, a full disk for the
        # bundle) is raised only after the report is written: it lists every record read.
        error: SheetgenError | None = None
        with run.stop.installed():
            try:
                run.run(_chain(first, records))
            except KeyboardInterrupt:
                interrupted = True
                run.interrupt()
            except SheetgenError as err:
                error = err
                interrupted = True
                run.interrupt()
            finally:
                run.close()
            # Count in = count out, always: every record read has exactly one result.
            if sorted(run.results) != list(range(1, run.read + 1)):
                raise InternalError(f"internal error: {run.read} records read, "
                                    f"{len(run.results)} reported")
            result = BatchResult(outdir, [run.results[n] for n in sorted(run.results)],
                                 interrupted=interrupted or run.stop.requested)
            if run.bundle is not None and options.bundle is not None and not result.interrupted:
                try:
                    with run.stop.waiting():  # a few seconds for thousands of pages
                        assert run.bundle_file is not None
                        result.bundle = _write_bundle(run.bundle, run.bundle_file, result,
                                                      pdfa=options.render.pdfa)
                except KeyboardInterrupt:
                    result.interrupted = True  # every record is done; the bundle is not
                except SheetgenError as err:  # a full disk: the report still lists every record
                    error = err
                    result.bundle = {"path": str(options.bundle), "written": False,
                                     "error": err.message}
            if run.bundle_file is not None:
                run.bundle_file.discard()  # not written (interrupted, failed): no trace left
        _remove_partial_files(outdir)  # left by workers that crashed mid-write
        scratch.sweep()  # the temp folders of workers that crashed or were killed
    result.elapsed = time.perf_counter() - started
    if options.report is not None:
        write_atomic(options.report, _manifest_bytes(result))
    if run.failed_rows is not None and options.failed is not None:
        run.failed_rows.write(options.failed)
    if error is not None:
        raise error
    return result


def _chain(first: Record | None, rest: Iterator[Record]) -> Iterator[Record]:
    if first is not None:
        yield first
        yield from rest


def _write_bundle(builder: PdfBuilder, sink: AtomicFile, result: BatchResult, *,
                  pdfa: bool) -> dict[str, Any]:
    """Finish the bundle of every successful record (written to ``sink`` as it was composed);
    its manifest entry."""
    path = sink.path
    records = sum(1 for r in result.records if r.ok)
    if not records:
        return {"path": str(path), "written": False, "records": 0, "pages": 0, "sha256": None}
    identity = "\n".join(r.input_sha256 or "" for r in result.records if r.ok).encode()
    builder.finish(title=f"{SUBJECT}（{records} 份）", subject=SUBJECT, identity=identity,
                   pdfa=pdfa)  # the rest of the PDF, into the builder's sink
    sink.commit()
    return {"path": str(path), "written": True, "records": records,
            "pages": builder.page_count, "bytes": builder.size, "sha256": builder.sha256}


def _manifest_bytes(result: BatchResult) -> bytes:
    return (json.dumps(result.manifest(), ensure_ascii=False, indent=2) + "\n").encode()


def manifest_json(result: BatchResult) -> str:
    """The manifest as the JSON text ``--json`` prints and ``--report`` writes."""
    return _manifest_bytes(result).decode()

