"""``sheetgen receive``: the returned, signed sheets, scanned, matched and checked.

A translator over :func:`sheetgen.receive.receive`: one line per page as it is read and a
summary on stderr, the receipt as JSON on stdout with ``--json``, a JSON/CSV/XLSX report with
``--report``; exit 0 when every page matched and every record is complete, 6 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sheetgen.cli.desk import RegisterOption
from sheetgen.cli.options import ConfigOption

if TYPE_CHECKING:
    from sheetgen.desk.register import Brought
    from sheetgen.receive import PageResult, Receipt

SHOWN_RECORDS = 50
#: sheetgen.receive.MAX_PAGES (not imported here: a fill imports no receive code).
MAX_PAGES = 5000


def register(app: typer.Typer) -> None:
    """Add the ``receive`` command to ``app``."""
    app.command("receive")(receive)


def receive(
    scans: Annotated[list[Path], typer.Argument(
        metavar="SCAN...",
        help="Scanned sheets: PDF files (many pages), JPEG, PNG or (multi-page) TIFF images, "
             "or folders of them.")],
    manifest: Annotated[Path | None, typer.Option(
        "--manifest", metavar="BATCH_REPORT",
        help="The batch --report manifest of the records printed: also say, per record, "
             "whether every original came back.")] = None,
    report: Annotated[Path | None, typer.Option(
        "--report", metavar="FILE.json|.xlsx|.csv",
        help="Write the receipt to FILE: JSON, or a spreadsheet with one row per website.")
    ] = None,
    originals: Annotated[int, typer.Option(
        "--originals", min=1, max=10, help="Originals expected per website.")] = 2,
    rules_file: Annotated[Path | None, typer.Option(
        "--rules", metavar="FILE", help="The rules data (TOML) the sheets were printed with.")
    ] = None,
    templates: Annotated[Path | None, typer.Option(
        "--templates", metavar="DIR", help="The templates the sheets were printed with. "
                                           "Default: the config's [provider] templates.")
    ] = None,
    config_file: ConfigOption = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the receipt (pages and records) as JSON on stdout.")] = False,
    max_pages: Annotated[int, typer.Option(
        "--max-pages", metavar="N", min=1,
        help="Pages read at most in one run (the rest is reported, not read).")] = MAX_PAGES,
    register_at: RegisterOption = None,
) -> int:
    """Check scans of the returned, signed sheets: match each page to its record by its QR
    code, and check the signature, seal, fingerprint and the blank date.

    Exit 0 when every page matched and every record is complete, 6 when some page or record
    has a problem (each is listed), 130 when interrupted (what was read so far is listed and
    reported).
    """
    from sheetgen.cli.output import emit_json, json_errors, say
    from sheetgen.errors import BatchPartialError, ExitCode
    from sheetgen.receive import receive as run
    from sheetgen.receive.report import check_target, write_report
    from sheetgen.rendering.templating import TemplateSet
    from sheetgen.rules import load_rules

    with json_errors(as_json):
        if templates is None:  # the provider configuration's, as fill printed with
            from sheetgen.documents.provider import load_config

            templates = load_config(config_file).templates
        if report is not None:
            check_target(report, scans)
        receipt = run(scans, manifest=manifest,
                      templates=TemplateSet(templates) if templates else None,
                      rules=load_rules(rules_file), originals=originals, max_pages=max_pages,
                      on_page=lambda page: print(f"  {page_line(page)}", file=sys.stderr,
                                                 flush=True))
        if report is not None:
            write_report(receipt, report, originals=originals)
        moved = _to_register(register_at, receipt, originals) if register_at else None
    if as_json:
        emit_json(receipt.as_dict())
    shown = [r for r in receipt.records if not r.complete][:SHOWN_RECORDS]
    for record in shown:
        say(f"record {record.reference} incomplete:")
        for problem in record.problems:
            print(f"  {problem['message']} [{problem['code']}]", file=sys.stderr)
    s = receipt.summary()
    done = (f"{s['pages']} pages: {s['matched']} matched, {s['unmatched']} without a sheet "
            f"code, {s['pages_with_problems']} with problems; {s['records']} records: "
            f"{s['complete']} complete, {s['incomplete']} incomplete")
    if report is not None:
        done += f"; report {report}"
    if receipt.interrupted:
        say(f"interrupted after {done}")
        return int(ExitCode.INTERRUPTED)
    if moved is not None:
        for ref, brought in moved.items():
            print(f"  register: {ref} {brought.status}", file=sys.stderr)
        done += f"; register {register_at}: {len(moved)} records updated"
    if not receipt.ok:
        raise BatchPartialError(done, hint="the report (--report FILE or --json) lists every "
                                           "page and record with its problems")
    say(f"ok: {done}")
    return 0


def _to_register(where: str, receipt: Receipt, originals: int) -> dict[str, Brought]:
    """The matched pages into the register; each record they name moved forward."""
    from sheetgen.desk import open_register
    from sheetgen.desk.runs import record_receipt

    with open_register(where) as desk:
        return record_receipt(desk, receipt, originals=originals)


def page_line(page: PageResult) -> str:
    """One page in one line: where, which sheet, what was found."""
    if page.reference is None:
        what = "; ".join(p.message for p in page.problems)
        return f"{page.where}: {what}"
    document = "website" if page.kind in (None, "sheet") else page.kind  # a letter: its kind
    sheet = page.reference + (f" {document} {page.website}/{page.count}" if page.website else "")
    found = [text for flag, yes, no in (
        ("signed", "signed", "NOT SIGNED"), ("seal", "sealed", "NO SEAL"),
        ("fingerprint", "fingerprint", "NO FINGERPRINT"),
        ("date_blank", "date blank", "DATE FILLED IN"))
        if (value := getattr(page, flag)) is not None for text in [yes if value else no]]
    other = [p.message for p in page.problems if p.code not in (
        "not_signed", "no_seal", "no_fingerprint", "date_filled")]
    return f"{page.where}: {sheet}: " + ", ".join(found + other)
