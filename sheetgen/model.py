"""The applicant data model (contract.md §1) and its validation.

This module owns what a valid applicant is: pydantic v2 models (frozen, unknown keys are
errors) of exactly the contract's JSON, and :func:`parse_applicant`, which validates a parsed
JSON value against them and the rules data and reports **every** problem of the record at once,
each as a :class:`~sheetgen.errors.Problem` with its JSON path, a stable code and a bilingual
message (``中文 / English``). Formats and checksums are in :mod:`sheetgen.identifiers`.

Strings
    Every string is NFC-normalised and trimmed; an empty (or whitespace-only) string or
    ``null`` counts as missing. Strings are single-line: control characters (including line
    breaks and tabs inside the text), format characters (bidi overrides U+202A–U+202E and
    isolates U+2066–U+2069, zero-width U+200B–U+200D, U+2060, U+FEFF, soft hyphen …), line and
    paragraph separators, lone surrogates and code points unassigned in Python's Unicode
    database are refused with the field's path (``unsafe_character``). Full-width ASCII
    (U+FF01–U+FF5E) and the ideographic space U+3000 are folded to ASCII in identifiers —
    ``ref``, certificate numbers, mobiles and landlines, e-mails, domains, homepage, IPs,
    filing numbers, the access username — and kept as written in names, addresses, website
    names, the provider and registrars, where Chinese text uses them legitimately.

Secrets
    ``access.filing_password`` is a :class:`pydantic.SecretStr`: hidden in ``repr``, excluded
    from every dump, never checked in a way that could echo it; the models set
    ``hide_input_in_errors`` and problems are built from error codes and context only, never
    from pydantic's input echo. Personal values in messages are masked (ID and credit code
    numbers keep their last 4 characters, mobiles show 138****0000); e-mails are not echoed.

Cross-field rules (principal for units, filing number and IPs for ``new_access``/``change``,
registrar in Beijing, certificate type matching the nature, personal manager = host) are field
validators that read what they need from a validation context filled before the fields are
validated. So a rule is checked even when an unrelated field of the same record is wrong, and
one run reports all problems.

Acceptance rules
    What the administration would reject although the data is well-formed (a website name
    starting with 中国, a certificate expiring within 3 months …) is not a validation error of
    this model: :func:`preflight` runs the rules data's ``[[acceptance]]`` entries
    (:mod:`sheetgen.rules.acceptance`) on a valid applicant and a filing date; :func:`accept`
    raises their errors; :func:`check_document` and :func:`check_records` run them on every
    valid record, ``contact_shared`` across the run too. The optional fields they read
    (``valid_until``, ``residence_permit``, ``legal_representative``, a domain's ``holder``)
    are left out of dumps when not given, so the content hash of older records is unchanged.

Problem codes are stable (scripts depend on them); each is listed with its meaning in
:data:`sheetgen.errors.PROBLEM_CODES`.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Annotated, Any, ClassVar, Literal, NoReturn, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from sheetgen import identifiers as ids
from sheetgen.errors import InvalidDataError, Problem, UsageError, problem_fields
from sheetgen.rules import Province, Rules, acceptance, load_rules
from sheetgen.sources.json import (
    Record,
    json_path,
    json_type,
    object_expected,
    parse_json,
    printable,
    read_lines,
    sniff_lines,
)
from sheetgen.vocabulary import FilingType, Nature, Preapproval

__all__ = ["Access", "Applicant", "Certificate", "CheckResult", "Domain", "FilingType", "Host",
           "HostCertificate", "LegalRepresentative", "Nature", "Person", "PersonCertificate",
           "Website", "accept", "check_document", "check_records", "json_schema",
           "parse_applicant", "preflight"]

#: At most this many problems are listed per record; a last ``too_many_errors`` says how many
#: more there were. A hostile record cannot make a report of millions of lines.
MAX_PROBLEMS = 100
MAX_WEBSITES = 10
MAX_DOMAINS = 10
MAX_IPS = 20


# --- problems ------------------------------------------------------------------------------

def _fail(code: str, zh: str, en: str) -> NoReturn:
    """Raise a problem from inside a validator (pydantic collects it with its location)."""
    raise PydanticCustomError(code, "{message}", {"message": f"{zh} / {en}"})


def _fail_identifier(err: ids.IdentifierError) -> NoReturn:
    raise PydanticCustomError(err.code, "{message}", {"message": err.message})


# --- validation context: what cross-field rules need, read before the fields ----------------

_STATE = "sheetgen.model.state"


@dataclass
class _State:
    """Facts of the record being validated, peeked from the raw data before the fields."""

    rules: Rules
    province: Province | None = None
    filing_type: FilingType | None = None
    nature: Nature | None = None
    host_name: str | None = None
    host_number: str | None = None


def _state(info: ValidationInfo) -> _State:
    context = info.context
    state = context.get(_STATE) if isinstance(context, dict) else None
    if isinstance(state, _State):
        return state
    return _State(load_rules())  # validated without parse_applicant: built-in rules only


# --- strings -------------------------------------------------------------------------------

#: Characters refused in every string, by Unicode category (see the module docstring).
_UNSAFE = {"Cc": ("控制字符", "a control character"),
           "Cf": ("不可见的格式字符", "an invisible formatting character"),
           "Cs": ("代理字符", "a lone surrogate"),
           "Cn": ("未分配的字符", "an unassigned code point"),
           "Zl": ("换行符", "a line separator"),
           "Zp": ("换段符", "a paragraph separator")}


def _clean(value: object, *, fold: bool) -> str:
    """A JSON string made canonical: NFC, full-width folded if ``fold``, trimmed, safe."""
    if not isinstance(value, str):
        zh, en = json_type(value)
        _fail("wrong_type", f"应为字符串，实际为{zh}", f"must be a string, got {en}")
    text = unicodedata.normalize("NFC", value)
    if fold:
        text = ids.fold_fullwidth(text)
    text = text.strip()
    for i, ch in enumerate(text):
        kind = _UNSAFE.get(unicodedata.category(ch))
        if kind:
            name = unicodedata.name(ch, "")
            shown = f"U+{ord(ch):04X}" + (f" {name}" if name else "")
            _fail("unsafe_character",
                  f"第 {i + 1} 个字符 {shown} 是{kind[0]}，不能使用（只能是单行文字）",
                  f"character {i + 1} is {shown}, {kind[1]}; remove it (values are one line "
                  "of visible text)")
    return text


def _text(value: object) -> str:
    return _clean(value, fold=False)


def _identifier(check: Callable[[str], str]) -> Callable[[object], str]:
    """A before-validator: clean (folding full-width forms), then ``check`` the identifier."""
    def validate(value: object) -> str:
        try:
            return check(_clean(value, fold=True))
        except ids.IdentifierError as err:
            _fail_identifier(err)
    return validate


def _plain_identifier(value: object) -> str:
    return _clean(value, fold=True)


def _phone(text: str) -> str:
    """An emergency phone: a mobile or a landline."""
    for check in (ids.check_mobile, ids.check_landline):
        try:
            return check(text)
        except ids.IdentifierError:
            pass
    raise ids.IdentifierError("phone_format", "电话号码无效（应为手机号码或 区号-号码）",
                              "phone number is not valid (a mobile or area code-number)")


def _ref(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", text):
        raise ids.IdentifierError("ref_format", "ref 只能由 1–64 个字母、数字和 . _ - 组成",
                                  "ref must be 1–64 characters of A-Z a-z 0-9 . _ -")
    return text


LONG_TERM = date(9999, 12, 31)


def _valid_until(value: object) -> date:
    """A certificate's end of validity: ``2030-01-31`` (also ``2030/01/31``, ``2030.01.31``,
    ``20300131``), or 长期 (``long_term``: no end, as on resident IDs issued after 46)."""
    if isinstance(value, date):
        return value
    text = _clean(value, fold=True)
    if text in ("长期", "long_term", "永久"):
        return LONG_TERM
    day = acceptance.parse_date(text)
    if day is None:
        _fail("date_format", f"{printable(text, 20)} 不是有效日期（应为 YYYY-MM-DD，或“长期”）",
              f"{printable(text, 20)} is not a date (write YYYY-MM-DD, or 长期 for no end)")
    return day


ValidUntil = Annotated[date, BeforeValidator(_valid_until),
                       WithJsonSchema({"type": "string", "description":
                                       "YYYY-MM-DD, or 长期 (no end)"})]


def _website_name(value: object) -> str:
    name = _text(value)
    if len(name) < 3:
        _fail("website_name_short", "网站名称至少 3 个字符",
              "website name needs at least 3 characters")
    if ids.is_domain_like(name):
        _fail("website_name_domain", "网站名称不能是域名或网址",
              "website name must not be a domain or URL")
    return name


Str = Annotated[str, BeforeValidator(_text)]
Identifier = Annotated[str, BeforeValidator(_plain_identifier)]
Mobile = Annotated[str, BeforeValidator(_identifier(ids.check_mobile)),
                   Field(examples=["13800000000"], description="1[3-9] and 9 digits")]
Landline = Annotated[str, BeforeValidator(_identifier(ids.check_landline)),
                     Field(examples=["0791-88888888"], description="area code-number")]
Phone = Annotated[str, BeforeValidator(_identifier(_phone)),
                  Field(description="a mobile or a landline")]
Email = Annotated[str, BeforeValidator(_identifier(ids.check_email)), Field(max_length=254)]
DomainName = Annotated[str, BeforeValidator(_identifier(ids.check_domain)),
                       Field(description="without www., scheme, path or port; IDN allowed")]
IpAddress = Annotated[str, BeforeValidator(_identifier(ids.check_ip)),
                      Field(description="public IPv4 or IPv6 address")]
Ref = Annotated[str, BeforeValidator(_identifier(_ref)),
                WithJsonSchema({"type": "string", "pattern": r"^[A-Za-z0-9._-]{1,64}$"})]
WebsiteName = Annotated[str, BeforeValidator(_website_name), Field(min_length=3, max_length=64)]


def _coded(enum: type[Nature] | type[FilingType], code: str, zh: str,
           en: str) -> BeforeValidator:
    """A before-validator accepting an enum's English code or Chinese label."""
    def validate(value: object) -> Nature | FilingType:
        text = _text(value)
        member = enum.parse(text)
        if member is None:
            shown = printable(text, 20)
            _fail(code, f"未知的{zh} {shown}；可选：" + "、".join(m.label for m in enum),
                  f"unknown {en} {shown}; allowed: "
                  + ", ".join(f"{m.code} ({m.label})" for m in enum))
        return member
    return BeforeValidator(validate)


