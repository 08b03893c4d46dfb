"""Where sheetgen's bundled files are: templates, fonts and the rules data.

Everything is located through :mod:`importlib.resources`, so it works from a wheel (where the
build puts ``templates/`` and ``fonts/`` inside the package, see ``pyproject.toml``) and from a
source checkout or editable install (where they sit beside the package at the repository's top,
the layout the contract names). No other module builds paths to bundled files.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path

from sheetgen.errors import FontError, TemplateError

#: The bundled fonts by role. ``body`` covers the BMP (GB18030 hanzi); ``supplement`` covers the
#: supplementary ideographic planes (rare name characters such as 𠮷); ``heading`` is the
#: optional heading face.
FONT_FILES: dict[str, str] = {
    "body": "NotoSerifSC-Regular.ttf",
    "supplement": "NotoSerifSC-Supplement.ttf",
    "heading": "NotoSansSC-Bold.ttf",
}
REQUIRED_FONTS = ("body", "supplement")


def _bundled_dir(name: str) -> Path:
    """The directory ``name`` (templates or fonts) inside the package, else beside it."""
    packaged = files("sheetgen") / name
    if packaged.is_dir():
        # Wheels are unpacked on disk, so the Traversable is a real directory.
        with as_file(packaged) as path:
            return Path(path)
    checkout = Path(str(files("sheetgen"))).parent / name
    if checkout.is_dir():
        return checkout
    raise TemplateError(f"bundled {name}/ directory not found",
                        hint="reinstall sheetgen; the installation is incomplete")


@cache
def templates_dir() -> Path:
    """The bundled templates directory (one sub-directory per variant)."""
    return _bundled_dir("templates")


@cache
def fonts_dir() -> Path:
    """The bundled fonts directory."""
    return _bundled_dir("fonts")


def font_path(role: str) -> Path:
    """The path of the bundled font for ``role`` (see :data:`FONT_FILES`)."""
    path = fonts_dir() / FONT_FILES[role]
    if not path.is_file():
        raise FontError(f"bundled font {FONT_FILES[role]} is missing",
                        hint="run `sheetgen doctor`; reinstall sheetgen")
    return path


def rules_file(name: str = "rules.toml") -> Traversable:
    """A built-in rules file (TOML) shipped inside the package: today's edition by default,
    another edition's file by its name (``sheetgen.rules.EDITIONS``)."""
    return files("sheetgen.rules") / name
