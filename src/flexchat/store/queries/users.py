"""Chat v2 user and user-channel statements."""

from __future__ import annotations

from ..sql import paged, sql
from .chat import MEMBER, USER

# The channels a user has joined: its memberships, by identity within the service.
_JOINED = (
    "(SELECT count(*) FROM chat_members m WHERE m.account_sid = chat_users.account_sid"
    " AND m.service_sid = chat_users.service_sid AND md5(m.identity) = md5(chat_users.identity)"
    " AND m.identity = chat_users.identity)"
)
LIST_USERS = paged(f"SELECT {USER}, {_JOINED} FROM chat_users WHERE account_sid = ? AND service_sid = ?")
COUNT_JOINED = sql(
    "SELECT count(*) FROM chat_members WHERE account_sid = ? AND service_sid = ?"
    " AND md5(identity) = md5(?) AND identity = ?"
)
FETCH_USER_FOR_UPDATE = sql(
    f"SELECT {USER} FROM chat_users WHERE sid = ? AND account_sid = ? AND service_sid = ? FOR UPDATE"
)
UPDATE_USER = sql(
    "UPDATE chat_users SET friendly_name = ?, attributes = ?, role_sid = ?, date_updated = ?"
    f" WHERE sid = ? AND account_sid = ? RETURNING {USER}"
)
DELETE_USER = sql("DELETE FROM chat_users WHERE sid = ? AND account_sid = ? RETURNING sid")

# A user channel is a membership; its unread count is the channel's messages after the
# last one the member consumed (none reported: null, as Chat shows it).
_UNREAD = (
    "(SELECT count(*) FROM chat_messages x WHERE x.channel_sid = chat_members.channel_sid"
    " AND x.message_index > chat_members.last_consumed_message_index)"
)
LIST_USER_CHANNELS = paged(
    f"SELECT {MEMBER}, {_UNREAD} FROM chat_members WHERE account_sid = ? AND service_sid = ?"
    " AND md5(identity) = md5(?) AND identity = ?"
)
FETCH_USER_CHANNEL = sql(
    f"SELECT {MEMBER}, {_UNREAD} FROM chat_members WHERE channel_sid = ? AND account_sid = ?"
    " AND md5(identity) = md5(?) AND identity = ?"
)
