"""The error hierarchy and the exit codes of the public contract (contract.md §3).

Every failure a user can cause or meet is a :class:`SheetgenError` subclass that carries its
process exit code; the CLI has one handler that turns them into ``sheetgen: error: …`` on
stderr and that exit code. Library callers catch ``SheetgenError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal


class ExitCode(IntEnum):
    """Process exit codes; stable, scripts depend on them."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    INVALID_DATA = 3
    DOES_NOT_FIT = 4
    TEMPLATE_OR_FONT = 5
    BATCH_PARTIAL = 6
    INTERRUPTED = 130


@dataclass(frozen=True)
class Problem:
    """One reported problem of a record: where (JSON path), what (stable code), and why.

    ``message`` is bilingual (Chinese / English) and never contains secrets; personal
    values in it are masked by whoever builds it. A problem of a spreadsheet also names the
    file (``source``), the row as the spreadsheet numbers it and the column's header; they
    are in ``as_dict`` only when set, so problems of JSON inputs read as before.
    ``severity``: an ``error`` fails the record; a ``warning`` (an acceptance rule the
    sources are not firm on, values still ``sheetgen example``'s) is reported and the record
    goes on. Errors and warnings have the same shape everywhere (``--json``, the API).
    """

    path: str
    code: str
    message: str
    source: str | None = None
    row: int | None = None
    column: str | None = None
    severity: Literal["error", "warning"] = "error"

    def as_dict(self) -> dict[str, Any]:
        place = {key: value for key, value in (("source", self.source), ("row", self.row),
                                               ("column", self.column)) if value is not None}
        return {"path": self.path, "code": self.code, "message": self.message, **place,
                "severity": self.severity}

    @property
    def where(self) -> str:
        """Where the problem is, as a reader finds it: ``t.xlsx row 21, 网站负责人手机 (path)``,
        or the JSON path alone."""
        if self.row is None and self.source is None:
            return self.path
        place = ", ".join(part for part in (
            " ".join(p for p in (self.source or "", f"row {self.row}" if self.row else "") if p),
            self.column or "") if part)
        return f"{place} ({self.path})" if self.path else place


def problem_fields(problems: Iterable[Problem]) -> dict[str, list[dict[str, Any]]]:
    """The problems of a ``--json`` document or a manifest entry: ``problems``, the name the
    HTTP API uses too, and ``errors``, the same list under its old name, kept as an alias for
    the 0.2 release only (README, "Machine-readable output")."""
    listed = [p.as_dict() for p in problems]
    return {"problems": listed, "errors": [dict(p) for p in listed]}


