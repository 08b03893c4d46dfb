"""The rules data: provinces, variants, fingerprint, seal, SMS, materials, signing (design.md §4).

Everything in domain.md §3–§7 that changes with regulation lives in a TOML file shipped in
the package, one per dated **edition** (:data:`EDITIONS`): ``rules.toml`` is today's regulation
(the default), ``rules-2018.toml`` the seed's 2018 paper flow with its pilot batches corrected.
``--rules-edition E`` picks a built-in edition; a user replaces the file whole with
``--rules FILE`` (which names its own ``edition``). This module owns reading and validating
that file and answering questions about it (which province a name means, whether a province
asks for a fingerprint, which materials a case needs). It never decides anything by a
province's name: every such fact is data, so a province can be added to a rule without code.

Validation on load is strict and complete: the TOML shape (unknown keys are errors, texts are
non-empty, every entry has ``source`` and ``as_of``), then the cross-references (31 provinces,
unique names in every form, each with a portal, lists that name existing provinces, every unit
nature with a certificate). Any failure is a :class:`~sheetgen.errors.RulesError` naming the file
and each problem; TOML syntax errors keep their line and column.

A ``--rules FILE`` is untrusted input, so reading it is bounded like an applicant document: at
most :data:`MAX_RULES_BYTES`, nesting at most :data:`MAX_RULES_DEPTH` levels (a 4 KB file nested
2000 deep would otherwise exhaust the parser's recursion), numbers of at most a few thousand
digits; each such problem is a RulesError (exit 2) naming the file, the line and the key.

Importing this module stays cheap (pydantic and the standard library only): ``sheetgen rules``
must start fast. For the same reason the models' validators are built on first use
(``defer_build``), and a built-in edition is read, when it can be, from the copy of it already
parsed and validated that the package ships (``sheetgen/_precompiled/rules/``, written by
``tools/precompile.py`` like the precompiled layouts): a pickle named by a hash of the TOML
file, of every module of this package and of pydantic's version, so a copy made from another
file or by other code (a model edited, or moved to another module) is never read. It is part
of the installed package, as trusted as its code; the user's cache is never used for it.
Without it, the file is parsed and validated as above.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import stat
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from sheetgen.errors import Problem, RulesError, UsageError
from sheetgen.resources import rules_file
from sheetgen.rules import acceptance as _acceptance
from sheetgen.rules.acceptance import AcceptanceRule
from sheetgen.sources.json import json_path, printable, read_file
from sheetgen.vocabulary import Nature

PROVINCE_COUNT = 31
#: Largest rules file read; the built-in one is about 35 KB.
MAX_RULES_BYTES = 1024 * 1024
#: Deepest nesting of tables and arrays; the built-in file needs 4.
MAX_RULES_DEPTH = 32

#: The built-in rule editions, newest first: edition name → file in this package. The first is
#: the default. A ``--rules`` file must name one of them as its ``edition``.
EDITIONS = {"2025": "rules.toml", "2018": "rules-2018.toml"}
DEFAULT_EDITION = next(iter(EDITIONS))
#: The provider's verification flows (``--verification``, ``[verification].flow``).
FLOWS = ("paper", "electronic")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Source = Annotated[str, StringConstraints(pattern=r"^(seed|doc|recon): *\S")]
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Flag = Literal["personal", "unit", "seal", "no_seal", "fingerprint", "commitment", "registrar",
               "special_site", "new_filing", "new_website", "new_access", "change", "paper",
               "electronic", "preapproval"]
FilingTypeCode = Literal["new_filing", "new_website", "new_access", "change"]
Flow = Literal["paper", "electronic"]
#: The conditions that ``when`` lists may name; :mod:`~.plan` computes them per filing.
FLAGS: tuple[str, ...] = get_args(Flag)


class _Data(BaseModel):
    # The validators are built when a file is validated, not when this module is imported:
    # a process that reads the shipped parsed rules never needs them.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class _Entry(_Data):
    """Every entry of the rules data says where its facts come from and when they held."""

    source: Source
    as_of: date


class Province(_Entry):
    """One of the 31 mainland provincial divisions and its per-province facts."""

    key: Key
    name: Text
    full_name: Text
    abbreviations: tuple[Annotated[str, StringConstraints(min_length=1, max_length=1)], ...] = \
        Field(min_length=1)
    pinyin: Annotated[str, StringConstraints(pattern=r"^[a-z]+$")]
    aliases: tuple[Text, ...] = ()
    code: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]$")]
    variant: Key
    # The seed's per-province SMS portals (2018 edition); today's edition has one national
    # portal (``[sms].portal``) and leaves these out.
    portal_code: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")] | None = None
    portal: Annotated[str, StringConstraints(
        pattern=r"^[a-z]{2}\.beian\.miit\.gov\.cn/\S+$")] | None = None
    portal_note: Text | None = None
    sample_region: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
    sample_city: Text
    sample_address: Text
    sample_landline: Annotated[str, StringConstraints(pattern=r"^0[0-9]{2,3}-[0-9]{7,8}$")]

    @property
    def icp_abbreviation(self) -> str:
        """The abbreviation ICP filing numbers of this province start with (赣, 蜀, 黔 …)."""
        return self.abbreviations[0]

    @property
    def names(self) -> tuple[str, ...]:
        """Every accepted name form: short, full, abbreviations, pinyin, aliases."""
        return (self.name, self.full_name, *self.abbreviations, self.pinyin, *self.aliases)


#: A template stem inside the template set (``public/sheet``): never absolute, never ``..``.
TemplateStem = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")]


class Templates(_Data):
    unit: TemplateStem
    personal: TemplateStem


class Variant(_Entry):
    """A check sheet variant and its templates (stems relative to ``templates/``)."""

    label: Text
    templates: Templates
    personal_commitment: bool


class Disputed(_Data):
    """A province whose fingerprint requirement the sources disagree on: kept as data with
    every source, applied only when ``enabled`` (a user's rules file turns it on)."""

    province: Key
    enabled: bool
    sources: tuple[Source, ...] = Field(min_length=2)
    as_of: date


class Fingerprint(_Entry):
    provinces: tuple[Key, ...]
    label: Text
    note: Text | None = None
    disputed: tuple[Disputed, ...] = ()


class Registrar(_Entry):
    provinces: tuple[Key, ...]


class NoSealRule(_Entry):
    """What a province says of a unit without a seal (个体工商户): ``refuse`` it (the data is
    invalid), ``remark`` (another text in the seal box and the filing system's remark), or a
    ``hint`` on the cover."""

    provinces: tuple[Key, ...] = Field(min_length=1)
    action: Literal["refuse", "remark", "hint"]
    text: Text
    no_seal_text: Text | None = None  # ``remark``: printed instead of [seal].no_seal_text


class Seal(_Entry):
    label: Text
    official_seal: Text
    not_accepted: tuple[Text, ...]
    no_seal_text: Text
    remark: Text  # where else the no-seal text goes (the cover says it), unless a rule replaces it
    no_seal: tuple[NoSealRule, ...] = ()


class Carrier(_Data):
    name: Text
    number: Annotated[str, StringConstraints(pattern=r"^[0-9]{5,20}$")]


class PilotBatch(_Entry):
    """Provinces that started SMS verification together, before it was mandatory."""

    since: datetime | date  # a time of day only where the source gives one
    provinces: tuple[Key, ...] = Field(min_length=1)

    @property
    def since_text(self) -> str:
        """``2017-12-18 09:00`` or ``2018-09-10``."""
        if isinstance(self.since, datetime):
            return self.since.strftime("%Y-%m-%d %H:%M")
        return self.since.isoformat()


class Recipients(_Entry):
    """Who gets an SMS code for one filing type: the principal (units), each website's
    manager, or (``changed_only``) only those of them whose data changed."""

    roles: tuple[Literal["principal", "manager"], ...] = Field(min_length=1)
    changed_only: bool = False
    text: Text


class Sms(_Entry):
    """SMS verification facts (工信部信管函[2016]485号)."""

    notice: Text
    # Either every province since a date (today), or pilot batches (2018); a province in
    # neither does not verify by SMS.
    mandatory_since: date | None = None
    pilot_batches: tuple[PilotBatch, ...] = ()
    not_required: Text | None = None   # the cover's line for a province that does not verify
    portal: Annotated[str, StringConstraints(pattern=r"^[a-z0-9.-]+\.gov\.cn(/\S*)?$")] | None \
        = None                          # the national portal; else each province's own
    code_digits: int = Field(ge=4, le=8)
    valid_hours: int = Field(ge=1)
    attempts: int | None = Field(None, ge=1)  # wrong entries before the filing is returned
    arrival: Text
    resend: Text
    verify: Text
    expired: Text
    same_person: Text
    recipient: Text
    recipients: dict[FilingTypeCode, Recipients]
    virtual_operators: Text | None = None
    troubleshooting: tuple[Text, ...] = Field(min_length=1)
    carriers: tuple[Carrier, ...] = Field(min_length=1)


class Verification(_Entry):
    """The provider's verification flow by default: the seed's ``paper`` flow (signed sheet,
    backdrop photo) or ``electronic`` (face and ID in the provider's app)."""

    flow: Flow


class Conditional(_Entry):
    """A line of the cover that applies when every flag of ``when`` holds (empty: always)."""

    text: Text
    when: tuple[Flag, ...] = ()

    def applies(self, flags: frozenset[str]) -> bool:
        return all(flag in flags for flag in self.when)


class Document(_Data):
    """A document kind in the rules: ``[documents.<kind>]`` (:mod:`sheetgen.documents.kinds`).

    ``when``: the kind prints for an applicant when every flag holds (empty: always); a kind
    the table does not name prints by its registry entry's default (the cover and the sheet
    do). With ``title`` and ``template`` the entry also *defines* a kind, no code needed: a
    one-per-applicant form (a provider's letter) printed from ``<template>.html`` (and
    ``.docx``) of the template set, with the context of
    :func:`~sheetgen.documents.context.document_context`; it replaces a registered kind of
    the same name. A separate table, so a provider's rules file without it still prints what
    it always did.
    """

    when: tuple[Flag, ...] = ()
    title: Text | None = None          # the bookmark and the Word file's title
    template: Annotated[str, StringConstraints(
        pattern=r"^[a-z0-9_-]+(/[a-z0-9_-]+)*$", max_length=100)] | None = None
    order: int = Field(default=50, ge=0, le=1000)   # print order (cover 0, sheets 20)
    suffix: Key | None = None          # the Word file's name after the stem (default: the kind)
    max_pages: int = Field(default=1, ge=1, le=4)
    code: bool = False                 # carries a sheet code (QR) naming the kind
    originals: bool = False            # printed --copies times; receive counts the originals
    boxes: tuple[Literal["signature", "seal", "fingerprint", "date"], ...] = ()

    @model_validator(mode="after")
    def _defined_whole(self) -> Document:
        if (self.title is None) != (self.template is None):
            raise ValueError("a document kind the rules define needs both title and template")
        return self

    def applies(self, flags: frozenset[str]) -> bool:
        return all(flag in flags for flag in self.when)


class Material(Conditional):
    """One ☐ item of the cover's materials checklist."""

    key: Key
    note: Text | None = None


class Backdrop(_Entry):
    text: Text


class Commitment(_Entry):
    text: Text


class CertificateType(_Entry):
    """A certificate type: who holds it, how its number is checked, which natures it fits."""

    name: Text
    code: Key
    aliases: tuple[Text, ...] = ()
    holder: Literal["person", "unit"]
    number: Literal["ric", "ric_hk_mo", "ric_tw", "uscc", "other"]
    natures: tuple[Nature, ...] = ()

    def fits(self, nature: Nature) -> bool:
        """Whether a host of ``nature`` may use this certificate."""
        return nature in self.natures if nature.unit else self.holder == "person"


_C = TypeVar("_C", bound=Conditional)


def _name_key(text: str) -> str:
    """How names are compared: NFKC (folds full-width forms), case- and spacing-insensitive."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch not in " \t-'’")


class Rules(_Data):
    """The validated rules data, with the lookups the model and the plan ask for."""

    schema_version: Literal[2]
    edition: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z._-]{1,20}$")]
    title: Text                       # how the cover names the edition (现行规定 …)
    as_of: date                       # the facts hold as of this date (printed on the cover)
    verification: Verification
    provinces: tuple[Province, ...]
    variants: dict[Key, Variant]
    fingerprint: Fingerprint
    registrar: Registrar
    seal: Seal
    sms: Sms
    materials: tuple[Material, ...] = Field(min_length=1)
    signing: tuple[Conditional, ...] = Field(min_length=1)
    backdrop: tuple[Backdrop, ...] = Field(min_length=1)
    notices: tuple[Conditional, ...] = ()
    electronic: tuple[Conditional, ...] = ()  # the cover's lines for the electronic flow
    commitment: Commitment
    certificates: tuple[CertificateType, ...] = Field(min_length=1)
    documents: dict[Key, Document] = {}  # when each document kind prints (documents.kinds)
    # What the administration rejects although the data is well-formed (acceptance.py);
    # the 2018 edition has none.
    acceptance: tuple[AcceptanceRule, ...] = ()

    _origin: str = PrivateAttr(default="")
    _version: str = PrivateAttr(default="")
    _by_name: dict[str, Province] = PrivateAttr(default_factory=dict)
    _by_key: dict[str, Province] = PrivateAttr(default_factory=dict)
    _by_abbreviation: dict[str, Province] = PrivateAttr(default_factory=dict)
    _certificates: dict[str, CertificateType] = PrivateAttr(default_factory=dict)
    _acceptance: dict[str, tuple[AcceptanceRule, ...]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        # The acceptance rules of each province, once: check runs them on every record.
        for province in self.provinces:
            self._acceptance[province.key] = tuple(
                rule for rule in self.acceptance if rule.applies(province.key))
        for province in self.provinces:
            self._by_key[province.key] = province
            for name in province.names:
                self._by_name.setdefault(_name_key(name), province)
            for abbreviation in province.abbreviations:
                self._by_abbreviation.setdefault(abbreviation, province)
        for cert in self.certificates:
            for name in (cert.name, cert.code, *cert.aliases):
                self._certificates.setdefault(_name_key(name), cert)

    # --- identity ---------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        """Where the rules came from: ``built-in`` or the ``--rules`` file's path."""
        return self._origin

    @property
    def version(self) -> str:
        """A short hash of the rules file's bytes; keys caches of anything derived from it."""
        return self._version

    # --- provinces --------------------------------------------------------------------------

    def find_province(self, name: str) -> Province | None:
        """The province ``name`` means in any accepted form, else None."""
        return self._by_name.get(_name_key(name))

    def resolve_province(self, name: str) -> Province:
        """The province ``name`` means: 江西, 江西省, 赣, jiangxi … Raises UsageError if none."""
        province = self.find_province(name)
        if province is None:
            shown = name.strip()[:20]
            raise UsageError(
                f"unknown province “{shown}” / 未知的省份",
                hint="name one of the 31 mainland provinces by short name (江西), full name "
                     "(江西省), abbreviation (赣) or pinyin (jiangxi); `sheetgen rules` lists them")
        return province

    def province(self, key: str) -> Province:
        """The province with canonical ``key`` (e.g. ``Applicant.province``)."""
        return self._by_key[key]

    def province_of_abbreviation(self, abbreviation: str) -> Province | None:
        """The province an ICP abbreviation (赣, 蜀 or 川 …) stands for."""
        return self._by_abbreviation.get(abbreviation)

    def check_variant(self, name: str) -> str:
        """``name`` if it is ``auto`` or a variant of these rules (``--variant``); else a
        UsageError listing the choices."""
        if name != "auto" and name not in self.variants:
            raise UsageError(f"unknown variant {name!r}",
                             hint="use one of: auto, " + ", ".join(self.variants))
        return name

    # --- per-province rules -----------------------------------------------------------------

    def needs_fingerprint(self, province: Province, nature: Nature) -> bool:
        """Personal filings in a fingerprint province get the 按手印处 box (a disputed province
        only when its entry is enabled)."""
        if nature.unit:
            return False
        return province.key in self.fingerprint.provinces or any(
            d.enabled and d.province == province.key for d in self.fingerprint.disputed)

    def registrar_required(self, province: Province) -> bool:
        return province.key in self.registrar.provinces

    def sms_pilot(self, province: Province) -> PilotBatch | None:
        """The pilot batch ``province`` joined SMS verification in, if any."""
        return next((b for b in self.sms.pilot_batches if province.key in b.provinces), None)

    def sms_required(self, province: Province) -> bool:
        """Whether filings in ``province`` are verified by SMS under this edition."""
        return self.sms.mandatory_since is not None or self.sms_pilot(province) is not None

    def portal(self, province: Province) -> str | None:
        """Where the SMS code is entered: the province's own portal, else the national one."""
        return province.portal or self.sms.portal

    def no_seal_rule(self, province: Province) -> NoSealRule | None:
        """The province's rule for a unit without a seal, if it has one."""
        return next((r for r in self.seal.no_seal if province.key in r.provinces), None)

    def no_seal_text(self, province: Province) -> str:
        """What a unit without a seal writes where the seal goes, in ``province``."""
        rule = self.no_seal_rule(province)
        return (rule.no_seal_text if rule and rule.no_seal_text else None) or \
            self.seal.no_seal_text

    def with_verification(self, flow: str | None) -> Rules:
        """These rules with the provider's verification flow set to ``flow`` (``--verification``);
        ``None`` keeps the file's. The version changes with it, so caches keyed by it do too."""
        if flow is None or flow == self.verification.flow:
            return self
        if flow not in FLOWS:
            raise UsageError(f"unknown verification flow {flow!r} / 未知的核验方式",
                             hint="use one of: " + ", ".join(FLOWS))
        if flow == "electronic" and not self.electronic:
            raise UsageError(
                f"the {self.edition} rules edition has no electronic verification "
                f"/ {self.edition} 版规则没有电子化核验",
                hint="electronic verification started with MIIT's 2019 pilot; use the default "
                     f"edition ({DEFAULT_EDITION}) or --verification paper")
        changed = self.model_copy(update={
            "verification": self.verification.model_copy(update={"flow": flow})})
        changed._version = hashlib.sha256(f"{self._version}:{flow}".encode()).hexdigest()[:16]
        return changed

    def facts(self, province: Province) -> dict[str, Any]:
        """What the rules say about ``province``, JSON-ready (``sheetgen rules --json``)."""
        variant = self.variants[province.variant]
        sms = self.sms
        pilot = self.sms_pilot(province)
        no_seal = self.no_seal_rule(province)
        disputed = [d for d in self.fingerprint.disputed if d.province == province.key]
        return {
            "key": province.key, "name": province.name, "full_name": province.full_name,
            "abbreviations": list(province.abbreviations), "pinyin": province.pinyin,
            "aliases": list(province.aliases), "code": province.code,
            "edition": self.edition, "edition_title": self.title,
            "rules_as_of": self.as_of.isoformat(),
            "verification": {"flow": self.verification.flow,
                             "source": self.verification.source,
                             "as_of": self.verification.as_of.isoformat()},
            "variant": {"name": province.variant, "label": variant.label,
                        "templates": variant.templates.model_dump()},
            "fingerprint": {"personal": self.needs_fingerprint(province, Nature.PERSONAL),
                            "label": self.fingerprint.label,
                            "disputed": [d.model_dump(mode="json") for d in disputed]},
            "seal": {"label": self.seal.label, "official_seal": self.seal.official_seal,
                     "not_accepted": list(self.seal.not_accepted),
                     "no_seal_text": self.no_seal_text(province),
                     "no_seal_rule": (None if no_seal is None else
                                      {"action": no_seal.action, "text": no_seal.text,
                                       "source": no_seal.source,
                                       "as_of": no_seal.as_of.isoformat()})},
            "registrar_required": self.registrar_required(province),
            "commitment": variant.personal_commitment,
            "sms": {"required": self.sms_required(province),
                    "pilot": pilot is not None,
                    "pilot_since": pilot.since_text if pilot else None,
                    "mandatory_since": (sms.mandatory_since.isoformat()
                                        if sms.mandatory_since else None),
                    "notice": sms.notice,
                    "code_digits": sms.code_digits, "valid_hours": sms.valid_hours,
                    "attempts": sms.attempts,
                    "portal": self.portal(province),
                    "portal_code": province.portal_code,
                    "portal_note": province.portal_note,
                    "verify": sms.verify, "resend": sms.resend, "expired": sms.expired,
                    "same_person": sms.same_person, "recipient": sms.recipient,
                    "recipients": {kind: {"roles": list(r.roles),
                                          "changed_only": r.changed_only, "text": r.text}
                                   for kind, r in sms.recipients.items()},
                    "carriers": [c.model_dump() for c in sms.carriers],
                    "source": sms.source, "as_of": sms.as_of.isoformat()},
            "acceptance": [rule.facts() for rule in self.acceptance_for(province.key)],
            "source": province.source, "as_of": province.as_of.isoformat(),
            "origin": self.origin, "rules_version": self.version,
        }

    # --- certificates -----------------------------------------------------------------------

    def certificate(self, name: str) -> CertificateType | None:
        """The certificate type ``name`` means (its name, English code or an alias)."""
        return self._certificates.get(_name_key(name))

    def certificates_for(self, nature: Nature) -> tuple[CertificateType, ...]:
        return tuple(c for c in self.certificates if c.fits(nature))

    # --- acceptance rules (acceptance.py) ---------------------------------------------------

    def acceptance_for(self, key: str) -> tuple[AcceptanceRule, ...]:
        """The acceptance rules that apply in the province with canonical ``key``."""
        return self._acceptance.get(key, ())

    def with_acceptance(self, rules: Iterable[AcceptanceRule]) -> Rules:
        """These rules with other acceptance rules (the benchmark turns every rule on
        everywhere, or all off); the version changes with them."""
        changed = self.model_copy(update={"acceptance": tuple(rules)})
        changed._acceptance = {}
        changed.model_post_init(None)
        listed = "".join(r.model_dump_json() for r in changed.acceptance)
        changed._version = hashlib.sha256(f"{self._version}:{listed}".encode()).hexdigest()[:16]
        return changed

    # --- cover lines ------------------------------------------------------------------------

    @staticmethod
    def select(items: Sequence[_C], flags: Iterable[str]) -> tuple[_C, ...]:
        """The items whose conditions all hold for ``flags``, in file order."""
        held = frozenset(flags)
        return tuple(item for item in items if item.applies(held))


# --- cross-reference checks ----------------------------------------------------------------

def _consistency(rules: Rules) -> list[Problem]:
    """Everything the TOML shape cannot say; each problem with the place it is about."""
    problems: list[Problem] = []

    def bad(path: str, message: str) -> None:
        problems.append(Problem(path, "rules_inconsistent", message))

    if len(rules.provinces) != PROVINCE_COUNT:
        bad("provinces", f"expected the {PROVINCE_COUNT} mainland provinces, found "
                         f"{len(rules.provinces)}")
    seen: dict[str, str] = {}
    for i, province in enumerate(rules.provinces):
        where = f"provinces[{i}]"
        keys = [("key", province.key), ("code", "code:" + province.code)]
        keys += [("name", _name_key(n)) for n in province.names]
        for what, value in keys:
            other = seen.setdefault(value, province.key)
            if other != province.key:
                bad(where, f"{province.key}: {what} {value.removeprefix('code:')!r} is also "
                           f"used by {other}")
        if province.variant not in rules.variants:
            bad(f"{where}.variant", f"{province.key}: unknown variant {province.variant!r}")
        if province.portal is not None and not province.portal.startswith(
                f"{province.portal_code}."):
            bad(f"{where}.portal", f"{province.key}: portal does not start with its portal_code")
        if rules.portal(province) is None and province.portal_note is None:
            bad(f"{where}.portal", f"{province.key}: no SMS portal (neither its own nor "
                                   "[sms].portal); a missing portal must carry a portal_note")
        sharing = [p for p in rules.provinces
                   if province.portal_code and p.portal_code == province.portal_code]
        if len(sharing) > 1 and province.portal_note is None:
            bad(f"{where}.portal_note", f"{province.key}: portal_code {province.portal_code!r} "
                "is shared with " + ", ".join(p.key for p in sharing if p is not province)
                + "; a known conflict must carry a portal_note")
    if rules.edition not in EDITIONS:
        bad("edition", f"unknown rules edition {rules.edition!r}; sheetgen knows the editions "
                       + ", ".join(EDITIONS))
    lists: list[tuple[str, Sequence[str]]] = [
        ("fingerprint.provinces", rules.fingerprint.provinces),
        ("fingerprint.disputed", [d.province for d in rules.fingerprint.disputed]),
        ("registrar.provinces", rules.registrar.provinces)]
    lists += [(f"sms.pilot_batches[{i}].provinces", b.provinces)
              for i, b in enumerate(rules.sms.pilot_batches)]
    lists += [(f"seal.no_seal[{i}].provinces", r.provinces)
              for i, r in enumerate(rules.seal.no_seal)]
    for section, listed in lists:
        for key in listed:
            if key not in {p.key for p in rules.provinces}:
                bad(section, f"unknown province key {key!r}")
    for kind in ("new_filing", "new_website", "new_access", "change"):
        if kind not in rules.sms.recipients:
            bad("sms.recipients", f"no entry for the filing type {kind}")
    piloted = [k for b in rules.sms.pilot_batches for k in b.provinces]
    for key in sorted({k for k in piloted if piloted.count(k) > 1}):
        bad("sms.pilot_batches", f"{key} is in more than one pilot batch")
    for i, rule in enumerate(rules.seal.no_seal):
        if (rule.action == "remark") != (rule.no_seal_text is not None):
            bad(f"seal.no_seal[{i}]", "a remark rule gives its no_seal_text; other rules do not")
    if rules.verification.flow == "electronic" and not rules.electronic:
        bad("verification.flow", "the electronic flow needs the cover's [[electronic]] lines")
    if not rules.provinces or not any(p.variant == "public" for p in rules.provinces):
        bad("provinces", "no province uses the public variant")
    cert_names: dict[str, str] = {}
    for i, cert in enumerate(rules.certificates):
        for name in (cert.name, cert.code, *cert.aliases):
            other = cert_names.setdefault(_name_key(name), cert.name)
            if other != cert.name:
                bad(f"certificates[{i}]", f"{name!r} also names {other}")
        if cert.holder == "person" and cert.natures:
            bad(f"certificates[{i}].natures", f"{cert.name}: a person's certificate lists natures")
        if Nature.PERSONAL in cert.natures:
            bad(f"certificates[{i}].natures", f"{cert.name}: lists personal; person "
                                              "certificates have holder = \"person\"")
    for nature in Nature:
        if not rules.certificates_for(nature):
            bad("certificates", f"no certificate type fits the nature {nature.code}")
    problems += _acceptance.consistency(rules.acceptance, {p.key for p in rules.provinces})
    return problems


# --- loading --------------------------------------------------------------------------------

def parse_rules(data: bytes, *, origin: str) -> Rules:
    """Rules from the bytes of a TOML file; ``origin`` names it in errors."""
    if len(data) > MAX_RULES_BYTES:
        raise RulesError(f"rules file {origin} is larger than {MAX_RULES_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RulesError(f"rules file {origin} is not UTF-8 (byte {exc.start})") from None
    too_deep = _too_deep(text)
    if too_deep is not None:
        raise _bounds_error(origin, *too_deep, "rules_too_deep",
                            f"nested more than {MAX_RULES_DEPTH} levels deep")
    import tomllib  # only when a file is parsed: the built-in editions come parsed

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"rules file {origin}: TOML syntax error: {exc}") from None
    except (ValueError, RecursionError, MemoryError):
        # Python refuses to convert integers of over 4300 digits (ValueError); the depth
        # check above keeps the parser's recursion bounded, RecursionError is the last guard.
        line, key = _long_number(text)
        raise _bounds_error(origin, line, key, "rules_number_too_long",
                            "a number too long to read") from None
    try:
        rules = Rules.model_validate(raw)
    except PydanticValidationError as exc:
        problems = [Problem(json_path(err["loc"]), "rules_invalid", err["msg"])
                    for err in exc.errors(include_url=False, include_input=False)]
        raise _located(origin, text, "invalid", problems) from None
    problems = _consistency(rules)
    if problems:
        raise _located(origin, text, "inconsistent", problems)
    rules._origin = origin
    rules._version = hashlib.sha256(data).hexdigest()[:16]
    return rules


def _located(origin: str, text: str, what: str, problems: list[Problem]) -> RulesError:
    """The RulesError of ``problems``, each naming the line of its key in the file where it
    can be found (``line 412: …``); the message names the first one's line and key."""
    lines = [_line_of(text, p.path) for p in problems]
    problems = [Problem(p.path, p.code, f"line {line}: {p.message}" if line else p.message)
                for p, line in zip(problems, lines, strict=True)]
    first = next(((line, p.path) for line, p in zip(lines, problems, strict=True) if line),
                 None)
    where = f"; first at line {first[0]}, key {first[1]}" if first else ""
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return RulesError(f"rules file {origin} is {what} ({count}{where})", problems=problems,
                      hint=_RULES_HINT)


def _line_of(text: str, path: str) -> int | None:
    """The line of ``path`` (``acceptance[3].kind``, ``sms.valid_hours``) in the TOML
    ``text``: the key's own line, else its table's header; None when not found (a key
    written as an inline table or a dotted key is not looked for)."""
    parts = re.findall(r"([A-Za-z0-9_-]+)(?:\[(\d+)\])?", path)
    if not parts:
        return None
    lines = text.splitlines()
    table, index = parts[0]
    header = None
    start = 0
    if index:
        pattern = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]")
        seen = -1
        for number, line in enumerate(lines):
            if pattern.match(line):
                seen += 1
                if seen == int(index):
                    header, start = number + 1, number + 1
                    break
        if header is None:
            return None
        keys = parts[1:]
    else:
        pattern = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]")
        found = next((n for n, line in enumerate(lines) if pattern.match(line)), None)
        if found is None:  # a top-level key
            keys, start = list(parts), 0
        else:
            header, start, keys = found + 1, found + 1, parts[1:]
    if not keys:
        return header
    key = keys[0][0]
    key_pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for number in range(start, len(lines)):
        if number > start and lines[number].lstrip().startswith("[") and \
                not key_pattern.match(lines[number]):
            break
        if key_pattern.match(lines[number]):
            return number + 1
    return header


