"""PDF output: compile a layout once (WeasyPrint), stamp values per record (content streams
written directly, fonts through HarfBuzz), compose pages and bundles (our writer; pypdf reads
the backgrounds). See ``docs/how-it-works.md``.

- :mod:`~sheetgen.rendering.pdf.layout`: compiled layouts, their field maps and their cache;
- :mod:`~sheetgen.rendering.pdf.stamp`: drawing fitted values onto a page;
- :mod:`~sheetgen.rendering.pdf.compose`: stamp pages over backgrounds, outlines, metadata;
- :mod:`~sheetgen.rendering.pdf.document`: one applicant's PDF and the batch bundle builder;
- :mod:`~sheetgen.rendering.pdf.preview`: PNG pages of a PDF (pypdfium2).
"""
