"""The ceiling: a bare ASGI app on the same HTTP server as flexchat, answering every
request with the fixed bytes of a real 50-channel list page.

No routing, no auth, no database, no JSON building: what is left is the cost of uvicorn,
uvloop and httptools moving that many bytes, the most any endpoint could reach.

Run as ``python bench/ceiling.py PORT BODY_FILE``; uvicorn gets the options
``flexchat serve`` gives it (uvloop, httptools, no access log, no Server header).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Message = MutableMapping[str, Any]


def make_app(body: bytes) -> Callable[[Message, Any, Any], Awaitable[None]]:
    """An ASGI app that answers 200 with ``body`` as JSON to every HTTP request."""
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")],
    }
    done = {"type": "http.response.body", "body": body}

    async def app(
        scope: Message, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            return
        await send(start)
        await send(done)

    return app


def main(argv: list[str]) -> None:
    """Serve the fixed page on 127.0.0.1:PORT until stopped."""
    port, body_file = int(argv[1]), argv[2]
    with open(body_file, "rb") as handle:
        body = handle.read()
    uvicorn.run(
        make_app(body),
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
