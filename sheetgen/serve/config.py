"""How a ``sheetgen serve`` instance is set up: bind address, token, workers, limits.

One frozen :class:`ServeConfig` is built by the CLI (``sheetgen serve`` options) or, under
gunicorn, from ``SHEETGEN_SERVE_*`` environment variables (:meth:`ServeConfig.from_env`), with
the provider configuration (``--config FILE``, ``SHEETGEN_CONFIG`` or ``./sheetgen.toml``:
the flow, name, templates and originals every render of the form, the API and the desk
uses unless a request's own option says otherwise), and
checked once by :meth:`ServeConfig.checked`: a bind address other than loopback without a
token is refused, because the API would then render anyone's data for anyone who can reach
the port.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sheetgen.documents.provider import ProviderConfig, load_config
from sheetgen.errors import UsageError
from sheetgen.workers import cpu_count

#: Request bodies larger than this are refused with 413 (contract.md §6).
DEFAULT_BODY_LIMIT = 1_000_000
#: Seconds one render may take in a worker (a cold layout compile on a busy 2-core machine
#: takes 2–3 s; a render that is still running after this is killed with its worker).
DEFAULT_TIMEOUT = 30.0
#: The environment variable that holds the token when it is not given as ``--token``
#: (a command-line argument is visible to every user of the machine in ``ps``).
TOKEN_ENV = "SHEETGEN_SERVE_TOKEN"
#: Seconds a client may take to send a request's line and headers, then its body (408 after;
#: :mod:`sheetgen.serve.protocol`). Absolute: a client that trickles bytes does not extend them.
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0
#: Pages one request may produce (cover and sheets, counted before rendering: websites ×
#: copies plus the cover); 413 beyond. A busy provider renders 20 websites once, or 5 × 4.
MAX_PAGES = 40
#: Pixels of PNG pages one request may produce (413 beyond): at the preview's fixed 110 dpi an
#: A4 page is 909 × 1286 pixels, so this allows 12 pages.
MAX_PNG_PIXELS = 14_100_000


@dataclass(frozen=True)
class ServeConfig:
    """Everything a server instance needs to know; see ``sheetgen serve --help``."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 0  # render worker processes; 0: one per CPU
    token: str | None = None
    body_limit: int = DEFAULT_BODY_LIMIT
    timeout: float = DEFAULT_TIMEOUT
    cors_origins: tuple[str, ...] = ()
    access_log: bool = True
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int = 0  # 0: from the open-file limit (sheetgen.serve.protocol)
    register: str | None = None  # the desk's register: a folder (SQLite) or a database URL
    # sheetgen.toml: flow, name, templates, originals
    provider: ProviderConfig = field(default_factory=ProviderConfig)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ServeConfig:
        """The configuration of an app started by another server (gunicorn, uvicorn --factory).

        ``SHEETGEN_SERVE_TOKEN``, ``SHEETGEN_SERVE_WORKERS``, ``SHEETGEN_SERVE_TIMEOUT``,
        ``SHEETGEN_SERVE_BODY_LIMIT``, ``SHEETGEN_SERVE_CORS`` (comma-separated origins), the
        provider configuration (``SHEETGEN_CONFIG``, else ``./sheetgen.toml``), and
        the connection limits that :mod:`sheetgen.serve.gunicorn`'s worker applies
        (:meth:`connection_limits`). The app cannot see where the other server binds, so a
        token is required unless ``SHEETGEN_SERVE_LOCAL=1`` says that it binds to loopback only.
        """
        env = dict(os.environ if environ is None else environ)
        number = _numbers(env)
        host = "127.0.0.1" if env.get("SHEETGEN_SERVE_LOCAL") == "1" else "0.0.0.0"
        return cls(host=host, token=env.get(TOKEN_ENV) or None,
                   **cls.connection_limits(env),
                   workers=int(number("SHEETGEN_SERVE_WORKERS", int, 0)),
                   timeout=float(number("SHEETGEN_SERVE_TIMEOUT", float, DEFAULT_TIMEOUT)),
                   body_limit=int(number("SHEETGEN_SERVE_BODY_LIMIT", int, DEFAULT_BODY_LIMIT)),
                   cors_origins=tuple(o.strip() for o in env.get("SHEETGEN_SERVE_CORS", "")
                                      .split(",") if o.strip()),
                   register=env.get("SHEETGEN_SERVE_DATABASE")
                   or env.get("SHEETGEN_SERVE_DATA") or None,
                   provider=load_config(environ=env)).checked()

    def jobs_folder(self) -> Path:
        """Where this instance's batch jobs work: beside an SQLite register (``--data
        DIR``), so that a restart resumes them from their files; in the temporary folder
        for a database URL."""
        if self.register is None or "://" in self.register:
            return Path(tempfile.gettempdir()) / "sheetgen-jobs"
        return Path(self.register) / "jobs"

    @staticmethod
    def connection_limits(environ: dict[str, str] | None = None) -> dict[str, Any]:
        """``header_timeout``, ``body_timeout`` and ``max_connections`` from
        ``SHEETGEN_SERVE_HEADER_TIMEOUT``, ``SHEETGEN_SERVE_BODY_TIMEOUT`` and
        ``SHEETGEN_SERVE_MAX_CONNECTIONS`` (0 or unset: from the open-file limit)."""
        number = _numbers(dict(os.environ if environ is None else environ))
        return {"header_timeout": float(number("SHEETGEN_SERVE_HEADER_TIMEOUT", float,
                                               DEFAULT_HEADER_TIMEOUT)),
                "body_timeout": float(number("SHEETGEN_SERVE_BODY_TIMEOUT", float,
                                             DEFAULT_BODY_TIMEOUT)),
                "max_connections": int(number("SHEETGEN_SERVE_MAX_CONNECTIONS", int, 0))}

    def checked(self) -> ServeConfig:
        """This configuration, or a UsageError naming what is wrong with it."""
        if not 0 <= self.port < 65536:
            raise UsageError(f"--port {self.port}: not a TCP port (1–65535, or 0 for any)")
        if self.workers < 0:
            raise UsageError(f"--workers {self.workers}: must be 0 (one per CPU) or more")
        if self.body_limit < 1024:
            raise UsageError(f"body limit {self.body_limit}: must be at least 1024 bytes")
        for name, seconds in (("--timeout", self.timeout),
                              ("--header-timeout", self.header_timeout),
                              ("--body-timeout", self.body_timeout)):
            if not seconds > 0:
                raise UsageError(f"{name} {seconds}: must be more than 0 seconds")
        if self.max_connections < 0 or 0 < self.max_connections < 4:
            raise UsageError(f"--max-connections {self.max_connections}: must be 0 (from the "
                             "open-file limit) or at least 4")
        token = self.token
        if token is not None and (len(token) < 16 or not token.isprintable() or " " in token):
            raise UsageError("the token must be at least 16 printable characters, no spaces",
                             hint="make one with: python3 -c 'import secrets; "
                                  "print(secrets.token_urlsafe(24))'")
        if token is None and self.register is not None:
            raise UsageError(
                "the desk's register (--data, --database) holds ID numbers and phones: it "
                "needs a token, also on loopback",
                hint=f"give --token TOKEN or set {TOKEN_ENV}")
        if token is None and not is_loopback(self.host):
            raise UsageError(
                f"--host {self.host} lets other machines reach the API: it needs a token "
                "(under another server: SHEETGEN_SERVE_TOKEN, or SHEETGEN_SERVE_LOCAL=1 "
                "when it binds to loopback only)",
                hint=f"give --token TOKEN or set {TOKEN_ENV}; every /api/ call must then "
                     "send 'Authorization: Bearer TOKEN'")
        return self


def _numbers(env: dict[str, str]) -> Callable[[str, type[int] | type[float], float], float]:
    """A reader of numeric variables of ``env``: the default when unset, else a UsageError
    naming the variable when it is not a number."""
    def number(name: str, kind: type[int] | type[float], default: float) -> float:
        text = env.get(name, "").strip()
        if not text:
            return default
        try:
            return kind(text)
        except ValueError:
            raise UsageError(f"{name}={text[:20]!r} is not a number") from None

    return number


def is_loopback(host: str) -> bool:
    """``host`` binds to this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: may resolve to anything


#: Render workers by default: one per CPU this process may run on (the pool's one helper).
default_workers = cpu_count
