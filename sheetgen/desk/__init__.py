"""The filing desk: the register that remembers every applicant staff bring in.

A filing lives for days — data in, fixes, printing, signed originals back, complete — and the
command line forgets it between runs. The register (:mod:`.register`) keeps, per record (its
key is its ``ref``), every version of its data (never the filing password), its problems, its
output files and the originals received, and derives its status from them:

``invalid`` → ``ready`` → ``printed`` → ``received`` → ``complete``

A status moves only forward, and a new version (the same ``ref`` brought again) starts over.
The database is reached through SQLAlchemy 2 (:mod:`.schema`) and migrated with Alembic
(``migrations/``): an embedded SQLite file by default, PostgreSQL (psycopg 3) when several
instances share the work (docs/desk.md says which and why).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sheetgen.desk.register import Register

__all__ = ["Register", "open_register"]


def open_register(target: str, **kwargs: Any) -> Register:
    """The register at ``target``: a folder (SQLite, created if missing) or a database URL."""
    from sheetgen.desk.register import Register

    return Register.open(target, **kwargs)
