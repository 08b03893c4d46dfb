"""The register: records, their versions, outputs and originals received, in one database.

:class:`Register` is the only code that reads or writes the database. It is opened on a folder
(an SQLite file ``register.sqlite`` in it, created 0600, in WAL mode) or on a database URL
(``postgresql+psycopg://…``), and migrates the schema to the newest version on opening.

What it guarantees:

- **A record's key is its ref.** Bringing a ref again with different data makes a new version
  and resets the status; bringing the same data again (a re-run) changes nothing.
- **The filing password is never stored**: every ``filing_password`` key is dropped from the
  data before it is written (the hash the manifest uses leaves it out too).
- **Statuses only move forward** (``invalid`` → ``ready`` → ``printed`` → ``received`` →
  ``complete``), except that a new version starts over.
- **Writes are serialised per record**: on PostgreSQL the record's row is locked (``SELECT …
  FOR UPDATE``); on SQLite every write transaction is ``BEGIN IMMEDIATE``. Two uploads of the
  same ref at once give two versions, one after the other, never half of each.
- **Unavailable is a clear error**: a database that is gone, locked past the wait, or of a
  newer schema than this sheetgen raises :class:`~sheetgen.errors.RegisterError` (exit 2;
  ``serve`` answers 503).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sheetgen.desk.schema import STATUSES
from sheetgen.errors import RegisterError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

#: The SQLite file in a register folder.
DATABASE_FILE = "register.sqlite"
#: Records per page of a listing, at most.
MAX_PAGE_SIZE = 200
#: How long a write waits for another writer before the register says it is busy (seconds).
BUSY_TIMEOUT = 15.0
#: Originals each website's documents need by default (one for the provider, one for the
#: communications administration; contract.md §5).
DEFAULT_ORIGINALS = 2


@dataclass(frozen=True)
class OutputFile:
    """A file made for a record: its name, format and bytes."""

    name: str
    format: str
    content: bytes


@dataclass(frozen=True)
class Brought:
    """What bringing one record did: its ref, version and status, and whether it changed."""

    ref: str
    version: int
    status: str
    changed: bool


@dataclass
class ReceivedPage:
    """One scanned page matched to a record, as :meth:`Register.receive` stores it."""

    reference: str
    file: str
    scan_sha256: str
    page: int
    website: int | None = None
    document: str = "sheet"
    flags: dict[str, bool | None] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)


def without_password(value: Any) -> Any:
    """``value`` with every ``filing_password`` key dropped, at any depth."""
    if isinstance(value, Mapping):
        return {k: without_password(v) for k, v in value.items() if k != "filing_password"}
    if isinstance(value, list):
        return [without_password(v) for v in value]
    return value


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive times; the register writes UTC only."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _summary(problems: Sequence[Mapping[str, Any]]) -> str:
    """A record's ``why`` from its problems: the first few, with where they are."""
    errors = [p for p in problems if p.get("severity", "error") == "error"]
    if not errors:
        return ""
    shown = "; ".join(f"{p.get('path') or '-'}: {p.get('code')}" for p in errors[:3])
    more = f" (+{len(errors) - 3})" if len(errors) > 3 else ""
    return f"{len(errors)} 个错误 / errors: {shown}{more}"


def province_name(text: str) -> str:
    """A province as the desk shows and filters it: its short name (广东) whatever form the
    data used (粤, 广东省, guangdong); text that names no province as it is."""
    from sheetgen.rules import load_rules

    found = load_rules().find_province(text)
    return found.name if found is not None else text.strip()[:16]


def _facts(data: Any) -> tuple[str | None, str | None, int]:
    """The columns the desk filters on: province, the 主办者's name, websites."""
    if not isinstance(data, Mapping):
        return None, None, 0
    host = data.get("host")
    name = host.get("name") if isinstance(host, Mapping) else None
    websites = data.get("websites")
    province = data.get("province")
    return (province_name(province) if isinstance(province, str) else None,
            str(name)[:200] if isinstance(name, str) else None,
            len(websites) if isinstance(websites, list) else 0)


