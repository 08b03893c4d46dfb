"""The rules in use: a built-in edition (parsed once per process), or a ``--rules FILE``.

:func:`load_rules` reads a built-in edition from its shipped parsed copy when there is one
(:mod:`~.precompiled`), else parses it (:mod:`~.parsing`); a user's file is always parsed.
:func:`choose` holds rules to the ``--rules-edition`` asked for and applies ``--verification``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from sheetgen.errors import RulesError, UsageError
from sheetgen.resources import rules_file
from sheetgen.rules.editions import DEFAULT_EDITION, EDITIONS, _builtin_origin, check_edition
from sheetgen.rules.parsing import MAX_RULES_BYTES, parse_rules
from sheetgen.rules.precompiled import _precompiled
from sheetgen.rules.ruleset import Rules
from sheetgen.sources.json import read_file


@cache
def _builtin(edition: str) -> Rules:
    data = rules_file(EDITIONS[edition]).read_bytes()
    return (_precompiled(edition, data)
            or parse_rules(data, origin=_builtin_origin(edition)))


def load_rules(path: Path | None = None, *, edition: str | None = None,
               verification: str | None = None) -> Rules:
    """The rules in use: a built-in edition (parsed once per process; the default edition
    unless ``edition`` names another), or those of ``path`` (``--rules FILE``), which must
    then be of ``edition`` when one is given. ``verification`` overrides the file's flow."""
    if edition is not None:
        check_edition(edition)
    if path is None:
        rules = _builtin(edition or DEFAULT_EDITION)
    else:
        rules = parse_rules(read_file(path, limit=MAX_RULES_BYTES, what="rules file",
                                      error=RulesError, regular=True), origin=str(path))
    return choose(rules, edition=edition, verification=verification)


def choose(rules: Rules, *, edition: str | None = None,
           verification: str | None = None) -> Rules:
    """``rules`` held to the ``--rules-edition`` asked for, with ``--verification`` applied."""
    if edition is not None and rules.edition != check_edition(edition):
        raise UsageError(
            f"rules file {rules.origin} is the {rules.edition} edition, not {edition} "
            "/ 规则文件的版本不符",
            hint="leave out --rules-edition, or give a rules file of that edition")
    return rules.with_verification(verification)
