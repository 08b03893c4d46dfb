"""The provider configuration file's schema (``sheetgen.toml``): its tables and keys, strict.

Apart from :mod:`~sheetgen.documents.provider`, which reads the file, so that a run without
one (most runs) never builds these pydantic models: a cold ``sheetgen fill`` stays fast.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

#: Originals of one document, at most (as ``--copies``).
MAX_ORIGINALS = 10


class _Table(BaseModel):
    # Strict: ``sheet = "yes"`` or ``sheet = 2`` is a mistake to name, not a value to guess.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


class _Provider(_Table):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                           max_length=100)] | None = None
    flow: Literal["paper", "electronic"] | None = None
    templates: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None
    sheet: bool = False


class ConfigFile(_Table):
    """The whole file: ``[provider]`` and ``[originals]``."""

    provider: _Provider = Field(default_factory=_Provider)
    originals: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")],
                    Annotated[int, Field(ge=1, le=MAX_ORIGINALS)]] = {}
