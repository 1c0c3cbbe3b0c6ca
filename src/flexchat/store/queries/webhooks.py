"""Chat v2 channel webhook statements (the insert is shared: store/queries/chat.py)."""

from __future__ import annotations

from ...domain.records import ChatWebhook, columns
from ..sql import paged, sql

WEBHOOK = columns(ChatWebhook)

FETCH_WEBHOOK = sql(f"SELECT {WEBHOOK} FROM chat_webhooks WHERE sid = ? AND channel_sid = ? AND account_sid = ?")
UPDATE_WEBHOOK = sql(
    "UPDATE chat_webhooks SET configuration = ?, date_updated = ? WHERE sid = ? AND account_sid = ?"
    f" RETURNING {WEBHOOK}"
)
DELETE_WEBHOOK = sql("DELETE FROM chat_webhooks WHERE sid = ? AND account_sid = ? RETURNING sid")
LIST_WEBHOOKS = paged(f"SELECT {WEBHOOK} FROM chat_webhooks WHERE channel_sid = ? AND account_sid = ?")
