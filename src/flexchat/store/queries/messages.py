"""Chat v2 message statements."""

from __future__ import annotations

from ...domain.records import ChatMessage, columns
from ..sql import paged_seqs, sql

MESSAGE = columns(ChatMessage)

# Under the channel's row lock (the script holds it): the index the new message gets,
# counted in the same statement so a concurrent create on another connection waits and
# then sees the next one. Indexes survive deletes: this never goes down.
TAKE_MESSAGE_INDEX = sql(
    "UPDATE chat_channels SET next_message_index = next_message_index + 1, messages_count = messages_count + 1"
    " WHERE sid = ? AND account_sid = ? RETURNING next_message_index - 1"
)
UNCOUNT_MESSAGE = sql("UPDATE chat_channels SET messages_count = messages_count - 1 WHERE sid = ? AND account_sid = ?")
INSERT_MESSAGE = sql(
    "INSERT INTO chat_messages (sid, account_sid, service_sid, channel_sid, message_index, author, body,"
    " attributes, media_sid, last_updated_by, was_edited, date_created, date_updated, created_us)"
    f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {MESSAGE}"
)
FETCH_MESSAGE = sql(f"SELECT {MESSAGE} FROM chat_messages WHERE sid = ? AND channel_sid = ? AND account_sid = ?")
# Every update bumps its channel's ``messages_version`` (BUMP_MESSAGES_VERSION, same
# transaction): what tells a process that a message it rendered changed. The message's own
# ``version`` is no longer read by this release, and still bumped: the previous release's
# processes key their rendered messages by it while a rolling upgrade runs.
UPDATE_MESSAGE = sql(
    "UPDATE chat_messages SET author = ?, body = ?, attributes = ?, last_updated_by = ?, was_edited = ?,"
    " date_created = ?, date_updated = ?, version = version + 1 WHERE sid = ? AND account_sid = ?"
    f" RETURNING {MESSAGE}"
)
BUMP_MESSAGES_VERSION = sql(
    "UPDATE chat_channels SET messages_version = messages_version + 1 WHERE sid = ? AND account_sid = ?"
)
DELETE_MESSAGE = sql("DELETE FROM chat_messages WHERE sid = ? AND account_sid = ? RETURNING sid")
# A page of a channel's messages in the order of their index (which follows seq: both are
# taken under the channel's lock), as one row: the channel's ``messages_version`` (NULL
# where the account and service have no channel of that sid) and the page's row numbers
# (see store/sql.py: paged_seqs). The rows themselves are read (MESSAGE_RANGE) only where
# no rendering is held.
LIST_MESSAGE_SEQS = paged_seqs(
    "SELECT messages_version FROM chat_channels WHERE sid = ? AND account_sid = ? AND service_sid = ?",
    "FROM chat_messages WHERE channel_sid = ?",
)
# The channel's messages between two row numbers, inclusive.
MESSAGE_RANGE = sql(
    f"SELECT {MESSAGE} FROM chat_messages WHERE channel_sid = ? AND account_sid = ? AND seq >= ? AND seq <= ?"
)
