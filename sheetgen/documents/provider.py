"""The provider's configuration file: ``sheetgen.toml`` (or ``--config FILE``).

A provider prints for many applicants with the same choices: its name, its verification flow
(``paper`` or ``electronic``), its own templates and how many originals of each document its
desk wants. They are a setting, not flags to remember on every command::

    [provider]
    name = "某某云"            # as --provider
    flow = "electronic"        # as --verification
    templates = "my-templates" # as --templates, relative to this file
    sheet = false              # electronic flow: print the check sheet anyway
    [originals]                # originals per document kind (as --copies for the sheet)
    sheet = 2
    manager_authorisation = 1

This module owns finding the file (``--config FILE``, else ``SHEETGEN_CONFIG``, else
``sheetgen.toml`` in the working directory, else none), reading it into a strict model (an
unknown key or a bad value is a :class:`~sheetgen.errors.UsageError`, exit 2, naming the
file, the line and the key, found as the rules loader finds them) and checking the
``[originals]`` names against the document kinds (the registry and the rules' documents
table). The command line (:mod:`sheetgen.cli.options`) and ``sheetgen serve`` merge it with
their options: an option given on the command line wins over the file, the file over the
defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sheetgen.errors import Problem, UsageError

if TYPE_CHECKING:
    from sheetgen.rules import Rules

#: The file looked for in the working directory.
CONFIG_NAME = "sheetgen.toml"
#: The environment variable naming a configuration file (when ``--config`` is not given).
CONFIG_ENV = "SHEETGEN_CONFIG"
#: Largest configuration file read; a real one is a few hundred bytes.
MAX_CONFIG_BYTES = 64 * 1024

_HINT = ("the keys are [provider] name, flow (paper|electronic), templates, sheet (true|false) "
         "and [originals] <document kind> = N; see README.md, Provider configuration")


@dataclass(frozen=True)
class ProviderConfig:
    """A provider configuration as read (all empty: no file)."""

    path: Path | None = None            # the file read; None: none was found
    name: str | None = None             # [provider] name
    flow: str | None = None             # [provider] flow: paper | electronic
    templates: Path | None = None       # [provider] templates, resolved against the file
    sheet: bool = False                 # [provider] sheet: the sheet in the electronic flow
    originals: tuple[tuple[str, int], ...] = ()  # [originals], in the file's order
    text: str = ""                      # the file's text, to name lines in later errors

    def line(self, key: str) -> str:
        """``line N: `` of the dotted ``key`` in the file, or ``""``."""
        # The rules loader's way of finding a key's line.
        from sheetgen.rules.parsing import _line_of

        found = _line_of(self.text, key) if self.text else None
        return f"line {found}: " if found else ""

    def error(self, key: str, message: str, hint: str | None = _HINT) -> UsageError:
        """The UsageError of ``key`` of this file: file, line and key named."""
        where = self.line(key)
        return UsageError(f"config file {self.path} {where}key {key}: {message}", hint=hint,
                          problems=[Problem(key, "usage", f"{where}{message}")])

    def check_kinds(self, rules: Rules) -> ProviderConfig:
        """This configuration, its ``[originals]`` names checked against the document kinds
        (the registry's and those the rules' documents table names); a UsageError names an
        unknown one."""
        from sheetgen.documents.kinds import kinds

        registered = {kind.name: kind for kind in kinds()}
        # A document signed and handed in (the sheet, a letter: it carries a code) or one the
        # rules define (or re-define) may be an original; the cover may not.
        known = {name for name, kind in registered.items() if kind.originals or kind.code} | {
            name for name in rules.documents if name not in registered}
        printed = set(registered)
        for name, _ in self.originals:
            if name not in known:
                what = ("is not printed as an original" if name in printed
                        else "is not a document kind")
                raise self.error(f"originals.{name}", f"{name} {what}",
                                 hint="document kinds printed as originals: "
                                      + ", ".join(sorted(known)))
        return self


def find_config(given: Path | None, *, cwd: Path | None = None,
                environ: dict[str, str] | None = None) -> Path | None:
    """The configuration file in use: ``given`` (``--config``), else ``SHEETGEN_CONFIG``'s,
    else ``sheetgen.toml`` in ``cwd`` (the working directory) when there is one."""
    if given is not None:
        return given
    named = (os.environ if environ is None else environ).get(CONFIG_ENV, "").strip()
    if named:
        return Path(named)
    here = (cwd or Path.cwd()) / CONFIG_NAME
    return here if here.is_file() else None


def load_config(given: Path | None = None, *, cwd: Path | None = None,
                environ: dict[str, str] | None = None) -> ProviderConfig:
    """The provider configuration (see :func:`find_config`); an empty one without a file.
    A file that was named but does not exist, is not TOML, or holds an unknown key or a bad
    value is a UsageError naming the file (and the line and key)."""
    path = find_config(given, cwd=cwd, environ=environ)
    if path is None:
        return ProviderConfig()
    return parse_config(_read(path), path)


def _read(path: Path) -> bytes:
    from sheetgen.sources.json import read_file

    data = read_file(path, limit=MAX_CONFIG_BYTES, what="config file", regular=True,
                     hint=f"give an existing file, or leave out --config (then ./{CONFIG_NAME} "
                          "is read when there is one)")
    if len(data) > MAX_CONFIG_BYTES:
        raise UsageError(f"config file {path} is larger than {MAX_CONFIG_BYTES // 1024} KiB")
    return data


def parse_config(data: bytes, path: Path) -> ProviderConfig:
    """The configuration of the bytes of the file ``path``."""
    import tomllib

    from pydantic import ValidationError as PydanticValidationError

    from sheetgen.documents.config_file import ConfigFile
    from sheetgen.sources.json import json_path

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"config file {path} is not UTF-8 (byte {exc.start})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path}: TOML syntax error: {exc}", hint=_HINT) from None
    except (ValueError, RecursionError):  # a number of thousands of digits, absurd nesting
        raise UsageError(f"config file {path}: cannot be read as TOML", hint=_HINT) from None
    empty = ProviderConfig(path=path, text=text)
    try:
        model = ConfigFile.model_validate(raw)
    except PydanticValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        loc = err["loc"]
        message = ("unknown key" if err["type"] == "extra_forbidden" else err["msg"])
        if loc[-1:] == ("[key]",):  # a table's key itself is wrong: name the key
            loc, message = loc[:-1], "not a document kind name (write a-z, 0-9 and _)"
        key = json_path(part if isinstance(part, int) else str(part) for part in loc)
        raise empty.error(key, message) from None
    provider = model.provider
    name = None
    if provider.name is not None:
        from sheetgen.model import clean_provider

        try:
            name = clean_provider(provider.name) or None
        except UsageError as err:
            raise empty.error("provider.name", err.message.removeprefix("--provider: ")) \
                from None
    templates = None
    if provider.templates is not None:
        templates = path.parent / provider.templates
        if not templates.is_dir():
            raise empty.error("provider.templates",
                              f"{templates} is not a folder (relative to the config file)",
                              hint="name the folder of your templates, relative to the config "
                                   "file (templates/README.md describes its layout)")
    return ProviderConfig(path=path, name=name, flow=provider.flow, templates=templates,
                          sheet=provider.sheet, originals=tuple(model.originals.items()),
                          text=text)
