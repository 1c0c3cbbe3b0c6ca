"""Chat v2 service statements: list, update, and the delete that takes everything in it."""

from __future__ import annotations

from ..sql import paged, sql
from .chat import SERVICE

LIST_SERVICES = paged(f"SELECT {SERVICE} FROM chat_services WHERE account_sid = ?")
FETCH_SERVICE_FOR_UPDATE = sql(f"SELECT {SERVICE} FROM chat_services WHERE sid = ? AND account_sid = ? FOR UPDATE")
UPDATE_SERVICE = sql(
    "UPDATE chat_services SET friendly_name = ?, settings = ?, date_updated = ?"
    f" WHERE sid = ? AND account_sid = ? RETURNING {SERVICE}"
)

# What goes with a service, children first; each takes (account_sid, service_sid).
# Rows kept per channel are found through the service's channels, on their by-channel
# indexes; the Flex channels that are those chat channels go too.
_OF_CHANNELS = "SELECT sid FROM chat_channels WHERE account_sid = ? AND service_sid = ?"
DELETE_SERVICE_ROWS = (
    *(
        sql(f"DELETE FROM {table} WHERE channel_sid IN ({_OF_CHANNELS})")
        for table in ("chat_members", "chat_messages", "chat_webhooks")
    ),
    sql(f"DELETE FROM channels WHERE sid IN ({_OF_CHANNELS})"),
    sql("DELETE FROM chat_channels WHERE account_sid = ? AND service_sid = ?"),
    sql("DELETE FROM chat_users WHERE account_sid = ? AND service_sid = ?"),
)
DELETE_SERVICE = sql("DELETE FROM chat_services WHERE sid = ? AND account_sid = ? RETURNING sid")
