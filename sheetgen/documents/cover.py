"""The cover checklist (备案材料清单): its template context, made for one applicant.

The cover tells the applicant and the counter staff what this filing needs: which verification
flow applies (and the provider's name, when one is given), the materials for this case, how
to sign these sheets, the Guangdong commitment to copy by hand, the backdrop photo rules as
the provider's own (paper flow) or the app verification (electronic flow), the SMS facts
of the province and who gets a code, and the date the rules it prints hold as of. Every text
comes from the plan (that is, from the rules data); the documents section lists this
applicant's documents in print order (each printed one with who signs, seals or fingerprints
and how many, each province-prescribed one with where its template comes from); the lists
are static per layout (``rules.*``, part of the layout key), the applicant's own facts are
values stamped into boxes (``cover.*``, ``sms.*``).
"""

from __future__ import annotations

from typing import Any

from sheetgen.documents.context import SheetContext, reference
from sheetgen.documents.plan import FilingPlan
from sheetgen.rules import FLAGS

TEMPLATE = "common/cover.html"
#: A cover may take this many pages (the sheets stay one page each).
MAX_PAGES = 2
_NUMERALS = "一二三四五六七八九十"
#: The cover's line saying which flow applies (``rules.flow``).
FLOW_LABELS = {"paper": "纸质核验（幕布拍照）", "electronic": "电子化核验（手机 App）"}


def _headings(plan: FilingPlan, packet: list[dict[str, str]]) -> dict[str, str]:
    """The cover's numbered section headings: only the sections this plan prints, numbered in
    order (the HTML and the DOCX template print the same numbers)."""
    sections = [("materials", "需要准备的材料", True),
                ("packet", "备案文件（按打印顺序）", bool(packet)),
                ("signing", "核验单签署要求", bool(plan.signing)),
                ("commitment", "手写承诺（抄写在核验单虚线下方）",
                 plan.commitment_text is not None),
                ("backdrop", "幕布拍照要求（以接入商的规定为准）", bool(plan.backdrop)),
                ("electronic", "电子化核验", bool(plan.electronic)),
                ("sms", "短信核验", True)]
    # Every key is there (a template's variables are checked in every branch); a section the
    # plan does not print has an empty heading.
    headings = dict.fromkeys((key for key, _, _ in sections), "")
    shown = [(key, title) for key, title, present in sections if present]
    headings |= {key: f"{_NUMERALS[i]}、{title}" for i, (key, title) in enumerate(shown)}
    return headings


def cover_context(plan: FilingPlan, packet: list[dict[str, str]] | None = None, *,
                  provider: str | None = None) -> SheetContext:
    """The context of the cover checklist of ``plan``'s applicant; ``packet`` lists its
    documents in print order (:func:`sheetgen.documents.kinds.packet`: title, count, who signs,
    where it comes from), printed as the cover's documents section (``rules.packet``);
    ``provider`` is the provider's name when the data has none (``--provider``, the
    configuration file)."""
    packet = packet or []
    applicant = plan.applicant
    host = applicant.host
    access_provider = applicant.access.provider
    sms = plan.sms
    variant = plan.variant_label + (
        ("（单位）" if plan.unit else "（个人）") if plan.variant == "guangdong" else "")
    context: dict[str, Any] = {
        "cover": {
            "ref": reference(applicant),
            "host_name": host.name,
            "host_kind": f"单位（{host.nature.label}）" if plan.unit else "个人",
            "province": f"{plan.province.full_name}（{plan.province.abbreviations[0]}）",
            "filing_type": applicant.filing_type.label,
            "provider": access_provider or provider or "",
            "variant": variant,
            "websites": "\n".join(
                f"{n}. {site.name}：{'、'.join(d.name for d in site.domains)}"
                for n, site in enumerate(applicant.websites, start=1)),
            # When every domain does not fit, the cover names the websites and counts their
            # domains; each sheet lists them all anyway.
            "websites_short": "；".join(
                f"{n}. {site.name}（{len(site.domains)} 个域名）"
                for n, site in enumerate(applicant.websites, start=1)),
            "preapproval": "；".join(
                f"{n}. {site.name}：{'、'.join(item.label for item in site.preapproval)}"
                for n, site in enumerate(applicant.websites, start=1) if site.preapproval),
        },
        "sms": {
            "codes": str(sms.codes_expected),
            "mobiles": "、".join(sms.mobiles),
            "portal": sms.portal_url or "",
            "portal_note": sms.portal_note or "",
        },
        # Every flag the rules know, true or false, so a template may test any of them.
        "flags": {name: name in plan.flags for name in FLAGS} | {
            "sms_pilot": sms.pilot, "sms": sms.required, "sms_at_most": sms.codes_at_most,
            "provider": bool(access_provider or provider)},
        "rules": {
            "edition": plan.edition, "edition_title": plan.edition_title,
            "as_of": plan.rules_as_of, "headings": _headings(plan, packet),
            "flow": FLOW_LABELS[plan.verification], "packet": packet,
            "electronic": list(plan.electronic),
            "materials": [{"text": m.text, "note": m.note or ""} for m in plan.materials],
            "signing": list(plan.signing),
            "notices": list(plan.notices),
            "commitment": plan.commitment_text or "",
            "backdrop": list(plan.backdrop),
            "sms": {
                "notice": sms.notice, "pilot_since": sms.pilot_since or "",
                "mandatory_since": sms.mandatory_since or "",
                "not_required": sms.not_required or "", "code_digits": sms.code_digits,
                "valid_hours": sms.valid_hours, "arrival": sms.arrival, "resend": sms.resend,
                "verify": sms.verify, "expired": sms.expired, "same_person": sms.same_person,
                "recipient": sms.recipient, "recipients": sms.recipients,
                "no_code": sms.no_code or "",
                "carriers": [list(c) for c in sms.carriers],
                "virtual_operators": sms.virtual_operators or "",
                "troubleshooting": list(sms.troubleshooting),
            },
        },
    }
    paths = {
        "cover.ref": "ref", "cover.host_name": "host.name", "cover.host_kind": "host.nature",
        "cover.province": "province", "cover.filing_type": "filing_type",
        "cover.provider": "access.provider" if access_provider else "--provider",
        "cover.websites": "websites", "cover.websites_short": "websites",
        "cover.preapproval": "websites",
        "sms.mobiles": "websites",
        "sms.portal": "province", "sms.portal_note": "province",
    }
    return SheetContext(TEMPLATE, context, paths)
