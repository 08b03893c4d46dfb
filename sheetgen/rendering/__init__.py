"""Stage 4, render: documents become PDF pages and Word files.

Format-neutral parts sit here (:mod:`~sheetgen.rendering.fonts`: the bundled fonts and text
measurement; :mod:`~sheetgen.rendering.templating`: template sets and Jinja2); each output format
has its own subpackage, :mod:`sheetgen.rendering.pdf` and :mod:`sheetgen.rendering.docx`, which do
not import each other.
"""
