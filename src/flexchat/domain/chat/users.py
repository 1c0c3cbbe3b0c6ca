"""Chat users: one per Identity in a service, addressed by sid or Identity; a user's
channels are its memberships."""

from __future__ import annotations

from typing import Any

from ...dates import now_iso
from ...errors import ChatUserExists, NotFound
from ...sids import mint_sid
from ...store.queries.chat import FETCH_USER, FETCH_USER_BY_IDENTITY, INSERT_USER
from ...store.queries.users import (
    COUNT_JOINED,
    DELETE_USER,
    FETCH_USER_CHANNEL,
    FETCH_USER_FOR_UPDATE,
    LIST_USER_CHANNELS,
    LIST_USERS,
    UPDATE_USER,
)
from ...store.sql import Script, page
from ..events import emit, iso_millis
from ..lookups import find_by_sid_or_name, require_deleted
from ..records import ChatMember, ChatService, ChatUser
from .channels import require_channel
from .services import require_service


def ensure_user(account_sid: str, service_sid: str, identity: str, friendly_name: str | None) -> Script[ChatUser]:
    """The service's user ``identity``, created if it does not exist (a Flex channel's
    customer is reused across channels)."""
    now = now_iso()
    rows = yield INSERT_USER(
        mint_sid("US"), account_sid, service_sid, identity, friendly_name, "{}", None, now, now
    )
    if not rows:  # exists (or a concurrent create won): READ COMMITTED sees it now
        rows = yield FETCH_USER_BY_IDENTITY(account_sid, service_sid, identity, identity)
    return ChatUser(*rows[0])


def find_user(account_sid: str, service_sid: str, ref: str, *, lock: bool = False) -> Script[ChatUser | None]:
    """The service's user named by ``ref``: a US sid, else an Identity. ``lock`` holds its
    row until the transaction ends (PostgreSQL), for read-modify-write."""
    found = yield from find_by_sid_or_name(
        ref, "US", ChatUser, (account_sid, service_sid), FETCH_USER, FETCH_USER_BY_IDENTITY,
        by_sid_for_update=FETCH_USER_FOR_UPDATE if lock else None,
    )
    return found


def require_user(account_sid: str, service_sid: str, ref: str, *, lock: bool = False) -> Script[ChatUser]:
    """:func:`find_user`, or 404 (``POST Users/{identity}`` with an empty form is how
    programs ask whether a user exists)."""
    user = yield from find_user(account_sid, service_sid, ref, lock=lock)
    if user is None:
        raise NotFound(f"/Services/{service_sid}/Users/{ref}")
    return user


def user_fields(user: ChatUser) -> dict[str, str]:
    """What a user event says about the user."""
    fields = {
        "UserSid": user.sid,
        "Identity": user.identity,
        "Attributes": user.attributes,
        "DateCreated": iso_millis(user.date_created),
        "DateUpdated": iso_millis(user.date_updated),
    }
    if user.friendly_name is not None:
        fields["FriendlyName"] = user.friendly_name
    if user.role_sid is not None:
        fields["RoleSid"] = user.role_sid
    return fields


def joined_channels(user: ChatUser) -> Script[int]:
    """How many channels the user is a member of."""
    rows = yield COUNT_JOINED(user.account_sid, user.service_sid, user.identity, user.identity)
    return int(rows[0][0])


def list_users(
    account_sid: str, service_sid: str, window: Any
) -> Script[tuple[ChatService, list[tuple[ChatUser, int]], bool]]:
    """The service and one page of its users with their joined channel counts; 404 if the
    account has no such service."""
    service = yield from require_service(account_sid, service_sid)
    rows, more = yield from page(LIST_USERS, (account_sid, service_sid), window)
    return service, [(ChatUser(*row[:-1]), int(row[-1])) for row in rows], more


