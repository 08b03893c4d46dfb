"""The register's Alembic migrations (env.py; one file per schema version in versions/).

They are run by :meth:`sheetgen.desk.register.Register.open` on the connection it opened
(``alembic upgrade head`` in code, no ``alembic.ini``), so a register made by an older
sheetgen is brought up to date when a newer one opens it.
"""
