"""Chat v2 channel statements: the list (with each channel's last message) and lookups."""

from __future__ import annotations

from ..sql import paged, sql
from .chat import CHANNEL

# The newest message's sid, for ``links.last_message``: one step down the
# (channel_sid, seq) index per channel.
_LAST_MESSAGE = (
    "(SELECT m.sid FROM chat_messages m WHERE m.channel_sid = chat_channels.sid ORDER BY m.seq DESC LIMIT 1)"
)
LIST_CHANNELS = paged(
    f"SELECT {CHANNEL}, {_LAST_MESSAGE} FROM chat_channels WHERE account_sid = ? AND service_sid = ?"
)
LIST_CHANNELS_OF_TYPE = paged(
    f"SELECT {CHANNEL}, {_LAST_MESSAGE} FROM chat_channels WHERE account_sid = ? AND service_sid = ? AND type = ?"
)
LAST_MESSAGE = sql("SELECT sid FROM chat_messages WHERE channel_sid = ? ORDER BY seq DESC LIMIT 1")
# The Flex channel that is a chat channel keeps its ChatUniqueName unique per service in
# its own table: a rename through Chat renames it there too, so the old name is free.
RENAME_FLEX_CHANNEL = sql("UPDATE channels SET chat_unique_name = ? WHERE sid = ? AND account_sid = ?")
