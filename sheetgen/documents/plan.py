"""The filing plan: what to print for a valid applicant under the rules (design.md §1, §4).

:func:`make_plan` is where the rules data meets one applicant. It decides, once, everything the
renderer and the cover need: the variant and template of each website's sheet, its boxes
(fingerprint, seal or the no-seal text, landline row, commitment space), the materials and
signing instructions for this case, the backdrop rules, the SMS facts for the province and how
many codes to expect. Templates and renderers read the plan; none of them tests a province's
name or re-derives a rule.

The cover's lines are selected by flags (``personal``, ``unit``, ``seal``, ``no_seal``,
``fingerprint``, ``commitment``, ``registrar``, ``special_site``, ``preapproval``,
``domain_certificate``, the filing type code and the verification flow ``paper`` or
``electronic``), the same vocabulary the rules file's ``when`` and ``unless`` lists use
(:data:`sheetgen.rules.FLAGS`). The backdrop-photo rules are each provider's own: the plan
keeps those of the applicant's province, each line after whose rule it is. The companion
documents add ``manager_not_representative`` and ``principal_not_representative`` (a unit
whose website manager or principal is not ``host.legal_representative``; neither holds
without one, and ``check`` warns) and ``approval_keyword``; :attr:`FilingPlan.required` is the
documents table's kinds that hold for this applicant (its province, flags and domain count).

Who gets an SMS code depends on the filing type (``[sms.recipients]``): a new filing sends
one to the principal and to each website's manager, a new website or a new access only to
the managers, a change only to those whose data changed (so the count is an upper bound);
one mobile gets one code. Filings sheetgen does not print (变更接入, 注销网站 …) are the
rules' ``no_code`` line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sheetgen.model import Applicant, Website
from sheetgen.rules import Document, Material, Province, Rules
from sheetgen.rules.acceptance import approval_keyword, is_representative
from sheetgen.vocabulary import Preapproval

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
    preapproval: tuple[Preapproval, ...] = ()  # content needing 前置审批: the check row

    @property
    def landline_check(self) -> bool:
        """The verifier's 网站负责人座机号码 row (domain.md §7): always on a unit's sheet, on a
        person's only when a landline was reported."""
        return self.unit or self.landline

    @property
    def layout_key(self) -> tuple[str, str, bool, bool, str, bool, bool, bool, bool]:
        """What the sheet's structure depends on (design.md §2), not the values."""
        return (self.variant, self.template, self.unit, self.fingerprint, self.seal,
                self.landline, self.commitment, self.registrar, bool(self.preapproval))


@dataclass(frozen=True)
class SmsPlan:
    """SMS verification facts for the cover (工信部信管函[2016]485号)."""

    required: bool                # filings in this province verify by SMS (this edition)
    pilot: bool                   # the province verified in a pilot batch (2018 edition)
    pilot_since: str | None       # "2017-12-18 09:00", "2018-09-10" for pilot provinces
    mandatory_since: str | None   # "2020-08-17": every province since (today's edition)
    not_required: str | None      # the cover's line when not required
    portal_url: str | None        # the national portal or the province's, without scheme
    portal_note: str | None       # a known problem with the portal data
    codes_expected: int           # distinct mobiles of the people this filing type sends to
    codes_at_most: bool           # a change: only those whose data changed get one
    mobiles: tuple[str, ...]      # those mobiles (the cover is the applicant's own)
    recipients: str               # who gets a code for this filing type (rules text)
    no_code: str | None           # the filings that send none (变更接入, 注销网站, 取消接入)
    notice: str
    code_digits: int
    valid_hours: int
    attempts: int | None
    arrival: str
    resend: str
    verify: str
    expired: str
    same_person: str
    recipient: str
    carriers: tuple[tuple[str, str], ...]   # (name, sender number)
    virtual_operators: str | None
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
    edition: str = ""                 # the rules edition (2025, 2018)
    edition_title: str = ""           # 现行规定（2025 版）
    rules_as_of: str = ""             # the edition's as-of date, printed on the cover
    verification: str = "paper"       # the provider's flow: paper | electronic
    electronic: tuple[str, ...] = ()  # the cover's electronic-flow lines (electronic only)
    # The rules' entry of each document kind they name ([documents.<kind>]): when it prints
    # (against ``flags``), and the definition of a kind the rules define (documents.kinds).
    documents: dict[str, Document] = field(default_factory=dict)
    # The documents table's kinds this applicant gets (province, flags, domain counts).
    required: frozenset[str] = frozenset()
    # The websites (0-based) whose manager is not the unit's legal representative.
    manager_sites: tuple[int, ...] = ()