NatureField = Annotated[Nature, _coded(Nature, "nature_unknown", "主办单位性质", "nature"),
                        WithJsonSchema({"type": "string", "enum": Nature.accepted()})]
def _preapproval(value: object) -> Preapproval:
    text = _text(value)
    member = Preapproval.parse(text)
    if member is None:
        shown = printable(text, 20)
        allowed = "、".join(f"{m.label}（{m.code}）" for m in Preapproval)
        _fail("preapproval_unknown", f"未知的前置审批内容 {shown}；可选：{allowed}",
              f"unknown pre-approval content {shown}; allowed: "
              + ", ".join(f"{m.code} {m.label}" for m in Preapproval))
    return member


PreapprovalField = Annotated[
    Preapproval, BeforeValidator(_preapproval),
    WithJsonSchema({"type": "string", "enum": Preapproval.accepted()})]
FilingTypeField = Annotated[
    FilingType, _coded(FilingType, "filing_type_unknown", "备案类型", "filing type"),
    WithJsonSchema({"type": "string", "enum": FilingType.accepted()})]


def _province(value: object, info: ValidationInfo) -> str:
    text = _text(value)
    province = _state(info).rules.find_province(text)
    if province is None:
        shown = printable(text, 20)
        _fail("province_unknown", f"未知的省份 {shown}（可写 江西、江西省、赣 或 jiangxi）",
              f"unknown province {shown} (write 江西, 江西省, 赣 or jiangxi)")
    return province.key


