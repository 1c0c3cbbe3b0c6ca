"""SQLite store: one file, WAL mode, durable commits, group commit on one writer thread.

Reads run directly on the event loop's thread through their own connection: an indexed
keyset query takes tens of microseconds, less than a hop to a thread pool would cost.
Writes go to a single writer thread that owns the write connection. While it commits
(an fsync with ``synchronous=FULL``) further writes queue up; the next transaction
takes all of them, each inside its own SAVEPOINT so one failing write does not undo the
others, and one fsync makes the whole batch durable. A request is answered only after
the COMMIT that holds its write returned, so every 2xx survives ``kill -9`` and power
loss. Several server processes on one file wait for each other's write lock
(``busy_timeout``) instead of failing.

``sqlite:///:memory:`` is a private throw-away database (``flexchat.testing``'s double):
one in-memory connection, deserialized from a template migrated once per process, and
writes run inline on the caller's thread, each in its own transaction. There is no
durability to share an fsync for, so the writer thread would only add two thread hops
to every write (measured: they were most of an in-process create, docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import queue
import secrets
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import orjson

from ..dates import now_iso
from ..domain.records import columns
from ..errors import ServiceUnavailable
from ..models import (
    Channel,
    Credential,
    FlexFlow,
    FlexFlowFields,
    updated_flex_flow,
)
from ..paging import Window
from ..seeding import seed_batches
from ..settings import Settings
from ..sids import mint_sid
from . import ProgressFn
from .channel_cache import ChannelCache, page_channels
from .migrations.sqlite import STEPS
from .queries.flex import LIST_CHANNEL_SEQS
from .sql import Script, md5_hex, page_statement, run_sync, seq_page

MAX_BATCH = 256
READER_CACHE_KIB = 512
# The record's fields in order, as the PostgreSQL store reads them.
CHANNEL_COLUMNS = columns(Channel)
FLOW_COLUMNS = (
    "sid, account_sid, friendly_name, chat_service_sid, channel_type, contact_identity, enabled,"
    " integration_type, integration, long_lived, janitor_enabled, date_created, date_updated, seq"
)

T = TypeVar("T")
WriteFn = Callable[..., Any]
# Rows and row numbers as one JSON text each: see SqliteStore.list_channels.
_CHANNEL_RANGE = (
    f"SELECT json_group_array(json_array({CHANNEL_COLUMNS})) FROM channels"
    " WHERE account_sid = ? AND seq BETWEEN ? AND ?"
)

def database_path(url: str) -> str:
    """The file behind ``sqlite:///relative``, ``sqlite:////absolute`` or ``sqlite:///:memory:``."""
    # sqlite:///rel.db -> "/rel.db" -> "rel.db"; sqlite:////abs.db -> "//abs.db" -> "/abs.db"
    path = url.removeprefix("sqlite:").removeprefix("//").removeprefix("/")
    if path in ("", ":memory:"):
        return ""
    return path


def _flow(row: Sequence[Any]) -> FlexFlow:
    return FlexFlow(
        row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7],
        orjson.loads(row[8]), bool(row[9]), bool(row[10]), row[11], row[12], row[13],
    )


_TEMPLATE: dict[int, bytes] = {}
_TEMPLATE_LOCK = threading.Lock()


def _fresh_memory_database(connect: Callable[[str], sqlite3.Connection]) -> sqlite3.Connection:
    """A new private in-memory database, already migrated: the image of a template
    migrated once per process (deserializing it costs tens of microseconds, migrating
    tens of milliseconds). Each copy gets its own paging secret when opened (see
    ``SqliteStore._migrate``)."""
    with _TEMPLATE_LOCK:
        image = _TEMPLATE.get(len(STEPS))
        if image is None:
            template = sqlite3.connect(":memory:", isolation_level=None)
            try:
                SqliteStore._migrate(template, with_secret=False)
                image = template.serialize()
            finally:
                template.close()
            _TEMPLATE[len(STEPS)] = image
    conn = connect(":memory:")
    conn.deserialize(image)
    return conn


