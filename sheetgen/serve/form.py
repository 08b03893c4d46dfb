"""The form's description, generated from the model's JSON Schema, the vocabularies and the rules.

``GET /api/v1/form`` answers :func:`form_spec`; the page's script (``static/app.js``) builds
every section, field and drop-down from it and knows nothing of the data model itself. So the
form cannot drift from the schema: a key added to the model appears in the form (and a test
fails until it has a Chinese label here), a key removed disappears, and the choices are the
vocabularies' and the rules' own.

What this module adds to the schema is only what a schema cannot say: the Chinese label and
placeholder of each key (:data:`LABELS`, keyed by the schema definition and property), and
when a part shows (:data:`SHOW_WHEN`): a unit's principal and seal only for units, the
registrar only where the province asks for it, the filing number, IPs, username and filing
password only for the filing types that need them (:data:`FILING_TYPES`), and, for a personal
filing, the website manager's name and certificate taken from the host (the model requires
them to be the same person), so the applicant types them once.
"""

from __future__ import annotations

from typing import Any

from sheetgen import __version__
from sheetgen.model import json_schema
from sheetgen.rules import Rules
from sheetgen.vocabulary import FilingType, Nature

#: (schema definition, property) → (label, placeholder). ``Applicant`` is the root.
LABELS: dict[tuple[str, str], tuple[str, str]] = {
    ("Applicant", "ref"): ("申请编号（选填）", "QY-2026-000123"),
    ("Applicant", "province"): ("备案省份", ""),
    ("Applicant", "filing_type"): ("备案类型", ""),
    ("Applicant", "host"): ("网站主办者", ""),
    ("Applicant", "websites"): ("网站", ""),
    ("Applicant", "access"): ("接入信息", ""),
    ("Applicant", "special_site"): ("特殊网站（未接入接入商备案系统）", ""),
    ("Host", "nature"): ("主办者性质", ""),
    ("Host", "name"): ("主办者名称（单位全称或个人姓名）", "张三"),
    ("Host", "certificate"): ("主办者证件", ""),
    ("Host", "address"): ("通信地址", "江西省南昌市红谷滩区某某路 1 号"),
    ("Host", "has_seal"): ("单位有公章（个体工商户无公章时取消勾选）", ""),
    ("Host", "principal"): ("主体负责人", ""),
    ("HostCertificate", "type"): ("证件类型", ""),
    ("HostCertificate", "number"): ("证件号码", ""),
    ("PersonCertificate", "type"): ("证件类型", ""),
    ("PersonCertificate", "number"): ("证件号码", "360426199101010071"),
    ("Person", "name"): ("姓名", ""),
    ("Person", "certificate"): ("证件", ""),
    ("Person", "mobile"): ("手机号码", "13800000000"),
    ("Person", "office_phone"): ("办公电话（选填）", "0791-88888888"),
    ("Person", "email"): ("电子邮箱", "name@example.cn"),
    ("Person", "emergency_phone"): ("应急联系电话（选填）", "13900000000"),
    ("Website", "name"): ("网站名称", "张三的技术笔记"),
    ("Website", "domains"): ("网站域名", ""),
    ("Website", "homepage"): ("网站首页网址（选填）", "https://example.cn"),
    ("Website", "filing_number"): ("网站备案号", "赣ICP备2024012345号-1"),
    ("Website", "ips"): ("IP 地址（每行一个）", "203.0.113.7"),
    ("Website", "manager"): ("网站负责人", ""),
    ("Website", "preapproval"): ("前置审批内容（选填，每行一项：新闻、出版、教育、医疗保健、"
                                 "药品和医疗器械、文化、广播电影电视节目、电子公告）", ""),
    ("Domain", "name"): ("域名（不带 www.）", "example.cn"),
    ("Domain", "registrar"): ("域名注册商", "某某注册商"),
    ("Access", "provider"): ("接入服务单位（选填）", "某某云计算有限公司"),
    ("Access", "username"): ("接入商备案系统用户名", ""),
    ("Access", "filing_password"): ("备案密码（选填；不会打印、保存或回显）", ""),
    # The acceptance rules' optional fields (sheetgen/rules/acceptance.py).
    ("Host", "legal_representative"): ("法定代表人（选填；负责人不是法定代表人时部分省份需授权书）",
                                       ""),
    ("Host", "residence_permit"): ("居住证签发省份（选填；个人备案且身份证不是备案省份时）", ""),
    ("HostCertificate", "valid_until"): ("证件有效期至（选填，YYYY-MM-DD 或 长期）", "2030-01-01"),
    ("PersonCertificate", "valid_until"): ("证件有效期至（选填，YYYY-MM-DD 或 长期）",
                                           "2030-01-01"),
    ("LegalRepresentative", "name"): ("姓名", ""),
    ("LegalRepresentative", "certificate"): ("证件", ""),
    ("Domain", "holder"): ("域名实名持有人（选填，须与主办者名称一致）", ""),
}

