"""Alembic's environment for the register: migrate the connection the register passes in."""

from __future__ import annotations

from alembic import context

from sheetgen.desk.schema import Base

connection = context.config.attributes["connection"]
# render_as_batch: SQLite alters a table by copying it; Alembic's batch mode does that for us.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
