"""The rules data: provinces, variants, fingerprint, seal, SMS, materials, signing (design.md §4).

Everything in domain.md §3–§5 that changes with regulation lives in one TOML file shipped in
the package (``sheetgen/rules.toml``, located by :func:`sheetgen.resources.rules_file`); a user
replaces it whole with ``--rules FILE``. This module owns reading and validating that file and
answering questions about it (which province a name means, whether a province asks for a
fingerprint, which materials a case needs). It never decides anything by a province's name:
every such fact is data, so a province can be added to a rule without code.

Validation on load is strict and complete: the TOML shape (unknown keys are errors, texts are
non-empty, every entry has ``source`` and ``as_of``), then the cross-references (31 provinces,
unique names in every form, each with a portal, lists that name existing provinces, every unit
nature with a certificate). Any failure is a :class:`~sheetgen.errors.RulesError` naming the file
and each problem; TOML syntax errors keep their line and column.

Importing this module stays cheap (pydantic and the standard library only): ``sheetgen rules``
must start fast.
"""

from __future__ import annotations

import hashlib
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints
from pydantic import ValidationError as PydanticValidationError

from sheetgen.errors import Problem, RulesError, UsageError
from sheetgen.resources import rules_file
from sheetgen.sources.json import json_path, read_file
from sheetgen.vocabulary import Nature

PROVINCE_COUNT = 31

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Source = Annotated[str, StringConstraints(pattern=r"^(seed|doc|recon): *\S")]
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Flag = Literal["personal", "unit", "seal", "no_seal", "fingerprint", "commitment", "registrar",
               "special_site", "new_filing", "new_website", "new_access", "change"]
#: The conditions that ``when`` lists may name; :mod:`~.plan` computes them per filing.
FLAGS: tuple[str, ...] = get_args(Flag)


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    portal_code: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
    portal: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}\.beian\.miit\.gov\.cn/\S+$")]
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


class Templates(_Data):
    unit: Text
    personal: Text


class Variant(_Entry):
    """A check sheet variant and its templates (stems relative to ``templates/``)."""

    label: Text
    templates: Templates
    personal_commitment: bool


class Fingerprint(_Entry):
    provinces: tuple[Key, ...]
    label: Text
    note: Text | None = None


class Registrar(_Entry):
    provinces: tuple[Key, ...]


class Seal(_Entry):
    label: Text
    official_seal: Text
    not_accepted: tuple[Text, ...]
    no_seal_text: Text


class Carrier(_Data):
    name: Text
    number: Annotated[str, StringConstraints(pattern=r"^[0-9]{5,20}$")]


class Sms(_Entry):
    """SMS verification facts (工信部信管函[2016]485号)."""

    notice: Text
    pilot_provinces: tuple[Key, ...]
    pilot_since: datetime
    mandatory_since: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}$")]
    code_digits: int = Field(ge=4, le=8)
    valid_hours: int = Field(ge=1)
    arrival: Text
    resend: Text
    verify: Text
    expired: Text
    same_person: Text
    recipient: Text
    virtual_operators: Text
    troubleshooting: tuple[Text, ...] = Field(min_length=1)
    carriers: tuple[Carrier, ...] = Field(min_length=1)


