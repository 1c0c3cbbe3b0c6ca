"""Channel members, kept counted in the channel's ``members_count``."""

from __future__ import annotations

from typing import Any

from ...dates import now_iso
from ...errors import ChatMemberExists, NotFound
from ...paging import Window
from ...sids import is_sid, mint_sid, normalize_sid
from ...store.queries.chat import COUNT_MEMBERS, FETCH_MEMBER_BY_IDENTITY, INSERT_MEMBER
from ...store.queries.members import DELETE_MEMBER, FETCH_MEMBER, LIST_MEMBERS, UPDATE_MEMBER
from ...store.sql import Rows, Script, page
from ..events import emit, member_fields
from ..lookups import require_deleted, require_one
from ..records import ChatChannel, ChatMember
from .channels import require_channel
from .services import require_service
from .users import ensure_user

# Wire names of what an update may change, by column.
UPDATABLE = ("role_sid", "attributes", "last_consumed_message_index", "last_consumption_timestamp",
             "date_created", "date_updated")


def add_member(
    channel: ChatChannel,
    identity: str,
    *,
    role_sid: str | None = None,
    attributes: str = "{}",
    last_consumed_message_index: int | None = None,
    last_consumption_timestamp: str | None = None,
    date_created: str | None = None,
    date_updated: str | None = None,
    webhooks_enabled: bool,
    source: str = "API",
    count: bool = True,
) -> Script[ChatMember]:
    """``identity`` joins ``channel`` (kept counted in ``members_count``, unless ``count``
    is False: a channel inserted in the same transaction already counting it); 409 if it
    is in."""
    now = now_iso()
    rows = yield INSERT_MEMBER(
        mint_sid("MB"), channel.account_sid, channel.service_sid, channel.sid, identity, role_sid, attributes,
        last_consumed_message_index, last_consumption_timestamp, date_created or now,
        date_updated or date_created or now,
    )
    if not rows:
        raise ChatMemberExists(identity)
    if count:
        yield COUNT_MEMBERS(1, channel.sid, channel.account_sid)
    member = ChatMember(*rows[0])
    if webhooks_enabled:
        yield from emit(channel.account_sid, channel.service_sid, channel.sid, "onMemberAdded",
                        member_fields(member), source=source)
    return member


def _channel(
    account_sid: str, service_sid: str, channel_ref: str, *, lock: bool = False
) -> Script[tuple[dict[str, Any], ChatChannel]]:
    """The service's settings and the channel; ``lock`` holds the channel's row, so a
    member is not added to (or counted out of) a channel being deleted."""
    service = yield from require_service(account_sid, service_sid)
    channel = yield from require_channel(account_sid, service_sid, channel_ref, lock=lock)
    return service.config, channel


def find_member(channel: ChatChannel, ref: str) -> Script[ChatMember | None]:
    """The channel's member named by ``ref``: an MB sid, else an identity."""
    if is_sid(ref, "MB"):
        rows = yield FETCH_MEMBER(normalize_sid(ref), channel.sid, channel.account_sid)
        if rows:
            return ChatMember(*rows[0])
    rows = yield FETCH_MEMBER_BY_IDENTITY(channel.sid, ref, ref)
    return ChatMember(*rows[0]) if rows else None


def _require_member(channel: ChatChannel, ref: str) -> Script[ChatMember]:
    member = yield from find_member(channel, ref)
    if member is None:
        raise NotFound(f"/Services/{channel.service_sid}/Channels/{channel.sid}/Members/{ref}")
    return member


