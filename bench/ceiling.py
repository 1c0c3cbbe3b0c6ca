"""The ceiling: a bare ASGI app on an HTTP server, answering every request with the
fixed bytes of a real 50-channel list page.

No routing, no auth, no database, no JSON building: what is left is the cost of the
server (and its event loop and HTTP parser) moving that many bytes, the most any
endpoint could reach on it. ``bench/run.py`` measures it on every server of the run and
takes the fastest as the ceiling of every ratio.

Run as ``python bench/ceiling.py PORT BODY_FILE [--flexchat-headers] [--server NAME]``
(NAME one of ``servers.SERVERS``, default granian). Each server gets the options flexchat
runs with on it (granian: ``flexchat.server.granian_server``; uvicorn: uvloop, httptools
or h11, no access log, no Server header; hypercorn: uvloop). The ceiling sends two
headers (Content-Length, Content-Type); with ``--flexchat-headers`` it sends the nine a
flexchat response carries (CORS, a fresh request id, the duration), to show what the
server's handling of those costs.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from functools import partial
from typing import Any

from flexchat.app import JSON_TYPE, PLAIN_CORS_HEADERS

Message = MutableMapping[str, Any]
App = Callable[[Message, Any, Any], Awaitable[None]]


def make_app(body: bytes, flexchat_headers: bool = False) -> App:
    """An ASGI app that answers 200 with ``body`` as JSON to every HTTP request."""
    length = (b"content-length", str(len(body)).encode())
    start = {"type": "http.response.start", "status": 200, "headers": [length, (b"content-type", JSON_TYPE)]}
    done = {"type": "http.response.body", "body": body}

    async def app(
        scope: Message, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            return
        await send(start)
        await send(done)

    async def app_with_flexchat_headers(
        scope: Message, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        headers = [
            length,
            *PLAIN_CORS_HEADERS,
            (b"twilio-request-id", b"RQ" + os.urandom(16).hex().encode()),
            (b"twilio-request-duration", f"{time.perf_counter() - started:.3f}".encode()),
            (b"content-type", JSON_TYPE),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(done)

    return app_with_flexchat_headers if flexchat_headers else app


def serve(server: str, port: int, body: bytes, flexchat_headers: bool) -> None:
    """Serve the fixed page on 127.0.0.1:``port`` with ``server`` until stopped."""
    loader = partial(make_app, body, flexchat_headers)
    if server == "granian":
        import multiprocessing

        from flexchat.server import granian_server
        from flexchat.settings import Settings

        settings = Settings(host="127.0.0.1", port=port, access_log=False, log_level="warning")
        # The app is built in a spawned worker, as flexchat's is (flexchat.server.serve).
        multiprocessing.set_start_method("spawn", force=True)
        granian_server(settings, "ceiling:make_app").serve(target_loader=loader, wrap_loader=False)
    elif server in ("uvicorn", "uvicorn-h11"):
        import uvicorn

        uvicorn.run(
            loader(), host="127.0.0.1", port=port, loop="uvloop",
            http="h11" if server == "uvicorn-h11" else "httptools",
            lifespan="off", access_log=False, server_header=False, log_level="warning",
        )
    elif server == "hypercorn":
        import asyncio

        import uvloop
        from hypercorn.asyncio import serve as hypercorn_serve
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"127.0.0.1:{port}"]
        config.loglevel = "WARNING"
        uvloop.install()
        asyncio.run(hypercorn_serve(loader(), config, mode="asgi"))
    else:
        raise SystemExit(f"ceiling: unknown server {server!r}")


def main(argv: list[str]) -> None:
    """``PORT BODY_FILE [--flexchat-headers] [--server NAME]``."""
    port, body_file = int(argv[1]), argv[2]
    options = argv[3:]
    server = options[options.index("--server") + 1] if "--server" in options else "granian"
    with open(body_file, "rb") as handle:
        body = handle.read()
    serve(server, port, body, "--flexchat-headers" in options)


if __name__ == "__main__":
    main(sys.argv)
