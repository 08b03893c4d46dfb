"""The spreadsheet columns: which header means which applicant field (the one header table).

A spreadsheet has one row per website (contract.md §1). Each column is one *field path*: an
applicant key (``province``, ``host.certificate.number``) or, for the row's website, a key under
``website.`` (``website.domains``, ``website.manager.mobile``). :data:`COLUMNS` lists every
field path with the Chinese header sheetgen writes (the template's) and the aliases staff
exports use; the README's "From a spreadsheet" table is this table (a test keeps them equal).

A header names its column by, in order: a ``--map FILE`` entry (TOML, ``"表头" = "field.path"``),
the field path itself (``host.name``, ``website.manager.mobile``; ``websites.`` is accepted for
``website.``), or a header or alias of :data:`COLUMNS`. Headers are compared after NFKC folding
(full-width letters, ``（）``), without spaces, case, and a trailing required mark (``*``,
``（必填）``), so ``网站域名*`` and ``网站域名（必填）`` both name ``website.domains``.

Three columns are not applicant keys: ``group`` (分组: rows with the same value are one
applicant, instead of rows with the same host certificate number), ``website.registrars``
(域名注册商: the registrar of each domain of the row, in the same order; one registrar applies
to all) and ``website.domain_holders`` (域名实名持有人: each domain's real-name holder, the same
way). The
error column that ``--failed`` adds (:data:`ERROR_HEADER`) is passed over when read back.
"""

from __future__ import annotations

import difflib
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sheetgen.errors import UsageError

#: The header of the error column that ``--failed`` writes; ignored when the file is read back.
ERROR_HEADER = "错误 / errors"


@dataclass(frozen=True)
class Column:
    """One spreadsheet column: the field it fills, its header, the aliases staff use."""

    path: str                   # the field path (``website.manager.mobile``)
    header: str                 # the header sheetgen writes (template, --failed)
    aliases: tuple[str, ...] = ()
    required: bool = False      # a header row without it is refused before any record
    kind: str = "text"          # text | list | bool | number (IDs, phones: never a float)
    note: str = ""              # the template's instruction for the column (Chinese)

    @property
    def website(self) -> bool:
        """A column of the row's website (else of the applicant, the same on all its rows)."""
        return self.path.startswith("website.")


def _person(prefix: str, who: str, *, required: bool, note: str) -> tuple[Column, ...]:
    """The columns of a person (主体负责人 or 网站负责人)."""
    return (
        Column(f"{prefix}.name", f"{who}姓名", (who,), note=note),
        Column(f"{prefix}.certificate.type", f"{who}证件类型", note="下拉选择；" + note),
        Column(f"{prefix}.certificate.number", f"{who}证件号码", (f"{who}证件号",),
               kind="number", note="文本格式，勿用科学计数法；" + note),
        Column(f"{prefix}.mobile", f"{who}手机", (f"{who}手机号码", f"{who}手机号",
                                                 f"{who}联系电话"),
               required=required, kind="number", note="11 位手机号码"),
        Column(f"{prefix}.office_phone", f"{who}座机", (f"{who}座机号码", f"{who}办公电话",
                                                       f"{who}固定电话"),
               kind="number", note="区号-号码，如 0791-88888888；选填"),
        Column(f"{prefix}.email", f"{who}邮箱", (f"{who}电子邮箱", f"{who}电子邮件",
                                                f"{who}email"),
               required=required),
        Column(f"{prefix}.emergency_phone", f"{who}应急电话", (f"{who}应急联系电话",),
               kind="number", note="选填，不能与手机相同"),
    )


