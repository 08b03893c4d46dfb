"""Jinja2 environments for the sheet and cover templates, and the blank values used to compile them.

Templates live in a *template set*: the bundled ``templates/`` directory, or a provider's own
directory given with ``--templates DIR`` (same layout: ``common/``, ``public/``, ``guangdong/``;
a provider's set may add ``documents/<kind>.html`` and ``.docx``, :attr:`TemplateSet.provided`).
Every environment is strict: an unknown variable is an error naming it (``StrictUndefined``),
and HTML output is autoescaped, so data can never inject markup.

A provider's templates are untrusted code, so a template set is a sandbox (issue 15):

- Every template, HTML or DOCX, runs in Jinja2's :class:`ImmutableSandboxedEnvironment`: no
  ``_``-prefixed attribute (``lipsum.__globals__``, frames, ``__class__``), no method that
  changes a list or dict, nothing that reaches Python's modules, files or processes. A template
  that tries is a :class:`~sheetgen.errors.TemplateError` naming its file and line.
- Templates are loaded only by :class:`SetLoader`: a name is a relative path inside the set,
  and a file (or a symlink) whose real path leaves the set is refused, so ``{% include %}``
  cannot read ``/etc/passwd`` through a link. :meth:`TemplateSet.read_bytes` applies the same
  rule to the DOCX templates.
- A context holds plain data only (dicts, lists, strings, numbers, booleans): no model object,
  and never the filing password (:mod:`sheetgen.documents.context` never puts it in one).

Compile once, stamp many (design.md §2) needs the *structure* of a page to depend only on
``flags.*`` and the static ``rules.*``, never on values. A template is therefore compiled with
:class:`Blank` values: they print as nothing, and testing or measuring one (``{% if host.name %}``,
``host.name|length``) raises a :class:`~sheetgen.errors.TemplateError` that names the value, so a
template that would lay out differently per record is caught at once instead of printing wrong.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from markupsafe import Markup

from sheetgen import resources
from sheetgen.errors import SheetgenError, TemplateError

if TYPE_CHECKING:
    import jinja2

    class _SetLoader(jinja2.BaseLoader):
        """What :func:`_loader_class` makes, for the type checker."""

        root: Path
        real_root: Path

        def __init__(self, root: Path) -> None: ...
        def path(self, name: str) -> Path: ...


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

    def __repr__(self) -> str:
        # What printing a whole mapping of blanks (``{{ host }}``) shows: no object address,
        # so such a layout is still the same bytes in every process.
        return ""

    def _refuse(self, *_: object) -> Any:
        raise BlankValueUsedError(self.path)

    __bool__ = __len__ = __iter__ = __eq__ = __lt__ = __gt__ = __contains__ = _refuse
    __getitem__ = __add__ = _refuse
    __hash__ = None  # type: ignore[assignment]


def blank_context(context: Mapping[str, Any], keep: frozenset[str]) -> dict[str, Any]:
    """``context`` with every value below the top-level keys not in ``keep`` blanked.

    Only the mappings' keys survive outside ``keep``: every leaf (a string, but also a list or
    a number, should a context ever hold one) becomes a :class:`Blank`, so no record data can
    reach a compiled layout. Blanking a blank context again changes nothing.
    """

    def blank(value: Any, path: str) -> Any:
        if isinstance(value, Mapping):
            return {k: blank(v, f"{path}.{k}") for k, v in value.items()}
        return Blank(path)

    return {k: (v if k in keep else blank(v, k)) for k, v in context.items()}


def blank_paths(context: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """The dotted path of every :class:`Blank` of a blanked context."""
    for key, value in context.items():
        if isinstance(value, Mapping):
            yield from blank_paths(value, f"{prefix}{key}.")
        elif isinstance(value, Blank):
            yield f"{prefix}{key}"


#: The folder of a template set whose ``<kind>.html`` / ``.docx`` print a document kind of the
#: rules' documents table (a provider's own letters).
PROVIDED = "documents"
#: Largest template file read (HTML, CSS or DOCX); the bundled ones are under 100 KB.
MAX_TEMPLATE_BYTES = 16 * 1024 * 1024


def template_name(name: str) -> str:
    """``name`` if it is a template name: a relative POSIX path without ``..``; else
    TemplateError (``public/sheet.html`` is one; ``/etc/passwd``, ``../x``, ``a\\b`` are not)."""
    if "\\" in name or "\0" in name or any(part in ("", ".", "..") for part in name.split("/")):
        raise TemplateError(f"template name {name!r} is not a path inside the template set",
                            hint="name templates relative to the set, e.g. public/sheet.html")
    return name


@cache
def _loader_class() -> type[_SetLoader]:
    """:class:`SetLoader`, defined on first use: Jinja2 is imported only when a template is
    loaded, not for a template set's digest (what a process whose layouts are all cached
    needs of it)."""
    import jinja2

    class SetLoader(jinja2.BaseLoader):
        """Loads templates from one template set, and nothing from outside it.

        Jinja2's FileSystemLoader refuses ``..`` in a name but follows a symlink anywhere; this
        loader resolves each file's real path and refuses one that leaves the set, and reads only
        regular files (a FIFO would block the read forever).
        """

        def __init__(self, root: Path) -> None:
            self.root = root
            self.real_root = root.resolve()

        def path(self, name: str) -> Path:
            """The real path of template ``name``, checked to be a regular file inside the set.

            Callers read this path, not the link that led to it, so a link changed between the
            check and the read cannot send the read elsewhere.
            """
            template_name(name)
            path = self.root / name
            try:
                real = path.resolve(strict=True)
            except (OSError, RuntimeError):  # missing, or a symlink loop
                raise jinja2.TemplateNotFound(name) from None
            if not real.is_relative_to(self.real_root):
                raise TemplateError(
                    f"template {name} is a link to a file outside the template set {self.root}",
                    hint="templates may use only files of their own set; copy the file into it")
            try:
                info = real.stat()
            except OSError:
                raise jinja2.TemplateNotFound(name) from None
            if not stat.S_ISREG(info.st_mode):
                raise TemplateError(f"template {name} is not a regular file (in {self.root})")
            if info.st_size > MAX_TEMPLATE_BYTES:
                raise TemplateError(f"template {name} is larger than "
                                    f"{MAX_TEMPLATE_BYTES // (1024 * 1024)} MiB (in {self.root})")
            return real

        def get_source(self, environment: jinja2.Environment,
                       template: str) -> tuple[str, str, Callable[[], bool]]:
            path = self.path(template)
            try:
                source = path.read_text("utf-8")
                mtime = path.stat().st_mtime
            except UnicodeDecodeError as exc:
                raise TemplateError(f"template {template} is not UTF-8 text (byte {exc.start})") \
                    from None
            except OSError:
                raise jinja2.TemplateNotFound(template) from None

            def uptodate() -> bool:
                try:
                    return path.stat().st_mtime == mtime
                except OSError:
                    return False

            # Named by its place in the set: Jinja2 puts this name in tracebacks (see where()).
            return source, str(self.root / template), uptodate

        def list_templates(self) -> list[str]:
            return sorted(name for name, _ in _set_files(self.root))

    return cast("type[_SetLoader]", SetLoader)


def _set_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(name, path) of every regular file of the set whose real path stays inside it."""
    real_root = root.resolve()
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        for file in sorted(files):
            path = Path(directory) / file
            try:
                real = path.resolve(strict=True)
                regular = stat.S_ISREG(real.stat().st_mode)
            except (OSError, RuntimeError):
                continue
            if regular and real.is_relative_to(real_root):
                yield path.relative_to(root).as_posix(), path


