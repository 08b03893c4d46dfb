"""Applicant fixtures for the data tests: valid records, helpers to break them one place at a time.

``personal()`` is the contract's own example (contract.md §1, Jiangxi personal); ``unit()`` a
Beijing enterprise. ``edit(data, path, value)`` returns a copy with the value at a JSON path
(``websites[0].manager.mobile``) replaced, or deleted when ``value`` is :data:`DELETE`.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from sheetgen.errors import InvalidDataError
from sheetgen.model import parse_applicant
from tests.conftest import EXAMPLES

#: A filing password planted in fixtures; no output may ever contain it.
SECRET = "Pw-7f3a9c-NEVER-PRINTED"
DELETE = object()

ID_JX = "360426199101010071"       # domain.md §5, valid
ID_TJ = "120103198806018241"       # domain.md §5, valid
ID_BJ = "11010519491231002X"       # domain.md §5, valid
USCC_BJ = "91110108551385082Q"     # domain.md §5, valid


def personal() -> dict[str, Any]:
    """The contract's example applicant (Jiangxi, personal), valid."""
    me = {"name": "张三", "certificate": {"type": "居民身份证", "number": ID_JX}}
    return {
        "ref": "QY-2026-000123",
        "province": "江西",
        "filing_type": "new_filing",
        "host": {"nature": "personal", **copy.deepcopy(me),
                 "address": "江西省南昌市红谷滩区某某路 1 号", "has_seal": True},
        "websites": [{
            "name": "张三的技术笔记",
            "domains": ["example.cn", {"name": "例子.中国", "registrar": "某某注册商"}],
            "homepage": "https://example.cn",
            "filing_number": "赣ICP备2024012345号-1",
            "ips": ["203.0.113.7"],
            "manager": {**copy.deepcopy(me), "mobile": "13800000000",
                        "office_phone": "0791-88888888", "email": "zs@example.cn",
                        "emergency_phone": "13900000000"},
        }],
        "access": {"provider": "某某云计算有限公司", "username": "zhangsan",
                   "filing_password": SECRET},
        "special_site": False,
    }


def unit() -> dict[str, Any]:
    """A Beijing enterprise with a registrar on every domain, valid."""
    return {
        "province": "北京",
        "filing_type": "new_filing",
        "host": {"nature": "enterprise", "name": "北京某某科技有限公司",
                 "certificate": {"type": "营业执照", "number": USCC_BJ},
                 "address": "北京市海淀区某某路 8 号",
                 "principal": {"name": "李四", "certificate": {"type": "居民身份证",
                                                              "number": ID_BJ},
                               "mobile": "13911112222", "email": "ls@example.com"}},
        "websites": [{
            "name": "某某科技官网",
            "domains": [{"name": "example.com.cn", "registrar": "某某注册商"}],
            "manager": {"name": "王五", "certificate": {"type": "居民身份证", "number": ID_TJ},
                        "mobile": "13622223333", "email": "ww@example.com"},
        }],
    }


def example(name: str) -> dict[str, Any]:
    """One of the bundled examples/ applicants."""
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text("utf-8"))
    return data


_STEP = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def _steps(path: str) -> list[str | int]:
    return [int(i) if i else key for key, i in _STEP.findall(path)]


def edit(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with ``path`` set to ``value`` (or removed: DELETE)."""
    out = copy.deepcopy(data)
    *parents, last = _steps(path)
    node: Any = out
    for step in parents:
        node = node[step]
    if value is DELETE:
        del node[last]
    elif isinstance(node, list) and isinstance(last, int) and last == len(node):
        node.append(value)
    else:
        node[last] = value
    return out


def problems(data: object) -> list[tuple[str, str]]:
    """(path, code) of every problem of ``data``; [] when valid."""
    try:
        parse_applicant(data)
    except InvalidDataError as err:
        return [(p.path, p.code) for p in err.problems]
    return []


def messages(data: object) -> list[str]:
    try:
        parse_applicant(data)
    except InvalidDataError as err:
        return [p.message for p in err.problems]
    return []
