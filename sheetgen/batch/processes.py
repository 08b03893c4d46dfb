"""The processes a batch starts besides its workers, and stopping workers that hang.

multiprocessing starts two helper processes on first use and keeps them for the life of the
interpreter: the forkserver (workers are forked from it) and the resource tracker (it
unlinks the pool's named semaphores if the parent dies). Left alone they outlive
:func:`~sheetgen.batch.run_batch` until the interpreter exits, which in a long-lived caller
(a server, a test session) is never, and stop up to 2 s after a CLI run's end.
:func:`helpers_stopped` stops, when the batch returns, those that the batch itself started
(one a caller was already using is left running). It uses ``ForkServer._stop`` and
``ResourceTracker._stop``, the methods CPython's own tests stop them with: there is no
public API for it.

A worker that hangs cannot be stopped through :class:`~concurrent.futures.ProcessPoolExecutor`
(its ``terminate_workers`` is Python 3.14+), and which worker holds which record is not
known: :func:`kill_pool` kills all of a pool's workers (the batch then runs the records they
held again in a new pool) and removes what the killed workers left in the temp folder.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from sheetgen import scratch


def _helpers() -> tuple[Any, Any]:
    from multiprocessing import forkserver, resource_tracker

    return forkserver._forkserver, resource_tracker._resource_tracker


def _running(helper: Any, attribute: str) -> bool:
    return getattr(helper, attribute, None) is not None


@contextlib.contextmanager
def helpers_stopped() -> Iterator[None]:
    """Stop, on the way out, the forkserver and resource tracker started inside."""
    server, tracker = _helpers()
    server_before = _running(server, "_forkserver_pid")
    tracker_before = _running(tracker, "_pid")
    try:
        yield
    finally:
        # The pools' semaphores are unregistered from the tracker when they are collected;
        # collected after the tracker stopped, they would start a new one.
        gc.collect()
        if not server_before and _running(server, "_forkserver_pid"):
            with contextlib.suppress(Exception):
                server._stop()
        if not tracker_before and _running(tracker, "_pid"):
            with contextlib.suppress(Exception):
                tracker._stop()


def kill_pool(pool: ProcessPoolExecutor) -> None:
    """Kill every worker of ``pool`` (SIGKILL: a hung worker may not heed SIGTERM), shut the
    pool down (its futures fail with BrokenProcessPool or are cancelled) and sweep the
    scratch folders the killed workers could not remove."""
    processes = dict(getattr(pool, "_processes", None) or {})
    for process in processes.values():
        with contextlib.suppress(Exception):
            process.kill()
    for process in processes.values():
        with contextlib.suppress(Exception):
            process.join(5)
    pool.shutdown(wait=True, cancel_futures=True)
    scratch.sweep()
