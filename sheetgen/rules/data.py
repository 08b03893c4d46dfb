"""The rules file's data, entry by entry: the pydantic models of its tables (design.md §4).

Each model is one table or array of tables of the TOML file (:class:`Province`,
:class:`Variant`, :class:`Fingerprint`, :class:`Seal`, :class:`Sms`, :class:`Document`,
:class:`CertificateType` …): unknown keys are errors, texts are non-empty, every entry says
where its facts come from (``source``) and when they held (``as_of``). The file as a whole,
with its lookups, is :class:`~sheetgen.rules.ruleset.Rules`.

The validators are built on first use (``defer_build``): a process that reads the shipped
parsed rules never builds them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from sheetgen.rules.flags import FilingTypeCode, Flag, Flow
from sheetgen.vocabulary import Nature

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Source = Annotated[str, StringConstraints(pattern=r"^(seed|doc|recon): *\S")]
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]


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


class DomainCertificate(_Entry):
    """The provinces whose administration asks for the domain certificate (域名证书); elsewhere
    the materials list a screenshot of the domain's real-name record (the ``domain_certificate``
    flag, false). ``note`` says what the sources do and do not tell."""

    provinces: tuple[Key, ...]
    note: Text | None = None


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


class Alternative(_Entry):
    """A value another source gives for an SMS fact (``field``) than the one the file uses:
    kept as data with its source; ``note`` says which one is used and why."""

    field: Literal["notice", "mandatory_since", "attempts", "valid_hours"]
    value: Text
    note: Text


class Sms(_Entry):
    """SMS verification facts: the legal basis (``notice``), since when, how to verify."""

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
    # Filings of a kind sheetgen does not print (变更接入, 注销网站, 取消接入 …) and who gets a
    # code for them: the cover's line beside the recipients of this filing type.
    no_code: Text | None = None
    alternatives: tuple[Alternative, ...] = ()  # what other sources say (kept, not used)
    virtual_operators: Text | None = None
    troubleshooting: tuple[Text, ...] = Field(min_length=1)
    carriers: tuple[Carrier, ...] = Field(min_length=1)


class Verification(_Entry):
    """The provider's verification flow by default: the seed's ``paper`` flow (signed sheet,
    backdrop photo) or ``electronic`` (face and ID in the provider's app)."""

    flow: Flow


class Conditional(_Entry):
    """A line of the cover that applies when every flag of ``when`` holds (empty: always)
    and none of ``unless`` does."""

    text: Text
    when: tuple[Flag, ...] = ()
    unless: tuple[Flag, ...] = ()

    def applies(self, flags: frozenset[str]) -> bool:
        return all(flag in flags for flag in self.when) and \
            not any(flag in flags for flag in self.unless)


class DocumentCase(_Entry):
    """One case of a document's condition: in ``provinces`` (empty: every one the document
    applies in), when every flag of ``when`` holds and, with ``min_domains``, when the filing
    lists at least that many domains (the website plan's thresholds, per host kind)."""

    provinces: tuple[Key, ...] = ()
    when: tuple[Flag, ...] = ()
    min_domains: int | None = Field(None, ge=1)
    note: Text | None = None

    def applies(self, flags: frozenset[str], province: str, domains: int) -> bool:
        return ((not self.provinces or province in self.provinces)
                and all(flag in flags for flag in self.when)
                and (self.min_domains is None or domains >= self.min_domains))


class DocumentDispute(_Entry):
    """What another source says and the table does not use (``used = false``), kept as data:
    JD Cloud lists 江苏 for the 网站负责人授权书, 江苏's own notice asks the 法人授权书."""

    provinces: tuple[Key, ...] = Field(min_length=1)
    note: Text
    used: bool = False


class Document(_Data):
    """A document kind in the rules: ``[documents.<kind>]`` (:mod:`sheetgen.documents.kinds`).

    The documents table: which applicant gets the document (``provinces``, empty: every one;
    ``when``: flags that must all hold; ``cases``: when given, at least one must hold too),
    who signs it (``signs``, ``signs_personal`` for a personal filer), the unit's ``seal``,
    a ``fingerprint`` box (where the province asks personal fingerprints), how many
    ``copies`` (originals), and whose wording it is: ``project`` (sheetgen's own text, printed
    by a registered kind) or ``province`` (the province prescribes it; sheetgen never invents
    the text: the cover names it and ``template_from`` says where its template comes from).
    ``label`` is its Chinese name on the cover and in ``sheetgen rules``; ``disputed`` keeps
    what other sources say. Every entry of the built-in table has ``source`` and ``as_of``.

    A kind the table does not name prints by its registry entry's default (the cover and the
    sheet do). With ``title`` and ``template`` the entry also *defines* a kind, no code
    needed: a one-per-applicant form (a provider's letter) printed from ``<template>.html``
    (and ``.docx``) of the template set, with the context of
    :func:`~sheetgen.documents.context.document_context`; it replaces a registered kind of
    the same name. With a ``title`` alone the kind prints only from a provider's template,
    ``documents/<kind>.html`` (and ``.docx``) of its template set. A separate table, so a
    provider's rules file without it still prints what it always did.
    """

    when: tuple[Flag, ...] = ()
    provinces: tuple[Key, ...] = ()
    cases: tuple[DocumentCase, ...] = ()
    label: Text | None = None          # its Chinese name (cover, sheetgen rules)
    signs: Text | None = None          # who signs it (a unit's, or everyone's)
    signs_personal: Text | None = None  # who signs it for a personal filer, when different
    seal: bool = False                 # the unit's seal
    fingerprint: bool = False          # a fingerprint box where flags.fingerprint holds
    copies: int = Field(default=1, ge=1, le=10)  # originals asked for
    wording: Literal["project", "province"] | None = None
    template_from: Text | None = None  # province wording: where its template comes from
    note: Text | None = None
    disputed: tuple[DocumentDispute, ...] = ()
    source: Source | None = None
    as_of: date | None = None
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
        # A title alone names a document sheetgen prints only from a provider's
        # ``documents/<kind>`` template (a province's prescribed text); a template needs one.
        if self.template is not None and self.title is None:
            raise ValueError("a document kind the rules define needs both title and template")
        if (self.wording == "province") != (self.template_from is not None):
            raise ValueError("a document of the province's wording says where its template "
                             "comes from (template_from), and only such a document does")
        return self

    def applies(self, flags: frozenset[str], province: str = "", domains: int = 0) -> bool:
        """Whether an applicant in ``province`` with ``flags`` and ``domains`` domains gets
        it (``province`` empty: the provinces are not asked)."""
        return ((not province or not self.provinces or province in self.provinces)
                and all(flag in flags for flag in self.when)
                and (not self.cases or any(c.applies(flags, province, domains)
                                           for c in self.cases)))

    def in_province(self, province: str) -> bool:
        """Whether the table names ``province`` for it (at all, in some case)."""
        if self.provinces and province not in self.provinces:
            return False
        return not self.cases or any(not c.provinces or province in c.provinces
                                     for c in self.cases)

    @property
    def display(self) -> str | None:
        """Its Chinese name: the ``label`` of the documents table, else the ``title`` of a
        kind the rules define (a provider's table may give either)."""
        return self.label or self.title

    def facts(self, name: str) -> dict[str, Any]:
        """The entry as JSON (``sheetgen rules PROVINCE --json``)."""
        return {"kind": name, **self.model_dump(
            mode="json", exclude_defaults=True,
            exclude={"title", "template", "order", "suffix", "max_pages", "code", "originals",
                     "boxes"})}


class Material(Conditional):
    """One ☐ item of the cover's materials checklist."""

    key: Key
    note: Text | None = None


class Backdrop(_Entry):
    """A backdrop-photo (幕布) rule. The rules are each provider's own: ``provider`` names whose
    rule a line is (the cover says so; none: what every source says), ``provinces`` limits it
    to those provinces (empty: every province)."""

    text: Text
    provider: Text | None = None
    provinces: tuple[Key, ...] = ()

    def applies(self, province: str) -> bool:
        return not self.provinces or province in self.provinces

    @property
    def line(self) -> str:
        """The cover's line: the text, after whose rule it is."""
        return f"{self.provider}：{self.text}" if self.provider else self.text


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
