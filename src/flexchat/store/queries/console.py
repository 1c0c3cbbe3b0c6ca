"""The console's reads and its account reset, written once for both engines.

The channel page joins each Flex channel to its chat channel (status lives in the chat
channel's attributes) and walks ``channels_by_account`` (account_sid, seq) newest first:
one index range per page, the same cost on 100 channels as on 100,000.
"""

from __future__ import annotations

from ...domain.records import ChatMessage, DeliveryAttempt, OutboxEvent, columns
from ..sql import sql

_CHANNEL_PAGE = (
    "SELECT c.seq, c.sid, c.flex_flow_sid, c.chat_service_sid, c.identity, c.chat_friendly_name, c.task_sid,"
    " c.active, c.date_created, cc.attributes, cc.messages_count"
    " FROM channels c LEFT JOIN chat_channels cc ON cc.sid = c.sid AND cc.account_sid = c.account_sid"
    " WHERE c.account_sid = ?"
)
# Newest first: the next page lies below the last row number, the previous above the first.
CHANNELS_BELOW = sql(f"{_CHANNEL_PAGE} AND c.seq < ? ORDER BY c.seq DESC LIMIT ?")
CHANNELS_ABOVE = sql(f"{_CHANNEL_PAGE} AND c.seq > ? ORDER BY c.seq ASC LIMIT ?")
CHANNEL_BY_SID = sql(f"{_CHANNEL_PAGE} AND c.sid = ?")

MESSAGE = columns(ChatMessage)
# The SSE stream and the transcript: messages after an index, in index order.
MESSAGES_AFTER = sql(
    f"SELECT {MESSAGE} FROM chat_messages WHERE channel_sid = ? AND account_sid = ? AND message_index > ?"
    " ORDER BY message_index LIMIT ?"
)
# The newest messages of a channel (the transcript's first screen, the timeline), newest
# first, each with its created_us (schema step 12) for the timeline's order.
LAST_MESSAGES = sql(
    f"SELECT {MESSAGE}, created_us FROM chat_messages WHERE channel_sid = ? AND account_sid = ?"
    " ORDER BY message_index DESC LIMIT ?"
)

EVENT = columns(OutboxEvent)
ATTEMPT = columns(DeliveryAttempt)
CHANNEL_EVENTS = sql(
    f"SELECT {EVENT} FROM outbox WHERE channel_sid = ? AND account_sid = ? ORDER BY seq DESC LIMIT ?"
)
EVENT_ATTEMPTS = sql(
    f"SELECT {ATTEMPT} FROM delivery_attempts WHERE outbox_seq = ? AND account_sid = ? ORDER BY seq"
)

# Everything an account owns except the account and its credentials, children first.
RESET_TABLES = (
    "delivery_attempts", "outbox", "chat_messages", "chat_members", "chat_webhooks", "chat_channels",
    "channels", "web_channels", "chat_users", "chat_services", "flex_flows", "flex_configurations", "faults",
    "tr_task_events", "tr_tasks", "tr_task_channels", "tr_workflows", "tr_workspaces", "studio_executions",
)
RESET = {table: sql(f"DELETE FROM {table} WHERE account_sid = ? RETURNING 1") for table in RESET_TABLES}
