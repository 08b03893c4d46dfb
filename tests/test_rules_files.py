"""Untrusted ``--rules FILE`` (issue 15): every bad rules file is exit 2 naming the file and key.

The hostile files are fixtures in ``tests/fixtures/hostile/rules/``; the first line of each says
which key the error must name and with which code. Before issue 15 a 4 KB file nested 2000 deep
was a RecursionError and ``schema_version = 1`` followed by 5000 zeros a ValueError, both exit
1 ("a bug in sheetgen"), and ``batch --json`` printed no JSON.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from sheetgen.errors import RulesError
from sheetgen.resources import rules_file
from sheetgen.rules import MAX_RULES_BYTES, load_rules, parse_rules
from tests.conftest import EXAMPLES, REPO, run_cli

HOSTILE = REPO / "tests" / "fixtures" / "hostile" / "rules"
FILES = sorted(HOSTILE.glob("*.toml"))
BUILTIN = rules_file().read_text("utf-8")


def expected(path: Path) -> tuple[str, str]:
    """(key, code) from the fixture's first line: ``# key: sms.carriers | code: …``."""
    found = re.match(r"# key: (\S+) \| code: (\w+)", path.read_text("utf-8").splitlines()[0])
    assert found, path
    return found.group(1), found.group(2)


def test_there_are_hostile_rules_files() -> None:
    assert len(FILES) >= 6


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_a_hostile_rules_file_is_a_rules_error_naming_line_and_key(path: Path) -> None:
    key, code = expected(path)
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    error = caught.value
    assert error.exit_code == 2
    assert str(path) in error.message and " line " in error.message
    assert [(p.path, p.code) for p in error.problems] == [(key, code)]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_the_cli_answers_a_hostile_rules_file_with_exit_2(path: Path) -> None:
    key, _ = expected(path)
    result = run_cli("rules", "赣", "--rules", str(path))
    assert result.code == 2, result.stderr
    assert str(path) in result.stderr and key.split(".")[0] in result.stderr
    assert "Traceback" not in result.stderr and "bug in sheetgen" not in result.stderr


@pytest.mark.parametrize("command", [
    ["rules", "--json"],
    ["rules", "赣", "--json"],
    ["check", str(EXAMPLES / "jiangxi-personal.json"), "--json"],
    ["fill", str(EXAMPLES / "jiangxi-personal.json"), "-o", "{tmp}/x.pdf", "--json"],
    ["batch", str(EXAMPLES / "jiangxi-personal.json"), "-o", "{tmp}/out", "--json"],
], ids=lambda c: " ".join(c[:2]) if c[1] != "--json" else c[0])
def test_every_json_command_answers_a_bad_rules_file_in_json(command: list[str],
                                                             tmp_path: Path) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    result = run_cli(*args, "--rules", str(HOSTILE / "zeros.toml"))
    assert result.code == 2, result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["code"] == "rules"
    assert document["errors"][0]["path"] == "schema_version"
    assert not (tmp_path / "x.pdf").exists()


def test_a_rules_file_too_large_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text(BUILTIN + "#" * MAX_RULES_BYTES, "utf-8")
    with pytest.raises(RulesError, match="larger than"):
        load_rules(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_as_rules_file_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "rules.toml"
    os.mkfifo(fifo)
    with pytest.raises(RulesError, match="not a regular file"):
        load_rules(fifo)


def test_a_device_as_rules_file_is_refused() -> None:
    with pytest.raises(RulesError, match="not a regular file"):
        load_rules(Path("/dev/zero"))


@pytest.mark.parametrize("stem", ["../../../../etc/passwd", "/etc/passwd", "public/../x",
                                  "public\\\\sheet", "public/"])
def test_a_template_stem_leaving_the_set_is_a_rules_error(stem: str) -> None:
    text = BUILTIN.replace('unit = "public/sheet"', f'unit = "{stem}"', 1)
    assert text != BUILTIN
    with pytest.raises(RulesError) as caught:
        parse_rules(text.encode(), origin="evil.toml")
    assert any(p.path == "variants.public.templates.unit" for p in caught.value.problems)


def test_brackets_and_quotes_in_strings_and_comments_do_not_count_as_nesting() -> None:
    noise = "[" * 100 + "{" * 100
    text = BUILTIN.replace("# Code asks", f"# {noise}\n# Code asks", 1)
    text = re.sub(r"(?m)^(\[fingerprint\](?:\n.*?)*?\n)note = .*$",
                  lambda m: m.group(1) + f'note = """{noise} \\"""\n\'\'\'"""', text, count=1)
    rules = parse_rules(text.encode(), origin="noisy.toml")
    assert rules.fingerprint.note == f"{noise} \"\"\"\n'''"


def test_the_builtin_rules_still_load_and_keep_their_version() -> None:
    rules = parse_rules(BUILTIN.encode(), origin="built-in")
    assert len(rules.provinces) == 31 and rules.version == load_rules().version
