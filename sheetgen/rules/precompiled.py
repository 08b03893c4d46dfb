"""The built-in editions parsed and validated ahead of time, shipped with the package.

``sheetgen/_precompiled/rules/`` (written by ``tools/precompile.py`` like the precompiled
layouts) holds each built-in edition as a pickle named by a hash of the TOML file, of every
module of this package (the pickle names its classes by module path), of
:mod:`sheetgen.vocabulary` and of pydantic's version (:func:`precompiled_name`), so a copy made
from another file or by other code (a model edited, or moved to another module) is never read.
It is part of the installed package, as trusted as its code; the user's cache is never used
for it. Without it, the file is parsed and validated (:mod:`~.parsing`).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from pathlib import Path

from sheetgen.rules.ruleset import Rules


def precompiled_name(edition: str, data: bytes) -> str:
    """The file name of the parsed copy of edition ``edition`` whose TOML is ``data``: it
    changes with the file, with the code of the classes it holds (:func:`precompiled_sources`)
    and with pydantic."""
    import pydantic

    sha = hashlib.sha256(data)
    for path in precompiled_sources():
        sha.update(f"\0{path.name}\0".encode())
        sha.update(path.read_bytes())
    sha.update(f"\0{pydantic.VERSION}\0{sys.version_info[:2]}".encode())
    return f"{edition}-{sha.hexdigest()[:24]}.pickle"


def precompiled_sources() -> list[Path]:
    """The modules whose classes a parsed copy pickles (by module path and name): every module
    of this package, so a model moved from one to another, or edited, renames the copy and a
    stale one is never read, and :mod:`sheetgen.vocabulary` (the natures)."""
    package = Path(__file__).resolve().parent
    return [*sorted(package.glob("*.py")), package.parent / "vocabulary.py"]


def precompiled_dir() -> Path | None:
    """Where the package keeps its parsed built-in editions; None when turned off
    (``SHEETGEN_PRECOMPILED=off``, as for the precompiled layouts)."""
    if os.environ.get("SHEETGEN_PRECOMPILED", "").lower() in ("0", "off", "no"):
        return None
    return Path(__file__).resolve().parents[1] / "_precompiled" / "rules"


def _precompiled(edition: str, data: bytes) -> Rules | None:
    """The shipped parsed copy of a built-in edition, when there is one for exactly ``data``."""
    directory = precompiled_dir()
    if directory is None:
        return None
    try:
        rules = pickle.loads((directory / precompiled_name(edition, data)).read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError,
            TypeError, ValueError):
        return None
    if not isinstance(rules, Rules) or rules.version != hashlib.sha256(data).hexdigest()[:16]:
        return None
    return rules