class Register:
    """The register on one database (see the module docstring)."""

    def __init__(self, engine: Engine, *, where: str) -> None:
        self.engine = engine
        self.where = where  # for messages: the folder or the URL without its password

    # --- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, target: str | Path, *, migrate: bool = True) -> Register:
        """The register in folder ``target`` (SQLite) or at database URL ``target``."""
        from sqlalchemy import create_engine, event
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        text = str(target)
        if "://" in text:
            try:
                url = make_url(text)
            except ArgumentError:
                raise RegisterError(
                    f"not a database URL: {text!r}",
                    hint="give a folder, or postgresql+psycopg://user@host/db") from None
            where = url.render_as_string(hide_password=True)
            if url.get_backend_name() not in ("postgresql", "sqlite"):
                raise RegisterError(f"unsupported database {url.get_backend_name()!r}: {where}",
                                    hint="use a folder (SQLite) or postgresql+psycopg://…")
        else:
            folder = Path(text)
            try:
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                path = folder / DATABASE_FILE
                # Created 0600 before SQLite opens it: the file holds ID numbers and phones
                # (SQLite gives its -wal and -shm files the same mode).
                os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            except OSError as exc:
                raise RegisterError(f"cannot open the register in {folder}: "
                                    f"{exc.strerror or exc}",
                                    hint="give a folder you can write") from None
            url = make_url(f"sqlite:///{path}")
            where = str(folder)
        try:
            if url.get_backend_name() == "sqlite":
                engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT})
                _sqlite_immediate(engine, event)
            else:
                engine = create_engine(url, pool_pre_ping=True,
                                       connect_args={"connect_timeout": 10})
        except (NoSuchModuleError, ImportError) as exc:
            raise RegisterError(f"no database driver for {where}: {exc}",
                                hint="pip install 'sheetgen[postgresql]' (psycopg 3)") from None
        register = cls(engine, where=where)
        if migrate:
            try:
                register.migrate()
            except BaseException:
                register.close()  # the pool's connections, not left for the collector
                raise
        return register

    def migrate(self) -> None:
        """Bring the schema to the newest version (Alembic ``upgrade head``)."""
        from alembic import command
        from alembic.config import Config
        from alembic.util.exc import CommandError

        config = Config()
        config.set_main_option("script_location",
                               str(Path(__file__).resolve().parent / "migrations"))
        with self.transaction() as connection:
            config.attributes["connection"] = connection
            try:
                command.upgrade(config, "head")
            except CommandError as exc:  # a revision this sheetgen does not know: newer
                raise RegisterError(f"the register {self.where} was made by a newer sheetgen "
                                    f"({exc})", hint="upgrade sheetgen") from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Register:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction; a database that is gone or busy becomes a RegisterError."""
        from sqlalchemy.exc import DBAPIError, OperationalError

        try:
            with self.engine.begin() as connection:
                yield connection
        except OperationalError as exc:
            raise RegisterError(f"the register {self.where} is unavailable: "
                                f"{_reason(exc)}",
                                hint="try again in a moment; check the database is running "
                                     "and reachable") from None
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise RegisterError(f"the register {self.where} is unavailable: "
                                    f"{_reason(exc)}", hint="try again in a moment") from None
            raise

    # --- bringing records ------------------------------------------------------------------

    def bring(self, ref: str, *, data: Any, ok: bool,
              problems: Sequence[Mapping[str, Any]] = (), source: str | None = None,
              input_sha256: str | None = None,
              outputs: Sequence[OutputFile] = ()) -> Brought:
        """Record one record as it came in (and what was made of it)."""
        from sqlalchemy import insert, select, update

        from sheetgen.desk.schema import RecordRow, VersionRow

        if not ref or len(ref) > 100:
            raise RegisterError(f"a record's ref must be 1 to 100 characters: {ref[:40]!r}")
        data = without_password(data)
        status = "ready" if ok else "invalid"
        why = "" if ok else (_summary(problems) or "数据无效 / invalid data")
        province, name, websites = _facts(data)
        now = _now()
        with self.transaction() as db:
            self._ensure_record(db, ref, now)
            row = db.execute(select(RecordRow.version, RecordRow.status)
                             .where(RecordRow.ref == ref).with_for_update()).one()
            if row.version:
                current = db.execute(select(VersionRow.input_sha256, VersionRow.problems)
                                     .where(VersionRow.ref == ref,
                                            VersionRow.number == row.version)).one()
                if (input_sha256 is not None and current.input_sha256 == input_sha256
                        and list(current.problems) == list(problems)):
                    self._add_outputs(db, ref, row.version, outputs, now, replace=True)
                    return Brought(ref, row.version, row.status, changed=False)
            number = row.version + 1
            db.execute(insert(VersionRow).values(
                ref=ref, number=number, data=data, input_sha256=input_sha256,
                problems=list(problems), source=source, created=now))
            self._add_outputs(db, ref, number, outputs, now, replace=False)
            db.execute(update(RecordRow).where(RecordRow.ref == ref).values(
                version=number, status=status, why=why, province=province, name=name,
                websites=websites, updated=now))
        return Brought(ref, number, status, changed=True)

    def _ensure_record(self, db: Connection, ref: str, now: datetime) -> None:
        """The record's row, made if missing (concurrent makers: one wins, none fails)."""
        from sheetgen.desk.schema import RecordRow

        values = {"ref": ref, "version": 0, "status": "invalid", "why": "", "websites": 0,
                  "created": now, "updated": now}
        if db.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            db.execute(pg_insert(RecordRow).values(**values).on_conflict_do_nothing())
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            db.execute(sqlite_insert(RecordRow).values(**values).on_conflict_do_nothing())

    def _add_outputs(self, db: Connection, ref: str, version: int,
                     outputs: Sequence[OutputFile], now: datetime, *, replace: bool) -> None:
        from sqlalchemy import delete, insert

        from sheetgen.desk.schema import OutputRow

        if not outputs:
            return
        if replace:
            db.execute(delete(OutputRow).where(OutputRow.ref == ref,
                                               OutputRow.version == version))
        db.execute(insert(OutputRow), [
            {"ref": ref, "version": version, "name": o.name, "format": o.format,
             "sha256": hashlib.sha256(o.content).hexdigest(), "content": o.content,
             "created": now} for o in outputs])

    # --- printing and receiving ------------------------------------------------------------

    def mark_printed(self, refs: Iterable[str]) -> int:
        """Mark ``refs`` printed (those that are ``ready``); returns how many moved."""
        from sqlalchemy import update

        from sheetgen.desk.schema import RecordRow

        refs = list(dict.fromkeys(refs))
        moved = 0
        with self.transaction() as db:
            for start in range(0, len(refs), 500):
                moved += db.execute(
                    update(RecordRow)
                    .where(RecordRow.ref.in_(refs[start:start + 500]),
                           RecordRow.status == "ready")
                    .values(status="printed", why="", updated=_now())).rowcount
        return moved

    def printable(self, refs: Sequence[str] | None = None, *, limit: int = 1000
                  ) -> list[tuple[str, bytes]]:
        """The current PDFs to print, in ref order: of ``refs`` (any that has one), or of
        every record ``ready`` and not printed yet; (ref, PDF) each."""
        from sqlalchemy import select

        from sheetgen.desk.schema import OutputRow, RecordRow

        query = (select(OutputRow.ref, OutputRow.content)
                 .join(RecordRow, (RecordRow.ref == OutputRow.ref)
                       & (RecordRow.version == OutputRow.version))
                 .where(OutputRow.format == "pdf"))
        if refs is None:
            query = query.where(RecordRow.status == "ready")
        else:
            query = query.where(RecordRow.ref.in_(list(refs)[:limit]),
                                RecordRow.status != "invalid")
        with self.transaction() as db:
            rows = db.execute(query.order_by(OutputRow.ref, OutputRow.id).limit(limit)).all()
        printable: dict[str, bytes] = {}
        for row in rows:  # the first PDF of each record
            printable.setdefault(row.ref, bytes(row.content))
        return list(printable.items())

    def receive(self, pages: Iterable[ReceivedPage], *,
                originals: int = DEFAULT_ORIGINALS) -> dict[str, Brought]:
        """Store the matched pages (originals accumulate across uploads; the same page of the
        same scan file counts once) and move each record they name forward. Pages naming a
        ref the register does not hold are left out of the result."""
        from sqlalchemy import select

        from sheetgen.desk.schema import RecordRow

        by_ref: dict[str, list[ReceivedPage]] = {}
        for page in pages:
            by_ref.setdefault(page.reference, []).append(page)
        touched: dict[str, Brought] = {}
        for ref, received in by_ref.items():
            with self.transaction() as db:
                row = db.execute(select(RecordRow.version, RecordRow.status,
                                        RecordRow.websites)
                                 .where(RecordRow.ref == ref).with_for_update()).one_or_none()
                if row is None:
                    continue
                self._add_receipts(db, ref, row.version, received)
                status, why = self._receipt_status(db, ref, row.version, row.status,
                                                   row.websites, originals)
                self._set_status(db, ref, status, why)
            touched[ref] = Brought(ref, row.version, status, changed=status != row.status)
        return touched

    def _add_receipts(self, db: Connection, ref: str, version: int,
                      pages: Sequence[ReceivedPage]) -> None:
        from sheetgen.desk.schema import ReceiptRow

        now = _now()
        rows = [{"ref": ref, "version": version, "document": p.document, "website": p.website,
                 "file": p.file, "scan_sha256": p.scan_sha256, "page": p.page,
                 "flags": p.flags, "problems": p.problems, "created": now} for p in pages]
        if db.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            db.execute(pg_insert(ReceiptRow).on_conflict_do_nothing(), rows)
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            db.execute(sqlite_insert(ReceiptRow).on_conflict_do_nothing(), rows)

    def _receipt_status(self, db: Connection, ref: str, version: int, status: str,
                        websites: int, originals: int) -> tuple[str, str]:
        """The status the originals received for this version give, and why."""
        from sqlalchemy import select

        from sheetgen.desk.schema import ReceiptRow

        if status == "invalid":  # originals of data that is not valid move nothing
            return status, "收到原件，但当前数据无效 / originals received, but the data is invalid"
        receipts = db.execute(select(ReceiptRow.website, ReceiptRow.problems)
                              .where(ReceiptRow.ref == ref,
                                     ReceiptRow.version == version)).all()
        if not receipts:
            return status, ""
        good: dict[int, int] = {}
        flawed = 0
        for receipt in receipts:
            if receipt.problems:
                flawed += 1
            elif receipt.website is not None:
                good[receipt.website] = good.get(receipt.website, 0) + 1
        missing = [f"网站 {w}: {good.get(w, 0)}/{originals}"
                   for w in range(1, max(websites, 1) + 1) if good.get(w, 0) < originals]
        if not missing:
            return _forward(status, "complete"), ""
        why = "缺合格原件 / originals missing: " + "; ".join(missing)
        if flawed:
            why += f"; {flawed} 页有问题 / pages with problems"
        return _forward(status, "received"), why

    def _set_status(self, db: Connection, ref: str, status: str, why: str) -> None:
        from sqlalchemy import update

        from sheetgen.desk.schema import RecordRow

        db.execute(update(RecordRow).where(RecordRow.ref == ref)
                   .values(status=status, why=why, updated=_now()))

    # --- reading ---------------------------------------------------------------------------

    def records(self, *, status: str | None = None, province: str | None = None,
                q: str | None = None, page: int = 1, per_page: int = 50) -> dict[str, Any]:
        """One page of records, newest first, filtered by status, province and a search of
        ref and name."""
        from sqlalchemy import func, or_, select

        from sheetgen.desk.schema import RecordRow

        if status is not None and status not in STATUSES:
            raise RegisterError(f"unknown status {status!r}",
                                hint=f"one of {', '.join(STATUSES)}")
        per_page = max(1, min(per_page, MAX_PAGE_SIZE))
        page = max(1, page)
        where = []
        if status:
            where.append(RecordRow.status == status)
        if province:
            where.append(RecordRow.province == province_name(province))
        if q:
            pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(or_(RecordRow.ref.like(pattern, escape="\\"),
                             RecordRow.name.like(pattern, escape="\\")))
        with self.transaction() as db:
            total = db.execute(select(func.count()).select_from(RecordRow).where(*where)
                               ).scalar_one()
            rows = db.execute(select(RecordRow).where(*where)
                              .order_by(RecordRow.updated.desc(), RecordRow.ref.desc())
                              .limit(per_page).offset((page - 1) * per_page)).all()
            listed = [_record_summary(r) for r in rows]
        return {"total": total, "page": page, "per_page": per_page, "records": listed}

    def record(self, ref: str) -> dict[str, Any] | None:
        """A record: its status and why, current data and problems, versions, outputs and
        receipts (None when the register does not hold it)."""
        from sqlalchemy import select

        from sheetgen.desk.schema import OutputRow, ReceiptRow, RecordRow, VersionRow

        with self.transaction() as db:
            row = db.execute(select(RecordRow).where(RecordRow.ref == ref)).one_or_none()
            if row is None:
                return None
            versions = db.execute(select(VersionRow).where(VersionRow.ref == ref)
                                  .order_by(VersionRow.number)).all()
            outputs = db.execute(select(OutputRow.version, OutputRow.name, OutputRow.format,
                                        OutputRow.sha256)
                                 .where(OutputRow.ref == ref)
                                 .order_by(OutputRow.version, OutputRow.id)).all()
            receipts = db.execute(select(ReceiptRow).where(ReceiptRow.ref == ref)
                                  .order_by(ReceiptRow.id)).all()
            current = versions[-1] if versions else None
            return {
                **_record_summary(row),
                "data": current.data if current else None,
                "problems": list(current.problems) if current else [],
                "versions": [{"number": v.number, "created": _aware(v.created).isoformat(),
                              "source": v.source, "input_sha256": v.input_sha256,
                              "problems": len(v.problems)} for v in versions],
                "outputs": [{"version": o.version, "name": o.name, "format": o.format,
                             "sha256": o.sha256} for o in outputs],
                "receipts": [{"version": r.version, "document": r.document,
                              "website": r.website, "file": r.file, "page": r.page,
                              "flags": r.flags, "problems": r.problems,
                              "created": _aware(r.created).isoformat()} for r in receipts],
            }

    def output(self, ref: str, fmt: str = "pdf") -> tuple[str, bytes] | None:
        """The current version's output file of format ``fmt``: (name, bytes), or None."""
        from sqlalchemy import select

        from sheetgen.desk.schema import OutputRow, RecordRow

        with self.transaction() as db:
            found = db.execute(
                select(OutputRow.name, OutputRow.content)
                .join(RecordRow, (RecordRow.ref == OutputRow.ref)
                      & (RecordRow.version == OutputRow.version))
                .where(OutputRow.ref == ref, OutputRow.format == fmt)
                .order_by(OutputRow.id).limit(1)).one_or_none()
        return None if found is None else (found.name, bytes(found.content))

    def export_rows(self) -> Iterator[dict[str, Any]]:
        """The register as rows, one per record and website: who, status and why."""
        from sqlalchemy import select

        from sheetgen.desk.schema import RecordRow, VersionRow

        with self.transaction() as db:
            rows = db.execute(
                select(RecordRow, VersionRow.data)
                .join(VersionRow, (VersionRow.ref == RecordRow.ref)
                      & (VersionRow.number == RecordRow.version))
                .order_by(RecordRow.ref)).all()
        for record in rows:
            data = record.data
            websites = data.get("websites") if isinstance(data, Mapping) else None
            sites = websites if isinstance(websites, list) and websites else [None]
            for index, site in enumerate(sites, 1):
                domains = site.get("domains") if isinstance(site, Mapping) else None
                yield {"ref": record.ref, "name": record.name, "province": record.province,
                       "status": record.status, "why": record.why,
                       "version": record.version,
                       "website": index if site is not None else None,
                       "website_name": site.get("name") if isinstance(site, Mapping) else None,
                       "domains": " ".join(d.get("name", "") for d in domains
                                           if isinstance(d, Mapping))
                       if isinstance(domains, list) else None,
                       "updated": _aware(record.updated).isoformat()}

    # --- deleting --------------------------------------------------------------------------

    def delete(self, ref: str) -> bool:
        """Delete a record with everything the register holds of it."""
        return self._delete_where(ref=ref) > 0

    def purge(self, before: datetime) -> int:
        """Delete every record last changed before ``before``, and every batch job that
        ended (or was last touched) before it: a job holds its input as sent, personal data
        too. Returns how many records."""
        from sqlalchemy import delete

        from sheetgen.desk.schema import JobRow

        with self.transaction() as db:
            db.execute(delete(JobRow).where(JobRow.updated < before,
                                            JobRow.status.in_(("done", "failed"))))
        return self._delete_where(before=before)

    def _delete_where(self, *, ref: str | None = None, before: datetime | None = None) -> int:
        from sqlalchemy import delete, select

        from sheetgen.desk.schema import OutputRow, ReceiptRow, RecordRow, VersionRow

        with self.transaction() as db:
            query = select(RecordRow.ref)
            if ref is not None:
                query = query.where(RecordRow.ref == ref)
            if before is not None:
                query = query.where(RecordRow.updated < before)
            refs = list(db.execute(query).scalars())
            for start in range(0, len(refs), 500):
                chunk = refs[start:start + 500]
                # Children first: SQLite enforces ON DELETE CASCADE only with its pragma on.
                for table in (ReceiptRow, OutputRow, VersionRow, RecordRow):
                    db.execute(delete(table).where(table.ref.in_(chunk)))
        return len(refs)


def _forward(current: str, wanted: str) -> str:
    """Statuses only move forward."""
    return wanted if STATUSES.index(wanted) > STATUSES.index(current) else current


def _record_summary(row: Any) -> dict[str, Any]:
    return {"ref": row.ref, "status": row.status, "why": row.why, "province": row.province,
            "name": row.name, "websites": row.websites, "version": row.version,
            "created": _aware(row.created).isoformat(),
            "updated": _aware(row.updated).isoformat()}


def _reason(exc: Exception) -> str:
    """A database error's first line, without the SQL or parameters (which may hold data)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _sqlite_immediate(engine: Engine, event: Any) -> None:
    """SQLite: foreign keys and WAL on every connection, every transaction ``BEGIN
    IMMEDIATE`` (a writer waits for the other writer instead of failing half-way)."""

    @event.listens_for(engine, "connect")  # type: ignore[untyped-decorator]
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")  # type: ignore[untyped-decorator]
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
