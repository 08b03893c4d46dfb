"""Acceptance rules: what the administration rejects although the data is well-formed.

The model (:mod:`sheetgen.model`) checks formats and checksums; the filings that come back
rejected are mostly well-formed (domain.md §8): a website name starting with 中国, a certificate
that expires next month, three domains where the province allows one. This module owns those
checks, split as everything else in :mod:`sheetgen.rules` is:

Data
    The ``[[acceptance]]`` entries of the rules file (:class:`AcceptanceRule`): the ``kind`` (the
    code that evaluates it, and the stable problem code it reports), the ``provinces`` it applies
    to (empty: all), its ``severity`` (``error`` where the sources are firm, ``warning`` where
    they are weak or disagree), the kind's parameters (a limit, a list of prefixes …), the
    message in Chinese and English with the next step (``zh``/``en``, ``{placeholders}`` filled
    by the kind), and ``source``/``as_of``. A province changes without code: edit its lists.
Code
    :data:`KINDS`: one function per kind, each given an applicant and the rule, yielding
    ``(path, fields)`` for every place that breaks it; :func:`evaluate` runs the rules that
    apply to the applicant's province and turns each finding into a
    :class:`~sheetgen.errors.Problem` with the rule's severity. :class:`SharedContacts` is the
    one rule over many records (``contact_shared`` across a batch or a spreadsheet).
Dates
    "Today" is the filing date (:func:`filing_date`): ``--date``, else ``SOURCE_DATE_EPOCH``,
    else the local date, so output stays reproducible.

This module is in the rules stage, below the model: it reads a validated applicant by its
attributes (typed under ``TYPE_CHECKING`` only) and never imports the model.
"""

from __future__ import annotations

import os
import re
import string
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sheetgen.errors import Problem, UsageError
from sheetgen.vocabulary import Nature, Preapproval

if TYPE_CHECKING:
    from sheetgen.model import Applicant, Person
    from sheetgen.rules import Province, Rules

Severity = Literal["error", "warning"]
_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
_Source = Annotated[str, StringConstraints(pattern=r"^(seed|doc|recon): *\S")]
_Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]