#: Every column, in the template's order.
COLUMNS: tuple[Column, ...] = (
    Column("ref", "编号", ("参考编号", "申请编号", "流水号", "业务编号"), kind="number",
           note="选填；字母、数字和 . _ -，作为输出文件名；同一申请人的多行可各编一号"
                "（如 C-01-1、C-01-2），申请人的编号取其共同部分（C-01）"),
    Column("group", "分组", ("分组编号", "申请人编号", "主体编号"),
           note="选填；同一分组的行是同一个申请人（默认按主办者证件号码分组）"),
    Column("province", "省份", ("备案省份", "所在省份", "省", "省份名称"), required=True,
           note="下拉选择"),
    Column("filing_type", "备案类型", ("备案类别",), required=True, note="下拉选择"),
    Column("host.nature", "主办单位性质", ("网站主办者性质", "主办者性质", "单位性质", "性质"),
           required=True, note="下拉选择；个人备案选“个人”"),
    Column("host.name", "网站主办者名称", ("主办单位名称", "主办者名称", "主办单位", "主办者",
                                       "单位名称", "网站主办者"),
           required=True, note="单位全称或个人姓名"),
    Column("host.certificate.type", "主办者证件类型", ("主办单位证件类型", "网站主办者证件类型",
                                                  "证件类型"),
           required=True, note="下拉选择"),
    Column("host.certificate.number", "证件号码", ("主办者证件号码", "主办单位证件号码",
                                               "网站主办者证件号码", "证件号"),
           required=True, kind="number", note="文本格式；同一证件号码的多行是同一申请人的多个网站"),
    Column("host.address", "通信地址", ("主办单位通信地址", "主办者通信地址", "通讯地址",
                                       "联系地址", "地址"),
           required=True),
    Column("host.has_seal", "有无公章", ("是否有公章", "有公章"), kind="bool",
           note="单位选填，默认“是”；个体工商户无公章选“否”"),
    *_person("host.principal", "主体负责人", required=False, note="单位必填；个人备案留空"),
    Column("website.name", "网站名称", (), required=True, note="至少 3 个字，不能是域名"),
    Column("website.domains", "网站域名", ("域名", "域名列表"), required=True, kind="list",
           note="不带 www.；多个域名换行或用 ; 、 , 分隔"),
    Column("website.registrars", "域名注册商", ("注册商",), kind="list",
           note="北京必填；与域名一一对应（某个域名没有则填 -），只填一个则适用于全部域名"),
    Column("website.homepage", "网站首页网址", ("首页网址", "网站首页", "首页地址"),
           note="选填，如 https://example.cn"),
    Column("website.filing_number", "网站备案号", ("备案号", "ICP备案号", "备案编号"),
           note="新增接入、变更备案必填，如 赣ICP备2024012345号-1"),
    Column("website.ips", "IP地址", ("网站IP地址", "服务器IP", "IP", "网站IP"), kind="list",
           note="新增接入必填；多个换行或用 ; , 分隔"),
    *_person("website.manager", "网站负责人", required=True,
             note="个人备案可留空（即主办者本人）"),
    Column("access.provider", "接入服务单位", ("接入商", "接入服务商"), note="选填"),
    Column("access.username", "备案系统用户名", ("用户名", "接入商用户名"),
           note="新增接入必填"),
    Column("access.filing_password", "备案密码", (), note="选填；不会打印或输出"),
    Column("special_site", "特殊网站", ("是否特殊网站",), kind="bool", note="选填，默认“否”"),
    # Appended for the acceptance rules (rules/acceptance.py): older sheets keep their order.
    Column("host.certificate.valid_until", "主办者证件有效期至", ("主办者证件有效期",),
           note="选填；YYYY-MM-DD 或“长期”；不足 3 个月的证件会被驳回"),
    Column("host.residence_permit", "居住证省份", ("居住证", "居住证签发省份"),
           note="个人选填：身份证不是备案省份的，填本人居住证的签发省份"),
    Column("host.legal_representative.name", "法定代表人姓名", ("法定代表人", "法人代表"),
           note="单位选填：主体负责人或网站负责人不是法定代表人时，部分省份要求授权书"),
    Column("host.legal_representative.certificate.type", "法定代表人证件类型",
           note="下拉选择；填了法定代表人姓名时必填"),
    Column("host.legal_representative.certificate.number", "法定代表人证件号码",
           ("法定代表人证件号",), kind="number", note="文本格式，勿用科学计数法"),
    Column("host.principal.certificate.valid_until", "主体负责人证件有效期至",
           ("主体负责人证件有效期",), note="选填；YYYY-MM-DD 或“长期”"),
    Column("website.manager.certificate.valid_until", "网站负责人证件有效期至",
           ("网站负责人证件有效期",), note="选填；YYYY-MM-DD 或“长期”"),
    Column("website.domain_holders", "域名实名持有人", ("域名持有人", "域名所有者"), kind="list",
           note="选填；与域名一一对应（没有则填 -），只填一个则适用于全部域名；须与主办者名称一致"),
)

