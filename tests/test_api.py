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
        # The address is printed in the detailed block only (the official form has none).
        sheetgen.render(edit(data, "host.address", "某" * 200), details=True)
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


def test_main_takes_text_streams_too() -> None:
    """Issue 27.13: io.StringIO for stdin, stdout and stderr (it ended in an internal error)."""
    out, err = io.StringIO(), io.StringIO()
    code = sheetgen.main(["check", "-", "--json"], stdin=io.StringIO(json.dumps(personal())),
                         stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    assert json.loads(out.getvalue())["ok"] is True
    broken = edit(personal(), "host", {"name": "张三"})  # the rest of host is missing
    out, err = io.StringIO(), io.StringIO()
    code = sheetgen.main(["check", "-"], stdin=io.StringIO(json.dumps(broken, ensure_ascii=False)),
                         stdout=out, stderr=err)
    assert code == sheetgen.ExitCode.INVALID_DATA
    assert "host.nature: 缺少必填项" in err.getvalue() and "internal error" not in err.getvalue()
    # Text in, binary out, and the other way.
    binary = io.BytesIO()
    assert sheetgen.main(["check", "-", "--json"], stdin=io.StringIO(json.dumps(personal())),
                         stdout=binary, stderr=io.StringIO()) == 0
    assert json.loads(binary.getvalue())["ok"] is True
    text = io.StringIO()
    assert sheetgen.main(["check", "-", "--json"], stdin=io.BytesIO(json.dumps(personal())
                                                                     .encode()),
                         stdout=text, stderr=io.BytesIO()) == 0
    assert json.loads(text.getvalue())["ok"] is True


def test_main_says_a_pdf_needs_a_binary_stdout_and_what_a_stream_is() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = sheetgen.main(["fill", "-", "-o", "-", "--no-cover"],
                         stdin=io.StringIO(json.dumps(personal())), stdout=out, stderr=err)
    assert code == sheetgen.ExitCode.USAGE
    assert "stdout is a text stream" in err.getvalue() and "io.BytesIO" in err.getvalue()
    assert "internal error" not in err.getvalue() and out.getvalue() == ""
    with pytest.raises(TypeError, match=r"stdin must be a binary stream .* or a text stream"):
        sheetgen.main(["check", "-"], stdin=b"{}")  # type: ignore[arg-type]


#: A script as an integrator writes it: no ``if __name__ == "__main__":`` guard.
UNGUARDED = """\
import sys
import sheetgen

print("script ran", flush=True)
code = sheetgen.main(["batch", {inputs!r}, "-o", {outdir!r}, "--jobs", "2"])
print("exit", code, flush=True)
sys.exit(code)
"""


def test_main_in_a_script_without_a_main_guard_runs_the_batch_once(tmp_path: Path) -> None:
    """Issue 27.12: the workers do not run the caller's script again (each ran the batch
    again and tripped over the folder's lock)."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("jiangxi-personal", "beijing-unit-two-websites"):
        (inputs / f"{name}.json").write_bytes((EXAMPLES / f"{name}.json").read_bytes())
    script = tmp_path / "make_sheets.py"
    script.write_text(UNGUARDED.format(inputs=str(inputs), outdir=str(tmp_path / "out")),
                      "utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.stdout.splitlines() == ["script ran", "exit 0"], proc.stdout + proc.stderr
    assert proc.returncode == 0
    assert len(list((tmp_path / "out").glob("*.pdf"))) == 2
    assert sys.modules["__main__"] is not None  # (this process's own main is untouched)


def test_main_refuses_to_run_while_a_process_of_the_caller_is_starting(tmp_path: Path) -> None:
    """The caller's own multiprocessing runs an unguarded script again in each child: there,
    sheetgen says what to do instead of starting processes from a process still starting."""
    script = tmp_path / "own_pool.py"
    script.write_text(
        "import io, multiprocessing, sys\n"
        "import sheetgen\n"
        "err = io.StringIO()\n"
        "code = sheetgen.main(['rules', '--json'], stdout=io.StringIO(), stderr=err)\n"
        "if __name__ == '__mp_main__':  # run again in the child\n"
        "    print('child', code, err.getvalue().strip(), file=sys.stderr, flush=True)\n"
        "if __name__ == '__main__':\n"
        "    context = multiprocessing.get_context('spawn')\n"
        "    child = context.Process(target=print, args=('hello',))\n"
        "    child.start(); child.join()\n"
        "    print('parent', code, child.exitcode, flush=True)\n", "utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.stdout.splitlines() == ["hello", "parent 0 0"], proc.stdout + proc.stderr
    assert "child 2 sheetgen: error: sheetgen.main() was called while a process" in proc.stderr
    assert 'if __name__ == "__main__":' in proc.stderr


def test_the_callers_main_module_is_hidden_only_while_sheetgen_runs() -> None:
    from sheetgen.cli.mainguard import main_kept_from_workers

    caller = sys.modules["__main__"]
    with main_kept_from_workers() as refused:
        assert refused is None
        hidden = sys.modules["__main__"]
        assert hidden is not caller and getattr(hidden, "__file__", None) is None
        with main_kept_from_workers():  # another call (another thread) meanwhile
            assert sys.modules["__main__"] is hidden
        assert sys.modules["__main__"] is hidden  # the outer call still runs
    assert sys.modules["__main__"] is caller
