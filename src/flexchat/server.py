"""Running the ASGI app on its HTTP server: granian (measured in docs/architecture.md).

``serve(settings)`` is the only place that knows which server runs flexchat: ``cli.py``
bootstraps the database and prints the banner, then hands over to it.
"""

from __future__ import annotations

import math
import multiprocessing
from functools import partial
from typing import TYPE_CHECKING

from .app import create_app
from .settings import Settings, SettingsError

if TYPE_CHECKING:
    from typing import Any

    from granian.server.common import AbstractServer


def serve(settings: Settings) -> None:
    """Serve the API on ``settings.host:settings.port`` until SIGINT or SIGTERM.

    granian always runs the app in worker processes (``settings.workers`` of them) under
    a supervisor that owns the listening socket: SIGTERM or SIGINT stops accepting,
    lets the workers finish, and runs the ASGI lifespan shutdown (the store closes);
    SIGHUP respawns the workers one by one. Each worker builds its own app and store
    from ``settings`` (``create_app`` is picklable with them), as uvicorn's workers did
    from the environment.
    """
    # Workers start as fresh interpreters, not as forks of the supervisor (granian's
    # default on Linux). A forked worker shares the supervisor's pages until reference
    # counting copies them one by one, so its memory grows with use for no reason of its
    # own; and it inherits the supervisor's SIGTERM handler, under which a stop in its
    # first milliseconds went unnoticed. A spawned one starts with the default handlers.
    multiprocessing.set_start_method("spawn", force=True)
    granian_server(settings).serve(target_loader=partial(create_app, settings), wrap_loader=False)


def granian_server(settings: Settings, target: str = "flexchat.app:create_app") -> AbstractServer[Any]:
    """granian configured as flexchat runs on it; ``bench/ceiling.py`` uses the same.

    ``target`` only names the process in granian's log: callers pass the app loader.
    """
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels
    from granian.server import Server

    try:
        log_level = LogLevels(settings.log_level.lower())
    except ValueError:
        raise SettingsError(f"log level must be debug, info, warning or error, not {settings.log_level!r}") from None
    return Server(
        target,
        address=settings.host,
        port=settings.port,
        # ASGI with lifespan: the store opens before the first request and closes on stop.
        interface=Interfaces.ASGI,
        workers=settings.workers,
        # uvloop where it is installed (it is a dependency off Windows), asyncio elsewhere.
        loop=Loops.auto,
        # The API is HTTP/1.1 (keep-alive on, granian's default); no HTTP/2 or
        # WebSocket handshakes to look for on every connection.
        http=HTTPModes.http1,
        websockets=False,
        log_level=log_level,
        # The app writes the access log itself (access_log.py): one line per request with
        # its request id and secrets masked, whatever the server; granian's stays off.
        log_access=False,
        # A worker that dies is started again, as uvicorn's supervisor did; one that
        # keeps dying within seconds stops the server (granian's crash-loop guard).
        respawn_failed_workers=True,
        # A stopping worker finishes its requests; the slowest waits db_timeout for the
        # database and then answers 503. Past that and a margin it is killed: a stop
        # must not hang on a worker that missed its signal or is stuck.
        workers_kill_timeout=math.ceil(settings.db_timeout) + 5,
        # granian has no proxy-header handling of its own: X-Forwarded-Proto/-Host are
        # honoured by AppContext.base_url, and only with --trust-proxy.
    )

