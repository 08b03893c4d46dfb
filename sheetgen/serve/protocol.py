"""The connection layer of ``sheetgen serve``: uvicorn's HTTP/1.1 protocol with the limits it lacks.

Why a protocol class, not middleware
    uvicorn (0.30 to 0.55 at least) closes only *idle* keep-alive connections
    (``timeout_keep_alive``, and every byte received resets that timer); nothing bounds how
    long a client may take to send a request's headers or its body (uvicorn issue #157), and
    ``limit_concurrency`` answers 503 only once a request's headers are complete, so a
    connection that never completes them is held, with its file descriptor, for as long as
    the client likes. ASGI middleware runs after the headers are parsed and cannot see such
    a connection at all. The smallest robust place is the protocol object uvicorn creates per
    connection: :class:`GuardedH11Protocol` subclasses uvicorn's own h11 protocol and only
    adds timers and a count, so parsing, flow control and keep-alive stay uvicorn's.

What it adds (:class:`Limits`)
    - a **header deadline**: a request's line and headers must be complete within
      ``header_timeout`` seconds of the connection (or of the previous response), however
      the bytes trickle in; then ``408`` and the connection is closed;
    - a **body deadline**: the body must be complete within ``body_timeout`` seconds of the
      headers; then ``408``, the application sees the client as gone, the connection closes;
    - a **cap on open connections** (``max_connections``): when a new connection would
      exceed it, the oldest connection still waiting for its headers (a slow or idle client)
      is closed to make room, so a flood of half-sent requests cannot lock out a client that
      sends its request at once; when every connection has a request in progress, the new
      one gets ``503`` with ``Retry-After`` and is closed.

Accept errors
    When the process runs out of file descriptors anyway (a limit lower than the cap, other
    files), asyncio logs ``socket.accept() out of system resource`` with a traceback for
    every failed ``accept()`` (hundreds per second; CPython issue #151615).
    :func:`install_accept_log` replaces that with one line when a burst starts and one line
    with the count when it has ended.

Every line this module logs (logger ``sheetgen.serve.http``) is counted per burst too: a
flood of slow clients yields a few lines, not one per connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from sheetgen.errors import Problem
from sheetgen.serve.config import DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT

log = logging.getLogger("sheetgen.serve.http")

#: Seconds to wait before retrying, sent with every 503.
RETRY_AFTER = 5
#: An accept-error or timeout burst ends after this many quiet seconds.
BURST_QUIET = 5.0
_ACCEPT_MESSAGE = "socket.accept() out of system resource"


@dataclass(frozen=True)
class Limits:
    """The connection limits of one server (see the module docstring)."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int = 1000


