"""The composer's PDF objects (:mod:`sheetgen.rendering.pdf.syntax`) and the rule that no
regular expression touches PDF bytes on the render path (issue 28)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sheetgen.rendering.pdf import syntax
from sheetgen.rendering.pdf.syntax import Bytes, Name, Raw, Ref, Text

PDF = Path(__file__).resolve().parent.parent / "sheetgen" / "rendering" / "pdf"


def test_tokens_are_separated_only_where_both_sides_are_regular() -> None:
    page = {"Type": Name("Page"), "Parent": Ref(3), "MediaBox": [0, 0, 595.2756, 841.8898],
            "Resources": {"Font": {"SgB0": Ref(12)}}, "Contents": [Ref(4), Ref(5)],
            "Dest": [Ref(7), Name("Fit")], "W": [1, [500, 600], 7, [250]], "Neg": [-1, -2.5],
            "ID": [Bytes(b"\x01\xab")] * 2, "Box": Raw(b"[0 0 1 1]"), "On": True}
    assert syntax.serialize(page) == (
        b"<</Type/Page/Parent 3 0 R/MediaBox[0 0 595.2756 841.8898]/Resources<</Font<</SgB0"
        b" 12 0 R>>>>/Contents[4 0 R 5 0 R]/Dest[7 0 R/Fit]/W[1[500 600]7[250]]"
        b"/Neg[-1 -2.5]/ID[<01ab><01ab>]/Box[0 0 1 1]/On true>>")
    assert syntax.entries({"N": 3, "Filter": Name("FlateDecode")}) == b"/N 3/Filter/FlateDecode"


@pytest.mark.parametrize(("value", "expected"), [
    (Text("a(b)\\c"), b"(a\\(b\\)\\\\c)"),
    (Text("核验"), b"<FEFF68389A8C>"),
    (Name("A B#/"), b"/A#20B#23#2F"),
    (Name("TAG+Noto"), b"/TAG+Noto"),
    (0.5, b"0.5"),
    (12.0, b"12"),
])
def test_values(value: syntax.Value, expected: bytes) -> None:
    assert syntax.serialize(value) == expected


def test_anything_else_is_refused() -> None:
    with pytest.raises(TypeError):
        syntax.serialize(object())  # type: ignore[arg-type]


@pytest.mark.parametrize("module", ["background.py", "compose.py", "stamp.py", "document.py",
                                    "syntax.py"])
def test_no_regular_expression_on_the_render_path(module: str) -> None:
    tree = ast.parse((PDF / module).read_text("utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert "re" not in imported and "regex" not in imported
