"""TaskRouter workflows: ``/v1/Workspaces/{WorkspaceSid}/Workflows[/{Sid}]``."""

from __future__ import annotations

from typing import Any

from ...context import AppContext
from ...domain import taskrouter
from ...domain.records import Workflow
from ...http import Request, Response, json_response
from ...paging import ListScope, parse_page_request
from ...params import Param, integer, parse, uri
from ..common import deleted, exact_filter, page_response, path_sid
from .workspaces import workspace_sid, workspace_url

LIST_KEY = "workflows"

UPDATE_PARAMS = (
    Param("FriendlyName", "friendly_name"),
    Param("Configuration", "configuration"),
    Param("AssignmentCallbackUrl", "assignment_callback_url", uri),
    Param("FallbackAssignmentCallbackUrl", "fallback_assignment_callback_url", uri),
    Param("TaskReservationTimeout", "task_reservation_timeout", integer),
)
CREATE_PARAMS = tuple(
    Param(p.wire, p.attr, p.convert, required=p.wire in ("FriendlyName", "Configuration")) for p in UPDATE_PARAMS
)
# Accepted as the spec lists it; flexchat routes a task once, when it is created.
REEVALUATE = Param("ReEvaluateTasks", "re_evaluate_tasks")


def workflow_to_wire(workflow: Workflow, base: str) -> dict[str, Any]:
    """The ``taskrouter.v1.workspace.workflow`` representation."""
    url = f"{workspace_url(base, workflow.workspace_sid)}/Workflows/{workflow.sid}"
    return {
        "account_sid": workflow.account_sid,
        "assignment_callback_url": workflow.assignment_callback_url,
        "configuration": workflow.configuration,
        "date_created": workflow.date_created,
        "date_updated": workflow.date_updated,
        "document_content_type": "application/json",
        "fallback_assignment_callback_url": workflow.fallback_assignment_callback_url,
        "friendly_name": workflow.friendly_name,
        "sid": workflow.sid,
        "task_reservation_timeout": workflow.task_reservation_timeout,
        "workspace_sid": workflow.workspace_sid,
        "url": url,
        "links": {
            "statistics": f"{url}/Statistics",
            "real_time_statistics": f"{url}/RealTimeStatistics",
            "cumulative_statistics": f"{url}/CumulativeStatistics",
        },
    }


async def list_workflows(request: Request, ctx: AppContext) -> Response:
    """``GET .../Workflows``, optionally by exact ``FriendlyName``; oldest first."""
    workspace = workspace_sid(request)
    friendly_name, filters = exact_filter(request, "FriendlyName")
    scope = ListScope(LIST_KEY, request.account_sid, filters, parent=workspace)
    page = parse_page_request(request.query, ctx.store.paging_secret, scope)
    items, more = await ctx.store.read(
        taskrouter.list_workflows(request.account_sid, workspace, friendly_name, page.window)
    )
    return page_response(request, ctx, scope, page, items, more, workflow_to_wire)


async def create_workflow(request: Request, ctx: AppContext) -> Response:
    """``POST .../Workflows``: FriendlyName and a valid Configuration."""
    workspace = workspace_sid(request)
    values = parse(await request.form(ctx.settings.max_body_bytes), CREATE_PARAMS)
    workflow = await ctx.store.write(taskrouter.create_workflow(request.account_sid, workspace, **values))
    return json_response(workflow_to_wire(workflow, ctx.base_url(request)), 201)


async def fetch_workflow(request: Request, ctx: AppContext) -> Response:
    """``GET .../Workflows/{Sid}``."""
    workspace = workspace_sid(request)
    workflow = await ctx.store.read(
        taskrouter.require_workflow(request.account_sid, workspace, path_sid(request, "WW"))
    )
    return json_response(workflow_to_wire(workflow, ctx.base_url(request)))


async def update_workflow(request: Request, ctx: AppContext) -> Response:
    """``POST .../Workflows/{Sid}``: every parameter optional."""
    workspace = workspace_sid(request)
    sid_ = path_sid(request, "WW")
    form = await request.form(ctx.settings.max_body_bytes)
    values = parse(form, UPDATE_PARAMS)
    parse(form, (REEVALUATE,))
    workflow = await ctx.store.write(taskrouter.update_workflow(request.account_sid, workspace, sid_, values))
    return json_response(workflow_to_wire(workflow, ctx.base_url(request)))


async def delete_workflow(request: Request, ctx: AppContext) -> Response:
    """``DELETE .../Workflows/{Sid}``."""
    workspace = workspace_sid(request)
    removed = await ctx.store.write(taskrouter.delete_workflow(request.account_sid, workspace, path_sid(request, "WW")))
    return deleted(removed, request)