#: When a part of the form shows: ``unit`` (a unit filing), ``registrar`` (the province asks
#: for each domain's registrar); ``from_host`` marks what a personal filing takes from the host.
SHOW_WHEN: dict[tuple[str, str], str] = {
    ("Host", "principal"): "unit",
    ("Host", "has_seal"): "unit",
    ("Host", "legal_representative"): "unit",
    ("Domain", "registrar"): "registrar",
}
#: The filing types a field shows for (the others neither need nor print it): the filing
#: number of an existing filing for 新增接入 and 变更备案, the IPs and the username in the
#: provider's system for 新增接入 (the model requires them exactly there).
FILING_TYPES: dict[tuple[str, str], tuple[FilingType, ...]] = {
    ("Website", "filing_number"): (FilingType.NEW_ACCESS, FilingType.CHANGE),
    ("Website", "ips"): (FilingType.NEW_ACCESS,),
    ("Access", "username"): (FilingType.NEW_ACCESS,),
    ("Access", "filing_password"): (FilingType.NEW_ACCESS, FilingType.CHANGE),
}
#: The choice list (in :func:`form_spec`'s ``choices``) of each drop-down.
CHOICES: dict[tuple[str, str], str] = {
    ("Applicant", "province"): "province",
    ("Applicant", "filing_type"): "filing_type",
    ("Host", "nature"): "nature",
    ("HostCertificate", "type"): "host_certificate",
    ("PersonCertificate", "type"): "person_certificate",
}
#: In a personal filing, the website manager is the host: these manager keys are copied from
#: the host's (same relative path) and not shown.
FROM_HOST: dict[str, str] = {"name": "host.name", "certificate.type": "host.certificate.type",
                             "certificate.number": "host.certificate.number"}


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> tuple[str | None, dict[str, Any],
                                                                    bool]:
    """(definition name, the node without ``anyOf [X, null]`` and ``$ref``, nullable)."""
    nullable = False
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        nullable = len(options) < len(node["anyOf"])
        if len(options) == 1:
            node = {**options[0], **{k: v for k, v in node.items() if k != "anyOf"}}
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        return name, schema["$defs"][name], nullable
    return None, node, nullable


def _field(schema: dict[str, Any], owner: str, key: str, node: dict[str, Any],
           required: bool) -> dict[str, Any]:
    label, placeholder = LABELS[(owner, key)]
    definition, node, nullable = _resolve(schema, node)
    spec: dict[str, Any] = {"key": key, "label": label, "required": required and not nullable}
    if placeholder:
        spec["placeholder"] = placeholder
    if (owner, key) in SHOW_WHEN:
        spec["show_when"] = SHOW_WHEN[(owner, key)]
    if (owner, key) in FILING_TYPES:
        spec["filing_types"] = [t.code for t in FILING_TYPES[(owner, key)]]
    if definition is not None:
        spec.update(kind="group", fields=_fields(schema, definition))
        if owner == "Website" and key == "manager":
            spec["from_host"] = FROM_HOST
        return spec
    kind = node.get("type")
    if kind == "array":
        items = node["items"]
        item_def = None
        for option in items.get("anyOf", [items]):
            item_def = item_def or _resolve(schema, option)[0]
        spec.update(min=node.get("minItems", 0), max=node.get("maxItems", 100))
        if item_def is not None:
            spec.update(kind="list", fields=_fields(schema, item_def))
        else:
            spec["kind"] = "lines"
        return spec
    if kind == "boolean":
        spec.update(kind="checkbox", default=bool(node.get("default", False)))
        return spec
    if "enum" in node:
        spec.update(kind="select", choices=CHOICES[(owner, key)])
    else:
        spec["kind"] = "password" if node.get("format") == "password" else "text"
    if "maxLength" in node:
        spec["maxlength"] = node["maxLength"]
    return spec


def _fields(schema: dict[str, Any], definition: str) -> list[dict[str, Any]]:
    node = schema if definition == "Applicant" else schema["$defs"][definition]
    required = set(node.get("required", ()))
    return [_field(schema, definition, key, prop, key in required)
            for key, prop in node["properties"].items()]


def form_spec(rules: Rules) -> dict[str, Any]:
    """The form's fields (in schema order, with Chinese labels) and every choice list."""
    schema = json_schema(rules)
    person = [c.name for c in rules.certificates if c.holder == "person"]
    return {
        "version": __version__,
        "rules_version": rules.version,
        "fields": _fields(schema, "Applicant"),
        "choices": {
            "province": [{"value": p.name, "label": p.full_name} for p in rules.provinces],
            "filing_type": [{"value": t.code, "label": t.label} for t in FilingType],
            "nature": [{"value": n.code, "label": n.label, "unit": n.unit} for n in Nature],
            "person_certificate": [{"value": name, "label": name} for name in person],
            "host_certificate": {n.code: [{"value": c.name, "label": c.name}
                                          for c in rules.certificates_for(n)] for n in Nature},
        },
    }


def schema_keys(rules: Rules) -> set[tuple[str, str]]:
    """Every (definition, property) of the schema: what :data:`LABELS` must cover exactly."""
    schema = json_schema(rules)
    keys = {("Applicant", key) for key in schema["properties"]}
    for name, definition in schema["$defs"].items():
        keys.update((name, key) for key in definition.get("properties", {}))
    return keys
