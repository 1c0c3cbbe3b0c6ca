"""Flex v1 statements written once for both engines (the older, measured list and fetch
paths keep their engine-specific forms in sqlite.py / postgres.py)."""

from __future__ import annotations

from ...domain.records import WebChannel, columns
from ...models import Channel
from ..sql import paged, paged_seqs, sql

FLEX_CHANNEL = columns(Channel)

# POST /v1/Channels's one read before it writes: the flow (chat_service_sid, enabled,
# integration_type, integration, channel_type, long_lived), whether its chat service
# exists, and the Identity's open channel on it if any (closed ones are never reused; the
# unique index channels_open_identity allows one at most).
FLOW_FOR_NEW_CHANNEL = sql(
    "SELECT f.chat_service_sid, f.enabled, f.integration_type, f.integration, f.channel_type, f.long_lived,"
    " EXISTS (SELECT 1 FROM chat_services s WHERE s.sid = f.chat_service_sid AND s.account_sid = f.account_sid),"
    f" {columns(Channel, 'c')}"
    " FROM flex_flows f LEFT JOIN channels c ON c.account_sid = f.account_sid AND c.flex_flow_sid = f.sid"
    " AND md5(c.identity) = md5(?) AND c.identity = ? AND c.active"
    " WHERE f.sid = ? AND f.account_sid = ?"
)
# The Identity's open channel on a flow (closed ones are never reused).
FETCH_FLEX_CHANNEL_BY_IDENTITY = sql(
    f"SELECT {FLEX_CHANNEL} FROM channels WHERE account_sid = ? AND flex_flow_sid = ?"
    " AND md5(identity) = md5(?) AND identity = ? AND active"
)
CLOSE_FLEX_CHANNEL = sql("UPDATE channels SET active = ? WHERE sid = ? AND account_sid = ?")
INSERT_FLEX_CHANNEL = sql(
    "INSERT INTO channels (sid, account_sid, flex_flow_sid, chat_service_sid, identity, user_sid,"
    " task_sid, target, chat_friendly_name, chat_unique_name, chat_user_friendly_name,"
    " pre_engagement_data, task_attributes, long_lived, date_created, date_updated)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING seq"
)
FETCH_FLEX_CHANNEL = sql(f"SELECT {FLEX_CHANNEL} FROM channels WHERE sid = ? AND account_sid = ?")
FETCH_CHAT_SERVICE_OF_FLEX_CHANNEL = sql("SELECT chat_service_sid FROM channels WHERE sid = ? AND account_sid = ?")

WEB_CHANNEL = columns(WebChannel)
INSERT_WEB_CHANNEL = sql(
    "INSERT INTO web_channels (sid, account_sid, flex_flow_sid, date_created, date_updated)"
    f" VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING {WEB_CHANNEL}"
)
FETCH_WEB_CHANNEL = sql(f"SELECT {WEB_CHANNEL} FROM web_channels WHERE sid = ? AND account_sid = ?")
UPDATE_WEB_CHANNEL = sql(
    f"UPDATE web_channels SET post_engagement_data = ?, date_updated = ? WHERE seq = ? RETURNING {WEB_CHANNEL}"
)
DELETE_WEB_CHANNEL = sql("DELETE FROM web_channels WHERE sid = ? AND account_sid = ? RETURNING sid")
LIST_WEB_CHANNELS = paged(f"SELECT {WEB_CHANNEL} FROM web_channels WHERE account_sid = ?")

FETCH_CONFIGURATION = sql(
    "SELECT configuration, date_created, date_updated FROM flex_configurations WHERE account_sid = ?"
)
INSERT_CONFIGURATION = sql(
    "INSERT INTO flex_configurations (account_sid, configuration, date_created, date_updated)"
    " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
UPDATE_CONFIGURATION = sql(
    "UPDATE flex_configurations SET configuration = ?, date_updated = ? WHERE account_sid = ?"
)
FIRST_FLOW_SERVICE = sql(
    "SELECT chat_service_sid FROM flex_flows WHERE account_sid = ? ORDER BY seq LIMIT 1"
)

# A Flex channel's task, changed after the channel was made; every such change counts
# (see store/schema.py, step 8).
LINK_TASK = sql("UPDATE channels SET task_sid = ?, date_updated = ? WHERE sid = ? AND account_sid = ?")
COUNT_FLEX_CHANNEL_CHANGE = sql("UPDATE change_counters SET value = value + 1 WHERE name = 'flex_channels'")
FLEX_CHANNEL_CHANGES = "SELECT value FROM change_counters WHERE name = 'flex_channels'"
# GET /v1/Channels: the channels' change count and a page's row numbers, in one snapshot
# (see store/channel_cache.py).
LIST_CHANNEL_SEQS = paged_seqs(FLEX_CHANNEL_CHANGES, "FROM channels WHERE account_sid = ?")
FLEX_CHANNELS_OF_TASK = sql(
    f"SELECT {FLEX_CHANNEL} FROM channels WHERE account_sid = ? AND task_sid = ? AND active"
)
FLEX_CHANNEL_SETTINGS = sql(
    "SELECT c.long_lived, c.task_attributes, c.chat_user_friendly_name, f.integration_type, f.integration,"
    " f.channel_type, f.long_lived, f.janitor_enabled, c.flex_flow_sid, c.chat_service_sid, c.identity"
    " FROM channels c LEFT JOIN flex_flows f ON f.sid = c.flex_flow_sid AND f.account_sid = c.account_sid"
    " WHERE c.sid = ? AND c.account_sid = ?"
)
