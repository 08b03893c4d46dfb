"""Batch jobs on the register: many applicants sent at once, run by whichever instance claims
them, surviving a restart.

A job is a row (``jobs``): the input as it was sent (JSON, JSON Lines, XLSX or CSV), the
render options, its progress and, when done, the manifest, the bundle of the successful
records and the failed rows. Its records go into the register as they are done (the batch's
``on_value``), so a record is in the register once per version whatever happens to the job.

**Claiming.** An instance claims the oldest queued job, or a running one whose lease ran out
(its instance died): on PostgreSQL with ``SELECT … FOR UPDATE SKIP LOCKED``, so several
instances never claim one job twice and never wait on each other; on SQLite every write is
``BEGIN IMMEDIATE``, which serialises the claim. The claimer renews the lease while it works.
A maintained Postgres queue (procrastinate) would bring its own schema, worker process and
migrations beside the register's for what is one ``UPDATE … SKIP LOCKED``; docs/desk.md.

**Resuming.** The job's work folder (``DATA/jobs/ID`` with ``--data``; the temporary folder
with ``--database``) is the batch's OUTDIR, so a job claimed again on the same machine skips
the records whose files are up to date (the batch's own resume) and the register skips the
records already brought with the same data (no second version). A job claimed by another
machine renders its unfinished records again; the register still holds each once.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sheetgen.errors import RegisterError, SheetgenError

if TYPE_CHECKING:
    from sheetgen.batch import RecordResult
    from sheetgen.desk.register import Register

#: Input kinds by media type (``POST /api/v1/batches``'s ``Content-Type``).
MEDIA_KINDS = {
    "application/json": "json",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/csv": "csv",
}
SUFFIXES = {"json": ".json", "jsonl": ".jsonl", "xlsx": ".xlsx", "csv": ".csv"}
#: How long a claim lasts without renewal (seconds): an instance that died is taken over
#: after this. ``SHEETGEN_DESK_LEASE`` sets another (a shorter one for tests).
LEASE = 60.0
#: Claims of one job, at most: a job that kills its instance every time is failed.
MAX_ATTEMPTS = 3
#: The render options a job takes (the query parameters of ``/sheets`` that apply).
OPTION_DEFAULTS: dict[str, Any] = {"cover": True, "qr": True, "details": False,
                                   "variant": "auto", "provider": None, "copies": 1,
                                   "name": None, "verification": None, "templates": None,
                                   "sheet": None, "originals": []}


@dataclass(frozen=True)
class Claimed:
    """A job this instance claimed: what to run."""

    id: str
    kind: str
    options: dict[str, Any]
    input: bytes


def _now() -> datetime:
    return datetime.now(UTC)


class Jobs:
    """The job queue of one register, as one instance sees it."""

    def __init__(self, register: Register, *, workdir: Path, instance: str | None = None,
                 lease: float | None = None) -> None:
        self.register = register
        self.workdir = workdir
        # Who holds a job: the host and process, then a random part (pids repeat).
        self.instance = instance or (
            f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        self.lease = timedelta(seconds=lease if lease is not None else _lease())

    # --- what the API asks ----------------------------------------------------------------

    def submit(self, data: bytes, kind: str, options: Mapping[str, Any]) -> str:
        """Queue a job; its id."""
        from sqlalchemy import insert

        from sheetgen.desk.schema import JobRow

        if kind not in SUFFIXES:
            raise ValueError(kind)
        job = uuid.uuid4().hex
        now = _now()
        with self.register.transaction() as db:
            db.execute(insert(JobRow).values(
                id=job, status="queued", kind=kind,
                options={**OPTION_DEFAULTS, **options}, input=data, total=None, done=0,
                failed=0, attempts=0, created=now, updated=now))
        return job

    def status(self, job: str) -> dict[str, Any] | None:
        from sqlalchemy import select

        from sheetgen.desk.schema import JobRow

        with self.register.transaction() as db:
            row = db.execute(select(JobRow.id, JobRow.status, JobRow.total, JobRow.done,
                                    JobRow.failed, JobRow.error)
                             .where(JobRow.id == job)).one_or_none()
        if row is None:
            return None
        status = {"id": row.id, "status": row.status, "total": row.total, "done": row.done,
                  "failed": row.failed}
        if row.error:
            status["error"] = row.error
        return status

    def result(self, job: str, what: str) -> tuple[str, Any] | None:
        """A finished job's ``manifest``, ``bundle`` or ``failed_rows``: (status, value)."""
        from sqlalchemy import select

        from sheetgen.desk.schema import JobRow

        column = {"manifest": JobRow.manifest, "bundle": JobRow.bundle,
                  "failed_rows": JobRow.failed_rows}[what]
        with self.register.transaction() as db:
            row = db.execute(select(JobRow.status, column.label("value"))
                             .where(JobRow.id == job)).one_or_none()
        return None if row is None else (row.status, row.value)

    # --- what the runner does --------------------------------------------------------------

    def claim(self) -> Claimed | None:
        """The oldest job waiting, or running under a lease that ran out, now this
        instance's (None: nothing to do)."""
        from sqlalchemy import or_, select, update

        from sheetgen.desk.schema import JobRow

        now = _now()
        with self.register.transaction() as db:
            query = (select(JobRow.id, JobRow.kind, JobRow.options, JobRow.input,
                            JobRow.attempts)
                     .where(or_(JobRow.status == "queued",
                                (JobRow.status == "running") & (JobRow.lease_until < now)))
                     .order_by(JobRow.created).limit(1))
            if db.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = db.execute(query).one_or_none()
            if row is None:
                return None
            if row.attempts >= MAX_ATTEMPTS:
                db.execute(update(JobRow).where(JobRow.id == row.id).values(
                    status="failed", updated=now, claimed_by=None,
                    error=f"the job stopped its instance {row.attempts} times"))
                return None
            db.execute(update(JobRow).where(JobRow.id == row.id).values(
                status="running", claimed_by=self.instance, attempts=row.attempts + 1,
                lease_until=now + self.lease, updated=now))
        return Claimed(row.id, row.kind, dict(row.options), bytes(row.input))

    def _update(self, job: str, **values: Any) -> bool:
        """Update a job this instance holds, renewing the lease (False: it lost the job)."""
        from sqlalchemy import update

        from sheetgen.desk.schema import JobRow

        now = _now()
        with self.register.transaction() as db:
            return bool(db.execute(
                update(JobRow).where(JobRow.id == job, JobRow.claimed_by == self.instance,
                                     JobRow.status == "running")
                .values(updated=now, lease_until=now + self.lease, **values)
            ).rowcount)

    def run(self, job: Claimed, *, workers: int, stop: threading.Event | None = None) -> None:
        """Run a claimed job to its end: every record into the register, then its results."""
        from sheetgen.batch import BatchOptions, run_batch
        from sheetgen.desk.runs import BatchRecorder
        from sheetgen.documents.jobs import RenderOptions
        from sheetgen.sources.json import iter_records
        from sheetgen.sources.spreadsheet import SheetOptions, reader

        folder = self.workdir / job.id
        folder.mkdir(parents=True, exist_ok=True)
        source = folder / f"input{SUFFIXES[job.kind]}"
        if not source.exists():
            source.write_bytes(job.input)
        outdir, bundle, failed = folder / "out", folder / "bundle.pdf", folder / "failed.xlsx"
        total = sum(1 for _ in iter_records([str(source)],
                                            spreadsheets=reader(SheetOptions())))
        self._update(job.id, total=total, done=0, failed=0)
        counts = {"done": 0, "failed": 0}
        name = str(job.options.get("name") or source.name)
        recorder = BatchRecorder(self.register, outdir, source_names={str(source): name})

        def progress(result: RecordResult) -> None:
            counts["done"] += 1
            counts["failed"] += not result.ok
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt  # the instance stops: the lease lapses, another resumes
            self._update(job.id, **counts)

        options = job.options
        render = RenderOptions(provider=options.get("provider"), qr=bool(options.get("qr")),
                               cover=bool(options.get("cover")),
                               copies=int(options.get("copies") or 1),
                               details=bool(options.get("details")),
                               sheet=options.get("sheet"),
                               originals=tuple((str(k), int(n))
                                               for k, n in options.get("originals") or ()))
        templates = options.get("templates")
        try:
            result = run_batch([str(source)], BatchOptions(
                outdir=outdir, jobs=workers, bundle=bundle, variant=str(options["variant"]),
                render=render, failed=failed, verification=options.get("verification"),
                templates=Path(templates) if templates else None),
                on_record=progress, on_value=recorder)
        except SheetgenError as err:
            self._update(job.id, status="failed", error=err.message, **counts)
            return
        if result.interrupted:
            return  # stopped with the instance: claimed again later, resumed from OUTDIR
        manifest = _renamed(result.manifest(), str(source), name)
        manifest["outdir"] = None  # this instance's folder means nothing to a client
        self._update(job.id, status="done", manifest=manifest, **counts,
                     bundle=bundle.read_bytes() if bundle.is_file() else None,
                     failed_rows=failed.read_bytes() if failed.is_file() else None)
        shutil.rmtree(folder, ignore_errors=True)


