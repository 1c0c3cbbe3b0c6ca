"""Chat v2 statements that several resources share: lookups, inserts, cascades."""

from __future__ import annotations

from ...domain.records import ChatChannel, ChatMember, ChatService, ChatUser, ChatWebhook, columns
from ..sql import sql

SERVICE = columns(ChatService)
USER = columns(ChatUser)
CHANNEL = columns(ChatChannel)
MEMBER = columns(ChatMember)
WEBHOOK = columns(ChatWebhook)

FETCH_SERVICE = sql(f"SELECT {SERVICE} FROM chat_services WHERE sid = ? AND account_sid = ?")
INSERT_SERVICE = sql(
    "INSERT INTO chat_services (sid, account_sid, friendly_name, settings, date_created, date_updated)"
    f" VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING {SERVICE}"
)

FETCH_USER = sql(f"SELECT {USER} FROM chat_users WHERE sid = ? AND account_sid = ? AND service_sid = ?")
FETCH_USER_BY_IDENTITY = sql(
    f"SELECT {USER} FROM chat_users WHERE account_sid = ? AND service_sid = ?"
    " AND md5(identity) = md5(?) AND identity = ?"
)
INSERT_USER = sql(
    "INSERT INTO chat_users (sid, account_sid, service_sid, identity, friendly_name, attributes, role_sid,"
    f" date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING {USER}"
)

FETCH_CHANNEL = sql(f"SELECT {CHANNEL} FROM chat_channels WHERE sid = ? AND account_sid = ? AND service_sid = ?")
# By sid alone, for flexchat's own operations (a Flex channel's CH sid names its chat).
FETCH_CHAT_CHANNEL_BY_SID = sql(f"SELECT {CHANNEL} FROM chat_channels WHERE sid = ? AND account_sid = ? FOR UPDATE")
FETCH_CHANNEL_FOR_UPDATE = sql(
    f"SELECT {CHANNEL} FROM chat_channels WHERE sid = ? AND account_sid = ? AND service_sid = ? FOR UPDATE"
)
FETCH_CHANNEL_BY_UNIQUE_NAME = sql(
    f"SELECT {CHANNEL} FROM chat_channels WHERE account_sid = ? AND service_sid = ?"
    " AND md5(unique_name) = md5(?) AND unique_name = ?"
)
INSERT_CHANNEL = sql(
    "INSERT INTO chat_channels (sid, account_sid, service_sid, friendly_name, unique_name, attributes, type,"
    " created_by, members_count, messages_count, next_message_index, date_created, date_updated)"
    f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?) RETURNING {CHANNEL}"
)
UPDATE_CHANNEL = sql(
    "UPDATE chat_channels SET friendly_name = ?, unique_name = ?, attributes = ?, created_by = ?,"
    f" date_created = ?, date_updated = ? WHERE seq = ? AND account_sid = ? RETURNING {CHANNEL}"
)
COUNT_MEMBERS = sql(
    "UPDATE chat_channels SET members_count = members_count + ? WHERE sid = ? AND account_sid = ?"
)
# A channel's rows go with it; the Flex channel that is the same channel too.
DELETE_CHANNEL_ROWS = tuple(
    sql(f"DELETE FROM {table} WHERE channel_sid = ? AND account_sid = ?")
    for table in ("chat_members", "chat_messages", "chat_webhooks")
)
# A delete of one resource returns its sid: no row where a concurrent delete committed
# first (PostgreSQL, READ COMMITTED), which the script answers with the 404 it would have
# given had it come second. The Flex channel's goes only with its chat channel, whose
# row the script holds locked, so nothing is left to check there.
DELETE_CHANNEL = sql("DELETE FROM chat_channels WHERE sid = ? AND account_sid = ? RETURNING sid")
DELETE_FLEX_CHANNEL = sql("DELETE FROM channels WHERE sid = ? AND account_sid = ?")

FETCH_MEMBER_BY_IDENTITY = sql(
    f"SELECT {MEMBER} FROM chat_members WHERE channel_sid = ? AND md5(identity) = md5(?) AND identity = ?"
)
INSERT_MEMBER = sql(
    "INSERT INTO chat_members (sid, account_sid, service_sid, channel_sid, identity, role_sid, attributes,"
    " last_consumed_message_index, last_consumption_timestamp, date_created, date_updated)"
    f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING {MEMBER}"
)

INSERT_WEBHOOK = sql(
    "INSERT INTO chat_webhooks (sid, account_sid, service_sid, channel_sid, type, configuration,"
    f" date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {WEBHOOK}"
)
ALL_CHANNEL_WEBHOOKS = sql(
    f"SELECT {WEBHOOK} FROM chat_webhooks WHERE channel_sid = ? AND account_sid = ? ORDER BY seq"
)
