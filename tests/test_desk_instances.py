"""Two ``sheetgen serve`` instances on one PostgreSQL, the one running a batch killed with
SIGKILL mid-job: the other takes the job over when its lease lapses, and every record ends in
the register exactly once (issue 25). Real processes, a real server, loopback only."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sheetgen.desk import open_register
from tests.applicants import example
from tests.conftest import REPO

TOKEN = "two-instances-token-0123456789"
RECORDS = 40
WAIT = 300.0


def _call(url: str, path: str, data: bytes | None = None, kind: str = "") -> Any:
    request = urllib.request.Request(url + path, data=data, headers={
        "Authorization": f"Bearer {TOKEN}", **({"Content-Type": kind} if kind else {})})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


@pytest.fixture
def instances(postgres: Any, tmp_path: Path) -> Iterator[tuple[str, list[subprocess.Popen[bytes]],
                                                              list[str]]]:
    database = postgres.new_database()
    open_register(database).close()  # migrated once, before both start
    env = {**os.environ, "SHEETGEN_DESK_LEASE": "3", "TMPDIR": str(tmp_path)}
    procs, urls = [], []
    try:
        for n in range(2):
            log = tmp_path / f"serve{n}.log"
            with log.open("wb") as stderr:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "sheetgen", "serve", "--port", "0", "--workers", "1",
                     "--database", database, "--token", TOKEN, "--no-access-log"],
                    stdout=subprocess.DEVNULL, stderr=stderr, stdin=subprocess.DEVNULL,
                    cwd=REPO, env=env))
            for _ in range(int(WAIT * 10)):
                found = re.search(r"the form is at (http://127\.0\.0\.1:\d+)/", log.read_text())
                if found:
                    urls.append(found.group(1))
                    break
                assert procs[-1].poll() is None, log.read_text()
                time.sleep(0.1)
        yield database, procs, urls
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)


def test_a_killed_instances_batch_is_finished_by_the_other_each_record_once(
        instances: tuple[str, list[subprocess.Popen[bytes]], list[str]]) -> None:
    from sqlalchemy import select

    from sheetgen.desk.schema import JobRow, VersionRow

    database, procs, urls = instances
    base = example("jiangxi-personal")
    lines = []
    for n in range(RECORDS):
        record = json.loads(json.dumps(base))
        record["ref"] = f"TWO-{n:03d}"
        lines.append(json.dumps(record, ensure_ascii=False))
    job = _call(urls[0], "/api/v1/batches?cover=false", ("\n".join(lines) + "\n").encode(),
                "application/x-ndjson")
    path = job["url"]

    # Wait until some records are done, then kill whichever instance holds the job.
    deadline = time.monotonic() + WAIT
    with open_register(database) as register:
        while time.monotonic() < deadline:
            status = _call(urls[1], path)
            if status["status"] == "running" and status["done"] >= 3:
                break
            time.sleep(0.05)
        assert status["status"] == "running" and status["done"] < RECORDS, status
        with register.transaction() as db:
            holder = db.execute(select(JobRow.claimed_by).where(
                JobRow.id == job["id"])).scalar_one()
        victim = next(p for p in procs if f"-{p.pid}-" in holder)
        victim.send_signal(signal.SIGKILL)
        victim.wait(30)
        survivor = urls[procs.index(next(p for p in procs if p is not victim))]

        while time.monotonic() < deadline:
            status = _call(survivor, path)
            if status["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
        assert status == {"id": job["id"], "status": "done", "total": RECORDS,
                          "done": RECORDS, "failed": 0}, status
        with register.transaction() as db:
            taken = db.execute(select(JobRow.claimed_by, JobRow.attempts).where(
                JobRow.id == job["id"])).one()
            versions = db.execute(select(VersionRow.ref, VersionRow.number)).all()
    assert taken.claimed_by != holder and taken.attempts == 2  # the other instance finished it
    # Every record in the register once: one version each, none twice, none lost.
    assert sorted(v.ref for v in versions) == [f"TWO-{n:03d}" for n in range(RECORDS)]
    assert {v.number for v in versions} == {1}
