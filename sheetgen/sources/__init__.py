"""Stage 1, sources: bytes from outside become JSON values (records), one reader per format.

:mod:`sheetgen.sources.json` reads JSON documents, arrays, JSON Lines, folders and stdin under
the limits that keep a hostile input from costing more than a clear error, and owns how a place
in a document is written (``websites[1].manager.mobile``).
"""
