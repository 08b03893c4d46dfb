"""Sample applicants: realistic, fictitious and valid, for any province and nature.

:func:`make_example` builds the JSON an integrator would send (``sheetgen example``): a person
or unit of the province, with a resident ID on the province's sample district (GB/T 2260 code
from the rules data) and a correct check digit, a unified social credit code with a correct
check character for units, the registrar where the province asks for it. Output is
deterministic, so it can be used in tests and docs; every output passes ``sheetgen check``.

Because it is valid, sample data could be printed and handed in by mistake. Being
deterministic, it is also recognisable: :func:`example_warnings` finds the values of a record
that are still those of the sample for its province and nature (the ref ``EX-…``, the
fictitious names, numbers, mobiles, e-mails, domains, the provider 示例云计算有限公司), so
``check`` and ``fill`` warn until every one of them has been replaced. Values every applicant
of the kind shares (province, filing type, nature, certificate type, registrar) are not
signs of sample data and are not compared.
"""

from __future__ import annotations

from typing import Any

from stdnum.cn import ric, uscc

from sheetgen.errors import Problem, SheetgenError, UsageError
from sheetgen.model import Applicant
from sheetgen.rules import Province, Rules
from sheetgen.vocabulary import Nature

# Common family and given names of fictitious people, with their sex: the ID number's 17th digit
# is odd for men and even for women (GB 11643).
_NAMES = (("王静怡", True), ("李明轩", False), ("张晓燕", True), ("刘建国", False),
          ("陈思远", False), ("杨丽华", True), ("赵宇航", False), ("黄佳琪", True),
          ("周文博", False), ("吴雨桐", True), ("徐志强", False), ("孙梦洁", True),
          ("胡海涛", False), ("朱婷婷", True), ("高俊杰", False), ("林晓东", False))
# First two characters of a USCC by nature (GB 32100: registering authority, entity type).
_USCC_PREFIX = {Nature.ENTERPRISE: "91", Nature.GOVERNMENT: "11", Nature.INSTITUTION: "12",
                Nature.SOCIAL_GROUP: "51", Nature.PRIVATE_NON_ENTERPRISE: "52",
                Nature.FOUNDATION: "53", Nature.LAW_FIRM: "31", Nature.RELIGIOUS_GROUP: "71",
                Nature.NOTARY: "12", Nature.MEDICAL_INSTITUTION: "12"}
_UNIT_SUFFIX = {Nature.ENTERPRISE: "网络科技有限公司", Nature.GOVERNMENT: "数据资源管理中心",
                Nature.INSTITUTION: "图书馆", Nature.SOCIAL_GROUP: "软件行业协会",
                Nature.PRIVATE_NON_ENTERPRISE: "青少年科技活动中心",
                Nature.FOUNDATION: "助学基金会", Nature.LAW_FIRM: "律师事务所",
                Nature.MEDICAL_INSTITUTION: "康宁医院"}


def _resident_id(region: str, birth: str, sequence: int) -> str:
    body = f"{region}{birth}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


