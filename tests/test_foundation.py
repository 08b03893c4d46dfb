"""The foundation: install, import cost, version, doctor, exit codes, the wheel (issue 2)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import sheetgen
from sheetgen import __version__
from sheetgen.errors import ExitCode
from tests.applicants import personal
from tests.conftest import EXAMPLES, REPO, run_cli

HEAVY = ("typer", "weasyprint", "reportlab", "docxtpl", "pypdf", "pydantic")


def test_import_sheetgen_is_cheap() -> None:
    code = ("import sys, sheetgen; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_version_help_and_module_entry_point() -> None:
    for args in (("--version",), ("--help",)):
        result = run_cli(*args)
        assert result.code == 0, result.stderr
    assert run_cli("--version", subprocess=True).text.strip() == f"sheetgen {__version__}"
    assert "fill" in run_cli("--help").text and "doctor" in run_cli("--help").text


def test_doctor_passes_here_and_reports_json() -> None:
    result = run_cli("doctor", "--json")
    report = json.loads(result.text)
    assert result.code == 0, report
    names = {c["name"] for c in report["checks"]}
    assert {"weasyprint", "harfbuzz-subset", "fonts", "libreoffice"} <= names
    assert all(c["ok"] for c in report["checks"] if c["required"])


def test_doctor_fails_and_says_what_to_do_when_the_subsetter_is_missing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import weasyprint.text.ffi

    monkeypatch.setattr(weasyprint.text.ffi, "harfbuzz_subset", None)
    result = run_cli("doctor")
    assert result.code == ExitCode.TEMPLATE_OR_FONT
    assert "FAIL" in result.text and "apt-get install -y libharfbuzz-subset0" in result.text


# --- the exit-code table of contract.md §3, code by code, through sheetgen.main -------------------

def run_main(args: list[str], stdin: bytes = b"") -> tuple[int, str]:
    """``sheetgen.main`` with binary streams of its own: the exit code and stderr."""
    out, err = io.BytesIO(), io.BytesIO()
    code = sheetgen.main(args, stdin=io.BytesIO(stdin), stdout=out, stderr=err)
    return code, err.getvalue().decode()


def test_exit_0_success() -> None:
    code, _ = run_main(["check", str(EXAMPLES / "zhejiang-personal.json")])
    assert code == ExitCode.OK == 0


def test_exit_1_internal_error_without_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    import sheetgen.doctor

    def broken() -> list[object]:
        raise RuntimeError("secret detail that must not leak")

    monkeypatch.setattr(sheetgen.doctor, "run_checks", broken)
    code, err = run_main(["doctor"])
    assert code == ExitCode.INTERNAL == 1
    assert "internal error (RuntimeError)" in err and "Traceback" not in err
    assert "secret detail" not in err


@pytest.mark.parametrize("args", [["--bogus"], ["fill"], ["fill", "/no/such/file.json"],
                                  ["fill", str(EXAMPLES), "-o", "x.pdf"],
                                  ["fill", "-", "--variant", "sideways"]])
def test_exit_2_usage(args: list[str]) -> None:
    code, err = run_main(args)
    assert code == ExitCode.USAGE == 2
    assert "Traceback" not in err


def test_exit_3_invalid_data(tmp_path: Path) -> None:
    bad = dict(personal(), province="火星")
    code, err = run_main(["fill", "-", "-o", str(tmp_path / "x.pdf")],
                         json.dumps(bad, ensure_ascii=False).encode())
    assert code == ExitCode.INVALID_DATA == 3 and "province" in err
    assert not (tmp_path / "x.pdf").exists()


def test_exit_4_does_not_fit(tmp_path: Path) -> None:
    long = dict(personal(), host={**personal()["host"], "address": "某" * 200})
    # --details: the address is printed in the detailed block only.
    code, err = run_main(["fill", "-", "-o", str(tmp_path / "x.pdf"), "--details"],
                         json.dumps(long, ensure_ascii=False).encode())
    assert code == ExitCode.DOES_NOT_FIT == 4 and "host.address" in err
    assert not (tmp_path / "x.pdf").exists()


def test_exit_5_template_problem(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    (templates / "public" / "sheet.html").write_text("{% if %}", "utf-8")
    code, err = run_main(["fill", str(EXAMPLES / "zhejiang-personal.json"), "-o",
                          str(tmp_path / "x.pdf"), "--templates", str(templates)])
    assert code == ExitCode.TEMPLATE_OR_FONT == 5 and "sheet.html" in err


def test_exit_6_batch_with_failed_records(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(personal(), ensure_ascii=False) + "\n{broken\n", "utf-8")
    code, err = run_main(["batch", str(source), "-o", str(tmp_path / "out"), "--jobs", "1"])
    assert code == ExitCode.BATCH_PARTIAL == 6 and "1 failed" in err


def test_exit_130_on_interrupt(monkeypatch: pytest.MonkeyPatch) -> None:
    import sheetgen.doctor

    def interrupted() -> list[object]:
        raise KeyboardInterrupt

    monkeypatch.setattr(sheetgen.doctor, "run_checks", interrupted)
    code, err = run_main(["doctor"])
    assert code == ExitCode.INTERRUPTED == 130
    assert "interrupted" in err


def test_readme_documents_every_exit_code() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    for code in ExitCode:
        assert f"| {int(code)} |" in readme


# --- the wheel ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_wheel_installs_outside_the_repo_and_renders(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "--wheel-dir", str(dist), str(REPO)], check=True)
    (wheel,) = dist.glob("sheetgen-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path("
                           "'purelib'))"], capture_output=True, text=True, check=True)
    purelib = Path(site.stdout.strip())
    # The dependencies come from the test environment (no network needed); sheetgen itself only
    # from the wheel: a path added by a .pth file has its own .pth files (the editable install)
    # ignored.
    (purelib / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                    "--no-deps", "--quiet", str(wheel)], check=True)
    env = {**os.environ, "PYTHONPATH": ""}
    where = subprocess.run([str(python), "-c", "import sheetgen; print(sheetgen.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv)
    sheetgen = venv / "bin" / "sheetgen"
    version = subprocess.run([str(sheetgen), "--version"], capture_output=True, text=True,
                             check=True, cwd=tmp_path, env=env)
    assert version.stdout.strip() == f"sheetgen {__version__}"
    out = tmp_path / "sheet.pdf"
    cache = tmp_path / "cache"  # empty: a first run, served by the layouts in the wheel
    subprocess.run([str(sheetgen), "fill", str(EXAMPLES / "guangdong-personal.json"), "-o",
                    str(out)], check=True, cwd=tmp_path,
                   env={**env, "SHEETGEN_CACHE_DIR": str(cache)})
    assert out.read_bytes().startswith(b"%PDF-")
    assert not cache.exists()  # nothing compiled, so nothing cached
    doctor = subprocess.run([str(sheetgen), "doctor"], capture_output=True, text=True,
                            cwd=tmp_path, env=env, check=False)
    assert doctor.returncode == 0, doctor.stdout


# --- command-line guards ----------------------------------------------------------------------

@pytest.mark.parametrize(("provider", "fragment"), [
    ("某某\u202e云", "U+202E"), ("云" * 101, "100"), ("某某\n云", "U+000A")])
def test_provider_option_is_held_to_the_data_rules(provider: str, fragment: str,
                                                   tmp_path: Path) -> None:
    result = run_cli("fill", str(EXAMPLES / "zhejiang-personal.json"), "-o",
                     str(tmp_path / "x.pdf"), "--provider", provider)
    assert result.code == ExitCode.USAGE and "--provider" in result.stderr
    assert fragment in result.stderr and not (tmp_path / "x.pdf").exists()


def test_fill_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    source = tmp_path / "me.json"
    source.write_bytes((EXAMPLES / "zhejiang-personal.json").read_bytes())
    before = source.read_bytes()
    result = run_cli("fill", str(source), "-o", str(source))
    assert result.code == ExitCode.USAGE and source.read_bytes() == before


@pytest.mark.parametrize("args", [["check", "/no/such.json", "--json"],
                                  ["fill", "/no/such.json", "-o", "x.pdf", "--json"],
                                  ["batch", "/no/such", "-o", "out", "--json"]])
def test_json_commands_answer_in_json_even_when_they_cannot_start(args: list[str],
                                                                  tmp_path: Path) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert result.code == ExitCode.USAGE
    document = json.loads(result.text)
    assert document["ok"] is False and document["errors"][0]["message"]
    assert result.stderr.startswith("sheetgen: error: ")
