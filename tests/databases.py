"""Real databases for the register's tests: an SQLite folder, and a PostgreSQL server that the
tests start themselves in a temporary folder (Debian's ``postgresql``; never mocked).

The server is started once per test session, on a free loopback port, with ``fsync`` off (the
tests do not need durability across a power cut); each test gets a database of its own. As
root (CI, these machines) PostgreSQL refuses to run, so its commands run as the ``postgres``
user through ``runuser``. Without PostgreSQL the tests that need it skip, unless
``SHEETGEN_REQUIRE_POSTGRESQL=1`` (set by ``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRED = os.environ.get("SHEETGEN_REQUIRE_POSTGRESQL") == "1"


def _bindir() -> Path | None:
    versions = []
    for candidate in Path("/usr/lib/postgresql").glob("*/bin"):
        if (candidate / "initdb").is_file() and candidate.parent.name.isdigit():
            versions.append((int(candidate.parent.name), candidate))
    if versions:
        return max(versions)[1]
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PostgresServer:
    """One PostgreSQL server in a temporary folder, on a loopback port."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="sheetgen-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self.as_user, *args], capture_output=True, text=True,
                                timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}\n{result.stderr}")

    def start(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust",
                  "-U", "sheetgen", "-E", "UTF8", "--no-locale")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   f"-c unix_socket_directories={self.folder} -c fsync=off "
                   "-c full_page_writes=off -c max_connections=50")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.folder / "server.log"), "-w", "-t", "60", "-o", options, "start")

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                      "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://sheetgen@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database on the server; its SQLAlchemy URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=sheetgen dbname=postgres",
                             autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (skips, or fails under CI, when there is none)."""
    bindir = _bindir()
    if bindir is None:
        if REQUIRED:
            pytest.fail("PostgreSQL is required (SHEETGEN_REQUIRE_POSTGRESQL=1) but initdb "
                        "is not installed: apt-get install postgresql")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    server = PostgresServer(bindir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def register_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's register lives: a fresh SQLite folder, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "desk")
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()
