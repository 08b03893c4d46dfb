"""``python -m sheetgen``: the command line, exiting with its exit code."""

from sheetgen.cli import run

run()
