"""PostgreSQL store: an asyncpg pool, one bounded call per operation, races settled by
constraints.

Every operation borrows a pooled connection for as long as it runs, under one deadline
of ``settings.db_timeout`` that covers waiting for a free connection, connecting and
the queries. Past the deadline, or when the database cannot be reached or drops the
connection, the request gets :class:`ServiceUnavailable` (503/20503) and the connection
is thrown away; the pool connects afresh on the next request, so the server heals by
itself once the database is back. A request is answered only after its COMMIT
returned, so every 2xx is as durable as the database's ``synchronous_commit`` makes it.

Concurrency is left to the database: unique indexes with ``ON CONFLICT`` make racing
channel creates for one Identity agree on one chat user and one channel, from any number
of processes. Reads are single statements (one round trip each, prepared once per
connection by asyncpg's statement cache).

The schema is migrated inside one transaction that holds a transaction-level advisory
lock, so processes starting together against an empty or old database apply the
pending steps once, the others wait, and nobody sees half a schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]
import orjson

from ..dates import now_iso
from ..domain.records import columns
from ..errors import ServiceUnavailable, TwilioError
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
from .migrations.postgres import STEPS
from .queries.flex import LIST_CHANNEL_SEQS
from .sql import Script, page_statement, run_async, seq_page

log = logging.getLogger("flexchat.store")

T = TypeVar("T")
Work = Callable[[Any], Awaitable[T]]

# The records' fields in order, so a row goes straight into Channel(*row) / _flow(row).
CHANNEL_COLUMNS = columns(Channel)
# The rows of a list page the channel cache lacks (see list_channels).
_CHANNEL_RANGE = f"SELECT {CHANNEL_COLUMNS} FROM channels WHERE account_sid = $1 AND seq BETWEEN $2 AND $3"
FLOW_COLUMNS = columns(FlexFlow)
# A create's first read, one round trip: the flow, and the Identity's channel on it if any.
FLOW_AND_CHANNEL = (
    "SELECT f.chat_service_sid, f.enabled, f.integration_type, "
    + columns(Channel, "c")
    + " FROM flex_flows f LEFT JOIN channels c ON c.account_sid = f.account_sid AND c.flex_flow_sid = f.sid"
    " AND md5(c.identity) = md5($3) AND c.identity = $3"
    " WHERE f.sid = $1 AND f.account_sid = $2"
)
# Any constant works as long as every flexchat process uses the same one: it names the
# lock that serialises migrations across processes (advisory locks are per database).
MIGRATION_LOCK = 0x666C6578636861  # "flexcha"
APPLICATION_NAME = "flexchat"
# Seeding and migrating may legitimately take longer than a request's deadline.
BULK_TIMEOUT = 600.0
# How often one process logs that the database is unavailable, at most.
LOG_INTERVAL = 5.0

# Errors that mean "the database cannot serve this now", not "this request is wrong".
# Class 08 (connection), 57 (operator intervention: shutdown, restart, cancel), 53
# (insufficient resources, e.g. too many connections) and 25006 (a read-only standby
# during failover) all pass once the database is back. Class 40 (deadlock,
# serialisation failure) rolled the whole transaction back, so retrying is safe; with
# READ COMMITTED and one lock order (chat user, then channel) it is not expected.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    asyncpg.exceptions.TransactionRollbackError,
)
# Anything the driver or the server may raise.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (*UNAVAILABLE, asyncpg.PostgresError, asyncpg.InterfaceError)


def asyncpg_dsn(url: str) -> str:
    """The URL as asyncpg takes it: SQLAlchemy's ``postgresql+asyncpg:`` scheme spelled plainly."""
    return "postgresql:" + url.split(":", 1)[1] if url.startswith("postgresql+asyncpg:") else url


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


async def _keep_session(conn: Any) -> None:
    """Pool reset that costs no round trip: the store never changes session state
    (no SET, LISTEN, cursors or session locks), and an open transaction is already
    rolled back by asyncpg before this runs."""


def _unstorable(value: str) -> bool:
    """Whether ``value`` holds NUL, which PostgreSQL text cannot. Every write refuses it
    (params.text), so no stored value has one: a lookup by such a value finds nothing,
    as on SQLite, instead of failing in the driver."""
    return "\x00" in value


