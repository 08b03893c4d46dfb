"""Format and checksum checks of the identifiers in applicant data (domain.md §5).

Every check is a pure function that takes the text a user wrote and returns its canonical form,
or raises :class:`IdentifierError` with a stable problem code and a bilingual message in which
personal values are masked. Well-kept libraries do the real work where one exists:

* resident ID (GB 11643): ``stdnum.cn.ric`` for the check digit and the birth date, and
  python-stdnum's own GB/T 2260 region table for the region. Not ``ric.validate``: it also
  demands that the region existed in the *birth* year, but numbers were first issued from 1984
  and districts were created later (Pudong 310115 dates from 1992/93), so it rejects real
  numbers such as a Pudong resident born in 1985. Here the region must exist at *some* time.
* unified social credit code (GB 32100): ``stdnum.cn.uscc``.
* mobiles and landlines: ``phonenumbers`` (region CN) on top of the contract's formats, so a
  number must both look right and belong to an allocated range / real area code; a mobile
  of the right shape whose prefix is not a mobile range (129…) is told so.
* domains: ``idna`` (UTS 46), so internationalised domains (例子.中国) are accepted; the
  top-level domain must be in the ICANN section of the Public Suffix List as shipped by the
  ``publicsuffixlist`` package (maintained, updated with each release, never downloaded at
  run time), so reserved and special-use names (``.test``, ``.local``, ``.localhost``,
  ``.invalid``, ``.example``: RFC 6761/6762) and unassigned ones (``.zz``) are refused, and
  so is a name that is itself a public suffix (``com.cn``). The list also carries two
  special-use names that no website can use, ``onion`` (RFC 7686, Tor only) and ``arpa``
  (RFC 3172, infrastructure): those two are refused by name (:data:`_SPECIAL_USE` also
  gives the reason shown for the reserved names the list does not have).
* IP addresses: :mod:`ipaddress` (``is_global``, multicast, reserved, site-local).
* e-mail: a deliberately simple rule (see :func:`check_email`); its domain is held to the same
  top-level-domain rule as website domains.

Callers pass text that is already NFC-normalised and stripped; these functions fold full-width
ASCII themselves (:func:`fold_fullwidth`) because identifiers are often typed with a Chinese IME.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, Literal
from urllib.parse import urlsplit

import idna
import phonenumbers
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, ValidationError

from sheetgen.sources.json import printable

#: Full-width ASCII forms (U+FF01–U+FF5E) and the ideographic space (U+3000), mapped to ASCII.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


class IdentifierError(ValueError):
    """An identifier is malformed: ``code`` is the stable problem code, ``message`` bilingual."""

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = f"{zh} / {en}"


def fold_fullwidth(text: str) -> str:
    """Full-width ASCII (Ａ１＠．) and U+3000 become their ASCII forms (A1@. and space)."""
    return text.translate(_FULLWIDTH)


def compact(text: str) -> str:
    """The canonical spelling of a code-like identifier: ASCII, upper case, no spaces."""
    return re.sub(r"\s+", "", fold_fullwidth(text)).upper()


def mask(value: str, keep: int = 4) -> str:
    """``value`` with all but its last ``keep`` characters replaced by ``*``."""
    shown = value[-keep:] if len(value) > keep else ""
    return "*" * (len(value) - len(shown)) + shown


def mask_mobile(value: str) -> str:
    """A mobile number as 138****0000 (operators' own convention)."""
    return value[:3] + "****" + value[-4:] if len(value) == 11 else mask(value)


# --- resident ID (居民身份证, GB 11643-1999) and the residence permits that share its format --

RicKind = Literal["mainland", "hk_mo", "tw"]

#: Residence permits of Hong Kong/Macau and Taiwan residents use the resident-ID format with a
#: fixed region code (国务院办公厅 2018: 810000 Hong Kong, 820000 Macau, 830000 Taiwan).
_PERMIT_REGIONS: dict[RicKind, frozenset[str]] = {
    "hk_mo": frozenset({"810000", "820000"}),
    "tw": frozenset({"830000"}),
}
_RIC_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


def region_exists(code: str) -> bool:
    """Whether ``code`` is a GB/T 2260 county-level code at any time (python-stdnum's table)."""
    return code in _county_codes()


@cache
def _county_codes() -> frozenset[str]:
    """Every 6-digit code that python-stdnum's GB/T 2260 table lists with a ``county`` name.

    This is what ``numdb.get("cn/loc").info(code)`` answers (two parts, the second with a
    county), read straight from the same file: stdnum's general reader parses each of its
    7000 lines with regular expressions into a prefix tree, about 0.05 s of every fill, where
    the table has only two shapes of line (``11 province="…"``, then ``  0101 county="…"``
    below it). A line of another shape (a range, a third level: a newer stdnum may write them)
    makes this fall back to stdnum's own reader, so the answer stays stdnum's.
    """
    from importlib.resources import files

    text = files("stdnum").joinpath("cn", "loc.dat").read_text("utf-8")
    codes: list[str] = []
    province = ""
    for line in text.splitlines():
        if line[:2] == "  " and line[6:7] == " " and line[2:6].isdigit() and province:
            if 'county="' in line:
                codes.append(province + line[2:6])
        elif line[2:3] == " " and line[:2].isdigit():
            province = line[:2]
        elif line and line[0] != "#":
            return _numdb_county_codes()
    return frozenset(codes)


def _numdb_county_codes() -> frozenset[str]:
    """The county codes through stdnum's reader, for a table this module cannot read itself."""
    from stdnum import numdb

    codes: set[str] = set()
    for length, low, high, _, children in numdb.get("cn/loc").prefixes:
        if length != 2 or low != high:
            continue
        for length2, low2, high2, props, _ in children:
            if "county" in props and length2 == 4:
                codes.update(f"{low}{n:04d}" for n in range(int(low2), int(high2) + 1))
    return frozenset(codes)


def check_ric(text: str, *, kind: RicKind = "mainland") -> str:
    """A resident ID number (or residence permit number of the same format), canonical."""
    number = compact(text).replace("-", "")
    shown = mask(number)
    if not _RIC_SHAPE.fullmatch(number):
        raise IdentifierError(
            "ric_format", f"身份证号码 {shown} 应为 17 位数字加 1 位数字或 X",
            f"resident ID {shown} must be 17 digits and a digit or X")
    if ric.calc_check_digit(number) != number[-1]:
        raise IdentifierError("ric_checksum", f"身份证号码 {shown} 校验位错误",
                              f"resident ID {shown}: check digit is wrong")
    try:
        birth = ric.get_birth_date(number)
    except ValidationError:
        birth = None
    if birth is None or birth.year < 1900 or birth > date.today():
        raise IdentifierError("ric_birth_date", f"身份证号码 {shown} 中的出生日期无效",
                              f"resident ID {shown}: the birth date in it is not a real date")
    region = number[:6]
    # The region table also lists Taiwan, Hong Kong and Macau, whose codes appear only on
    # residence permits, never on a mainland resident ID.
    valid_region = (region in _PERMIT_REGIONS[kind]) if kind != "mainland" else (
        region[:2] not in {"71", "81", "82", "83"} and region_exists(region))
    if not valid_region:
        raise IdentifierError("ric_region",
                              f"证件号码 {shown} 的前六位地区码不存在或与证件类型不符",
                              f"ID {shown}: the region code (first six digits) does not exist "
                              "or does not fit the certificate type")
    return number


# --- unified social credit code (统一社会信用代码, GB 32100-2015) -----------------------------

def check_uscc(text: str) -> str:
    """A unified social credit code, canonical (18 characters, upper case)."""
    number = compact(text).replace("-", "")
    shown = mask(number)
    try:
        return str(uscc.validate(number))
    except InvalidChecksum:
        raise IdentifierError("uscc_checksum", f"统一社会信用代码 {shown} 校验位错误",
                              f"unified social credit code {shown}: check character is "
                              "wrong") from None
    except ValidationError:
        raise IdentifierError("uscc_format", f"统一社会信用代码 {shown} 格式错误（应为 18 位）",
                              f"unified social credit code {shown} is malformed (18 characters "
                              "of 0-9 and A-Y without I O S V Z)") from None


_OTHER_CERTIFICATE = re.compile(r"[A-Z0-9][A-Z0-9()\-]{3,31}")


def check_other_certificate(text: str) -> str:
    """A certificate number without a known checksum (passport, permits): plausible shape."""
    number = compact(text)
    if not _OTHER_CERTIFICATE.fullmatch(number):
        shown = mask(number)
        raise IdentifierError(
            "certificate_number_format", f"证件号码 {shown} 格式错误",
            f"certificate number {shown} is malformed (4–32 letters, digits, hyphens)")
    return number


# --- phones ---------------------------------------------------------------------------------

_MOBILE = re.compile(r"1[0-9]{10}")
_LANDLINE = re.compile(r"0[0-9]{2,3}-[0-9]{7,8}")
_PHONE_PUNCTUATION = re.compile(r"[\s\-()]")


def _national(text: str) -> str:
    """Digits of a Chinese number with separators and a +86/0086 prefix removed."""
    digits = _PHONE_PUNCTUATION.sub("", fold_fullwidth(text))
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            return digits[len(prefix):]
    return digits


def _parse_cn(digits: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(digits, "CN")
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number_for_region(number, "CN") else None


def check_mobile(text: str) -> str:
    """A mainland mobile number, canonical as 11 digits."""
    digits = _national(text)
    shown = mask_mobile(digits) if digits.isascii() else "…"
    if not _MOBILE.fullmatch(digits):
        raise IdentifierError("mobile_format", f"手机号码 {shown} 无效（应为 1 开头的 11 位号码）",
                              f"mobile number {shown} is not valid (11 digits starting with 1)")
    number = _parse_cn(digits)
    if number is None or phonenumbers.number_type(number) not in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        # The shape is right: say what is wrong with it (phonenumbers' CN ranges).
        prefix = digits[:3]
        raise IdentifierError("mobile_format",
                              f"手机号码 {shown} 无效：号段 {prefix} 不是已分配的手机号段",
                              f"mobile number {shown} is not valid: the prefix {prefix} is not "
                              "assigned to mobile numbers in mainland China")
    return digits


def check_landline(text: str) -> str:
    """A mainland landline, canonical as ``0<area code>-<number>`` (0791-88888888)."""
    digits = _national(text)
    if not digits.startswith("0"):
        digits = "0" + digits  # written as 791 8888 8888 or +86 791 8888 8888
    number = _parse_cn(digits) if digits.isascii() and digits.isdigit() else None
    if number is not None and phonenumbers.number_type(number) in (
            phonenumbers.PhoneNumberType.FIXED_LINE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        national = str(number.national_number)
        area = phonenumbers.length_of_geographical_area_code(number)
        canonical = f"0{national[:area]}-{national[area:]}"
        if area and _LANDLINE.fullmatch(canonical):
            return canonical
    shown = mask(digits) if digits.isascii() else "…"
    raise IdentifierError("landline_format",
                          f"座机号码 {shown} 无效（应为 区号-号码，如 0791-88888888）",
                          f"landline {shown} is not valid (area code, hyphen, number: "
                          "0791-88888888)")


# --- e-mail, domains, IP addresses ----------------------------------------------------------

_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_TLD = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")


def _hostname(text: str) -> str | None:
    """The ASCII (punycode) form of a valid host name with a plausible TLD, else None."""
    name = text.lower().removesuffix(".")
    if not name or len(name) > 253 or re.search(r"[\s/:?#@\[\]\\]", name):
        return None
    try:
        ascii_name: str = idna.encode(name, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return None
    labels = ascii_name.split(".")
    if len(labels) < 2 or not _TLD.fullmatch(labels[-1]):
        return None
    return ascii_name


#: Special-use names (IANA's Special-Use Domain Names registry) and why a website cannot use
#: them. ``onion`` and ``arpa`` are in the Public Suffix List and refused here; the others
#: are absent from it (that is what refuses them) and listed only for the reason shown.
_SPECIAL_USE = {
    "onion": ("RFC 7686 为 Tor 隐藏服务保留，互联网上无法访问",
              "reserved for Tor onion services (RFC 7686), not reachable on the Internet"),
    "arpa": ("RFC 3172 为互联网基础设施保留", "reserved for Internet infrastructure (RFC 3172)"),
    "test": ("RFC 6761 为测试保留", "reserved for testing (RFC 6761)"),
    "example": ("RFC 6761 为文档示例保留", "reserved for documentation examples (RFC 6761)"),
    "invalid": ("RFC 6761 保留为无效域名", "reserved as always invalid (RFC 6761)"),
    "localhost": ("RFC 6761 为本机保留", "reserved for the local computer (RFC 6761)"),
    "local": ("RFC 6762 为局域网 mDNS 保留", "reserved for local networks, mDNS (RFC 6762)"),
    "alt": ("RFC 9476 为非 DNS 命名系统保留", "reserved for non-DNS name systems (RFC 9476)"),
}


@cache
def _suffixes() -> Any:
    """The ICANN section of the Public Suffix List bundled with ``publicsuffixlist``, parsed
    once per process. Queried with Unicode names, so its punycode forms are not generated.

    The section is cut out of the file here and only its rules are handed to the parser:
    ``only_icann=True`` would have it decode and test every line of the whole list (the
    private section included) in Python, about twice the time, for the same set of rules.
    """
    from pathlib import Path

    from publicsuffixlist import PSLFILE, PublicSuffixList

    text = Path(PSLFILE).read_text(encoding="utf-8", errors="surrogateescape")
    begin, end = "// ===BEGIN ICANN DOMAINS===", "// ===END ICANN DOMAINS==="
    start = text.find(f"\n{begin}\n")
    stop = text.find(f"\n{end}", start + 1)
    if start < 0 or stop < 0:  # not the layout this was written for: let the package cut it
        return PublicSuffixList(only_icann=True, accept_unknown=False,
                                accept_encoded_idn=False)
    rules = [line for line in text[start + len(begin) + 2:stop].splitlines()
             if line.strip() and not line.startswith("//")]
    return PublicSuffixList(rules, accept_unknown=False, accept_encoded_idn=False)


def _suffix_problem(ascii_name: str) -> tuple[str, str] | None:
    """Why the valid host name ``ascii_name`` (punycode) is not a registrable Internet name
    (zh, en), or None when it is one: a top-level domain that does not exist or is reserved,
    or a name that is itself a public suffix."""
    name = str(idna.decode(ascii_name))
    tld = name.rsplit(".", 1)[-1]
    if tld in ("onion", "arpa"):
        zh, en = _SPECIAL_USE[tld]
        return f"顶级域 .{tld} 是特殊用途域名：{zh}", f"the top-level domain .{tld} is {en}"
    psl = _suffixes()
    if psl.publicsuffix(tld) is None:
        if tld in _SPECIAL_USE:
            zh, en = _SPECIAL_USE[tld]
            return (f"顶级域 .{tld} 是特殊用途的保留域名：{zh}，不能注册",
                    f"the top-level domain .{tld} is a special-use name {en}; it cannot be "
                    "registered")
        return (f"顶级域 .{tld} 不存在（不在公共后缀列表中）",
                f"the top-level domain .{tld} does not exist (it is not in the Public Suffix "
                "List)")
    if psl.privatesuffix(name) is None:
        suffix = psl.publicsuffix(name)
        return (f"{name} 是公共后缀（如 .{suffix}），不是可注册的域名",
                f"{name} is a public suffix (like .{suffix}), not a domain one can register")
    return None


def check_email(text: str) -> str:
    """An e-mail address, with its domain lower-cased.

    The rule is deliberately simple and documented: ``local@domain`` where the local part is
    dot-separated RFC 5322 "atext" (ASCII letters, digits and ``!#$%&'*+/=?^_`{|}~-``, at most
    64 characters), the domain is a valid (IDN allowed) host name under an existing top-level
    domain (as website domains), and the whole is at most 254 characters. Quoted local parts
    and IP-literal domains are refused: no provider accepts them in a filing.
    """
    address = fold_fullwidth(text).strip()
    local, at, domain = address.rpartition("@")
    host = _hostname(domain) if at else None
    if (host is None or len(address) > 254 or len(local) > 64
            or not _EMAIL_LOCAL.fullmatch(local)):
        raise IdentifierError("email_format", "电子邮箱格式错误（应如 name@example.cn）",
                              "e-mail address is malformed (like name@example.cn)")
    problem = _suffix_problem(host)
    if problem is not None:
        raise IdentifierError("email_domain", f"电子邮箱的域名无效：{problem[0]}",
                              f"the e-mail address's domain is not valid: {problem[1]}")
    return f"{local}@{idna.decode(host)}"


def check_domain(text: str) -> str:
    """A website domain, canonical in Unicode lower case (例子.中国, example.cn).

    Accepts internationalised names; refuses schemes, paths, ports, a ``www.`` prefix (the
    sheet lists domains without it), single labels, and names under a top-level domain that
    does not exist or is reserved, or that are a public suffix themselves (``domain_tld``).
    """
    name = fold_fullwidth(text).strip()
    shown = printable(name, 80)
    if re.match(r"[a-z][a-z0-9+.-]*://", name, re.IGNORECASE) or re.search(r"[/:?#@]", name):
        raise IdentifierError("domain_invalid", f"域名 {shown} 应只写域名本身，不含 http://、路径或端口",
                              f"domain {shown}: write the bare domain, without http://, a path "
                              "or a port")
    host = _hostname(name)
    if host is None:
        raise IdentifierError("domain_invalid", f"域名 {shown} 无效",
                              f"domain {shown} is not a valid domain name")
    if host.startswith("www."):
        raise IdentifierError("domain_www", f"域名 {shown} 不应带 www. 前缀",
                              f"domain {shown}: write it without the www. prefix")
    problem = _suffix_problem(host)
    if problem is not None:
        raise IdentifierError("domain_tld", f"域名 {shown} 无效：{problem[0]}",
                              f"domain {shown} is not valid: {problem[1]}")
    return str(idna.decode(host))


#: Chinese TLDs a website name could end in; other non-ASCII "TLDs" (Vue.js教程) are words.
_CHINESE_TLDS = ("中国", "中國", "公司", "网络", "在线", "网址", "网店", "商城", "集团", "我爱你")


def is_domain_like(text: str) -> bool:
    """Whether ``text`` reads as a domain or URL (website names must not be one)."""
    name = fold_fullwidth(text).strip()
    if re.match(r"https?://", name, re.IGNORECASE):
        return True
    host = _hostname(name)
    if host is None:
        return False
    tld = str(idna.decode(host)).rsplit(".", 1)[-1]
    return tld.isascii() or tld in _CHINESE_TLDS


def check_homepage(text: str, domains: tuple[str, ...]) -> str:
    """A homepage URL (http or https) on one of the website's domains or their subdomains."""
    url = fold_fullwidth(text).strip()
    shown = printable(url, 80)
    host = None
    try:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.username is None and (
                parts.port is None or parts.port > 0):  # .port raises on a malformed port
            host = _hostname(parts.hostname or "")
    except ValueError:
        pass
    if host is None:
        raise IdentifierError("homepage_format", f"首页地址 {shown} 无效（应如 https://example.cn）",
                              f"homepage {shown} is not a valid http(s) URL "
                              "(like https://example.cn)")
    unicode_host = str(idna.decode(host))
    if domains and not any(unicode_host == d or unicode_host.endswith("." + d) for d in domains):
        raise IdentifierError("homepage_domain", f"首页地址 {shown} 不在本网站的域名下",
                              f"homepage {shown} is not on one of this website's domains")
    return url


#: Documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are
#: allowed on purpose although not global: the contract's own example uses 203.0.113.7, and
#: examples must not use someone's real address.
_DOCUMENTATION = tuple(ipaddress.ip_network(n) for n in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"))
#: Shared address space for carrier-grade NAT (RFC 6598): neither private nor global.
_SHARED = ipaddress.ip_network("100.64.0.0/10")


def _not_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[str, str] | None:
    """Why ``address`` cannot be a website's public address (zh, en), or None."""
    if any(address in network for network in _DOCUMENTATION):
        return None
    if address.is_unspecified:
        return "未指定地址", "the unspecified address"
    if address.is_loopback:
        return "回环地址", "a loopback address"
    if address.is_link_local:
        return "链路本地地址", "a link-local address"
    if address.is_multicast:
        return "组播地址", "a multicast address"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "已废弃的站点本地地址（fec0::/10）", "a deprecated site-local address (fec0::/10)"
    if address in _SHARED:
        return "运营商级 NAT 共享地址（RFC 6598）", "shared carrier-grade NAT space (RFC 6598)"
    if address.is_private:
        return ("内网或特殊用途地址（IANA 特殊用途地址表）",
                "a private or special-purpose address (IANA special-purpose registry)")
    if address.is_reserved or not address.is_global:
        return "保留地址", "a reserved address"
    return None


def check_ip(text: str) -> str:
    """A public IPv4 or IPv6 address, canonical (compressed IPv6).

    Public means globally reachable as :mod:`ipaddress` knows it (``is_global``, from IANA's
    special-purpose registries) and neither multicast, reserved nor site-local; the
    documentation ranges are the one exception (see :data:`_DOCUMENTATION`).
    """
    value = fold_fullwidth(text).strip()
    shown = printable(value, 40)
    try:
        # A zone index (fe80::1%eth0) names a local interface: never a public address.
        address = ipaddress.ip_address(value) if "%" not in value else None
    except ValueError:
        address = None
    if address is None:
        raise IdentifierError("ip_format", f"IP 地址 {shown} 无效",
                              f"IP address {shown} is not a valid IPv4 or IPv6 address")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    why = _not_public(address)
    if why is not None:
        raise IdentifierError("ip_not_public",
                              f"IP 地址 {shown} 是{why[0]}，不能作为网站的公网 IP",
                              f"IP address {shown} is {why[1]}; a website needs a public "
                              "address")
    return str(address)


# --- ICP filing numbers (备案号) -------------------------------------------------------------

_ICP = re.compile(r"(?P<abbr>[\u4e00-\u9fff])ICP备(?P<number>[0-9]{6}|[0-9]{8}|[0-9]{10})号"
                  r"(?:-(?P<seq>[1-9][0-9]{0,3})(?P<kind>[AXK])?)?")
#: Suffix letters of non-website filings (APP filing, in force 2023-09-01): ``-1A`` an app,
#: ``-1X`` a mini program, ``-1K`` a quick app.
APP_SUFFIXES = {"A": ("App", "an app"), "X": ("小程序", "a mini program"),
                "K": ("快应用", "a quick app")}


@dataclass(frozen=True)
class FilingNumber:
    """A parsed ICP filing number: 赣ICP备2024012345号-1 is ``("赣", "2024012345", 1)``."""

    abbreviation: str
    number: str
    sequence: int | None

    def __str__(self) -> str:
        suffix = f"-{self.sequence}" if self.sequence is not None else ""
        return f"{self.abbreviation}ICP备{self.number}号{suffix}"


def parse_filing_number(text: str, *, website: bool) -> FilingNumber:
    """An ICP filing number; a website's (``website=True``) must end in ``-<n>``.

    Only the shape is checked here; that the abbreviation is the filing province's is a rule
    of the province data, checked by the model.
    """
    value = re.sub(r"\s+", "", fold_fullwidth(text)).replace("icp", "ICP")
    match = _ICP.fullmatch(value)
    shown = printable(value, 40)
    if match is None:
        raise IdentifierError(
            "filing_number_format", f"备案号 {shown} 格式错误（应如 赣ICP备2024012345号-1）",
            f"filing number {shown} is malformed (like 赣ICP备2024012345号-1: province "
            "abbreviation, ICP备, 6, 8 or 10 digits, 号, -website number)")
    seq = match["seq"]
    kind = match["kind"]
    if kind is not None:
        zh, en = APP_SUFFIXES[kind]
        raise IdentifierError(
            "filing_number_app",
            f"备案号 {shown} 的后缀 -{seq}{kind} 表示{zh}备案，不是网站备案号；网站备案号以 -数字 "
            "结尾（如 -1），App 为 -1A、小程序为 -1X、快应用为 -1K",
            f"filing number {shown}: the suffix -{seq}{kind} marks {en} filing, not a website's; "
            "a website's number ends in -<n> (like -1); -<n>A is an app, -<n>X a mini program, "
            "-<n>K a quick app")
    if website and seq is None:
        raise IdentifierError(
            "filing_number_suffix", f"网站备案号 {shown} 缺少网站序号（应以 -1、-2 等结尾）",
            f"website filing number {shown} lacks the website number (ends in -1, -2, …)")
    return FilingNumber(match["abbr"], match["number"], int(seq) if seq else None)