def _bounds_error(origin: str, line: int, key: str, code: str, what: str) -> RulesError:
    # The key as a path (``sms.valid_hours``), quoted where it is not plain, and cut short.
    path = json_path(part.strip().strip("\"'") for part in key.split(".")[:8] if part.strip())
    shown = printable(key, 60) if key else "(top level)"
    return RulesError(f"rules file {origin} line {line}: key {shown}: {what}",
                      problems=[Problem(path, code, f"line {line}: {what}")], hint=_RULES_HINT)


def _key(table: str, key: str) -> str:
    return ".".join(part for part in (table, key) if part)[:200]


def _too_deep(text: str) -> tuple[int, str] | None:
    """(line, key) where arrays and inline tables nest deeper than MAX_RULES_DEPTH, or where a
    table header or dotted key has more parts than that; None when the nesting is fine.

    A lexical scan, not a parser: it skips strings and comments and counts brackets, which is
    all a depth bound needs, and it runs before tomllib so that the parser never recurses
    deeply. Syntax errors are tomllib's to report.
    """
    depth = 0
    line = 1
    key = ""
    table = ""
    start = 0  # where the current line's key begins
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            if depth == 0:
                start = i + 1
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "\"'":
            quote = text[i:i + 3] if text[i:i + 3] in ('"""', "'''") else c
            j = i + len(quote)
            while j < n:
                if text[j] == "\\" and quote[0] == '"':
                    j += 2
                    continue
                if text.startswith(quote, j):
                    break
                j += 1
            line += text.count("\n", i, j)
            i = j + len(quote)
            continue
        elif c == "[" and depth == 0 and not text[start:i].strip():  # a table header
            end = text.find("\n", i)
            end = n if end < 0 else end
            table = text[i:end].strip().strip("[]").strip()
            if table.count(".") >= MAX_RULES_DEPTH:
                return line, _key(table, "")
            key = ""
            i = end
            continue
        elif c == "=" and depth == 0:
            key = text[start:i].strip()
            if _key(table, key).count(".") >= MAX_RULES_DEPTH:
                return line, _key(table, key)
        elif c in "[{":
            depth += 1
            if depth > MAX_RULES_DEPTH:
                return line, _key(table, key)
        elif c in "]}":
            depth = max(depth - 1, 0)
            if depth == 0:
                start = i + 1
        i += 1
    return None


