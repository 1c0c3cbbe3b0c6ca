"""The outbox: events written with their change, claimed and settled by delivery."""

from __future__ import annotations

from ...domain.records import DeliveryAttempt, OutboxEvent, columns
from ..sql import sql

EVENT = columns(OutboxEvent)
ATTEMPT = columns(DeliveryAttempt)

INSERT_EVENT = sql(
    "INSERT INTO outbox (account_sid, service_sid, channel_sid, webhook_sid, kind, event_type, url, method,"
    " params, retry_count, attempts, state, next_attempt_at, claimed_until, date_created, created_us)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, 0, ?, ?)",
    notifies=True,
)
