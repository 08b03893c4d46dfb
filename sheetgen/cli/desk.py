"""``sheetgen desk``: the register from the command line — list, show, purge.

The register (:mod:`sheetgen.desk`) is where ``batch --register`` and ``receive --register``
record what they did. These commands read it (``list``, ``show``: a table on stdout, or JSON
with ``--json``) and delete from it (``purge --before DATE``: personal data is kept only as
long as the filing needs it).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer

#: The register: a folder (SQLite) or a database URL (``postgresql+psycopg://…``).
RegisterOption = Annotated[str | None, typer.Option(
    "--register", metavar="DIR|URL",
    help="The desk's register: a folder (an SQLite file in it) or a database URL "
         "(postgresql+psycopg://user@host/db).")]
RequiredRegister = Annotated[str, typer.Option(
    "--register", metavar="DIR|URL",
    help="The desk's register: a folder (an SQLite file in it) or a database URL "
         "(postgresql+psycopg://user@host/db).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]

desk_app = typer.Typer(
    help="The desk's register of applicants: list, show and purge records.",
    no_args_is_help=True, add_completion=False)


def register(app: typer.Typer) -> None:
    """Add the ``desk`` command group to ``app``."""
    app.add_typer(desk_app, name="desk")


def _emit(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


@desk_app.command("list")
def list_records(
    where: RequiredRegister,
    status: Annotated[str | None, typer.Option(
        "--status", help="Only records of this status: invalid, ready, printed, received, "
                         "complete.")] = None,
    province: Annotated[str | None, typer.Option(
        "--province", help="Only records of this province (as the data gives it).")] = None,
    query: Annotated[str | None, typer.Option(
        "--q", "-q", help="Only records whose ref or name contains this.")] = None,
    page: Annotated[int, typer.Option("--page", min=1)] = 1,
    per_page: Annotated[int, typer.Option("--per-page", min=1, max=200)] = 50,
    as_json: JsonOption = False,
) -> int:
    """List the register's records, newest first: ref, status, name and why."""
    from sheetgen.cli.output import json_errors
    from sheetgen.desk import open_register

    with json_errors(as_json), open_register(where) as desk:
        listing = desk.records(status=status, province=province, q=query, page=page,
                               per_page=per_page)
    if as_json:
        _emit(listing)
        return 0
    for record in listing["records"]:
        why = f"  {record['why']}" if record["why"] else ""
        print(f"{record['ref']}\t{record['status']}\tv{record['version']}\t"
              f"{record['name'] or ''}{why}")
    pages = max(1, -(-listing["total"] // listing["per_page"]))
    print(f"{listing['total']} records; page {listing['page']} of {pages}", file=sys.stderr)
    return 0


@desk_app.command("show")
def show(
    ref: Annotated[str, typer.Argument(metavar="REF", help="The record's ref.")],
    where: RequiredRegister,
    as_json: JsonOption = False,
) -> int:
    """Show one record: status and why, versions, outputs and originals received."""
    from sheetgen.cli.output import json_errors
    from sheetgen.desk import open_register
    from sheetgen.errors import UsageError

    with json_errors(as_json), open_register(where) as desk:
        record = desk.record(ref)
        if record is None:
            raise UsageError(f"the register holds no record {ref!r}",
                             hint="sheetgen desk list --register … lists the records")
    if as_json:
        _emit(record)
        return 0
    print(f"{record['ref']}: {record['status']}" + (f" — {record['why']}" if record["why"]
                                                     else ""))
    print(f"  {record['name'] or ''} {record['province'] or ''}, "
          f"{record['websites']} websites, version {record['version']}")
    for version in record["versions"]:
        print(f"  v{version['number']} {version['created']} {version['source'] or ''} "
              f"({version['problems']} problems)")
    for output in record["outputs"]:
        print(f"  output v{output['version']}: {output['name']}")
    for receipt in record["receipts"]:
        problems = ", ".join(p["code"] for p in receipt["problems"]) or "ok"
        print(f"  received {receipt['file']} p. {receipt['page']} website "
              f"{receipt['website']}: {problems}")
    return 0


def _cutoff(text: str) -> datetime:
    """``--before``: a date (midnight UTC) or an ISO time; anything else is a usage error."""
    from sheetgen.errors import UsageError

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--before {text!r} is not a date",
                         hint="give a date as YYYY-MM-DD (or an ISO date and time)") from None
    if len(text) == 10:  # a plain date: the start of that day
        moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@desk_app.command("purge")
def purge(
    where: RequiredRegister,
    before: Annotated[str, typer.Option(
        "--before", metavar="DATE",
        help="Delete every record last changed before this date (YYYY-MM-DD, UTC), with its "
             "data, outputs and receipts, and the batch jobs finished before it (their "
             "inputs).")],
    as_json: JsonOption = False,
) -> int:
    """Delete the records last changed before DATE, with everything the register holds of
    them (their personal data is kept only as long as the filing needs it)."""
    from sheetgen.cli.output import json_errors, say
    from sheetgen.desk import open_register

    with json_errors(as_json):
        cutoff = _cutoff(before)
        with open_register(where) as desk:
            deleted = desk.purge(cutoff)
    if as_json:
        _emit({"ok": True, "deleted": deleted, "before": cutoff.isoformat()})
    else:
        say(f"ok: {deleted} records last changed before {cutoff.date().isoformat()} deleted")
    return 0