def _organization_code(seed: int) -> str:
    """An 8-digit organisation code with its GB 11714 check character (9 characters)."""
    digits = f"{seed:08d}"[-8:]
    total = sum(int(d) * w for d, w in zip(digits, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    check = 11 - total % 11
    return digits + {10: "X", 11: "0"}.get(check, str(check))


def _credit_code(prefix: str, region: str, seed: int) -> str:
    body = prefix + region + _organization_code(seed)
    return body + uscc.calc_check_digit(body)


def _person(province: Province, index: int) -> dict[str, Any]:
    """A fictitious person of the province: valid resident ID, mobile and e-mail."""
    n = int(province.code)
    birth = f"{1980 + (n + 7 * index) % 15}{1 + (n + index) % 12:02d}{1 + (3 * n + index) % 28:02d}"
    name, female = _NAMES[(n + index) % len(_NAMES)]
    sequence = 100 + 2 * index + (0 if female else 1)
    return {
        "name": name,
        "certificate": {"type": "居民身份证",
                        "number": _resident_id(province.sample_region, birth, sequence)},
        "mobile": f"13{8 + index}{province.code}00{n:02d}{index}{index}",
        "email": f"{'webmaster' if index else 'admin'}@example-{province.key}.cn",
    }


def make_example(rules: Rules, province: str = "江西", nature: str = "personal") -> dict[str, Any]:
    """A valid, fictitious applicant for ``province`` (any name form) and ``nature``."""
    where = rules.resolve_province(province)
    kind = Nature.parse(nature)
    if kind is None:
        raise UsageError(f"unknown nature “{nature.strip()[:20]}”",
                         hint="use one of: " + ", ".join(Nature.accepted()))
    manager = _person(where, 0)
    registrar = rules.registrar_required(where)
    # A government body's domain is under .gov.cn (the acceptance rule domain_suffix_for_nature).
    domain = f"example-{where.key}.{'gov.cn' if kind is Nature.GOVERNMENT else 'cn'}"
    domains: list[Any] = [{"name": domain, "registrar": "北京新网数码信息技术有限公司"}
                          if registrar else domain]
    if kind.unit:
        certs = rules.certificates_for(kind)
        cert = next((c for c in certs if c.number == "uscc"), certs[0])
        seed = int(where.code) * 1_000_003
        number = (_credit_code(_USCC_PREFIX.get(kind, "91"), where.sample_region, seed)
                  if cert.number == "uscc" else _organization_code(seed))
        unit_name = f"{where.sample_city}示例{_UNIT_SUFFIX.get(kind, '服务中心')}"
        manager["office_phone"] = where.sample_landline
        host: dict[str, Any] = {
            "nature": kind.code, "name": unit_name,
            "certificate": {"type": cert.name, "number": number},
            "address": where.sample_address, "principal": _person(where, 1)}
        site_name = f"{unit_name}官方网站"
    else:
        host = {"nature": kind.code, "name": manager["name"],
                "certificate": dict(manager["certificate"]), "address": where.sample_address}
        site_name = f"{manager['name']}的技术笔记"
    return {
        "ref": f"EX-{where.key}-{kind.code}".upper().replace("_", "-"),
        "province": where.name,
        "filing_type": "new_filing",
        "host": host,
        "websites": [{
            "name": site_name,
            "domains": domains,
            "homepage": f"https://{domain}",
            "manager": manager,
        }],
        "access": {"provider": "示例云计算有限公司"},
    }


#: Keys whose values are the same for every applicant of the sample's kind (not fictitious).
_SHARED_KEYS = frozenset({"province", "filing_type", "nature", "type", "registrar"})


def _leaves(value: object, path: str = "") -> dict[str, str]:
    """The string values of a JSON value by JSON path, trimmed; a bare domain string counts as
    its ``name`` (the sample writes ``{name, registrar}`` only where a registrar is needed)."""
    if isinstance(value, dict):
        found: dict[str, str] = {}
        for key, child in value.items():
            if isinstance(key, str) and key not in _SHARED_KEYS:
                found.update(_leaves(child, f"{path}.{key}" if path else key))
        return found
    if isinstance(value, list):
        found = {}
        for index, child in enumerate(value):
            if path.endswith(".domains") and isinstance(child, str):
                child = {"name": child}
            found.update(_leaves(child, f"{path}[{index}]"))
        return found
    return {path: value.strip()} if isinstance(value, str) and value.strip() else {}


def example_warnings(data: object, rules: Rules, province: str, nature: str) -> list[Problem]:
    """A warning (code ``example_data``) for each value of the record ``data`` (raw JSON)
    that is still the fictitious value :func:`make_example` gives a ``province`` ``nature``
    applicant; [] once all are replaced."""
    sample = _leaves(make_example(rules, province, nature))
    return [Problem(path, "example_data",
                    "仍是 sheetgen example 生成的虚构示例值，请换成申请人的真实信息 / still the "
                    "fictitious sample value of `sheetgen example`; replace it with the "
                    "applicant's real data", severity="warning")
            for path, value in _leaves(data).items() if sample.get(path) == value]


def warning_line(source: str, warnings: list[Problem]) -> str:
    """The one stderr line of a record's example warnings."""
    shown = ", ".join(w.path for w in warnings[:4]) + (", …" if len(warnings) > 4 else "")
    return (f"{source}: {len(warnings)} value{'s are' if len(warnings) != 1 else ' is'} still "
            f"the fictitious sample data of `sheetgen example` ({shown}); replace "
            f"{'them' if len(warnings) != 1 else 'it'} with the applicant's real data before "
            "printing / 仍含 sheetgen example 的虚构示例数据，打印前请换成真实信息")


def applicant_warnings(applicant: Applicant, rules: Rules) -> list[Problem]:
    """:func:`example_warnings` of a validated applicant (its canonical values compare as the
    raw ones do); [] when the rules have no sample for its province."""
    try:
        return example_warnings(applicant.model_dump(mode="json"), rules, applicant.province,
                                applicant.host.nature.code)
    except SheetgenError:
        return []
