"""The worker side of a batch: one record in a worker process, from its JSON to its files.

A worker is set up once (:func:`_init_worker`: rules, templates, fonts; its compiled layouts
stay warm), then renders one :class:`_Task` at a time (:func:`_process`): skips a record whose
state file says it is up to date, else writes its files and its state atomically, and sends
back a small :class:`_Outcome` (for the bundle: the fitted pages and the layouts new to the
parent). The record's own problems are its outcome, never an exception.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sheetgen.batch.results import BatchOptions, Output
from sheetgen.documents.context import reference
from sheetgen.documents.plan import make_plan
from sheetgen.errors import (
    InternalError,
    Problem,
    SheetgenError,
)
from sheetgen.model import accept, parse_applicant
from sheetgen.output import write_atomic
from sheetgen.pipeline import Produced, produce
from sheetgen.rendering.fields import FieldFit
from sheetgen.rendering.pdf.layout import CompiledLayout
from sheetgen.rendering.pdf.stamp import PagePlan
from sheetgen.rendering.templating import TemplateSet, bundled
from sheetgen.rules import Rules, choose, load_rules, parse_rules
from sheetgen.workers import WorkerCrashed

#: Hidden folder of OUTDIR with the per-record state files and the lock.
STATE_DIR = ".sheetgen"


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
    warnings: tuple[Problem, ...] = ()
    outline: str | None = None                      # the bundle's bookmark for the record
    bundle: tuple[_WireJob, ...] = ()
    layouts: dict[str, CompiledLayout] = field(default_factory=dict)  # new to the parent
    documents: tuple[dict[str, Any], ...] = ()      # PageJob.document of each


def _failure(err: SheetgenError) -> _Outcome:
    return _Outcome(False, errors=tuple(err.problems or [Problem("", err.code, err.message)]))


def _crashed_outcome(crash: WorkerCrashed) -> _Outcome:
    if not crash.started:
        return _Outcome(False, errors=(Problem(
            "", "worker_crashed",
            "没有能启动的工作进程 / no worker process could be started for this record; it "
            "is skipped, the others go on"),))
    return _Outcome(False, errors=(Problem(
        "", "worker_crashed",
        f"处理该记录时工作进程崩溃 / the worker process crashed while rendering this record "
        f"(exit code {crash.exitcode}); it is not run again (it may have written some of its "
        f"files), the others go on"),))


def _timeout_outcome(seconds: float) -> _Outcome:
    return _Outcome(False, errors=(Problem(
        "", "worker_timeout",
        f"工作进程 {seconds:g} 秒内未完成该记录，已被终止 / the worker did not finish this record "
        f"within {seconds:g} s (--timeout) and was stopped; the others go on"),))


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
        warnings = accept(applicant, self.rules, options.filing_date)  # errors fail it
        plan = make_plan(applicant, self.rules, variant=options.variant)
        # An up-to-date record is only fitted again, for the bundle: nothing is rewritten.
        produced = produce(plan, self.render, formats=() if done else options.formats,
                           stem=task.stem, keep_pages=options.bundle is not None)
        outcome = done or self._write(task, produced, state_path)
        outcome.warnings = tuple(warnings)
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
                           fit=_fit_summary(produced.fits), documents=tuple(produced.documents))
        state = {"key": task.key, "reference": outcome.reference,
                 "outputs": [o.as_dict() for o in outputs], "pages": outcome.pages,
                 "variant": outcome.variant, "fit": outcome.fit,
                 "documents": list(outcome.documents)}
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
                        fit=dict(state["fit"]),
                        documents=tuple(dict(d) for d in state.get("documents", ())))
    except (OSError, ValueError, KeyError, TypeError, SheetgenError):
        return None


_worker: _Worker | None = None


_setup_error: SheetgenError | None = None


def _init_worker(setup: _Setup) -> None:
    """The pool's initializer: runs once in each worker process (the pool's worker ignores
    SIGINT, stops on SIGTERM and exits when the parent is gone)."""
    global _worker, _setup_error
    if setup.close_fd is not None:
        with contextlib.suppress(OSError):
            os.close(setup.close_fd)  # a forked worker must not keep OUTDIR locked
    try:
        _worker = _Worker(setup)
    except SheetgenError as err:  # every record then fails with it, not as a crash
        _setup_error = err


def _process(task: _Task) -> _Outcome:
    """One record in a worker: never raises for the record's own problems."""
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


def _check_name(outdir: Path, name: str) -> None:
    """Refuse any output file name that is not a plain visible name directly inside OUTDIR.

    Names are built by :func:`safe_stem`, which cannot produce such a name; this check is the
    second line of defence, whatever the data says (a failure here is a bug, exit 1).
    """
    root = outdir.resolve()
    if (not name or name.startswith(".") or "/" in name or "\\" in name or "\0" in name
            or (root / name).parent != root):
        raise InternalError(f"internal error: output name {name!r} would not be inside {outdir}")


def _rules(data: bytes | None, options: BatchOptions) -> Rules:
    """The rules of the run: the --rules file's bytes (as the parent read them) or a built-in
    edition, with --rules-edition and --verification applied (the same in every worker)."""
    if data is None:
        return load_rules(edition=options.rules_edition, verification=options.verification)
    return choose(parse_rules(data, origin=str(options.rules)), edition=options.rules_edition,
                  verification=options.verification)
