"""Render options: the choices of ``sheetgen fill`` beyond the data that change what is printed.

One definition for every engine and every caller (fill, batch, serve, the library API); the
document kinds (:mod:`~sheetgen.documents.kinds`) read them (a kind's ``switch`` and
``choice``, ``--copies`` and the provider configuration's ``[originals]`` for originals, the
sheet's ``--details``), the jobs (:mod:`~sheetgen.documents.jobs`) carry them to the engines.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a template set is chosen by the caller; documents never load one
    from sheetgen.rendering.templating import TemplateSet


@dataclass(frozen=True)
class RenderOptions:
    """How to render: the choices of ``sheetgen fill`` beyond the data."""

    provider: str | None = None
    qr: bool = True
    cover: bool = True
    copies: int = 1
    templates: TemplateSet | None = None
    pdfa: bool = False  # mark the PDF as PDF/A-2b (archival)
    details: bool = False  # the detailed applicant block on the sheet (--details)
    #: Originals per document kind (the provider configuration's ``[originals]``), as sorted
    #: (kind, count) pairs; a kind printed as originals and not named gets ``copies``.
    originals: tuple[tuple[str, int], ...] = ()
    #: The check sheet: True prints it, False leaves it out, None lets the rules decide (the
    #: paper flow prints it, the electronic flow does not: ``[documents.sheet]``).
    sheet: bool | None = None

    def originals_of(self, kind: str) -> int:
        """How many originals of ``kind`` to print (a kind printed as originals)."""
        return dict(self.originals).get(kind, self.copies)

    def identity(self) -> dict[str, Any]:
        """The options as plain data, for a key over everything that changes an output (the
        template set is keyed by its own digest, elsewhere)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != "templates"}
