"""Batch generation: many applicants in one run, one result per record (``sheetgen batch``).

It streams records (at most a few per worker in flight), renders each in a worker process
through the record pipeline (:func:`sheetgen.pipeline.produce`), isolates a worker that
crashes, resumes a stopped run from per-record state files, writes the manifest, and draws the
bundle in the parent as results arrive, in input order. The design, section by section
(streaming, workers, crash isolation, names, up to date, interruption, bundle, exit codes), is
in ``docs/batch.md``. Spreadsheet records (:mod:`sheetgen.sources.spreadsheet`) have their
problems located by file, row and column header in the parent; ``--failed`` gets their rows
back with an error column.

The modules: :mod:`~.results` (options, results, the manifest), :mod:`~.run` (``run_batch``:
checks, lock, bundle, report), :mod:`~.flight` (the parent: records in flight, in input order,
signals), :mod:`~.worker` (one record in a worker process). The workers run on
:mod:`sheetgen.workers` (whose fork server ends with the run: nothing is left behind).
"""

from sheetgen.batch.flight import BUNDLE_CHUNK, given_ref
from sheetgen.batch.results import (
    DEFAULT_TIMEOUT,
    BatchOptions,
    BatchResult,
    Output,
    RecordResult,
    manifest_json,
)
from sheetgen.batch.run import run_batch
from sheetgen.batch.worker import STATE_DIR

__all__ = ["BUNDLE_CHUNK", "DEFAULT_TIMEOUT", "STATE_DIR", "BatchOptions", "BatchResult",
           "Output", "RecordResult", "given_ref", "manifest_json", "run_batch"]