#: Every problem code sheetgen can report, with what it means: the one registry (stable; scripts
#: depend on the codes). ``tests/test_errors.py`` checks that every code the source can emit is
#: here and that nothing here is stale; ``docs/api.md`` points at it.
PROBLEM_CODES: dict[str, str] = {
    # documents (sheetgen.sources)
    "too_large": "the input document is larger than the limit",
    "not_utf8": "the input is not UTF-8 text",
    "not_json": "the input is not JSON (or, for the library, not JSON-compatible data)",
    "too_deep": "arrays and objects nested deeper than the limit",
    "duplicate_key": "the same key twice in one JSON object",
    "not_an_object": "a record that is not a JSON object",
    "unreadable": "an input file that cannot be read (or, in an input folder, is not a "
                  "regular file: a FIFO, socket or device)",
    "no_records": "an empty array (or a sheet without data rows): no applicant to check",
    # spreadsheets (sheetgen.sources.spreadsheet): files, the header row, cells, groups
    "not_xlsx": "an .xlsx that is not a workbook (not a zip, an old .xls, damaged)",
    "encrypted": "a password-protected (encrypted) workbook",
    "no_sheet": "no visible sheet, or no sheet of the --sheet name",
    "not_csv": "a CSV/TSV file the csv reader cannot read",
    "no_header": "an empty sheet: no header row",
    "unknown_column": "a header that names no field (did you mean …; --map, --ignore-columns)",
    "duplicate_column": "two columns that fill the same field",
    "missing_column": "required columns missing from the header row (all listed)",
    "merged_cells": "cells merged across columns",
    "formula_no_value": "a formula without a saved value",
    "excel_number": "an ID or phone number Excel stored as a number, digits lost",
    "group_conflict": "an applicant's value that differs between its rows",
    # the applicant model (sheetgen.model, sheetgen.identifiers)
    "required": "a required value is missing, null or empty",
    "unknown_key": "a key the contract does not define here (typo? or where it belongs)",
    "wrong_type": "a value of the wrong JSON type",
    "too_long": "a string longer than its field allows",
    "too_few": "a list with too few items",
    "too_many": "a list with too many items",
    "unsafe_character": "a control, invisible, bidi or unassigned character (in a key: a lone "
                        "surrogate)",
    "province_unknown": "not one of the 31 provinces in any accepted form",
    "filing_type_unknown": "not a filing type code or name",
    "nature_unknown": "not a nature code or name",
    "certificate_type_unknown": "not a known certificate type",
    "certificate_type_mismatch": "certificate type does not fit the nature or the person",
    "certificate_number_format": "a certificate number of implausible shape",
    "ric_format": "resident ID not 17 digits + digit/X",
    "ric_checksum": "resident ID check digit wrong",
    "ric_birth_date": "resident ID birth date not a real past date",
    "ric_region": "resident ID region code does not exist (or wrong permit region)",
    "uscc_format": "social credit code malformed",
    "uscc_checksum": "social credit code check character wrong",
    "mobile_format": "not a valid mainland mobile number",
    "landline_format": "not a valid mainland landline (0791-88888888)",
    "phone_format": "emergency phone neither a mobile nor a landline",
    "emergency_same_as_mobile": "emergency phone equal to the mobile",
    "email_format": "e-mail malformed",
    "email_domain": "e-mail domain under a reserved, special-use or non-existent TLD",
    "domain_invalid": "not a valid domain (or has scheme, path, port)",
    "domain_www": "domain written with www.",
    "domain_tld": "TLD reserved, special-use or not existing (Public Suffix List), or the "
                  "domain is itself a public suffix",
    "domain_duplicate": "the same domain twice in one applicant",
    "registrar_required": "registrar missing where the province asks for it (Beijing)",
    "homepage_format": "homepage not an http(s) URL",
    "homepage_domain": "homepage not on one of the website's domains",
    "ip_format": "not an IPv4/IPv6 address",
    "ip_not_public": "private, loopback, link-local, multicast or reserved address",
    "filing_number_format": "ICP filing number malformed",
    "filing_number_suffix": "website filing number without its -n",
    "filing_number_app": "an app, mini-program or quick-app number (-1A, -1X, -1K) as a "
                         "website's filing number",
    "preapproval_unknown": "a preapproval entry that is not one of the eight content types",
    "preapproval_duplicate": "the same pre-approval content type twice",
    "seal_required": "a unit without a seal where the province's rule refuses it (浙江)",
    "filing_number_province": "filing number abbreviation not the filing province's",
    "filing_number_required": "no filing number for new_access or change",
    "ips_required": "no IPs for new_access",
    "username_required": "no access.username for new_access",
    "principal_required": "a unit without principal",
    "principal_not_host": "a personal filing whose principal is another person",
    "manager_not_host": "a personal filing whose website manager is another person",
    "website_name_short": "website name under 3 characters",
    "website_name_domain": "website name that is a domain or URL",
    "ref_format": "ref not 1-64 of A-Za-z0-9._-",
    "too_many_errors": "the list was cut; more problems exist",
    "invalid": "any other malformed value",
    # rendering
    "does_not_fit": "a value too long for its box on one A4 page, even at its minimum size",
    "font_missing_char": "a character no bundled font has",
    # rules files (sheetgen.rules)
    "rules_invalid": "a rules file entry of the wrong shape",
    "rules_inconsistent": "rules file entries that contradict each other",
    # batch runs (sheetgen.batch)
    "worker_crashed": "the worker process died while rendering this record (alone, on a retry)",
    "worker_timeout": "the worker had not finished this record after --timeout seconds; it "
                      "was stopped",
    "interrupted": "the batch was stopped before this record was done",
    "internal": "a bug in sheetgen met while processing this record",
    # the HTTP API (sheetgen.serve)
    "unsupported_media_type": "a request body that is not declared as JSON (HTTP 415)",
    "unauthorized": "an API call without the server's token, or with a wrong one (HTTP 401)",
    "not_found": "no such address or file (HTTP 404)",
    "method_not_allowed": "a request method the address does not take (HTTP 405)",
    "http_error": "another HTTP-level refusal",
    "busy": "every render worker stayed busy for the whole timeout (HTTP 503)",
    "timeout": "a render took longer than the server's timeout and was stopped (HTTP 504)",
    "unavailable": "the server is shutting down (HTTP 503)",
    # returned scans, per page and per record (sheetgen.receive)
    "no_code": "a scanned page without a sheet code (a blank page, a cover, a damaged code)",
    "foreign_code": "a QR code that is not a sheetgen sheet's",
    "old_code": "an older sheet whose code holds the reference only: boxes not checked",
    "unknown_layout": "a sheet of a layout this version does not know: boxes not checked",
    "no_areas": "a layout that marks no signature, seal, fingerprint or date areas",
    "registration_uncertain": "the page's print could not be matched to its layout",
    "seal_uncertain": "the seal area holds faint or little red ink: a person should look",
    "page_limit": "the run's --max-pages was reached: this page and the rest were not read",
    "image_too_large": "a scanned image or page over the pixel limit",
    "encrypted_pdf": "a password-protected scan PDF",
    "corrupt_pdf": "a scan PDF that cannot be read",
    "empty_file": "a scan PDF without pages",
    "corrupt_page": "a scan PDF page that cannot be rendered",
    "corrupt_image": "damaged or truncated image data",
    "not_in_manifest": "a reference the --manifest does not list",
    "nothing_received": "a record of the manifest with no page back",
    "website_unknown": "pages with an older code: their website is not known",
    "missing_originals": "a website with fewer originals back than expected",
    "extra_originals": "a website with more originals back than expected",
    "scanned_twice": "the same original scanned again",
    "website_count_mismatch": "a code whose website count disagrees with the manifest's",
    "unknown_parameter": "a query option the API call does not take (HTTP 400)",
    "too_many_pages": "a request that would produce more pages than one request may (HTTP 413)",
    "request_timeout": "a request's headers or body not sent within the server's time (HTTP 408)",
    "cors_refused": "a cross-origin preflight from an origin, method or header not allowed "
                    "(HTTP 400)",
    # certificates' dates (sheetgen.model)
    "date_format": "a date that is not a real date (YYYY-MM-DD, or 长期 for no end)",
    "valid_until_before_birth": "a certificate valid until a date before its holder's birth",
    # acceptance rules (sheetgen.rules.acceptance; severity per rule in the rules file)
    "website_name_reserved": "website name starting with 中国, 中华, 中央, 国家, 人民 or 人大 "
                             "for a filer that is not a national body",
    "website_name_form": "website name only of digits or Latin letters, or with symbols",
    "certificate_expiring": "a certificate valid for less than the months the rules ask for",
    "applicant_under_18": "a personal filer under the province's minimum age on the filing date",
    "certificate_not_local": "a personal filer with another province's resident ID and no "
                             "residence permit (居住证) of the filing province",
    "too_many_domains": "more domains per website or per filing than the province allows",
    "domain_suffix_for_nature": "a 事业单位 domain not on .cn/.公益, a government body's not on "
                                ".gov.cn/.政务",
    "contact_shared": "one mobile or e-mail for two different people (in one applicant, or "
                      "across a run: both records flagged, each naming the other)",
    "preapproval_keyword": "a unit or website name with a pre-approval keyword while the "
                           "website declares no preapproval",
    "domain_holder_mismatch": "a domain's real-name holder differs from the host's name",
    "legal_representative_letter": "a unit principal or website manager who is not the legal "
                                   "representative where the province asks for a letter (or "
                                   "no host.legal_representative to tell)",
    "sole_trader_name": "a 个体工商户 without a trade name whose 主办单位名称 is not written as "
                        "the province asks (安徽: the operator's name; 浙江: 张三（个体工商户）)",
    "not_ready": "a batch job that is not done yet: its results come later (HTTP 409)",
    # warnings (the record is valid)
    "example_data": "a value still the fictitious sample of `sheetgen example`",
    # the error classes below, when an error has no problems of its own
    "error": "an error of no more specific kind (exit 1)",
    "usage": "a wrong command line, option or file (exit 2)",
    "invalid_data": "invalid applicant data (exit 3)",
    "template": "a template problem (exit 5)",
    "font": "a font problem (exit 5)",
    "rules": "an unreadable or inconsistent rules file (exit 2)",
    "batch_partial": "a batch finished with failed records (exit 6)",
    "register": "the desk's register (its database) is unavailable, busy or of a newer "
                "schema (exit 2; HTTP 503)",
}