def _is_locked(error: sqlite3.OperationalError) -> bool:
    return "locked" in str(error) or "busy" in str(error)


class _Job:
    __slots__ = ("args", "fn", "future")

    def __init__(self, fn: WriteFn, args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()


Jobs = Sequence[tuple[WriteFn, tuple[Any, ...]]]


def _run_transaction(conn: sqlite3.Connection, jobs: Jobs) -> list[tuple[bool, Any]]:
    """Run write jobs in one transaction, each in its own SAVEPOINT so one failing write
    does not undo the others: each job's (ok, result or error). The whole batch raises
    :class:`ServiceUnavailable` when the transaction cannot start or commit. A single job
    needs no savepoint: its failure rolls the transaction back."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as error:
        raise ServiceUnavailable(f"Service unavailable: database is busy ({error})") from None
    outcomes: list[tuple[bool, Any]] = []
    if len(jobs) == 1:
        fn, args = jobs[0]
        try:
            outcomes.append((True, fn(conn, *args)))
        except BaseException as error:
            conn.execute("ROLLBACK")
            return [(False, error)]
    else:
        for fn, args in jobs:
            conn.execute("SAVEPOINT job")
            try:
                result = fn(conn, *args)
            except BaseException as error:
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                outcomes.append((False, error))
            else:
                conn.execute("RELEASE job")
                outcomes.append((True, result))
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise ServiceUnavailable(f"Service unavailable: commit failed ({error})") from None
    return outcomes


class _Writer(threading.Thread):
    """Owns the write connection; runs queued writes in batches, one COMMIT per batch."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(name="flexchat-sqlite-writer", daemon=True)
        self.conn = conn
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()

    def run(self) -> None:
        stopping = False
        while not stopping:
            job = self.jobs.get()
            if job is None:
                break
            batch = [job]
            while len(batch) < MAX_BATCH:
                try:
                    more = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._run_batch(batch)
        self.conn.close()

    def _run_batch(self, batch: list[_Job]) -> None:
        # A write whose caller was cancelled before it ran (a client gone, a shutdown) is
        # skipped; the others can no longer be cancelled, so setting their result cannot
        # fail and take this thread down with it.
        batch = [job for job in batch if job.future.set_running_or_notify_cancel()]
        if not batch:
            return
        try:
            outcomes = _run_transaction(self.conn, [(job.fn, job.args) for job in batch])
        except ServiceUnavailable as error:
            for job in batch:
                job.future.set_exception(ServiceUnavailable(error.message))
            return
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)

    def submit(self, fn: WriteFn, args: tuple[Any, ...]) -> concurrent.futures.Future[Any]:
        job = _Job(fn, args)
        self.jobs.put(job)
        return job.future


