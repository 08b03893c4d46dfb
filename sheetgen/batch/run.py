"""``run_batch``: one batch from its checks to its report.

The checks that fail a run before anything is written (options, templates, fonts,
destinations), OUTDIR's lock and its leftovers, the worker pool's start method, the run
itself (:class:`~sheetgen.batch.flight._Run`), the bundle's end and the report.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

from sheetgen import __version__, scratch
from sheetgen.batch.flight import _Run
from sheetgen.batch.results import BatchOptions, BatchResult, RecordResult, _manifest_bytes
from sheetgen.batch.worker import STATE_DIR, _rules, _Setup
from sheetgen.documents.jobs import SUBJECT
from sheetgen.documents.kinds import provider_documents
from sheetgen.documents.template import dropdown_lists
from sheetgen.errors import (
    InternalError,
    RulesError,
    SheetgenError,
    TemplateError,
    UsageError,
)
from sheetgen.model import applicant_problems
from sheetgen.output import AtomicFile, check_formats, check_writable, write_atomic
from sheetgen.rendering import fonts
from sheetgen.rendering.pdf.compose import source_date
from sheetgen.rendering.pdf.document import PdfBuilder
from sheetgen.rendering.templating import TemplateSet, bundled
from sheetgen.rules import Rules
from sheetgen.rules.acceptance import SharedContacts
from sheetgen.sources.json import Record, iter_records, read_file
from sheetgen.sources.spreadsheet import check_failed_path
from sheetgen.sources.spreadsheet import reader as spreadsheet_reader
from sheetgen.workers import StartMethod, cpu_count, start_context


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


def _default_context() -> StartMethod:
    # Imported once in the pool's fork server, so each worker starts with them loaded (the render
    # path imports HarfBuzz and segno when it first draws).
    return start_context(["sheetgen.batch", "uharfbuzz", "segno"])


def _check_options(options: BatchOptions, rules: Rules) -> int:
    jobs = cpu_count() if options.jobs is None else options.jobs
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
    provider_documents(templates.provided, rules.documents)  # documents/<kind>: known kinds
    for role in ("body", "supplement"):  # what the stamps draw with
        fonts.face(role)  # a missing or broken font fails the run here (exit 5)
    # A row group with cell problems reports its other problems too (one round of fixes).
    sheets = spreadsheet_reader(options.sheets,
                                validate=lambda value: applicant_problems(value, rules))
    records = iter_records(inputs, stdin=stdin, spreadsheets=sheets,
                           exclude=[p for p in (options.report, options.failed) if p is not None])
    first = next(records, None)  # missing inputs are usage errors before anything is written
    _check_destinations(inputs, options)
    outdir = options.outdir
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {outdir}: {exc.strerror or exc}") from None
    scratch.sweep()  # what killed runs (and their workers) left in the temp folder
    with _locked(outdir) as lock_fd:
        _remove_partial_files(outdir)
        context = mp_context or _default_context()
        # Only a forked worker has the parent's file descriptors (under the same numbers).
        inherited = lock_fd if context.get_start_method() == "fork" else None
        setup = _Setup(options, rules_data, _options_digest(options, rules, templates),
                       inherited)
        run = _Run(options, setup, jobs, context, on_record, on_value)
        run.shared = SharedContacts(rules)
        if run.failed_rows is not None:  # the template's drop-downs in --failed .xlsx
            run.failed_rows.lists = dropdown_lists(rules)
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
            result = BatchResult(outdir, [run.with_shared(run.results[n])
                                          for n in sorted(run.results)],
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
