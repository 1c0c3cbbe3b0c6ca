"""What the API (``/flexchat/v1/Deliveries``) and ``flexchat deliveries list`` show of
delivery: the account's outbox events with their attempts."""

from __future__ import annotations

import re
from typing import Any

import orjson

from ..domain.records import DeliveryAttempt, OutboxEvent
from ..paging import Window
from ..store.queries.delivery import EVENT_ATTEMPTS, FETCH_EVENT, LIST_EVENTS
from ..store.sql import Script, page

# pending (waiting for its next attempt), delivered (a 2xx came back), failed (retries
# exhausted, or an answer or error not worth retrying), recorded (a studio webhook:
# nothing is sent over HTTP).
STATES = ("pending", "delivered", "failed", "recorded")
ID_PREFIX = "EV"
_ID = re.compile(r"EV[0-9a-f]{32}")


def delivery_id(seq: int) -> str:
    """An event's public id (also its ``I-Twilio-Idempotency-Token``): ``EV`` and its row
    number as 32 hex digits, shaped like a Twilio Sid."""
    return f"{ID_PREFIX}{seq:032x}"


def delivery_seq(ident: str) -> int | None:
    """The row number behind an id, or None if it is not one."""
    return int(ident[2:], 16) if _ID.fullmatch(ident) else None


def list_deliveries(
    account_sid: str, channel_sid: str | None, state: str | None, window: Window, newest_first: bool = False
) -> Script[tuple[list[OutboxEvent], bool]]:
    """One page of the account's events, optionally of one channel and in one state."""
    args: tuple[Any, ...] = (
        account_sid, *((channel_sid,) if channel_sid else ()), *((state,) if state else ())
    )
    rows, more = yield from page(
        LIST_EVENTS[(channel_sid is not None, state is not None)], args, window, newest_first
    )
    return [OutboxEvent(*row) for row in rows], more


def fetch_delivery(account_sid: str, seq: int) -> Script[tuple[OutboxEvent, list[DeliveryAttempt]] | None]:
    """One event of the account and its attempts, oldest first; None if it has no such event."""
    rows = yield FETCH_EVENT(seq, account_sid)
    if not rows:
        return None
    attempts = yield EVENT_ATTEMPTS(seq, account_sid)
    return OutboxEvent(*rows[0]), [DeliveryAttempt(*row) for row in attempts]


def attempt_to_wire(attempt: DeliveryAttempt) -> dict[str, Any]:
    """One attempt as the API and the CLI show it."""
    return {
        "attempt": attempt.attempt,
        "started_at": attempt.started_at,
        "duration_ms": round(attempt.duration_ms, 1),
        "status_code": attempt.status_code,
        "error": attempt.error,
        "response_start": attempt.response_start,
        "signature": attempt.signature,
    }


def delivery_to_wire(
    event: OutboxEvent, url: str | None = None, attempts: list[DeliveryAttempt] | None = None
) -> dict[str, Any]:
    """An event as the API and the CLI show it; ``attempts`` where they were read."""
    wire: dict[str, Any] = {
        "id": delivery_id(event.seq),
        "account_sid": event.account_sid,
        "service_sid": event.service_sid,
        "channel_sid": event.channel_sid,
        "webhook_sid": event.webhook_sid,
        "kind": event.kind,
        "event_type": event.event_type,
        "webhook_url": event.url,
        "method": event.method,
        "state": event.state,
        "retry_count": event.retry_count,
        "attempt_count": event.attempts,
        "params": orjson.loads(event.params),
        "date_created": event.date_created,
    }
    if url is not None:
        wire["url"] = url
    if attempts is not None:
        wire["attempts"] = [attempt_to_wire(attempt) for attempt in attempts]
    return wire


def timeline_to_wire(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A channel's timeline (domain/agent.timeline) as the API and the CLI show it: each
    delivery entry's event and attempts in this module's representation."""
    for entry in entries:
        if entry["type"] == "delivery":
            event, attempts = entry.pop("event"), entry.pop("attempts")
            entry.update(delivery_to_wire(event, attempts=attempts))
    return entries
