"""The template context of a check sheet: what a sheet template receives (contract.md §4).

One flat-enough mapping per sheet, shared by the PDF (HTML) and DOCX templates so both print
the same text. Every value is a display string; structure is steered only by ``flags`` (and the
static ``rules`` texts), which is what lets a layout be compiled once and stamped per record.
The keys are documented for template authors in ``templates/README.md``; a test keeps the two
in agreement.

By default a sheet is the official form (domain.md §7): the applicant block prints only what
the 填写说明 asks (网站主办者名称, 网站类型, 网站域名); ``details`` (``--details``) adds the
detailed block of reported data (certificate numbers, mobiles, e-mail, address, principal)
for providers who want it. The values are in the context either way; ``flags.details``
decides what the template prints.

Alongside the context, :class:`SheetContext` carries ``paths``: for each value, the JSON path
of the data it came from, so that a value that does not fit (or a character no font has) is
reported against the applicant's own field (``websites[1].domains``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sheetgen.documents.plan import FilingPlan, SheetPlan
from sheetgen.documents.sheetcode import sheet_code
from sheetgen.model import Applicant, Person, Website

PERSON_KEYS = ("name", "certificate_type", "certificate_number", "mobile", "office_phone",
               "email", "emergency_phone")


@dataclass(frozen=True)
class SheetContext:
    """One sheet: its template, its context, and where each value came from."""

    template: str
    context: dict[str, Any]
    paths: dict[str, str]

    def values(self) -> dict[str, str]:
        """Every string value by its dotted context path (``manager.mobile``)."""
        return dict(flatten(self.context))


def flatten(context: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, value) for every string leaf of ``context``."""
    for key, value in context.items():
        if isinstance(value, Mapping):
            yield from flatten(value, f"{prefix}{key}.")
        elif isinstance(value, str):
            yield f"{prefix}{key}", value


def content_digest(value: object) -> str:
    """SHA-256 (hex) of an applicant's canonical JSON, without ``access.filing_password``.

    The one identity hash: of a validated applicant for its :func:`reference`, of a record as
    it came in for a batch's manifest and up-to-date key. The password is left out because it
    changes nothing printed, and a hash of it would allow guessing it offline.
    """
    if isinstance(value, Mapping) and isinstance(value.get("access"), Mapping):
        value = {**value, "access": {k: v for k, v in value["access"].items()
                                     if k != "filing_password"}}
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()
                          ).hexdigest()


def reference(applicant: Applicant) -> str:
    """The sheet's reference: ``ref`` when given, else a hash of the applicant's content,
    stable across runs, so a reprint carries the same reference."""
    if applicant.ref:
        return applicant.ref
    return "SG-" + content_digest(applicant.model_dump(mode="json"))[:12].upper()


def sheet_context(plan: FilingPlan, sheet: SheetPlan, *, provider: str | None = None,
                  qr: bool = True, details: bool = False) -> SheetContext:
    """The context of one website's check sheet."""
    applicant = plan.applicant
    host = applicant.host
    website = sheet.website
    site = f"websites[{sheet.index}]"
    principal = host.principal or website.manager
    access_provider = applicant.access.provider
    count = len(plan.sheets)
    context: dict[str, Any] = {
        "sheet": {
            "ref": reference(applicant),
            "filing_type": applicant.filing_type.label,
            "province": plan.province.name,
            "position": f"网站 {sheet.index + 1} / {count}",
            "code": sheet_code(reference(applicant), sheet.index, count),
        },
        "host": {
            "name": host.name,
            "type": f"单位（{host.nature.label}）" if sheet.unit else "个人",
            "nature": host.nature.label,
            "certificate_type": host.certificate.type,
            "certificate_number": host.certificate.number,
            "address": host.address,
        },
        "principal": _person(principal),
        "website": {
            "name": website.name,
            "domains": domain_lines(website),
            "homepage": website.homepage or "",
            "filing_number": website.filing_number or "",
            "ips": "，".join(website.ips or ()),
            "preapproval": "、".join(item.label for item in website.preapproval),
        },
        "manager": _person(website.manager),
        "provider": {"name": access_provider or provider or ""},
        "flags": {
            "variant": sheet.variant,
            "unit": sheet.unit,
            "personal": not sheet.unit,
            "fingerprint": sheet.fingerprint,
            "seal": sheet.seal == "seal",
            "no_seal": sheet.seal == "no_seal",
            "landline": sheet.landline,
            "landline_check": sheet.landline_check,
            "commitment": sheet.commitment,
            "registrar": sheet.registrar,
            "preapproval": bool(sheet.preapproval),
            "details": details,
            "qr": qr,
        },
        "rules": {"seal_label": sheet.seal_label, "no_seal_text": sheet.no_seal_text or ""},
    }
    principal_path = "host.principal" if host.principal else f"{site}.manager"
    paths = {
        "sheet.ref": "ref",
        "sheet.code": "ref",
        "sheet.filing_type": "filing_type",
        "sheet.province": "province",
        "host.name": "host.name",
        "host.type": "host.nature",
        "host.nature": "host.nature",
        "host.certificate_type": "host.certificate.type",
        "host.certificate_number": "host.certificate.number",
        "host.address": "host.address",
        "website.name": f"{site}.name",
        "website.domains": f"{site}.domains",
        "website.homepage": f"{site}.homepage",
        "website.filing_number": f"{site}.filing_number",
        "website.ips": f"{site}.ips",
        "website.preapproval": f"{site}.preapproval",
        "provider.name": "access.provider" if access_provider else "--provider",
    }
    for key in PERSON_KEYS:
        json_key = key.replace("certificate_", "certificate.")
        paths[f"manager.{key}"] = f"{site}.manager.{json_key}"
        paths[f"principal.{key}"] = f"{principal_path}.{json_key}"
    return SheetContext(f"{sheet.template}.html", context, paths)


