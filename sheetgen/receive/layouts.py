"""From a sheet code back to the layout the page was printed from, and its blank page.

A version 1 code carries the first digits of its layout's key (:mod:`sheetgen.documents.
sheetcode`). The layout is looked up in the layout cache (this process's, then the disk
cache, where ``fill`` and ``batch`` left it); failing that, every layout this version of
sheetgen can print under the rules and templates in use is enumerated (each registered document
kind that carries a code says its own, :attr:`~sheetgen.documents.kinds.DocumentKind.layouts`:
for the sheet each variant, unit or personal, with or without fingerprint, seal, landline and
registrar: a few dozen keys, hashing only) and the one with that key is compiled again. A key
that matches none was printed by another version, other templates or other rules: the page is
matched by its reference only.

The candidates are built with the kinds' real context builders from an example applicant's plan
with the structural choices replaced, so they carry the same flags and static texts a printed
page's context does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from sheetgen.documents.plan import FilingPlan
from sheetgen.documents.sheetcode import layout_id
from sheetgen.rendering.pdf.layout import CompiledLayout, cached_layout, get_layout, layout_key
from sheetgen.rendering.templating import TemplateSet
from sheetgen.rules import Rules


class Layouts:
    """Finds the layouts of scanned sheets, and renders their blank pages, once each."""

    def __init__(self, templates: TemplateSet, rules: Rules) -> None:
        self.templates = templates
        self.rules = rules
        self._found: dict[str, CompiledLayout | None] = {}
        self._candidates: dict[str, tuple[str, dict[str, Any]]] | None = None
        self._plan: FilingPlan | None = None
        self._blanks: dict[tuple[str, float], np.ndarray[Any, np.dtype[np.float64]]] = {}

    def blank(self, layout: CompiledLayout, dpi: float) -> np.ndarray[Any, np.dtype[np.float64]]:
        """The layout's background page at ``dpi`` as darkness (0 paper, 1 black)."""
        key = (layout.key, dpi)
        if key not in self._blanks:
            self._blanks[key] = _render_blank(layout, dpi)
        return self._blanks[key]

    def boxes(self, kind: str | None) -> frozenset[str]:
        """The boxes receive checks on a page of document ``kind`` (the registry's; every
        box for a kind this version does not know, as before kinds existed)."""
        from sheetgen.documents.kinds import BOXES
        from sheetgen.documents.kinds import kind as registered

        found = registered(kind, self.plan, self.templates.provided) if kind is not None \
            else None
        return found.boxes if found is not None else frozenset(BOXES)

    @property
    def plan(self) -> FilingPlan:
        """An example applicant's plan under the rules in use: the candidates' base, and the
        kinds the rules define."""
        if self._plan is None:
            from sheetgen.documents.example import make_example
            from sheetgen.documents.plan import make_plan
            from sheetgen.model import Applicant

            self._plan = make_plan(Applicant.model_validate(make_example(self.rules)),
                                   self.rules)
        return self._plan

    def find(self, short_id: str) -> CompiledLayout | None:
        """The layout whose key starts with ``short_id``, or None when this setup has none."""
        if short_id not in self._found:
            self._found[short_id] = self._find(short_id)
        return self._found[short_id]

    def _find(self, short_id: str) -> CompiledLayout | None:
        layout = cached_layout(short_id)
        if layout is not None and layout.page_count == 1:
            return layout
        if self._candidates is None:
            self._candidates = {layout_id(layout_key(self.templates, template, context)):
                                (template, context) for template, context in self._enumerate()}
        candidate = self._candidates.get(short_id)
        if candidate is None:
            return None
        return get_layout(self.templates, *candidate)

    def _enumerate(self) -> Iterator[tuple[str, dict[str, Any]]]:
        from sheetgen.documents.kinds import kinds

        plan = self.plan
        # Every kind that carries a code (a provider's documents/<kind> too), each layout.
        for kind in kinds(plan, self.templates.provided):
            if kind.code:
                for context in kind.layouts(plan, self.rules, kind):
                    yield context.template, context.context


def _render_blank(layout: CompiledLayout, dpi: float) -> np.ndarray[Any, np.dtype[np.float64]]:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(layout.background)
    try:
        page = document[0]
        bitmap = page.render(scale=dpi / 72, grayscale=True)
        grey = np.asarray(bitmap.to_pil().convert("L"), dtype=np.float64)
        bitmap.close()
        page.close()
    finally:
        document.close()
    return 1.0 - grey / 255.0