def _long_number(text: str) -> tuple[int, str]:
    """(line, key) of the first run of more than 4000 digits, for the error message."""
    found = re.search(r"[0-9_]{4000,}", text)
    at = found.start() if found else 0
    line = text.count("\n", 0, at) + 1
    key, table = "", ""
    for number, content in enumerate(text.splitlines()[:line], start=1):
        stripped = content.strip()
        if stripped.startswith("["):
            table, key = stripped.strip("[]").strip(), ""
        elif "=" in stripped and not stripped.startswith("#"):
            key = stripped.partition("=")[0].strip()
        if number == line:
            break
    return line, _key(table, key)


_RULES_HINT = "compare with the built-in file: python -c 'import sheetgen.resources as r; " \
              "print(r.rules_file())'"


@cache
def _builtin(edition: str) -> Rules:
    data = rules_file(EDITIONS[edition]).read_bytes()
    return (_precompiled(edition, data)
            or parse_rules(data, origin=_builtin_origin(edition)))


def precompiled_name(edition: str, data: bytes) -> str:
    """The file name of the parsed copy of edition ``edition`` whose TOML is ``data``: it
    changes with the file, with the code of the classes it holds (:func:`precompiled_sources`)
    and with pydantic."""
    import pydantic

    sha = hashlib.sha256(data)
    for path in precompiled_sources():
        sha.update(f"\0{path.name}\0".encode())
        sha.update(path.read_bytes())
    sha.update(f"\0{pydantic.VERSION}\0{sys.version_info[:2]}".encode())
    return f"{edition}-{sha.hexdigest()[:24]}.pickle"


