"""The command line: Typer, thin. Each command parses, calls one library function, prints, exits.

Conventions (contract.md §3): stdout carries exactly one payload (a file, JSON, a path);
human messages and progress go to stderr as ``sheetgen: error: …``; every failure is a
:class:`~sheetgen.errors.SheetgenError` turned into its exit code by :func:`main`, the one
handler. No traceback reaches a user unless ``SHEETGEN_DEBUG=1`` is set.

This module holds the app, ``doctor`` and that handler; the commands with logic of their own
live one module each beside it (:mod:`.data`: check, schema, example, rules; :mod:`.render`:
fill, preview; :mod:`.batch`; :mod:`.serve`; :mod:`.receive`; :mod:`.desk`; :mod:`.template`;
:mod:`.fonts`), with the options they share in :mod:`.options` and what they print in
:mod:`.output`.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator, Sequence
from typing import IO, Annotated, Any, BinaryIO, NoReturn

import typer

from sheetgen import __version__
from sheetgen.cli import batch, data, desk, receive, render
from sheetgen.cli.fonts import fonts_app
from sheetgen.cli.output import emit_json, report_error, say
from sheetgen.cli.serve import serve as serve_command
from sheetgen.cli.template import template as template_command
from sheetgen.errors import ExitCode, SheetgenError

app = typer.Typer(
    name="sheetgen",
    help="Print-ready ICP filing check sheets (网站备案信息真实性核验单) from applicant JSON.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# --- output helpers (sheetgen/cli/output.py, shared with the command modules) ------------------

def _version_callback(value: bool) -> None:
    if value:
        print(f"sheetgen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version_callback, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """Print-ready ICP filing check sheets (网站备案信息真实性核验单) from applicant JSON."""


# --- commands -------------------------------------------------------------------------------

app.add_typer(fonts_app)  # sheetgen fonts path | install (sheetgen/cli/fonts.py)

@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check the environment: HarfBuzz subsetter, bundled fonts, optional LibreOffice."""
    from sheetgen.doctor import run_checks

    checks = run_checks()
    failed = [c for c in checks if c.required and not c.ok]
    if as_json:
        emit_json({"ok": not failed, "checks": [c.as_dict() for c in checks]})
    else:
        for c in checks:
            mark = "ok" if c.ok else ("FAIL" if c.required else "warn")
            print(f"[{mark:>4}] {c.name}: {c.detail}")
            if not c.ok and c.fix:
                print(f"       fix: {c.fix}")
    if failed:
        raise typer.Exit(int(ExitCode.TEMPLATE_OR_FONT))


# --- the commands, one module each where a command has logic of its own (pdfly's shape) ---------
# Each module imports what its command needs only when it runs; none imports this one (no
# import cycle). Registration order is the order of `sheetgen --help`.

for _module in (data, render, batch):  # check schema example rules; fill preview; batch
    _module.register(app)
app.command("serve")(serve_command)
receive.register(app)
desk.register(app)
app.command()(template_command)


# --- the one error handler ------------------------------------------------------------------

def _terminated(signum: int, frame: object) -> None:
    """SIGTERM ends a run as Ctrl-C does (exit 130), so that its temporary files and folders
    are removed on the way out (atexit does not run when SIGTERM kills the process)."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None, *, stdin: IO[Any] | None = None,
         stdout: IO[Any] | None = None, stderr: IO[Any] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``) and return its exit code
    (contract.md §3), mapping every outcome to it; nothing escapes as a traceback.

    ``stdin``, ``stdout`` and ``stderr`` are streams to use instead of the process's own (a
    test, or a program embedding the CLI): binary (``io.BytesIO``; text goes to them as UTF-8)
    or text (``io.StringIO``; a PDF needs a binary stdout), see :mod:`sheetgen.cli.streams`.
    Anything else is a TypeError. While it runs, the processes it starts (batch and server
    workers) do not run the caller's script again (:mod:`sheetgen.cli.mainguard`): a script
    without an ``if __name__ == "__main__":`` guard is safe. The console script and
    ``python -m sheetgen`` exit with the code this returns.
    """
    from sheetgen.cli.mainguard import main_kept_from_workers

    with _streams(stdin, stdout, stderr), main_kept_from_workers() as starting:
        if starting is not None:  # a script without a __main__ guard, run again in a child
            report_error(starting)
            return int(starting.exit_code)
        return _run(list(argv) if argv is not None else sys.argv[1:], own_stdout=stdout is None)


