"""The render workers of ``sheetgen serve``: warm processes, one request at a time each.

Rendering is CPU-bound Python (fitting, stamping, composing), so the server hands every sheet
request to one of N worker processes and keeps its own event loop for HTTP and validation.
Each worker warms up once when it starts (:func:`sheetgen.serve.render.warm_up`: imports
the engines, loads rules, templates and fonts, compiles the layouts of a common applicant)
and keeps its compiled layouts for its lifetime, so a request pays only for stamping.

Why not :class:`concurrent.futures.ProcessPoolExecutor` (as ``sheetgen batch`` uses): a
request must not wait forever. A render that overruns the timeout has to be stopped, and a
running task of an executor cannot be; killing the executor's process breaks the whole pool
and every request in flight. Here each worker is a process with a pipe of its own: a request
takes an idle worker, sends the request, waits on the pipe with the time it has left, and on
timeout (or a crash: the pipe closes) that one worker is killed and replaced, while the
others go on. Idle workers wait in an :class:`asyncio.Queue`; the blocking pipe calls run in
a thread, one per worker.

Workers start with ``forkserver`` (``spawn`` where there is none): forked from a clean server
process, never from the server with its threads and event loop. A worker exits by itself when
the server goes away (its pipe reaches end of file).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any

from sheetgen.errors import Problem
from sheetgen.serve.render import Failure, SheetRequest, SheetResult

_READY = "ready"
#: Seconds a new worker may take to warm up before it is given up on (a cold layout cache on
#: a busy machine: imports and two WeasyPrint compiles, a few seconds).
WARM_UP_TIMEOUT = 120.0


class PoolError(Exception):
    """A request the pool could not serve; ``status`` and ``failure`` are the answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.failure = Failure(code, message, (Problem("", code, message),))


class _Timeout(Exception):
    pass


class _Crashed(Exception):
    pass


def _worker_main(conn: Connection, warm: bool) -> None:
    """A worker process: warm up, then answer requests from the pipe until it closes."""
    from sheetgen.serve.render import render, warm_up

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C on the server's terminal: it decides
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if warm:
        # A broken setup (e.g. a font missing) shows in the requests' own errors.
        with contextlib.suppress(Exception):
            warm_up()
    conn.send(_READY)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return  # the server is gone
        try:
            result: SheetResult | Failure = render(request)
        except Exception as exc:  # a bug: this request fails, the worker goes on
            result = Failure("internal", f"内部错误 / internal error ({type(exc).__name__}); "
                                         "this is a bug in sheetgen, please report it")
        try:
            conn.send(result)
        except OSError:
            return


class _Worker:
    """One worker process and the server's end of its pipe."""

    def __init__(self, context: BaseContext, warm: bool) -> None:
        parent, child = context.Pipe()
        self.process = context.Process(  # type: ignore[attr-defined]
            target=_worker_main, args=(child, warm), daemon=True, name="sheetgen-render")
        self.process.start()
        child.close()
        self.conn: Connection = parent

    def wait_ready(self, timeout: float) -> bool:
        try:
            return bool(self.conn.poll(timeout)) and self.conn.recv() == _READY
        except (EOFError, OSError):
            return False

    def call(self, request: SheetRequest, timeout: float) -> SheetResult | Failure:
        try:
            self.conn.send(request)
            if not self.conn.poll(timeout):
                raise _Timeout
            result: SheetResult | Failure = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise _Crashed from exc
        return result

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


def _context() -> BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["sheetgen.serve.render", "sheetgen.api"])
        return context
    return multiprocessing.get_context("spawn")


class RenderPool:
    """``size`` warm render workers; :meth:`render` runs one request on an idle one."""

    def __init__(self, size: int, *, timeout: float, warm: bool = True) -> None:
        self.size = size
        self.timeout = timeout
        self.warm = warm
        self.served = 0
        self.replaced = 0
        self._context = _context()
        self._threads = ThreadPoolExecutor(max_workers=size * 2,
                                           thread_name_prefix="sheetgen-render")
        self._idle: asyncio.Queue[_Worker] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._workers: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False

    @property
    def ready(self) -> int:
        """Workers warmed up and idle right now."""
        return self._idle.qsize() if self._idle else 0

    def start(self) -> None:
        """Start every worker; each joins the idle queue once warm (in the background)."""
        self._loop = asyncio.get_running_loop()
        self._idle = asyncio.Queue()
        for _ in range(self.size):
            self._spawn()

    def _spawn(self) -> None:
        """Start one worker in a thread and queue it when it says it is ready."""
        def start() -> None:
            if self._closed:
                return
            worker = _Worker(self._context, self.warm)
            with self._lock:
                self._workers.add(worker)
            if worker.wait_ready(WARM_UP_TIMEOUT) and not self._closed:
                assert self._loop is not None and self._idle is not None
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    self._loop.call_soon_threadsafe(self._idle.put_nowait, worker)
            else:
                self._retire(worker)
        self._threads.submit(start)

    def _retire(self, worker: _Worker) -> None:
        with self._lock:
            self._workers.discard(worker)
        worker.stop()

    def _recycle(self, worker: _Worker, future: asyncio.Future[SheetResult | Failure]) -> None:
        """After a call (also one whose request was cancelled): the worker is idle again, or
        it timed out or died and a new one takes its place."""
        if not future.cancelled() and future.exception() is None:
            assert self._idle is not None
            self._idle.put_nowait(worker)
            return
        self.replaced += 1
        self._threads.submit(self._retire, worker)
        self._spawn()

    async def render(self, request: SheetRequest) -> SheetResult | Failure:
        """Run ``request`` on a warm worker within the timeout; PoolError when it cannot."""
        if self._idle is None or self._closed:
            raise PoolError(503, "unavailable", "服务正在停止 / the server is shutting down")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        try:
            worker = self._idle.get_nowait()
        except asyncio.QueueEmpty:
            try:
                worker = await asyncio.wait_for(self._idle.get(), self.timeout)
            except TimeoutError:
                raise PoolError(503, "busy", f"所有渲染进程都在忙（{self.timeout:g} 秒内无空闲），"
                                             f"请稍后再试 / every render worker stayed busy for "
                                             f"{self.timeout:g} s; try again later") from None
        remaining = max(0.0, deadline - loop.time())
        future = loop.run_in_executor(self._threads, worker.call, request, remaining)
        future.add_done_callback(functools.partial(self._recycle, worker))
        try:
            result = await asyncio.shield(future)
        except _Timeout:
            raise PoolError(504, "timeout", f"生成超时（超过 {self.timeout:g} 秒）/ rendering took "
                                            f"longer than {self.timeout:g} s") from None
        except _Crashed:
            raise PoolError(500, "worker_crashed", "渲染进程意外退出 / the render worker "
                                                   "crashed; try again") from None
        self.served += 1
        return result

    def close(self) -> None:
        """Stop every worker (requests still running fail) and the threads."""
        self._closed = True
        with self._lock:
            workers = list(self._workers)
            self._workers.clear()
        for worker in workers:
            worker.stop()
        self._threads.shutdown(wait=False, cancel_futures=True)

    def stats(self) -> dict[str, Any]:
        return {"workers": self.size, "idle": self.ready, "served": self.served,
                "replaced": self.replaced}

