"""Flex web channels: ``/v1/WebChannels`` and ``/v1/WebChannels/{Sid}``."""

from __future__ import annotations

from typing import Any

from ...context import AppContext
from ...domain import flex
from ...domain.records import WebChannel
from ...http import Request, Response, json_response
from ...models import ChannelCreate
from ...paging import ListScope, parse_page_request
from ...params import Param, enum, parse, sid
from ..common import deleted, found, page_response, path_sid

LIST_KEY = "flex_chat_channels"

CREATE_PARAMS = (
    Param("FlexFlowSid", "flex_flow_sid", sid("FO"), required=True),
    Param("Identity", "identity", required=True),
    Param("CustomerFriendlyName", "chat_user_friendly_name", required=True),
    Param("ChatFriendlyName", "chat_friendly_name", required=True),
    Param("ChatUniqueName", "chat_unique_name"),
    Param("PreEngagementData", "pre_engagement_data"),
)
UPDATE_PARAMS = (
    Param("ChatStatus", "chat_status", enum("inactive")),
    Param("PostEngagementData", "post_engagement_data"),
)


def web_channel_to_wire(channel: WebChannel, base: str) -> dict[str, Any]:
    """The ``flex.v1.web_channel`` representation."""
    return {
        "account_sid": channel.account_sid,
        "flex_flow_sid": channel.flex_flow_sid,
        "sid": channel.sid,
        "url": f"{base}/v1/WebChannels/{channel.sid}",
        "date_created": channel.date_created,
        "date_updated": channel.date_updated,
    }


async def list_web_channels(request: Request, ctx: AppContext) -> Response:
    """``GET /v1/WebChannels``: one page, oldest first."""
    scope = ListScope(LIST_KEY, request.account_sid, parent="web")
    page = parse_page_request(request.query, ctx.store.paging_secret, scope)
    items, more = await ctx.store.read(flex.list_web_channels(request.account_sid, page.window))
    return page_response(request, ctx, scope, page, items, more, web_channel_to_wire)


async def create_web_channel(request: Request, ctx: AppContext) -> Response:
    """``POST /v1/WebChannels``."""
    values = parse(await request.form(ctx.settings.max_body_bytes), CREATE_PARAMS)
    channel = await ctx.store.write(flex.create_web_channel(request.account_sid, ChannelCreate(**values)))
    return json_response(web_channel_to_wire(channel, ctx.base_url(request)), 201)


async def fetch_web_channel(request: Request, ctx: AppContext) -> Response:
    """``GET /v1/WebChannels/{Sid}``."""
    channel = found(await ctx.store.read(flex.fetch_web_channel(request.account_sid, path_sid(request, "CH"))), request)
    return json_response(web_channel_to_wire(channel, ctx.base_url(request)))


async def update_web_channel(request: Request, ctx: AppContext) -> Response:
    """``POST /v1/WebChannels/{Sid}``: ``ChatStatus=inactive`` ends the chat."""
    sid_ = path_sid(request, "CH")
    values = parse(await request.form(ctx.settings.max_body_bytes), UPDATE_PARAMS)
    channel = await ctx.store.write(
        flex.update_web_channel(
            request.account_sid, sid_, values.get("chat_status"), values.get("post_engagement_data")
        )
    )
    return json_response(web_channel_to_wire(found(channel, request), ctx.base_url(request)))


async def delete_web_channel(request: Request, ctx: AppContext) -> Response:
    """``DELETE /v1/WebChannels/{Sid}``."""
    removed = await ctx.store.write(flex.delete_web_channel(request.account_sid, path_sid(request, "CH")))
    return deleted(removed, request)