def run() -> NoReturn:
    """The process entry point (the ``sheetgen`` script, ``python -m sheetgen``): exit with
    :func:`main`'s code.

    An interrupted run (Ctrl-C, SIGTERM: 130) leaves through ``os._exit`` once the exit
    handlers have run (its temporary folder is removed by one): under ``python -m``, CPython
    3.11 remembers a KeyboardInterrupt that left code run from a string (an ``exec``, as in
    Typer's and pydantic's generated code) even when it was handled later, and at exit kills
    the process with SIGINT (-2) instead of exiting with 130 (seen in 3 of 30 SIGTERMs;
    ``tests/interrupted_main.py`` reproduces it).
    """
    code = main()
    if code == ExitCode.INTERRUPTED:
        import atexit

        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(ValueError, OSError):
                stream.flush()
        os._exit(code)
    sys.exit(code)


@contextlib.contextmanager
def _streams(stdin: IO[Any] | None, stdout: IO[Any] | None, stderr: IO[Any] | None
             ) -> Iterator[None]:
    """``sys.stdin``/``stdout``/``stderr`` replaced by text wrappers of the given streams for
    the duration (``.buffer`` is a binary stream, or their byte side), then restored; the
    wrappers are detached, so the caller's streams stay open."""
    from sheetgen.cli.streams import binary_side

    sides = [binary_side(stream, name, reading=name == "stdin") if stream is not None else None
             for name, stream in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr))]
    saved = sys.stdin, sys.stdout, sys.stderr
    wrappers: list[io.TextIOWrapper] = []

    def wrap(stream: BinaryIO) -> io.TextIOWrapper:
        wrapper = io.TextIOWrapper(stream, encoding="utf-8", errors="backslashreplace",
                                   write_through=True)
        wrappers.append(wrapper)
        return wrapper

    try:
        if sides[0] is not None:
            sys.stdin = wrap(sides[0])
        if sides[1] is not None:
            sys.stdout = wrap(sides[1])
        if sides[2] is not None:
            sys.stderr = wrap(sides[2])
        yield
    finally:
        for wrapper in wrappers:
            with contextlib.suppress(ValueError, OSError):
                wrapper.flush()
            with contextlib.suppress(ValueError, OSError):
                wrapper.detach()
        sys.stdin, sys.stdout, sys.stderr = saved


def _run(argv: list[str], *, own_stdout: bool) -> int:
    import signal
    import threading

    # SIGTERM → an orderly exit for the duration of the command only (main() may be called by
    # a program with its own handler); only the main thread can set handlers.
    if threading.current_thread() is not threading.main_thread():
        return _handled(argv, own_stdout=own_stdout)
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return _handled(argv, own_stdout=own_stdout)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _handled(argv: list[str], *, own_stdout: bool) -> int:
    debug = os.environ.get("SHEETGEN_DEBUG") == "1"
    try:
        result = app(args=argv, prog_name="sheetgen", standalone_mode=False)
        code = result if isinstance(result, int) else 0
        if code == ExitCode.INTERRUPTED:  # Typer turns Ctrl-C into exit code 130 itself
            say("interrupted")
    except (typer.Abort, KeyboardInterrupt):
        say("interrupted")
        code = ExitCode.INTERRUPTED
    except typer.TyperException as exc:  # Click's usage errors: bad option, missing argument
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            say(f"error: {exc.message}")
        code = ExitCode.USAGE if exc.exit_code != ExitCode.INTERNAL else ExitCode.INTERNAL
    except SheetgenError as exc:
        if debug:
            raise
        report_error(exc)
        code = exc.exit_code
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`); nothing more to say. Python would
        # complain again when it flushes stdout at exit: point the descriptor at /dev/null.
        if own_stdout:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        code = ExitCode.INTERNAL
    except Exception as exc:
        if debug:
            raise
        say(f"error: internal error ({type(exc).__name__}); this is a bug in sheetgen. "
            "Run again with SHEETGEN_DEBUG=1 for details and report it.")
        code = ExitCode.INTERNAL
    return int(code)


