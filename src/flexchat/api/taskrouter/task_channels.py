"""TaskRouter task channels: ``/v1/Workspaces/{WorkspaceSid}/TaskChannels[/{Sid}]``; a
task channel is addressed by sid or unique name."""

from __future__ import annotations

from typing import Any

from ...context import AppContext
from ...domain import taskrouter
from ...domain.records import TaskChannel
from ...http import Request, Response, empty_response, json_response
from ...paging import ListScope, parse_page_request
from ...params import Param, boolean, parse
from ..common import page_response
from .workspaces import workspace_sid, workspace_url

LIST_KEY = "channels"

CREATE_PARAMS = (
    Param("FriendlyName", "friendly_name", required=True),
    Param("UniqueName", "unique_name", required=True),
    Param("ChannelOptimizedRouting", "channel_optimized_routing", boolean),
)
UPDATE_PARAMS = (
    Param("FriendlyName", "friendly_name"),
    Param("ChannelOptimizedRouting", "channel_optimized_routing", boolean),
)


def task_channel_to_wire(channel: TaskChannel, base: str) -> dict[str, Any]:
    """The ``taskrouter.v1.workspace.task_channel`` representation."""
    workspace = workspace_url(base, channel.workspace_sid)
    return {
        "account_sid": channel.account_sid,
        "date_created": channel.date_created,
        "date_updated": channel.date_updated,
        "friendly_name": channel.friendly_name,
        "sid": channel.sid,
        "unique_name": channel.unique_name,
        "workspace_sid": channel.workspace_sid,
        "channel_optimized_routing": (
            None if channel.channel_optimized_routing is None else bool(channel.channel_optimized_routing)
        ),
        "url": f"{workspace}/TaskChannels/{channel.sid}",
        "links": {"workspace": workspace},
    }


async def list_task_channels(request: Request, ctx: AppContext) -> Response:
    """``GET .../TaskChannels``: oldest first (the six defaults come first)."""
    workspace = workspace_sid(request)
    scope = ListScope(LIST_KEY, request.account_sid, parent=f"taskrouter/{workspace}")
    page = parse_page_request(request.query, ctx.store.paging_secret, scope)
    items, more = await ctx.store.read(taskrouter.list_task_channels(request.account_sid, workspace, page.window))
    return page_response(request, ctx, scope, page, items, more, task_channel_to_wire)


async def create_task_channel(request: Request, ctx: AppContext) -> Response:
    """``POST .../TaskChannels``."""
    workspace = workspace_sid(request)
    values = parse(await request.form(ctx.settings.max_body_bytes), CREATE_PARAMS)
    channel = await ctx.store.write(taskrouter.create_task_channel(request.account_sid, workspace, **values))
    return json_response(task_channel_to_wire(channel, ctx.base_url(request)), 201)


async def fetch_task_channel(request: Request, ctx: AppContext) -> Response:
    """``GET .../TaskChannels/{Sid}`` (sid or unique name)."""
    workspace = workspace_sid(request)
    channel = await ctx.store.read(
        taskrouter.require_task_channel(request.account_sid, workspace, request.path_params["Sid"])
    )
    return json_response(task_channel_to_wire(channel, ctx.base_url(request)))


async def update_task_channel(request: Request, ctx: AppContext) -> Response:
    """``POST .../TaskChannels/{Sid}`` (sid or unique name)."""
    workspace = workspace_sid(request)
    values = parse(await request.form(ctx.settings.max_body_bytes), UPDATE_PARAMS)
    channel = await ctx.store.write(
        taskrouter.update_task_channel(request.account_sid, workspace, request.path_params["Sid"], values)
    )
    return json_response(task_channel_to_wire(channel, ctx.base_url(request)))


async def delete_task_channel(request: Request, ctx: AppContext) -> Response:
    """``DELETE .../TaskChannels/{Sid}`` (sid or unique name)."""
    workspace = workspace_sid(request)
    await ctx.store.write(taskrouter.delete_task_channel(request.account_sid, workspace, request.path_params["Sid"]))
    return empty_response()
