"""Chat channels: create, find by sid or UniqueName, delete with everything in them."""

from __future__ import annotations

from ...dates import now_iso
from ...errors import ChatUniqueNameConflict, NotFound
from ...sids import is_sid, normalize_sid
from ...store.queries.chat import (
    DELETE_CHANNEL,
    DELETE_CHANNEL_ROWS,
    DELETE_FLEX_CHANNEL,
    FETCH_CHANNEL,
    FETCH_CHANNEL_BY_UNIQUE_NAME,
    FETCH_CHANNEL_FOR_UPDATE,
    INSERT_CHANNEL,
)
from ...store.queries.flex import DELETE_WEB_CHANNEL
from ...store.sql import Script, UniqueViolation
from ..events import channel_fields, emit
from ..records import ChatChannel

CHANNEL_TYPES = ("public", "private")


def insert_channel(
    account_sid: str,
    service_sid: str,
    sid: str,
    *,
    friendly_name: str | None,
    unique_name: str | None,
    attributes: str,
    type_: str,
    created_by: str | None,
    date_created: str | None = None,
    date_updated: str | None = None,
) -> Script[ChatChannel]:
    """A new channel row; a UniqueName taken in the service is a 409."""
    now = now_iso()
    try:
        rows = yield INSERT_CHANNEL(
            sid, account_sid, service_sid, friendly_name, unique_name, attributes, type_, created_by,
            date_created or now, date_updated or date_created or now,
        )
    except UniqueViolation:
        raise ChatUniqueNameConflict(unique_name or "") from None
    return ChatChannel(*rows[0])


def find_channel(account_sid: str, service_sid: str, ref: str, *, lock: bool = False) -> Script[ChatChannel | None]:
    """The service's channel named by ``ref``: a CH sid, else a UniqueName. ``lock`` holds
    its row until the transaction ends (PostgreSQL), for read-modify-write."""
    if is_sid(ref, "CH"):
        statement = FETCH_CHANNEL_FOR_UPDATE if lock else FETCH_CHANNEL
        rows = yield statement(normalize_sid(ref), account_sid, service_sid)
        if rows:
            return ChatChannel(*rows[0])
    rows = yield FETCH_CHANNEL_BY_UNIQUE_NAME(account_sid, service_sid, ref, ref)
    if rows and lock:
        rows = yield FETCH_CHANNEL_FOR_UPDATE(rows[0][1], account_sid, service_sid)
    return ChatChannel(*rows[0]) if rows else None


def require_channel(account_sid: str, service_sid: str, ref: str, *, lock: bool = False) -> Script[ChatChannel]:
    """:func:`find_channel`, or 404."""
    channel = yield from find_channel(account_sid, service_sid, ref, lock=lock)
    if channel is None:
        raise NotFound(f"/Services/{service_sid}/Channels/{ref}")
    return channel


def delete_channel(
    account_sid: str, service_sid: str, ref: str, *, webhooks_enabled: bool, source: str = "API"
) -> Script[ChatChannel]:
    """Delete a channel with its members, messages and webhooks, and the Flex channel that
    is the same channel. ``onChannelDestroyed`` goes out first, while the channel's
    webhooks still exist to receive it."""
    channel = yield from require_channel(account_sid, service_sid, ref, lock=True)
    if webhooks_enabled:
        yield from emit(account_sid, service_sid, channel.sid, "onChannelDestroyed", channel_fields(channel),
                        source=source)
    for statement in DELETE_CHANNEL_ROWS:
        yield statement(channel.sid, account_sid)
    yield DELETE_CHANNEL(channel.sid, account_sid)
    yield DELETE_FLEX_CHANNEL(channel.sid, account_sid)
    yield DELETE_WEB_CHANNEL(channel.sid, account_sid)
    return channel
