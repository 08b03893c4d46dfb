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


def applicants(rules: Rules, count: int, *, seed: int = 2026) -> Iterator[dict[str, Any]]:
    """``count`` valid applicants, one website each, different values on every record."""
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
        yield data
