"""Shared test fixtures: repository paths, a CLI runner returning (code, stdout, stderr)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

# Compiled layouts are cached on disk; the tests (and the CLI subprocesses they start, which
# inherit the environment) use a cache of their own, never the user's.
os.environ["SHEETGEN_CACHE_DIR"] = tempfile.mkdtemp(prefix="sheetgen-test-cache-")


@dataclass
class CliResult:
    code: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8")


def run_cli(*args: str, stdin: bytes | None = None, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> CliResult:
    """Run ``python -m sheetgen`` in a subprocess, as a user or script would."""
    proc = subprocess.run([sys.executable, "-m", "sheetgen", *args], input=stdin,
                          capture_output=True, cwd=cwd, env=env, timeout=600, check=False)
    return CliResult(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))
