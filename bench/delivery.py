"""Webhook delivery under a sustained event rate: does the outbox drain, and how long
does an event take from its commit to the receiver?

Starts ``flexchat serve`` on a fresh database (``--engine sqlite`` or ``postgresql``), an
``external`` flow and channel whose webhook posts to a receiver in this process (aiohttp,
answering 200 at once), then writes ``onMessageSent`` events at ``--rate`` per second for
``--seconds`` through ``domain.events.emit`` into the server's database, as message
creates with ``X-Twilio-Webhook-Enabled: true`` do (once the message endpoints are merged,
``write_event`` becomes a POST). The server's delivery worker finds them by polling (they
were written by another process), which is the multi-process case.

Reported: events written and delivered, the delivered rate, latency from each write's
commit to its arrival (p50, p99, max), the outbox depth sampled each second and after the
run (it must come back to 0: the outbox keeps up), and the time to drain.

    .venv/bin/python bench/delivery.py --engine sqlite --rate 500 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import requests
from aiohttp import web

from flexchat.dates import now_iso
from flexchat.delivery.metrics import outbox_depth
from flexchat.domain.events import emit, message_fields
from flexchat.domain.records import ChatMessage
from flexchat.settings import Settings
from flexchat.sids import mint_sid
from flexchat.store import Store, create_store
from flexchat.testing import add_account, free_port, run_server

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


class Receiver:
    """An aiohttp server on its own thread, recording when each MessageSid arrived."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrived: dict[str, float] = {}
        self.requests = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _serve(self) -> None:
        async def hook(request: web.Request) -> web.Response:
            form = await request.post()
            self.requests += 1
            self.arrived.setdefault(str(form["MessageSid"]), time.time())
            return web.Response(text="ok")

        async def main() -> None:
            app = web.Application()
            app.router.add_post("/hook", hook)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port, backlog=1024).start()
            self._ready.set()
            await asyncio.Event().wait()

        self._loop = asyncio.new_event_loop()
        with contextlib.suppress(RuntimeError):
            self._loop.run_until_complete(main())


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


async def drain(store: Store, receiver: Receiver, committed: dict[str, float], timeout: float) -> float:
    """Seconds until every committed event arrived and the outbox is empty."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if len(receiver.arrived) >= len(committed) and await outbox_depth(store) == 0:
            break
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rate", type=float, default=500.0, help="events written per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1, help="flexchat serve --workers")
    args = parser.parse_args()
    receiver = Receiver()
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
                drained_in = await drain(store, receiver, committed, 120.0)
                return {
                    "committed": committed, "depths": depths, "written_in": written_in,
                    "drained_in": drained_in, "final_depth": await outbox_depth(store),
                }
            finally:
                await store.close()

        result = asyncio.run(run())
    committed = result["committed"]
    latencies = [(receiver.arrived[sid] - at) * 1000 for sid, at in committed.items() if sid in receiver.arrived]
    delivered = len(latencies)
    print(f"engine {args.engine}, {args.workers} worker(s), offered {args.rate:g} events/s for {args.seconds:g} s")
    print("| figure | value |")
    print("|---|---|")
    print(f"| events written (acknowledged) | {len(committed):,} in {result['written_in']:.1f} s "
          f"({len(committed) / result['written_in']:,.0f}/s) |")
    print(f"| events delivered | {delivered:,} ({receiver.requests - delivered} duplicate requests) |")
    print(f"| delivered rate | {delivered / (result['written_in'] + result['drained_in']):,.0f}/s |")
    if latencies:
        print(f"| latency commit -> receiver p50 / p99 / max | {statistics.median(latencies):,.0f} / "
              f"{percentile(latencies, 0.99):,.0f} / {max(latencies):,.0f} ms |")
    print(f"| outbox depth each second while writing | {', '.join(map(str, result['depths']))} |")
    print(f"| drained after the last write in | {result['drained_in']:.2f} s (depth now {result['final_depth']}) |")


if __name__ == "__main__":
    main()
