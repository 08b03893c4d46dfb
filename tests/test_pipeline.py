"""The record pipeline (sheetgen/pipeline.py): one applicant → named files, for every caller."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import sheetgen
from sheetgen.batch import BatchOptions, run_batch
from sheetgen.documents.jobs import RenderOptions
from sheetgen.errors import DoesNotFitError
from sheetgen.pipeline import docx_name, output_stem, plan_input, produce
from tests.applicants import example, personal, unit
from tests.conftest import EXAMPLES

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))


def _plan(data: dict[str, Any]) -> Any:
    return plan_input(json.dumps(data, ensure_ascii=False).encode(), source="test")


def test_names_of_a_single_applicant() -> None:
    applicant = sheetgen.load(personal())
    assert output_stem(applicant) == "QY-2026-000123"
    anonymous = sheetgen.load({k: v for k, v in unit().items() if k != "ref"})
    stem = output_stem(anonymous)
    assert stem.startswith("北京某某科技有限公司-SG-") and stem.endswith(
        sheetgen.render(anonymous, formats=("docx",)).reference)
    assert docx_name("x", "sheet2") == "x-sheet2.docx"


def test_produce_names_every_file_from_the_stem_and_renders_only_what_is_asked() -> None:
    plan = _plan(example("beijing-unit-two-websites"))
    both = produce(plan, RenderOptions(), formats=("pdf", "docx"), stem="s")
    assert [(f.name, f.format) for f in both.files] == [
        ("s.pdf", "pdf"), ("s-cover.docx", "docx"), ("s-sheet1.docx", "docx"),
        ("s-sheet2.docx", "docx")]
    assert both.pdf == both.files[0].data and both.pages == both.rendered.pages  # type: ignore[union-attr]
    nothing = produce(plan, RenderOptions(), formats=(), stem="s")
    assert nothing.files == [] and nothing.planned == [] and nothing.pages is None
    pages = produce(plan, RenderOptions(), formats=(), stem="s", keep_pages=True)
    assert pages.files == [] and pages.pages == both.pages and pages.fits == both.fits


def test_batch_writes_exactly_the_bytes_render_returns(tmp_path: Path) -> None:
    """fill, batch and the library are one pipeline: the same files, byte for byte."""
    out = tmp_path / "out"
    result = run_batch([str(p) for p in EXAMPLE_FILES],
                       BatchOptions(outdir=out, jobs=1, formats=("pdf", "docx")),
                       mp_context=multiprocessing.get_context("fork"))
    assert result.ok
    for path in EXAMPLE_FILES:
        for name, data in sheetgen.render(path.read_bytes(), formats=("pdf", "docx")
                                          ).files.items():
            assert (out / name).read_bytes() == data, name


# --- the formats agree on what fits ---------------------------------------------------------

def _verdict(data: dict[str, Any], fmt: str) -> list[str]:
    """The JSON paths of the values that do not fit, in one format ([] when all fit)."""
    try:
        produce(_plan(data), RenderOptions(), formats=(fmt,), stem="x")
    except DoesNotFitError as err:
        return sorted(p.path for p in err.problems)
    return []


def _name(length: int) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["host"]["name"] = "某" * length
        for website in data["websites"]:
            website["manager"]["name"] = "某" * length  # a person is their own manager
    return change


def _set(path: str, length: int) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(data: dict[str, Any]) -> None:
        node = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        node[last] = "某" * length
    return change


#: The longest value each printed field accepts (model.py), one kind of applicant each.
LONGEST = {
    "websites[0].name": ("unit", _set("websites.0.name", 64)),
    "host.name (unit)": ("unit", _set("host.name", 100)),
    "host.name (person)": ("personal", _name(50)),
    "host.address": ("unit", _set("host.address", 200)),
    "host.principal.name": ("unit", _set("host.principal.name", 50)),
    "websites[0].manager.name": ("unit", _set("websites.0.manager.name", 50)),
    "access.provider": ("personal", _set("access.provider", 100)),
}
BASES: dict[tuple[str, str], Callable[[], dict[str, Any]]] = {
    ("public", "personal"): personal, ("public", "unit"): unit,
    ("guangdong", "personal"): lambda: example("guangdong-personal"),
    ("guangdong", "unit"): lambda: example("guangdong-unit"),
}


@pytest.mark.parametrize("variant", ["public", "guangdong"])
@pytest.mark.parametrize("field", sorted(LONGEST))
def test_a_value_fits_the_pdf_exactly_when_it_fits_the_word_file(field: str,
                                                                   variant: str) -> None:
    kind, change = LONGEST[field]
    data = BASES[variant, kind]()
    change(data)
    assert _verdict(data, "pdf") == _verdict(data, "docx")


def test_an_address_at_the_pdf_limit_fits_both_and_one_more_character_neither() -> None:
    """The 180-character address the Word files used to refuse (3 lines at 7 pt)."""
    def address(length: int) -> dict[str, Any]:
        data = unit()
        _set("host.address", length)(data)
        return data

    assert _verdict(address(180), "pdf") == _verdict(address(180), "docx") == []
    assert _verdict(address(181), "pdf") == _verdict(address(181), "docx") == ["host.address"]