class AcceptanceRule(BaseModel):
    """One ``[[acceptance]]`` entry: a kind applied to some provinces (see the module doc)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    kind: _Key
    provinces: tuple[_Key, ...] = ()        # empty: every province
    severity: Severity
    zh: _Text
    en: _Text
    source: _Source
    as_of: date
    # --- the kinds' parameters (which kind takes which: KIND_PARAMETERS) ---
    prefixes: tuple[_Text, ...] = ()        # website_name_reserved
    exempt_natures: tuple[Nature, ...] = ()  # website_name_reserved
    form: Literal["latin_digits_only", "symbols"] | None = None  # website_name_form
    allowed: str = ""                       # website_name_form: symbols that are accepted
    months: int | None = Field(None, ge=1, le=120)   # certificate_expiring
    min_age: int | None = Field(None, ge=1, le=120)  # applicant_under_18
    per_website: int | None = Field(None, ge=1)      # too_many_domains
    per_filing: int | None = Field(None, ge=1)       # too_many_domains
    nature: Nature | None = None            # domain_suffix_for_nature
    suffixes: tuple[_Text, ...] = ()        # domain_suffix_for_nature
    across_records: Severity | None = None  # contact_shared: between records of one run
    keywords: dict[_Key, tuple[_Text, ...]] = {}  # preapproval_keyword: category → keywords
    roles: tuple[Literal["principal", "manager"], ...] = ()  # legal_representative_letter
    letter: _Text | None = None             # legal_representative_letter (else the document's)
    document: _Key | None = None            # legal_representative_letter: the documents
                                            # table's entry (its provinces and label)
    zh_missing: _Text | None = None         # legal_representative_letter: no representative
    en_missing: _Text | None = None
    name_form: Literal["operator", "operator_marked"] | None = None  # sole_trader_name
    marker: _Text | None = None             # sole_trader_name, operator_marked: （个体工商户）

    def applies(self, province: str) -> bool:
        return not self.provinces or province in self.provinces

    def message(self, fields: Mapping[str, object], *, missing: bool = False) -> str:
        zh, en = ((self.zh_missing or self.zh, self.en_missing or self.en) if missing
                  else (self.zh, self.en))
        return f"{zh.format_map(fields)} / {en.format_map(fields)}"

    def facts(self) -> dict[str, Any]:
        """The rule as JSON (``sheetgen rules PROVINCE --json``)."""
        return self.model_dump(mode="json", exclude_defaults=True)


#: Each kind's parameters: (required, optional); any other parameter is an error.
KIND_PARAMETERS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "website_name_reserved": (frozenset({"prefixes"}), frozenset({"exempt_natures"})),
    "website_name_form": (frozenset({"form"}), frozenset({"allowed"})),
    "certificate_expiring": (frozenset({"months"}), frozenset()),
    "applicant_under_18": (frozenset({"min_age"}), frozenset()),
    "certificate_not_local": (frozenset(), frozenset()),
    "too_many_domains": (frozenset(), frozenset({"per_website", "per_filing"})),
    "domain_suffix_for_nature": (frozenset({"nature", "suffixes"}), frozenset()),
    "contact_shared": (frozenset(), frozenset({"across_records"})),
    "preapproval_keyword": (frozenset({"keywords"}), frozenset()),
    "domain_holder_mismatch": (frozenset(), frozenset()),
    "legal_representative_letter": (frozenset({"roles", "zh_missing", "en_missing"}),
                                    frozenset({"letter", "document"})),
    "sole_trader_name": (frozenset({"name_form"}), frozenset({"marker"})),
}
_PARAMETERS = frozenset(p for required, optional in KIND_PARAMETERS.values()
                        for p in required | optional)

#: The ``{placeholders}`` each kind fills in its messages.
KIND_FIELDS: dict[str, frozenset[str]] = {
    "website_name_reserved": frozenset({"prefix"}),
    "website_name_form": frozenset({"symbol"}),
    "certificate_expiring": frozenset({"until", "months", "date"}),
    "applicant_under_18": frozenset({"min_age", "date"}),
    "certificate_not_local": frozenset({"province"}),
    "too_many_domains": frozenset({"limit", "count", "province", "scope_zh", "scope_en"}),
    "domain_suffix_for_nature": frozenset({"domain", "suffixes", "nature"}),
    "contact_shared": frozenset({"field_zh", "field_en", "other"}),
    "preapproval_keyword": frozenset({"keyword", "category", "category_code"}),
    "domain_holder_mismatch": frozenset({"domain"}),
    "legal_representative_letter": frozenset({"letter", "role_zh", "role_en", "province"}),
    "sole_trader_name": frozenset({"operator", "expected", "province"}),
}
KINDS_ORDER = tuple(KIND_PARAMETERS)


def consistency(rules: Sequence[AcceptanceRule], provinces: set[str]) -> list[Problem]:
    """What the shape of ``[[acceptance]]`` cannot say: known kinds and provinces, each kind's
    parameters, message placeholders the kind fills. Paths are ``acceptance[i].key``."""
    problems: list[Problem] = []

    def bad(path: str, message: str) -> None:
        problems.append(Problem(path, "rules_inconsistent", message))

    for i, rule in enumerate(rules):
        where = f"acceptance[{i}]"
        if rule.kind not in KIND_PARAMETERS:
            bad(f"{where}.kind", f"unknown acceptance kind {rule.kind!r}; kinds: "
                                 + ", ".join(KINDS_ORDER))
            continue
        for key in rule.provinces:
            if key not in provinces:
                bad(f"{where}.provinces", f"unknown province key {key!r}")
        required, optional = KIND_PARAMETERS[rule.kind]
        given = {p for p in _PARAMETERS if p in rule.model_fields_set}
        for name in sorted(required - given):
            bad(f"{where}.{name}", f"the {rule.kind} kind needs {name}")
        for name in sorted(given - required - optional):
            bad(f"{where}.{name}", f"the {rule.kind} kind takes no {name}")
        if rule.kind == "sole_trader_name" and (rule.name_form == "operator_marked") != \
                (rule.marker is not None):
            bad(f"{where}.marker", "sole_trader_name takes a marker with name_form "
                                   "operator_marked, and only then")
        if rule.kind == "too_many_domains" and rule.per_website is None \
                and rule.per_filing is None:
            bad(f"{where}.per_filing", "too_many_domains needs per_website or per_filing")
        for category in rule.keywords:
            if Preapproval.parse(category) is None:
                bad(f"{where}.keywords", f"unknown pre-approval category {category!r}")
        for key in ("zh", "en", "zh_missing", "en_missing"):
            text = getattr(rule, key)
            if text is None:
                continue
            try:
                parts = list(string.Formatter().parse(text))
            except ValueError as exc:
                bad(f"{where}.{key}", f"malformed message template: {exc}")
                continue
            # A rules file is untrusted: a format spec ({count:999999999}) or a conversion
            # could make a message of gigabytes; placeholders are plain names.
            if any(spec or conversion for _, name, spec, conversion in parts if name is not None):
                bad(f"{where}.{key}", "placeholders take no format spec or conversion "
                                      "(write {name}, not {name:…} or {name!r})")
                continue
            names = {name for _, name, _, _ in parts if name is not None}
            unknown = sorted(names - KIND_FIELDS[rule.kind])
            if unknown:
                bad(f"{where}.{key}", f"unknown placeholder {{{unknown[0]}}}; the "
                    f"{rule.kind} kind fills " + ", ".join(
                        f"{{{n}}}" for n in sorted(KIND_FIELDS[rule.kind])))
    return problems


# --- dates -----------------------------------------------------------------------------------

def filing_date(given: date | None = None) -> date:
    """The filing date ("today" for the rules): ``given`` (``--date``), else the UTC date of
    ``SOURCE_DATE_EPOCH``, else the local date."""
    if given is not None:
        return given
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or not raw.strip():
        return date.today()
    try:
        return datetime.fromtimestamp(int(raw.strip()), UTC).date()
    except (ValueError, OverflowError, OSError):
        raise UsageError(f"SOURCE_DATE_EPOCH={raw[:20]!r} is not a whole number of seconds "
                         "since 1970", hint="unset it or give seconds (date +%s)") from None


def parse_date(text: str) -> date | None:
    """``2030-01-31``, ``2030/01/31``, ``2030.01.31`` or ``20300131``; None when not a date."""
    found = re.fullmatch(r"(\d{4})[-/.]?(\d{1,2})[-/.]?(\d{1,2})", text.strip())
    if found is None or ("-" not in text and "/" not in text and "." not in text
                         and len(text.strip()) != 8):
        return None
    try:
        return date(*(int(part) for part in found.groups()))
    except ValueError:
        return None


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the month's end (01-31 + 1 → 02-28)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def birthday(born: date, years: int) -> date:
    """The day a person born on ``born`` turns ``years`` (29 February: 1 March otherwise)."""
    try:
        return born.replace(year=born.year + years)
    except ValueError:
        return date(born.year + years, 3, 1)


def birth_date(number: str) -> date | None:
    """The birth date in an 18-character resident ID number (or a residence permit's)."""
    if len(number) != 18 or not number[:17].isdigit():
        return None
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


# --- the kinds -------------------------------------------------------------------------------

Finding = tuple[str, dict[str, object]]
#: Whether the finding is the "missing field" variant of a rule's message.
_MISSING = "__missing__"


@dataclass(frozen=True)
class Filing:
    """What every kind reads: the applicant, its province, the rules, the filing date."""

    applicant: Applicant
    province: Province
    rules: Rules
    today: date


def _website_name_reserved(f: Filing, rule: AcceptanceRule) -> Iterator[Finding]:
    if f.applicant.host.nature in rule.exempt_natures:
        return
    for i, website in enumerate(f.applicant.websites):
        prefix = next((p for p in rule.prefixes if website.name.startswith(p)), None)
        if prefix is not None:
            yield f"websites[{i}].name", {"prefix": prefix}


_LATIN_DIGITS = re.compile(r"[A-Za-z0-9 ]+")


def _website_name_form(f: Filing, rule: AcceptanceRule) -> Iterator[Finding]:
    for i, website in enumerate(f.applicant.websites):
        name = unicodedata.normalize("NFKC", website.name)
        if rule.form == "latin_digits_only":
            if _LATIN_DIGITS.fullmatch(name):
                yield f"websites[{i}].name", {"symbol": ""}
        else:
            symbol = next((ch for ch in name if unicodedata.category(ch)[0] in "PS"
                           and ch not in rule.allowed), None)
            if symbol is not None:
                yield f"websites[{i}].name", {"symbol": symbol}


def _certificates(applicant: Applicant) -> Iterator[tuple[str, Any]]:
    """Every certificate of the applicant with its path, each person's once."""
    host = applicant.host
    yield "host.certificate", host.certificate
    if host.principal is not None:
        yield "host.principal.certificate", host.principal.certificate
    representative = getattr(host, "legal_representative", None)
    if representative is not None:
        yield "host.legal_representative.certificate", representative.certificate
    for i, website in enumerate(applicant.websites):
        yield f"websites[{i}].manager.certificate", website.manager.certificate


def _certificate_expiring(f: Filing, rule: AcceptanceRule) -> Iterator[Finding]:
    assert rule.months is not None
    limit = add_months(f.today, rule.months)
    seen: set[tuple[str, date]] = set()
    for path, certificate in _certificates(f.applicant):
        until = certificate.valid_until
        if until is None or until >= limit or (certificate.number, until) in seen:
            continue
        seen.add((certificate.number, until))
        yield f"{path}.valid_until", {"until": until.isoformat(), "months": rule.months,
                                      "date": f.today.isoformat()}


_BIRTH_NUMBERS = ("ric", "ric_hk_mo", "ric_tw")


def _applicant_under_18(f: Filing, rule: AcceptanceRule) -> Iterator[Finding]:
    host = f.applicant.host
    assert rule.min_age is not None
    if host.nature.unit:
        return
    kind = f.rules.certificate(host.certificate.type)
    born = birth_date(host.certificate.number) if kind and kind.number in _BIRTH_NUMBERS \
        else None
    if born is not None and f.today < birthday(born, rule.min_age):
        yield "host.certificate.number", {"min_age": rule.min_age, "date": f.today.isoformat()}


def _certificate_not_local(f: Filing, rule: AcceptanceRule) -> Iterator[Finding]:
    host = f.applicant.host
    if host.nature.unit:
        return
    kind = f.rules.certificate(host.certificate.type)
    if kind is None or kind.number != "ric" or host.certificate.number[:2] == f.province.code:
        return
    if getattr(host, "residence_permit", None) == f.province.key:
        return
    yield "host.certificate.number", {"province": f.province.name}


def _too_many_domains(f: Filing, rule: AcceptanceRule) -> Iterator[Finding]:
    websites = f.applicant.websites
    if rule.per_website is not None:
        for i, website in enumerate(websites):
            if len(website.domains) > rule.per_website:
                yield f"websites[{i}].domains", {
                    "limit": rule.per_website, "count": len(website.domains),
                    "province": f.province.name, "scope_zh": "每个网站",
                    "scope_en": "per website"}
    total = sum(len(website.domains) for website in websites)
    if rule.per_filing is not None and total > rule.per_filing:
        yield "websites", {"limit": rule.per_filing, "count": total,
                           "province": f.province.name, "scope_zh": "每次备案",
                           "scope_en": "per filing"}


def _domain_suffix_for_nature(f: Filing, rule: AcceptanceRule) -> Iterator[Finding]:
    if f.applicant.host.nature is not rule.nature:
        return
    assert rule.nature is not None
    suffixes = tuple(s.casefold() for s in rule.suffixes)
    for i, website in enumerate(f.applicant.websites):
        for j, domain in enumerate(website.domains):
            if not domain.name.casefold().endswith(suffixes):
                yield f"websites[{i}].domains[{j}]", {
                    "domain": domain.name, "suffixes": " / ".join(rule.suffixes),
                    "nature": rule.nature.label}


_CONTACTS = (("mobile", "手机号码", "mobile"), ("email", "电子邮箱", "e-mail"))


def _person_key(number: str) -> str:
    return re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", number)).upper()


def _contact_key(what: str, value: str) -> str:
    return value.strip().casefold() if what == "email" else value.strip()


def _people(applicant: Applicant) -> Iterator[tuple[str, Person]]:
    if applicant.host.principal is not None:
        yield "host.principal", applicant.host.principal
    for i, website in enumerate(applicant.websites):
        yield f"websites[{i}].manager", website.manager


def _contact_shared(f: Filing, rule: AcceptanceRule) -> Iterator[Finding]:
    for what, zh, en in _CONTACTS:
        first: dict[str, tuple[str, str]] = {}
        for path, person in _people(f.applicant):
            number = _person_key(person.certificate.number)
            value = _contact_key(what, getattr(person, what))
            other_path, other_number = first.setdefault(value, (path, number))
            if other_number != number:
                yield f"{path}.{what}", {"field_zh": zh, "field_en": en, "other": other_path}


def _preapproval_keyword(f: Filing, rule: AcceptanceRule) -> Iterator[Finding]:
    host = f.applicant.host
    for i, website in enumerate(f.applicant.websites):
        if website.preapproval:
            continue
        names = [(f"websites[{i}].name", website.name)]
        if host.nature.unit:
            names.append(("host.name", host.name))
        for path, name in names:
            hit = next(((category, keyword) for category, words in rule.keywords.items()
                        for keyword in words if keyword in name), None)
            if hit is not None:
                member = Preapproval.parse(hit[0])
                yield path, {"keyword": hit[1], "category": member.label if member else hit[0],
                             "category_code": hit[0]}
                break


def _name_key(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not ch.isspace())


def _domain_holder_mismatch(f: Filing, rule: AcceptanceRule) -> Iterator[Finding]:
    host = _name_key(f.applicant.host.name)
    for i, website in enumerate(f.applicant.websites):
        for j, domain in enumerate(website.domains):
            holder = getattr(domain, "holder", None)
            if holder is not None and _name_key(holder) != host:
                yield f"websites[{i}].domains[{j}].holder", {"domain": domain.name}


_ROLES = {"principal": ("主体负责人", "principal"), "manager": ("网站负责人", "website manager")}


def _legal_representative_letter(f: Filing, rule: AcceptanceRule) -> Iterator[Finding]:
    host = f.applicant.host
    if not host.nature.unit:
        return
    representative = getattr(host, "legal_representative", None)
    fields: dict[str, object] = {"letter": f.rules.letter(rule), "province": f.province.name}
    if representative is None:
        roles = [_ROLES[r] for r in rule.roles]
        yield "host.legal_representative", {
            **fields, "role_zh": "或".join(r[0] for r in roles),
            "role_en": " or ".join(r[1] for r in roles), _MISSING: True}
        return
    key = (_name_key(representative.name), _person_key(representative.certificate.number))

    def same(person: Person) -> bool:
        return (_name_key(person.name), _person_key(person.certificate.number)) == key

    for role in rule.roles:
        zh, en = _ROLES[role]
        if role == "principal":
            if host.principal is not None and not same(host.principal):
                yield "host.principal", {**fields, "role_zh": zh, "role_en": en}
        else:
            for i, website in enumerate(f.applicant.websites):
                if not same(website.manager):
                    yield f"websites[{i}].manager", {**fields, "role_zh": zh, "role_en": en}


#: What a sole trader without a trade name writes in its licence's name field instead of one.
_NO_TRADE_NAME = frozenset({"*", "**", "***", "无", "无字号", "个体工商户", "个体户"})


def _sole_trader(host: Any) -> bool:
    """A 个体工商户: a unit without a seal (sheetgen's 个体工商户无公章), or one whose unified
    social credit code says so (GB 32100: registration authority 9, category 2: ``92…``)."""
    if not host.nature.unit:
        return False
    number = unicodedata.normalize("NFKC", host.certificate.number).strip().upper()
    return not host.has_seal or number.startswith("92")


def _sole_trader_name(f: Filing, rule: AcceptanceRule) -> Iterator[Finding]:
    """The name of a 个体工商户 without a trade name: the operator's name (安徽), or the
    operator's name with a marker, 张三（个体工商户） (浙江). The operator is the legal
    representative when given, else the principal. Without a trade name means: the name is
    a placeholder (***, 无字号 …), the operator's bare name, or, for ``operator``, a unit
    without a seal (安徽's 无字号无公章个体工商户)."""
    host = f.applicant.host
    if not _sole_trader(host):
        return
    person = getattr(host, "legal_representative", None) or host.principal
    if person is None:
        return
    operator = person.name.strip()
    name = _name_key(host.name)
    placeholder = name in {_name_key(p) for p in _NO_TRADE_NAME}
    bare = name == _name_key(operator)
    if rule.name_form == "operator":
        expected = operator
        untraded = placeholder or bare or not host.has_seal
    else:
        assert rule.marker is not None
        expected = operator + rule.marker
        untraded = placeholder or bare or "个体工商户" in name
    if untraded and name != _name_key(expected):
        yield "host.name", {"operator": operator, "expected": expected,
                            "province": f.province.name}


def is_representative(representative: Any, person: Person) -> bool:
    """Whether ``person`` is the unit's legal representative (same name and certificate
    number, as the acceptance rule compares them)."""
    return ((_name_key(representative.name), _person_key(representative.certificate.number))
            == (_name_key(person.name), _person_key(person.certificate.number)))


def approval_keyword(applicant: Applicant, rules: Rules, province: Province) -> bool:
    """Whether a website without declared prior approval (or the unit) has a name holding a
    keyword of the province's ``preapproval_keyword`` rule: the 不涉及前置审批承诺书's case."""
    filing = Filing(applicant, province, rules, date(2000, 1, 1))  # the rule reads no date
    return any(next(_preapproval_keyword(filing, rule), None) is not None
               for rule in rules.acceptance_for(province.key)
               if rule.kind == "preapproval_keyword")


KINDS: dict[str, Callable[[Filing, AcceptanceRule], Iterator[Finding]]] = {
    "website_name_reserved": _website_name_reserved,
    "website_name_form": _website_name_form,
    "certificate_expiring": _certificate_expiring,
    "applicant_under_18": _applicant_under_18,
    "certificate_not_local": _certificate_not_local,
    "too_many_domains": _too_many_domains,
    "domain_suffix_for_nature": _domain_suffix_for_nature,
    "contact_shared": _contact_shared,
    "preapproval_keyword": _preapproval_keyword,
    "domain_holder_mismatch": _domain_holder_mismatch,
    "legal_representative_letter": _legal_representative_letter,
    "sole_trader_name": _sole_trader_name,
}
assert set(KINDS) == set(KIND_PARAMETERS)


def evaluate(applicant: Applicant, rules: Rules, today: date | None = None) -> list[Problem]:
    """Every acceptance problem of a validated applicant, errors and warnings (``severity``),
    in the rules file's order; each place and code once."""
    province = rules.province(applicant.province)
    applicable = rules.acceptance_for(province.key)
    if not applicable:
        return []
    filing = Filing(applicant, province, rules, filing_date(today))
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for rule in applicable:
        for path, fields in KINDS[rule.kind](filing, rule):
            if (path, rule.kind) in seen:
                continue
            seen.add((path, rule.kind))
            problems.append(Problem(path, rule.kind, rule.message(
                fields, missing=bool(fields.get(_MISSING))), severity=rule.severity))
    return problems


def split(problems: Sequence[Problem]) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) of ``problems`` by severity."""
    errors = [p for p in problems if p.severity == "error"]
    return errors, [p for p in problems if p.severity != "error"]


# --- one rule over many records: contact_shared across a run ---------------------------------

def _raw_people(value: object) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The people of a record as it came in (raw JSON): paths and objects."""
    if not isinstance(value, Mapping):
        return
    host = value.get("host")
    if isinstance(host, Mapping) and isinstance(host.get("principal"), Mapping):
        yield "host.principal", host["principal"]
    websites = value.get("websites")
    if isinstance(websites, list):
        for i, website in enumerate(websites):
            if isinstance(website, Mapping) and isinstance(website.get("manager"), Mapping):
                yield f"websites[{i}].manager", website["manager"]


