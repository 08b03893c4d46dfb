"""One pool of warm worker processes for ``sheetgen batch`` and ``sheetgen serve``.

:mod:`~.pool` owns it: per-task timeouts that stop only the hung task's worker, crashed
workers replaced and their task reported, liveness checked before a task is handed over, and
the one CPU-count helper (:func:`cpu_count`). :mod:`~.forkserver` starts its workers: a clean
process of the pool's own, stopped with it.
"""

from sheetgen.workers.forkserver import ForkServer
from sheetgen.workers.pool import (
    Pool,
    PoolClosed,
    StartMethod,
    TaskError,
    WorkerCrashed,
    WorkerTimeout,
    cpu_count,
    start_context,
)

__all__ = ["ForkServer", "Pool", "PoolClosed", "StartMethod", "TaskError", "WorkerCrashed",
           "WorkerTimeout", "cpu_count", "start_context"]
