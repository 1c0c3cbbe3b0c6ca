"""Chat channels: list, create, find by sid or UniqueName, update, delete with everything in them."""

from __future__ import annotations

from typing import Any

from ...dates import now_iso
from ...errors import ChatUniqueNameConflict, NotFound
from ...sids import mint_sid
from ...store.queries.channels import LAST_MESSAGE, LIST_CHANNELS, LIST_CHANNELS_OF_TYPE, RENAME_FLEX_CHANNEL
from ...store.queries.chat import (
    DELETE_CHANNEL,
    DELETE_CHANNEL_ROWS,
    DELETE_FLEX_CHANNEL,
    FETCH_CHANNEL,
    FETCH_CHANNEL_BY_UNIQUE_NAME,
    FETCH_CHANNEL_FOR_UPDATE,
    INSERT_CHANNEL,
    UPDATE_CHANNEL,
)
from ...store.queries.flex import DELETE_WEB_CHANNEL
from ...store.sql import Script, UniqueViolation, page
from ..events import channel_fields, emit
from ..lookups import find_by_sid_or_name
from ..records import ChatChannel
from .services import require_service

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
    members_count: int = 0,
) -> Script[ChatChannel]:
    """A new channel row; a UniqueName taken in the service is a 409. ``members_count``:
    the members the same transaction adds with ``add_member(..., count=False)``."""
    now = now_iso()
    try:
        rows = yield INSERT_CHANNEL(
            sid, account_sid, service_sid, friendly_name, unique_name, attributes, type_, created_by,
            members_count, date_created or now, date_updated or date_created or now,
        )
    except UniqueViolation:
        raise ChatUniqueNameConflict(unique_name or "") from None
    return ChatChannel(*rows[0])


def find_channel(account_sid: str, service_sid: str, ref: str, *, lock: bool = False) -> Script[ChatChannel | None]:
    """The service's channel named by ``ref``: a CH sid, else a UniqueName. ``lock`` holds
    its row until the transaction ends (PostgreSQL), for read-modify-write."""
    found = yield from find_by_sid_or_name(
        ref, "CH", ChatChannel, (account_sid, service_sid), FETCH_CHANNEL, FETCH_CHANNEL_BY_UNIQUE_NAME,
        by_sid_for_update=FETCH_CHANNEL_FOR_UPDATE if lock else None,
    )
    return found


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
    if not (yield from remove_channel(channel, webhooks_enabled=webhooks_enabled, source=source)):
        raise NotFound(f"/Services/{service_sid}/Channels/{ref}")
    return channel


def remove_channel(channel: ChatChannel, *, webhooks_enabled: bool, source: str = "API") -> Script[bool]:
    """:func:`delete_channel` of a channel already read FOR UPDATE in this transaction:
    its members, messages and webhooks, its row, and the Flex and web channels that are
    the same channel; whether its row was still there to delete."""
    if webhooks_enabled:
        yield from emit(channel.account_sid, channel.service_sid, channel.sid, "onChannelDestroyed",
                        channel_fields(channel), source=source)
    for statement in DELETE_CHANNEL_ROWS:
        yield statement(channel.sid, channel.account_sid)
    deleted = yield DELETE_CHANNEL(channel.sid, channel.account_sid)
    # Not every chat channel is a Flex channel, nor every Flex channel a web channel.
    yield DELETE_FLEX_CHANNEL(channel.sid, channel.account_sid)
    yield DELETE_WEB_CHANNEL(channel.sid, channel.account_sid)
    return bool(deleted)


def last_message_sid(channel: ChatChannel) -> Script[str | None]:
    """The sid of the channel's newest message, for ``links.last_message``; None if empty."""
    rows = yield LAST_MESSAGE(channel.sid)
    return str(rows[0][0]) if rows else None


def list_channels(
    account_sid: str, service_sid: str, type_: str | None, window: Any
) -> Script[tuple[list[tuple[ChatChannel, str | None]], bool]]:
    """One page of the service's channels (of one type, where given), oldest first, each
    with its last message's sid; 404 if the account has no such service."""
    yield from require_service(account_sid, service_sid)
    if type_ is None:
        rows, more = yield from page(LIST_CHANNELS, (account_sid, service_sid), window)
    else:
        rows, more = yield from page(LIST_CHANNELS_OF_TYPE, (account_sid, service_sid, type_), window)
    return [(ChatChannel(*row[:-1]), row[-1]) for row in rows], more


def create_channel(
    account_sid: str,
    service_sid: str,
    *,
    friendly_name: str | None,
    unique_name: str | None,
    attributes: str,
    type_: str,
    created_by: str,
    date_created: str | None,
    date_updated: str | None,
    webhooks_enabled: bool,
) -> Script[ChatChannel]:
    """``POST /v2/Services/{IS}/Channels``: a new channel, ``onChannelAdded`` where asked."""
    yield from require_service(account_sid, service_sid)
    channel = yield from insert_channel(
        account_sid, service_sid, mint_sid("CH"), friendly_name=friendly_name, unique_name=unique_name,
        attributes=attributes, type_=type_, created_by=created_by, date_created=date_created,
        date_updated=date_updated,
    )
    if webhooks_enabled:
        yield from emit(account_sid, service_sid, channel.sid, "onChannelAdded", channel_fields(channel))
    return channel


def fetch_channel(account_sid: str, service_sid: str, ref: str) -> Script[tuple[ChatChannel, str | None]]:
    """The channel named by ``ref`` (sid or UniqueName) with its last message's sid."""
    channel = yield from require_channel(account_sid, service_sid, ref)
    last = yield from last_message_sid(channel)
    return channel, last


# What an update may change: the ChatChannel field each parameter sets.
UPDATABLE = ("friendly_name", "unique_name", "attributes", "created_by", "date_created", "date_updated")


def update_channel(
    account_sid: str, service_sid: str, ref: str, changes: dict[str, Any], *, webhooks_enabled: bool
) -> Script[tuple[ChatChannel, str | None]]:
    """Apply ``changes`` (fields of :data:`UPDATABLE`) to the channel named by ``ref``;
    ``date_updated`` becomes now unless given. ``onChannelUpdated`` where asked: the event
    programs watch for ``status: INACTIVE`` in the attributes. A UniqueName taken in the
    service is a 409; an empty one removes the name."""
    channel = yield from require_channel(account_sid, service_sid, ref, lock=True)
    values = {name: getattr(channel, name) for name in UPDATABLE}
    values.update(changes)
    if "date_updated" not in changes:
        values["date_updated"] = now_iso()
    if values["unique_name"] == "":
        values["unique_name"] = None
    try:
        rows = yield UPDATE_CHANNEL(
            values["friendly_name"], values["unique_name"], values["attributes"], values["created_by"],
            values["date_created"], values["date_updated"], channel.seq, account_sid,
        )
        if values["unique_name"] != channel.unique_name:
            yield RENAME_FLEX_CHANNEL(values["unique_name"], channel.sid, account_sid)
    except UniqueViolation:
        raise ChatUniqueNameConflict(values["unique_name"] or "") from None
    updated = ChatChannel(*rows[0])
    if webhooks_enabled:
        yield from emit(account_sid, service_sid, updated.sid, "onChannelUpdated", channel_fields(updated))
    last = yield from last_message_sid(updated)
    return updated, last
