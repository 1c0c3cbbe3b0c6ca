"""The ceiling: a bare ASGI app on the same HTTP server as flexchat, answering every
request with the fixed bytes of a real 50-channel list page.

No routing, no auth, no database, no JSON building: what is left is the cost of uvicorn,
uvloop and httptools moving that many bytes, the most any endpoint could reach.

Run as ``python bench/ceiling.py PORT BODY_FILE [--flexchat-headers]``; uvicorn gets
the options ``flexchat serve`` gives it (uvloop, httptools, no access log, no Server
header). The ceiling sends two headers (Content-Length, Content-Type); with
``--flexchat-headers`` it sends the nine a flexchat response carries (CORS, a fresh
request id, the duration), to show what uvicorn's handling of those costs.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

from flexchat.app import JSON_TYPE, PLAIN_CORS_HEADERS

Message = MutableMapping[str, Any]


def make_app(body: bytes, flexchat_headers: bool = False) -> Callable[[Message, Any, Any], Awaitable[None]]:
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


def main(argv: list[str]) -> None:
    """Serve the fixed page on 127.0.0.1:PORT until stopped."""
    port, body_file = int(argv[1]), argv[2]
    with open(body_file, "rb") as handle:
        body = handle.read()
    uvicorn.run(
        make_app(body, "--flexchat-headers" in argv[3:]),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        server_header=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main(sys.argv)
