"""Chat v2 channels: ``/v2/Services/{ServiceSid}/Channels`` and ``.../Channels/{Sid}``,
a channel addressed by its sid or its UniqueName."""

from __future__ import annotations

from typing import Any

from ...context import AppContext
from ...domain import flex
from ...domain.chat import channels
from ...domain.records import ChatChannel
from ...errors import InvalidParameter
from ...http import Request, Response, empty_response, json_response
from ...paging import ListScope, parse_page_request
from ...params import Param, date_time, enum, json_text, parse
from ..common import page_response, path_ref, webhooks_enabled
from .services import MAX_PAGE_SIZE, service_sid

LIST_KEY = "channels"

UPDATE_PARAMS = (
    Param("FriendlyName", "friendly_name"),
    Param("UniqueName", "unique_name"),
    Param("Attributes", "attributes", json_text),
    Param("DateCreated", "date_created", date_time),
    Param("DateUpdated", "date_updated", date_time),
    Param("CreatedBy", "created_by"),
)
CREATE_PARAMS = (*UPDATE_PARAMS, Param("Type", "type_", enum(*channels.CHANNEL_TYPES)))


def channel_to_wire(channel: ChatChannel, base: str, last_message_sid: str | None) -> dict[str, Any]:
    """The ``chat.v2.service.channel`` representation."""
    url = f"{base}/v2/Services/{channel.service_sid}/Channels/{channel.sid}"
    return {
        "sid": channel.sid,
        "account_sid": channel.account_sid,
        "service_sid": channel.service_sid,
        "friendly_name": channel.friendly_name,
        "unique_name": channel.unique_name,
        "attributes": channel.attributes,
        "type": channel.type,
        "date_created": channel.date_created,
        "date_updated": channel.date_updated,
        "created_by": channel.created_by,
        "members_count": channel.members_count,
        "messages_count": channel.messages_count,
        "url": url,
        "links": {
            "members": f"{url}/Members",
            "messages": f"{url}/Messages",
            "invites": f"{url}/Invites",
            "webhooks": f"{url}/Webhooks",
            "last_message": None if last_message_sid is None else f"{url}/Messages/{last_message_sid}",
        },
    }


def _item_to_wire(item: tuple[ChatChannel, str | None], base: str) -> dict[str, Any]:
    return channel_to_wire(item[0], base, item[1])


class _Seq:
    """A list item as page_response reads it: the channel's row number."""

    __slots__ = ("item", "seq")

    def __init__(self, item: tuple[ChatChannel, str | None]) -> None:
        self.item = item
        self.seq = item[0].seq


def channel_type_filter(request: Request) -> str | None:
    """The ``Type`` filter (repeatable): one type, or None for both (or none named)."""
    values = request.query_lists().get("Type", [])
    wanted = set()
    for value in values:
        if value not in channels.CHANNEL_TYPES:
            raise InvalidParameter(f"Invalid Type: {value!r} is not one of {', '.join(channels.CHANNEL_TYPES)}")
        wanted.add(value)
    return wanted.pop() if len(wanted) == 1 else None


async def list_channels(request: Request, ctx: AppContext) -> Response:
    """``GET /v2/Services/{ServiceSid}/Channels``: one page, oldest first; ``Type`` filters."""
    service = service_sid(request, "ServiceSid")
    type_ = channel_type_filter(request)
    filters = (("Type", type_),) if type_ is not None else ()
    scope = ListScope(LIST_KEY, request.account_sid, filters, parent=service)
    page = parse_page_request(request.query, ctx.store.paging_secret, scope, max_size=MAX_PAGE_SIZE)
    items, more = await ctx.store.read(channels.list_channels(request.account_sid, service, type_, page.window))
    return page_response(
        request, ctx, scope, page, [_Seq(item) for item in items], more,
        lambda wrapped, base: _item_to_wire(wrapped.item, base),
    )


async def create_channel(request: Request, ctx: AppContext) -> Response:
    """``POST /v2/Services/{ServiceSid}/Channels``."""
    service = service_sid(request, "ServiceSid")
    values = parse(await request.form(ctx.settings.max_body_bytes), CREATE_PARAMS)
    channel = await ctx.store.write(channels.create_channel(
        request.account_sid, service,
        friendly_name=values.get("friendly_name"),
        unique_name=values.get("unique_name") or None,
        attributes=values.get("attributes", "{}"),
        type_=values.get("type_", "public"),
        created_by=values.get("created_by") or "system",
        date_created=values.get("date_created"),
        date_updated=values.get("date_updated"),
        webhooks_enabled=webhooks_enabled(request),
    ))
    return json_response(channel_to_wire(channel, ctx.base_url(request), None), 201)


async def fetch_channel(request: Request, ctx: AppContext) -> Response:
    """``GET /v2/Services/{ServiceSid}/Channels/{Sid}`` (a sid or a UniqueName)."""
    service = service_sid(request, "ServiceSid")
    ref = path_ref(request, "Sid")
    channel, last = await ctx.store.read(channels.fetch_channel(request.account_sid, service, ref))
    return json_response(channel_to_wire(channel, ctx.base_url(request), last))


async def update_channel(request: Request, ctx: AppContext) -> Response:
    """``POST /v2/Services/{ServiceSid}/Channels/{Sid}``: the parameters sent change;
    ``onChannelUpdated`` with ``X-Twilio-Webhook-Enabled: true``."""
    service = service_sid(request, "ServiceSid")
    values = parse(await request.form(ctx.settings.max_body_bytes), UPDATE_PARAMS)
    channel, last = await ctx.store.write(flex.update_chat_channel(
        request.account_sid, service, path_ref(request, "Sid"), values, webhooks_enabled=webhooks_enabled(request)
    ))
    return json_response(channel_to_wire(channel, ctx.base_url(request), last))


async def delete_channel(request: Request, ctx: AppContext) -> Response:
    """``DELETE /v2/Services/{ServiceSid}/Channels/{Sid}``: with its members, messages and
    webhooks, and the Flex channel that is the same channel; ``onChannelDestroyed`` with
    the header."""
    service = service_sid(request, "ServiceSid")
    await ctx.store.write(channels.delete_channel(
        request.account_sid, service, path_ref(request, "Sid"), webhooks_enabled=webhooks_enabled(request)
    ))
    return empty_response()
