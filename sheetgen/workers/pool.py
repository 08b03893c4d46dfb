"""Warm worker processes, one task at a time each, for ``sheetgen batch`` and ``sheetgen serve``.

A :class:`Pool` keeps ``size`` worker processes. Each one runs an initializer once when it
starts (rules, templates, fonts: what keeps its compiled layouts warm for its lifetime), then
answers tasks from a pipe of its own. The parent side of each worker is one *slot*: a thread
that takes the next task from the pool's queue, makes sure its worker is alive before handing
the task over (a dead one is replaced first, and the task waits for the new one), sends it,
and waits on the pipe:

* the worker acknowledges the task when it takes it; the per-task timeout runs from then, so
  time waiting in the queue or for a worker to start does not count;
* a task that overruns its timeout fails with :class:`WorkerTimeout`; that one worker is
  killed (SIGKILL: a hung worker may not heed anything else) and replaced, the others go on;
* a worker that dies with a task (its pipe closes) fails that task with :class:`WorkerCrashed`
  and is replaced. The task is never run again: it may have written output. Only a worker that
  died *before* acknowledging the task (it never started it) is replaced and the task handed
  to the new one.

Results come back as :class:`concurrent.futures.Future` objects (``asyncio.wrap_future`` for an
event loop). :meth:`Pool.stats` counts only workers that are alive: one killed while idle is
seen at once, and replaced within a second.

Why not :class:`concurrent.futures.ProcessPoolExecutor`: a running task of it cannot be
stopped (``terminate_workers`` is Python 3.14+ and stops all), a dead worker breaks the whole
pool, and which worker holds which task is not known. Why not loky: its timeout is for idle
workers, not tasks, and a crash breaks its executor the same way. pebble's ``ProcessPool``
does stop one task's worker; docs/batch.md ("Workers") says why this module is used instead.

Workers are forked from a fork server of the pool's own (:mod:`~.forkserver`: a clean process
that imported the ``preload`` modules once, never the caller with its threads), started with
the pool's first worker and stopped when it closes, so a pool leaves no process behind and uses
none of CPython's private attributes; ``spawn`` where there is no ``fork``, or any
:mod:`multiprocessing` context given. A worker exits by itself when the caller goes away (its
pipe reaches end of file; while it works, a thread watches a pipe the caller holds open).
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from typing import Any

from sheetgen import scratch
from sheetgen.workers.forkserver import ForkedProcess, ForkServer, Server

#: How a pool starts its workers: its own fork server, or a :mod:`multiprocessing` context.
StartMethod = ForkServer | BaseContext

#: Seconds a new worker may take to run its initializer before it is given up on (a cold
#: layout cache on a busy machine: imports and two WeasyPrint compiles, a few seconds).
START_TIMEOUT = 120.0
#: How often an idle slot looks whether its worker is still alive (seconds).
IDLE_CHECK = 1.0
_READY = "ready"
#: Held while a worker is created: under ``fork``, a worker forked by another slot between the
#: creation of a pipe and the parent's closing of its child end would hold that end open.
_STARTING = threading.Lock()
_TAKEN = "taken"


class TaskError(Exception):
    """A task the pool could not run to its end (the task's own errors are its result)."""


class WorkerTimeout(TaskError):
    """The task ran longer than its timeout; its worker was killed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the task ran longer than {seconds:g} s; its worker was stopped")
        self.seconds = seconds


class WorkerCrashed(TaskError):
    """The worker died while it held the task (or none could be started for it)."""

    def __init__(self, exitcode: int | None, *, started: bool = True) -> None:
        what = "died while it ran the task" if started else "could not be started"
        super().__init__(f"the worker process {what} (exit code {exitcode})")
        self.exitcode = exitcode
        self.started = started


class PoolClosed(TaskError):
    """The pool was closed before the task was handed to a worker."""


def cpu_count() -> int:
    """Worker processes by default: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def start_context(preload: Sequence[str] = ()) -> StartMethod:
    """The pool's own fork server with ``preload`` imported once in it (:mod:`~.forkserver`),
    else (no ``fork`` on this system) ``spawn``."""
    if "fork" in multiprocessing.get_all_start_methods():
        return ForkServer(tuple(preload))
    return multiprocessing.get_context("spawn")


# --- the worker process -------------------------------------------------------------------

def _worker_main(conn: Connection, initializer: Callable[..., object] | None,
                 initargs: tuple[Any, ...], handler: Callable[[Any], Any], *,
                 parent_alive: int | None = None) -> None:
    """A worker: initialise, then answer tasks from the pipe until it closes. ``parent_alive``
    reaches end of file when the caller is gone (a fork server's worker; else the
    :mod:`multiprocessing` parent's sentinel says it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the process group: the
    # caller decides. SIGTERM stops a worker; a forked one would otherwise keep the caller's.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if parent_alive is None:
        parent = multiprocessing.parent_process()
        parent_alive = None if parent is None else parent.sentinel
    if parent_alive is not None:
        threading.Thread(target=_exit_with_parent, args=(parent_alive,), daemon=True).start()
    if initializer is not None:
        initializer(*initargs)
    conn.send(_READY)
    while True:
        try:
            message = conn.recv()  # (task,), or None: stop
        except (EOFError, OSError):
            return  # the caller is gone
        if message is None:
            return
        task = message[0]
        try:
            conn.send(_TAKEN)
            try:
                reply: tuple[bool, Any] = (True, handler(task))
            except Exception as exc:  # the handler's bug: this task fails, the worker goes on
                reply = (False, exc)
            try:
                conn.send(reply)
            except Exception as exc:  # not picklable: say what it was
                conn.send((False, TaskError(f"the task's result could not be sent back "
                                            f"({type(exc).__name__})")))
        except OSError:
            return


def _exit_with_parent(sentinel: int) -> None:
    """Exit as soon as the caller is gone (``kill -9``), also while a task runs: an orphaned
    worker would hold the caller's stdout and stderr open. The sentinel is a pipe the caller
    holds open (not ``os.getppid()``: a fork server's worker's parent is the server)."""
    wait([sentinel])
    scratch.cleanup()  # os._exit skips every exit handler
    os._exit(1)


# --- the parent side ------------------------------------------------------------------------

class _Worker:
    """One worker process and the caller's end of its pipe."""

    def __init__(self, starter: Server | BaseContext, name: str, args: tuple[Any, ...]) -> None:
        self.process: ForkedProcess | Any  # or a multiprocessing Process
        with _STARTING:
            if isinstance(starter, Server):
                self.conn, self.process = starter.fork()
                return
            parent, child = starter.Pipe()
            self.process = starter.Process(  # type: ignore[attr-defined]
                target=_worker_main, args=(child, *args), daemon=True, name=name)
            self.process.start()
            child.close()
        self.conn = parent

    def dead(self) -> bool:
        """The process has ended. Looks at its sentinel only (it stays readable once the
        process is gone), so any thread may ask while its slot waits on it."""
        try:
            return bool(wait([self.process.sentinel], 0))
        except (OSError, ValueError):
            return True

    def answered(self, timeout: float) -> bool:
        """The worker has sent something (or closed its pipe, or died) within ``timeout``."""
        return bool(wait([self.conn, self.process.sentinel], timeout))

    def receive(self) -> Any:
        """What the worker sent; EOFError when it closed its pipe or died without a word."""
        if not self.conn.poll(0):
            raise EOFError  # only the sentinel is ready: the process is gone
        return self.conn.recv()

    def wait_ready(self, timeout: float) -> bool:
        try:
            return self.answered(timeout) and self.receive() == _READY
        except (EOFError, OSError):
            return False

    def stop(self, *, kill: bool) -> int | None:
        """End the process (killed, or asked to stop); its exit code."""
        if not kill:
            # Asked by a message, not by closing the pipe: a forked worker holds a copy of
            # the caller's end too, so it would not see end of file.
            with contextlib.suppress(OSError, ValueError):
                self.conn.send(None)
        with contextlib.suppress(OSError):
            self.conn.close()
        if kill:
            with contextlib.suppress(OSError):
                self.process.kill()
        self.process.join(5)
        if self.process.exitcode is None:  # did not end on end of file: a stuck exit
            with contextlib.suppress(OSError):
                self.process.kill()
            self.process.join()
        code: int | None = self.process.exitcode
        if isinstance(self.process, ForkedProcess):
            self.process.close()
        return code


@dataclass
class _Item:
    task: Any
    future: Future[Any]
    timeout: float


class Pool:
    """``size`` warm worker processes; :meth:`submit` runs one task on one of them."""

    def __init__(self, size: int, handler: Callable[[Any], Any], *,
                 initializer: Callable[..., object] | None = None,
                 initargs: tuple[Any, ...] = (), context: StartMethod | None = None,
                 name: str = "sheetgen-worker", start_timeout: float = START_TIMEOUT) -> None:
        if size < 1:
            raise ValueError(f"a pool needs at least one worker, not {size}")
        self.size = size
        self._args = (initializer, initargs, handler)
        self._context = context or start_context()
        self._server: Server | None = None  # with a ForkServer context: started on first use
        self._server_lock = threading.Lock()
        self._name = name
        self._start_timeout = start_timeout
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._slots: list[threading.Thread] = []
        self._state: dict[int, tuple[str, _Worker | None]] = {}  # slot → (state, worker)
        self._closing = False
        self._kill_running = False
        self.served = 0      # tasks that returned a result
        self.replaced = 0    # workers replaced: timed out, crashed, found dead
        self.timed_out = 0
        self.crashed = 0

    # the caller's side

    def start(self) -> None:
        """Start every slot; each starts its worker (in the background)."""
        with self._lock:
            if self._slots:
                return
            for n in range(self.size):
                self._state[n] = ("starting", None)
                thread = threading.Thread(target=self._slot, args=(n,), daemon=True,
                                          name=f"{self._name}-{n}")
                self._slots.append(thread)
                thread.start()

    def submit(self, task: Any, *, timeout: float) -> Future[Any]:
        """Run ``task`` on the next free worker; it may run ``timeout`` seconds once there.

        The future's result is the handler's return value; its exception is the handler's, or
        :class:`WorkerTimeout`, :class:`WorkerCrashed` or :class:`PoolClosed`. Cancelling it
        works while it waits for a worker.
        """
        future: Future[Any] = Future()
        if self._closing:
            future.set_exception(PoolClosed("the pool is closed"))
            return future
        self.start()
        self._queue.put(_Item(task, future, timeout))
        return future

    def close(self, *, cancel: bool = False, kill: bool = False) -> None:
        """Stop the pool: the tasks queued run first (``cancel``: are cancelled), the tasks
        running end (``kill``: their workers are killed and the tasks fail), every worker
        stops, and this returns when all have."""
        with self._lock:
            self._closing = True
            self._kill_running = kill
            slots = list(self._slots)
        if cancel or kill:
            self._cancel_queued()
        for _ in slots:
            self._queue.put(None)  # after the tasks still queued: they run first
        if kill:  # also the workers still starting: nothing waits for them any more
            with self._lock:
                busy = [worker for state, worker in self._state.values()
                        if state in ("busy", "starting") and worker is not None]
            for worker in busy:
                with contextlib.suppress(OSError, ValueError):
                    worker.process.kill()
        for thread in slots:
            thread.join()
        self._cancel_queued()  # submitted while it closed
        with self._server_lock:  # every worker has stopped: the fork server goes too
            if self._server is not None:
                self._server.close()
                self._server = None

    def _cancel_queued(self) -> None:
        """Take every task still queued out of the queue and cancel it."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                item.future.cancel()

    def stats(self) -> dict[str, int]:
        """Workers by state right now (``idle``: alive and free), and what happened so far."""
        counts = {"idle": 0, "busy": 0, "starting": 0}
        with self._lock:
            states = list(self._state.values())
        for state, worker in states:
            if state == "idle" and (worker is None or worker.dead()):
                state = "starting"  # found dead: its slot is replacing it
            if state in counts:
                counts[state] += 1
        return {"workers": self.size, **counts, "served": self.served,
                "replaced": self.replaced, "timed_out": self.timed_out,
                "crashed": self.crashed}

    def pids(self) -> list[int]:
        """The process ids of the workers alive right now."""
        with self._lock:
            workers = [worker for _, worker in self._state.values() if worker is not None]
        return [w.process.pid for w in workers if not w.dead()]

    # a slot: one worker's thread

    def _count(self, what: str) -> None:
        with self._lock:  # the slots count from their threads
            setattr(self, what, getattr(self, what) + 1)

    def _set(self, n: int, state: str, worker: _Worker | None) -> None:
        with self._lock:
            self._state[n] = (state, worker)

    def _new_worker(self, n: int) -> _Worker | None:
        """A started, initialised worker; None when it could not be started."""
        self._set(n, "starting", None)
        if self._closing:
            return None
        try:
            worker = _Worker(self._starter(), self._name, self._args)
        except Exception:  # no process (out of memory, too many files, a broken main
            return None    # module, no fork server): this start failed; the task, if any, says so
        self._set(n, "starting", worker)
        if worker.wait_ready(self._start_timeout):
            return worker
        worker.stop(kill=True)
        return None

    def _starter(self) -> Server | BaseContext:
        """What starts a worker: the context given, or the pool's fork server (started, or
        started again if it died, here: it takes the time of an interpreter's start and the
        preload imports, in the slot that first needs it)."""
        if not isinstance(self._context, ForkServer):
            return self._context
        with self._server_lock:
            if self._closing:
                raise RuntimeError("the pool is closed")
            if self._server is not None and self._server.dead():
                self._server.close()
                self._server = None
            if self._server is None:
                self._server = Server(self._context, _worker_main, self._args,
                                      timeout=self._start_timeout)
            return self._server

    def _replace(self, worker: _Worker, *, kill: bool) -> int | None:
        self._count("replaced")
        code = worker.stop(kill=kill)
        scratch.sweep()  # the temp folders a killed worker could not remove
        return code

    def _slot(self, n: int) -> None:
        worker: _Worker | None = None
        try:
            while True:
                if worker is not None and worker.dead():  # found dead while idle
                    self._replace(worker, kill=False)
                    worker = None
                if worker is None and not self._closing:
                    worker = self._new_worker(n)
                self._set(n, "idle", worker)
                try:
                    item = self._queue.get(timeout=IDLE_CHECK)
                except queue.Empty:
                    continue
                if item is None:
                    return
                if not item.future.set_running_or_notify_cancel():
                    continue  # cancelled while it waited
                following: tuple[_Item, bool] | None = (item, False)
                while following is not None:
                    worker, following = self._run(n, worker, *following)
        finally:
            self._set(n, "stopped", None)
            if worker is not None:
                worker.stop(kill=False)

    def _run(self, n: int, worker: _Worker | None, item: _Item,
             sent: bool) -> tuple[_Worker | None, tuple[_Item, bool] | None]:
        """Hand ``item`` to a live worker (``sent``: it was already sent to ``worker``) and
        settle its future. Returns the worker to go on with, and the task sent to it
        meanwhile, if any (see :meth:`_finish`)."""
        for attempt in itertools.count():
            if not sent and worker is not None and worker.dead():
                self._replace(worker, kill=False)
                worker = None
            if worker is None:
                worker = self._new_worker(n)
            if worker is None:  # none could be started: the task fails, the slot goes on
                self._count("crashed")
                item.future.set_exception(PoolClosed("the pool is closed") if self._closing
                                          else WorkerCrashed(None, started=False))
                return None, None
            self._set(n, "busy", worker)
            try:
                if not sent:
                    worker.conn.send((item.task,))
                taken = worker.answered(self._start_timeout) and worker.receive() == _TAKEN
            except (EOFError, OSError):
                taken = False
            except Exception as exc:  # the task cannot be pickled: nothing was sent
                item.future.set_exception(exc)
                return worker, None
            if taken:
                return self._finish(worker, item)
            # The worker died (or hung) before it took the task: the task never started, so
            # it may go to a fresh worker, once.
            self._replace(worker, kill=True)
            worker, sent = None, False
            if attempt >= 1:
                self._count("crashed")
                item.future.set_exception(WorkerCrashed(None, started=False))
                return None, None
        raise AssertionError("unreachable")

    def _prefetch(self, worker: _Worker) -> tuple[_Item, bool] | None:
        """The next task queued, sent to ``worker`` while it still runs the current one, so it
        starts it without waiting for this thread (which needs the caller's GIL: a batch's
        parent drawing the bundle holds it for milliseconds). It is not started until the
        worker takes it (acknowledges it); until then it may go to another worker."""
        try:
            item = self._queue.get_nowait()
        except queue.Empty:
            return None
        if item is None:
            self._queue.put(None)  # a stop mark: this slot stops after the current task
            return None
        if not item.future.set_running_or_notify_cancel():
            return None
        try:
            worker.conn.send((item.task,))
        except (EOFError, OSError):
            return item, False
        except Exception as exc:  # the task cannot be pickled: nothing was sent
            item.future.set_exception(exc)
            return None
        return item, True

    def _finish(self, worker: _Worker,
                item: _Item) -> tuple[_Worker | None, tuple[_Item, bool] | None]:
        """Wait for ``item``'s result within its timeout, sending the next task meanwhile;
        the worker to go on with (None: it was stopped) and the next task."""
        started = time.monotonic()
        following: tuple[_Item, bool] | None = None
        try:
            while True:
                if following is None and not self._closing:
                    following = self._prefetch(worker)
                left = started + item.timeout - time.monotonic()
                if worker.answered(max(0.0, min(left, IDLE_CHECK))):
                    ok, value = worker.receive()
                    break
                if self._kill_running:
                    raise EOFError
                if left <= 0:
                    self._count("timed_out")
                    self._replace(worker, kill=True)
                    item.future.set_exception(WorkerTimeout(item.timeout))
                    return None, _unsent(following)
        except (EOFError, OSError):
            code = self._replace(worker, kill=True)
            if self._kill_running:
                item.future.set_exception(PoolClosed("the pool was closed"))
            else:
                self._count("crashed")
                item.future.set_exception(WorkerCrashed(code))
            return None, _unsent(following)
        except Exception as exc:  # the result could not be unpickled: the worker is fine
            item.future.set_exception(exc)
            return worker, following
        if ok:
            self._count("served")
            item.future.set_result(value)
        else:
            item.future.set_exception(value)
        return worker, following


def _unsent(following: tuple[_Item, bool] | None) -> tuple[_Item, bool] | None:
    """The task sent to a worker that was then stopped: it never started, so it goes to the
    next worker as if it had not been sent."""
    return None if following is None else (following[0], False)
