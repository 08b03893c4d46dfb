"""Golden files of the deterministic parts: what a change to them changes is seen in review.

- ``validation.json``: every problem of a set of bad inputs (paths, codes, messages);
- ``contexts.json``: the context each template of each example receives, and the JSON path
  behind each value;
- ``fieldmaps.json``: the field map of every layout the examples use (boxes in points);
- ``reports.json``: the ``fill --json`` document of each example (pages, variant, fit).

After an intended change: ``SHEETGEN_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py``,
then read the diff of ``tests/golden/`` before committing it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import sheetgen
from sheetgen.documents.jobs import RenderOptions, applicant_jobs
from sheetgen.pipeline import plan_input
from sheetgen.rendering.pdf.layout import get_layout
from sheetgen.rendering.templating import bundled
from tests.applicants import DELETE, edit, personal, unit
from tests.conftest import EXAMPLES

GOLDEN = Path(__file__).parent / "golden"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))

#: Bad inputs, one or more mistakes each, as a user or a provider's export makes them.
BAD: dict[str, Callable[[], object]] = {
    "not-an-object": lambda: b'["x"]',
    "empty": lambda: {},
    "typo-key": lambda: edit(personal(), "hots", {}),
    "wrong-types": lambda: edit(edit(personal(), "websites", "x"), "special_site", "yes"),
    "id-checksum": lambda: edit(personal(), "host.certificate.number", "360426199101010072"),
    "mobile": lambda: edit(personal(), "websites[0].manager.mobile", "12345"),
    "www-domain": lambda: edit(personal(), "websites[0].domains[0]", "www.example.cn"),
    "manager-not-host": lambda: edit(personal(), "websites[0].manager.name", "李四"),
    "unit-without-principal": lambda: edit(unit(), "host.principal", DELETE),
    "beijing-without-registrar": lambda: edit(unit(), "websites[0].domains[0]", "example.cn"),
    "new-access-missing": lambda: edit(personal(), "filing_type", "new_access"),
    "province": lambda: edit(personal(), "province", "火星"),
    "short-name": lambda: edit(personal(), "websites[0].name", "ab"),
}


def _check(name: str, actual: Any) -> None:
    path = GOLDEN / name
    text = json.dumps(actual, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if os.environ.get("SHEETGEN_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, "utf-8")
    assert path.is_file(), f"{path} is missing: run with SHEETGEN_UPDATE_GOLDEN=1"
    expected = json.loads(path.read_text("utf-8"))
    assert json.loads(text) == expected, f"{name} changed: see the module docstring"


def _plans() -> dict[str, Any]:
    return {path.stem: plan_input(path.read_bytes(), source=path.name) for path in EXAMPLE_FILES}


def test_validation_problems() -> None:
    _check("validation.json", {name: [p.as_dict() for p in sheetgen.check(make())]
                               for name, make in BAD.items()})


def test_template_contexts() -> None:
    contexts = {}
    for name, plan in _plans().items():
        for number, job in enumerate(applicant_jobs(plan, RenderOptions())):
            contexts[f"{name} {number} {job.sheet.template}"] = {
                "context": job.sheet.context, "paths": job.sheet.paths}
    _check("contexts.json", contexts)


def test_field_maps() -> None:
    maps: dict[str, Any] = {}
    for plan in _plans().values():
        for job in applicant_jobs(plan, RenderOptions()):
            layout = get_layout(bundled(), job.sheet.template, job.sheet.context,
                                max_pages=job.max_pages)
            flags = job.sheet.context.get("flags", {})
            key = f"{job.sheet.template} " + ",".join(sorted(k for k, v in flags.items() if v))
            maps[key] = {
                "pages": [[round(w, 1), round(h, 1)] for w, h in layout.page_sizes],
                "fields": [{"path": f.path, "kind": f.kind, "page": f.box.page,
                            "box": [round(v, 1) for v in (f.box.x, f.box.y, f.box.width,
                                                          f.box.height)],
                            "font_size": f.font_size, "min_size": f.min_size,
                            "align": f.align, "overflow": f.overflow}
                           for f in layout.fields],
                "regions": {name: [round(v, 1) for v in (r.box.x, r.box.y, r.box.width,
                                                         r.box.height)]
                            for name, r in sorted(layout.regions.items())}}
    _check("fieldmaps.json", maps)


@pytest.mark.parametrize("formats", [("pdf",), ("pdf", "docx")], ids=["pdf", "pdf+docx"])
def test_fill_reports(formats: tuple[str, ...]) -> None:
    reports = {path.stem: sheetgen.render(path.read_bytes(), formats=formats).report()
               for path in EXAMPLE_FILES}
    _check(f"reports-{'-'.join(formats)}.json", reports)
