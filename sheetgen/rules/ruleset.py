"""The validated rules as one object, :class:`Rules`, and the questions code asks of them.

Which province a name means (in any of its forms), whether a province asks for a fingerprint
or a registrar, its SMS portal and pilot batch, what a unit without a seal writes, which
certificate types fit a nature, which acceptance rules apply, which cover lines hold for a
filing's flags. Nothing here decides by a province's name: every such fact is data.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, PrivateAttr, StringConstraints

from sheetgen.errors import UsageError
from sheetgen.rules.acceptance import AcceptanceRule
from sheetgen.rules.data import (
    Backdrop,
    CertificateType,
    Commitment,
    Conditional,
    Document,
    DomainCertificate,
    Fingerprint,
    Key,
    Material,
    NoSealRule,
    PilotBatch,
    Province,
    Registrar,
    Seal,
    Sms,
    Text,
    Variant,
    Verification,
    _Data,
)
from sheetgen.rules.editions import DEFAULT_EDITION
from sheetgen.rules.flags import FLOWS
from sheetgen.vocabulary import Nature

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
    domain_certificate: DomainCertificate | None = None  # none: the certificate everywhere
    seal: Seal
    sms: Sms
    materials: tuple[Material, ...] = Field(min_length=1)
    signing: tuple[Conditional, ...] = Field(min_length=1)
    backdrop: tuple[Backdrop, ...] = Field(min_length=1)
    notices: tuple[Conditional, ...] = ()
    electronic: tuple[Conditional, ...] = ()  # the cover's lines for the electronic flow
    commitment: Commitment
    certificates: tuple[CertificateType, ...] = Field(min_length=1)
    # (a pydantic field, whose default pydantic copies; ruff cannot see _Data is a model here)
    documents: dict[Key, Document] = {}  # noqa: RUF012 -- when each kind prints (documents.kinds)
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
                rule for rule in self.acceptance if self._rule_applies(rule, province.key))
        for province in self.provinces:
            self._by_key[province.key] = province
            for name in province.names:
                self._by_name.setdefault(_name_key(name), province)
            for abbreviation in province.abbreviations:
                self._by_abbreviation.setdefault(abbreviation, province)
        for cert in self.certificates:
            for name in (cert.name, cert.code, *cert.aliases):
                self._certificates.setdefault(_name_key(name), cert)

    def _rule_applies(self, rule: AcceptanceRule, key: str) -> bool:
        """Whether an acceptance rule applies in ``key``: a rule about a document
        (``document``, legal_representative_letter) where the documents table names the
        province, others by their own ``provinces``."""
        if rule.document is not None:
            document = self.documents.get(rule.document)
            return document is not None and document.in_province(key)
        return rule.applies(key)

    def letter(self, rule: AcceptanceRule) -> str:
        """The name of the document an acceptance rule is about (its ``document``'s label)."""
        document = self.documents.get(rule.document or "")
        return (document.label if document is not None and document.label else None) \
            or rule.letter or rule.document or ""

    def documents_for(self, province: Province) -> list[tuple[str, Document]]:
        """The documents table's entries that name ``province`` (with a label), or that a
        disputing source names for it, in print order (``order``, then file order)."""
        found = [(name, d) for name, d in self.documents.items()
                 if d.label is not None and (d.in_province(province.key) or any(
                     province.key in disputed.provinces for disputed in d.disputed))]
        return sorted(found, key=lambda item: item[1].order)

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

    def domain_certificate_required(self, province: Province) -> bool:
        """Whether ``province`` asks for the domain certificate itself (without a
        ``[domain_certificate]`` table, as the seed: every province)."""
        listed = self.domain_certificate
        return listed is None or province.key in listed.provinces

    def backdrop_for(self, province: Province) -> tuple[Backdrop, ...]:
        """The backdrop-photo rules that apply in ``province``, in file order."""
        return tuple(item for item in self.backdrop if item.applies(province.key))

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
                hint="providers moved to electronic verification from 2019 on (Aliyun "
                     f"2019-07-29); use the default edition ({DEFAULT_EDITION}) or "
                     "--verification paper")
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
            "domain_certificate_required": self.domain_certificate_required(province),
            "backdrop": [item.model_dump(mode="json", exclude_defaults=True)
                         for item in self.backdrop_for(province)],
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
                    "no_code": sms.no_code,
                    "alternatives": [a.model_dump(mode="json") for a in sms.alternatives],
                    "carriers": [c.model_dump() for c in sms.carriers],
                    "source": sms.source, "as_of": sms.as_of.isoformat()},
            "acceptance": [rule.facts() | ({"letter": self.letter(rule)} if rule.document
                                           else {})
                           for rule in self.acceptance_for(province.key)],
            "documents": [d.facts(name) | {"applies": d.in_province(province.key)}
                          for name, d in self.documents_for(province)],
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
