"""The register's tables, as SQLAlchemy 2 declarative models (the migrations create them).

- ``records``: one row per record (its ``ref``): the current version, the status and why, and
  the few columns the desk filters on (province, the 主办者's name).
- ``versions``: every version of a record's data as it came in, without the filing password,
  with its problems (errors and warnings) and where it came from.
- ``outputs``: the files made for a version (PDF, DOCX), their bytes in the database, so that
  every instance reads them whatever machine made them.
- ``receipts``: each scanned page matched to a record: which document and website, the boxes
  found, the problems; originals accumulate across uploads (one row per scan file and page).
- ``jobs``: batches sent over HTTP: the input as sent, the options, progress, and what the run
  made (manifest, bundle, failed rows); claimed by one instance at a time under a lease.

Times are UTC. JSON columns hold what the rest of sheetgen already speaks (problem dicts,
applicant data), so the register adds no second vocabulary.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: The statuses of a record, in the order a record moves through them (contract.md §8).
STATUSES = ("invalid", "ready", "printed", "received", "complete")
#: The longest ``ref`` a record may have (the model's limit for ``ref``).
REF_LENGTH = 100


class Base(DeclarativeBase):
    """The register's metadata (one schema, migrated by Alembic)."""


class RecordRow(Base):
    __tablename__ = "records"
    # The listing's order (newest first, then by ref) read from the index, not sorted.
    __table_args__ = (Index("ix_records_updated_ref", "updated", "ref"),)

    ref: Mapped[str] = mapped_column(String(REF_LENGTH), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    why: Mapped[str] = mapped_column(Text, default="")
    province: Mapped[str | None] = mapped_column(String(16), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    websites: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class VersionRow(Base):
    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("ref", "number", name="uq_versions_ref_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(
        String(REF_LENGTH), ForeignKey("records.ref", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    data: Mapped[Any] = mapped_column(JSON, nullable=True)
    input_sha256: Mapped[str | None] = mapped_column(String(64))
    problems: Mapped[Any] = mapped_column(JSON, nullable=False, default=list)
    source: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OutputRow(Base):
    __tablename__ = "outputs"
    __table_args__ = (Index("ix_outputs_ref_version", "ref", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(
        String(REF_LENGTH), ForeignKey("records.ref", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(8))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReceiptRow(Base):
    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("ref", "version", "scan_sha256", "page", name="uq_receipts_scan_page"),
        Index("ix_receipts_ref_version", "ref", "version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(
        String(REF_LENGTH), ForeignKey("records.ref", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[str] = mapped_column(String(32))
    website: Mapped[int | None] = mapped_column(Integer)
    file: Mapped[str] = mapped_column(Text)
    scan_sha256: Mapped[str] = mapped_column(String(64))
    page: Mapped[int] = mapped_column(Integer)
    flags: Mapped[Any] = mapped_column(JSON, nullable=False, default=dict)
    problems: Mapped[Any] = mapped_column(JSON, nullable=False, default=list)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_created", "status", "created"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8))
    options: Mapped[Any] = mapped_column(JSON, nullable=False)
    input: Mapped[bytes] = mapped_column(LargeBinary)
    total: Mapped[int | None] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    manifest: Mapped[Any] = mapped_column(JSON, nullable=True)
    bundle: Mapped[bytes | None] = mapped_column(LargeBinary)
    failed_rows: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
