"""``sheetgen serve``: start the web form and the HTTP API on uvicorn (contract.md §6).

Thin: builds a :class:`~sheetgen.serve.config.ServeConfig` from the options, binds the socket
itself (so a port in use is a plain usage error, and ``--port 0`` takes a free port and says
which), prints where the form is, and runs uvicorn until Ctrl-C or SIGTERM. FastAPI and
uvicorn (and the socket and logging modules) are imported only when it runs, so the other
commands do not pay for them.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from sheetgen.cli.options import ConfigOption
from sheetgen.errors import UsageError
from sheetgen.serve.config import (
    DEFAULT_BODY_LIMIT,
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_TIMEOUT,
    TOKEN_ENV,
)

if TYPE_CHECKING:
    import socket

    from sheetgen.documents.provider import ProviderConfig


def serve(
    host: Annotated[str, typer.Option(
        help="Address to listen on. Anything but loopback needs --token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port; 0 takes a free one.")] = 8000,
    workers: Annotated[int, typer.Option(
        "--workers", min=0, help="Render worker processes. Default (0): one per CPU.")] = 0,
    token: Annotated[str | None, typer.Option(
        "--token", envvar=TOKEN_ENV, show_envvar=True,
        help="Require 'Authorization: Bearer TOKEN' on every /api/ call (16+ characters).")
    ] = None,
    timeout: Annotated[float, typer.Option(
        help="Seconds one render may take before it is stopped (504).")] = DEFAULT_TIMEOUT,
    body_limit: Annotated[int, typer.Option(
        "--body-limit", metavar="BYTES", help="Largest request body (413 beyond).")
    ] = DEFAULT_BODY_LIMIT,
    cors_origin: Annotated[list[str] | None, typer.Option(
        "--cors-origin", metavar="ORIGIN",
        help="Allow browser calls from this origin (repeatable). Default: CORS off.")] = None,
    no_access_log: Annotated[bool, typer.Option(
        "--no-access-log", help="No access log lines on stderr.")] = False,
    header_timeout: Annotated[float, typer.Option(
        "--header-timeout", metavar="SECONDS",
        help="Seconds a client may take to send a request's headers (408 after).")
    ] = DEFAULT_HEADER_TIMEOUT,
    body_timeout: Annotated[float, typer.Option(
        "--body-timeout", metavar="SECONDS",
        help="Seconds a client may take to send a request's body (408 after).")
    ] = DEFAULT_BODY_TIMEOUT,
    max_connections: Annotated[int, typer.Option(
        "--max-connections", metavar="N",
        help="Open connections at most; beyond, the oldest still sending its headers is "
             "closed. Default (0): 1000, or fewer under a low open-file limit.")] = 0,
    data: Annotated[str | None, typer.Option(
        "--data", metavar="DIR",
        help="Keep the desk's register in DIR (an SQLite file): the /api/v1/records, "
             "/receipts and /register routes. Needs --token.")] = None,
    database: Annotated[str | None, typer.Option(
        "--database", metavar="URL",
        help="Keep the desk's register in this database (postgresql+psycopg://…), shared by "
             "several instances. Needs --token.")] = None,
    config_file: ConfigOption = None,
) -> None:
    """Serve the web form (Chinese) at / and the HTTP API at /api/v1 (docs at /docs)."""
    import logging

    from sheetgen.documents.provider import load_config
    from sheetgen.serve.config import ServeConfig, default_workers

    if data and database:
        raise UsageError("give --data DIR or --database URL, not both")
    provider = load_config(config_file)
    check_provider(provider)
    config = ServeConfig(host=host, port=port, workers=workers or default_workers(),
                         token=token, timeout=timeout, body_limit=body_limit,
                         cors_origins=tuple(cors_origin or ()),
                         access_log=not no_access_log, header_timeout=header_timeout,
                         body_timeout=body_timeout, max_connections=max_connections,
                         register=data or database, provider=provider).checked()
    from sheetgen.serve.protocol import (
        Limits,
        default_max_connections,
        open_file_limit,
        protocol_class,
    )

    file_limit = open_file_limit()
    limits = Limits(header_timeout=config.header_timeout, body_timeout=config.body_timeout,
                    max_connections=config.max_connections
                    or default_max_connections(file_limit))
    if file_limit is not None and limits.max_connections > default_max_connections(file_limit):
        print(f"sheetgen: warning: --max-connections {limits.max_connections} with an "
              f"open-file limit of {file_limit}: a burst of connections may run out of files "
              f"(at most {default_max_connections(file_limit)} is safe; raise ulimit -n)",
              file=sys.stderr)
    sock = _bind(config.host, config.port)
    bound = sock.getsockname()[1]
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="sheetgen serve: %(message)s")

    import uvicorn

    from sheetgen.serve.app import create_app

    shown = f"[{config.host}]" if ":" in config.host else config.host
    print(f"sheetgen: the form is at http://{shown}:{bound}/ (API /api/v1, docs /docs; "
          f"{config.workers} render worker{'s' if config.workers != 1 else ''}"
          f"{', token required' if config.token else ''}, at most "
          f"{limits.max_connections} connections); Ctrl-C stops", file=sys.stderr, flush=True)
    # uvicorn's own h11 protocol, with a header and a body deadline and the connection cap
    # (sheetgen.serve.protocol says why there). The backlog also bounds how many connections
    # one turn of the event loop accepts before any is closed: at most the cap again, which
    # the default cap leaves room for under the open-file limit.
    server = uvicorn.Server(uvicorn.Config(
        create_app(config), log_config=None, access_log=False, server_header=False,
        timeout_graceful_shutdown=10, http=protocol_class(limits),
        backlog=max(16, min(2048, limits.max_connections))))
    server.run(sockets=[sock])


def check_provider(provider: ProviderConfig) -> None:
    """The provider configuration checked before the port is bound: its flow against the
    rules, its ``[originals]`` kinds, its templates' ``documents/`` (the server would
    otherwise start and fail every request)."""
    from sheetgen.documents.kinds import provider_documents
    from sheetgen.rendering.templating import TemplateSet
    from sheetgen.rules import load_rules

    rules = load_rules(verification=provider.flow)
    provider.check_kinds(rules)
    if provider.templates is not None:
        provider_documents(TemplateSet(provider.templates).provided, rules.documents)


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a UsageError that says why not."""
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}",
                         hint="is another server using the port? give --port N "
                              "(or --port 0 for a free one)") from None
    sock.listen(256)
    sock.set_inheritable(True)
    return sock
