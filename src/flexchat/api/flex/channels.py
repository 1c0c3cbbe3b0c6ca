"""Flex chat channels: ``/v1/Channels`` and ``/v1/Channels/{Sid}``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...context import AppContext
from ...domain import flex
from ...http import Request, Response, json_response
from ...models import Channel, ChannelCreate
from ...paging import ListScope, parse_page_request
from ...params import Param, boolean, json_object, parse, sid
from ..common import deleted, found, json_safe, page_response, path_sid

LIST_KEY = "flex_chat_channels"
_NULL = "null"
_QUOTE = '"'

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


def channels_json(channels: Sequence[Channel], base: str, account_sid: str) -> str | None:
    """``channel_to_wire`` of each channel of ``account_sid`` as JSON text, comma-separated,
    byte for byte what orjson writes for those dicts; None where that cannot be vouched for.

    A third of the cost of building the dicts and serialising them, which matters on a
    page of up to 1,000. Nothing needs escaping: every field is a Sid that was checked
    (or minted) on its way in or a timestamp flexchat wrote; the account (which the
    store's query selected on) and the base URL are checked here. Each channel keeps its
    text for the base URL it was last written for (``Channel.rendered``): the channels
    of the first pages, which clients poll, come from the store's channel cache
    (store/channel_cache.py), so they are written once, not on every request.
    """
    if not (json_safe(base) and json_safe(account_sid)):
        return None
    parts = []
    for channel in channels:
        rendered = channel.rendered
        if rendered is None or rendered[0] != base:
            rendered = channel.rendered = (base, _channel_json(channel, base, account_sid))
        parts.append(rendered[1])
    return ",".join(parts)


def _channel_json(c: Channel, base: str, account_sid: str) -> str:
    task = _NULL if c.task_sid is None else _QUOTE + c.task_sid + _QUOTE
    return (
        f'{{"account_sid":"{account_sid}","flex_flow_sid":"{c.flex_flow_sid}","sid":"{c.sid}",'
        f'"user_sid":"{c.user_sid}","task_sid":{task},"url":"{base}/v1/Channels/{c.sid}",'
        f'"date_created":"{c.date_created}","date_updated":"{c.date_updated}"}}'
    )


async def list_channels(request: Request, ctx: AppContext) -> Response:
    """``GET /v1/Channels``: one page, oldest first."""
    scope = ListScope(LIST_KEY, request.account_sid)
    page = parse_page_request(request.query, ctx.store.paging_secret, scope)
    items, more = await ctx.store.list_channels(request.account_sid, page.window)
    account_sid = request.account_sid
    return page_response(
        request, ctx, scope, page, items, more, channel_to_wire,
        lambda channels, base: channels_json(channels, base, account_sid),
    )


async def create_channel(request: Request, ctx: AppContext) -> Response:
    """``POST /v1/Channels``: a new channel, or the Identity's open one on that flow."""
    values = parse(await request.form(ctx.settings.max_body_bytes), CREATE_PARAMS)
    channel = await ctx.store.write(flex.create_channel(request.account_sid, ChannelCreate(**values)))
    return json_response(channel_to_wire(channel, ctx.base_url(request)), 201)


async def fetch_channel(request: Request, ctx: AppContext) -> Response:
    """``GET /v1/Channels/{Sid}``."""
    channel = found(await ctx.store.fetch_channel(request.account_sid, path_sid(request, "CH")), request)
    return json_response(channel_to_wire(channel, ctx.base_url(request)))


async def delete_channel(request: Request, ctx: AppContext) -> Response:
    """``DELETE /v1/Channels/{Sid}``: 204, or 404 if there was no such channel."""
    return deleted(await ctx.store.write(flex.delete_channel(request.account_sid, path_sid(request, "CH"))), request)