class SqliteStore:
    """The embedded default store (see module docstring)."""

    # Reads run on whichever loop calls; writes are inline or come back from the writer
    # thread through the calling loop.
    loop_bound = False

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.timeout = settings.db_timeout
        self.paging_secret = b""
        self._path = database_path(url)
        # A throw-away database (``:memory:``): in memory, built from a migrated template,
        # written inline (see module docstring).
        self._temporary = not self._path
        self._reader: sqlite3.Connection | None = None
        self._writer: _Writer | None = None
        # The in-memory database's one connection, which reads and writes (temporary only).
        self._inline: sqlite3.Connection | None = None
        self._channel_cache = ChannelCache()
        self.outbox_listeners: list[Callable[[], None]] = []

    # -- life cycle ------------------------------------------------------------------

    def _connect(self, path: str | None = None) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path if path is None else path, isolation_level=None, check_same_thread=False,
            timeout=self.timeout,
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        # A throw-away database need not survive a crash: no fsync (test doubles).
        conn.execute(f"PRAGMA synchronous = {'OFF' if self._temporary else 'FULL'}")
        conn.execute("PRAGMA foreign_keys = ON")
        # The lookups shared with PostgreSQL match long keys by their md5 (store/sql.py).
        conn.create_function("md5", 1, md5_hex, deterministic=True)
        return conn

    async def open(self) -> None:
        """Create the file if needed, switch to WAL, migrate, start the writer."""
        if self._temporary:
            conn = _fresh_memory_database(self._connect)
            self.paging_secret = self._migrate(conn)
            self._inline = self._reader = conn
            return
        directory = os.path.dirname(os.path.abspath(self._path))
        os.makedirs(directory, exist_ok=True)
        conn = self._connect()
        conn.execute("PRAGMA journal_mode = WAL")
        self.paging_secret = self._migrate(conn)
        self._writer = _Writer(conn)
        self._writer.start()
        self._reader = self._connect()
        self._reader.execute("PRAGMA query_only = ON")
        # The hot reads need the index's upper pages, not 2 MB (the default): a random
        # fetch over 1,000,000 channels costs the same with 0.5 MB (docs/benchmarks.md),
        # and the server's memory stays flat from an empty database to a full one.
        self._reader.execute(f"PRAGMA cache_size = -{READER_CACHE_KIB}")

    @staticmethod
    def _migrate(conn: sqlite3.Connection, with_secret: bool = True) -> bytes:
        # BEGIN IMMEDIATE takes the write lock first, so processes starting together
        # apply the steps one at a time and never see a half-built schema.
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(STEPS):
                raise RuntimeError(
                    f"database schema version {version} is newer than this flexchat ({len(STEPS)})"
                )
            for number, step in enumerate(STEPS[version:], start=version + 1):
                for statement in step.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
            if not with_secret:
                conn.execute("COMMIT")
                return b""
            conn.execute(
                "INSERT INTO server_settings (name, value) VALUES ('paging_secret', ?) ON CONFLICT DO NOTHING",
                (secrets.token_bytes(32),),
            )
            secret = conn.execute("SELECT value FROM server_settings WHERE name = 'paging_secret'").fetchone()[0]
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return bytes(secret)

    async def close(self) -> None:
        """Stop the writer after it finished the queued writes; close connections."""
        if self._inline is not None:
            self._inline.close()  # an in-memory database is gone with its connection
            self._inline = self._reader = None
            return
        if self._writer is not None:
            self._writer.jobs.put(None)
            await asyncio.to_thread(self._writer.join)
            self._writer = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # -- plumbing --------------------------------------------------------------------

    async def _write(self, fn: WriteFn, *args: Any) -> Any:
        if self._inline is not None:
            # A throw-away database: its own transaction, here and now, never suspending.
            ((ok, value),) = _run_transaction(self._inline, ((fn, args),))
            if not ok:
                raise value
            return value
        assert self._writer is not None, "store is not open"
        return await asyncio.wrap_future(self._writer.submit(fn, args))

    def _read(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        assert self._reader is not None, "store is not open"
        try:
            return self._reader.execute(sql, args).fetchall()
        except sqlite3.OperationalError as error:
            if _is_locked(error):
                raise ServiceUnavailable(f"Service unavailable: database is busy ({error})") from None
            raise

    async def write(self, script: Script[T], *, background: bool = False) -> T:
        """Run a transaction script on the writer thread, in the next group commit (inline
        on a throw-away database; one queue for all: ``background`` changes nothing here)."""
        result, notified = await self._write(run_sync, script, sqlite3.IntegrityError)
        if notified:
            for listener in self.outbox_listeners:
                listener()
        return result  # type: ignore[no-any-return]

    async def read(self, script: Script[T], *, background: bool = False) -> T:
        """Run a read-only script on the reader connection, on the event loop."""
        assert self._reader is not None, "store is not open"
        try:
            return run_sync(self._reader, script, sqlite3.IntegrityError)[0]
        except sqlite3.OperationalError as error:
            if _is_locked(error):
                raise ServiceUnavailable(f"Service unavailable: database is busy ({error})") from None
            raise

    # -- accounts --------------------------------------------------------------------

    async def find_credential(self, sid: str) -> Credential | None:
        if sid.startswith("SK"):
            rows = self._read("SELECT account_sid, secret_hash FROM api_keys WHERE sid = ?", (sid,))
        else:
            rows = self._read("SELECT sid, auth_token_hash FROM accounts WHERE sid = ?", (sid,))
        return Credential(rows[0][0], rows[0][1]) if rows else None

    async def create_account(self, friendly_name: str | None, token_hash: str, auth_token: str | None = None) -> str:
        sid = mint_sid("AC")
        await self.ensure_account(sid, token_hash, friendly_name, auth_token)
        return sid

    async def ensure_account(
        self, sid: str, token_hash: str, friendly_name: str | None, auth_token: str | None = None
    ) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO accounts (sid, friendly_name, auth_token_hash, date_created, auth_token)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (sid) DO UPDATE"
                " SET auth_token_hash = excluded.auth_token_hash, auth_token = excluded.auth_token",
                (sid, friendly_name, token_hash, now_iso(), auth_token),
            )

        await self._write(write)

    async def count_accounts(self) -> int:
        return int(self._read("SELECT count(*) FROM accounts", ())[0][0])

    # -- Flex Flows ------------------------------------------------------------------

    async def create_flex_flow(self, flow: FlexFlow) -> FlexFlow:
        def write(conn: sqlite3.Connection) -> FlexFlow:
            (seq,) = conn.execute(
                "INSERT INTO flex_flows (sid, account_sid, friendly_name, chat_service_sid, channel_type,"
                " contact_identity, enabled, integration_type, integration, long_lived, janitor_enabled,"
                " date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                (
                    flow.sid, flow.account_sid, flow.friendly_name, flow.chat_service_sid,
                    flow.channel_type, flow.contact_identity, flow.enabled, flow.integration_type,
                    orjson.dumps(flow.integration).decode(), flow.long_lived, flow.janitor_enabled,
                    flow.date_created, flow.date_updated,
                ),
            ).fetchone()
            return replace(flow, seq=seq)

        result: FlexFlow = await self._write(write)
        return result

    async def fetch_flex_flow(self, account_sid: str, sid: str) -> FlexFlow | None:
        rows = self._read(
            f"SELECT {FLOW_COLUMNS} FROM flex_flows WHERE sid = ? AND account_sid = ?", (sid, account_sid)
        )
        return _flow(rows[0]) if rows else None

    async def update_flex_flow(self, account_sid: str, sid: str, fields: FlexFlowFields) -> FlexFlow | None:
        def write(conn: sqlite3.Connection) -> FlexFlow | None:
            row = conn.execute(
                f"SELECT {FLOW_COLUMNS} FROM flex_flows WHERE sid = ? AND account_sid = ?", (sid, account_sid)
            ).fetchone()
            if row is None:
                return None
            flow = updated_flex_flow(_flow(row), fields)
            conn.execute(
                "UPDATE flex_flows SET friendly_name = ?, chat_service_sid = ?, channel_type = ?,"
                " contact_identity = ?, enabled = ?, integration_type = ?, integration = ?, long_lived = ?,"
                " janitor_enabled = ?, date_updated = ? WHERE seq = ?",
                (
                    flow.friendly_name, flow.chat_service_sid, flow.channel_type, flow.contact_identity,
                    flow.enabled, flow.integration_type, orjson.dumps(flow.integration).decode(),
                    flow.long_lived, flow.janitor_enabled, flow.date_updated, flow.seq,
                ),
            )
            return flow

        result: FlexFlow | None = await self._write(write)
        return result

    async def delete_flex_flow(self, account_sid: str, sid: str) -> bool:
        return await self._delete("flex_flows", account_sid, sid)

    async def _delete(self, table: str, account_sid: str, sid: str) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(f"DELETE FROM {table} WHERE sid = ? AND account_sid = ?", (sid, account_sid))
            return cursor.rowcount > 0

        result: bool = await self._write(write)
        return result

    async def list_flex_flows(
        self, account_sid: str, friendly_name: str | None, window: Window
    ) -> tuple[Sequence[FlexFlow], bool]:
        where, args = "account_sid = ?", [account_sid]
        if friendly_name is not None:
            where += " AND friendly_name = ?"
            args.append(friendly_name)
        rows, more = self._page(FLOW_COLUMNS, "flex_flows", where, args, window)
        return [_flow(row) for row in rows], more

    def _page(
        self, columns: str, table: str, where: str, args: list[Any], window: Window
    ) -> tuple[list[Any], bool]:
        direction = "<" if window.backward else ">"
        order = "DESC" if window.backward else "ASC"
        sql = f"SELECT {columns} FROM {table} WHERE {where} AND seq {direction} ? ORDER BY seq {order} LIMIT ?"
        return window.cut(self._read(sql, (*args, window.bound, window.limit + 1)))

    # -- channels --------------------------------------------------------------------

    async def fetch_channel(self, account_sid: str, sid: str) -> Channel | None:
        rows = self._read(
            f"SELECT {CHANNEL_COLUMNS} FROM channels WHERE sid = ? AND account_sid = ?", (sid, account_sid)
        )
        return Channel(*rows[0]) if rows else None

    async def list_channels(self, account_sid: str, window: Window) -> tuple[Sequence[Channel], bool]:
        """One page: the index says which channels are on it, the channel cache has most
        of them (see store/channel_cache.py), the table the rest."""
        # The row numbers come as one JSON array rather than a row each: half the cost,
        # as the sqlite3 module's per-row and per-column overhead is most of a short read.
        statement, bound = page_statement(LIST_CHANNEL_SEQS, window)
        (changes, found), = self._read(statement.sqlite, (account_sid, bound, window.limit + 1))
        seqs, more = seq_page(LIST_CHANNEL_SEQS, statement, found, window)
        held, missing = self._channel_cache.lookup(changes, seqs)
        fetched = None
        if missing:
            # One statement for any page: the channels of the account between the first
            # and the last missing row are exactly the missing ones and maybe some cached.
            (found,) = self._read(_CHANNEL_RANGE, (account_sid, missing[0], missing[-1]))[0]
            fetched = self._channel_cache.add(changes, orjson.loads(found))
        return page_channels(seqs, held, fetched), more

    # -- bulk ------------------------------------------------------------------------

    async def seed(self, account_sid: str, flows: int, channels: int, progress: ProgressFn | None = None) -> None:
        for batch in seed_batches(account_sid, flows, channels):
            statement = (
                f"INSERT INTO {batch.table} ({', '.join(batch.columns)})"
                f" VALUES ({', '.join('?' * len(batch.columns))})"
            )
            await self._write(_executemany, statement, batch.rows)
            if progress is not None:
                progress(batch.done, batch.total)

    # -- operations and faults (issue 10) --------------------------------------------

    async def schema_version(self) -> tuple[int, int]:
        return int(self._read("PRAGMA user_version", ())[0][0]), len(STEPS)

    def pool_figures(self) -> Mapping[str, float]:
        # No pool: one reader on the loop, one writer thread; its queue is the backlog.
        if self._inline is not None:
            return {"write_queue": 0.0}  # written inline: never a backlog
        return {"write_queue": float(self._writer.jobs.qsize())} if self._writer is not None else {}


def _executemany(conn: sqlite3.Connection, statement: str, rows: list[tuple[Any, ...]]) -> None:
    conn.executemany(statement, rows)