def _lost(conn: Any) -> bool:
    """Whether a borrowed connection died under us. The pool detaches a connection that
    closes while borrowed (its proxy then refuses every call), so detached means lost."""
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:
        return True


def _flow(row: Sequence[Any]) -> FlexFlow:
    return FlexFlow(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
        orjson.loads(row[8]), row[9], row[10], row[11], row[12], row[13],
    )


async def migrate(conn: Any, steps: Sequence[str]) -> bytes:
    """Apply the pending ``steps`` in one transaction; return the paging secret.

    The advisory lock is taken first, inside the transaction, so a process that starts
    while another migrates waits for its COMMIT and then finds nothing left to do.
    READ COMMITTED (named explicitly, whatever the server default) gives each statement
    after the lock a fresh snapshot that sees what the other process committed.
    """
    async with conn.transaction(isolation="read_committed"):
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        version = int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))
        if version > len(steps):
            raise RuntimeError(f"database schema version {version} is newer than this flexchat ({len(steps)})")
        for number, step in enumerate(steps[version:], start=version + 1):
            # No arguments: asyncpg sends the step as a simple query, several statements at once.
            await conn.execute(step)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", number)
        await conn.execute(
            "INSERT INTO server_settings (name, value) VALUES ('paging_secret', $1) ON CONFLICT DO NOTHING",
            secrets.token_bytes(32),
        )
        secret = await conn.fetchval("SELECT value FROM server_settings WHERE name = 'paging_secret'")
    return bytes(secret)


# Connections for webhook delivery's claims and settlements, beside the requests' pool.
# Their commits do not wait for the WAL to reach the disk (``synchronous_commit = off``
# for the session): a claim or settlement lost in a database crash means the event is
# sent again, as when a lease runs out, which at-least-once delivery allows, and the
# flush is most of such a small transaction's time. Set per connection rather than per
# transaction, it costs no statement. Only delivery writes through this pool.
BACKGROUND_POOL_SIZE = 2


