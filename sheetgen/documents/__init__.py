"""Stage 3, documents: what to print for one validated applicant, before any engine is involved.

- :mod:`~sheetgen.documents.plan`: the filing plan under the rules (variant, template and boxes
  per sheet, the cover's facts, the rules' document entries);
- :mod:`~sheetgen.documents.kinds`: the registry of document kinds (cover, sheet, letters):
  template, context builder, when it prints, page limit, Word suffix, print order, QR code and
  the boxes ``receive`` checks;
- :mod:`~sheetgen.documents.jobs`: the page jobs of an applicant, in print order, from the
  registry (with :mod:`~sheetgen.documents.options`, the render options);
- :mod:`~sheetgen.documents.forms`: one-page forms defined once, both templates made from one
  declarative :class:`~sheetgen.documents.forms.Form`;
- :mod:`~sheetgen.documents.context`: the plain-data context each sheet or letter template
  receives; :mod:`~sheetgen.documents.cover`: the cover checklist's context;
- :mod:`~sheetgen.documents.sheetcode`: the QR code's payload (it names the kind);
- :mod:`~sheetgen.documents.example`: sample applicants (``sheetgen example``).
"""
