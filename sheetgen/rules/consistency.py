"""The cross-reference checks of a rules file: everything its TOML shape cannot say.

31 provinces, unique names in every form, each with a portal, lists that name existing
provinces, every unit nature with a certificate, a known edition, the acceptance rules'
own checks (:func:`sheetgen.rules.acceptance.consistency`). Each problem names the place in
the file it is about.
"""

from __future__ import annotations

from collections.abc import Sequence

from sheetgen.errors import Problem
from sheetgen.rules.acceptance import consistency as _acceptance_consistency
from sheetgen.rules.editions import EDITIONS
from sheetgen.rules.ruleset import Rules, _name_key
from sheetgen.vocabulary import Nature

PROVINCE_COUNT = 31


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
    if rules.domain_certificate is not None:
        lists.append(("domain_certificate.provinces", rules.domain_certificate.provinces))
    lists += [(f"backdrop[{i}].provinces", b.provinces) for i, b in enumerate(rules.backdrop)]
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
    problems += _acceptance_consistency(rules.acceptance, {p.key for p in rules.provinces})
    known = {p.key for p in rules.provinces}
    for name, document in rules.documents.items():
        named: list[tuple[str, tuple[str, ...]]] = [("provinces", document.provinces)]
        named += [(f"cases[{i}].provinces", c.provinces) for i, c in enumerate(document.cases)]
        named += [(f"disputed[{i}].provinces", d.provinces)
                  for i, d in enumerate(document.disputed)]
        for part, province_keys in named:
            for province_key in province_keys:
                if province_key not in known:
                    bad(f"documents.{name}.{part}", f"unknown province key {province_key!r}")
    for i, accepted in enumerate(rules.acceptance):
        if accepted.document is not None and (
                accepted.document not in rules.documents
                or rules.documents[accepted.document].label is None):
            bad(f"acceptance[{i}].document", f"{accepted.document!r} is no entry of the "
                                             "documents table with a label")
    return problems
