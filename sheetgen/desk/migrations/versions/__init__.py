"""The register's schema versions, oldest first (Alembic revisions)."""
