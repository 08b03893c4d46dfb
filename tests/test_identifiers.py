"""Format and checksum checks of identifiers (sheetgen.identifiers), table-driven."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from stdnum.cn import ric
from stdnum.exceptions import InvalidComponent

from sheetgen import identifiers as ids


def _ric(region: str, birth: str, sequence: str) -> str:
    body = region + birth + sequence
    return body + ric.calc_check_digit(body + "0")


PUDONG_1985 = _ric("310115", "19850312", "246")


@pytest.mark.parametrize(("text", "expected"), [
    ("360426199101010071", "360426199101010071"),     # domain.md §5
    ("120103198806018241", "120103198806018241"),     # domain.md §5
    ("11010519491231002X", "11010519491231002X"),     # domain.md §5
    ("11010519491231002x", "11010519491231002X"),     # lower-case x
    ("３６０４２６１９９１０１０１００７１", "360426199101010071"),  # full-width digits
    ("360426 19910101 0071", "360426199101010071"),   # spaces
    (PUDONG_1985, PUDONG_1985),                       # region newer than the birth
])
def test_ric_valid(text: str, expected: str) -> None:
    assert ids.check_ric(text) == expected


def test_pudong_1985_is_what_stdnum_validate_rejects() -> None:
    """Why check_ric does not call ric.validate (domain.md §5)."""
    with pytest.raises(InvalidComponent):
        ric.validate(PUDONG_1985)


@pytest.mark.parametrize(("text", "code"), [
    ("360426199101010072", "ric_checksum"),           # domain.md §5, invalid
    ("36042619910101007", "ric_format"),              # 17 characters
    ("3604261991010100711", "ric_format"),            # 19 characters
    ("36042619910101007Y", "ric_format"),
    ("A60426199101010071", "ric_format"),
    (_ric("360426", "19910230", "007"), "ric_birth_date"),   # 30 February
    (_ric("360426", "19911301", "007"), "ric_birth_date"),   # month 13
    (_ric("360426", "18990101", "007"), "ric_birth_date"),   # before 1900
    (_ric("360426", "20990101", "007"), "ric_birth_date"),   # in the future
    (_ric("999999", "19910101", "007"), "ric_region"),       # no such region
    (_ric("119999", "19910101", "007"), "ric_region"),       # province exists, county not
    (_ric("810000", "19910101", "007"), "ric_region"),       # Hong Kong: permits only
    (_ric("710000", "19910101", "007"), "ric_region"),       # Taiwan
])
def test_ric_invalid(text: str, code: str) -> None:
    with pytest.raises(ids.IdentifierError) as info:
        ids.check_ric(text)
    assert info.value.code == code


def test_ric_message_masks_the_number() -> None:
    with pytest.raises(ids.IdentifierError) as info:
        ids.check_ric("360426199101010072")
    assert "**************0072" in info.value.message
    assert "360426199101010072" not in info.value.message
    assert " / " in info.value.message and "check digit" in info.value.message


@pytest.mark.parametrize(("kind", "region", "ok"), [
    ("hk_mo", "810000", True), ("hk_mo", "820000", True), ("hk_mo", "830000", False),
    ("hk_mo", "360426", False), ("tw", "830000", True), ("tw", "810000", False),
])
def test_residence_permits(kind: ids.RicKind, region: str, ok: bool) -> None:
    number = _ric(region, "19900101", "123")
    if ok:
        assert ids.check_ric(number, kind=kind) == number
    else:
        with pytest.raises(ids.IdentifierError, match="ric_region"):
            ids.check_ric(number, kind=kind)


@pytest.mark.parametrize(("code", "exists"), [
    ("310115", True), ("360426", True), ("110103", True),  # 崇文区, abolished 2010: existed
    ("999999", False), ("119999", False), ("36042", False)])
def test_region_exists(code: str, exists: bool) -> None:
    assert ids.region_exists(code) is exists


@pytest.mark.parametrize(("text", "result"), [
    ("91110108551385082Q", "91110108551385082Q"),     # domain.md §5
    ("92500105MAC817EJ5D", "92500105MAC817EJ5D"),     # domain.md §5
    ("92500105mac817ej5d", "92500105MAC817EJ5D"),
    ("９１１１０１０８５５１３８５０８２Ｑ", "91110108551385082Q"),
    ("91110000600037341M", "uscc_checksum"),          # domain.md §5, invalid
    ("9111010855138508", "uscc_format"),
    ("911101085513850I2Q", "uscc_format"),            # I is not in the alphabet
    ("A1110108551385082Q", "uscc_format"),
])
def test_uscc(text: str, result: str) -> None:
    _check(ids.check_uscc, text, result)


def _check(func: Callable[[str], str], text: str, result: str) -> None:
    """``result`` is the canonical value, or the problem code when it is snake_case."""
    if result.islower() and "_" in result:
        with pytest.raises(ids.IdentifierError) as info:
            func(text)
        assert info.value.code == result
        assert " / " in info.value.message
    else:
        assert func(text) == result


@pytest.mark.parametrize(("text", "result"), [
    ("13800000000", "13800000000"),
    ("138 0000 0000", "13800000000"),
    ("138-0000-0000", "13800000000"),
    ("+86 138 0000 0000", "13800000000"),
    ("008613800000000", "13800000000"),
    ("１３８００００００００", "13800000000"),
    ("19200000000", "19200000000"),
    ("12345678901", "mobile_format"),                 # 1[3-9] needed
    ("1380000000", "mobile_format"),                  # 10 digits
    ("138000000000", "mobile_format"),                # 12 digits
    ("14000000000", "mobile_format"),                 # pattern fits, range unallocated
    ("0791-88888888", "mobile_format"),
    ("abc", "mobile_format"),
])
def test_mobile(text: str, result: str) -> None:
    _check(ids.check_mobile, text, result)


def test_mobile_message_masks() -> None:
    with pytest.raises(ids.IdentifierError) as info:
        ids.check_mobile("14012345678")
    assert "140****5678" in info.value.message
    assert "14012345678" not in info.value.message


@pytest.mark.parametrize(("text", "result"), [
    ("0791-88888888", "0791-88888888"),
    ("010-12345678", "010-12345678"),
    ("(0755) 2666 8888", "0755-26668888"),
    ("075526668888", "0755-26668888"),
    ("+86 755 2666 8888", "0755-26668888"),
    ("０７９１－８８８８８８８８", "0791-88888888"),
    ("0351-6614888", "0351-6614888"),                 # 7-digit city
    ("0791-8888888", "landline_format"),              # Nanchang numbers have 8 digits
    ("0791-888", "landline_format"),
    ("13800000000", "landline_format"),
    ("12345", "landline_format"),
    ("0791-8888-8888-1", "landline_format"),
])
def test_landline(text: str, result: str) -> None:
    _check(ids.check_landline, text, result)


@pytest.mark.parametrize(("text", "result"), [
    ("a@example.cn", "a@example.cn"),
    ("First.Last+tag@Example.COM", "First.Last+tag@example.com"),
    ("zs@例子.中国", "zs@例子.中国"),
    ("ｚｓ＠ｅｘａｍｐｌｅ．ｃｎ", "zs@example.cn"),
    ("a@b", "email_format"),
    ("a..b@example.cn", "email_format"),
    (".a@example.cn", "email_format"),
    ("@example.cn", "email_format"),
    ("a@", "email_format"),
    ("a b@example.cn", "email_format"),
    ("a@example..cn", "email_format"),
    ("a@[127.0.0.1]", "email_format"),
    ("张三@example.cn", "email_format"),
    ("a@b@example.cn", "email_format"),
    ("x" * 65 + "@example.cn", "email_format"),
])
def test_email(text: str, result: str) -> None:
    _check(ids.check_email, text, result)


@pytest.mark.parametrize(("text", "result"), [
    ("example.cn", "example.cn"),
    ("EXAMPLE.CN", "example.cn"),
    ("example.cn.", "example.cn"),
    ("sub.example.com.cn", "sub.example.com.cn"),
    ("例子.中国", "例子.中国"),
    ("例子。中国", "例子.中国"),                        # ideographic full stop
    ("xn--fsqu00a.xn--fiqs8s", "例子.中国"),
    ("ｅｘａｍｐｌｅ．ｃｎ", "example.cn"),
    ("www.example.cn", "domain_www"),
    ("WWW.example.cn", "domain_www"),
    ("http://example.cn", "domain_invalid"),
    ("https://example.cn/", "domain_invalid"),
    ("example.cn/path", "domain_invalid"),
    ("example.cn:8080", "domain_invalid"),
    ("user@example.cn", "domain_invalid"),
    ("localhost", "domain_invalid"),
    ("example", "domain_invalid"),
    ("-a.cn", "domain_invalid"),
    ("a_b.cn", "domain_invalid"),
    ("a..cn", "domain_invalid"),
    ("1.2.3.4", "domain_invalid"),
    ("example.c", "domain_invalid"),
    ("*.example.cn", "domain_invalid"),
    ("exa mple.cn", "domain_invalid"),
    ("a" * 64 + ".cn", "domain_invalid"),
])
def test_domain(text: str, result: str) -> None:
    _check(ids.check_domain, text, result)


@pytest.mark.parametrize(("text", "expected"), [
    ("example.cn", True), ("https://anything", True), ("例子.中国", True), ("A.COM", True),
    ("张三的技术笔记", False), ("Vue.js教程", False), ("Node.js 学习笔记", False), ("abc", False),
])
def test_is_domain_like(text: str, expected: bool) -> None:
    assert ids.is_domain_like(text) is expected


@pytest.mark.parametrize(("text", "result"), [
    ("203.0.113.7", "203.0.113.7"),                   # documentation range, allowed
    ("8.8.8.8", "8.8.8.8"),
    ("2001:db8::1", "2001:db8::1"),
    ("2001:0DB8:0000::0001", "2001:db8::1"),
    ("::ffff:8.8.8.8", "8.8.8.8"),
    ("１．１．１．１", "1.1.1.1"),
    ("999.1.1.1", "ip_format"),
    ("01.2.3.4", "ip_format"),
    ("1.2.3", "ip_format"),
    ("abc", "ip_format"),
    ("fe80::1%eth0", "ip_format"),
    ("10.0.0.1", "ip_not_public"),
    ("172.16.0.1", "ip_not_public"),
    ("192.168.1.1", "ip_not_public"),
    ("100.64.0.1", "ip_not_public"),
    ("127.0.0.1", "ip_not_public"),
    ("0.0.0.0", "ip_not_public"),
    ("169.254.1.1", "ip_not_public"),
    ("224.0.0.1", "ip_not_public"),
    ("255.255.255.255", "ip_not_public"),
    ("::1", "ip_not_public"),
    ("::", "ip_not_public"),
    ("fc00::1", "ip_not_public"),
    ("fe80::1", "ip_not_public"),
    ("ff02::1", "ip_not_public"),
    ("::ffff:10.0.0.1", "ip_not_public"),
])
def test_ip(text: str, result: str) -> None:
    _check(ids.check_ip, text, result)


@pytest.mark.parametrize(("text", "website", "expected"), [
    ("赣ICP备2024012345号-1", True, ("赣", "2024012345", 1)),
    ("京ICP备123456号-2", True, ("京", "123456", 2)),
    ("粤ICP备12345678号-10", True, ("粤", "12345678", 10)),
    ("蜀ICP备2020000001号-1", True, ("蜀", "2020000001", 1)),
    ("赣ＩＣＰ备２０２４０１２３４５号－１", True, ("赣", "2024012345", 1)),
    ("赣icp备2024012345号-1", True, ("赣", "2024012345", 1)),
    (" 赣ICP备 2024012345 号-1 ", True, ("赣", "2024012345", 1)),
    ("赣ICP备2024012345号", False, ("赣", "2024012345", None)),
    ("赣ICP备2024012345号-1", False, ("赣", "2024012345", 1)),
])
def test_filing_number_valid(text: str, website: bool,
                             expected: tuple[str, str, int | None]) -> None:
    number = ids.parse_filing_number(text, website=website)
    assert (number.abbreviation, number.number, number.sequence) == expected
    assert str(number).startswith(expected[0] + "ICP备" + expected[1] + "号")


@pytest.mark.parametrize(("text", "code"), [
    ("赣ICP备2024012345号", "filing_number_suffix"),   # a website's number needs -n
    ("赣ICP备1234567号-1", "filing_number_format"),     # 7 digits
    ("赣ICP备123456789号-1", "filing_number_format"),   # 9 digits
    ("赣ICP备20240123456号-1", "filing_number_format"), # 11 digits
    ("赣ICP备2024012345-1", "filing_number_format"),    # no 号
    ("ICP备2024012345号-1", "filing_number_format"),    # no abbreviation
    ("赣ICP证2024012345号-1", "filing_number_format"),  # 证 is a licence, not a filing
    ("赣ICP备2024012345号-0", "filing_number_format"),
    ("赣ICP备2024012345号-", "filing_number_format"),
    ("GanICP备2024012345号-1", "filing_number_format"),
])
def test_filing_number_invalid(text: str, code: str) -> None:
    with pytest.raises(ids.IdentifierError) as info:
        ids.parse_filing_number(text, website=True)
    assert info.value.code == code


@pytest.mark.parametrize(("url", "result"), [
    ("https://example.cn", "https://example.cn"),
    ("http://www.example.cn/a?b=1", "http://www.example.cn/a?b=1"),
    ("https://example.cn:8443/", "https://example.cn:8443/"),
    ("https://例子.中国/", "https://例子.中国/"),
    ("ftp://example.cn", "homepage_format"),
    ("example.cn", "homepage_format"),
    ("https://user:pw@example.cn", "homepage_format"),
    ("https://example.cn:99999", "homepage_format"),
    ("https://", "homepage_format"),
    ("https://other.cn", "homepage_domain"),
    ("https://notexample.cn", "homepage_domain"),
])
def test_homepage(url: str, result: str) -> None:
    _check(lambda text: ids.check_homepage(text, ("example.cn", "例子.中国")), url, result)


@pytest.mark.parametrize(("func", "text", "result"), [
    (ids.check_other_certificate, "E12345678", "E12345678"),
    (ids.check_other_certificate, "h 1234 5678", "H12345678"),
    (ids.check_other_certificate, "12345678-9", "12345678-9"),
    (ids.check_other_certificate, "!!", "certificate_number_format"),
    (ids.check_other_certificate, "AB", "certificate_number_format"),
    (ids.check_other_certificate, "A" * 33, "certificate_number_format"),
])
def test_other_certificate(func: Callable[[str], str], text: str, result: str) -> None:
    _check(func, text, result)


@pytest.mark.parametrize(("func", "value", "masked"), [
    (ids.mask, "360426199101010071", "**************0071"),
    (ids.mask, "91110108551385082Q", "**************082Q"),
    (ids.mask, "abc", "***"),
    (ids.mask_mobile, "13800000000", "138****0000"),
])
def test_masks(func: Callable[[str], str], value: str, masked: str) -> None:
    assert func(value) == masked


def test_fold_fullwidth() -> None:
    assert ids.fold_fullwidth("ＡＢＣ１２３＠．－\u3000（）") == "ABC123@.- ()"
    assert ids.fold_fullwidth("江西省，南昌") == "江西省,南昌"  # U+FF0C folds; hanzi stay


# --- issue 15: exact reasons ----------------------------------------------------------------

@pytest.mark.parametrize("text", ["12912345678", "10012345678", "11012345678"])
def test_mobile_of_the_right_shape_names_the_unassigned_prefix(text: str) -> None:
    with pytest.raises(ids.IdentifierError) as err:
        ids.check_mobile(text)
    assert err.value.code == "mobile_format"
    assert f"the prefix {text[:3]} is not assigned to mobile numbers" in err.value.message
    assert f"号段 {text[:3]}" in err.value.message
    assert "11 digits starting with 1" not in err.value.message
    assert text not in err.value.message  # still masked


@pytest.mark.parametrize(("text", "reason"), [
    ("site.test", "special-use name reserved for testing (RFC 6761)"),
    ("site.local", "RFC 6762"),
    ("site.localhost", "reserved for the local computer"),
    ("site.invalid", "reserved as always invalid"),
    ("site.example", "reserved for documentation examples"),
    ("site.onion", "Tor onion services (RFC 7686)"),
    ("site.zz", "the top-level domain .zz does not exist"),
    ("site.arpa", "Internet infrastructure"),
    ("com.cn", "com.cn is a public suffix"),
])
def test_reserved_and_nonexistent_tlds_are_refused_with_the_reason(text: str,
                                                                  reason: str) -> None:
    with pytest.raises(ids.IdentifierError) as err:
        ids.check_domain(text)
    assert err.value.code == "domain_tld" and reason in err.value.message
    with pytest.raises(ids.IdentifierError) as mail:
        ids.check_email(f"someone@{text}")
    assert mail.value.code == "email_domain" and reason in mail.value.message


@pytest.mark.parametrize("text", ["example.cn", "例子.中国", "xn--fsqu00a.xn--fiqs8s", "a.com.cn",
                                  "shop.公司", "example.top", "x.gov.cn", "a.b.ck"])
def test_existing_tlds_are_accepted(text: str) -> None:
    ids.check_domain(text)
    ids.check_email(f"me@{text}")


@pytest.mark.parametrize(("text", "reason"), [
    ("198.18.0.1", "special-purpose"), ("100::1", "special-purpose"),
    ("2001:10::1", "special-purpose"), ("fec0::1", "site-local"),
    ("224.0.0.1", "multicast"), ("100.64.0.1", "carrier-grade NAT"), ("::1", "loopback"),
    ("fe80::1", "link-local"), ("0.0.0.0", "unspecified"), ("240.0.0.1", "special-purpose"),
    ("::ffff:192.168.1.1", "private"), ("64:ff9b::1", "reserved"),
])
def test_non_public_ips_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ids.IdentifierError) as err:
        ids.check_ip(text)
    assert err.value.code == "ip_not_public" and reason in err.value.message


@pytest.mark.parametrize("text", ["203.0.113.7", "2001:db8::1", "8.8.8.8", "2400:3200::1"])
def test_public_and_documentation_ips_are_accepted(text: str) -> None:
    assert ids.check_ip(text) == text


# --- the data tables, read faster -------------------------------------------------------------

def test_the_region_table_is_read_as_stdnum_reads_it() -> None:
    """identifiers reads stdnum's GB/T 2260 file itself (its own reader is ~5× slower): the
    answer for every code it lists, and for codes around them, is stdnum's."""
    import random

    from stdnum import numdb

    from sheetgen import identifiers

    db = numdb.get("cn/loc")

    def stdnum_says(code: str) -> bool:
        parts = db.info(code)
        return len(parts) == 2 and "county" in parts[1][1]

    codes = identifiers._county_codes()
    assert codes == identifiers._numdb_county_codes() and len(codes) > 3000
    generator = random.Random(2260)
    probes = set(codes) | {f"{p:02d}{generator.randrange(10000):04d}"
                           for p in range(10, 100) for _ in range(300)}
    assert [c for c in sorted(probes) if stdnum_says(c) != (c in codes)] == []


def test_the_public_suffix_rules_are_the_icann_section() -> None:
    from publicsuffixlist import PublicSuffixList

    from sheetgen import identifiers

    reference = PublicSuffixList(only_icann=True, accept_unknown=False, accept_encoded_idn=False)
    ours = identifiers._suffixes()
    assert ours._publicsuffix == reference._publicsuffix
    assert ours._maxlabel == reference._maxlabel