class PostgresStore:
    """The store for several API processes on one PostgreSQL database (see module docstring)."""

    loop_bound = True  # asyncpg's pool and connections belong to the loop that opened them

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.timeout = settings.db_timeout
        self.pool_size = settings.db_pool_size
        self.paging_secret = b""
        self._dsn = asyncpg_dsn(url)
        self._pool: Any = None
        self._channel_cache = ChannelCache()
        # Webhook delivery's claims and settlements: with every request connection busy,
        # they queued behind requests, and under a sustained load the outbox grew.
        self._background_pool: Any = None
        self._last_logged = 0.0
        self._unlogged = 0
        self.outbox_listeners: list[Callable[[], None]] = []

    # -- life cycle ------------------------------------------------------------------

    async def _connect(self) -> Any:
        """A connection outside the pool, for work without the request deadline."""
        return await asyncpg.connect(
            self._dsn, timeout=self.timeout, command_timeout=BULK_TIMEOUT,
            server_settings={"application_name": APPLICATION_NAME},
        )

    async def open(self) -> None:
        """Migrate, load the paging secret and create the pool (it connects on demand).

        Unlike a request, a failure here is final (RuntimeError with the reason): a
        server that cannot reach its database at start is misconfigured more often
        than unlucky, and the operator should hear about it at once.
        """
        # The deadline is enforced on the client; the timeouts make the server give up
        # too, on a statement or on a transaction whose client vanished holding locks.
        # Generic plans: asyncpg prepares every statement, and under "auto" PostgreSQL
        # kept re-planning the list query on each run (custom plans look cheaper),
        # about twice the database time per page. Every query here is a lookup by a key
        # that begins with account_sid, so the generic plan is the right one for every
        # account (test_a_small_accounts_page_never_reads_a_big_accounts_rows).
        limit_ms = str(int(self.timeout * 1000))
        try:
            conn = await self._connect()
            try:
                self.paging_secret = await migrate(conn, STEPS)
            finally:
                await conn.close()
            pools = []
            for size, relaxed in ((self.pool_size, {}), (BACKGROUND_POOL_SIZE, {"synchronous_commit": "off"})):
                pools.append(await asyncpg.create_pool(
                    self._dsn,
                    min_size=0,
                    max_size=size,
                    timeout=self.timeout,
                    reset=_keep_session,
                    server_settings={
                        "application_name": APPLICATION_NAME,
                        "statement_timeout": limit_ms,
                        "idle_in_transaction_session_timeout": limit_ms,
                        "plan_cache_mode": "force_generic_plan",
                        **relaxed,
                    },
                ))
            self._pool, self._background_pool = pools
        except DATABASE_ERRORS as error:
            raise RuntimeError(
                f"cannot open PostgreSQL at {redacted(self.url)}: {error.__class__.__name__}: {error}"
            ) from error

    async def close(self) -> None:
        """Close the pools, waiting at most the deadline for borrowed connections."""
        pools = [self._pool, self._background_pool]
        self._pool = self._background_pool = None
        for pool in pools:
            if pool is None:
                continue
            try:
                await asyncio.wait_for(pool.close(), self.timeout)
            except UNAVAILABLE:
                pool.terminate()

    # -- plumbing --------------------------------------------------------------------

    async def _run(self, work: Work[T], *, transaction: bool = False, background: bool = False) -> T:
        """``work(conn)`` on a pooled connection (of the background pool if asked), in one
        transaction if asked, bounded by the deadline.

        Only a clean finish, or a domain error (its transaction rolled back within the
        deadline), returns the connection to the pool. Anything else terminates it:
        its state is unknown (a query cut off by the deadline may still run), and
        PostgreSQL discards the open transaction of a closed connection, where a
        ROLLBACK sent over a dead link would hang past the deadline. Database
        unavailability of any kind becomes ServiceUnavailable.
        """
        pool = self._background_pool if background else self._pool
        if pool is None:
            raise ServiceUnavailable("Service unavailable: the store is not open")
        conn = None
        reusable = False
        try:
            async with asyncio.timeout(self.timeout):
                conn = await pool.acquire()
                if transaction:
                    # Named, whatever the server's default: create_channel relies on
                    # each statement seeing what others committed before it began.
                    await conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                try:
                    result = await work(conn)
                except TwilioError:
                    if transaction:
                        await conn.execute("ROLLBACK")
                    reusable = True
                    raise
                if transaction:
                    await conn.execute("COMMIT")
                reusable = True
                return result
        except UNAVAILABLE as error:
            raise self._unavailable(error) from None
        except (asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError) as error:
            # InternalClientError: the server's goodbye (e.g. pg_terminate_backend)
            # arrived on an idle connection and left its protocol unusable.
            if conn is not None and (_lost(conn) or isinstance(error, asyncpg.exceptions.InternalClientError)):
                raise self._unavailable(error) from None
            raise
        finally:
            if conn is not None:
                if not reusable and not _lost(conn):
                    conn.terminate()
                await self._release(pool, conn)

    async def _release(self, pool: Any, conn: Any) -> None:
        # A failed release has terminated the connection already; the answer stands.
        with contextlib.suppress(*DATABASE_ERRORS):
            await pool.release(conn, timeout=self.timeout)

    def _unavailable(self, error: BaseException) -> ServiceUnavailable:
        # During an outage every request fails the same way: one log line per interval.
        now = time.monotonic()
        self._unlogged += 1
        if now - self._last_logged >= LOG_INTERVAL:
            log.warning(
                "database unavailable (%d failed requests): %s: %s",
                self._unlogged, error.__class__.__name__, str(error) or f"no answer within {self.timeout:g}s",
            )
            self._last_logged, self._unlogged = now, 0
        return ServiceUnavailable()

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        return await self._run(lambda conn: cast(Awaitable[list[Any]], conn.fetch(sql, *args)))

    async def _fetchrow(self, sql: str, *args: Any) -> Any:
        return await self._run(lambda conn: cast(Awaitable[Any], conn.fetchrow(sql, *args)))

    async def _execute(self, sql: str, *args: Any) -> str:
        return await self._run(lambda conn: cast(Awaitable[str], conn.execute(sql, *args)))

    async def write(self, script: Script[T], *, background: bool = False) -> T:
        """Run a transaction script in one READ COMMITTED transaction."""
        result, notified = await self._run(
            lambda conn: run_async(conn, script, asyncpg.UniqueViolationError), transaction=True, background=background
        )
        if notified:
            for listener in self.outbox_listeners:
                listener()
        return result

    async def read(self, script: Script[T], *, background: bool = False) -> T:
        """Run a read-only script, each statement in its own snapshot."""
        result, _ = await self._run(
            lambda conn: run_async(conn, script, asyncpg.UniqueViolationError), background=background
        )
        return result

    # -- accounts --------------------------------------------------------------------

    async def find_credential(self, sid: str) -> Credential | None:
        if _unstorable(sid):  # a Basic-auth user name, straight from the client
            return None
        if sid.startswith("SK"):
            row = await self._fetchrow("SELECT account_sid, secret_hash FROM api_keys WHERE sid = $1", sid)
        else:
            row = await self._fetchrow("SELECT sid, auth_token_hash FROM accounts WHERE sid = $1", sid)
        return Credential(row[0], row[1]) if row is not None else None

    async def create_account(self, friendly_name: str | None, token_hash: str, auth_token: str | None = None) -> str:
        sid = mint_sid("AC")
        await self.ensure_account(sid, token_hash, friendly_name, auth_token)
        return sid

    async def ensure_account(
        self, sid: str, token_hash: str, friendly_name: str | None, auth_token: str | None = None
    ) -> None:
        await self._execute(
            "INSERT INTO accounts (sid, friendly_name, auth_token_hash, date_created, auth_token)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sid) DO UPDATE"
            " SET auth_token_hash = excluded.auth_token_hash, auth_token = excluded.auth_token",
            sid, friendly_name, token_hash, now_iso(), auth_token,
        )

    async def count_accounts(self) -> int:
        row = await self._fetchrow("SELECT count(*) FROM accounts")
        return int(row[0])

    # -- Flex Flows ------------------------------------------------------------------

    async def create_flex_flow(self, flow: FlexFlow) -> FlexFlow:
        row = await self._fetchrow(
            "INSERT INTO flex_flows (sid, account_sid, friendly_name, chat_service_sid, channel_type,"
            " contact_identity, enabled, integration_type, integration, long_lived, janitor_enabled,"
            " date_created, date_updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            " RETURNING seq",
            flow.sid, flow.account_sid, flow.friendly_name, flow.chat_service_sid,
            flow.channel_type, flow.contact_identity, flow.enabled, flow.integration_type,
            orjson.dumps(flow.integration).decode(), flow.long_lived, flow.janitor_enabled,
            flow.date_created, flow.date_updated,
        )
        return replace(flow, seq=row[0])

    async def fetch_flex_flow(self, account_sid: str, sid: str) -> FlexFlow | None:
        row = await self._fetchrow(
            f"SELECT {FLOW_COLUMNS} FROM flex_flows WHERE sid = $1 AND account_sid = $2", sid, account_sid
        )
        return _flow(row) if row is not None else None

    async def update_flex_flow(self, account_sid: str, sid: str, fields: FlexFlowFields) -> FlexFlow | None:
        async def work(conn: Any) -> FlexFlow | None:
            # FOR UPDATE: two updates of one flow merge their Integration.* one after
            # the other instead of the later one overwriting the earlier's merge.
            row = await conn.fetchrow(
                f"SELECT {FLOW_COLUMNS} FROM flex_flows WHERE sid = $1 AND account_sid = $2 FOR UPDATE",
                sid, account_sid,
            )
            if row is None:
                return None
            flow = updated_flex_flow(_flow(row), fields)
            await conn.execute(
                "UPDATE flex_flows SET friendly_name = $1, chat_service_sid = $2, channel_type = $3,"
                " contact_identity = $4, enabled = $5, integration_type = $6, integration = $7,"
                " long_lived = $8, janitor_enabled = $9, date_updated = $10 WHERE account_sid = $11 AND seq = $12",
                flow.friendly_name, flow.chat_service_sid, flow.channel_type, flow.contact_identity,
                flow.enabled, flow.integration_type, orjson.dumps(flow.integration).decode(),
                flow.long_lived, flow.janitor_enabled, flow.date_updated, account_sid, flow.seq,
            )
            return flow

        return await self._run(work, transaction=True)

    async def delete_flex_flow(self, account_sid: str, sid: str) -> bool:
        return await self._delete("flex_flows", account_sid, sid)

    async def _delete(self, table: str, account_sid: str, sid: str) -> bool:
        status = await self._execute(f"DELETE FROM {table} WHERE sid = $1 AND account_sid = $2", sid, account_sid)
        return status != "DELETE 0"

    async def list_flex_flows(
        self, account_sid: str, friendly_name: str | None, window: Window
    ) -> tuple[Sequence[FlexFlow], bool]:
        if friendly_name is not None and _unstorable(friendly_name):
            return [], False
        where, args = "account_sid = $1", [account_sid]
        if friendly_name is not None:
            # The hash reaches the index (see migrations/postgres.py), the value decides.
            where += " AND md5(friendly_name) = md5($2) AND friendly_name = $2"
            args.append(friendly_name)
        rows, more = await self._page(FLOW_COLUMNS, "flex_flows", where, args, window)
        return [_flow(row) for row in rows], more

    async def _page(
        self, columns: str, table: str, where: str, args: list[Any], window: Window
    ) -> tuple[list[Any], bool]:
        n = len(args)
        direction = "<" if window.backward else ">"
        order = "DESC" if window.backward else "ASC"
        sql = (
            f"SELECT {columns} FROM {table} WHERE {where} AND seq {direction} ${n + 1}"
            f" ORDER BY seq {order} LIMIT ${n + 2}"
        )
        return window.cut(await self._fetch(sql, *args, window.bound, window.limit + 1))

    # -- channels --------------------------------------------------------------------

    async def fetch_channel(self, account_sid: str, sid: str) -> Channel | None:
        row = await self._fetchrow(
            f"SELECT {CHANNEL_COLUMNS} FROM channels WHERE sid = $1 AND account_sid = $2", sid, account_sid
        )
        return Channel(*row) if row is not None else None

    async def list_channels(self, account_sid: str, window: Window) -> tuple[Sequence[Channel], bool]:
        """One page: the index says which channels are on it (an index-only scan), the
        channel cache has most of them (see store/channel_cache.py), the table the rest."""
        statement, bound = page_statement(LIST_CHANNEL_SEQS, window)
        cache = self._channel_cache

        async def work(conn: Any) -> tuple[list[int], bool, list[Channel | None], dict[int, Channel] | None]:
            # Both reads on one pooled connection: a cold page pays one acquire, not two.
            changes, found = await conn.fetchrow(statement.postgres, account_sid, bound, window.limit + 1)
            seqs, more = seq_page(LIST_CHANNEL_SEQS, statement, found, window)
            held, missing = cache.lookup(changes, seqs)
            fetched = None
            if missing:
                fetched = cache.add(changes, await conn.fetch(_CHANNEL_RANGE, account_sid, missing[0], missing[-1]))
            return seqs, more, held, fetched

        seqs, more, held, fetched = await self._run(work)
        return page_channels(seqs, held, fetched), more

    # -- bulk ------------------------------------------------------------------------

    async def seed(self, account_sid: str, flows: int, channels: int, progress: ProgressFn | None = None) -> None:
        conn = await self._connect()
        try:
            for batch in seed_batches(account_sid, flows, channels):
                # COPY: one round trip per batch, ~10x the rate of INSERTs.
                await conn.copy_records_to_table(batch.table, records=batch.rows, columns=list(batch.columns))
                if progress is not None:
                    progress(batch.done, batch.total)
            # Fresh statistics, so the first list after a big seed plans with the index.
            await conn.execute(
                "ANALYZE flex_flows, chat_services, chat_users, chat_channels, chat_members, chat_webhooks, channels"
            )
        finally:
            await conn.close()

    # -- operations and faults (issue 10) --------------------------------------------

    async def schema_version(self) -> tuple[int, int]:
        row = await self._fetchrow("SELECT coalesce(max(version), 0) FROM schema_migrations")
        return int(row[0]), len(STEPS)

    def pool_figures(self) -> Mapping[str, float]:
        pool = self._pool
        if pool is None:
            return {}
        return {
            "pool_size": float(pool.get_size()),
            "pool_idle": float(pool.get_idle_size()),
            "pool_max": float(pool.get_max_size()),
        }
