"""Run as ``python -m tests.interrupted_main``: an interrupted command's exit, after a
KeyboardInterrupt left code run from a string (see :func:`sheetgen.cli.run`)."""

import contextlib

import sheetgen.cli

with contextlib.suppress(KeyboardInterrupt):  # as when SIGTERM lands in exec'd code
    exec("raise KeyboardInterrupt")
sheetgen.cli.main = lambda: 130  # type: ignore[assignment,misc]  # the command was interrupted
sheetgen.cli.run()