def _raw_answer(status: int, reason: str, problem: Problem,
                extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    """A complete HTTP/1.1 answer in the API's error shape, written before (or instead of)
    the application: the connection closes after it."""
    body = json.dumps({"ok": False, "problems": [problem.as_dict()]},
                      ensure_ascii=False).encode()
    headers = [("content-type", "application/json"), ("content-length", str(len(body))),
               ("connection", "close"), ("cache-control", "no-store"),
               ("x-content-type-options", "nosniff"), *extra]
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode("latin-1") + b"\r\n" + body


REQUEST_TIMEOUT = _raw_answer(408, "Request Timeout", Problem(
    "", "request_timeout", "请求未在限定时间内发送完毕 / the request was not sent in time"))
SERVER_FULL = _raw_answer(503, "Service Unavailable", Problem(
    "", "busy", "连接数已满，请稍后再试 / too many connections; try again later"),
    (("retry-after", str(RETRY_AFTER)),))


class BurstLog:
    """Log the first event of a burst at once, then only a count when the burst is over."""

    def __init__(self, what: str, level: int = logging.WARNING) -> None:
        self.what = what
        self.level = level
        self.count = 0
        self.last = 0.0
        self.started = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def note(self, loop: asyncio.AbstractEventLoop, first_line: str) -> None:
        now = time.monotonic()
        self.last = now
        if self._timer is None:
            self.started = now
            self.count = 0
            log.log(self.level, "%s", first_line)
            self._timer = loop.call_later(BURST_QUIET, self._end, loop)
        else:
            self.count += 1

    def _end(self, loop: asyncio.AbstractEventLoop) -> None:
        quiet = time.monotonic() - self.last
        if quiet < BURST_QUIET:
            self._timer = loop.call_later(BURST_QUIET - quiet, self._end, loop)
            return
        self._timer = None
        if self.count:
            log.log(self.level, "%d more %s in %.0f s", self.count, self.what,
                    self.last - self.started)


class Guard:
    """What the connections of one server share: the limits, who is open, who waits."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.open: set[GuardedH11Protocol] = set()
        #: Connections waiting for a request's headers, oldest first (a dict keeps order).
        self.waiting: dict[GuardedH11Protocol, None] = {}
        self.header_timeouts = BurstLog("connections closed: request headers not sent in time")
        self.body_timeouts = BurstLog("connections closed: request body not sent in time")
        self.evictions = BurstLog("waiting connections closed to make room for new ones")
        self.refusals = BurstLog("connections refused: every connection busy (503)")


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header and a body deadline and a connection cap."""

    guard: ClassVar[Guard]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase = ""
        self._timer: asyncio.TimerHandle | None = None
        self._received = False

    # --- the connection's life ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        guard = self.guard
        if len(guard.open) >= guard.limits.max_connections:
            victim = next(iter(guard.waiting), None)
            if victim is None:
                guard.refusals.note(self.loop, f"connection refused: all "
                                               f"{guard.limits.max_connections} connections "
                                               "have a request in progress (503)")
                self._close(SERVER_FULL)
                return
            guard.evictions.note(self.loop, f"{guard.limits.max_connections} connections open: "
                                            "the oldest one waiting for its request closed to "
                                            "make room")
            victim._close(b"")
        guard.open.add(self)
        self._update()

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._received = True
        super().data_received(data)
        self._update()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._update()

    # --- deadlines ---------------------------------------------------------------------------

    def _update(self) -> None:
        """Arm the deadline of the phase the request is in: its headers, its body, or none
        while the application answers."""
        if self.transport.is_closing() or self not in self.guard.open:
            return
        state = self.conn.their_state
        phase = ("headers" if state is h11.IDLE else "body" if state is h11.SEND_BODY
                 else "answer")
        if phase == self._phase:
            return
        self._phase = phase
        self._cancel_timer()
        if phase == "headers":
            self._received = False
            self.guard.waiting[self] = None
            self._timer = self.loop.call_later(self.guard.limits.header_timeout,
                                               self._headers_late)
        else:
            self.guard.waiting.pop(self, None)
        if phase == "body":
            self._timer = self.loop.call_later(self.guard.limits.body_timeout, self._body_late)

    def _headers_late(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        self.guard.header_timeouts.note(
            self.loop, f"connection closed: request headers not complete after "
                       f"{self.guard.limits.header_timeout:g} s (408)")
        # An idle keep-alive connection that sent nothing is just closed, as uvicorn does.
        self._close(REQUEST_TIMEOUT if self._received else b"")

    def _body_late(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        self.guard.body_timeouts.note(
            self.loop, f"connection closed: request body not complete after "
                       f"{self.guard.limits.body_timeout:g} s (408)")
        cycle = self.cycle
        answer = REQUEST_TIMEOUT
        if cycle is not None:
            if cycle.response_started:
                answer = b""
            # The application's receive() now returns http.disconnect, and what it sends is
            # dropped; the access log shows 408.
            self.scope["sheetgen.read_timeout"] = True  # type: ignore[typeddict-unknown-key]
            cycle.disconnected = True
            cycle.message_event.set()
        self._close(answer)

    # --- helpers -------------------------------------------------------------------------------

    def _close(self, answer: bytes) -> None:
        self._forget()
        if not self.transport.is_closing():
            if answer:
                self.transport.write(answer)
            self.transport.close()

    def _forget(self) -> None:
        self._cancel_timer()
        self.guard.open.discard(self)
        self.guard.waiting.pop(self, None)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def protocol_class(limits: Limits) -> type[GuardedH11Protocol]:
    """A protocol class for one server (uvicorn's ``http=``), its connections sharing a guard."""
    return type("SheetgenH11Protocol", (GuardedH11Protocol,), {"guard": Guard(limits)})


def install_accept_log(loop: asyncio.AbstractEventLoop) -> None:
    """Log ``accept()`` failures for lack of file descriptors once per burst (module docstring);
    every other exception context goes to the handler that was there before."""
    previous = loop.get_exception_handler()
    if getattr(previous, "sheetgen_accept_log", False):
        return
    burst = BurstLog("accept() failures for lack of file descriptors", logging.ERROR)

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == _ACCEPT_MESSAGE:
            exc = context.get("exception")
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            burst.note(loop, f"cannot accept connections: {reason}; new connections wait "
                             "(raise the open-file limit, ulimit -n, or lower "
                             "--max-connections)")
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    handler.sheetgen_accept_log = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)


def open_file_limit() -> int | None:
    """The soft limit on open files, raised to the hard limit when allowed (a server's
    connections each take one); None where there is no such limit (not POSIX)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return None if soft == resource.RLIM_INFINITY else int(soft)


def default_max_connections(file_limit: int | None) -> int:
    """Connections one server keeps open at most: 1000, or fewer when the open-file limit is
    low (half of it beyond 64 kept for the render workers' pipes, fonts and templates)."""
    if file_limit is None:
        return 1000
    return max(16, min(1000, (file_limit - 64) // 2))
