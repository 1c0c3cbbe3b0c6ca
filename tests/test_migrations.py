"""Schema migrations on both engines: processes starting together against an empty or
an old database apply each step once, the others wait, and a step that fails leaves
no trace (never half a schema)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import asyncpg
import pytest
import requests

from flexchat.settings import Settings
from flexchat.store import create_store, schema
from flexchat.store import postgres as postgres_store
from flexchat.store import sqlite as sqlite_store
from flexchat.store.migrations import postgres as postgres_steps
from flexchat.store.migrations import sqlite as sqlite_steps
from flexchat.store.sqlite import database_path
from flexchat.testing import ServerProcess, run_server

from .conftest import Api, add_account
from .load import on_server
from .postgres import fresh_database

# Step 1's tables (written by hand), then those rendered from store/schema.py.
RENDERED = schema.RENDERED_TABLES
TABLES = {"server_settings", "accounts", "api_keys", "flex_flows", "channels"} | {table.name for table in RENDERED}
# Step 10 replaced the outbox's claim index with a partial one.
RENDERED_INDEXES = ({index.name for table in RENDERED for index in table.indexes} | {
    f"{table.name}_by_account" for table in RENDERED if table.paged
} | {"outbox_pending"}) - {"outbox_due"}
# SQLite: the named indexes (its unique constraints' indexes are anonymous).
# PostgreSQL: every index, those behind primary keys and named unique constraints too.
INDEXES = {
    "sqlite": {
        "flex_flows_by_account", "flex_flows_by_name", "channels_by_account", "channels_open_identity",
        "channels_by_task",
    } | RENDERED_INDEXES,
    "postgresql": {
        "server_settings_pkey", "accounts_pkey", "schema_migrations_pkey",
        "flex_flows_by_account", "flex_flows_sid", "flex_flows_by_name",
        "channels_by_account", "channels_sid", "channels_open_identity", "channels_chat_unique_name",
        "channels_by_task",
    } | RENDERED_INDEXES,
}
STEP_COUNT = {"sqlite": len(sqlite_steps.STEPS), "postgresql": len(postgres_steps.STEPS)}
# A step a later release might add: a table, and a row that shows how often it ran.
EXTRA_STEP = "CREATE TABLE upgrade_marker (n integer); INSERT INTO upgrade_marker VALUES (1)"
# A step whose second statement fails after its first succeeded.
BROKEN_STEP = "CREATE TABLE half_done (n integer); SELECT * FROM no_such_table"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_database(engine: str, tmp_path: Path) -> Iterator[str]:
    with fresh_database(engine, tmp_path) as url:
        yield url


def schema(url: str) -> tuple[int, set[str], set[str], int]:
    """Schema version, tables, indexes, and how many paging secrets the database holds."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(database_path(url))
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            objects = conn.execute("SELECT type, name FROM sqlite_master").fetchall()
            secrets = conn.execute("SELECT count(*) FROM server_settings").fetchone()[0] if objects else 0
        finally:
            conn.close()
        tables = {name for kind, name in objects if kind == "table"} - {"sqlite_sequence"}
        indexes = {name for kind, name in objects if kind == "index" and not name.startswith("sqlite_")}
        return version, tables, indexes, secrets

    async def read() -> tuple[int, set[str], set[str], int]:
        conn = await asyncpg.connect(url)
        try:
            tables = {r[0] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
            indexes = {r[0] for r in await conn.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
            versions = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version") if tables else []
            secrets = await conn.fetchval("SELECT count(*) FROM server_settings") if "server_settings" in tables else 0
        finally:
            await conn.close()
        assert [r[0] for r in versions] == list(range(1, len(versions) + 1)), "a version was skipped or repeated"
        return len(versions), tables - {"schema_migrations"}, indexes, secrets

    return asyncio.run(read())


def open_stores(url: str, count: int) -> list[bytes]:
    """``count`` stores opened at once from as many threads (each its own loop, like a
    process would have); the paging secret each one loaded."""
    barrier = threading.Barrier(count)

    def open_one(_: int) -> bytes:
        async def run() -> bytes:
            store = create_store(Settings(database_url=url))
            barrier.wait()
            await store.open()
            try:
                return store.paging_secret
            finally:
                await store.close()

        return asyncio.run(run())

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(open_one, range(count)))


def add_step(monkeypatch: pytest.MonkeyPatch, engine: str, step: str) -> None:
    """Make this flexchat one release newer: its engine's steps end with ``step``."""
    module = sqlite_store if engine == "sqlite" else postgres_store
    monkeypatch.setattr(module, "STEPS", (*module.STEPS, step))


def marker_rows(url: str) -> int:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(database_path(url))
        try:
            return int(conn.execute("SELECT count(*) FROM upgrade_marker").fetchone()[0])
        finally:
            conn.close()

    async def read() -> int:
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM upgrade_marker"))
        finally:
            await conn.close()

    return asyncio.run(read())


def test_processes_starting_together_on_an_empty_database(engine: str, empty_database: str) -> None:
    count = 4
    with ExitStack() as stack, ThreadPoolExecutor(count) as pool:
        servers: list[ServerProcess] = list(
            pool.map(lambda _: stack.enter_context(run_server(empty_database)), range(count))
        )
        assert schema(empty_database) == (STEP_COUNT[engine], TABLES, INDEXES[engine], 1)

        # One paging secret for all: a token minted by one process works on every other.
        account = add_account(empty_database)
        api = Api(servers[0].base_url, account.auth)
        flow = api.create_flow()["sid"]
        for n in range(3):
            assert api.create_channel(flow, f"person-{n}").status_code == 201
        next_url = api.get("/v1/Channels?PageSize=1").json()["meta"]["next_page_url"]
        for other in servers[1:]:
            response = requests.get(on_server(next_url, other), auth=account.auth, timeout=30)
            assert response.status_code == 200, response.text
            assert len(response.json()["flex_chat_channels"]) == 1


def test_old_database_is_upgraded_once_by_stores_opening_together(
    engine: str, empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (secret,) = open_stores(empty_database, 1)
    assert schema(empty_database)[0] == STEP_COUNT[engine]

    add_step(monkeypatch, engine, EXTRA_STEP)
    secrets = open_stores(empty_database, 6)

    assert marker_rows(empty_database) == 1
    assert schema(empty_database) == (STEP_COUNT[engine] + 1, {*TABLES, "upgrade_marker"}, INDEXES[engine], 1)
    assert set(secrets) == {secret}, "the paging secret changed"


def test_a_failing_step_leaves_no_half_schema(
    engine: str, empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_stores(empty_database, 1)
    before = schema(empty_database)

    add_step(monkeypatch, engine, BROKEN_STEP)
    with pytest.raises((RuntimeError, sqlite3.OperationalError), match="no_such_table"):
        open_stores(empty_database, 1)

    assert schema(empty_database) == before  # no half_done table, same version


def test_a_newer_schema_is_refused(engine: str, empty_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    add_step(monkeypatch, engine, EXTRA_STEP)
    open_stores(empty_database, 1)
    monkeypatch.undo()

    with pytest.raises(RuntimeError, match="newer than this flexchat"):
        open_stores(empty_database, 1)


def test_postgresql_migration_waits_for_the_lock() -> None:
    """A process that starts while another holds the migration lock touches nothing
    until the lock is free, then finds the schema complete."""

    async def run(url: str) -> None:
        holder = await asyncpg.connect(url)
        try:
            await holder.execute("SELECT pg_advisory_lock($1)", postgres_store.MIGRATION_LOCK)
            store = create_store(Settings(database_url=url))
            opening = asyncio.create_task(store.open())
            await asyncio.sleep(0.5)
            assert not opening.done()
            # The lock comes first in the migration's transaction: not even schema_migrations yet.
            assert await holder.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'") == []
            await holder.execute("SELECT pg_advisory_unlock($1)", postgres_store.MIGRATION_LOCK)
            await asyncio.wait_for(opening, 10)
            await store.close()
        finally:
            await holder.close()

    with fresh_database("postgresql") as url:
        asyncio.run(run(url))
        assert schema(url) == (STEP_COUNT["postgresql"], TABLES, INDEXES["postgresql"], 1)
