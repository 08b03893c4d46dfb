"""``sheetgen batch``: many applicants, in parallel, with a progress display and a manifest."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from sheetgen.cli.desk import RegisterOption
from sheetgen.cli.options import (
    ConfigOption,
    CopiesOption,
    DateOption,
    DetailsOption,
    EditionOption,
    NoCoverOption,
    NoQrOption,
    PdfaOption,
    PrintSheetOption,
    ProviderOption,
    RulesOption,
    TemplatesOption,
    VariantOption,
    VerificationOption,
    choose_options,
    filing_date_option,
    render_options,
)
from sheetgen.cli.output import json_errors, say, show_problems
from sheetgen.cli.sheets import IgnoreColumnsOption, MapOption, SheetOption, sheet_options
from sheetgen.errors import ExitCode

#: Failed records listed on stderr; the manifest (--report, --json) has all of them.
SHOWN_FAILURES = 20


class BatchProgress:
    """A progress display on stderr (rich) while a batch runs: records done, failed, elapsed.

    The number of records is not known in advance (inputs are streamed), so the bar pulses.
    """

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            SpinnerColumn(), TextColumn("sheetgen batch"), BarColumn(),
            TextColumn("{task.completed} records, {task.fields[failed]} failed"),
            TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self.task = self.progress.add_task("batch", total=None, failed=0)
        self.failed = 0

    def __enter__(self) -> BatchProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, result: Any) -> None:
        self.failed += not result.ok
        self.progress.update(self.task, advance=1, failed=self.failed)


def batch(
    inputs: Annotated[list[str], typer.Argument(
        metavar="INPUT...",
        help="JSON files (an object or an array of them), JSON Lines files (.jsonl), "
             "spreadsheets (.xlsx, .csv, .tsv: a row per website), folders of them, or - "
             "for stdin.")],
    outdir: Annotated[Path, typer.Option(
        "-o", "--outdir", metavar="OUTDIR",
        help="Folder for the output files (created if missing).")],
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=1, help="Worker processes. Default: the number of CPUs.")] = None,
    bundle: Annotated[Path | None, typer.Option(
        "--bundle", metavar="FILE",
        help="Also put every successful record's pages into this one print-ready PDF.")
    ] = None,
    copies: CopiesOption = None,
    formats: Annotated[str, typer.Option(
        "--format", metavar="pdf,docx", help="Output formats, comma-separated.")] = "pdf",
    pdfa: PdfaOption = False,
    variant: VariantOption = "auto",
    no_cover: NoCoverOption = False,
    provider: ProviderOption = None,
    no_qr: NoQrOption = False,
    rules_file: RulesOption = None,
    rules_edition: EditionOption = None,
    verification: VerificationOption = None,
    print_sheet: PrintSheetOption = None,
    config_file: ConfigOption = None,
    details: DetailsOption = False,
    templates: TemplatesOption = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Redo every record, also those whose output is up to date.")] = False,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS",
        help="Fail a record (worker_timeout) that takes longer than this; the batch goes on.")
    ] = 300.0,
    report: Annotated[Path | None, typer.Option(
        "--report", metavar="FILE", help="Write the manifest (JSON) to FILE.")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the manifest (JSON) on stdout.")] = False,
    sheet: SheetOption = None,
    column_map: MapOption = None,
    ignore_columns: IgnoreColumnsOption = False,
    failed_rows: Annotated[Path | None, typer.Option(
        "--failed", metavar="FILE",
        help="Write the failed records' rows as they came in, with an error column, to "
             "FILE.xlsx or FILE.csv: fix them there and run the batch on FILE again.")
    ] = None,
    filing_date: DateOption = None,
    register: RegisterOption = None,
) -> int:
    """Fill the check sheets of many applicants: one PDF per record, in parallel.

    Exit 0 when every record succeeded (or was already up to date), 6 when some failed; the
    manifest (--report, --json) lists every record with its source, hashes and errors.
    """
    from sheetgen.batch import BatchOptions, manifest_json, run_batch
    from sheetgen.errors import BatchPartialError
    from sheetgen.output import parse_formats
    from sheetgen.rules import load_rules

    # A run that cannot start still answers --json; the register (--register) is closed after.
    with json_errors(as_json), contextlib.ExitStack() as stack:
        chosen = choose_options(config_file, provider=provider, verification=verification,
                                templates=templates, sheet=print_sheet, copies=copies)
        chosen.config.check_kinds(load_rules(rules_file, edition=rules_edition))
        recorder = stack.enter_context(_batch_recorder(register, outdir)) if register else None
        options = BatchOptions(
            outdir=outdir, jobs=jobs, bundle=bundle, formats=parse_formats(formats),
            variant=variant, templates=chosen.templates, rules=rules_file, report=report,
            force=force, rules_edition=rules_edition, verification=chosen.verification,
            render=render_options(provider=chosen.provider, no_qr=no_qr, no_cover=no_cover,
                                  copies=chosen.copies, templates=None, pdfa=pdfa,
                                  details=details, sheet=chosen.sheet,
                                  originals=chosen.originals),
            sheets=sheet_options(sheet, column_map, ignore_columns), failed=failed_rows,
            timeout=timeout, filing_date=filing_date_option(filing_date))
        if sys.stderr.isatty():
            with BatchProgress() as progress:
                result = run_batch(inputs, options, on_record=progress.update,
                                   on_value=recorder)
        else:
            result = run_batch(inputs, options, on_value=recorder)
        if recorder is not None and result.bundle and result.bundle.get("written"):
            recorder.printed()
    if as_json:
        sys.stdout.write(manifest_json(result))
        sys.stdout.flush()
    summary = result.summary()
    # Records an interruption stopped are counted below, not listed as failures.
    failures = [r for r in result.failed if not any(p.code == "interrupted" for p in r.errors)]
    for failure in failures[:SHOWN_FAILURES]:
        where = f"{failure.source}" + (
            "".join(f" {k} {v}" for k, v in failure.locator.items()) if failure.locator else "")
        if len(failure.rows) > 1:
            where = f"{failure.source} rows {', '.join(map(str, failure.rows))}"
        say(f"record {failure.index} ({where}) failed:")
        show_problems(failure.errors)
    done = (f"{summary['total']} records: {summary['ok']} ok ({summary['skipped']} up to date), "
            f"{summary['failed']} failed")
    if result.bundle and result.bundle.get("written"):
        done += f"; bundle {result.bundle['path']} ({result.bundle['pages']} pages)"
    if recorder is not None:
        changed = sum(1 for b in recorder.brought if b.changed)
        done += (f"; register {register}: {len(recorder.brought)} records "
                 f"({changed} new or changed)")
    if result.interrupted:
        # main() adds "sheetgen: interrupted" for the exit code.
        say(f"stopped: {done}, {summary['interrupted']} not done; run the same command again "
            "to finish")
        return int(ExitCode.INTERRUPTED)
    if failures:
        more = len(failures) - SHOWN_FAILURES
        places = [f"every record with its errors is in {report}"] if report else []
        if failed_rows:
            places.append(f"the failed rows are in {failed_rows}: fix them there and run the "
                          "batch on that file")
        raise BatchPartialError(
            f"{done}" + (f" ({more} more failures not shown)" if more > 0 else ""),
            hint="; ".join(places) if places else
            "the manifest (--report FILE or --json) lists every record with its errors")
    say(f"ok: {done}; output in {outdir}")
    return 0


def _batch_recorder(where: str, outdir: Path) -> Any:
    """``batch --register``: what records the run's records in the register, a context
    manager that closes it (imported only then: a batch without it loads no database
    library)."""
    from sheetgen.desk import open_register
    from sheetgen.desk.runs import BatchRecorder

    return BatchRecorder(open_register(where), outdir)

def register(app: typer.Typer) -> None:
    """Add these commands to ``app``."""
    app.command()(batch)
