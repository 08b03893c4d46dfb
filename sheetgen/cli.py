"""The command line: Typer, thin. Each command parses, calls one library function, prints, exits.

Conventions (contract.md §3): stdout carries exactly one payload (a file, JSON, a path);
human messages and progress go to stderr as ``sheetgen: error: …``; every failure is a
:class:`~sheetgen.errors.SheetgenError` turned into its exit code by :func:`main`, the one
handler. No traceback reaches a user unless ``SHEETGEN_DEBUG=1`` is set.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any, NoReturn

import typer

from sheetgen import __version__
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


# --- output helpers -------------------------------------------------------------------------

def say(message: str) -> None:
    """A human message on stderr."""
    print(f"sheetgen: {message}", file=sys.stderr)


def emit_json(payload: Any) -> None:
    """The one JSON payload on stdout."""
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


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


# --- the one error handler ------------------------------------------------------------------

def report_error(err: SheetgenError) -> None:
    """``sheetgen: error: …`` on stderr, every problem on its own line, then the next step."""
    say(f"error: {err.message}")
    for problem in err.problems:
        where = f"{problem.path}: " if problem.path else ""
        print(f"  {where}{problem.message} [{problem.code}]", file=sys.stderr)
    if err.hint:
        print(f"  hint: {err.hint}", file=sys.stderr)


def main(argv: list[str] | None = None) -> NoReturn:
    """Console-script entry point: run the app and map every outcome to a contract exit code."""
    debug = os.environ.get("SHEETGEN_DEBUG") == "1"
    try:
        result = app(args=argv, prog_name="sheetgen", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except (typer.Abort, KeyboardInterrupt):
        say("interrupted")
        code = ExitCode.INTERRUPTED
    except typer.TyperException as exc:  # Click's usage errors: bad option, missing argument
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            say(f"error: {exc.message}")
        code = ExitCode(exc.exit_code) if exc.exit_code in iter(ExitCode) else ExitCode.USAGE
    except SheetgenError as exc:
        if debug:
            raise
        report_error(exc)
        code = exc.exit_code
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`); nothing more to say.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = ExitCode.INTERNAL
    except Exception as exc:
        if debug:
            raise
        say(f"error: internal error ({type(exc).__name__}); this is a bug in sheetgen. "
            "Run again with SHEETGEN_DEBUG=1 for details and report it.")
        code = ExitCode.INTERNAL
    sys.exit(int(code))