def precompiled_sources() -> list[Path]:
    """The modules whose classes a parsed copy pickles (by module path and name): every module
    of this package, so a model moved from one to another, or edited, renames the copy and a
    stale one is never read, and :mod:`sheetgen.vocabulary` (the natures)."""
    package = Path(__file__).resolve().parent
    return [*sorted(package.glob("*.py")), package.parent / "vocabulary.py"]


def precompiled_dir() -> Path | None:
    """Where the package keeps its parsed built-in editions; None when turned off
    (``SHEETGEN_PRECOMPILED=off``, as for the precompiled layouts)."""
    if os.environ.get("SHEETGEN_PRECOMPILED", "").lower() in ("0", "off", "no"):
        return None
    return Path(__file__).resolve().parents[1] / "_precompiled" / "rules"


def _precompiled(edition: str, data: bytes) -> Rules | None:
    """The shipped parsed copy of a built-in edition, when there is one for exactly ``data``."""
    directory = precompiled_dir()
    if directory is None:
        return None
    try:
        rules = pickle.loads((directory / precompiled_name(edition, data)).read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError,
            TypeError, ValueError):
        return None
    if not isinstance(rules, Rules) or rules.version != hashlib.sha256(data).hexdigest()[:16]:
        return None
    return rules


def _builtin_origin(edition: str) -> str:
    return "built-in" if edition == DEFAULT_EDITION else f"built-in {edition}"


