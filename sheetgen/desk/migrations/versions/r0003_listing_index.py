"""The register's listing, newest first, read from an index instead of sorting every record.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_records_updated", table_name="records")
    op.create_index("ix_records_updated_ref", "records", ["updated", "ref"])


def downgrade() -> None:
    op.drop_index("ix_records_updated_ref", table_name="records")
    op.create_index("ix_records_updated", "records", ["updated"])
