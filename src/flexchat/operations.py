"""Operations endpoints: ``/healthz``, ``/readyz`` and ``/metrics``, answered without
credentials (docs/operations.md).

``/readyz`` runs every check of ``context.readiness_checks`` (a list other modules
append to: the outbox adds "not stuck" there) and answers 200 when all pass, 503 with
each check's result when one does not. ``/metrics`` renders ``context.metrics``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from .context import AppContext
from .errors import NotReady, TwilioError
from .http import Request, Response, json_response
from .metrics import CONTENT_TYPE, Metrics, Sample
from .routing import OPERATIONS, Route
from .store import Store


@dataclass(frozen=True)
class ReadinessCheck:
    """One named condition of ``/readyz``: ``check`` returns when it holds and raises
    (any exception; its message is shown) when it does not."""

    name: str
    check: Callable[[AppContext], Awaitable[None]]


async def database_answers(ctx: AppContext) -> None:
    """The database answers a query within the deadline."""
    await ctx.store.schema_version()


async def migrations_applied(ctx: AppContext) -> None:
    """The database holds exactly the schema steps this flexchat has."""
    applied, known = await ctx.store.schema_version()
    if applied != known:
        raise RuntimeError(f"schema version {applied}, this flexchat has {known}")


def default_readiness_checks() -> list[ReadinessCheck]:
    """The checks every app has; the outbox appends its own to ``context.readiness_checks``."""
    return [ReadinessCheck("database", database_answers), ReadinessCheck("migrations", migrations_applied)]


def _failure(error: BaseException) -> str:
    if isinstance(error, TwilioError):
        return error.message
    if isinstance(error, TimeoutError):
        return "no answer within the deadline"
    return f"{error.__class__.__name__}: {error}"


async def healthz(request: Request, ctx: AppContext) -> Response:
    """The process answers; nothing else is checked (liveness)."""
    return json_response({"status": "ok"})


async def readyz(request: Request, ctx: AppContext) -> Response:
    """Every readiness check passes: 200; otherwise 503/20503 naming each check's result."""

    async def run(check: ReadinessCheck) -> str:
        try:
            # A check that hangs (a partitioned database) must not hang the probe.
            async with asyncio.timeout(ctx.settings.db_timeout + 1.0):
                await check.check(ctx)
        except Exception as error:
            return _failure(error)
        return "ok"

    # Side by side: with the database away every check that reads it waits for the
    # deadline, and the probe should answer within one deadline, not one per check.
    checks = ctx.readiness_checks
    outcomes = await asyncio.gather(*(run(check) for check in checks))
    results = {check.name: outcome for check, outcome in zip(checks, outcomes, strict=True)}
    if any(result != "ok" for result in results.values()):
        raise NotReady(results)
    return json_response({"status": "ready", "checks": results})


async def metrics(request: Request, ctx: AppContext) -> Response:
    """The Prometheus text exposition of this process's figures."""
    return Response(200, ctx.metrics.render(), {}, CONTENT_TYPE)


def routes() -> list[Route]:
    """The operations routes: public (no credentials) and never shaped by faults."""
    return [
        Route("/healthz", {"GET": healthz}, OPERATIONS, public=True),
        Route("/readyz", {"GET": readyz}, OPERATIONS, public=True),
        Route("/metrics", {"GET": metrics}, OPERATIONS, public=True),
    ]


def register_store_metrics(registry: Metrics, store: Store) -> None:
    """Gauges of the store's connection pool (PostgreSQL) or write queue (SQLite), read at
    each scrape; an engine without a figure leaves its gauge without samples."""

    def figure(name: str) -> Callable[[], Iterable[Sample]]:
        def read() -> Iterable[Sample]:
            value = store.pool_figures().get(name)
            return [] if value is None else [((), value)]

        return read

    def connections() -> Iterable[Sample]:
        figures = store.pool_figures()
        if "pool_size" not in figures:
            return []
        idle = figures.get("pool_idle", 0.0)
        return [(("idle",), idle), (("in_use",), figures["pool_size"] - idle)]

    registry.gauge(
        "flexchat_db_pool_connections", "Open database connections of the pool, by state.", ("state",),
        read=connections,
    )
    registry.gauge("flexchat_db_pool_max_connections", "Most connections the pool opens.", read=figure("pool_max"))
    registry.gauge(
        "flexchat_db_write_queue_depth", "Writes waiting for the SQLite writer thread.", read=figure("write_queue")
    )