class Conditional(_Entry):
    """A line of the cover that applies when every flag of ``when`` holds (empty: always)."""

    text: Text
    when: tuple[Flag, ...] = ()

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

    schema_version: Literal[1]
    as_of: date
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
    commitment: Commitment
    certificates: tuple[CertificateType, ...] = Field(min_length=1)

    _origin: str = PrivateAttr(default="")
    _version: str = PrivateAttr(default="")
    _by_name: dict[str, Province] = PrivateAttr(default_factory=dict)
    _by_key: dict[str, Province] = PrivateAttr(default_factory=dict)
    _by_abbreviation: dict[str, Province] = PrivateAttr(default_factory=dict)
    _certificates: dict[str, CertificateType] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
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
        """Personal filings in a fingerprint province get the 按手印处 box."""
        return not nature.unit and province.key in self.fingerprint.provinces

    def registrar_required(self, province: Province) -> bool:
        return province.key in self.registrar.provinces

    def sms_pilot(self, province: Province) -> bool:
        return province.key in self.sms.pilot_provinces

    def facts(self, province: Province) -> dict[str, Any]:
        """What the rules say about ``province``, JSON-ready (``sheetgen rules --json``)."""
        variant = self.variants[province.variant]
        sms = self.sms
        return {
            "key": province.key, "name": province.name, "full_name": province.full_name,
            "abbreviations": list(province.abbreviations), "pinyin": province.pinyin,
            "aliases": list(province.aliases), "code": province.code,
            "variant": {"name": province.variant, "label": variant.label,
                        "templates": variant.templates.model_dump()},
            "fingerprint": {"personal": self.needs_fingerprint(province, Nature.PERSONAL),
                            "label": self.fingerprint.label},
            "seal": {"label": self.seal.label, "official_seal": self.seal.official_seal,
                     "not_accepted": list(self.seal.not_accepted),
                     "no_seal_text": self.seal.no_seal_text},
            "registrar_required": self.registrar_required(province),
            "commitment": variant.personal_commitment,
            "sms": {"pilot": self.sms_pilot(province),
                    "pilot_since": (sms.pilot_since.strftime("%Y-%m-%d %H:%M")
                                    if self.sms_pilot(province) else None),
                    "mandatory_since": sms.mandatory_since, "notice": sms.notice,
                    "code_digits": sms.code_digits, "valid_hours": sms.valid_hours,
                    "portal": province.portal, "portal_code": province.portal_code,
                    "portal_note": province.portal_note,
                    "carriers": [c.model_dump() for c in sms.carriers]},
            "source": province.source, "as_of": province.as_of.isoformat(),
            "origin": self.origin, "rules_version": self.version,
        }

    # --- certificates -----------------------------------------------------------------------

    def certificate(self, name: str) -> CertificateType | None:
        """The certificate type ``name`` means (its name, English code or an alias)."""
        return self._certificates.get(_name_key(name))

    def certificates_for(self, nature: Nature) -> tuple[CertificateType, ...]:
        return tuple(c for c in self.certificates if c.fits(nature))

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
        if not province.portal.startswith(province.portal_code + "."):
            bad(f"{where}.portal", f"{province.key}: portal does not start with its portal_code")
        sharing = [p for p in rules.provinces if p.portal_code == province.portal_code]
        if len(sharing) > 1 and province.portal_note is None:
            bad(f"{where}.portal_note", f"{province.key}: portal_code {province.portal_code!r} "
                "is shared with " + ", ".join(p.key for p in sharing if p is not province)
                + "; a known conflict must carry a portal_note")
    for section, listed in (("fingerprint.provinces", rules.fingerprint.provinces),
                            ("registrar.provinces", rules.registrar.provinces),
                            ("sms.pilot_provinces", rules.sms.pilot_provinces)):
        for key in listed:
            if key not in {p.key for p in rules.provinces}:
                bad(section, f"unknown province key {key!r}")
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
    return problems


# --- loading --------------------------------------------------------------------------------

def parse_rules(data: bytes, *, origin: str) -> Rules:
    """Rules from the bytes of a TOML file; ``origin`` names it in errors."""
    try:
        raw = tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise RulesError(f"rules file {origin} is not UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"rules file {origin}: TOML syntax error: {exc}") from None
    try:
        rules = Rules.model_validate(raw)
    except PydanticValidationError as exc:
        problems = [Problem(json_path(err["loc"]), "rules_invalid", err["msg"])
                    for err in exc.errors(include_url=False, include_input=False)]
        raise RulesError(f"rules file {origin} is invalid ({len(problems)} problems)",
                         problems=problems, hint=_RULES_HINT) from None
    problems = _consistency(rules)
    if problems:
        raise RulesError(f"rules file {origin} is inconsistent ({len(problems)} problems)",
                         problems=problems, hint=_RULES_HINT)
    rules._origin = origin
    rules._version = hashlib.sha256(data).hexdigest()[:16]
    return rules


_RULES_HINT = "compare with the built-in file: python -c 'import sheetgen.resources as r; " \
              "print(r.rules_file())'"


@cache
def _builtin() -> Rules:
    return parse_rules(rules_file().read_bytes(), origin="built-in")


def load_rules(path: Path | None = None) -> Rules:
    """The built-in rules (parsed once per process), or those of ``path`` (``--rules FILE``)."""
    if path is None:
        return _builtin()
    return parse_rules(read_file(path, what="rules file", error=RulesError), origin=str(path))
