"""The foundation: install, import cost, version, doctor, exit codes, the wheel (issue 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from sheetgen import __version__, cli
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
    assert run_cli("--version").text.strip() == f"sheetgen {__version__}"
    assert "fill" in run_cli("--help").text and "doctor" in run_cli("--help").text


def test_doctor_passes_here_and_reports_json() -> None:
    result = run_cli("doctor", "--json")
    report = json.loads(result.text)
    assert result.code == 0, report
    names = {c["name"] for c in report["checks"]}
    assert {"weasyprint", "harfbuzz-subset", "fonts", "libreoffice"} <= names
    assert all(c["ok"] for c in report["checks"] if c["required"])


def test_doctor_fails_and_says_what_to_do_when_the_subsetter_is_missing(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import weasyprint.text.ffi

    monkeypatch.setattr(weasyprint.text.ffi, "harfbuzz_subset", None)
    with pytest.raises(SystemExit) as caught:
        cli.main(["doctor"])
    assert caught.value.code == ExitCode.TEMPLATE_OR_FONT
    out = capsys.readouterr().out
    assert "FAIL" in out and "apt-get install -y libharfbuzz-subset0" in out


# --- the exit-code table of contract.md §3, code by code -----------------------------------------

def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as caught:
        cli.main(args)
    return int(caught.value.code or 0), capsys.readouterr().err


def test_exit_0_success(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run_main(["check", str(EXAMPLES / "zhejiang-personal.json")], capsys)
    assert code == ExitCode.OK == 0


def test_exit_1_internal_error_without_traceback(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import sheetgen.doctor

    def broken() -> list[object]:
        raise RuntimeError("secret detail that must not leak")

    monkeypatch.setattr(sheetgen.doctor, "run_checks", broken)
    code, err = run_main(["doctor"], capsys)
    assert code == ExitCode.INTERNAL == 1
    assert "internal error (RuntimeError)" in err and "Traceback" not in err
    assert "secret detail" not in err


@pytest.mark.parametrize("args", [["--bogus"], ["fill"], ["fill", "/no/such/file.json"],
                                  ["fill", str(EXAMPLES), "-o", "x.pdf"],
                                  ["fill", "-", "--variant", "sideways"]])
def test_exit_2_usage(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_main(args, capsys)
    assert code == ExitCode.USAGE == 2
    assert "Traceback" not in err


def test_exit_3_4_5_through_the_cli(tmp_path: Path) -> None:
    bad = dict(personal(), province="火星")
    result = run_cli("fill", "-", "-o", str(tmp_path / "x.pdf"),
                     stdin=json.dumps(bad, ensure_ascii=False).encode())
    assert result.code == ExitCode.INVALID_DATA == 3
    # 4 and 5 are covered field by field in tests/test_sheets.py; here the codes are fixed.
    assert ExitCode.DOES_NOT_FIT == 4 and ExitCode.TEMPLATE_OR_FONT == 5


def test_exit_6_and_130_are_fixed() -> None:
    assert ExitCode.BATCH_PARTIAL == 6 and ExitCode.INTERRUPTED == 130


def test_exit_130_on_interrupt(monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    import sheetgen.doctor

    def interrupted() -> list[object]:
        raise KeyboardInterrupt

    monkeypatch.setattr(sheetgen.doctor, "run_checks", interrupted)
    code, err = run_main(["doctor"], capsys)
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
    subprocess.run([str(sheetgen), "fill", str(EXAMPLES / "guangdong-personal.json"), "-o",
                    str(out)], check=True, cwd=tmp_path, env=env)
    assert out.read_bytes().startswith(b"%PDF-")
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
