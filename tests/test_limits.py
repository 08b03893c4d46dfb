"""Limits: huge files, huge fields, deep nesting, 10 000-record batches (issue 8).

Each ends in bounded memory with a clear error (or a per-record result), never a hang.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sheetgen.sources.json import MAX_DEPTH, MAX_DOCUMENT_BYTES
from tests.applicants import SECRET, edit, personal
from tests.conftest import run_cli


def test_a_huge_file_is_refused_without_being_read_whole(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:  # 50 MB of one JSON string
        handle.write(b'{"ref": "' + b"x" * (50 * 1024 * 1024) + b'"}')
    result = run_cli("fill", str(huge), "-o", str(tmp_path / "x.pdf"), "--json")
    assert result.code == 3
    assert json.loads(result.text)["errors"][0]["code"] == "too_large"
    assert MAX_DOCUMENT_BYTES <= 5 * 1024 * 1024


def test_a_huge_field_is_a_clear_error(tmp_path: Path) -> None:
    data = edit(personal(), "host.address", "路" * 1_000_000)
    data = edit(data, "access.filing_password", SECRET)
    result = run_cli("fill", "-", "-o", str(tmp_path / "x.pdf"), "--json",
                     stdin=json.dumps(data, ensure_ascii=False).encode())
    assert result.code == 3
    (error,) = json.loads(result.text)["errors"]
    assert (error["path"], error["code"]) == ("host.address", "too_long")
    assert len(result.stdout) < 2000 and SECRET not in result.text  # no echo of the value


def test_deep_nesting_is_a_clear_error(tmp_path: Path) -> None:
    for depth in (MAX_DEPTH + 1, 100_000):
        result = run_cli("check", "-", "--json", stdin=b"[" * depth + b"]" * depth)
        assert result.code == 3, result.stderr
        assert "too_deep" in result.text
        assert "Traceback" not in result.stderr


def test_ten_thousand_records_in_bounded_memory(tmp_path: Path) -> None:
    lines = []
    for n in range(10_000):
        if n % 3 == 0:
            lines.append("not json")
        elif n % 3 == 1:
            lines.append(json.dumps({"ref": f"R{n}", "province": "江西"}))
        else:
            lines.append("{}")
    source = tmp_path / "many.jsonl"
    source.write_text("\n".join(lines) + "\n", "utf-8")
    report = tmp_path / "report.json"
    # A wrapper process of its own: its RUSAGE_CHILDREN peak covers the batch and its workers
    # only, not every process this test session started before (LibreOffice, pip …).
    command = [sys.executable, "-m", "sheetgen", "batch", str(source), "-o",
               str(tmp_path / "out"), "--report", str(report), "--jobs", "2"]
    wrapper = ("import resource, subprocess, sys; "
               f"code = subprocess.run({command!r}, capture_output=True).returncode; "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")
    proc = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True,
                          timeout=300, check=False)
    peak_mb = int(proc.stdout.split()[-1]) / 1024
    assert proc.returncode == 6
    manifest = json.loads(report.read_text("utf-8"))
    assert manifest["summary"]["total"] == 10_000 == len(manifest["records"])
    assert [r["index"] for r in manifest["records"]] == list(range(1, 10_001))
    assert peak_mb < 400, peak_mb
