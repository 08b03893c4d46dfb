"""The desk's register (sheetgen.desk): versions, statuses, receipts, listing, deleting — on
SQLite and on a real PostgreSQL server the tests start (tests/databases.py)."""

from __future__ import annotations

import json
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sheetgen.desk import open_register
from sheetgen.desk.register import OutputFile, ReceivedPage, Register
from sheetgen.errors import RegisterError
from tests.applicants import example

PASSWORD = "Secret-Filing-Pass-9"


def _applicant(ref: str = "R-1", **changes: Any) -> dict[str, Any]:
    data = example("beijing-unit-two-websites")
    data["ref"] = ref
    data.setdefault("access", {})["filing_password"] = PASSWORD
    data.update(changes)
    return data


def _page(ref: str, website: int, page: int, *, scan: str = "a" * 64,
          problems: list[dict[str, Any]] | None = None) -> ReceivedPage:
    return ReceivedPage(reference=ref, file="scans.pdf", scan_sha256=scan, page=page,
                        website=website, flags={"signed": True, "seal": True},
                        problems=problems or [])


def test_versions_status_and_no_password(register_target: str) -> None:
    with open_register(register_target) as desk:
        first = desk.bring("R-1", data=_applicant(), ok=True, input_sha256="1" * 64,
                           source="a.json",
                           outputs=[OutputFile("R-1.pdf", "pdf", b"%PDF-1.7 one")])
        assert (first.version, first.status, first.changed) == (1, "ready", True)
        # The same data again (a re-run): nothing changes.
        again = desk.bring("R-1", data=_applicant(), ok=True, input_sha256="1" * 64)
        assert (again.version, again.status, again.changed) == (1, "ready", False)
        assert desk.mark_printed(["R-1"]) == 1
        # New data: a new version, and the status starts over.
        second = desk.bring("R-1", data=_applicant(province="上海市"), ok=False,
                            input_sha256="2" * 64,
                            problems=[{"path": "host.name", "code": "required",
                                       "message": "缺少"}])
        assert (second.version, second.status) == (2, "invalid")
        record = desk.record("R-1")
        assert record is not None
        assert record["status"] == "invalid" and "required" in record["why"]
        assert [v["number"] for v in record["versions"]] == [1, 2]
        assert record["data"]["province"] == "上海市"
        assert "filing_password" not in json.dumps(record, ensure_ascii=False)
        assert desk.output("R-1") is None  # version 2 made no file
        assert desk.record("nobody") is None
        dump = _everything(desk)
    assert PASSWORD not in dump and "filing_password" not in dump
    assert "R-1" in dump  # the dump did read the data


def _everything(desk: Register) -> str:
    """Every row of every table as text (the raw database, as an attacker would read it)."""
    from sqlalchemy import text

    from sheetgen.desk.schema import Base

    with desk.engine.connect() as db:
        return "\n".join(repr(row) for table in Base.metadata.tables
                         for row in db.execute(text(f"SELECT * FROM {table}")))


def test_sqlite_file_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    with open_register(str(tmp_path / "desk")) as desk:
        desk.bring("R-1", data=_applicant(), ok=True, input_sha256="1" * 64)
        with desk.engine.connect() as db:
            assert db.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    database = tmp_path / "desk" / "register.sqlite"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert PASSWORD.encode() not in b"".join(
        p.read_bytes() for p in (tmp_path / "desk").iterdir())


def test_printed_received_complete_forward_only(register_target: str) -> None:
    with open_register(register_target) as desk:
        desk.bring("R-2", data=_applicant("R-2"), ok=True, input_sha256="1" * 64)
        desk.bring("BAD", data={"ref": "BAD"}, ok=False, input_sha256="3" * 64)
        assert desk.mark_printed(["R-2", "BAD", "unknown"]) == 1
        moved = desk.receive([_page("R-2", 1, 1), _page("R-2", 1, 2)])
        assert moved["R-2"].status == "received"
        record = desk.record("R-2")
        assert record is not None and "网站 2: 0/2" in record["why"]
        # The same scan uploaded again counts once; a flawed page does not count.
        desk.receive([_page("R-2", 1, 1), _page("R-2", 2, 3, problems=[
            {"code": "no_seal", "message": "no seal"}])])
        record = desk.record("R-2")
        assert record is not None and record["status"] == "received"
        assert len(record["receipts"]) == 3 and "网站 2: 0/2" in record["why"]
        done = desk.receive([_page("R-2", 2, 1, scan="b" * 64), _page("R-2", 2, 2, scan="b" * 64)])
        assert done["R-2"].status == "complete"
        # Printing again does not move a complete record back; nor does a later bad page.
        assert desk.mark_printed(["R-2"]) == 0
        desk.receive([_page("R-2", 1, 9, scan="c" * 64, problems=[{"code": "not_signed",
                                                                  "message": "x"}])])
        record = desk.record("R-2")
        assert record is not None and record["status"] == "complete"
        # Pages of records the register does not hold are left out; invalid ones stay invalid.
        assert desk.receive([_page("nobody", 1, 1)]) == {}
        assert desk.receive([_page("BAD", 1, 1)])["BAD"].status == "invalid"


