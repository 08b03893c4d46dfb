"""The helper processes multiprocessing starts besides a batch's workers, stopped at its end.

multiprocessing starts two helper processes on first use and keeps them for the life of the
interpreter: the forkserver (workers are forked from it) and the resource tracker (it
unlinks the pool's named semaphores if the parent dies). Left alone they outlive
:func:`~sheetgen.batch.run_batch` until the interpreter exits, which in a long-lived caller
(a server, a test session) is never, and stop up to 2 s after a CLI run's end.
:func:`helpers_stopped` stops, when the batch returns, those that the batch itself started
(one a caller was already using is left running). It uses ``ForkServer._stop`` and
``ResourceTracker._stop``, the methods CPython's own tests stop them with: there is no
public API for it.

(Workers that hang or crash are the pool's business: :mod:`sheetgen.workers`.)
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import Any


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

