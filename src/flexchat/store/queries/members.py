"""Chat v2 member statements (insert, identity lookup and the count are shared: store/queries/chat.py)."""

from __future__ import annotations

from ...domain.records import ChatMember, columns
from ..sql import paged, sql

MEMBER = columns(ChatMember)

FETCH_MEMBER = sql(f"SELECT {MEMBER} FROM chat_members WHERE sid = ? AND channel_sid = ? AND account_sid = ?")
UPDATE_MEMBER = sql(
    "UPDATE chat_members SET role_sid = ?, attributes = ?, last_consumed_message_index = ?,"
    " last_consumption_timestamp = ?, date_created = ?, date_updated = ? WHERE sid = ? AND account_sid = ?"
    f" RETURNING {MEMBER}"
)
# RETURNING tells a delete that found its row from one a concurrent delete got to first,
# so the count goes down once.
DELETE_MEMBER = sql("DELETE FROM chat_members WHERE sid = ? AND account_sid = ? RETURNING sid")
LIST_MEMBERS = paged(f"SELECT {MEMBER} FROM chat_members WHERE channel_sid = ? AND account_sid = ?")
