"""The public library API (sheetgen/__init__.py, sheetgen/api.py, docs/api.md)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import sheetgen
from sheetgen.errors import PROBLEM_CODES
from tests.applicants import SECRET, edit, personal, unit
from tests.conftest import EXAMPLES, REPO, run_cli

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))


def test_the_documented_example_runs() -> None:
    """docs/api.md's example, as a reader would run it from the repository's top folder."""
    page = (REPO / "docs" / "api.md").read_text("utf-8")
    blocks = re.findall(r"```python\n(.*?)```", page, re.DOTALL)
    assert len(blocks) == 1
    proc = subprocess.run([sys.executable, "-c", blocks[0]], cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "websites[0].name website_name_short" in proc.stdout


def test_importing_the_api_names_loads_no_engine() -> None:
    code = ("import sys, sheetgen; sheetgen.load; sheetgen.check; sheetgen.render; "
            "sheetgen.Problem; sheetgen.InvalidDataError; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('typer', 'weasyprint', 'reportlab', 'docxtpl', 'pypdf')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert proc.stdout.strip() == "[]"


def test_every_public_name_resolves() -> None:
    for name in sheetgen.__all__:
        assert getattr(sheetgen, name) is not None
    assert set(sheetgen.__all__) <= set(dir(sheetgen))
    with pytest.raises(AttributeError):
        _ = sheetgen.no_such_name  # type: ignore[attr-defined]


@pytest.mark.parametrize("form", ["bytes", "str", "mapping"])
def test_load_takes_bytes_str_or_a_mapping(form: str) -> None:
    data = unit()
    text = json.dumps(data, ensure_ascii=False)
    value = {"bytes": text.encode(), "str": text, "mapping": data}[form]
    applicant = sheetgen.load(value)
    assert applicant.host.name == data["host"]["name"]
    assert sheetgen.check(value) == []


def test_load_raises_with_every_problem_and_check_returns_them() -> None:
    bad = edit(edit(personal(), "province", "火星"), "websites[0].name", "ab")
    with pytest.raises(sheetgen.InvalidDataError) as info:
        sheetgen.load(bad)
    problems = info.value.problems
    assert problems == sheetgen.check(bad)
    assert {"province", "websites[0].name"} <= {p.path for p in problems}
    assert all(p.code in PROBLEM_CODES for p in problems)
    assert info.value.exit_code == sheetgen.ExitCode.INVALID_DATA


def test_load_refuses_what_is_not_json_data() -> None:
    assert [p.code for p in sheetgen.check({"ref": float("nan")})] == ["not_json"]
    assert [p.code for p in sheetgen.check(b"{oops")] == ["not_json"]
    with pytest.raises(TypeError):
        sheetgen.load(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_render_gives_the_bytes_fill_writes(path: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.pdf"
    result = run_cli("fill", str(path), "-o", str(out), "--provider", "某某云")
    assert result.code == 0, result.stderr
    rendered = sheetgen.render(sheetgen.load(path.read_bytes()), provider="某某云")
    assert rendered.pdf == out.read_bytes()
    assert rendered.variant in ("public", "guangdong") and rendered.pages


def test_render_word_files_and_report_match_fill(tmp_path: Path) -> None:
    path = EXAMPLES / "guangdong-unit.json"
    result = run_cli("fill", str(path), "--format", "pdf,docx", "--json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    report = json.loads(result.text)
    rendered = sheetgen.render(path.read_bytes(), formats=("pdf", "docx"))
    assert sorted(rendered.files) == sorted(report["outputs"])  # the same names, here
    for name, data in rendered.files.items():
        assert (tmp_path / name).read_bytes() == data
    assert rendered.report() == {**report, "source": ""}
    assert set(rendered.docx) == {n for n in rendered.files if n.endswith(".docx")}
    only_word = sheetgen.render(path.read_bytes(), formats=("docx",))
    assert only_word.pdf is None and only_word.docx == rendered.docx


def test_render_options_and_their_errors() -> None:
    data = personal()
    assert sheetgen.render(data, cover=False).pages == 1
    assert sheetgen.render(data, cover=False, copies=2).pages == 2
    assert sheetgen.render(data, variant="guangdong").variant == "guangdong"
    for options in ({"copies": 0}, {"formats": ("png",)}, {"variant": "sideways"},
                    {"provider": "某某\n云"}):
        with pytest.raises(sheetgen.UsageError):
            sheetgen.render(data, **options)  # type: ignore[arg-type]
    with pytest.raises(sheetgen.DoesNotFitError) as info:
        sheetgen.render(edit(data, "host.address", "某" * 200))
    assert [p.path for p in info.value.problems] == ["host.address"]


def test_the_password_is_in_no_result() -> None:
    data = edit(unit(), "access", {"provider": "某某云", "filing_password": SECRET})
    rendered = sheetgen.render(data, formats=("pdf", "docx"))
    blobs = [*rendered.files.values(), json.dumps(rendered.report()).encode(),
             repr(rendered).encode(), repr(sheetgen.load(data)).encode()]
    for blob in blobs:
        assert SECRET.encode() not in blob and SECRET.encode("utf-16-be") not in blob


def test_main_takes_binary_streams_and_returns_the_exit_code() -> None:
    out, err = io.BytesIO(), io.BytesIO()
    code = sheetgen.main(["fill", "-", "-o", "-", "--no-cover"],
                         stdin=io.BytesIO(json.dumps(personal()).encode()), stdout=out,
                         stderr=err)
    assert code == 0 and out.getvalue().startswith(b"%PDF-")
    assert getattr(sys.stdout, "buffer", None) is not out  # the process's own streams are back
    code = sheetgen.main(["check", "-", "--json"], stdin=io.BytesIO(b"[]"), stdout=out,
                         stderr=err)
    assert code == sheetgen.ExitCode.INVALID_DATA
