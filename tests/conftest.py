"""Shared test fixtures: repository paths, a CLI runner returning (code, stdout, stderr)."""

from __future__ import annotations

import io
import os
import subprocess as _subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# The register's databases (a real PostgreSQL the tests start), fixtures for every test module.
from tests.databases import postgres, register_target  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

# Compiled layouts are cached on disk; the tests (and the CLI subprocesses they start, which
# inherit the environment) use a cache of their own, never the user's.
os.environ["SHEETGEN_CACHE_DIR"] = tempfile.mkdtemp(prefix="sheetgen-test-cache-")
# A provider configuration of the user's (SHEETGEN_CONFIG) would change what every test prints.
os.environ.pop("SHEETGEN_CONFIG", None)


@dataclass
class CliResult:
    code: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8")


def run_cli(*args: str, stdin: bytes | None = None, cwd: Path | None = None,
            env: dict[str, str] | None = None, subprocess: bool = False) -> CliResult:
    """Run ``sheetgen ARGS`` and return (exit code, stdout bytes, stderr text).

    In this process through :func:`sheetgen.main` (the same entry point and streams as the
    console script, without a new interpreter's start-up), unless ``subprocess`` is set or an
    ``env`` is given (an environment is a process's): then ``python -m sheetgen`` runs as a
    user or script would run it.
    """
    if subprocess or env is not None:
        proc = _subprocess.run([sys.executable, "-m", "sheetgen", *args], input=stdin,
                               capture_output=True, cwd=cwd, env=env, timeout=600, check=False)
        return CliResult(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))
    import sheetgen

    out, err = io.BytesIO(), io.BytesIO()
    previous = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        code = sheetgen.main(list(args), stdin=io.BytesIO(stdin or b""), stdout=out,
                             stderr=err)
    finally:
        os.chdir(previous)
    return CliResult(code, out.getvalue(), err.getvalue().decode("utf-8", "replace"))


def reportlab_body() -> str:
    """The body font registered with reportlab, kept as the test oracle of the metrics (the
    PDF and the Word files were fitted with reportlab's before; the same floats since)."""
    from reportlab.pdfbase import pdfmetrics, ttfonts

    from sheetgen.resources import font_path

    name = "OracleSerif"
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(ttfonts.TTFont(name, str(font_path("body"))))
    return name
