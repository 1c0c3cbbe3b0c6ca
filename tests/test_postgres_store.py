"""PostgreSQL store behaviour the HTTP suite cannot provoke on its own: races decided by
constraints between separate pools, waits that must end at the deadline, and a
database that is not there at start."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import pytest

from flexchat.domain import flex
from flexchat.errors import ChatUniqueNameTaken, ServiceUnavailable
from flexchat.models import ChannelCreate, FlexFlowFields, new_flex_flow
from flexchat.settings import Settings
from flexchat.sids import mint_sid
from flexchat.store.postgres import CHANNEL_COLUMNS, PostgresStore
from flexchat.testing import free_port

from .postgres import fresh_database


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with fresh_database("postgresql") as database_url:
        yield database_url


def with_stores(url: str, count: int, test: Callable[..., Awaitable[None]], **settings: Any) -> None:
    """Run ``test(*stores)`` with ``count`` stores open on ``url``, each its own pool,
    like as many API processes."""

    async def run() -> None:
        stores = [PostgresStore(url, Settings(database_url=url, **settings)) for _ in range(count)]
        for store in stores:
            await store.open()
        try:
            await test(*stores)
        finally:
            for store in stores:
                await store.close()

    asyncio.run(run())


def new_flow(account_sid: str) -> Any:
    return new_flex_flow(
        account_sid,
        FlexFlowFields(
            friendly_name="Support", chat_service_sid=mint_sid("IS"), channel_type="web",
            integration={"flow_sid": mint_sid("FW")},
        ),
    )


def channel(flow_sid: str, identity: str, **fields: Any) -> ChannelCreate:
    return ChannelCreate(flow_sid, identity, f"User {identity}", f"Chat {identity}", **fields)


def test_racing_creates_for_one_chat_unique_name_get_one_channel_and_409s(url: str) -> None:
    account = mint_sid("AC")

    async def test(*stores: PostgresStore) -> None:
        flow = await stores[0].create_flex_flow(new_flow(account))
        attempts = [
            stores[n % len(stores)].write(
                flex.create_channel(account, channel(flow.sid, f"person-{n}", chat_unique_name="vip"))
            )
            for n in range(12)
        ]
        results = await asyncio.gather(*attempts, return_exceptions=True)
        created = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, ChatUniqueNameTaken)]
        assert len(created) == 1
        assert len(refused) == 11, [r for r in results if isinstance(r, BaseException)]
        assert refused[0].status == 409 and refused[0].code == 45208
        # The losers left nothing behind: no chat user for an Identity without a channel.
        conn = await asyncpg.connect(url)
        try:
            users = await conn.fetchval("SELECT count(*) FROM chat_users WHERE account_sid = $1", account)
        finally:
            await conn.close()
        assert users == 1

    with_stores(url, 3, test)


def test_waiting_for_a_locked_row_ends_at_the_deadline(url: str) -> None:
    account = mint_sid("AC")
    timeout = 0.5

    async def test(store: PostgresStore) -> None:
        flow = await store.create_flex_flow(new_flow(account))
        blocker = await asyncpg.connect(url)
        try:
            # Another session holds the flow's row lock and does not let go.
            transaction = blocker.transaction()
            await transaction.start()
            await blocker.execute("SELECT 1 FROM flex_flows WHERE sid = $1 FOR UPDATE", flow.sid)
            started = time.monotonic()
            with pytest.raises(ServiceUnavailable) as refused:
                await store.update_flex_flow(account, flow.sid, FlexFlowFields(friendly_name="x"))
            assert time.monotonic() - started < timeout + 0.5
            assert refused.value.status == 503 and refused.value.code == 20503
            await transaction.rollback()
        finally:
            await blocker.close()
        # Once the lock is gone, the same store serves again.
        updated = await store.update_flex_flow(account, flow.sid, FlexFlowFields(friendly_name="after"))
        assert updated is not None and updated.friendly_name == "after"

    with_stores(url, 1, test, db_timeout=timeout)


def test_waiting_for_a_pooled_connection_ends_at_the_deadline(url: str) -> None:
    account = mint_sid("AC")
    timeout = 0.5

    async def test(store: PostgresStore) -> None:
        flow = await store.create_flex_flow(new_flow(account))
        # Every connection of the pool is busy (here: the only one, held by the test).
        held = await store._pool.acquire()
        try:
            started = time.monotonic()
            with pytest.raises(ServiceUnavailable):
                await store.fetch_flex_flow(account, flow.sid)
            assert timeout <= time.monotonic() - started < timeout + 0.5
        finally:
            await store._pool.release(held)
        assert await store.fetch_flex_flow(account, flow.sid) == flow

    with_stores(url, 1, test, db_timeout=timeout, db_pool_size=1)


def _rows_removed_by_filter(plan: dict[str, Any]) -> int:
    return int(plan.get("Rows Removed by Filter", 0)) + sum(_rows_removed_by_filter(p) for p in plan.get("Plans", []))


def test_a_small_accounts_page_never_reads_a_big_accounts_rows(url: str) -> None:
    """asyncpg prepares every query; after five runs PostgreSQL may switch a prepared
    statement to one generic plan for every account. That plan must still read only the
    asked-for account's rows, however the accounts' sizes compare."""
    small, big = mint_sid("AC"), mint_sid("AC")

    async def test(store: PostgresStore) -> None:
        await store.seed(small, 1, 40)
        await store.seed(big, 1, 20_000)
        await store.seed(small, 1, 40)  # the small account's rows lie on both sides of the big one's
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("SET plan_cache_mode = force_generic_plan")
            # The list query exactly as the store sends it.
            await conn.execute(
                f"PREPARE page (text, bigint, bigint) AS SELECT {CHANNEL_COLUMNS} FROM channels"
                " WHERE account_sid = $1 AND seq > $2 ORDER BY seq LIMIT $3"
            )
            explained = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE page('{small}', 0, 51)")
        finally:
            await conn.close()
        plan = json.loads(explained)[0]["Plan"]
        assert plan["Actual Rows"] == 51
        assert _rows_removed_by_filter(plan) == 0, plan

    with_stores(url, 1, test)


def test_serve_without_a_database_exits_with_a_clear_message() -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "flexchat.cli", "serve", "--port", str(free_port()), "--db-timeout", "1",
         "--database", f"postgresql://flexchat:hunter2@127.0.0.1:{port}/flexchat"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    assert f"cannot open PostgreSQL at postgresql://flexchat:***@127.0.0.1:{port}/flexchat" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 30
