"""The database goes away under load and comes back: requests get Twilio-style 503s
within the configured deadline, the server stays up and heals by itself, and every
create it acknowledged is in the database.

The server reaches PostgreSQL through a relay the test breaks in three ways: refusing
and resetting connections (a database that is down or restarting), passing no bytes
(a network partition, where only a deadline ends the wait), and, with the relay intact,
``pg_terminate_backend`` on the server's connections again and again (an administrator
or a failover killing sessions mid-query).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import pytest
import requests

from flexchat.testing import ServerProcess, run_server

from .conftest import Api, add_account
from .load import Outcome, create_channel, lowered, run_threads, session, twilio_error_body
from .postgres import TcpProxy, fresh_database

DB_TIMEOUT = 1.0
# Scheduling noise on a busy two-core machine, on top of the deadline.
SLACK = 1.0
GAP = 2.0
THREADS = 4


async def _terminate_sessions(url: str, until: float) -> int:
    """Kill the server's sessions every 50 ms until ``until``; how many were killed."""
    conn = await asyncpg.connect(url)
    killed = 0
    try:
        while time.monotonic() < until:
            killed += await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = 'flexchat' AND datname = current_database()"
            )
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    return killed


def _break(kind: str, proxy: TcpProxy, url: str) -> None:
    """Take the database away for GAP seconds in the way ``kind`` names, then give it back."""
    if kind == "refused":
        proxy.cut()
        time.sleep(GAP)
        proxy.restore()
    elif kind == "partition":
        proxy.blackhole()
        time.sleep(GAP)
        proxy.restore()
    else:
        killed = asyncio.run(_terminate_sessions(url, time.monotonic() + GAP))
        assert killed > 0, "no server session was there to terminate"


@pytest.fixture
def proxied_server() -> Iterator[tuple[ServerProcess, TcpProxy, str]]:
    with fresh_database("postgresql") as url:
        proxy = TcpProxy.for_url(url)
        try:
            with run_server(proxy.url(url), extra_args=["--db-timeout", str(DB_TIMEOUT)]) as server:
                yield server, proxy, url
        finally:
            proxy.close()


def _load(
    server: ServerProcess, auth: tuple[str, str], flow: str, stop: threading.Event
) -> Callable[[int], list[Outcome]]:
    """Creates and list pages, alternately, until ``stop``; a connection error is status 0."""

    def work(thread: int) -> list[Outcome]:
        s = session(auth)
        outcomes = []
        n = 0
        while not stop.is_set():
            n += 1
            started = time.monotonic()
            try:
                if n % 2:
                    outcomes.append(create_channel(s, server.base_url, flow, f"load-{thread}-{n}"))
                else:
                    r = s.get(server.base_url + "/v1/Channels?PageSize=5", timeout=30)
                    seconds = time.monotonic() - started
                    outcomes.append(Outcome(started, seconds, r.status_code, r.json(), lowered(r.headers)))
            except requests.RequestException as error:
                outcomes.append(Outcome(started, time.monotonic() - started, 0, {"error": str(error)}, {}))
        return outcomes

    return work


@pytest.mark.parametrize("kind", ["refused", "partition", "terminated"])
def test_database_outage_gives_503_then_heals(kind: str, proxied_server: tuple[ServerProcess, TcpProxy, str]) -> None:
    server, proxy, url = proxied_server
    account = add_account(url)
    flow = Api(server.base_url, account.auth).create_flow()["sid"]
    stop = threading.Event()
    work = _load(server, account.auth, flow, stop)
    outcomes: list[Outcome] = []
    runner = threading.Thread(target=lambda: outcomes.extend(run_threads(THREADS, work)))
    runner.start()
    try:
        time.sleep(0.5)
        gap_started = time.monotonic()
        _break(kind, proxy, url)
        gap_ended = time.monotonic()
        time.sleep(1.5)
    finally:
        stop.set()
        runner.join()

    assert server.process is not None and server.process.poll() is None, "the server died"
    unexpected = [o.body for o in outcomes if o.status not in (200, 201, 503)]
    assert unexpected == []
    failures = [o for o in outcomes if o.status == 503]
    assert failures, "the outage was not noticed"
    for o in failures:
        assert twilio_error_body(o, 503, 20503), o.body
        assert o.headers.get("retry-after") == "1"
        # Bounded: nobody waits much past the deadline, however the database vanished.
        assert o.seconds < DB_TIMEOUT + SLACK, o.seconds
        assert gap_started - DB_TIMEOUT - SLACK < o.started < gap_ended + SLACK
    # Healed: once the database is back, everything succeeds again.
    healed = [o for o in outcomes if o.started > gap_ended + 0.5]
    assert healed and all(o.status in (200, 201) for o in healed)

    # Nothing acknowledged is lost: every 201 is in the database.
    acknowledged = {o.body["sid"] for o in outcomes if o.status == 201}
    stored = asyncio.run(_channel_sids(url, account.sid))
    assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged channels are missing"


async def _channel_sids(url: str, account_sid: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows: list[Any] = await conn.fetch("SELECT sid FROM channels WHERE account_sid = $1", account_sid)
    finally:
        await conn.close()
    return {row[0] for row in rows}