def _sms(applicant: Applicant, province: Province, rules: Rules) -> SmsPlan:
    facts = rules.sms
    pilot = rules.sms_pilot(province)
    required = rules.sms_required(province)
    sent = facts.recipients[applicant.filing_type.value]
    # The principal (units; a person's principal is the manager) and each website's manager,
    # as this filing type says; one mobile, one code.
    candidates = ([applicant.host.principal.mobile]
                  if "principal" in sent.roles and applicant.unit and applicant.host.principal
                  else [])
    candidates += ([w.manager.mobile for w in applicant.websites]
                   if "manager" in sent.roles or not applicant.unit else [])
    mobiles = tuple(dict.fromkeys(candidates)) if required else ()
    return SmsPlan(
        required=required,
        pilot=pilot is not None,
        pilot_since=pilot.since_text if pilot else None,
        mandatory_since=facts.mandatory_since.isoformat() if facts.mandatory_since else None,
        not_required=None if required else facts.not_required,
        portal_url=rules.portal(province),
        portal_note=province.portal_note,
        codes_expected=len(mobiles),
        codes_at_most=sent.changed_only,
        mobiles=mobiles,
        recipients=sent.text,
        no_code=facts.no_code,
        notice=facts.notice,
        code_digits=facts.code_digits,
        valid_hours=facts.valid_hours,
        attempts=facts.attempts,
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


def _seal_notes(rules: Rules, province: Province, seal: Seal) -> tuple[str, ...]:
    """The cover's lines for a unit without a seal: the province's rule, else the general one."""
    if seal != "no_seal":
        return ()
    rule = rules.no_seal_rule(province)
    if rule is None:
        return (rules.seal.remark,)
    if rule.action == "hint":
        return (rules.seal.remark, rule.text)
    return (rule.text,)


def make_plan(applicant: Applicant, rules: Rules, *, variant: str = "auto") -> FilingPlan:
    """The plan for a valid ``applicant``; ``variant`` is ``auto`` or a forced variant name.

    The verification flow is the rules' (``[verification].flow``, which ``--verification``
    overrides through :meth:`Rules.with_verification`).
    """
    rules.check_variant(variant)
    province = rules.province(applicant.province)
    chosen = province.variant if variant == "auto" else variant
    spec = rules.variants[chosen]
    unit = applicant.unit
    fingerprint = rules.needs_fingerprint(province, applicant.host.nature)
    seal: Seal = ("seal" if applicant.host.has_seal else "no_seal") if unit else "none"
    commitment = spec.personal_commitment and not unit
    registrar = rules.registrar_required(province)
    flow = rules.verification.flow
    preapproval = any(w.preapproval for w in applicant.websites)
    no_seal_text = rules.no_seal_text(province)

    representative = applicant.host.legal_representative if unit else None
    manager_sites = () if representative is None else tuple(
        i for i, w in enumerate(applicant.websites)
        if not is_representative(representative, w.manager))
    principal_other = (representative is not None and applicant.host.principal is not None
                       and not is_representative(representative, applicant.host.principal))

    flags = {"unit" if unit else "personal", applicant.filing_type.code, flow}
    flags |= {name for name, held in (("seal", seal == "seal"), ("no_seal", seal == "no_seal"),
                                      ("fingerprint", fingerprint), ("commitment", commitment),
                                      ("registrar", registrar), ("preapproval", preapproval),
                                      ("domain_certificate",
                                       rules.domain_certificate_required(province)),
                                      ("special_site", applicant.special_site),
                                      ("manager_not_representative", bool(manager_sites)),
                                      ("principal_not_representative", principal_other),
                                      ("approval_keyword",
                                       approval_keyword(applicant, rules, province)))
              if held}
    domains = sum(len(w.domains) for w in applicant.websites)
    held_flags = frozenset(flags)
    template = spec.templates.unit if unit else spec.templates.personal
    sheets = tuple(
        SheetPlan(index=i, website=website, variant=chosen, template=template, unit=unit,
                  fingerprint=fingerprint, seal=seal,
                  landline=website.manager.office_phone is not None, commitment=commitment,
                  seal_label=rules.seal.label,
                  no_seal_text=no_seal_text if seal == "no_seal" else None,
                  registrar=registrar, preapproval=website.preapproval)
        for i, website in enumerate(applicant.websites))
    paper = flow == "paper"
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
        # Signing the sheet, copying the commitment onto it and the backdrop photo belong to
        # the paper flow; the electronic flow has its own lines instead.
        signing=tuple(line.text for line in rules.select(rules.signing, flags)) if paper else (),
        commitment_text=rules.commitment.text if commitment and paper else None,
        backdrop=tuple(item.line for item in rules.backdrop_for(province)) if paper else (),
        sms=_sms(applicant, province, rules),
        notices=(tuple(n.text for n in rules.select(rules.notices, flags))
                 + (_seal_notes(rules, province, seal) if paper else ())),
        rules_version=rules.version,
        flags=frozenset(flags),
        edition=rules.edition,
        edition_title=rules.title,
        rules_as_of=rules.as_of.isoformat(),
        verification=flow,
        electronic=(tuple(line.text for line in rules.select(rules.electronic, flags))
                    if not paper else ()),
        documents=dict(rules.documents),
        required=frozenset(name for name, document in rules.documents.items()
                           if document.applies(held_flags, province.key, domains)),
        manager_sites=manager_sites,
    )
