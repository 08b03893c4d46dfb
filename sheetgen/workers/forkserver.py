"""The pool's own fork server: a clean process that forks its workers, and ends with the pool.

Workers are best forked from a process that imported what they need once (they start in
milliseconds, sharing its memory) and that runs no threads (the caller does: the pool's slots,
a progress display, a server's event loop; forking it would copy their locks).
:mod:`multiprocessing`'s ``forkserver`` is such a process, but one per interpreter, with a
resource tracker beside it, both kept until the interpreter exits and with no public way to
stop them: a batch in a long-lived caller (``serve``, the desk, a test session) left them
behind. So each :class:`~sheetgen.workers.Pool` whose start method is :class:`ForkServer`
(:func:`~sheetgen.workers.start_context`'s default) starts a :class:`Server` of its own and
stops it when it closes; nothing of :mod:`multiprocessing`'s process machinery is used.

The server is a new interpreter (``python -c``, the caller's ``sys.path``) that imports the
``preload`` modules and the pool's worker function and arguments once, then forks a worker for
each request. A request carries the worker's end of its pipe and the write end of a *status
pipe* (``socket.send_fds``): the server writes the worker's exit code there when it reaps it,
so the caller's :class:`ForkedProcess` has a sentinel, an exit code and ``kill`` as a
:class:`multiprocessing.Process` has, although the worker is not its child. The caller holds
the write end of one more pipe, whose read end the server and every worker hold: it reaches end
of file when the caller is gone (even ``kill -9``), and the server exits, and every worker too
(:func:`sheetgen.workers.pool._worker_main`). Ctrl-C reaches the server through the process
group; it ignores it (the caller decides).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, NoReturn

from sheetgen import scratch

_LENGTH = struct.Struct("!Q")
_PID = struct.Struct("!q")
_CODE = struct.Struct("!i")
_READY = b"R"
_FORK = b"F"
#: What the server runs: the caller's import path first, then this module's :func:`main`.
_BOOT = ("import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
         "from sheetgen.workers.forkserver import main; "
         "main(json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))")


@dataclass(frozen=True)
class ForkServer:
    """Start workers from a fork server of the pool's own, with ``preload`` imported once."""

    preload: tuple[str, ...] = ()

    def get_start_method(self) -> str:
        """As a :mod:`multiprocessing` context says it (workers inherit nothing of the caller's:
        its file descriptors are not theirs)."""
        return "forkserver"


