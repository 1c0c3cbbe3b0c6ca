"""The console's transaction scripts (statements in store/queries/console.py)."""

from __future__ import annotations

from typing import Any

import orjson

from ..domain.agent import timeline_key
from ..domain.records import ChatMessage, DeliveryAttempt, OutboxEvent
from ..store.queries.console import (
    CHANNEL_BY_SID,
    CHANNEL_EVENTS,
    CHANNELS_ABOVE,
    CHANNELS_BELOW,
    EVENT_ATTEMPTS,
    LAST_MESSAGES,
    MESSAGES_AFTER,
    RESET,
    RESET_TABLES,
)
from ..store.sql import Row, Script

# Above any row number: the newest page starts below it.
_TOP = 2**62


def channel_page(
    account_sid: str, size: int, before: int | None, after: int | None
) -> Script[tuple[list[Row], int | None, int | None]]:
    """One page of the account's channels, newest first, and the cursors of the older
    page (``before``) and the newer one (``after``), None where there is none."""
    if after is not None:
        rows = list((yield CHANNELS_ABOVE(account_sid, after, size + 1)))
        newer_exists = len(rows) > size
        rows = rows[:size][::-1]
        older_exists = True  # we came from there
    else:
        rows = list((yield CHANNELS_BELOW(account_sid, before if before is not None else _TOP, size + 1)))
        older_exists = len(rows) > size
        rows = rows[:size]
        newer_exists = before is not None
    if not rows:
        return [], None, None
    if not older_exists:
        # A page that came from newer rows may still have older ones beyond it.
        probe = yield CHANNELS_BELOW(account_sid, rows[-1][0], 1)
        older_exists = bool(probe)
    older = rows[-1][0] if older_exists else None
    newer = rows[0][0] if newer_exists else None
    return rows, older, newer


def find_channel(account_sid: str, sid: str) -> Script[Row | None]:
    """The channel's console row (Flex channel joined to its chat channel), or None."""
    rows = yield CHANNEL_BY_SID(account_sid, sid)
    return rows[0] if rows else None


def _last_messages(account_sid: str, channel_sid: str, limit: int) -> Script[list[tuple[ChatMessage, int | None]]]:
    """The channel's newest ``limit`` messages, oldest first, each with its created_us."""
    rows = yield LAST_MESSAGES(channel_sid, account_sid, limit)
    return [(ChatMessage(*row[:-1]), row[-1]) for row in reversed(rows)]


def transcript_tail(account_sid: str, channel_sid: str, limit: int) -> Script[list[ChatMessage]]:
    """The channel's newest ``limit`` messages, oldest first."""
    timed = yield from _last_messages(account_sid, channel_sid, limit)
    return [message for message, _ in timed]


def transcript_after(account_sid: str, channel_sid: str, index: int, limit: int) -> Script[list[ChatMessage]]:
    """Up to ``limit`` messages after ``index``, in index order."""
    rows = yield MESSAGES_AFTER(channel_sid, account_sid, index, limit)
    return [ChatMessage(*row) for row in rows]


def _params(raw: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


Keyed = tuple[tuple[int, int, int], Any]


def timeline(account_sid: str, channel_sid: str, limit: int) -> Script[tuple[list[Keyed], list[Keyed]]]:
    """The channel's newest messages (oldest first) and webhook events (newest first),
    each event with its delivery attempts: the request sent, its signature and the
    answer; each with its place in the timeline (domain/agent.timeline_key)."""
    messages: list[Keyed] = [
        (timeline_key("message", message.date_created, created_us, message.seq), message)
        for message, created_us in (yield from _last_messages(account_sid, channel_sid, limit))
    ]
    events: list[Keyed] = []
    for row in (yield CHANNEL_EVENTS(channel_sid, account_sid, limit)):
        event = OutboxEvent(*row)
        attempts = [DeliveryAttempt(*a) for a in (yield EVENT_ATTEMPTS(event.seq, account_sid))]
        events.append((timeline_key("delivery", event.date_created, event.created_us, event.seq), {
            "seq": event.seq, "event_type": event.event_type, "kind": event.kind, "url": event.url,
            "method": event.method, "params": _params(event.params), "state": event.state,
            "attempts": event.attempts, "retry_count": event.retry_count, "date_created": event.date_created,
            "webhook_sid": event.webhook_sid,
            "delivery_attempts": [{
                "attempt": a.attempt, "started_at": a.started_at, "duration_ms": a.duration_ms,
                "status_code": a.status_code, "error": a.error, "response_start": a.response_start,
                "signature": a.signature,
            } for a in attempts],
        }))
    return messages, events


def reset_account(account_sid: str) -> Script[dict[str, int]]:
    """Delete every row the account owns except the account and its credentials; how
    many rows went from each table."""
    deleted: dict[str, int] = {}
    for table in RESET_TABLES:
        rows = yield RESET[table](account_sid)
        deleted[table] = len(rows)
    return deleted