BY_PATH: dict[str, Column] = {column.path: column for column in COLUMNS}

_REQUIRED_MARKS = ("(必填)", "(选填)", "*")


def header_key(text: str) -> str:
    """How headers are compared: NFKC, no spaces, case-insensitive, no required mark."""
    key = "".join(unicodedata.normalize("NFKC", text).split()).casefold()
    changed = True
    while changed:
        changed = False
        for mark in _REQUIRED_MARKS:
            if key.endswith(mark) and len(key) > len(mark):
                key, changed = key[:-len(mark)], True
    return key


def _aliases() -> dict[str, str]:
    table: dict[str, str] = {}
    for column in COLUMNS:
        for name in (column.path, column.header, *column.aliases):
            key = header_key(name)
            if table.setdefault(key, column.path) != column.path:  # a bug in the table
                raise AssertionError(f"header {name!r} names two columns")
        if column.website:
            table[header_key("websites." + column.path.removeprefix("website."))] = column.path
    return table


_BY_HEADER = _aliases()
_SUGGESTIONS = sorted({name for column in COLUMNS
                       for name in (column.path, column.header, *column.aliases)})


def load_map(path: Path | None) -> dict[str, str]:
    """The ``--map FILE`` (TOML): ``"表头" = "field.path"`` pairs, checked (exit 2 if wrong).

    The entries may also sit under a ``[columns]`` table.
    Map entries come first: a header mapped there wins over the built-in aliases.
    """
    if path is None:
        return {}
    from sheetgen.sources.json import read_file

    data = read_file(path, limit=1024 * 1024, what="column map")
    try:
        table = tomllib.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"column map {path}: not valid TOML ({exc})",
                         hint='write one line per column: "表头" = "host.name"') from None
    nested = table.get("columns")
    entries = {k: v for k, v in table.items() if not (k == "columns" and isinstance(v, dict))}
    if isinstance(nested, dict):
        entries |= nested
    mapping: dict[str, str] = {}
    for header, target in entries.items():
        if not isinstance(target, str) or resolve_path(target) is None:
            shown = target if isinstance(target, str) else type(target).__name__
            hint = difflib.get_close_matches(str(shown), list(BY_PATH), n=1)
            raise UsageError(
                f"column map {path}: {header!r} maps to {shown!r}, which is not a field path"
                + (f" (did you mean {hint[0]!r}?)" if hint else ""),
                hint="field paths are listed in the README (From a spreadsheet) and by "
                     "`sheetgen template`")
        mapping[header_key(header)] = resolve_path(target) or ""
    return mapping


def resolve_path(text: str) -> str | None:
    """The column path ``text`` names as a field path (``websites.`` allowed), else None."""
    key = text.strip()
    if key.startswith("websites."):
        key = "website." + key.removeprefix("websites.")
    return key if key in BY_PATH else None


def resolve(header: str, mapping: Mapping[str, str]) -> str | None:
    """The field path a header names (see the module docstring), or None."""
    key = header_key(header)
    return mapping.get(key) or _BY_HEADER.get(key)


def did_you_mean(header: str) -> str | None:
    """The known header or field path closest to an unknown ``header``."""
    folded = unicodedata.normalize("NFKC", header).strip()
    match = difflib.get_close_matches(folded, _SUGGESTIONS, n=1, cutoff=0.5)
    return match[0] if match else None


def missing_required(paths: Iterable[str]) -> list[Column]:
    """The required columns not among ``paths``."""
    present = set(paths)
    return [column for column in COLUMNS if column.required and column.path not in present]