def check_edition(edition: str) -> str:
    """``edition`` if sheetgen has it built in (``--rules-edition``); else a UsageError."""
    if edition not in EDITIONS:
        shown = edition.strip()[:20]
        raise UsageError(f"unknown rules edition “{shown}” / 未知的规则版本",
                         hint="use one of: " + ", ".join(EDITIONS)
                              + f" (default {DEFAULT_EDITION}); `sheetgen rules --edition E` "
                                "shows one")
    return edition


def load_rules(path: Path | None = None, *, edition: str | None = None,
               verification: str | None = None) -> Rules:
    """The rules in use: a built-in edition (parsed once per process; the default edition
    unless ``edition`` names another), or those of ``path`` (``--rules FILE``), which must
    then be of ``edition`` when one is given. ``verification`` overrides the file's flow."""
    if edition is not None:
        check_edition(edition)
    if path is None:
        rules = _builtin(edition or DEFAULT_EDITION)
    else:
        try:
            mode = path.stat().st_mode
        except OSError:
            mode = None  # read_file says why
        if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            # A FIFO would block the read forever, a device never end.
            raise RulesError(f"rules file {path}: not a regular file")
        rules = parse_rules(read_file(path, limit=MAX_RULES_BYTES, what="rules file",
                                      error=RulesError), origin=str(path))
    return choose(rules, edition=edition, verification=verification)


def choose(rules: Rules, *, edition: str | None = None,
           verification: str | None = None) -> Rules:
    """``rules`` held to the ``--rules-edition`` asked for, with ``--verification`` applied."""
    if edition is not None and rules.edition != check_edition(edition):
        raise UsageError(
            f"rules file {rules.origin} is the {rules.edition} edition, not {edition} "
            "/ 规则文件的版本不符",
            hint="leave out --rules-edition, or give a rules file of that edition")
    return rules.with_verification(verification)
