"""TaskRouter workspaces: ``/v1/Workspaces`` and ``/v1/Workspaces/{Sid}``."""

from __future__ import annotations

from typing import Any

from ...context import AppContext
from ...domain import taskrouter
from ...domain.records import Workspace
from ...http import Request, Response, json_response
from ...paging import ListScope, parse_page_request
from ...params import Param, boolean, enum, parse, sid, uri
from ..common import deleted, exact_filter, page_response, path_sid

LIST_KEY = "workspaces"

QUEUE_ORDERS = ("FIFO", "LIFO")
CREATE_PARAMS = (
    Param("FriendlyName", "friendly_name", required=True),
    Param("EventCallbackUrl", "event_callback_url", uri),
    Param("EventsFilter", "events_filter"),
    Param("MultiTaskEnabled", "multi_task_enabled", boolean),
    Param("Template", "template", enum("NONE", "FIFO")),
    Param("PrioritizeQueueOrder", "prioritize_queue_order", enum(*QUEUE_ORDERS)),
)
UPDATE_PARAMS = (
    Param("FriendlyName", "friendly_name"),
    Param("EventCallbackUrl", "event_callback_url", uri),
    Param("EventsFilter", "events_filter"),
    Param("MultiTaskEnabled", "multi_task_enabled", boolean),
    Param("PrioritizeQueueOrder", "prioritize_queue_order", enum(*QUEUE_ORDERS)),
    Param("DefaultActivitySid", "default_activity_sid", sid("WA")),
    Param("TimeoutActivitySid", "timeout_activity_sid", sid("WA")),
)
# Sub-resources TaskRouter links from a workspace (flexchat serves tasks, workflows and
# task channels; the others are Twilio's links, kept so clients see the same shape).
_LINKS = {
    "activities": "Activities", "statistics": "Statistics", "real_time_statistics": "RealTimeStatistics",
    "cumulative_statistics": "CumulativeStatistics", "task_queues": "TaskQueues", "tasks": "Tasks",
    "workers": "Workers", "workflows": "Workflows", "task_channels": "TaskChannels", "events": "Events",
}


def workspace_sid(request: Request) -> str:
    """The path's ``{WorkspaceSid}``; a malformed one is a 404 like an unknown one."""
    return path_sid(request, "WS", "WorkspaceSid")


def workspace_url(base: str, sid_: str) -> str:
    """The absolute URL of a workspace."""
    return f"{base}/v1/Workspaces/{sid_}"


def workspace_to_wire(workspace: Workspace, base: str) -> dict[str, Any]:
    """The ``taskrouter.v1.workspace`` representation."""
    url = workspace_url(base, workspace.sid)
    return {
        "account_sid": workspace.account_sid,
        "date_created": workspace.date_created,
        "date_updated": workspace.date_updated,
        "default_activity_name": workspace.default_activity_name,
        "default_activity_sid": workspace.default_activity_sid,
        "event_callback_url": workspace.event_callback_url,
        "events_filter": workspace.events_filter,
        "friendly_name": workspace.friendly_name,
        "multi_task_enabled": bool(workspace.multi_task_enabled),
        "prioritize_queue_order": workspace.prioritize_queue_order,
        "sid": workspace.sid,
        "timeout_activity_name": workspace.timeout_activity_name,
        "timeout_activity_sid": workspace.timeout_activity_sid,
        "url": url,
        "links": {name: f"{url}/{path}" for name, path in _LINKS.items()},
    }


async def list_workspaces(request: Request, ctx: AppContext) -> Response:
    """``GET /v1/Workspaces``, optionally by exact ``FriendlyName``; oldest first."""
    friendly_name, filters = exact_filter(request, "FriendlyName")
    scope = ListScope(LIST_KEY, request.account_sid, filters, parent="taskrouter")
    page = parse_page_request(request.query, ctx.store.paging_secret, scope)
    items, more = await ctx.store.read(taskrouter.list_workspaces(request.account_sid, friendly_name, page.window))
    return page_response(request, ctx, scope, page, items, more, workspace_to_wire)


async def create_workspace(request: Request, ctx: AppContext) -> Response:
    """``POST /v1/Workspaces``: with the default task channels (and Template=FIFO's workflow)."""
    values = parse(await request.form(ctx.settings.max_body_bytes), CREATE_PARAMS)
    workspace = await ctx.store.write(taskrouter.create_workspace(request.account_sid, **values))
    return json_response(workspace_to_wire(workspace, ctx.base_url(request)), 201)


async def fetch_workspace(request: Request, ctx: AppContext) -> Response:
    """``GET /v1/Workspaces/{Sid}``."""
    workspace = await ctx.store.read(taskrouter.require_workspace(request.account_sid, path_sid(request, "WS")))
    return json_response(workspace_to_wire(workspace, ctx.base_url(request)))


async def update_workspace(request: Request, ctx: AppContext) -> Response:
    """``POST /v1/Workspaces/{Sid}``: every parameter optional."""
    sid_ = path_sid(request, "WS")
    values = parse(await request.form(ctx.settings.max_body_bytes), UPDATE_PARAMS)
    workspace = await ctx.store.write(taskrouter.update_workspace(request.account_sid, sid_, values))
    return json_response(workspace_to_wire(workspace, ctx.base_url(request)))


async def delete_workspace(request: Request, ctx: AppContext) -> Response:
    """``DELETE /v1/Workspaces/{Sid}``: with everything in it."""
    removed = await ctx.store.write(taskrouter.delete_workspace(request.account_sid, path_sid(request, "WS")))
    return deleted(removed, request)
