"""Channel messages: ``index`` per channel from 0, kept counted in ``messages_count``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...clock import now_us
from ...dates import now_iso
from ...paging import Window
from ...sids import is_sid, mint_sid
from ...store.queries.messages import (
    BUMP_MESSAGES_VERSION,
    DELETE_MESSAGE,
    FETCH_MESSAGE,
    INSERT_MESSAGE,
    LIST_MESSAGE_SEQS,
    MESSAGE_RANGE,
    TAKE_MESSAGE_INDEX,
    UNCOUNT_MESSAGE,
    UPDATE_MESSAGE,
)
from ...store.sql import Rows, Script, page_statement, seq_page
from ..events import emit, message_fields
from ..lookups import require_deleted, require_one
from ..records import ChatChannel, ChatMessage, ChatService
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


def find_service_channel(
    account_sid: str, service_sid: str, channel_ref: str, *, lock: bool = False
) -> Script[tuple[ChatService, ChatChannel]]:
    """The service and channel a ``/Services/{IS}/Channels/{ref}/...`` path names, or 404:
    an unknown service (or another account's) is a 404 like an unknown channel."""
    service = yield from require_service(account_sid, service_sid)
    channel = yield from require_channel(account_sid, service_sid, channel_ref, lock=lock)
    return service, channel


def find_channel_of(account_sid: str, service_sid: str, channel_ref: str, *, lock: bool = False) -> Script[ChatChannel]:
    """The channel a ``/Services/{IS}/Channels/{ref}/...`` path names, or 404 (see
    :func:`find_service_channel`)."""
    _, channel = yield from find_service_channel(account_sid, service_sid, channel_ref, lock=lock)
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

    ``seqs``: the row number of each message on the page, in the list's order;
    ``stamp``: the channel's ``messages_version`` in the same snapshot (a message's
    JSON rendered under this stamp is the message as it is); ``rows``: the
    ``ChatMessage`` columns of the messages the caller asked for (and of any others
    between the first and last of them).
    """

    seqs: list[int]
    stamp: int
    more: bool
    rows: Rows


def list_messages(
    account_sid: str,
    service_sid: str,
    channel_ref: str,
    window: Window,
    *,
    newest_first: bool,
    wanted: Callable[[list[int], int], list[int]] | None = None,
) -> Script[MessagePage]:
    """One page of the channel's messages (by index, either way), and whether more lie beyond.

    The page is read as row numbers with the channel's stamp; ``wanted(seqs, stamp)``
    says which of them the caller needs the rows of (by default all: a caller that holds
    a rendering of a message under that stamp needs no row), read in one statement over
    their range.

    A channel named by its sid is read in one statement, which also proves that the
    channel is the account's and in that service; a unique name, or a sid that is not
    found there, looks the channel up (which is the 404).
    """
    statement, bound = page_statement(LIST_MESSAGE_SEQS, window, newest_first)
    found = None
    if is_sid(channel_ref, "CH"):
        (found,) = yield statement(channel_ref, account_sid, service_sid, channel_ref, bound, window.limit + 1)
        channel_sid = channel_ref
    if found is None or found[0] is None:
        channel = yield from find_channel_of(account_sid, service_sid, channel_ref)
        channel_sid = channel.sid
        (found,) = yield statement(channel_sid, account_sid, service_sid, channel_sid, bound, window.limit + 1)
    stamp, packed = found
    seqs, more = seq_page(LIST_MESSAGE_SEQS, statement, packed, window)
    missing = wanted(seqs, stamp) if wanted is not None else seqs
    rows: Rows = []
    if missing:
        rows = yield MESSAGE_RANGE(channel_sid, account_sid, min(missing), max(missing))
    return MessagePage(seqs, stamp, more, rows)


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
    # The service as read here is the one the event's service webhook follows: a change to
    # the service committed while this waited for the channel's lock applies from the next
    # message (as if it had committed just after this one).
    service, channel = yield from find_service_channel(account_sid, service_sid, channel_ref, lock=True)
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
            identity=message.author if source == "SDK" else None, service=service,
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
    # The channel's row locked first, then the message read: the order a message's or a
    # channel's delete takes them in. The other way round, PostgreSQL found a deadlock
    # between an edit and a delete (a 503), or the edit lost its message to a delete that
    # committed after it was read (a 500).
    channel = yield from find_channel_of(account_sid, service_sid, channel_ref, lock=True)
    old = yield from _require_message(channel, sid)
    yield BUMP_MESSAGES_VERSION(channel.sid, account_sid)
    edited = bool(old.was_edited) or values.body is not None
    message = yield from require_one(UPDATE_MESSAGE(
        values.author if values.author is not None else old.author,
        values.body if values.body is not None else old.body,
        values.attributes if values.attributes is not None else old.attributes,
        values.last_updated_by if values.last_updated_by is not None else old.last_updated_by,
        edited,
        values.date_created or old.date_created,
        values.date_updated or now_iso(),
        old.sid, account_sid,
    ), ChatMessage, f"/Services/{channel.service_sid}/Channels/{channel.sid}/Messages/{sid}")
    if webhooks_enabled:
        yield from emit(account_sid, channel.service_sid, channel.sid, "onMessageUpdated", message_fields(message))
    return message


def delete_message(
    account_sid: str, service_sid: str, channel_ref: str, sid: str, *, webhooks_enabled: bool
) -> Script[ChatMessage]:
    """Delete a message (its index is not reused); ``onMessageRemoved`` where webhooks are enabled."""
    channel = yield from find_channel_of(account_sid, service_sid, channel_ref, lock=True)
    message = yield from _require_message(channel, sid)
    # The channel's lock already makes a second delete read after the first committed;
    # the check keeps the count right whatever reads the message some other way.
    yield from require_deleted(
        DELETE_MESSAGE(message.sid, account_sid),
        f"/Services/{channel.service_sid}/Channels/{channel.sid}/Messages/{sid}",
    )
    yield UNCOUNT_MESSAGE(channel.sid, account_sid)
    if webhooks_enabled:
        yield from emit(account_sid, channel.service_sid, channel.sid, "onMessageRemoved", message_fields(message))
    return message
