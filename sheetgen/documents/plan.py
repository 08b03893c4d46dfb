"""The filing plan: what to print for a valid applicant under the rules (design.md §1, §4).

:func:`make_plan` is where the rules data meets one applicant. It decides, once, everything the
renderer and the cover need: the variant and template of each website's sheet, its boxes
(fingerprint, seal or the no-seal text, landline row, commitment space), the materials and
signing instructions for this case, the backdrop rules, the SMS facts for the province and how
many codes to expect. Templates and renderers read the plan; none of them tests a province's
name or re-derives a rule.

The cover's lines are selected by flags (``personal``, ``unit``, ``seal``, ``no_seal``,
``fingerprint``, ``commitment``, ``registrar``, ``special_site`` and the filing type code), the
same vocabulary the rules file's ``when`` lists use (:data:`sheetgen.rules.FLAGS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sheetgen.model import Applicant, Website
from sheetgen.rules import Material, Province, Rules

__all__ = ["FilingPlan", "Material", "SheetPlan", "SmsPlan", "make_plan"]

Seal = Literal["seal", "no_seal", "none"]


@dataclass(frozen=True)
class SheetPlan:
    """One website = one check sheet: its template and the boxes its layout has."""

    index: int            # 0-based website index
    website: Website
    variant: str          # "public" | "guangdong" (from the province, or the override)
    template: str         # stem relative to templates/, e.g. "public/sheet", "guangdong/unit"
    unit: bool            # unit (non-personal) filing
    fingerprint: bool     # 按手印处 box beside the signature
    seal: Seal            # "seal" (单位公章 box) | "no_seal" (个体工商户无公章) | "none" (personal)
    landline: bool        # this website's manager reported an office phone
    commitment: bool      # Guangdong personal: dashed line + space for the handwritten commitment
    seal_label: str       # the seal box's label (单位公章)
    no_seal_text: str | None  # printed in the seal box when seal == "no_seal"
    registrar: bool       # write each domain's registrar after it (Beijing)

    @property
    def layout_key(self) -> tuple[str, str, bool, bool, str, bool, bool, bool]:
        """What the sheet's structure depends on (design.md §2), not the values."""
        return (self.variant, self.template, self.unit, self.fingerprint, self.seal,
                self.landline, self.commitment, self.registrar)


@dataclass(frozen=True)
class SmsPlan:
    """SMS verification facts for the cover (工信部信管函[2016]485号)."""

    pilot: bool                   # the province was in the 2017-12-18 pilot
    pilot_since: str | None       # "2017-12-18 09:00" for pilot provinces
    mandatory_since: str          # "2020-08": every province since
    portal_url: str               # as the source gives it, without scheme
    portal_note: str | None       # a known problem with the portal data
    codes_expected: int           # distinct mobiles among principal (units) and managers
    mobiles: tuple[str, ...]      # those mobiles (the cover is the applicant's own)
    notice: str
    code_digits: int
    valid_hours: int
    arrival: str
    resend: str
    verify: str
    expired: str
    same_person: str
    recipient: str
    carriers: tuple[tuple[str, str], ...]   # (name, sender number)
    virtual_operators: str
    troubleshooting: tuple[str, ...]


@dataclass(frozen=True)
class FilingPlan:
    """Everything to print for one applicant: the sheets and the cover's facts."""

    applicant: Applicant
    province: Province
    variant: str
    variant_label: str    # 公共版本 / 广东版本
    unit: bool
    needs_fingerprint: bool
    needs_seal: bool      # unit with a seal
    has_no_seal: bool     # unit with has_seal false
    sheets: tuple[SheetPlan, ...]
    materials: tuple[Material, ...]   # .key, .text, .note for the cover's ☐ checklist
    signing: tuple[str, ...]          # already specialised to this case
    commitment_text: str | None       # Guangdong personal only
    backdrop: tuple[str, ...]
    sms: SmsPlan
    notices: tuple[str, ...]
    rules_version: str
    flags: frozenset[str]             # the conditions that held (rules.FLAGS)


def _sms(applicant: Applicant, province: Province, rules: Rules) -> SmsPlan:
    facts = rules.sms
    pilot = rules.sms_pilot(province)
    # Codes go to the principal (units) and each website's manager; one mobile, one code.
    candidates = ([applicant.host.principal.mobile] if applicant.unit and applicant.host.principal
                  else []) + [w.manager.mobile for w in applicant.websites]
    mobiles = tuple(dict.fromkeys(candidates))
    return SmsPlan(
        pilot=pilot,
        pilot_since=facts.pilot_since.strftime("%Y-%m-%d %H:%M") if pilot else None,
        mandatory_since=facts.mandatory_since,
        portal_url=province.portal,
        portal_note=province.portal_note,
        codes_expected=len(mobiles),
        mobiles=mobiles,
        notice=facts.notice,
        code_digits=facts.code_digits,
        valid_hours=facts.valid_hours,
        arrival=facts.arrival,
        resend=facts.resend,
        verify=facts.verify,
        expired=facts.expired,
        same_person=facts.same_person,
        recipient=facts.recipient,
        carriers=tuple((c.name, c.number) for c in facts.carriers),
        virtual_operators=facts.virtual_operators,
        troubleshooting=facts.troubleshooting,
    )


def make_plan(applicant: Applicant, rules: Rules, *, variant: str = "auto") -> FilingPlan:
    """The plan for a valid ``applicant``; ``variant`` is ``auto`` or a forced variant name."""
    rules.check_variant(variant)
    province = rules.province(applicant.province)
    chosen = province.variant if variant == "auto" else variant
    spec = rules.variants[chosen]
    unit = applicant.unit
    fingerprint = rules.needs_fingerprint(province, applicant.host.nature)
    seal: Seal = ("seal" if applicant.host.has_seal else "no_seal") if unit else "none"
    commitment = spec.personal_commitment and not unit
    registrar = rules.registrar_required(province)

    flags = {"unit" if unit else "personal", applicant.filing_type.code}
    flags |= {name for name, held in (("seal", seal == "seal"), ("no_seal", seal == "no_seal"),
                                      ("fingerprint", fingerprint), ("commitment", commitment),
                                      ("registrar", registrar),
                                      ("special_site", applicant.special_site)) if held}
    template = spec.templates.unit if unit else spec.templates.personal
    sheets = tuple(
        SheetPlan(index=i, website=website, variant=chosen, template=template, unit=unit,
                  fingerprint=fingerprint, seal=seal,
                  landline=website.manager.office_phone is not None, commitment=commitment,
                  seal_label=rules.seal.label,
                  no_seal_text=rules.seal.no_seal_text if seal == "no_seal" else None,
                  registrar=registrar)
        for i, website in enumerate(applicant.websites))
    return FilingPlan(
        applicant=applicant,
        province=province,
        variant=chosen,
        variant_label=spec.label,
        unit=unit,
        needs_fingerprint=fingerprint,
        needs_seal=seal == "seal",
        has_no_seal=seal == "no_seal",
        sheets=sheets,
        materials=rules.select(rules.materials, flags),
        signing=tuple(line.text for line in rules.select(rules.signing, flags)),
        commitment_text=rules.commitment.text if commitment else None,
        backdrop=tuple(item.text for item in rules.backdrop),
        sms=_sms(applicant, province, rules),
        notices=tuple(n.text for n in rules.select(rules.notices, flags)),
        rules_version=rules.version,
        flags=frozenset(flags),
    )
