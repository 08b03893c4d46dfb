"""``sheetgen check``, ``schema``, ``example`` and ``rules``: the data and what the rules say."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from sheetgen.cli.options import (
    ConfigOption,
    DateOption,
    EditionOption,
    RulesOption,
    filing_date_option,
    input_name,
)
from sheetgen.cli.output import emit_json, json_errors, say
from sheetgen.cli.sheets import (
    IgnoreColumnsOption,
    MapOption,
    SheetOption,
    sheet_options,
)
from sheetgen.errors import ExitCode, Problem


def check(
    input_path: Annotated[str, typer.Argument(
        metavar="INPUT", help="Applicant JSON file (an object, or an array of them), JSON "
                              "Lines file (.jsonl), a spreadsheet (.xlsx, .csv, .tsv); - reads "
                              "stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    rules_file: RulesOption = None,
    rules_edition: EditionOption = None,
    sheet: SheetOption = None,
    column_map: MapOption = None,
    ignore_columns: IgnoreColumnsOption = False,
    filing_date: DateOption = None,
) -> None:
    """Validate applicant data; list every problem with its JSON path (exit 3 if invalid).

    Also runs the acceptance rules of the province (`sheetgen rules PROVINCE` lists them):
    their errors make the data invalid, their warnings are printed and the data stays valid.
    """
    from dataclasses import replace

    from sheetgen.documents.example import applicant_warnings
    from sheetgen.errors import InvalidDataError
    from sheetgen.model import check_document, check_records
    from sheetgen.rules import load_rules
    from sheetgen.sources.json import is_spreadsheet, open_input

    source = input_name(input_path)
    with json_errors(as_json, source=source):
        today = filing_date_option(filing_date)
        rules = load_rules(rules_file, edition=rules_edition)
        if is_spreadsheet(input_path):
            from sheetgen.sources.spreadsheet import spreadsheet_records

            checked = check_records(spreadsheet_records(
                Path(input_path), sheet_options(sheet, column_map, ignore_columns)), rules,
                today)
        else:
            checked = check_document(open_input(input_path), source=source, rules=rules,
                                     today=today)
        results = [replace(r, warnings=(*r.warnings, *applicant_warnings(r.applicant, rules)))
                   if r.applicant is not None else r for r in checked]
    failed = [r for r in results if not r.ok]
    warn_examples((f"{source} [{r.index}]" if r.index is not None else
                    f"{source} line {r.line}" if r.line is not None else source,
                    r.warnings) for r in results)
    if as_json:
        if len(results) == 1 and results[0].index is None and results[0].line is None:
            record = results[0].as_dict(rules)
            payload = {"ok": record["ok"], "source": source, **record}
        else:
            payload = {"ok": not failed, "source": source, "records": [
                {"index": r.index, **({"line": r.line} if r.line is not None else {}),
                 **r.as_dict(rules)} for r in results]}
        emit_json(payload)
        if failed:
            raise typer.Exit(int(ExitCode.INVALID_DATA))
        return
    if failed:
        problems = [p for r in failed for p in r.located()]
        records = f"{len(failed)} of {len(results)} records, " if len(results) > 1 else ""
        raise InvalidDataError(
            f"{source}: invalid applicant data ({records}{len(problems)} "
            f"problem{'s' if len(problems) != 1 else ''})", problems=problems)
    websites = sum(len(r.applicant.websites) for r in results if r.applicant)
    records = f"{len(results)} records, " if len(results) > 1 else ""
    say(f"ok: {source}: valid ({records}{websites} website{'s' if websites != 1 else ''})")


def warn_examples(records: Iterable[tuple[str, Sequence[Problem]]]) -> None:
    """``sheetgen: warning: …`` on stderr for each record (where, warnings): one line per
    acceptance rule's warning, one line for the values still those of the fictitious sample
    of ``sheetgen example``."""
    from sheetgen.documents.example import warning_line

    for where, warnings in records:
        examples = [w for w in warnings if w.code == "example_data"]
        for warning in warnings:
            if warning.code != "example_data":
                say(f"warning: {where}: {warning.where}: {warning.code}: {warning.message}")
        if examples:
            say(f"warning: {warning_line(where, examples)}")


def schema(rules_file: RulesOption = None) -> None:
    """Print the JSON Schema (draft 2020-12) of the applicant input."""
    from sheetgen.model import json_schema
    from sheetgen.rules import load_rules

    emit_json(json_schema(load_rules(rules_file)))


def example(
    province: Annotated[str, typer.Option(
        help="Province by short name, full name, abbreviation or pinyin.")] = "江西",
    nature: Annotated[str, typer.Option(
        help="Host nature: personal 个人, enterprise 企业, … (code or Chinese name).")
    ] = "personal",
    rules_file: RulesOption = None,
) -> None:
    """Print a valid, fictitious sample applicant (JSON) for a province and nature."""
    from sheetgen.documents.example import make_example
    from sheetgen.rules import load_rules

    emit_json(make_example(load_rules(rules_file), province, nature))


def rules_command(
    province: Annotated[str | None, typer.Argument(
        metavar="[PROVINCE]", help="江西, 江西省, 赣 or jiangxi; without it, list all provinces."
    )] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the facts as JSON.")] = False,
    rules_file: RulesOption = None,
    edition: Annotated[str | None, typer.Option(
        "--edition", "--rules-edition", metavar="EDITION",
        help="Which built-in rules edition to show: 2025 (default) or 2018.")] = None,
    config_file: ConfigOption = None,
) -> None:
    """Show the rules for a province: variant, fingerprint, seal, SMS verification, portal.

    The verification flow shown is the provider configuration's (--config, ./sheetgen.toml)
    when it has one and the edition knows that flow.
    """
    from sheetgen.documents.provider import load_config
    from sheetgen.rules import load_rules

    with json_errors(as_json):
        config = load_config(config_file)
        rules = load_rules(rules_file, edition=edition)
        if config.flow is not None and (rules.electronic or config.flow == "paper"):
            rules = rules.with_verification(config.flow)
        config.check_kinds(rules)
    if province is None:
        summary = [rules.facts(p) for p in rules.provinces]
        if as_json:
            emit_json({"origin": rules.origin, "rules_version": rules.version,
                       "edition": rules.edition, "edition_title": rules.title,
                       "rules_as_of": rules.as_of.isoformat(), "provinces": summary})
            return
        print(f"rules edition {rules.edition} {rules.title}, as of {rules.as_of} "
              f"({rules.origin})")
        for f in summary:
            # U+3000 pads the Chinese columns: it is as wide as a hanzi in a terminal.
            names = (f"{f['name']:\u3000<4} {f['full_name']:\u3000<9} "
                     f"{''.join(f['abbreviations']):\u3000<2} {f['pinyin']:<13}")
            print(f"{names}variant {f['variant']['name']:<10}"
                  f"fingerprint {'yes' if f['fingerprint']['personal'] else 'no ':<4}"
                  f"sms {_sms_short(f['sms']):<17} {f['sms']['portal'] or '-'}")
        return
    with json_errors(as_json):
        facts = rules.facts(rules.resolve_province(province))
    if as_json:
        emit_json(facts)
        return
    for label, value in _describe(facts):
        print(f"{label + ':' if label else '':<14}{value}")


def _sms_short(sms: dict[str, Any]) -> str:
    """The SMS column of the province list: since when this province verifies by SMS."""
    if sms["pilot"]:
        return f"pilot {sms['pilot_since'][:10]}"
    if sms["required"]:
        return f"since {sms['mandatory_since']}"
    return "no"


def _describe(f: dict[str, Any]) -> list[tuple[str, str]]:
    """The human lines of ``sheetgen rules PROVINCE``."""
    variant, sms, seal = f["variant"], f["sms"], f["seal"]
    templates = variant["templates"]
    if sms["pilot"]:
        when = f"pilot province since {sms['pilot_since']}"
    elif sms["required"]:
        when = f"every province since {sms['mandatory_since']}"
    else:
        when = "not verified by SMS under this edition"
    lines = [
        ("edition", f"{f['edition']} {f['edition_title']}, as of {f['rules_as_of']}"),
        ("province", f"{f['name']} ({f['full_name']}; {'/'.join(f['abbreviations'])}; "
                     f"{f['pinyin']}; GB/T 2260 {f['code']})"),
        ("variant", f"{variant['name']} {variant['label']} (templates: unit {templates['unit']},"
                    f" personal {templates['personal']})"),
        ("verification", f"{f['verification']['flow']} (the provider's flow by default; "
                         "--verification paper|electronic)"),
        ("fingerprint", "personal filings press a fingerprint at 按手印处" if
         f["fingerprint"]["personal"] else "not required"),
    ]
    for disputed in f["fingerprint"]["disputed"]:
        lines.append(("", f"disputed ({'on' if disputed['enabled'] else 'off'}): "
                          + "; ".join(disputed["sources"])))
    lines += [
        ("seal", f"units seal with {seal['official_seal']} at {seal['label']} "
                 f"({'/'.join(seal['not_accepted'])} not accepted); without a seal write "
                 f"{seal['no_seal_text']}; personal filings have no seal"),
    ]
    if seal["no_seal_rule"]:
        rule = seal["no_seal_rule"]
        lines.append(("", f"{rule['action']}: {rule['text']} ({rule['source']}, "
                          f"as of {rule['as_of']})"))
    lines += [
        ("registrar", "write each domain's registrar after it" if f["registrar_required"]
         else "not required"),
        ("domain", "the domain certificate (域名证书)" if f["domain_certificate_required"]
         else "a screenshot of the domain's real-name record (域名实名信息截图)"),
        ("sms", f"{when}; {sms['code_digits']}-digit code, valid {sms['valid_hours']} h"
                + (f", more than {sms['attempts']} wrong entries return the filing"
                   if sms["attempts"] else "") + f" ({sms['notice']})"),
        ("portal", sms["portal"] or "-"),
    ]
    if sms["portal_note"]:
        lines.append(("note", sms["portal_note"]))
    if sms["required"]:
        lines += [("verify", sms["verify"]), ("resend", sms["resend"])]
        lines += [(kind if i == 0 else "", text) for i, (kind, text) in enumerate(
            ("codes", r["text"]) for r in sms["recipients"].values())]
        lines.append(("", sms["same_person"] + sms["recipient"]))
        if sms["no_code"]:
            lines.append(("", sms["no_code"]))
        lines += [("", f"also {a['field']} {a['value']}: {a['note']} ({a['source']})")
                  for a in sms["alternatives"]]
        lines.append(("senders", ", ".join(f"{c['name']} {c['number']}"
                                           for c in sms["carriers"])))
    lines.append(("sms source", f"{sms['source']} (as of {sms['as_of']})"))
    lines += [("backdrop", f"{b.get('provider', '')}：{b['text']} ({b['source']})")
              for b in f["backdrop"] if b.get("provinces")]
    if f["commitment"]:
        lines.append(("commitment", "Guangdong personal sheets: the applicant handwrites the "
                                    "commitment (text on the cover)"))
    for i, document in enumerate(f["documents"]):
        lines.append(("documents" if i == 0 else "", _document_line(document, f["key"])))
    for i, rule in enumerate(f["acceptance"]):
        lines.append(("acceptance" if i == 0 else "", _acceptance_line(rule)))
    if not f["acceptance"]:
        lines.append(("acceptance", "no acceptance rules in this edition"))
    lines.append(("source", f"{f['source']} (as of {f['as_of']})"))
    lines.append(("rules", f"{f['origin']} {f['rules_version']}"))
    return lines


def _document_line(document: dict[str, Any], province: str) -> str:
    """One document of ``sheetgen rules PROVINCE``: its name, when this province asks it, who
    signs, whose wording, its source."""
    cases = [c for c in document.get("cases", [])
             if not c.get("provinces") or province in c["provinces"]]
    alternatives = [" and ".join([*c.get("when", []), *(
        [f"at least {c['min_domains']} domains"] if c.get("min_domains") else [])])
        + (f" ({c['note']})" if c.get("note") else "") for c in cases]
    base = " and ".join(document.get("when", []))
    either = "; or ".join(a for a in alternatives if a)
    condition = (f"{base} and ({either})" if base and either and len(alternatives) > 1
                 else " and ".join(c for c in (base, either) if c)) or "always"
    if not document.get("applies", True):
        condition = "not asked here by the source used"
    signs = document.get("signs", "")
    if document.get("signs_personal"):
        signs = f"unit: {signs}; personal: {document['signs_personal']}"
    wording = {"project": "sheetgen's wording, printed",
               "province": "the province's wording, printed only from your templates' "
                           f"documents/{document['kind']}.html: {document.get('template_from')}"
               }.get(document.get("wording", ""), "")
    parts = [f"{document['label']} ({document['kind']})", f"when {condition}"]
    parts += [f"signs {signs}"] if signs else []
    parts += [f"{document.get('copies', 1)} original(s)"]
    parts += [wording] if wording else []
    disputed = [d for d in document.get("disputed", []) if province in d["provinces"]]
    parts += [f"disputed: {d['note']} ({d['source']})" for d in disputed]
    return " — ".join(parts) + f" — {document.get('source', '')} (as of {document.get('as_of')})"


def _acceptance_line(rule: dict[str, Any]) -> str:
    """One acceptance rule of ``sheetgen rules PROVINCE``: code, severity, what it checks
    (its parameters), its source."""
    skip = {"kind", "severity", "zh", "en", "zh_missing", "en_missing", "source", "as_of",
            "provinces"}
    params = "; ".join(f"{k} {_param(v)}" for k, v in rule.items() if k not in skip)
    return (f"{rule['kind']} [{rule['severity']}]" + (f" {params}" if params else "")
            + f" — {rule['source']} (as of {rule['as_of']})")


def _param(value: Any) -> str:
    if isinstance(value, list):
        return "/".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_param(v)}" for k, v in value.items())
    return str(value)

def register(app: typer.Typer) -> None:
    """Add these commands to ``app``."""
    app.command()(check)
    app.command()(schema)
    app.command()(example)
    app.command("rules")(rules_command)