def _raw_number(person: Mapping[str, Any]) -> str | None:
    certificate = person.get("certificate")
    number = certificate.get("number") if isinstance(certificate, Mapping) else None
    return _person_key(number) if isinstance(number, str) and number.strip() else None


@dataclass
class SharedContacts:
    """``contact_shared`` across the records of one run (a batch, a spreadsheet, an array):
    a mobile or e-mail given for two different people (by certificate number) in two records
    flags both, each naming the other by ``ref`` (or its place in the run).

    Records are added as they are read (:meth:`add`, raw JSON); :meth:`problems` gives a
    record's findings once the run is read. Within one record the rule is the applicant's
    (:func:`evaluate`). The severity is the rule's ``across_records`` (else its own).
    """

    rules: Rules
    _first: dict[tuple[str, str], tuple[int, str, str]] = field(default_factory=dict)
    _names: dict[int, str] = field(default_factory=dict)
    _found: dict[int, list[tuple[str, str, int]]] = field(default_factory=dict)
    _rule_at: dict[int, AcceptanceRule] = field(default_factory=dict)

    def add(self, position: int, value: object, name: str | None = None) -> list[int]:
        """Record ``value`` (raw JSON) at ``position``; ``name`` is how others name it (its
        ``ref``, else ``record <position>``). Returns the positions newly flagged (this one
        and the records it shares a contact with), empty when none."""
        rule = self._rule(value)
        if rule is None:
            return []
        self._rule_at[position] = rule
        flagged: list[int] = []
        ref = value.get("ref") if isinstance(value, Mapping) else None
        self._names[position] = name or (ref.strip() if isinstance(ref, str) and ref.strip()
                                         else f"record {position}")
        for path, person in _raw_people(value):
            number = _raw_number(person)
            if number is None:
                continue
            for what, _, _ in _CONTACTS:
                contact = person.get(what)
                if not isinstance(contact, str) or not contact.strip():
                    continue
                key = (what, _contact_key(what, unicodedata.normalize("NFKC", contact)))
                first = self._first.setdefault(key, (position, number, path))
                other, other_number, other_path = first
                if other == position or other_number == number:
                    continue
                self._found.setdefault(position, []).append((f"{path}.{what}", what, other))
                self._found.setdefault(other, []).append((f"{other_path}.{what}", what,
                                                          position))
                flagged += [position, other]
        return flagged

    def _rule(self, value: object) -> AcceptanceRule | None:
        province = value.get("province") if isinstance(value, Mapping) else None
        found = self.rules.find_province(province) if isinstance(province, str) else None
        if found is None:
            return None
        return next((r for r in self.rules.acceptance_for(found.key)
                     if r.kind == "contact_shared"), None)

    def problems(self, position: int) -> list[Problem]:
        """The findings of the record at ``position`` (so far), each place once."""
        rule = self._rule_at.get(position)
        if rule is None:
            return []
        out: list[Problem] = []
        seen: set[str] = set()
        for path, what, other in self._found.get(position, []):
            if path in seen:
                continue
            seen.add(path)
            _, zh, en = next(c for c in _CONTACTS if c[0] == what)
            out.append(Problem(path, "contact_shared", rule.message(
                {"field_zh": zh, "field_en": en, "other": self._names.get(other, str(other))}),
                severity=rule.across_records or rule.severity))
        return out
