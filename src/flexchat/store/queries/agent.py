"""What playing the agent reads and changes beyond each product's own statements."""

from __future__ import annotations

from ...domain.records import ChatMessage, Task, columns
from ..sql import sql

FETCH_TASK_BY_SID = sql(f"SELECT {columns(Task)} FROM tr_tasks WHERE sid = ? AND account_sid = ?")
DELETE_STUDIO_WEBHOOKS = sql(
    "DELETE FROM chat_webhooks WHERE channel_sid = ? AND account_sid = ? AND type = 'studio' RETURNING sid"
)
ALL_CHANNEL_MESSAGES = sql(
    f"SELECT {columns(ChatMessage)} FROM chat_messages WHERE channel_sid = ? AND account_sid = ? ORDER BY seq"
)
