"""Webhook delivery under a sustained event rate: does the outbox drain, and how long
does an event take from its commit to the receiver?

Starts ``flexchat serve`` on a fresh database (``--engine sqlite`` or ``postgresql``), an
``external`` flow and channel whose webhook posts to a receiver process (aiohttp,
answering 200 at once), then writes ``onMessageSent`` events at ``--rate`` per second for
``--seconds`` through ``domain.events.emit`` into the server's database, as
``POST .../Messages`` with ``X-Twilio-Webhook-Enabled: true`` does, without the cost of
the HTTP request, so the figures are delivery's own. The server's delivery worker finds
them by polling (they were written by another process), which is the multi-process
case; with ``--in-process`` the application runs in this process and the commit wakes it.

Reported: events written and delivered, the delivered rate, latency from each write's
commit to its arrival (p50, p99, max), the outbox depth sampled each second and after the
run (it must come back to 0: the outbox keeps up), and the time to drain.

    .venv/bin/python bench/delivery.py --engine sqlite --rate 500 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import requests

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a flexchat dependency off Windows
    uvloop = None  # type: ignore[assignment]

from flexchat.app import create_app
from flexchat.dates import now_iso
from flexchat.delivery.metrics import outbox_depth
from flexchat.domain.events import emit, message_fields
from flexchat.domain.records import ChatMessage
from flexchat.settings import Settings
from flexchat.sids import mint_sid
from flexchat.store import Store, create_store
from flexchat.testing import add_account, free_port, run_server

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


RECEIVER = """
import signal, sys, time
from aiohttp import web

out = open(sys.argv[2], "w")

async def hook(request):
    form = await request.post()
    out.write(f"{form['MessageSid']} {time.time()}\\n")
    return web.Response(text="ok")

async def flush(app):
    out.flush()

app = web.Application()
app.router.add_post("/hook", hook)
app.on_shutdown.append(flush)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
out.close()
"""


class Receiver:
    """An aiohttp server in a process of its own (so it does not share this process's
    CPU with the writes), recording when each MessageSid arrived."""

    def __init__(self, directory: str) -> None:
        self.port = free_port()
        self.path = os.path.join(directory, "arrivals.txt")
        self.process = subprocess.Popen([sys.executable, "-c", RECEIVER, str(self.port), self.path])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.05)
        raise RuntimeError("the receiver did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def stop(self) -> tuple[dict[str, float], int]:
        """Stop it; when each message first arrived, and how many requests came."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(10)
        arrived: dict[str, float] = {}
        requests = 0
        with open(self.path) as lines:
            for line in lines:
                sid, at = line.split()
                arrived.setdefault(sid, float(at))
                requests += 1
        return arrived, requests


