"""Render the PNG pictures under docs/ from the bundled examples (run after changing templates).

    .venv/bin/python tools/render_docs.py
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sheetgen.documents.jobs import RenderOptions  # noqa: E402
from sheetgen.pipeline import plan_input  # noqa: E402 - after the path set-up above
from sheetgen.rendering.pdf.document import render_pdf  # noqa: E402
from sheetgen.rendering.pdf.preview import page_images  # noqa: E402

#: (example, page to show: "cover" or "sheet", picture name)
PICTURES = [
    ("zhejiang-personal", "sheet", "sheet-public-personal.png"),
    ("guangdong-unit", "sheet", "sheet-guangdong-unit.png"),
    ("jiangxi-personal", "sheet", "sheet-jiangxi-personal.png"),
    ("guangdong-personal", "sheet", "sheet-guangdong-personal.png"),
    ("jiangxi-personal", "cover", "cover-jiangxi-personal.png"),
]
DPI = 96


def main() -> None:
    docs = REPO / "docs"
    docs.mkdir(exist_ok=True)
    for example, which, name in PICTURES:
        plan = plan_input((REPO / "examples" / f"{example}.json").read_bytes(), source=example)
        rendered = render_pdf(plan, RenderOptions(cover=which == "cover"))
        (docs / name).write_bytes(page_images(rendered.pdf, dpi=DPI)[0])
        print(docs / name)


if __name__ == "__main__":
    main()
