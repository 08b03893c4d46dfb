"""Document kinds (issue 22): the registry, kind-naming sheet codes, receive per document, and
a new kind added with one definition, one registry entry and one rules entry."""

from __future__ import annotations

from sheetgen.documents import sheetcode
from sheetgen.documents.kinds import COVER, SHEET, kinds
from sheetgen.receive import PageResult
from sheetgen.receive.records import group


def test_the_registry_holds_the_cover_and_the_sheet_in_print_order() -> None:
    names = [kind.name for kind in kinds()]
    assert names.index(COVER.name) < names.index(SHEET.name)
    assert SHEET.code and SHEET.originals and SHEET.per_website
    assert SHEET.boxes == {"signature", "seal", "fingerprint", "date"}
    assert not COVER.code and COVER.switch == "cover" and COVER.max_pages == 2


def test_a_sheet_keeps_its_version_1_code_and_other_kinds_name_theirs() -> None:
    assert sheetcode.sheet_code("QY-1", 0, 2) == "SG1:QY-1:1/2:{layout}"
    payload = sheetcode.complete(sheetcode.sheet_code("QY-1", 0, 1, "letter"), "3fa9c2d10b77")
    assert payload == "SG2:LETTER:QY-1:1/1:3FA9C2D10B"
    code = sheetcode.parse(payload)
    assert code is not None and (code.version, code.kind, code.reference, code.website,
                                 code.count, code.layout) == (2, "letter", "QY-1", 1, 1,
                                                              "3FA9C2D10B")
    old = sheetcode.parse("SG1:QY-1:2/2:3FA9C2D10B")
    assert old is not None and old.kind == "sheet" and old.website == 2
    assert sheetcode.parse("QY-1") is not None  # a reference-only code, older still
    for bad in ("SG2:letter:QY-1:1/1:3FA9C2D10B", "SG2:LETTER:QY-1:2/1:3FA9C2D10B",
                "SG2::QY-1:1/1:3FA9C2D10B", "SG2:LETTER:QY 1:1/1:3FA9C2D10B"):
        assert sheetcode.parse(bad) is None, bad


def _page(kind: str, number: int, count: int, name: str) -> PageResult:
    return PageResult(name, 1, version=2, reference="QY-1", kind=kind, website=number,
                      count=count, layout="0" * 10, signed=True)


def test_originals_are_counted_per_document_not_only_per_website() -> None:
    pages = [_page("sheet", 1, 1, "a"), _page("sheet", 1, 1, "b"), _page("letter", 1, 1, "c")]
    [record] = group(pages, None, originals=2)
    assert not record.complete
    missing = [p for p in record.problems if p["code"] == "missing_originals"]
    assert [(p["website"], p.get("kind"), p.get("number")) for p in missing] == [
        (None, "letter", 1)]
    assert "1 of 2 originals" in missing[0]["message"]
    assert set(record.received) == {1}  # the sheets' view the spreadsheet report prints
    kinds_received = [(r["kind"], r["website"], r["originals"])
                      for r in record.as_dict()["received"]]
    assert kinds_received == [("sheet", 1, 2), ("letter", 1, 1)]
    [complete] = group([*pages, _page("letter", 1, 1, "d")], None, originals=2)
    assert complete.complete, complete.problems
