"""Jinja2 environments for the sheet and cover templates, and the blank values used to compile them.

Templates live in a *template set*: the bundled ``templates/`` directory, or a provider's own
directory given with ``--templates DIR`` (same layout: ``common/``, ``public/``, ``guangdong/``).
Every environment is strict: an unknown variable is an error naming it (``StrictUndefined``),
and HTML output is autoescaped, so data can never inject markup.

Compile once, stamp many (design.md §2) needs the *structure* of a page to depend only on
``flags.*`` and the static ``rules.*``, never on values. A template is therefore compiled with
:class:`Blank` values: they print as nothing, and testing or measuring one (``{% if host.name %}``,
``host.name|length``) raises a :class:`~sheetgen.errors.TemplateError` that names the value, so a
template that would lay out differently per record is caught at once instead of printing wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from sheetgen import resources
from sheetgen.errors import SheetgenError, TemplateError


class BlankValueUsedError(Exception):
    """A template tested or measured a value while being compiled (see module docstring)."""


class Blank:
    """Stands in for a value while a layout is compiled: prints as nothing, refuses inspection."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def __str__(self) -> str:
        return ""

    def __html__(self) -> Markup:
        return Markup("")

    def _refuse(self, *_: object) -> Any:
        raise BlankValueUsedError(self.path)

    __bool__ = __len__ = __iter__ = __eq__ = __lt__ = __gt__ = __contains__ = _refuse
    __getitem__ = __add__ = _refuse
    __hash__ = None  # type: ignore[assignment]


def blank_context(context: Mapping[str, Any], keep: frozenset[str]) -> dict[str, Any]:
    """``context`` with every string value below the top-level keys not in ``keep`` blanked."""

    def blank(value: Any, path: str) -> Any:
        if isinstance(value, Mapping):
            return {k: blank(v, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, str):
            return Blank(path)
        return value

    return {k: (v if k in keep else blank(v, k)) for k, v in context.items()}


class TemplateSet:
    """One directory of templates with its strict Jinja2 environment."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise TemplateError(f"template directory not found: {root}")
        self.root = root
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(root)),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(["html", "htm", "xml"], default=True),
            keep_trailing_newline=True,
        )

    @property
    def digest(self) -> str:
        """A hash of every file of the set: part of the layout cache key."""
        return _tree_digest(self.root)

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Render template ``name``; every template problem becomes a TemplateError."""
        try:
            return self.env.get_template(name).render(context)
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"template not found: {exc.name} (in {self.root})") from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"template {name} uses an unknown variable: {exc.message}",
                                hint="see templates/README.md for the variables a template "
                                     "receives") from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template syntax error in {exc.name or name} line "
                                f"{exc.lineno}: {exc.message}") from None
        except BlankValueUsedError as exc:
            raise TemplateError(
                f"template {name} tests or measures the value {exc.args[0]}; a page's structure "
                "may depend only on flags.* so that it can be compiled once",
                hint="print values with {{ … }} inside a data-field box; branch on flags.*",
            ) from None
        except SheetgenError:
            raise
        except Exception as exc:  # the template's own code failed ({{ 1 / 0 }}), not sheetgen
            raise TemplateError(f"template {name} failed: {type(exc).__name__}: {exc}",
                                hint="see templates/README.md") from exc


@cache
def _tree_digest(root: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        sha.update(path.relative_to(root).as_posix().encode())
        sha.update(b"\0")
        sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def bundled() -> TemplateSet:
    """The template set shipped with sheetgen."""
    return _bundled()


@cache
def _bundled() -> TemplateSet:
    return TemplateSet(resources.templates_dir())