def _lease() -> float:
    """The lease: ``SHEETGEN_DESK_LEASE`` seconds (2 at least), else :data:`LEASE`."""
    try:
        return max(2.0, float(os.environ.get("SHEETGEN_DESK_LEASE", LEASE)))
    except ValueError:
        return LEASE


def _renamed(manifest: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    """The manifest with the job's input file called by the name it was sent as."""
    for record in manifest["records"]:
        if record.get("source") == path:
            record["source"] = name
        for problem in [*record.get("errors", ()), *record.get("problems", ())]:
            if problem.get("source") == path:
                problem["source"] = name
    return manifest


class JobRunner:
    """A thread of one ``serve`` instance that claims jobs and runs them, one at a time."""

    def __init__(self, jobs: Jobs, *, workers: int, idle: float = 1.0) -> None:
        self.jobs = jobs
        self.workers = workers
        self.idle = idle
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="sheetgen-jobs", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self, timeout: float = 30.0) -> None:
        self.stop.set()
        self.thread.join(timeout)

    def _loop(self) -> None:
        import logging

        log = logging.getLogger("sheetgen.serve")
        while not self.stop.is_set():
            try:
                job = self.jobs.claim()
                if job is None:
                    self.stop.wait(self.idle)
                    continue
                self.jobs.run(job, workers=self.workers, stop=self.stop)
            except RegisterError as err:  # the database is away: try again in a while
                log.warning("jobs: the register is unavailable (%s); retrying", err.message)
                self.stop.wait(5 * self.idle)
            except Exception as err:
                log.error("jobs: internal error (%s)", type(err).__name__)
                self.stop.wait(self.idle)