ProvinceKey = Annotated[str, BeforeValidator(_province),
                        Field(description="one of the 31 provinces; validated to its key")]


def _limit(maximum: int, *, minimum: int = 1) -> BeforeValidator:
    """Length limits checked before the items, so a huge list is refused without validating
    each item, and a list whose items are all wrong does not also report "too few"."""
    def validate(value: object) -> object:
        if isinstance(value, list) and len(value) > maximum:
            _fail("too_many", f"最多 {maximum} 项，实际 {len(value)} 项",
                  f"at most {maximum} items, got {len(value)}")
        if isinstance(value, list) and len(value) < minimum:
            _fail("too_few", f"至少 {minimum} 项", f"at least {minimum} item(s) needed")
        return value
    return BeforeValidator(validate)


def _bounds(minimum: int, maximum: int) -> Any:
    return Field(json_schema_extra={"minItems": minimum, "maxItems": maximum})


def _same_person(name_a: str, number_a: str, name_b: str, number_b: str) -> bool:
    """Same name (ignoring spacing) and same certificate number (ignoring its spelling)."""
    def key(name: str, number: str) -> tuple[str, str]:
        return re.sub(r"\s+", "", name), ids.compact(number).replace("-", "")
    return key(name_a, number_a) == key(name_b, number_b)


def _domain_item(value: object) -> object:
    """A domain is a bare string (its name) or a ``{name, registrar}`` object."""
    if isinstance(value, str):
        return {"name": value}
    if not isinstance(value, dict):
        zh, en = json_type(value)
        _fail("wrong_type", f"应为域名字符串或 {{name, registrar}} 对象，实际为{zh}",
              f"must be a domain string or a {{name, registrar}} object, got {en}")
    return value


# --- models --------------------------------------------------------------------------------

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    #: Optional keys added after records were first printed: left out of dumps when not
    #: given, so the content hash (the sheet's reference) of existing records stays the same.
    _omit_none: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _missing(cls, data: Any) -> Any:
        """null and empty strings are missing (contract §1): drop them before the fields."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items()
                    if v is not None and not (isinstance(v, str) and not v.strip())}
        return data


class Certificate(_Model):
    """证件: a type from the rules' certificate list and its number, checked by that type."""

    holder: ClassVar[Literal["person", "host"]] = "person"

    type: Str = Field(max_length=40, description="certificate type: name, code or alias")
    number: Identifier = Field(max_length=40)
    valid_until: ValidUntil | None = Field(
        None, description="有效期至 (optional): checked against the filing date")

    _omit_none: ClassVar[tuple[str, ...]] = ("valid_until",)

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        return _omitted(self, handler(self))

    @field_validator("valid_until")
    @classmethod
    def _after_birth(cls, value: date | None, info: ValidationInfo) -> date | None:
        number = info.data.get("number")
        cert = _state(info).rules.certificate(info.data["type"]) if "type" in info.data else None
        born = (acceptance.birth_date(number) if value is not None and isinstance(number, str)
                and cert is not None and cert.number in ("ric", "ric_hk_mo", "ric_tw")
                else None)
        if born is not None and value is not None and value < born:
            _fail("valid_until_before_birth",
                  "证件有效期早于证件上的出生日期，请核对有效期",
                  "the certificate's valid_until is before the birth date in its number; "
                  "check the date")
        return value

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str, info: ValidationInfo) -> str:
        state = _state(info)
        cert = state.rules.certificate(value)
        if cert is None:
            shown = printable(value, 20)
            _fail("certificate_type_unknown", f"未知的证件类型 {shown}",
                  f"unknown certificate type {shown}")
        if cls.holder == "person" and cert.holder != "person":
            _fail("certificate_type_mismatch", f"个人须使用个人证件，{cert.name} 是单位证件",
                  f"a person needs a person's certificate; {cert.name} is a unit's")
        nature = state.nature
        if cls.holder == "host" and nature is not None and not cert.fits(nature):
            _fail("certificate_type_mismatch",
                  f"证件类型 {cert.name} 与主办单位性质“{nature.label}”不符",
                  f"certificate type {cert.name} does not fit the nature {nature.code}")
        return cert.name

    @field_validator("number")
    @classmethod
    def _valid_number(cls, value: str, info: ValidationInfo) -> str:
        cert = _state(info).rules.certificate(info.data["type"]) if "type" in info.data else None
        try:
            match cert.number if cert else "other":
                case "ric":
                    return ids.check_ric(value)
                case "ric_hk_mo":
                    return ids.check_ric(value, kind="hk_mo")
                case "ric_tw":
                    return ids.check_ric(value, kind="tw")
                case "uscc":
                    return ids.check_uscc(value)
                case _:
                    return ids.check_other_certificate(value)
        except ids.IdentifierError as err:
            _fail_identifier(err)


def _omitted(model: _Model, data: Any) -> Any:
    """A dump without the model's ``_omit_none`` keys that are None."""
    if isinstance(data, dict):
        for key in model._omit_none:
            if data.get(key, 0) is None:
                del data[key]
    return data


class PersonCertificate(Certificate):
    """A person's certificate (居民身份证, 护照 …)."""


class HostCertificate(Certificate):
    """The host's certificate: a person's for ``personal``, else one fitting the nature."""

    holder: ClassVar[Literal["person", "host"]] = "host"