class TemplateSet:
    """One directory of templates with its strict Jinja2 environment."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise TemplateError(f"template directory not found: {root}")
        self.root = root

    @functools.cached_property
    def loader(self) -> _SetLoader:
        """The set's :class:`SetLoader`."""
        return _loader_class()(self.root)

    @functools.cached_property
    def env(self) -> jinja2.Environment:
        """The set's strict, sandboxed Jinja2 environment, made on first use."""
        import jinja2
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        return ImmutableSandboxedEnvironment(
            loader=self.loader,
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(["html", "htm", "xml"], default=True),
            keep_trailing_newline=True,
        )

    @functools.cached_property
    def provided(self) -> dict[str, tuple[str, ...]]:
        """The documents of a provider's set: ``documents/<kind>.html`` and ``.docx`` files,
        kind → their file names (templates/README.md, "Provider templates for a kind"). The
        bundled set has none; :func:`sheetgen.documents.kinds.provider_documents` checks that
        the rules know each kind."""
        found: dict[str, list[str]] = {}
        for name, _ in _set_files(self.root):
            folder, _, file = name.partition("/")
            stem, dot, suffix = file.rpartition(".")
            if folder == PROVIDED and "/" not in file and dot and suffix in ("html", "docx"):
                found.setdefault(stem, []).append(name)
        return {kind: tuple(names) for kind, names in sorted(found.items())}

    @property
    def digest(self) -> str:
        """A hash of every file of the set: part of the layout cache key."""
        return _tree_digest(self.root)

    def read_bytes(self, name: str) -> bytes:
        """The bytes of file ``name`` of the set (a DOCX template), under the loader's rules."""
        import jinja2

        try:
            return self.loader.path(name).read_bytes()
        except (jinja2.TemplateNotFound, OSError):
            raise TemplateError(f"template not found: {name} (in {self.root})") from None

    def locate(self, pattern: str, first: str) -> str:
        """``file line N`` of the first match of the regular expression ``pattern`` (of its
        group ``at`` if it has one) in the template ``first``, else in the set's other HTML and
        CSS files; else ``first``.

        How a problem found in the laid-out page (an element, a page size) is traced back to
        the source line a template author has to change.
        """
        import jinja2

        regex = re.compile(pattern)
        names = [first] + [n for n in self.loader.list_templates()
                           if n != first and n.endswith((".html", ".htm", ".css"))]
        for name in names:
            try:
                text = self.loader.path(name).read_text("utf-8")
            except (OSError, UnicodeDecodeError, SheetgenError, jinja2.TemplateNotFound):
                continue
            found = regex.search(text)
            if found:
                at = found.start("at") if "at" in regex.groupindex else found.start()
                return f"{name} line {text.count(chr(10), 0, at) + 1}"
        return first

    def where(self, exc: BaseException, name: str) -> str:
        """``file line N`` of the template line that raised ``exc``, else ``name``.

        Jinja2 rewrites a template's traceback so that its frames carry the template's file
        name and line; the innermost frame of a file of this set is the one to name.
        """
        found = name
        tb: TracebackType | None = exc.__traceback__
        while tb is not None:
            # The loader names each template's file root / name, so this is a prefix test.
            path = Path(tb.tb_frame.f_code.co_filename)
            if path.is_relative_to(self.root):
                found = f"{path.relative_to(self.root).as_posix()} line {tb.tb_lineno}"
            tb = tb.tb_next
        return found

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Render template ``name``; every template problem becomes a TemplateError."""
        import jinja2
        from jinja2.exceptions import SecurityError

        try:
            return self.env.get_template(name).render(context)
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"template not found: {exc.name} (in {self.root})") from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(
                f"template {self.where(exc, name)} uses an unknown variable: {exc.message}",
                hint="see templates/README.md for the variables a template receives") from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"template syntax error in {exc.name or name} line "
                                f"{exc.lineno}: {exc.message}") from None
        except SecurityError as exc:
            raise TemplateError(
                f"template {self.where(exc, name)} does what templates may not: {exc}",
                hint="templates may print and test their context only; see templates/README.md",
            ) from None
        except BlankValueUsedError as exc:
            raise TemplateError(
                f"template {self.where(exc, name)} tests or measures the value {exc.args[0]}; a "
                "page's structure may depend only on flags.* so that it can be compiled once",
                hint="print values with {{ … }} inside a data-field box; branch on flags.*",
            ) from None
        except TemplateError as exc:
            # The loader refused an include: name the line that asked for it.
            where = self.where(exc, name)
            if " line " not in where:
                raise
            raise TemplateError(f"template {where}: {exc.message}", hint=exc.hint) from None
        except SheetgenError:
            raise
        except Exception as exc:  # the template's own code failed ({{ 1 / 0 }}), not sheetgen
            raise TemplateError(
                f"template {self.where(exc, name)} failed: {type(exc).__name__}: {exc}",
                hint="see templates/README.md") from None


@cache
def _tree_digest(root: Path) -> str:
    # Only what a template can load: files (and links) leaving the set are not part of it.
    sha = hashlib.sha256()
    for name, path in sorted(_set_files(root)):
        sha.update(name.encode())
        sha.update(b"\0")
        sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def bundled() -> TemplateSet:
    """The template set shipped with sheetgen."""
    return _bundled()


@cache
def _bundled() -> TemplateSet:
    return TemplateSet(resources.templates_dir())
