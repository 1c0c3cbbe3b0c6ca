"""CPU time per request of the ASGI app alone (no server, no network), for the revision
of flexchat on PYTHONPATH: the first list page, PageSize=50.

    PYTHONPATH=/tmp/before/src python bench/app_cost.py --database sqlite:////tmp/b.db --account AC... --token ...
    python bench/app_cost.py ... --access-log text

CPU time (``time.process_time``) rather than wall time, so that other work on a shared
machine costs less of the figure; best of ``--runs`` runs. Used for docs/operations.md
(the overhead of issue 10): run it for each revision alternately and keep the lowest.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import time
from typing import Any

import flexchat
from flexchat.app import create_app
from flexchat.settings import Settings


async def measure(database: str, auth: bytes, access_log: str | None, runs: int, requests: int) -> float:
    """Lowest CPU microseconds per request over ``runs`` runs of ``requests`` requests."""
    app = create_app(Settings(database_url=database, access_log=False))
    if access_log:
        from flexchat.access_log import AccessLog

        app.access_log = AccessLog(access_log, open(os.devnull, "w"))  # noqa: SIM115 - for the whole run
    await app.startup()
    statuses: set[int] = set()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    scope = {
        "type": "http", "method": "GET", "path": "/v1/Channels", "raw_path": b"/v1/Channels",
        "query_string": b"PageSize=50", "scheme": "http", "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 5000), "headers": [(b"host", b"127.0.0.1:8080"), (b"authorization", auth)],
    }
    try:
        await app(dict(scope), receive, send)  # warm: the auth memo, the channel cache
        best = float("inf")
        for _ in range(runs):
            started = time.process_time()
            for _ in range(requests):
                await app(dict(scope), receive, send)
            best = min(best, (time.process_time() - started) / requests * 1e6)
    finally:
        await app.shutdown()
    if statuses != {200}:
        raise RuntimeError(f"the list answered {sorted(statuses)}: wrong account or token?")
    return best


def main() -> int:
    """Print the figure of the revision on PYTHONPATH."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--access-log", choices=("text", "json"))
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    auth = b"Basic " + base64.b64encode(f"{args.account}:{args.token}".encode())
    micros = asyncio.run(measure(args.database, auth, args.access_log, args.runs, args.requests))
    where = os.path.dirname(os.path.dirname(os.path.dirname(flexchat.__file__)))
    print(f"{where}  access log {args.access_log or 'off'}: {micros:.1f} us CPU per request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
