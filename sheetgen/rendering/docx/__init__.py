"""Word output: docxtpl templates rendered from the same context as the PDF, values fitted
against the cell geometry read from the DOCX (:mod:`~sheetgen.rendering.docx.document`).
"""
