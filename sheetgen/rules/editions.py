"""The built-in rule editions (:data:`EDITIONS`) and how one is asked for (``--rules-edition``).

Each edition is a dated TOML file shipped in this package; the first is the default. A
``--rules FILE`` names one of them as its ``edition``.
"""

from __future__ import annotations

from sheetgen.errors import UsageError

#: The built-in rule editions, newest first: edition name → file in this package. The first is
#: the default. A ``--rules`` file must name one of them as its ``edition``.
EDITIONS = {"2025": "rules.toml", "2018": "rules-2018.toml"}
DEFAULT_EDITION = next(iter(EDITIONS))


def _builtin_origin(edition: str) -> str:
    return "built-in" if edition == DEFAULT_EDITION else f"built-in {edition}"


def check_edition(edition: str) -> str:
    """``edition`` if sheetgen has it built in (``--rules-edition``); else a UsageError."""
    if edition not in EDITIONS:
        shown = edition.strip()[:20]
        raise UsageError(f"unknown rules edition “{shown}” / 未知的规则版本",
                         hint="use one of: " + ", ".join(EDITIONS)
                              + f" (default {DEFAULT_EDITION}); `sheetgen rules --edition E` "
                                "shows one")
    return edition
