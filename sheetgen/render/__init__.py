"""Stage 4, render: documents become PDF pages and Word files.

Format-neutral parts sit here (:mod:`~sheetgen.render.fonts`: the bundled fonts and text
measurement; :mod:`~sheetgen.render.templating`: template sets and Jinja2); each output format
has its own subpackage, :mod:`sheetgen.render.pdf` and :mod:`sheetgen.render.docx`, which do
not import each other.
"""
