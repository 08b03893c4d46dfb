"""The render workers of ``sheetgen serve``: the project's worker pool, behind an event loop.

Rendering is CPU-bound Python (fitting, stamping, composing), so the server hands every sheet
request to one of N warm worker processes (:class:`sheetgen.workers.Pool`, the pool
``sheetgen batch`` uses too) and keeps its own event loop for HTTP and validation. Each worker
warms up once when it starts (:func:`sheetgen.serve.render.warm_up`: imports the engines,
loads rules, templates and fonts, compiles the layouts of a common applicant) and keeps its
compiled layouts for its lifetime, so a request pays only for stamping.

A request waits at most ``timeout`` seconds for a free worker (then 503 ``busy``) and may
render for ``timeout`` seconds once there (then 504 ``timeout``: that one worker is killed and
replaced, the others go on). A worker that dies while it renders gives 500 ``worker_crashed``
for that request only; one found dead while idle (killed, out of memory) is replaced before
a request is handed to it, so the request does not fail, and ``/api/v1/health`` counts only
the workers alive.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sheetgen.errors import Problem
from sheetgen.serve.render import Failure, SheetRequest, SheetResult
from sheetgen.workers import Pool, PoolClosed, WorkerCrashed, WorkerTimeout, start_context


class PoolError(Exception):
    """A request the pool could not serve; ``status`` and ``failure`` are the answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.failure = Failure(code, message, (Problem("", code, message),))


def _warm(warm: bool) -> None:
    """The workers' initializer: warm up once (a broken setup, e.g. a font missing, shows in
    the requests' own errors)."""
    if warm:
        from sheetgen.serve.render import warm_up

        with contextlib.suppress(Exception):
            warm_up()


def _serve(request: SheetRequest) -> SheetResult | Failure:
    """One request in a worker: never raises."""
    from sheetgen.serve.render import render

    try:
        return render(request)
    except Exception as exc:  # a bug: this request fails, the worker goes on
        return Failure("internal", f"内部错误 / internal error ({type(exc).__name__}); "
                                   "this is a bug in sheetgen, please report it")


def _unavailable() -> PoolError:
    return PoolError(503, "unavailable", "服务正在停止 / the server is shutting down")


class RenderPool:
    """``size`` warm render workers; :meth:`render` runs one request on an idle one."""

    def __init__(self, size: int, *, timeout: float, warm: bool = True) -> None:
        self.size = size
        self.timeout = timeout
        self._pool = Pool(size, _serve, initializer=_warm, initargs=(warm,),
                          context=start_context(["sheetgen.serve.render", "sheetgen.api"]),
                          name="sheetgen-render")
        self._closed = False

    @property
    def ready(self) -> int:
        """Workers warmed up, alive and idle right now."""
        return self._pool.stats()["idle"]

    def start(self) -> None:
        """Start every worker (in the background); each is idle once warm."""
        self._pool.start()

    async def render(self, request: SheetRequest) -> SheetResult | Failure:
        """Run ``request`` on a warm worker within the timeout; PoolError when it cannot."""
        if self._closed:
            raise _unavailable()
        future = self._pool.submit(request, timeout=self.timeout)
        waiting = asyncio.wrap_future(future)
        try:
            done, _ = await asyncio.wait({waiting}, timeout=self.timeout)
        except asyncio.CancelledError:  # the client went away: not rendered if still queued
            future.cancel()
            raise
        if not done and future.cancel():  # still queued: no worker came free in time
            raise PoolError(503, "busy", f"所有渲染进程都在忙（{self.timeout:g} 秒内无空闲），"
                                         f"请稍后再试 / every render worker stayed busy for "
                                         f"{self.timeout:g} s; try again later")
        try:
            result: SheetResult | Failure = await waiting
        except WorkerTimeout:
            raise PoolError(504, "timeout", f"生成超时（超过 {self.timeout:g} 秒）/ rendering took "
                                            f"longer than {self.timeout:g} s") from None
        except WorkerCrashed:
            raise PoolError(500, "worker_crashed", "渲染进程意外退出 / the render worker "
                                                   "crashed; try again") from None
        except (PoolClosed, asyncio.CancelledError):
            if self._closed:
                raise _unavailable() from None
            raise
        return result

    def close(self) -> None:
        """Stop every worker (requests still running fail with 503)."""
        self._closed = True
        self._pool.close(kill=True)

    def pids(self) -> list[int]:
        """The render workers alive right now."""
        return self._pool.pids()

    def stats(self) -> dict[str, Any]:
        """For ``/api/v1/health``: workers alive and idle, busy, starting; served, replaced."""
        stats = self._pool.stats()
        return {"workers": stats["workers"], "idle": stats["idle"], "busy": stats["busy"],
                "starting": stats["starting"], "served": stats["served"],
                "replaced": stats["replaced"]}
