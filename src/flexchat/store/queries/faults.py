"""Fault rules: one row per account and route family."""

from __future__ import annotations

from ..sql import sql

RULE = (
    "account_sid, family, error_rate, error_status, throttle_rate, throttle_burst, latency_ms,"
    " drop_delivery_rate, date_updated"
)

LIST_FAULTS = sql(f"SELECT {RULE} FROM faults ORDER BY account_sid, family")
LIST_ACCOUNT_FAULTS = sql(f"SELECT {RULE} FROM faults WHERE account_sid = ? ORDER BY family")
PUT_FAULT = sql(
    f"INSERT INTO faults ({RULE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account_sid, family) DO UPDATE SET"
    " error_rate = excluded.error_rate, error_status = excluded.error_status,"
    " throttle_rate = excluded.throttle_rate, throttle_burst = excluded.throttle_burst,"
    " latency_ms = excluded.latency_ms, drop_delivery_rate = excluded.drop_delivery_rate,"
    " date_updated = excluded.date_updated"
)
CLEAR_FAULTS = sql("DELETE FROM faults WHERE account_sid = ? RETURNING family")
CLEAR_FAULT = sql("DELETE FROM faults WHERE account_sid = ? AND family = ? RETURNING family")
