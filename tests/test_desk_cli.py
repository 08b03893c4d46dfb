"""The command line on the desk's register: batch --register, receive --register, and
``sheetgen desk list|show|purge`` (the fix loop without manifests)."""

from __future__ import annotations

import json
from pathlib import Path

import pypdfium2 as pdfium

from sheetgen.receive.codes import find_codes
from sheetgen.rendering.pdf.layout import cached_layout
from tests.applicants import example
from tests.conftest import run_cli
from tests.scans import RENDER_DPI, Sheet, ink, jpeg, scan, scanner_pdf


def _listing(register: Path, *args: str) -> dict[str, dict[str, object]]:
    result = run_cli("desk", "list", "--register", str(register), "--json", *args)
    assert result.code == 0, result.stderr
    return {r["ref"]: r for r in json.loads(result.text)["records"]}


def test_fix_loop_print_and_receive_on_one_register(tmp_path: Path) -> None:
    register = tmp_path / "desk"
    good = example("jiangxi-personal")
    bad = example("guangdong-unit")
    bad["host"]["name"] = ""
    first = tmp_path / "first.jsonl"
    first.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in (good, bad)) + "\n",
                     "utf-8")
    out = tmp_path / "out"
    batch = run_cli("batch", str(first), "-o", str(out), "--jobs", "1", "--no-cover",
                    "--register", str(register))
    assert batch.code == 6, batch.stderr
    assert "register" in batch.stderr and "2 records" in batch.stderr
    records = _listing(register)
    assert {ref: r["status"] for ref, r in records.items()} == {
        good["ref"]: "ready", bad["ref"]: "invalid"}
    assert "required" in str(records[bad["ref"]]["why"])

    # The clerk fixes the bad record and runs only it, printing a bundle.
    bad["host"]["name"] = "广东示例科技有限公司"
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps(bad, ensure_ascii=False), "utf-8")
    bundle = tmp_path / "bundle.pdf"
    batch = run_cli("batch", str(fixed), "-o", str(out), "--jobs", "1", "--no-cover",
                    "--bundle", str(bundle), "--register", str(register))
    assert batch.code == 0, batch.stderr
    records = _listing(register)
    assert records[bad["ref"]]["status"] == "printed"
    assert records[bad["ref"]]["version"] == 2
    assert records[good["ref"]]["status"] == "ready"  # the register remembers the first run
    shown = run_cli("desk", "show", bad["ref"], "--register", str(register), "--json")
    detail = json.loads(shown.text)
    assert [v["number"] for v in detail["versions"]] == [1, 2]
    assert detail["outputs"] and detail["outputs"][0]["format"] == "pdf"

    # The signed originals come back: two of the one website's sheet.
    document = pdfium.PdfDocument(bundle)
    image = document[0].render(scale=RENDER_DPI / 72).to_pil().convert("RGB")
    document.close()
    code = find_codes(image)[0].code
    assert code is not None and code.layout is not None and code.reference == bad["ref"]
    layout = cached_layout(code.layout)
    assert layout is not None
    sheet = Sheet(code.reference, 1, image, layout)
    one = scanner_pdf(tmp_path / "one.pdf", [jpeg(scan(ink(sheet, seed=1), seed=1))])
    result = run_cli("receive", str(one), "--register", str(register))
    assert f"register: {bad['ref']} received" in result.stderr, result.stderr
    two = scanner_pdf(tmp_path / "two.pdf", [jpeg(scan(ink(sheet, seed=2), angle=90, seed=2))])
    result = run_cli("receive", str(two), "--register", str(register))
    assert f"register: {bad['ref']} complete" in result.stderr, result.stderr
    assert _listing(register, "--status", "complete").keys() == {bad["ref"]}


def test_purge_and_bad_arguments(tmp_path: Path) -> None:
    register = tmp_path / "desk"
    data = tmp_path / "a.json"
    data.write_text(json.dumps(example("jiangxi-personal"), ensure_ascii=False), "utf-8")
    assert run_cli("batch", str(data), "-o", str(tmp_path / "out"), "--jobs", "1",
                   "--register", str(register)).code == 0
    kept = run_cli("desk", "purge", "--register", str(register), "--before", "2000-01-01")
    assert kept.code == 0 and "0 records" in kept.stderr
    gone = run_cli("desk", "purge", "--register", str(register), "--before", "2999-01-01",
                   "--json")
    assert gone.code == 0 and json.loads(gone.text)["deleted"] == 1
    assert _listing(register) == {}
    wrong = run_cli("desk", "purge", "--register", str(register), "--before", "yesterday")
    assert wrong.code == 2 and "YYYY-MM-DD" in wrong.stderr and "Traceback" not in wrong.stderr
    missing = run_cli("desk", "show", "NOPE", "--register", str(register))
    assert missing.code == 2 and "no record" in missing.stderr
    status = run_cli("desk", "list", "--register", str(register), "--status", "lost")
    assert status.code == 2 and "unknown status" in status.stderr
    url = run_cli("desk", "list", "--register", "oracle://x@127.0.0.1/db")
    assert url.code == 2 and "unsupported database" in url.stderr


def test_a_batch_without_register_loads_no_database_library(tmp_path: Path) -> None:
    import subprocess
    import sys

    data = tmp_path / "a.json"
    data.write_text(json.dumps(example("jiangxi-personal"), ensure_ascii=False), "utf-8")
    code = ("import sys, sheetgen\n"
            f"code = sheetgen.main(['batch', {str(data)!r}, '-o', {str(tmp_path / 'out')!r}, "
            "'--jobs', '1'])\n"
            "print(code, sorted(m for m in ('sqlalchemy', 'alembic', 'psycopg') "
            "if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stderr