def test_listing_filters_pages_and_export(register_target: str) -> None:
    with open_register(register_target) as desk:
        for n in range(12):
            province = "北京市" if n % 3 else "上海市"
            desk.bring(f"L-{n:02d}", data=_applicant(f"L-{n:02d}", province=province),
                       ok=n != 5, input_sha256=f"{n:064d}")
        listing = desk.records(per_page=5)
        assert listing["total"] == 12 and len(listing["records"]) == 5
        assert listing["records"][0]["ref"] == "L-11"  # newest first
        assert desk.records(page=3, per_page=5)["records"][-1]["ref"] == "L-00"
        assert [r["ref"] for r in desk.records(status="invalid")["records"]] == ["L-05"]
        assert desk.records(province="上海市")["total"] == 4
        # Provinces are shown and filtered by their short name, whatever form was given.
        assert desk.records(province="沪")["total"] == 4
        assert {r["province"] for r in desk.records(per_page=20)["records"]} == {"北京", "上海"}
        assert desk.records(q="L-1")["total"] == 2
        assert desk.records(q="示例数据")["total"] == 12  # the 主办者's name
        assert desk.records(q="%")["total"] == 0  # a LIKE wildcard is a character
        with pytest.raises(RegisterError):
            desk.records(status="lost")
        rows = list(desk.export_rows())
        assert len(rows) == 24  # one per record and website
        assert rows[0]["website_name"] == "示例数据官方网站"
        assert rows[0]["domains"] == "shili-data.cn 示例数据.中国"


def test_delete_and_purge(register_target: str) -> None:
    with open_register(register_target) as desk:
        desk.bring("D-1", data=_applicant("D-1"), ok=True, input_sha256="1" * 64,
                   outputs=[OutputFile("D-1.pdf", "pdf", b"%PDF")])
        desk.bring("D-2", data=_applicant("D-2"), ok=True, input_sha256="2" * 64)
        desk.receive([_page("D-1", 1, 1)])
        assert desk.output("D-1") == ("D-1.pdf", b"%PDF")
        assert desk.delete("D-1") and not desk.delete("D-1")
        assert desk.record("D-1") is None and desk.output("D-1") is None
        assert desk.purge(datetime.now(UTC) - timedelta(days=1)) == 0
        assert desk.purge(datetime.now(UTC) + timedelta(seconds=1)) == 1
        assert desk.records()["total"] == 0
        assert "D-1" not in _everything(desk)


def test_concurrent_uploads_of_one_ref_each_make_a_version(register_target: str) -> None:
    with open_register(register_target) as desk:
        errors: list[BaseException] = []

        def bring(worker: int) -> None:
            try:
                for n in range(5):
                    desk.bring("SAME", data=_applicant("SAME", province=f"{worker}-{n}"),
                               ok=True, input_sha256=f"{worker}{n}".ljust(64, "0"))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=bring, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        record = desk.record("SAME")
        assert record is not None
        assert [v["number"] for v in record["versions"]] == list(range(1, 21))
        assert record["version"] == 20


def test_schema_is_what_the_migrations_make(register_target: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from sheetgen.desk.schema import Base

    with open_register(register_target) as desk, desk.engine.connect() as db:
        diff = compare_metadata(MigrationContext.configure(db), Base.metadata)
    assert diff == []
    # Opening again (already at head) changes nothing.
    with open_register(register_target) as desk:
        assert desk.records()["total"] == 0


def test_a_newer_schema_or_no_database_is_a_clear_error(register_target: str,
                                                        tmp_path: Path) -> None:
    from sqlalchemy import text

    with open_register(register_target) as desk, desk.engine.begin() as db:
        db.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(RegisterError, match="newer sheetgen"):
        open_register(register_target)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RegisterError, match="cannot open the register"):
        open_register(str(blocker / "desk"))
    with pytest.raises(RegisterError, match="unsupported database"):
        open_register("mysql://user@127.0.0.1/x")


def test_a_postgresql_that_is_gone_is_unavailable_not_a_traceback(postgres: Any) -> None:
    from tests.databases import _free_port

    url = f"postgresql+psycopg://sheetgen:pw-not-shown@127.0.0.1:{_free_port()}/none"
    with pytest.raises(RegisterError, match="unavailable") as caught:
        open_register(url)
    assert "pw-not-shown" not in str(caught.value.message)
