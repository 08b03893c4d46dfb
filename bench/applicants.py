"""Deterministic generated applicants for the benchmarks: every province, a mix of natures."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from sheetgen.documents.example import make_example
from sheetgen.rules import Rules

#: Roughly how filings split in practice: mostly persons and enterprises.
NATURES = ["personal"] * 6 + ["enterprise"] * 3 + ["institution"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
#: For ``varied`` records: words of street and unit names, so that a bundle meets many
#: distinct characters, as a real one does.
PLACES = "东南西北中华兴盛安平和泰康宁昌隆福祥瑞丰源广德信达通远鑫汇金银海江河湖山川林园"
TRADES = ["科技", "信息", "网络", "文化传媒", "电子商务", "软件", "数据", "教育咨询", "贸易"]


def applicants(rules: Rules, count: int, *, seed: int = 2026, varied: bool = False
               ) -> Iterator[dict[str, Any]]:
    """``count`` valid applicants, one website each, different values on every record.

    With ``varied``, unit names and every address differ too (distinct characters from a
    larger set), where otherwise only persons' names do.
    """
    rng = random.Random(seed)
    provinces = [p.name for p in rules.provinces]
    for n in range(count):
        data = make_example(rules, rng.choice(provinces), rng.choice(NATURES))
        data["ref"] = f"BENCH-{n:05d}"
        if data["host"]["nature"] == "personal":
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
            data["host"]["name"] = name
            data["websites"][0]["manager"]["name"] = name
            data["websites"][0]["name"] = f"{name}的技术笔记"
        elif varied:
            city = data["host"]["name"].split("示例")[0]
            unit = f"{city}{''.join(rng.sample(PLACES, 2))}{rng.choice(TRADES)}有限公司"
            data["host"]["name"] = unit
            data["websites"][0]["name"] = f"{unit}官方网站"
        if varied:
            street = "".join(rng.sample(PLACES, 2))
            data["host"]["address"] = (f"{data['host']['address'].rsplit('区', 1)[0]}区{street}路 "
                                       f"{rng.randint(1, 999)} 号 {rng.randint(1, 30)} 幢")
        yield data