class ForkedProcess:
    """A worker forked by a :class:`Server`: what the pool asks of a process (its ``pid``, a
    ``sentinel`` readable once it has ended, ``join``, ``kill``, ``exitcode``)."""

    def __init__(self, pid: int, status: int) -> None:
        self.pid = pid
        self._status = os.fdopen(status, "rb", buffering=0)
        self.exitcode: int | None = None
        self._ended = False

    @property
    def sentinel(self) -> int:
        return self._status.fileno()

    def join(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` seconds (None: for ever) for the worker to end."""
        if self._ended or not wait([self.sentinel], timeout):
            return
        data = self._status.read(_CODE.size)
        self._ended = True
        if data is not None and len(data) == _CODE.size:
            self.exitcode = _CODE.unpack(data)[0]
        # else: the server ended before it could say (killed itself): the code is unknown

    def close(self) -> None:
        """Release the status pipe (once the worker has ended; ``sentinel`` is then gone)."""
        self._status.close()

    def kill(self) -> None:
        """SIGKILL, unless the worker is known to have ended (its pid may be another's now)."""
        if self.exitcode is not None or (not self._ended and wait([self.sentinel], 0)):
            return  # reaped (or its exit code is waiting to be read)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, signal.SIGKILL)


class Server:
    """A running fork server (see the module docstring); :meth:`fork` starts one worker, which
    runs ``target(conn, *args, parent_alive=fd)``."""

    def __init__(self, spec: ForkServer, target: Callable[..., object],
                 args: tuple[Any, ...], *, timeout: float) -> None:
        payload = pickle.dumps((target, args), protocol=pickle.HIGHEST_PROTOCOL)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        alive_r, self._alive = os.pipe()
        try:
            from multiprocessing.spawn import get_executable  # honours set_executable()

            self._process = subprocess.Popen(
                [get_executable(), "-c", _BOOT, json.dumps(sys.path), json.dumps(spec.preload),
                 str(theirs.fileno()), str(alive_r)],
                pass_fds=(theirs.fileno(), alive_r), stdin=subprocess.DEVNULL)
        except BaseException:
            ours.close()
            os.close(self._alive)
            raise
        finally:
            theirs.close()
            os.close(alive_r)
        self._socket = ours
        self._lock = threading.Lock()
        try:
            self._socket.settimeout(timeout)
            self._socket.sendall(_LENGTH.pack(len(payload)) + payload)
            if _recv_exact(self._socket, 1) != _READY:
                raise OSError("the fork server did not start")
            self._socket.settimeout(None)
        except BaseException:
            self.close()
            raise

    def dead(self) -> bool:
        return self._process.poll() is not None

    def fork(self) -> tuple[Connection, ForkedProcess]:
        """A new worker and the caller's end of its pipe; OSError when none could be forked."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        status_r, status_w = os.pipe()
        try:
            with self._lock:  # one request at a time: the slots start workers concurrently
                socket.send_fds(self._socket, [_FORK], [theirs.fileno(), status_w])
                pid = _PID.unpack(_recv_exact(self._socket, _PID.size))[0]
        except BaseException:
            ours.close()
            os.close(status_r)
            raise
        finally:
            theirs.close()
            os.close(status_w)
        if pid < 0:
            os.close(status_r)
            ours.close()
            raise OSError(-pid, os.strerror(-pid))
        return Connection(ours.detach()), ForkedProcess(pid, status_r)

    def close(self) -> None:
        """Stop the server (its workers are the pool's to stop first) and wait for its end."""
        with contextlib.suppress(OSError):
            self._socket.close()  # the server exits at end of file
        if self._alive >= 0:  # once: the number may be another file's afterwards
            with contextlib.suppress(OSError):
                os.close(self._alive)
            self._alive = -1
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError("the fork server closed its end")
        data += chunk
    return data


# --- the server process ---------------------------------------------------------------------

def main(preload: Sequence[str], sock_fd: int, alive_fd: int) -> NoReturn:
    """The server: import ``preload``, read the worker function and its arguments from the
    caller's first message, then fork a worker per request until the caller closes the socket
    or is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=sock_fd)
    with contextlib.suppress(OSError, EOFError):  # the caller went away: nothing to say
        _serve(sock, alive_fd, preload)
    # Without the interpreter's teardown of every preloaded module (0.3 s): the pool's close
    # waits for this exit. The server holds nothing to flush but its standard streams.
    with contextlib.suppress(Exception):
        scratch.cleanup()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def _serve(sock: socket.socket, alive_fd: int, preload: Sequence[str]) -> None:
    for name in preload:
        with contextlib.suppress(ImportError):  # as multiprocessing's forkserver: best effort
            __import__(name)
    size = _LENGTH.unpack(_recv_exact(sock, _LENGTH.size))[0]
    target, args = pickle.loads(_recv_exact(sock, size))
    # SIGCHLD wakes the loop through a pipe (the handler itself does nothing).
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: dict[int, int] = {}  # pid → write end of its status pipe
    sock.sendall(_READY)
    while True:
        readable = select.select([sock.fileno(), alive_fd, wake_r], [], [])[0]
        if wake_r in readable:
            with contextlib.suppress(OSError):
                while os.read(wake_r, 512):
                    pass
            _reap(children)
        if alive_fd in readable:
            return  # nobody writes to it: readable means end of file, the caller is gone
        if sock.fileno() in readable:
            message, fds, _, _ = socket.recv_fds(sock, 1, 2)
            if not message:
                return  # the pool closed
            if message != _FORK or len(fds) != 2:
                for fd in fds:
                    os.close(fd)
                continue
            conn_fd, status_fd = fds
            try:
                pid = os.fork()
            except OSError as exc:
                os.close(conn_fd)
                os.close(status_fd)
                sock.sendall(_PID.pack(-(exc.errno or 1)))
                continue
            if pid == 0:
                _child(conn_fd, alive_fd, target, args,
                       [sock.fileno(), wake_r, wake_w, status_fd, *children.values()])
            os.close(conn_fd)
            children[pid] = status_fd
            sock.sendall(_PID.pack(pid))
            _reap(children)  # a child that ended before its pid was stored


def _reap(children: dict[int, int]) -> None:
    """Collect the workers that ended and write each one's exit code to its status pipe."""
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        fd = children.pop(pid, None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.write(fd, _CODE.pack(os.waitstatus_to_exitcode(status)))
            os.close(fd)


def _child(conn_fd: int, alive_fd: int, target: Callable[..., object], args: tuple[Any, ...],
           close: list[int]) -> NoReturn:
    """A forked worker: drop the server's state, run ``target``, exit without the server's
    exit handlers (as :mod:`multiprocessing` ends its children)."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in close:
            with contextlib.suppress(OSError):
                os.close(fd)
        target(Connection(conn_fd), *args, parent_alive=alive_fd)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            scratch.cleanup()  # os._exit skips every exit handler
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
