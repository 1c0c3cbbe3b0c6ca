"""Flex chat channels: ``/v1/Channels`` and ``/v1/Channels/{Sid}``."""

from __future__ import annotations

from typing import Any

from ..context import AppContext
from ..errors import NotFound
from ..http import Request, Response, empty_response, json_response
from ..models import Channel, ChannelCreate
from ..paging import ListScope, parse_page_request
from ..params import Param, boolean, json_object, parse, sid
from .common import page_response, path_sid

LIST_KEY = "flex_chat_channels"

CREATE_PARAMS = (
    Param("FlexFlowSid", "flex_flow_sid", sid("FO"), required=True),
    Param("Identity", "identity", required=True),
    Param("ChatUserFriendlyName", "chat_user_friendly_name", required=True),
    Param("ChatFriendlyName", "chat_friendly_name", required=True),
    Param("Target", "target"),
    Param("ChatUniqueName", "chat_unique_name"),
    Param("PreEngagementData", "pre_engagement_data"),
    Param("TaskSid", "task_sid", sid("WT")),
    Param("TaskAttributes", "task_attributes", json_object),
    Param("LongLived", "long_lived", boolean),
)


def channel_to_wire(channel: Channel, base: str) -> dict[str, Any]:
    """The ``flex.v1.channel`` representation."""
    return {
        "account_sid": channel.account_sid,
        "flex_flow_sid": channel.flex_flow_sid,
        "sid": channel.sid,
        "user_sid": channel.user_sid,
        "task_sid": channel.task_sid,
        "url": f"{base}/v1/Channels/{channel.sid}",
        "date_created": channel.date_created,
        "date_updated": channel.date_updated,
    }


async def list_channels(request: Request, ctx: AppContext) -> Response:
    """``GET /v1/Channels``: one page, oldest first."""
    scope = ListScope(LIST_KEY, request.account_sid)
    page = parse_page_request(request.query, ctx.store.paging_secret, scope)
    items, more = await ctx.store.list_channels(request.account_sid, page.window)
    return page_response(request, ctx, scope, page, items, more, channel_to_wire)


async def create_channel(request: Request, ctx: AppContext) -> Response:
    """``POST /v1/Channels``: a new channel, or the Identity's open one on that flow."""
    values = parse(await request.form(ctx.settings.max_body_bytes), CREATE_PARAMS)
    channel = await ctx.store.create_channel(request.account_sid, ChannelCreate(**values))
    return json_response(channel_to_wire(channel, ctx.base_url(request)), 201)


async def fetch_channel(request: Request, ctx: AppContext) -> Response:
    """``GET /v1/Channels/{Sid}``."""
    channel = await ctx.store.fetch_channel(request.account_sid, path_sid(request, "CH"))
    if channel is None:
        raise NotFound(request.path)
    return json_response(channel_to_wire(channel, ctx.base_url(request)))


async def delete_channel(request: Request, ctx: AppContext) -> Response:
    """``DELETE /v1/Channels/{Sid}``: 204, or 404 if there was no such channel."""
    if not await ctx.store.delete_channel(request.account_sid, path_sid(request, "CH")):
        raise NotFound(request.path)
    return empty_response()
