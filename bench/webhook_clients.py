"""Which HTTP client delivers webhooks: aiohttp, httpx, or a small asyncio-streams client.

Each client sends the same signed, form-encoded webhook (about 600 bytes, as an
onMessageSent carries) to a local receiver (uvicorn + httptools answering 200 at once),
``--requests`` times with ``--concurrency`` in flight over a pooled connection set, and
we report requests per second and the client process's CPU time per request (what
delivery costs the API process it shares). Rounds are interleaved so drift on a shared
machine hits every client alike.

    .venv/bin/python bench/webhook_clients.py --requests 5000 --concurrency 32 --rounds 3

Needs ``httpx`` for the httpx column (not a flexchat dependency: ``pip install httpx``).
The figures and the choice are in docs/architecture.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

RECEIVER = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})
"""

FORM = {
    "EventType": "onMessageSent",
    "AccountSid": "AC" + "0" * 32,
    "InstanceSid": "IS" + "1" * 32,
    "ChannelSid": "CH" + "2" * 32,
    "MessageSid": "IM" + "3" * 32,
    "Index": "42",
    "Body": "Hello, I would like to change the delivery address of my order please",
    "From": "customer-12345",
    "Attributes": '{"source":"web","locale":"en-GB"}',
    "Source": "API",
    "DateCreated": "2026-11-25T20:00:00.000Z",
    "WebhookSid": "WH" + "4" * 32,
    "WebhookType": "webhook",
    "RetryCount": "0",
}
HEADERS = {
    "User-Agent": "TwilioProxy/1.1",
    "Content-Type": "application/x-www-form-urlencoded",
    "X-Twilio-Signature": "3hC1Ch3Z0Yl9Rk0m6GmQ8kK5lTk=",
    "I-Twilio-Idempotency-Token": "EV" + "5" * 32,
}

Send = Callable[[], Awaitable[int]]


async def aiohttp_client(url: str, concurrency: int) -> tuple[Send, Callable[[], Awaitable[None]]]:
    import aiohttp

    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency), timeout=aiohttp.ClientTimeout(total=5)
    )
    body = urlencode(FORM)

    async def send() -> int:
        async with session.post(url, data=body, headers=HEADERS) as response:
            await response.read()
            return response.status

    return send, session.close


async def httpx_client(url: str, concurrency: int) -> tuple[Send, Callable[[], Awaitable[None]]]:
    import httpx

    client = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency), timeout=5
    )
    body = urlencode(FORM).encode()

    async def send() -> int:
        response = await client.post(url, content=body, headers=HEADERS)
        return response.status_code

    return send, client.aclose


async def streams_client(url: str, concurrency: int) -> tuple[Send, Callable[[], Awaitable[None]]]:
    """HTTP/1.1 keep-alive over asyncio streams: content-length bodies only (enough to
    measure the floor; a real one also needs chunked bodies, TLS and proxies)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    body = urlencode(FORM).encode()
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
        + f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    slots = asyncio.Semaphore(concurrency)

    async def send() -> int:
        async with slots:
            conn = idle.pop() if idle else await asyncio.open_connection(host, port)
            reader, writer = conn
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            idle.append(conn)
            return int(status_line.split()[1])

    async def close() -> None:
        for _, writer in idle:
            writer.close()

    return send, close


CLIENTS = {"aiohttp": aiohttp_client, "httpx": httpx_client, "streams": streams_client}


async def measure(name: str, url: str, requests: int, concurrency: int) -> tuple[float, float]:
    send, close = await CLIENTS[name](url, concurrency)
    slots = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with slots:
            status = await send()
            assert status == 200, status

    await asyncio.gather(*(one() for _ in range(min(concurrency, requests))))  # warm the pool
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(requests)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await close()
    return requests / wall, cpu / requests * 1e6


def run(coro: Any) -> Any:
    """On uvloop, as ``flexchat serve`` runs the worker."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a flexchat dependency off Windows
        return asyncio.run(coro)
    return uvloop.run(coro)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=18765)
    args = parser.parse_args()
    app_dir = tempfile.mkdtemp(prefix="flexchat-receiver-")
    with open(os.path.join(app_dir, "receiver_app.py"), "w") as handle:
        handle.write(RECEIVER)
    receiver = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", app_dir, "receiver_app:app", "--port", str(args.port),
         "--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning"],
    )
    try:
        time.sleep(1.5)
        url = f"http://127.0.0.1:{args.port}/hook"
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in CLIENTS}
        for _ in range(args.rounds):
            for name in CLIENTS:
                results[name].append(run(measure(name, url, args.requests, args.concurrency)))
        print(f"{args.requests} requests, {args.concurrency} in flight, median of {args.rounds} rounds")
        print("| client | req/s | client CPU per request |")
        print("|---|---|---|")
        for name, runs in results.items():
            rate = statistics.median(r for r, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            print(f"| {name} | {rate:,.0f} | {cpu:,.0f} us |")
    finally:
        receiver.terminate()
        receiver.wait()


if __name__ == "__main__":
    main()
