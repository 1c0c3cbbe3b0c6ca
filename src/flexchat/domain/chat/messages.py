"""Channel messages: ``index`` per channel from 0, kept counted in ``messages_count``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...clock import now_us
from ...dates import now_iso
from ...paging import Window
from ...sids import is_sid, mint_sid
from ...store.queries.messages import (
    DELETE_MESSAGE,
    FETCH_MESSAGE,
    INSERT_MESSAGE,
    LIST_MESSAGE_VERSIONS,
    LIST_SERVICE_MESSAGE_VERSIONS,
    MESSAGE_RANGE,
    TAKE_MESSAGE_INDEX,
    UNCOUNT_MESSAGE,
    UPDATE_MESSAGE,
)
from ...store.sql import Rows, Script, page
from ..events import emit, message_fields
from ..lookups import require_one
from ..records import ChatChannel, ChatMessage
from .channels import require_channel
from .services import require_service

# The author of a message created without From.
SYSTEM = "system"


@dataclass(frozen=True)
class MessageCreate:
    """What ``POST .../Messages`` may set."""

    author: str = SYSTEM
    body: str | None = None
    attributes: str | None = None
    media_sid: str | None = None
    last_updated_by: str | None = None
    date_created: str | None = None
    date_updated: str | None = None


@dataclass(frozen=True)
class MessageUpdate:
    """What ``POST .../Messages/{Sid}`` may change; None leaves a field as it is."""

    author: str | None = None
    body: str | None = None
    attributes: str | None = None
    last_updated_by: str | None = None
    date_created: str | None = None
    date_updated: str | None = None


def find_channel_of(account_sid: str, service_sid: str, channel_ref: str, *, lock: bool = False) -> Script[ChatChannel]:
    """The channel a ``/Services/{IS}/Channels/{ref}/...`` path names, or 404: an unknown
    service (or another account's) is a 404 like an unknown channel."""
    yield from require_service(account_sid, service_sid)
    channel = yield from require_channel(account_sid, service_sid, channel_ref, lock=lock)
    return channel


def _require_message(channel: ChatChannel, sid: str) -> Script[ChatMessage]:
    message = yield from require_one(
        FETCH_MESSAGE(sid, channel.sid, channel.account_sid), ChatMessage,
        f"/Services/{channel.service_sid}/Channels/{channel.sid}/Messages/{sid}",
    )
    return message


@dataclass(frozen=True, slots=True)
class MessagePage:
    """One page of a channel's messages, as :func:`list_messages` reads it.

    ``versions``: (seq, version) of each message on the page, in the list's order;
    ``rows``: the ``ChatMessage`` columns plus ``version`` of the messages the caller
    asked for (and of any others between the first and last of them).
    """

    versions: list[tuple[int, int]]
    more: bool
    rows: Rows


def list_messages(
    account_sid: str,
    service_sid: str,
    channel_ref: str,
    window: Window,
    *,
    newest_first: bool,
    wanted: Callable[[list[tuple[int, int]]], list[int]] | None = None,
) -> Script[MessagePage]:
    """One page of the channel's messages (by index, either way), and whether more lie beyond.

    The page is read as (seq, version) pairs; ``wanted(pairs)`` says which of them (by
    seq) the caller needs the rows of (by default all: a caller that holds a rendering of
    a message at its version needs no row), read in one statement over their range.

    A channel named by its sid is read in one statement: messages of that channel in that
    service prove both exist. Only an empty page looks the channel up, for the 404.
    """
    channel_sid = channel_ref
    versions: Rows = []
    more = False
    if is_sid(channel_ref, "CH"):
        versions, more = yield from page(
            LIST_SERVICE_MESSAGE_VERSIONS, (channel_ref, account_sid, service_sid), window, newest_first
        )
    if not versions:
        channel = yield from find_channel_of(account_sid, service_sid, channel_ref)
        channel_sid = channel.sid
        versions, more = yield from page(LIST_MESSAGE_VERSIONS, (channel_sid, account_sid), window, newest_first)
    pairs = [(seq, version) for seq, version in versions]
    missing = wanted(pairs) if wanted is not None else [seq for seq, _ in pairs]
    rows: Rows = []
    if missing:
        rows = yield MESSAGE_RANGE(channel_sid, account_sid, min(missing), max(missing))
    return MessagePage(pairs, more, rows)


def create_message(
    account_sid: str,
    service_sid: str,
    channel_ref: str,
    values: MessageCreate,
    *,
    webhooks_enabled: bool,
    source: str = "API",
) -> Script[ChatMessage]:
    """A new message with the channel's next index: taken under the channel's row lock, so
    concurrent creates get distinct, increasing indexes. ``onMessageSent`` (or
    ``onMediaMessageSent``) goes to the outbox with it where webhooks are enabled."""
    channel = yield from find_channel_of(account_sid, service_sid, channel_ref, lock=True)
    taken = yield TAKE_MESSAGE_INDEX(channel.sid, account_sid)
    now = now_iso()
    date_created = values.date_created or now
    rows = yield INSERT_MESSAGE(
        mint_sid("IM"), account_sid, channel.service_sid, channel.sid, int(taken[0][0]), values.author,
        # Chat stores a missing Body of a text message as an empty string.
        values.body if values.body is not None or values.media_sid else "",
        values.attributes or "{}", values.media_sid, values.last_updated_by, False,
        date_created, values.date_updated or date_created, now_us(),
    )
    message = ChatMessage(*rows[0])
    if webhooks_enabled:
        event = "onMediaMessageSent" if message.media_sid else "onMessageSent"
        yield from emit(
            account_sid, channel.service_sid, channel.sid, event, message_fields(message), source=source,
            identity=message.author if source == "SDK" else None,
        )
    return message


def fetch_message(account_sid: str, service_sid: str, channel_ref: str, sid: str) -> Script[ChatMessage]:
    """The channel's message ``sid``, or 404."""
    channel = yield from find_channel_of(account_sid, service_sid, channel_ref)
    message = yield from _require_message(channel, sid)
    return message


def update_message(
    account_sid: str, service_sid: str, channel_ref: str, sid: str, values: MessageUpdate, *, webhooks_enabled: bool
) -> Script[ChatMessage]:
    """Change a message; a new Body marks it ``was_edited``. ``onMessageUpdated`` where
    webhooks are enabled."""
    channel = yield from find_channel_of(account_sid, service_sid, channel_ref)
    old = yield from _require_message(channel, sid)
    edited = bool(old.was_edited) or values.body is not None
    rows = yield UPDATE_MESSAGE(
        values.author if values.author is not None else old.author,
        values.body if values.body is not None else old.body,
        values.attributes if values.attributes is not None else old.attributes,
        values.last_updated_by if values.last_updated_by is not None else old.last_updated_by,
        edited,
        values.date_created or old.date_created,
        values.date_updated or now_iso(),
        old.sid, account_sid,
    )
    message = ChatMessage(*rows[0])
    if webhooks_enabled:
        yield from emit(account_sid, channel.service_sid, channel.sid, "onMessageUpdated", message_fields(message))
    return message


def delete_message(
    account_sid: str, service_sid: str, channel_ref: str, sid: str, *, webhooks_enabled: bool
) -> Script[ChatMessage]:
    """Delete a message (its index is not reused); ``onMessageRemoved`` where webhooks are enabled."""
    channel = yield from find_channel_of(account_sid, service_sid, channel_ref, lock=True)
    message = yield from _require_message(channel, sid)
    yield DELETE_MESSAGE(message.sid, account_sid)
    yield UNCOUNT_MESSAGE(channel.sid, account_sid)
    if webhooks_enabled:
        yield from emit(account_sid, channel.service_sid, channel.sid, "onMessageRemoved", message_fields(message))
    return message
