"""Property-based tests: no input makes validation crash, leak the password or break its promises.

Arbitrary JSON values, arbitrary bytes and valid applicants mutated at a random place go through
the library (fast, many examples) and a handful through the real CLI: the only outcomes are a
valid applicant (exit 0) or a list of well-formed problems (exit 3), never a traceback.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sheetgen.errors import InvalidDataError, Problem
from sheetgen.model import check_document, parse_applicant
from sheetgen.rules import load_rules
from tests.applicants import SECRET, example, personal, unit
from tests.conftest import run_cli

RULES = load_rules()
CODE = re.compile(r"[a-z][a-z0-9_]*")
PATH = re.compile(r"^(\[\d+\]|[A-Za-z_][A-Za-z0-9_]*|\[\".*\"\])?"
                  r"(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\[\".*\"\])*$")
SETTINGS = settings(deadline=None, max_examples=300,
                    suppress_health_check=[HealthCheck.too_slow])

# Text that exercises the interesting characters: CJK, full-width, controls, bidi, surrogates.
TEXT = st.text(st.one_of(st.characters(), st.sampled_from(
    "江西赣省号ICP备-．＠１\u3000\u202e\u200b\n\ud800 www.example.cn")), max_size=30)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(TEXT, children,
                                                                         max_size=5),
    max_leaves=30)
VALID = [personal(), unit(), example("beijing-unit-two-websites"),
         example("shanghai-new-access"), example("guangdong-personal")]


def _assert_well_formed(problems: list[Problem] | tuple[Problem, ...]) -> None:
    assert problems
    for problem in problems:
        assert CODE.fullmatch(problem.code), problem.code
        assert PATH.match(problem.path), problem.path
        assert " / " in problem.message
        assert SECRET not in problem.message and SECRET not in problem.path


def _outcome(data: object) -> None:
    try:
        parse_applicant(data, RULES)
    except InvalidDataError as err:
        _assert_well_formed(err.problems)


@SETTINGS
@given(JSON)
def test_arbitrary_json_values(value: object) -> None:
    _outcome(value)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["ref", "province", "filing_type", "host", "websites",
                                        "access", "special_site", "extra"]), JSON, max_size=8))
def test_arbitrary_objects_with_contract_keys(value: dict[str, Any]) -> None:
    _outcome(value)


@SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_bytes(data: bytes) -> None:
    for result in check_document(data, source="s", rules=RULES):
        if not result.ok:
            _assert_well_formed(result.problems)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON tree."""
    out = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            out += _paths(child, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A valid applicant with one to three places replaced, removed or given an extra key."""
    data = copy.deepcopy(draw(st.sampled_from(VALID)))
    data.setdefault("access", {})["filing_password"] = SECRET
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        path = draw(st.sampled_from(paths))
        parent: Any = data
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "extra"]))
        if action == "replace":
            parent[path[-1]] = draw(JSON)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(TEXT)] = draw(JSON)
    return data


@SETTINGS
@given(mutated())
def test_mutated_applicants(data: dict[str, Any]) -> None:
    try:
        applicant = parse_applicant(data, RULES)
    except InvalidDataError as err:
        _assert_well_formed(err.problems)
        return
    assert SECRET not in applicant.model_dump_json() and SECRET not in repr(applicant)


@settings(deadline=None, max_examples=8, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(JSON, mutated()))
def test_through_the_cli(value: object) -> None:
    stdin = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    result = run_cli("check", "-", "--json", stdin=stdin)
    assert result.code in (0, 3), result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.text)
    assert report["ok"] is (result.code == 0)
    assert SECRET not in result.text and SECRET not in result.stderr