class Person(_Model):
    """A responsible person: the principal (主体负责人) or a website's manager (网站负责人)."""

    name: Str = Field(max_length=50)
    certificate: PersonCertificate
    mobile: Mobile
    office_phone: Landline | None = None
    email: Email
    emergency_phone: Phone | None = None

    @field_validator("emergency_phone")
    @classmethod
    def _not_the_mobile(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and value == info.data.get("mobile"):
            _fail("emergency_same_as_mobile", "应急电话不能与手机号码相同",
                  "emergency phone must differ from the mobile")
        return value


class LegalRepresentative(_Model):
    """A unit's legal representative (法定代表人): who signs its authorisation letters."""

    name: Str = Field(max_length=50)
    certificate: PersonCertificate


class Host(_Model):
    """网站主办者: the unit or person the filing is for."""

    nature: NatureField
    name: Str = Field(max_length=100)
    certificate: HostCertificate
    address: Str = Field(max_length=200)
    has_seal: bool = Field(True, strict=True,
                           description="units only; false prints 个体工商户无公章")
    principal: Person | None = Field(None, validate_default=True)
    legal_representative: LegalRepresentative | None = Field(
        None, description="units: 法定代表人 (name and certificate), for the letters a province "
                          "asks for when the principal or manager is someone else")
    residence_permit: ProvinceKey | None = Field(
        None, description="personal filers: the province of their residence permit (居住证)")

    _omit_none: ClassVar[tuple[str, ...]] = ("legal_representative", "residence_permit")

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        return _omitted(self, handler(self))

    @field_validator("has_seal")
    @classmethod
    def _seal_rule(cls, value: bool, info: ValidationInfo) -> bool:
        """A province may refuse a unit without a seal (浙江): its rule and source say why."""
        state = _state(info)
        nature = info.data.get("nature")
        rule = state.rules.no_seal_rule(state.province) if state.province else None
        if not value and nature is not None and nature.unit and rule and rule.action == "refuse":
            _fail("seal_required", f"{rule.text}（依据：{rule.source}，截至 {rule.as_of}）",
                  f"filings in {state.province.pinyin if state.province else ''} need the "
                  f"unit's seal even for a sole proprietorship; has_seal false is not accepted "
                  f"(rule: {rule.source}, as of {rule.as_of})")
        return value

    @field_validator("principal")
    @classmethod
    def _principal_rule(cls, value: Person | None, info: ValidationInfo) -> Person | None:
        nature = info.data.get("nature")
        if nature is None:
            return value
        if nature.unit and value is None:
            _fail("principal_required", "单位备案须填写主体负责人（principal）",
                  "a unit filing needs its principal (主体负责人)")
        cert = info.data.get("certificate")
        if (not nature.unit and value is not None and cert is not None and "name" in info.data
                and not _same_person(info.data["name"], cert.number, value.name,
                                     value.certificate.number)):
            _fail("principal_not_host", "个人备案的主体负责人须是本人（或省略）",
                  "in a personal filing the principal must be the applicant (or be left out)")
        return value


class Domain(_Model):
    """A domain of a website and, where the province asks for it, its registrar."""

    name: DomainName
    registrar: Str | None = Field(None, max_length=100, validate_default=True)
    holder: Str | None = Field(None, max_length=100,
                               description="the domain's real-name holder (实名持有人)")

    _omit_none: ClassVar[tuple[str, ...]] = ("holder",)

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        return _omitted(self, handler(self))

    @field_validator("registrar")
    @classmethod
    def _registrar_rule(cls, value: str | None, info: ValidationInfo) -> str | None:
        state = _state(info)
        if value is None and state.province and state.rules.registrar_required(state.province):
            _fail("registrar_required", f"{state.province.name}备案须注明每个域名的注册商",
                  f"filings in {state.province.pinyin} need the registrar of each domain: "
                  "{\"name\": …, \"registrar\": …}")
        return value


class Website(_Model):
    """One website: one check sheet."""

    name: WebsiteName
    domains: Annotated[
        tuple[Annotated[Domain, BeforeValidator(_domain_item,
                                                json_schema_input_type=str | Domain)], ...],
        _limit(MAX_DOMAINS), _bounds(1, MAX_DOMAINS)]
    homepage: Identifier | None = Field(
        None, max_length=2000, description="http(s) URL on one of the domains")
    filing_number: Identifier | None = Field(
        None, validate_default=True, description="赣ICP备2024012345号-1")
    ips: Annotated[tuple[IpAddress, ...], _limit(MAX_IPS), _bounds(1, MAX_IPS)] | None = Field(
        None, validate_default=True)
    manager: Person
    preapproval: Annotated[tuple[PreapprovalField, ...], _limit(len(Preapproval), minimum=0)] = \
        Field((), description="前置审批 content: news 新闻, publishing 出版, education 教育, "
                              "medical 医疗保健, drugs 药品和医疗器械, culture 文化, "
                              "broadcasting 广播电影电视节目, bulletin 电子公告")

    @field_validator("preapproval")
    @classmethod
    def _distinct_preapproval(cls, value: tuple[Preapproval, ...]) -> tuple[Preapproval, ...]:
        twice = [m for i, m in enumerate(value) if m in value[:i]]
        if twice:
            _fail("preapproval_duplicate", f"前置审批内容 {twice[0].label} 重复",
                  f"pre-approval content {twice[0].code} is listed twice")
        return value

    @field_validator("domains")
    @classmethod
    def _distinct_domains(cls, value: tuple[Domain, ...]) -> tuple[Domain, ...]:
        names = [d.name for d in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            _fail("domain_duplicate", f"域名 {twice[0]} 重复", f"domain {twice[0]} is listed twice")
        return value

    @field_validator("homepage")
    @classmethod
    def _homepage_rule(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        domains = tuple(d.name for d in info.data.get("domains", ()))
        try:
            return ids.check_homepage(value, domains)
        except ids.IdentifierError as err:
            _fail_identifier(err)

    @field_validator("filing_number")
    @classmethod
    def _filing_number_rule(cls, value: str | None, info: ValidationInfo) -> str | None:
        state = _state(info)
        if value is None:
            if state.filing_type in (FilingType.NEW_ACCESS, FilingType.CHANGE):
                _fail("filing_number_required",
                      f"{state.filing_type.label}须填写网站备案号（filing_number）",
                      f"{state.filing_type.code} needs the website's filing number")
            return None
        try:
            number = ids.parse_filing_number(value, website=True)
        except ids.IdentifierError as err:
            _fail_identifier(err)
        owner = state.rules.province_of_abbreviation(number.abbreviation)
        shown = printable(str(number), 30)
        if owner is None:
            _fail("filing_number_province",
                  f"备案号 {shown} 的省份简称“{number.abbreviation}”不存在",
                  f"filing number {shown}: “{number.abbreviation}” is no province's abbreviation")
        if state.province is not None and owner.key != state.province.key:
            expected = "或".join(state.province.abbreviations)
            _fail("filing_number_province",
                  f"备案号 {shown} 属于{owner.name}，"
                  f"与备案省份{state.province.name}（{expected}）不符",
                  f"filing number {shown} belongs to {owner.pinyin}, not to the filing "
                  f"province {state.province.pinyin} ({expected})")
        return str(number)

    @field_validator("ips")
    @classmethod
    def _ips_rule(cls, value: tuple[str, ...] | None,
                  info: ValidationInfo) -> tuple[str, ...] | None:
        if value is None and _state(info).filing_type is FilingType.NEW_ACCESS:
            _fail("ips_required", "新增接入须填写网站的 IP 地址（ips）",
                  "new_access needs the website's IP addresses (ips)")
        return value

    @field_validator("manager")
    @classmethod
    def _manager_rule(cls, value: Person, info: ValidationInfo) -> Person:
        state = _state(info)
        if (state.nature is Nature.PERSONAL and state.host_name and state.host_number
                and not _same_person(state.host_name, state.host_number, value.name,
                                     value.certificate.number)):
            _fail("manager_not_host", "个人备案的网站负责人须是申请人本人（姓名和证件号码一致）",
                  "in a personal filing the website manager must be the applicant "
                  "(same name and certificate number)")
        return value


class Access(_Model):
    """接入信息: the provider and the applicant's account in its filing system."""

    provider: Str | None = Field(None, max_length=100, description="接入服务单位")
    username: Identifier | None = Field(None, max_length=64, validate_default=True)
    filing_password: SecretStr | None = Field(
        None, exclude=True, repr=False, max_length=128,
        description="备案密码: accepted, never printed, logged or echoed")

    @field_validator("username")
    @classmethod
    def _username_rule(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and _state(info).filing_type is FilingType.NEW_ACCESS:
            _fail("username_required", "新增接入须填写接入商备案系统的用户名（access.username）",
                  "new_access needs the username in the provider's filing system")
        return value


class Applicant(_Model):
    """One applicant: one JSON object, one check sheet per website."""

    ref: Ref | None = None
    province: ProvinceKey
    filing_type: FilingTypeField
    host: Host
    websites: Annotated[tuple[Website, ...], _limit(MAX_WEBSITES), _bounds(1, MAX_WEBSITES)]
    access: Access = Field(default_factory=dict, validate_default=True)
    special_site: bool = Field(False, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _peek(cls, data: Any, info: ValidationInfo) -> Any:
        """Fill the validation context with the facts cross-field rules need.

        Uses the same parsers as the fields; a value that does not parse stays unknown here
        (its own field reports it) and the rules that need it are skipped.
        """
        if not isinstance(data, dict) or not isinstance(info.context, dict):
            return data
        state = info.context.get(_STATE)
        if not isinstance(state, _State):
            return data

        def peek(parse: Callable[[str], Any], value: object, *, fold: bool = False) -> Any:
            try:
                text = _clean(value, fold=fold)
            except PydanticCustomError:
                return None
            return parse(text) if text else None

        state.province = peek(state.rules.find_province, data.get("province"))
        state.filing_type = peek(FilingType.parse, data.get("filing_type"))
        host = data.get("host")
        if isinstance(host, dict):
            state.nature = peek(Nature.parse, host.get("nature"))
            state.host_name = peek(str, host.get("name"))
            cert = host.get("certificate")
            if isinstance(cert, dict):
                state.host_number = peek(str, cert.get("number"), fold=True)
        return data

    @field_validator("websites")
    @classmethod
    def _domains_once(cls, value: tuple[Website, ...]) -> tuple[Website, ...]:
        seen: dict[str, int] = {}
        for i, website in enumerate(value):
            for domain in website.domains:
                first = seen.setdefault(domain.name, i)
                if first != i:
                    _fail("domain_duplicate",
                          f"域名 {domain.name} 同时出现在 websites[{first}] 和 websites[{i}]",
                          f"domain {domain.name} is in websites[{first}] and websites[{i}]; "
                          "a domain belongs to one website")
        return value

    @property
    def unit(self) -> bool:
        """A unit (non-personal) filing."""
        return self.host.nature.unit


# --- entry points --------------------------------------------------------------------------

def parse_applicant(data: object, rules: Rules | None = None) -> Applicant:
    """Validate one parsed JSON value as an applicant; raise with **all** its problems.

    ``rules`` defaults to the built-in rules. Raises :class:`InvalidDataError` whose
    ``problems`` list every problem (path, code, message), at most :data:`MAX_PROBLEMS`.
    """
    if not isinstance(data, dict):
        raise InvalidDataError("invalid applicant data: not an object",
                               problems=[object_expected(data)])
    state = _State(rules or load_rules())
    # A key with a lone surrogate makes pydantic refuse the whole document ("invalid value"
    # at no path): such keys are reported here, by their path, and left out of the rest of
    # the validation (no contract key has one), which then reports everything else.
    bad_keys = list(_unsafe_keys(data, []))
    if bad_keys:
        data = _without_keys(data, {id(parent) for parent, _, _ in bad_keys})
    problems = [problem for _, _, problem in bad_keys]
    try:
        applicant = Applicant.model_validate(data, context={_STATE: state})
    except ValidationError as exc:
        problems += _problems(exc, data)
    else:
        if not problems:
            return applicant
    if len(problems) > MAX_PROBLEMS + 1:  # many bad keys and many other problems
        problems = [*problems[:MAX_PROBLEMS], _too_many(len(problems) - MAX_PROBLEMS)]
    raise InvalidDataError(
        f"invalid applicant data: {len(problems)} problem{'s' if len(problems) != 1 else ''}",
        problems=problems)


def _unsafe_keys(value: object, path: list[int | str]
                 ) -> Iterator[tuple[dict[str, Any], str, Problem]]:
    """Every object key with a lone surrogate: its object, the key and the problem at its path.

    Lone surrogates (``"\\ud800"`` in JSON) are the one kind of character a key can hold that
    pydantic cannot even read; other odd keys are unknown keys, reported as such.
    """
    stack: list[tuple[object, list[int | str]]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                surrogate = next((i for i, ch in enumerate(key)
                                  if unicodedata.category(ch) == "Cs"), None)
                if surrogate is not None:
                    shown = f"U+{ord(key[surrogate]):04X}"
                    name = printable(key, 40)
                    yield item, key, Problem(
                        json_path([*where, key]), "unsafe_character",
                        f"键 {name} 的第 {surrogate + 1} 个字符 {shown} 是代理字符，不能使用 / "
                        f"key {name}: character {surrogate + 1} is {shown}, a lone surrogate "
                        "(not a character); remove it")
                else:
                    stack.append((child, [*where, key]))
        elif isinstance(item, list):
            stack.extend((child, [*where, i]) for i, child in enumerate(item))


def _without_keys(value: object, parents: set[int]) -> Any:
    """A copy of ``value`` without the surrogate keys of the objects in ``parents`` (by id)."""
    if isinstance(value, dict):
        return {key: _without_keys(child, parents) for key, child in value.items()
                if not (id(value) in parents
                        and any(unicodedata.category(ch) == "Cs" for ch in key))}
    if isinstance(value, list):
        return [_without_keys(child, parents) for child in value]
    return value


@dataclass(frozen=True)
class CheckResult:
    """The validation of one record of a document (``index`` None: the document is one object)."""

    index: int | None
    applicant: Applicant | None
    problems: tuple[Problem, ...]
    line: int | None = None  # where the record starts, in JSON Lines
    # A valid record's values still from `sheetgen example` (filled in by the caller, which
    # knows the samples: sheetgen.documents.example.applicant_warnings).
    warnings: tuple[Problem, ...] = ()
    rows: tuple[int, ...] = ()     # a spreadsheet record's rows (its problems name them)

    @property
    def ok(self) -> bool:
        return self.applicant is not None

    def as_dict(self, rules: Rules) -> dict[str, Any]:
        """The record's part of ``sheetgen check --json``."""
        applicant = self.applicant
        rows = {"rows": list(self.rows)} if self.rows else {}
        return {"ok": self.ok, **rows, **problem_fields(self.problems),
                "warnings": [w.as_dict() for w in self.warnings],
                "websites": len(applicant.websites) if applicant else 0,
                "variant": rules.province(applicant.province).variant if applicant else None}

    def located(self, problems: Sequence[Problem] | None = None) -> tuple[Problem, ...]:
        """The problems (or ``problems``, e.g. the warnings) with paths prefixed by the
        record's index in an array (``[2].host``) or its line in JSON Lines (``line 3:
        host``); a spreadsheet record's problems name their row instead."""
        chosen = tuple(self.problems if problems is None else problems)
        if self.line is not None and self.index is None:
            return tuple(replace(p, path=f"line {self.line}" + (f": {p.path}" if p.path else ""))
                         for p in chosen)
        if self.index is None or self.rows:
            return chosen
        prefix = f"[{self.index}]"
        return tuple(replace(p, path=prefix + ("" if not p.path or p.path.startswith("[")
                                                else ".") + p.path) for p in chosen)


def preflight(applicant: Applicant, rules: Rules, today: date | None = None) -> list[Problem]:
    """The acceptance rules' problems of a valid applicant (:mod:`sheetgen.rules.acceptance`):
    errors and warnings, each with its ``severity``; ``today`` is the filing date (default:
    ``SOURCE_DATE_EPOCH``, else today)."""
    return acceptance.evaluate(applicant, rules, today)


def accept(applicant: Applicant, rules: Rules, today: date | None = None) -> list[Problem]:
    """The acceptance warnings of ``applicant``; raises InvalidDataError with its acceptance
    errors (and the warnings after them) when there are any: the record fails."""
    problems = preflight(applicant, rules, today)
    errors, warnings = acceptance.split(problems)
    if errors:
        raise InvalidDataError(
            f"the filing would be rejected: {len(errors)} problem"
            f"{'s' if len(errors) != 1 else ''}", problems=[*errors, *warnings])
    return warnings


def _preflight_run(results: list[CheckResult], values: Sequence[object], rules: Rules,
                   today: date | None,
                   locate: Callable[[int, Iterable[Problem]], tuple[Problem, ...]] | None = None
                   ) -> list[CheckResult]:
    """The acceptance rules over a run's valid records (``values``: each result's raw JSON),
    ``contact_shared`` across them too: errors fail a record, warnings are added to it."""
    shared = acceptance.SharedContacts(rules)
    names = [_run_name(result, value) for result, value in zip(results, values, strict=True)]
    for i, (result, value) in enumerate(zip(results, values, strict=True)):
        if result.applicant is not None:
            shared.add(i, value, names[i])
    out = []
    for i, result in enumerate(results):
        if result.applicant is None:
            out.append(result)
            continue
        problems = preflight(result.applicant, rules, today) + shared.problems(i)
        if locate is not None:
            problems = list(locate(i, problems))
        errors, warnings = acceptance.split(problems)
        out.append(replace(result, applicant=None if errors else result.applicant,
                           problems=tuple(errors), warnings=(*result.warnings, *warnings)))
    return out


def _run_name(result: CheckResult, value: object) -> str:
    """How another record of the run names this one: its ``ref``, else its place."""
    ref = value.get("ref") if isinstance(value, dict) else None
    if isinstance(ref, str) and ref.strip():
        return ref.strip()
    if result.rows:
        return f"row {result.rows[0]}"
    if result.line is not None and result.index is None:
        return f"line {result.line}"
    return f"[{result.index}]" if result.index is not None else "record"


def check_document(data: bytes, *, source: str, rules: Rules | None = None,
                   today: date | None = None) -> list[CheckResult]:
    """Validate a document of one applicant (an object) or many (an array, or JSON Lines:
    one applicant per line), record by record.

    Read as batch reads it: ``.jsonl`` is JSON Lines, ``.json`` one document, any other name
    (``<stdin>``) JSON Lines when it is not one JSON value and :func:`sniff_lines` says so.
    A document that cannot be read (not JSON, too large …) is one failed result, and so is
    each broken line of JSON Lines; an empty array is one failed result (``no_records``).
    Never raises InvalidDataError. Valid records then go through the acceptance rules
    (:func:`preflight`, filing date ``today``), ``contact_shared`` across the document too.
    """
    rules = rules or load_rules()
    suffix = source.lower().rpartition(".")[2] if "." in source else ""
    try:
        value = parse_json(data, source=source)
    except InvalidDataError as err:
        if suffix == "jsonl" or (suffix != "json" and sniff_lines(data[:MAX_SNIFF])):
            return _check_lines(data, source, rules, today)
        return [CheckResult(None, None, tuple(err.problems))]
    if suffix == "jsonl":
        return _check_lines(data, source, rules, today)
    if not isinstance(value, list):
        return _preflight_run([_check(None, value, rules)], [value], rules, today)
    if not value:
        return [CheckResult(None, None, (Problem("", "no_records", "空数组，没有申请人 / "
                                                             "empty array: no applicants"),))]
    return _preflight_run([_check(i, record, rules) for i, record in enumerate(value)], value,
                          rules, today)


def applicant_problems(value: object, rules: Rules | None = None) -> tuple[Problem, ...]:
    """The problems of an applicant's JSON value (none when it is valid)."""
    try:
        parse_applicant(value, rules)
    except InvalidDataError as err:
        return tuple(err.problems)
    return ()


def check_records(records: Iterable[Record], rules: Rules | None = None,
                  today: date | None = None) -> list[CheckResult]:
    """Validate a stream of records (a spreadsheet's): each problem located by row and column;
    a group of rows with cell problems gets its value's other problems too (issue 27.9); then
    the acceptance rules, as :func:`check_document`."""
    from sheetgen.sources.spreadsheet import locate, merge_problems

    rules = rules or load_rules()
    results = []
    kept: list[Record] = []
    for index, record in enumerate(records):
        kept.append(record)
        problems: tuple[Problem, ...] = ()
        applicant = None
        if record.error is not None:
            problems = tuple(record.error.problems)
            if record.value is not None and record.rows:
                problems = merge_problems(problems, locate(
                    record, applicant_problems(record.value, rules)))
        else:
            try:
                applicant = parse_applicant(record.value, rules)
            except InvalidDataError as err:
                problems = locate(record, err.problems)
        # A file that gave no rows (unreadable, a bad header) is not a record of its own.
        results.append(CheckResult(index if record.rows else None, applicant, problems,
                                   rows=record.rows))
    return _preflight_run(results, [r.value for r in kept], rules, today,
                          lambda i, problems: locate(kept[i], problems))


#: Bytes of a document looked at to tell JSON Lines (its first two lines; see sniff_lines).
MAX_SNIFF = 2 * (5 * 1024 * 1024 + 1)


def _check_lines(data: bytes, source: str, rules: Rules,
                 today: date | None = None) -> list[CheckResult]:
    results = []
    values: list[object] = []
    for record in read_lines(data, source=source):
        values.append(record.value)
        if record.error is not None:
            results.append(CheckResult(None, None, tuple(record.error.problems), record.line))
        else:
            result = _check(None, record.value, rules)
            results.append(CheckResult(None, result.applicant, result.problems, record.line,
                                       result.warnings))
    if not results:
        return [CheckResult(None, None, (Problem("", "no_records", "没有申请人 / no applicants"),))]
    return _preflight_run(results, values, rules, today)


def _check(index: int | None, record: object, rules: Rules) -> CheckResult:
    try:
        return CheckResult(index, parse_applicant(record, rules), ())
    except InvalidDataError as err:
        return CheckResult(index, None, tuple(err.problems))


def clean_provider(value: str, rules: Rules | None = None) -> str:
    """The ``--provider`` option, checked as ``access.provider`` is (one line, at most 100)."""
    state = _State(rules or load_rules())
    try:
        access = Access.model_validate({"provider": value}, context={_STATE: state})
    except ValidationError as exc:
        problem = _problems(exc, {"provider": value})[0]
        raise UsageError(f"--provider: {problem.message}") from None
    return access.provider or ""


def _problems(exc: ValidationError, data: object) -> list[Problem]:
    errors = exc.errors(include_url=False, include_input=False, include_context=True)
    problems = [_problem(err["type"], err["loc"], err.get("ctx") or {}, data)
                for err in errors[:MAX_PROBLEMS]]
    if len(errors) > MAX_PROBLEMS:
        problems.append(_too_many(len(errors) - MAX_PROBLEMS))
    return problems


def _too_many(more: int) -> Problem:
    return Problem("", "too_many_errors", f"另有 {more} 个问题未列出，请先修正以上问题 / "
                                          f"{more} more problems not listed; fix these first")


_EXPECTED = {
    "string_type": ("字符串", "a string"),
    "bool_type": ("true 或 false", "true or false"),
    "tuple_type": ("数组", "an array"),
    "list_type": ("数组", "an array"),
    "model_type": ("对象", "an object"),
    "dict_type": ("对象", "an object"),
    "model_attributes_type": ("对象", "an object"),
}


def _problem(kind: str, loc: tuple[int | str, ...], ctx: dict[str, Any],
             data: object) -> Problem:
    """One pydantic error as a Problem, built from its type and context only (never input)."""
    parts, value = _locate(loc, data)
    path = json_path(parts)
    if "message" in ctx and isinstance(ctx["message"], str):
        return Problem(path, kind, ctx["message"])
    if kind == "missing":
        return Problem(path, "required", "缺少必填项 / required value is missing")
    if kind == "extra_forbidden":
        return _unknown_key(path, loc)
    if kind in _EXPECTED:
        want_zh, want_en = _EXPECTED[kind]
        got_zh, got_en = json_type(value)
        return Problem(path, "wrong_type", f"应为{want_zh}，实际为{got_zh} / must be {want_en}, "
                                           f"got {got_en}")
    most = ctx.get("max_length")
    if kind == "string_too_long" or (kind == "too_long" and isinstance(value, str)):
        return Problem(path, "too_long", f"过长，最多 {most} 个字符 / too long: at most {most} "
                                         "characters")
    if kind == "too_long":
        return Problem(path, "too_many", f"最多 {most} 项 / at most {most} items")
    return Problem(path, "invalid", f"值无效 / invalid value ({kind})")


def _locate(loc: tuple[int | str, ...], data: object) -> tuple[list[int | str], object]:
    """The user's path of ``loc`` and the raw value there.

    The path stops where the raw data stops being a container: a domain given as a bare
    string reports at ``domains[1]``, not at a ``registrar`` key the user never wrote.
    """
    parts: list[int | str] = []
    current: object = data
    for part in loc:
        if isinstance(current, dict) and isinstance(part, str):
            current = current.get(part)
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        elif isinstance(current, str | int | float | bool):
            break
        else:
            current = None
        parts.append(part)
    return parts, current


def _submodels(annotation: object, many: bool = False) -> Iterator[tuple[type[BaseModel], bool]]:
    """The models inside a field's type, each with whether it is an item of a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, many
        return
    args = get_args(annotation)
    if get_origin(annotation) is Annotated:
        yield from _submodels(args[0], many)
        return
    many = many or get_origin(annotation) in (tuple, list)
    for arg in args:
        yield from _submodels(arg, many)


def _places(model: type[BaseModel], where: str = "") -> dict[str, type[BaseModel]]:
    """Every place of the document where an object goes (``websites[].manager``) and its model."""
    places = {where: model}
    for name, info in model.model_fields.items():
        for sub, many in _submodels(info.annotation):
            places.update(_places(sub, (f"{where}.{name}" if where else name)
                                  + ("[]" if many else "")))
    return places


#: Where each kind of object goes, and for each key the places where it is a key.
_PLACES = _places(Applicant)
_KEY_PLACES: dict[str, list[str]] = {}
for _where, _model in _PLACES.items():
    for _key in _model.model_fields:
        _KEY_PLACES.setdefault(_key, []).append(_where)


def _place(loc: tuple[int | str, ...]) -> str:
    """The place pattern of an object's location: ``("websites", 0, "manager")`` →
    ``websites[].manager``."""
    out = ""
    for part in loc:
        out += "[]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _unknown_key(path: str, loc: tuple[int | str, ...]) -> Problem:
    """An unknown key: where it belongs if it is a key elsewhere, else the closest key here."""
    key = str(loc[-1])
    here = _place(loc[:-1])
    shown = printable(key, 40)
    elsewhere = _KEY_PLACES.get(key)
    if elsewhere:
        spots = [spot or "(top level)" for spot in elsewhere]
        level = here or "the top level"
        zh = f"键 {shown} 不能写在这里（{here or '最外层'}），应写在 {' 或 '.join(spots)} 中"
        return Problem(path, "unknown_key", f"{zh} / key {shown} does not belong in {level}; "
                                            f"it goes in {' or '.join(spots)}")
    model = _PLACES.get(here)
    local = list(model.model_fields) if model is not None else []
    hint = (difflib.get_close_matches(key, local, n=1)
            or difflib.get_close_matches(key, sorted(_KEY_PLACES), n=1))
    zh = f"未知的键 {shown}" + (f"，是否应为 “{hint[0]}”？" if hint else "")
    en = f"unknown key {shown}" + (f" (did you mean “{hint[0]}”?)" if hint else "")
    return Problem(path, "unknown_key", f"{zh} / {en}")


def json_schema(rules: Rules | None = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one applicant, with the rules' accepted names."""
    rules = rules or load_rules()
    schema = Applicant.model_json_schema(mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "title": "sheetgen applicant", **schema}
    schema["description"] = (
        "One applicant for ICP filing check sheets (网站备案信息真实性核验单); see "
        "contract.md §1. Checksums and cross-field rules (principal for units, filing "
        "numbers for new_access/change, registrar in Beijing …) are checked by "
        "`sheetgen check`.")
    province = schema["properties"]["province"]
    province["enum"] = sorted({name for p in rules.provinces for name in p.names})
    defs = schema["$defs"]
    cert_names = {holder: sorted({n for c in rules.certificates if holder in ("any", c.holder)
                                  for n in (c.name, c.code, *c.aliases)})
                  for holder in ("person", "any")}
    defs["PersonCertificate"]["properties"]["type"]["enum"] = cert_names["person"]
    defs["HostCertificate"]["properties"]["type"]["enum"] = cert_names["any"]
    for node in (schema, *defs.values()):
        _required_text_not_empty(node)
    return schema


def _required_text_not_empty(node: dict[str, Any]) -> None:
    """``minLength: 1`` on an object's required strings and on strings in its arrays: the
    validator refuses ``""`` there (``required``), so the schema says so too and a client
    generated from it does not send one (issue 26.10)."""
    required = set(node.get("required", ()))
    for key, prop in node.get("properties", {}).items():
        items = prop.get("items", {})
        targets = [prop] if key in required else []
        targets += [items, *items.get("anyOf", ())] if isinstance(items, dict) else []
        for target in targets:
            if target.get("type") == "string" and "enum" not in target:
                target.setdefault("minLength", 1)
