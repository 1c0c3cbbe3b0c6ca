"""Chat v2 messages: ``/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Messages[/{Sid}]``."""

from __future__ import annotations

from typing import Any

import orjson

from ...context import AppContext
from ...domain import flex
from ...domain.chat import messages
from ...domain.records import ChatMessage
from ...http import Request, Response, empty_response, json_response
from ...paging import ListScope, parse_page_request
from ...params import Param, date_time, enum, json_object, parse, sid
from ...rendered import RenderedRows
from ...store.sql import Row
from ..common import path_sid, rendered_page_response, webhooks_enabled
from .channel_scope import channel_base, channel_path

LIST_KEY = "messages"
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 100

UPDATE_PARAMS = (
    Param("Body", "body"),
    Param("Attributes", "attributes", json_object),
    Param("DateCreated", "date_created", date_time),
    Param("DateUpdated", "date_updated", date_time),
    Param("LastUpdatedBy", "last_updated_by"),
    Param("From", "author"),
)
CREATE_PARAMS = (*UPDATE_PARAMS, Param("MediaSid", "media_sid", sid("ME")))
ORDER = Param("Order", "order", enum("asc", "desc"))


def message_to_wire(message: ChatMessage, base: str) -> dict[str, Any]:
    """The ``chat.v2.service.channel.message`` representation."""
    media = None
    if message.media_sid:
        # flexchat keeps no media content: only the Sid the message was created with.
        media = {"sid": message.media_sid, "size": None, "content_type": None, "filename": None}
    return {
        "sid": message.sid,
        "account_sid": message.account_sid,
        "attributes": message.attributes,
        "service_sid": message.service_sid,
        "to": message.channel_sid,
        "channel_sid": message.channel_sid,
        "date_created": message.date_created,
        "date_updated": message.date_updated,
        "last_updated_by": message.last_updated_by,
        "was_edited": bool(message.was_edited),
        "from": message.author,
        "body": message.body,
        "index": message.message_index,
        "type": "media" if message.media_sid else "text",
        "media": media,
        "url": f"{channel_base(base, message.service_sid, message.channel_sid)}/Messages/{message.sid}",
    }


async def list_messages(request: Request, ctx: AppContext) -> Response:
    """``GET .../Messages``: one page by index, ``Order=asc`` (default) or ``desc``; the
    page tokens are bound to the order and the channel.

    The page is read as row numbers with the channel's stamp (``messages_version``); a
    message's JSON comes from this process's ``ctx.rendered_messages`` where it holds it
    under that stamp for this base URL, and is rendered (``message_to_wire`` and orjson,
    so the bytes are those of the dict path) from its row otherwise; a page of the same
    rows under the same stamp is the same bytes, kept whole. Reading 14 columns of 50
    rows and building their dicts was most of a page's cost; the row numbers come from
    the index alone (docs/architecture.md).
    """
    service_sid, ref = channel_path(request)
    order = parse(request.query, (ORDER,), where="query").get("order")
    filters = (("Order", order),) if order is not None else ()
    scope = ListScope(LIST_KEY, request.account_sid, filters, parent=f"{service_sid}/{ref}")
    page = parse_page_request(
        request.query, ctx.store.paging_secret, scope, default_size=DEFAULT_PAGE_SIZE, max_size=MAX_PAGE_SIZE
    )
    base = ctx.base_url(request)
    cache = ctx.rendered_messages
    # Looked up while the script runs and kept here: on PostgreSQL a concurrent request
    # may change the cache before this page is assembled.
    held: list[str | None] = []
    whole: list[bytes] = []

    def wanted(seqs: list[int], stamp: int) -> list[int]:
        items = cache.page(base, stamp, seqs)
        if items is not None:
            whole[:] = [items]
            return []
        whole.clear()
        held[:], missing = cache.lookup(base, stamp, seqs)
        return missing

    found = await ctx.store.read(messages.list_messages(
        request.account_sid, service_sid, ref, page.window, newest_first=order == "desc", wanted=wanted
    ))
    seqs = found.seqs
    if whole:
        items = whole[0]
    else:
        if found.rows:
            fresh = {row[0]: _render(row, found.stamp, base, cache) for row in found.rows}
            held = [text if text is not None else fresh.get(seq) for seq, text in zip(seqs, held, strict=True)]
        texts = [text for text in held if text is not None]
        items = ",".join(texts).encode()
        if len(texts) == len(seqs):
            cache.put_page(base, found.stamp, seqs, items)
        else:
            # A message deleted between the two reads is left out, as if deleted just before.
            seqs = [seq for seq, text in zip(seqs, held, strict=True) if text is not None]
    ends = (seqs[0], seqs[-1]) if seqs else ()
    return rendered_page_response(request, ctx, scope, page, ends, found.more, base, items)


def _render(row: Row, stamp: int, base: str, cache: RenderedRows) -> str:
    """The wire JSON of a message row (``ChatMessage``'s columns), held in ``cache`` under
    the channel's ``stamp`` for the next page that shows it."""
    text = orjson.dumps(message_to_wire(ChatMessage(*row), base)).decode()
    cache.put(base, row[0], stamp, text)
    return text


async def create_message(request: Request, ctx: AppContext) -> Response:
    """``POST .../Messages``: a new message with the channel's next index."""
    service_sid, ref = channel_path(request)
    values = parse(await request.form(ctx.settings.max_body_bytes), CREATE_PARAMS)
    if not values.get("author"):  # absent or empty: Chat's author of REST messages
        values["author"] = messages.SYSTEM
    message = await ctx.store.write(flex.create_message(
        request.account_sid, service_sid, ref, messages.MessageCreate(**values),
        webhooks_enabled=webhooks_enabled(request),
    ))
    return json_response(message_to_wire(message, ctx.base_url(request)), 201)


async def fetch_message(request: Request, ctx: AppContext) -> Response:
    """``GET .../Messages/{Sid}``."""
    service_sid, ref = channel_path(request)
    message = await ctx.store.read(messages.fetch_message(
        request.account_sid, service_sid, ref, path_sid(request, "IM")
    ))
    return json_response(message_to_wire(message, ctx.base_url(request)))


async def update_message(request: Request, ctx: AppContext) -> Response:
    """``POST .../Messages/{Sid}``: Body (marks it edited), Attributes, From, dates."""
    service_sid, ref = channel_path(request)
    sid_ = path_sid(request, "IM")
    values = parse(await request.form(ctx.settings.max_body_bytes), UPDATE_PARAMS)
    if values.get("author") == "":
        del values["author"]
    message = await ctx.store.write(messages.update_message(
        request.account_sid, service_sid, ref, sid_, messages.MessageUpdate(**values),
        webhooks_enabled=webhooks_enabled(request),
    ))
    return json_response(message_to_wire(message, ctx.base_url(request)))


async def delete_message(request: Request, ctx: AppContext) -> Response:
    """``DELETE .../Messages/{Sid}``: 204; the index is never reused."""
    service_sid, ref = channel_path(request)
    await ctx.store.write(messages.delete_message(
        request.account_sid, service_sid, ref, path_sid(request, "IM"),
        webhooks_enabled=webhooks_enabled(request),
    ))
    return empty_response()