@contextlib.contextmanager
def database(engine: str) -> Iterator[str]:
    """A fresh database of ``engine``, removed afterwards."""
    if engine == "sqlite":
        with tempfile.TemporaryDirectory(prefix="flexchat-bench-") as where:
            yield f"sqlite:///{where}/flexchat.db"
        return
    import asyncpg

    name = "flexchat_delivery_bench_" + secrets.token_hex(4)

    async def execute(statement: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def write_events(
    store: Store, ids: tuple[str, str, str], rate: float, seconds: float, committed: dict[str, float],
    depths: list[int],
) -> None:
    """``rate`` events a second for ``seconds``, each acknowledged once committed."""
    account, service, channel = ids
    in_flight: set[asyncio.Task[None]] = set()
    slots = asyncio.Semaphore(256)

    async def write_event(index: int) -> None:
        async with slots:
            now = now_iso()
            message = ChatMessage(
                0, mint_sid("IM"), account, service, channel, index, "customer", f"message {index}", "{}",
                None, None, False, now, now,
            )
            await store.write(emit(account, service, channel, "onMessageSent", message_fields(message)))
            committed[message.sid] = time.time()

    async def sample_depth() -> None:
        while True:
            await asyncio.sleep(1.0)
            depths.append(await outbox_depth(store))

    sampler = asyncio.create_task(sample_depth())
    started = time.monotonic()
    total = int(rate * seconds)
    for index in range(total):
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(write_event(index))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    await asyncio.gather(*in_flight)
    sampler.cancel()


async def drain(store: Store, timeout: float) -> float:
    """Seconds until the outbox is empty (every event delivered or failed)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if await outbox_depth(store) == 0:
            break
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rate", type=float, default=500.0, help="events written per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1, help="flexchat serve --workers")
    parser.add_argument(
        "--in-process", action="store_true",
        help="write through the delivering application's own store, as its API does (the commit wakes"
        " the worker, no second process competes for the database); default: from another process",
    )
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="flexchat-delivery-bench-")
    receiver = Receiver(workdir)
    with database(args.engine) as url, run_server(url, extra_args=["--workers", str(args.workers)]) as server:
        account, token = add_account(url)
        session = requests.Session()
        session.auth = (account, token)
        flow = session.post(server.base_url + "/v1/FlexFlows", data={
            "FriendlyName": "bench", "ChatServiceSid": mint_sid("IS"), "ChannelType": "web",
            "IntegrationType": "external", "Integration.Url": receiver.url,
        }).json()
        channel = session.post(server.base_url + "/v1/Channels", data={
            "FlexFlowSid": flow["sid"], "Identity": "bench", "ChatUserFriendlyName": "Bench",
            "ChatFriendlyName": "Bench",
        }).json()

        async def run() -> dict[str, Any]:
            app = None
            if args.in_process:
                # The application as `flexchat serve` runs it, delivery worker included.
                app = create_app(Settings.load(environ=dict(os.environ)).with_(database_url=url))
                await app.startup()
                store = app.store
            else:
                store = create_store(Settings(database_url=url))
                await store.open()
            try:
                committed: dict[str, float] = {}
                depths: list[int] = []
                started = time.monotonic()
                await write_events(
                    store, (account, flow["chat_service_sid"], channel["sid"]), args.rate, args.seconds,
                    committed, depths,
                )
                written_in = time.monotonic() - started
                drained_in = await drain(store, 120.0)
                return {
                    "committed": committed, "depths": depths, "written_in": written_in,
                    "drained_in": drained_in, "final_depth": await outbox_depth(store),
                }
            finally:
                if app is not None:
                    await app.shutdown()
                else:
                    await store.close()

        if args.in_process:
            server.stop()  # only the application in this process delivers
        result = (uvloop.run if uvloop else asyncio.run)(run())
    arrived, requests_received = receiver.stop()
    committed = result["committed"]
    latencies = [(arrived[sid] - at) * 1000 for sid, at in committed.items() if sid in arrived]
    delivered = len(latencies)
    where = "in the writing process" if args.in_process else f"{args.workers} server worker(s)"
    print(f"engine {args.engine}, delivered {where}, offered {args.rate:g} events/s for {args.seconds:g} s")
    print("| figure | value |")
    print("|---|---|")
    print(f"| events written (acknowledged) | {len(committed):,} in {result['written_in']:.1f} s "
          f"({len(committed) / result['written_in']:,.0f}/s) |")
    print(f"| events delivered | {delivered:,} ({requests_received - delivered} duplicate requests) |")
    print(f"| delivered rate | {delivered / (result['written_in'] + result['drained_in']):,.0f}/s |")
    if latencies:
        print(f"| latency commit -> receiver p50 / p99 / max | {statistics.median(latencies):,.0f} / "
              f"{percentile(latencies, 0.99):,.0f} / {max(latencies):,.0f} ms |")
    print(f"| outbox depth each second while writing | {', '.join(map(str, result['depths']))} |")
    print(f"| drained after the last write in | {result['drained_in']:.2f} s (depth now {result['final_depth']}) |")


if __name__ == "__main__":
    main()
