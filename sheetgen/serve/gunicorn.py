"""The gunicorn worker of ``sheetgen serve``: uvicorn's, with sheetgen's connection limits.

``gunicorn 'sheetgen.serve:create_app()' -k sheetgen.serve.gunicorn.Worker`` runs the app as
``-k uvicorn.workers.UvicornWorker`` does, but each connection gets the header and body
deadlines and the connection cap of :mod:`sheetgen.serve.protocol` (uvicorn's own protocol has
none), read from ``SHEETGEN_SERVE_HEADER_TIMEOUT``, ``SHEETGEN_SERVE_BODY_TIMEOUT`` and
``SHEETGEN_SERVE_MAX_CONNECTIONS`` (per gunicorn worker process). Needs gunicorn (not a
dependency of sheetgen): the base class is ``uvicorn_worker``'s where that package is
installed, else ``uvicorn.workers``'s (deprecated there, still shipped).
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from sheetgen.serve.config import ServeConfig
from sheetgen.serve.protocol import (
    Limits,
    default_max_connections,
    open_file_limit,
    protocol_class,
)


def _uvicorn_worker() -> type:
    for module in ("uvicorn_worker", "uvicorn.workers"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                base: type = importlib.import_module(module).UvicornWorker
        except ImportError:
            continue
        return base
    raise ImportError("sheetgen.serve.gunicorn needs gunicorn: pip install gunicorn")


def _config_kwargs() -> dict[str, Any]:
    """uvicorn's settings for each worker: the guarded protocol, and an accept backlog no
    larger than the connection cap (it bounds how many connections one loop turn accepts)."""
    limits = ServeConfig(host="127.0.0.1", **ServeConfig.connection_limits()).checked()
    guarded = Limits(header_timeout=limits.header_timeout, body_timeout=limits.body_timeout,
                     max_connections=limits.max_connections
                     or default_max_connections(open_file_limit()))
    return {"loop": "auto", "http": protocol_class(guarded),
            "backlog": max(16, min(2048, guarded.max_connections))}


Worker = type("Worker", (_uvicorn_worker(),), {
    "CONFIG_KWARGS": _config_kwargs(), "__module__": __name__,
    "__doc__": "gunicorn's uvicorn worker with the limits of sheetgen.serve.protocol."})
