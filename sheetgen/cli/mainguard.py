"""Keeping a program's script out of the processes sheetgen starts (``sheetgen.main`` embedded).

A program that calls :func:`sheetgen.main` (``["batch", …]``, ``["serve", …]``) gets worker
processes started with ``forkserver`` or ``spawn``; Python starts those by importing the
program's ``__main__`` file again. :func:`main_kept_from_workers`, around every
:func:`sheetgen.main` call, makes that import not happen, whichever pool starts the workers.
Light on purpose: every command passes through it, and it imports nothing of sheetgen's engines.
"""

from __future__ import annotations

import contextlib
import threading
import types
from collections.abc import Iterator

from sheetgen.errors import UsageError

#: What ``sys.modules["__main__"]`` is while sheetgen runs: a module of no file and no name.
_STAND_IN = types.ModuleType("__main__")
_lock = threading.Lock()
_depth = 0  # sheetgen.main calls running (threads)
_caller: types.ModuleType | None = None  # the module _STAND_IN replaces


@contextlib.contextmanager
def main_kept_from_workers() -> Iterator[UsageError | None]:
    """While sheetgen runs, the processes it starts do not run the caller's script again.

    ``spawn`` and ``forkserver`` children (batch workers, the server's render workers) import
    the parent's ``__main__`` file again, as ``__mp_main__``, before they run: a script that
    calls :func:`sheetgen.main` (``["batch", …]``) without an ``if __name__ == "__main__":``
    guard would start the whole batch again in every worker (and trip over the folder's lock).
    Nothing a worker runs is defined in the caller's script (its functions are sheetgen's), so
    for the duration ``sys.modules["__main__"]`` is an empty module: what
    :mod:`multiprocessing` reads when it starts a process names no file and no module, and the
    child imports nothing of the caller's, whichever pool starts it. The caller's module is
    back in place when this returns.

    It yields None, or, inside a child that is importing such a script (the caller's own
    multiprocessing is starting it), the :class:`~sheetgen.errors.UsageError` to report instead
    of running: sheetgen would start processes of its own from a process not yet started.
    """
    import multiprocessing
    import sys

    if getattr(multiprocessing.current_process(), "_inheriting", False):
        yield UsageError("sheetgen.main() was called while a process of this program was "
                         "starting (multiprocessing runs the script again in each new "
                         "process)", hint='put the call under `if __name__ == "__main__":`')
        return
    global _depth, _caller
    with _lock:  # calls from several threads: the first hides the module, the last restores it
        if _depth == 0:
            caller = sys.modules.get("__main__")
            if caller is not None and (getattr(caller.__spec__, "name", None) is not None
                                       or getattr(caller, "__file__", None) is not None):
                # (an interactive session or python -c has nothing a child would import)
                _caller = caller
                sys.modules["__main__"] = _STAND_IN
        _depth += 1
    try:
        yield None
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _caller is not None:
                if sys.modules.get("__main__") is _STAND_IN:
                    sys.modules["__main__"] = _caller
                _caller = None
