"""What playing the agent reads and changes beyond each product's own statements."""

from __future__ import annotations

from ...domain.records import ChatMessage, DeliveryAttempt, OutboxEvent, Task, columns
from ..sql import sql

FETCH_TASK_BY_SID = sql(f"SELECT {columns(Task)} FROM tr_tasks WHERE sid = ? AND account_sid = ?")
DELETE_STUDIO_WEBHOOKS = sql(
    "DELETE FROM chat_webhooks WHERE channel_sid = ? AND account_sid = ? AND type = 'studio' RETURNING sid"
)
# Each message with its created_us (schema step 12), which the record leaves out: the
# message hot paths never read it.
ALL_CHANNEL_MESSAGES = sql(
    f"SELECT {columns(ChatMessage)}, created_us FROM chat_messages WHERE channel_sid = ? AND account_sid = ?"
    " ORDER BY seq"
)
CHANNEL_EVENTS = sql(
    f"SELECT {columns(OutboxEvent)} FROM outbox WHERE channel_sid = ? AND account_sid = ? ORDER BY seq"
)
CHANNEL_ATTEMPTS = sql(
    f"SELECT {columns(DeliveryAttempt, 'a')} FROM delivery_attempts a JOIN outbox o ON o.seq = a.outbox_seq"
    " WHERE o.channel_sid = ? AND o.account_sid = ? ORDER BY a.seq"
)
