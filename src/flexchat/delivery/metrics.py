"""Outbox gauges for monitoring (``/metrics`` registers them): how many events wait to
be delivered, and how long the oldest of them has waited. Both read every account."""

from __future__ import annotations

from datetime import UTC, datetime

from ..store import Store
from ..store.queries.delivery import OLDEST_PENDING, PENDING_COUNT
from ..store.sql import fetch


async def outbox_depth(store: Store) -> int:
    """Events waiting for delivery (state ``pending``, due or backing off)."""
    rows = await store.read(fetch(PENDING_COUNT()), background=True)
    return int(rows[0][0])


async def oldest_pending_age(store: Store, now: datetime | None = None) -> float:
    """Seconds since the oldest pending event was written; 0 when none waits. A value
    that keeps growing means delivery is stuck or a destination keeps failing."""
    rows = await store.read(fetch(OLDEST_PENDING()), background=True)
    oldest = rows[0][0] if rows else None
    if not oldest:
        return 0.0
    created = datetime.fromisoformat(oldest.replace("Z", "+00:00"))
    return max(0.0, ((now or datetime.now(UTC)) - created).total_seconds())
