"""Delivery's statements: claiming due events with a lease, settling them, reading them back."""

from __future__ import annotations

from ...domain.records import DeliveryAttempt, OutboxEvent, columns
from ..sql import paged, sql

EVENT = columns(OutboxEvent)
ATTEMPT = columns(DeliveryAttempt)

_DUE = "state = 'pending' AND next_attempt_at <= ? AND claimed_until < ?"

# A cheap look before the claim, so an idle process does not open a write transaction
# (on SQLite: take the write lock) on every poll.
ANY_DUE = sql(f"SELECT seq FROM outbox WHERE {_DUE} LIMIT 1")
# Up to ? due events, leased until the first ?: one statement, so two processes never
# claim the same row. PostgreSQL skips rows another claim holds locked instead of
# waiting for them; SQLite's single writer serialises claims (the lock clause is dropped).
# UPDATE ... FROM rather than ``(account_sid, seq) IN (SELECT ...)``: SQLite 3.40 plans
# that row-value IN through the (account_sid, seq) index and matches nothing.
CLAIM = sql(
    "UPDATE outbox SET claimed_until = ? FROM"
    f" (SELECT account_sid AS due_account, seq AS due_seq FROM outbox WHERE {_DUE}"
    " ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED) AS due"
    f" WHERE outbox.account_sid = due.due_account AND outbox.seq = due.due_seq RETURNING {EVENT}"
)
ACCOUNT_AUTH_TOKEN = sql("SELECT auth_token FROM accounts WHERE sid = ?")
INSERT_ATTEMPT = sql(
    "INSERT INTO delivery_attempts (account_sid, outbox_seq, attempt, started_at, duration_ms, status_code,"
    " error, response_start, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Only a row still pending is settled: a claim whose lease ran out and was re-claimed
# elsewhere may finish second, and then must not undo the other's outcome.
SETTLE = sql(
    "UPDATE outbox SET attempts = ?, state = ?, next_attempt_at = ?, claimed_until = 0"
    " WHERE seq = ? AND account_sid = ? AND state = 'pending'"
)

FETCH_EVENT = sql(f"SELECT {EVENT} FROM outbox WHERE seq = ? AND account_sid = ?")
EVENT_ATTEMPTS = sql(f"SELECT {ATTEMPT} FROM delivery_attempts WHERE outbox_seq = ? AND account_sid = ? ORDER BY seq")
# The account's events, by the filters given: (channel?, state?) -> paged list.
LIST_EVENTS = {
    (False, False): paged(f"SELECT {EVENT} FROM outbox WHERE account_sid = ?"),
    (True, False): paged(f"SELECT {EVENT} FROM outbox WHERE account_sid = ? AND channel_sid = ?"),
    (False, True): paged(f"SELECT {EVENT} FROM outbox WHERE account_sid = ? AND state = ?"),
    (True, True): paged(f"SELECT {EVENT} FROM outbox WHERE account_sid = ? AND channel_sid = ? AND state = ?"),
}

# Gauges for /metrics (all accounts): what waits, and since when.
PENDING_COUNT = sql("SELECT count(*) FROM outbox WHERE state = 'pending'")
OLDEST_PENDING = sql("SELECT min(date_created) FROM outbox WHERE state = 'pending'")