def create_user(
    account_sid: str,
    service_sid: str,
    identity: str,
    *,
    role_sid: str | None,
    attributes: str,
    friendly_name: str | None,
    webhooks_enabled: bool,
) -> Script[tuple[ChatService, ChatUser]]:
    """``POST /v2/Services/{IS}/Users``: 409 if the Identity is taken in the service. The
    role is the service's default user role unless given."""
    service = yield from require_service(account_sid, service_sid)
    now = now_iso()
    rows = yield INSERT_USER(
        mint_sid("US"), account_sid, service_sid, identity, friendly_name, attributes,
        role_sid or service.config.get("default_service_role_sid"), now, now,
    )
    if not rows:
        raise ChatUserExists(identity)
    user = ChatUser(*rows[0])
    if webhooks_enabled:
        yield from emit(account_sid, service_sid, None, "onUserAdded", user_fields(user))
    return service, user


def fetch_user(account_sid: str, service_sid: str, ref: str) -> Script[tuple[ChatService, ChatUser, int]]:
    """The service, its user ``ref`` (sid or Identity) and the user's joined channel count."""
    service = yield from require_service(account_sid, service_sid)
    user = yield from require_user(account_sid, service_sid, ref)
    joined = yield from joined_channels(user)
    return service, user, joined


def update_user(
    account_sid: str, service_sid: str, ref: str, changes: dict[str, Any], *, webhooks_enabled: bool
) -> Script[tuple[ChatService, ChatUser, int]]:
    """Apply ``changes`` (``friendly_name``, ``attributes``, ``role_sid``) to the user
    ``ref``; ``onUserUpdated`` where asked and something was sent."""
    service = yield from require_service(account_sid, service_sid)
    user = yield from require_user(account_sid, service_sid, ref, lock=True)
    if changes:
        rows = yield UPDATE_USER(
            changes.get("friendly_name", user.friendly_name), changes.get("attributes", user.attributes),
            changes.get("role_sid", user.role_sid), now_iso(), user.sid, account_sid,
        )
        user = ChatUser(*rows[0])
        if webhooks_enabled:
            yield from emit(account_sid, service_sid, None, "onUserUpdated", user_fields(user))
    joined = yield from joined_channels(user)
    return service, user, joined


def delete_user(account_sid: str, service_sid: str, ref: str) -> Script[ChatUser]:
    """Delete the user ``ref``; its memberships stay (they are the channels' members,
    keyed by Identity), as Flex channels that name the user's sid do."""
    user = yield from require_user(account_sid, service_sid, ref, lock=True)
    yield from require_deleted(DELETE_USER(user.sid, account_sid), f"/Services/{service_sid}/Users/{ref}")
    return user


def list_user_channels(
    account_sid: str, service_sid: str, ref: str, window: Any
) -> Script[tuple[ChatUser, list[tuple[ChatMember, int | None]], bool]]:
    """The user ``ref`` and one page of its memberships, oldest first, each with its unread
    message count (None until the member reports a consumed index)."""
    yield from require_service(account_sid, service_sid)
    user = yield from require_user(account_sid, service_sid, ref)
    rows, more = yield from page(LIST_USER_CHANNELS, (account_sid, service_sid, user.identity, user.identity), window)
    return user, [_user_channel(row) for row in rows], more


def fetch_user_channel(
    account_sid: str, service_sid: str, ref: str, channel_ref: str
) -> Script[tuple[ChatUser, ChatMember, int | None]]:
    """The user ``ref``'s membership of the channel ``channel_ref`` (sid or UniqueName); 404
    if either is unknown or the user is not a member."""
    user = yield from require_user(account_sid, service_sid, ref)
    channel = yield from require_channel(account_sid, service_sid, channel_ref)
    rows = yield FETCH_USER_CHANNEL(channel.sid, account_sid, user.identity, user.identity)
    if not rows:
        raise NotFound(f"/Services/{service_sid}/Users/{ref}/Channels/{channel_ref}")
    member, unread = _user_channel(rows[0])
    return user, member, unread


def _user_channel(row: Any) -> tuple[ChatMember, int | None]:
    member = ChatMember(*row[:-1])
    return member, None if member.last_consumed_message_index is None else int(row[-1])
