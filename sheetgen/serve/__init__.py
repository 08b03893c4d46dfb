"""``sheetgen serve``: a web form for applicants and an HTTP API for provider systems.

- :mod:`~.app`: the FastAPI application (contract.md §6), security headers, access log;
- :mod:`~.render`: what a request asks of the library (check, render to PDF/DOCX/PNG);
- :mod:`~.pool`: the warm render worker processes, with a per-request timeout;
- :mod:`~.form`: the form's fields and choices, generated from the model's JSON Schema;
- :mod:`~.config`: bind address, token, limits; ``static/``: the page, its script and styles;
- :mod:`~.protocol`: uvicorn's HTTP/1.1 protocol with header and body deadlines and a
  connection cap, and accept errors logged once per burst;
- :mod:`~.gunicorn`: a gunicorn worker class that uses that protocol.

``create_app()`` without arguments reads ``SHEETGEN_SERVE_*`` variables, for running under
another ASGI server (gunicorn with :mod:`~.gunicorn`'s worker; README).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sheetgen.serve.app import create_app
    from sheetgen.serve.config import ServeConfig

__all__ = ["ServeConfig", "create_app"]


def __getattr__(name: str) -> Any:
    """Lazy: ``sheetgen serve --help`` and the config must not import FastAPI."""
    if name == "create_app":
        from sheetgen.serve.app import create_app

        return create_app
    if name == "ServeConfig":
        from sheetgen.serve.config import ServeConfig

        return ServeConfig
    raise AttributeError(name)
