"""Stage 3, documents: what to print for one validated applicant, before any engine is involved.

- :mod:`~sheetgen.documents.plan`: the filing plan under the rules (variant, template and boxes
  per sheet, the cover's facts);
- :mod:`~sheetgen.documents.context`: the plain-data context each sheet template receives;
- :mod:`~sheetgen.documents.cover`: the cover checklist's context;
- :mod:`~sheetgen.documents.example`: sample applicants (``sheetgen example``).
"""