def domain_lines(website: Website) -> str:
    """The website's domains, one per line, each with its registrar when one is given."""
    return "\n".join(f"{d.name}（注册商：{d.registrar}）" if d.registrar else d.name
                     for d in website.domains)


def _person(person: Person) -> dict[str, str]:
    return {
        "name": person.name,
        "certificate_type": person.certificate.type,
        "certificate_number": person.certificate.number,
        "mobile": person.mobile,
        "office_phone": person.office_phone or "",
        "email": person.email,
        "emergency_phone": person.emergency_phone or "",
    }


#: The flags a companion letter's structure depends on (its seal and fingerprint boxes): its
#: context carries these only, so the few layouts a letter has can be listed for ``receive``.
LETTER_FLAGS = ("unit", "personal", "seal", "no_seal", "fingerprint")


def document_context(plan: FilingPlan, kind: str, template: str, *, provider: str | None = None,
                     qr: bool = True, sheet: SheetPlan | None = None,
                     flags: tuple[str, ...] | None = None) -> SheetContext:
    """The context of a document of ``kind`` (a letter, a commitment): one per applicant, or
    one per website with ``sheet``.

    ``document`` (reference, code, filing type, province, and for the letters the list of
    websites without declared prior approval, ``websites``, and of websites with their
    managers, ``managers``), ``host``, ``principal`` (the unit's principal, or a person's first
    website manager), ``legal`` (the unit's legal representative, empty without one),
    ``provider``, with ``sheet`` also ``website`` and ``manager``, ``flags`` (every rules flag
    of the plan, or only ``flags``, and ``qr``) and ``rules`` (none yet); a form prints what it
    needs. The website's values the data does not hold (``website.purpose``, ``content``,
    ``location``, ``maintenance``) are empty: lines to write on.
    """
    from sheetgen.rules import FLAGS

    applicant = plan.applicant
    host = applicant.host
    principal = host.principal or applicant.websites[0].manager
    access_provider = applicant.access.provider
    representative = host.legal_representative
    index, count = (sheet.index, len(plan.sheets)) if sheet is not None else (0, 1)
    context: dict[str, Any] = {
        "document": {
            "ref": reference(applicant),
            "code": sheet_code(reference(applicant), index, count, kind),
            "filing_type": applicant.filing_type.label,
            "province": plan.province.name,
            "websites": "\n".join(
                f"{n}. {site.name}：{'、'.join(d.name for d in site.domains)}"
                for n, site in enumerate(applicant.websites, start=1) if not site.preapproval),
            "managers": "\n".join(
                f"{n}. {site.name}：{site.manager.name}（{site.manager.certificate.number}）"
                for n, site in enumerate(applicant.websites, start=1)),
        },
        "host": {
            "name": host.name,
            "type": f"单位（{host.nature.label}）" if plan.unit else "个人",
            "certificate_type": host.certificate.type,
            "certificate_number": host.certificate.number,
            "address": host.address,
        },
        "principal": _person(principal),
        "legal": {
            "name": representative.name if representative else "",
            "certificate_type": representative.certificate.type if representative else "",
            "certificate_number": representative.certificate.number if representative else "",
        },
        "provider": {"name": access_provider or provider or ""},
        "flags": {name: name in plan.flags for name in (flags or FLAGS)} | {"qr": qr},
        "rules": {},
    }
    principal_path = "host.principal" if host.principal else "websites[0].manager"
    paths = {
        "document.ref": "ref", "document.code": "ref", "document.filing_type": "filing_type",
        "document.province": "province", "document.websites": "websites",
        "document.managers": "websites",
        "host.name": "host.name", "host.type": "host.nature",
        "host.certificate_type": "host.certificate.type",
        "host.certificate_number": "host.certificate.number", "host.address": "host.address",
        "legal.name": "host.legal_representative.name",
        "legal.certificate_type": "host.legal_representative.certificate.type",
        "legal.certificate_number": "host.legal_representative.certificate.number",
        "provider.name": "access.provider" if access_provider else "--provider",
    }
    for key in PERSON_KEYS:
        json_key = key.replace("certificate_", "certificate.")
        paths[f"principal.{key}"] = f"{principal_path}.{json_key}"
    if sheet is not None:
        website = sheet.website
        site = f"websites[{sheet.index}]"
        context["website"] = {
            "name": website.name,
            "domains": domain_lines(website),
            "homepage": website.homepage or "",
            "ips": "，".join(website.ips or ()),
            "preapproval": "、".join(item.label for item in website.preapproval),
            "maintainer": f"{website.manager.name}（{website.manager.mobile}）",
            "purpose": "", "content": "", "location": "", "maintenance": "",
        }
        context["manager"] = _person(website.manager)
        paths |= {f"website.{key}": f"{site}.{key}"
                  for key in ("name", "domains", "homepage", "ips", "preapproval")}
        paths |= {f"website.{key}": site
                  for key in ("purpose", "content", "location", "maintenance")}
        paths["website.maintainer"] = f"{site}.manager"
        for key in PERSON_KEYS:
            json_key = key.replace("certificate_", "certificate.")
            paths[f"manager.{key}"] = f"{site}.manager.{json_key}"
    return SheetContext(template, context, paths)