class SheetgenError(Exception):
    """Base of every error sheetgen reports to a user.

    ``code`` is the problem code an error without problems of its own reports under; the
    codes of the error classes are in :data:`PROBLEM_CODES` too.
    """

    exit_code: ExitCode = ExitCode.INTERNAL
    code: str = "error"

    def __init__(self, message: str, *, hint: str | None = None,
                 problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.problems: list[Problem] = list(problems or [])

    def as_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data (for ``--json`` and batch manifests)."""
        problems = self.problems or [Problem("", self.code, self.message)]
        return {"code": self.code, "exit_code": int(self.exit_code),
                "message": self.message, **problem_fields(problems)}


class UsageError(SheetgenError):
    """The command line or its files are wrong (missing file, bad option value)."""

    exit_code = ExitCode.USAGE
    code = "usage"


class InvalidDataError(SheetgenError):
    """The applicant data is not valid; ``problems`` lists every error with its JSON path."""

    exit_code = ExitCode.INVALID_DATA
    code = "invalid_data"


class DoesNotFitError(SheetgenError):
    """A value does not fit its box on one A4 page even at its minimum size."""

    exit_code = ExitCode.DOES_NOT_FIT
    code = "does_not_fit"


class TemplateError(SheetgenError):
    """A template is missing, malformed, or uses an unknown variable."""

    exit_code = ExitCode.TEMPLATE_OR_FONT
    code = "template"


class FontError(SheetgenError):
    """A font is missing or lacks a character of the data (the message names both)."""

    exit_code = ExitCode.TEMPLATE_OR_FONT
    code = "font"


class RulesError(SheetgenError):
    """The rules data file (built-in or ``--rules FILE``) is unreadable or inconsistent."""

    exit_code = ExitCode.USAGE
    code = "rules"


class RegisterError(SheetgenError):
    """The desk's register cannot be opened or reached (gone, busy, newer schema)."""

    exit_code = ExitCode.USAGE
    code = "register"


class BatchPartialError(SheetgenError):
    """A batch finished but some records failed; the report lists each."""

    exit_code = ExitCode.BATCH_PARTIAL
    code = "batch_partial"


class InternalError(SheetgenError):
    """sheetgen itself cannot go on: a bug, or an installation that is broken (exit 1)."""

    exit_code = ExitCode.INTERNAL
    code = "internal"


class WorkersCrashedError(InternalError):
    """Batch worker processes died on record after record: the run stops (exit 1)."""

    code = "worker_crashed"
