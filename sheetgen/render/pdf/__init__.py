"""PDF output: compile a layout once (WeasyPrint), stamp values per record (reportlab), compose
pages and bundles (pypdf). See ``docs/how-it-works.md``.

- :mod:`~sheetgen.render.pdf.layout`: compiled layouts, their field maps and their cache;
- :mod:`~sheetgen.render.pdf.stamp`: drawing fitted values onto a page;
- :mod:`~sheetgen.render.pdf.compose`: stamp pages over backgrounds, outlines, metadata;
- :mod:`~sheetgen.render.pdf.document`: one applicant's PDF and the batch bundle builder;
- :mod:`~sheetgen.render.pdf.preview`: PNG pages of a PDF (pypdfium2).
"""