def list_members(
    account_sid: str, service_sid: str, channel_ref: str, window: Window, identities: tuple[str, ...] = ()
) -> Script[tuple[Rows, bool]]:
    """One page of the channel's members, oldest first; only those of ``identities``
    where given (at most one member each, so they are read one by one and paged here)."""
    _, channel = yield from _channel(account_sid, service_sid, channel_ref)
    if not identities:
        result = yield from page(LIST_MEMBERS, (channel.sid, account_sid), window)
        return result
    found: dict[int, Any] = {}
    for identity in identities:
        rows = yield FETCH_MEMBER_BY_IDENTITY(channel.sid, identity, identity)
        for row in rows:
            found[row[0]] = row
    # Nearest first in the window's direction, as the keyset reads give rows to cut().
    if window.backward:
        rows = [found[seq] for seq in sorted(found, reverse=True) if seq < window.bound]
    else:
        rows = [found[seq] for seq in sorted(found) if seq > window.bound]
    return window.cut(rows[: window.limit + 1])


def create_member(
    account_sid: str, service_sid: str, channel_ref: str, identity: str, values: dict[str, Any],
    *, webhooks_enabled: bool,
) -> Script[ChatMember]:
    """``identity`` joins the channel (its chat user made if the service has none), with
    the service's default channel role unless RoleSid says otherwise; 409 if it is in."""
    settings, channel = yield from _channel(account_sid, service_sid, channel_ref, lock=True)
    yield from ensure_user(account_sid, channel.service_sid, identity, None)
    member = yield from add_member(
        channel, identity,
        role_sid=values.get("role_sid") or settings.get("default_channel_role_sid"),
        attributes=values.get("attributes") or "{}",
        last_consumed_message_index=values.get("last_consumed_message_index"),
        last_consumption_timestamp=values.get("last_consumption_timestamp"),
        date_created=values.get("date_created"),
        date_updated=values.get("date_updated"),
        webhooks_enabled=webhooks_enabled,
    )
    return member


def fetch_member(account_sid: str, service_sid: str, channel_ref: str, ref: str) -> Script[ChatMember]:
    """The channel's member by MB sid or identity, or 404."""
    _, channel = yield from _channel(account_sid, service_sid, channel_ref)
    member = yield from _require_member(channel, ref)
    return member


def update_member(
    account_sid: str, service_sid: str, channel_ref: str, ref: str, changes: dict[str, Any],
    *, webhooks_enabled: bool,
) -> Script[ChatMember]:
    """Change the fields in ``changes`` (column names; a None value clears a nullable
    one); ``date_updated`` becomes now unless given. ``onMemberUpdated`` where enabled."""
    _, channel = yield from _channel(account_sid, service_sid, channel_ref)
    old = yield from _require_member(channel, ref)
    new = {name: changes.get(name, getattr(old, name)) for name in UPDATABLE}
    new["date_updated"] = changes.get("date_updated") or now_iso()
    new["attributes"] = new["attributes"] or "{}"
    new["date_created"] = new["date_created"] or old.date_created
    # The member's row alone is locked (by the UPDATE), so no order to keep with a delete's
    # channel-then-member; a delete (of the member or its channel) that committed since the
    # read leaves the UPDATE no row on PostgreSQL: a 404, as if it had come first.
    member = yield from require_one(
        UPDATE_MEMBER(*(new[name] for name in UPDATABLE), old.sid, account_sid), ChatMember,
        f"/Services/{channel.service_sid}/Channels/{channel.sid}/Members/{ref}",
    )
    if webhooks_enabled:
        yield from emit(account_sid, channel.service_sid, channel.sid, "onMemberUpdated", member_fields(member))
    return member


def delete_member(
    account_sid: str, service_sid: str, channel_ref: str, ref: str, *, webhooks_enabled: bool
) -> Script[ChatMember]:
    """The member leaves the channel (counted out); ``onMemberRemoved`` where enabled."""
    _, channel = yield from _channel(account_sid, service_sid, channel_ref, lock=True)
    member = yield from _require_member(channel, ref)
    yield from require_deleted(
        DELETE_MEMBER(member.sid, account_sid), f"/Services/{channel.service_sid}/Channels/{channel.sid}/Members/{ref}"
    )
    yield COUNT_MEMBERS(-1, channel.sid, account_sid)
    if webhooks_enabled:
        yield from emit(account_sid, channel.service_sid, channel.sid, "onMemberRemoved", member_fields(member))
    return member
