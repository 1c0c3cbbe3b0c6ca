"""TaskRouter tasks: ``/v1/Workspaces/{WorkspaceSid}/Tasks[/{Sid}]``."""

from __future__ import annotations

import calendar
import time
from typing import Any
from urllib.parse import parse_qsl

from ...context import AppContext
from ...dates import now_iso
from ...domain import taskrouter
from ...domain.expressions import compile_expression
from ...domain.records import Task
from ...domain.taskrouter import STATUSES, TaskChanges, TaskFilters, parse_ordering
from ...errors import InvalidParameter
from ...http import Request, Response, empty_response, json_response
from ...paging import ListScope, parse_page_request
from ...params import Param, boolean, enum, integer, json_object, parse, sid
from ..common import page_response, path_sid
from ..timestamps import date_time
from .workspaces import workspace_sid, workspace_url

LIST_KEY = "tasks"
EARLIEST_VIRTUAL_START = "1900-01-01T00:00:00Z"


def _ignore_capacity(name: str, raw: str) -> bool:
    """TaskRouter reads ``true``, ``1`` or ``yes`` as true and anything else as false."""
    return raw.strip().lower() in ("true", "1", "yes")


CREATE_PARAMS = (
    Param("Timeout", "timeout", integer),
    Param("Priority", "priority", integer),
    Param("TaskChannel", "task_channel"),
    Param("WorkflowSid", "workflow_sid", sid("WW")),
    Param("Attributes", "attributes", json_object),
    Param("VirtualStartTime", "virtual_start_time", date_time),
    Param("RoutingTarget", "routing_target"),
    Param("IgnoreCapacity", "ignore_capacity", _ignore_capacity),
    Param("TaskQueueSid", "task_queue_sid", sid("WQ")),
)
UPDATE_PARAMS = (
    Param("Attributes", "attributes", json_object),
    Param("AssignmentStatus", "assignment_status", enum(*STATUSES)),
    Param("Reason", "reason"),
    Param("Priority", "priority", integer),
    Param("TaskChannel", "task_channel"),
    Param("VirtualStartTime", "virtual_start_time", date_time),
)
LIST_PARAMS = (
    Param("Priority", "priority", integer),
    Param("WorkflowSid", "workflow_sid", sid("WW")),
    Param("WorkflowName", "workflow_name"),
    Param("TaskQueueSid", "task_queue_sid", sid("WQ")),
    Param("TaskQueueName", "task_queue_name"),
    Param("EvaluateTaskAttributes", "evaluate_task_attributes"),
    Param("RoutingTarget", "routing_target"),
    Param("HasAddons", "has_addons", boolean),
)


def _age(date_created: str) -> int:
    """Seconds since ``date_created`` (as now_iso writes it)."""
    created = calendar.timegm(time.strptime(date_created, "%Y-%m-%dT%H:%M:%SZ"))
    return max(0, int(time.time()) - created)


def task_to_wire(task: Task, base: str) -> dict[str, Any]:
    """The ``taskrouter.v1.workspace.task`` representation."""
    workspace = workspace_url(base, task.workspace_sid)
    url = f"{workspace}/Tasks/{task.sid}"
    links = {"workspace": workspace, "reservations": f"{url}/Reservations"}
    if task.workflow_sid:
        links["workflow"] = f"{workspace}/Workflows/{task.workflow_sid}"
    if task.task_queue_sid:
        links["task_queue"] = f"{workspace}/TaskQueues/{task.task_queue_sid}"
    return {
        "account_sid": task.account_sid,
        "age": _age(task.date_created),
        "assignment_status": task.assignment_status,
        "attributes": task.attributes,
        "addons": task.addons,
        "date_created": task.date_created,
        "date_updated": task.date_updated,
        "task_queue_entered_date": task.task_queue_entered_date,
        "priority": task.priority,
        "reason": task.reason,
        "sid": task.sid,
        "task_queue_sid": task.task_queue_sid,
        "task_queue_friendly_name": task.task_queue_friendly_name,
        "task_channel_sid": task.task_channel_sid,
        "task_channel_unique_name": task.task_channel_unique_name,
        "timeout": task.timeout,
        "workflow_sid": task.workflow_sid,
        "workflow_friendly_name": task.workflow_friendly_name,
        "workspace_sid": task.workspace_sid,
        "url": url,
        "links": links,
        "virtual_start_time": task.virtual_start_time,
        "ignore_capacity": None if task.ignore_capacity is None else bool(task.ignore_capacity),
        "routing_target": task.routing_target,
    }


def _task_response(task: Task, base: str, status: int = 200) -> Response:
    """A task with its version as ETag, what If-Match compares."""
    return json_response(task_to_wire(task, base), status, {"ETag": str(task.version)})


def _check_virtual_start_time(value: str | None) -> None:
    if value is not None and not EARLIEST_VIRTUAL_START <= value <= now_iso():
        raise InvalidParameter("Invalid VirtualStartTime: it can't be in the future or before the year 1900")


def task_filters(request: Request) -> tuple[TaskFilters, tuple[tuple[str, str], ...]]:
    """The list's filters, and the query pairs that echo them (page URLs, token scope).

    ``AssignmentStatus`` repeats (and a value may also be comma-separated)."""
    raw = request.scope.get("query_string", b"").decode("utf-8", "replace")
    statuses: list[str] = []
    for name, value in parse_qsl(raw, keep_blank_values=True):
        if name == "AssignmentStatus":
            for status in value.split(","):
                status = status.strip()
                if status not in STATUSES:
                    raise InvalidParameter(f"Invalid AssignmentStatus: {status!r} is not one of {', '.join(STATUSES)}")
                if status not in statuses:
                    statuses.append(status)
    values = parse(request.query, LIST_PARAMS, where="query string")
    ordering_raw = request.query.get("Ordering")
    ordering = parse_ordering(ordering_raw) if ordering_raw else (("seq", "asc"),)
    if values.get("evaluate_task_attributes") is not None:
        # Checked here so a bad expression is a 400 before any read.
        compile_expression(values["evaluate_task_attributes"], "EvaluateTaskAttributes")
    echoed: list[tuple[str, str]] = [("AssignmentStatus", status) for status in statuses]
    for param in LIST_PARAMS:
        if param.wire in request.query and param.attr in values:
            echoed.append((param.wire, request.query[param.wire]))
    if ordering_raw:
        echoed.append(("Ordering", ordering_raw))
    return TaskFilters(assignment_statuses=tuple(statuses), ordering=ordering, **values), tuple(echoed)


async def list_tasks(request: Request, ctx: AppContext) -> Response:
    """``GET .../Tasks`` with the spec's filters (see docs/compatibility.md for which)."""
    workspace = workspace_sid(request)
    filters, echoed = task_filters(request)
    scope = ListScope(LIST_KEY, request.account_sid, echoed, parent=f"taskrouter/{workspace}")
    page = parse_page_request(request.query, ctx.store.paging_secret, scope)
    items, more = await ctx.store.read(taskrouter.list_tasks(request.account_sid, workspace, filters, page.window))
    return page_response(request, ctx, scope, page, items, more, task_to_wire)


async def create_task(request: Request, ctx: AppContext) -> Response:
    """``POST .../Tasks``: a pending task."""
    workspace = workspace_sid(request)
    values = parse(await request.form(ctx.settings.max_body_bytes), CREATE_PARAMS)
    _check_virtual_start_time(values.get("virtual_start_time"))
    task = await ctx.store.write(
        taskrouter.create_task(
            request.account_sid, workspace, values.pop("workflow_sid", None), values.pop("attributes", "{}"),
            values.pop("priority", None), values.pop("timeout", None), values.pop("task_channel", None), **values,
        )
    )
    return _task_response(task, ctx.base_url(request), 201)


async def fetch_task(request: Request, ctx: AppContext) -> Response:
    """``GET .../Tasks/{Sid}``."""
    workspace = workspace_sid(request)
    task = await ctx.store.read(taskrouter.require_task(request.account_sid, workspace, path_sid(request, "WT")))
    return _task_response(task, ctx.base_url(request))


async def update_task(request: Request, ctx: AppContext) -> Response:
    """``POST .../Tasks/{Sid}``: a move TaskRouter does not allow is a 400 (code 20001)."""
    workspace = workspace_sid(request)
    sid_ = path_sid(request, "WT")
    values = parse(await request.form(ctx.settings.max_body_bytes), UPDATE_PARAMS)
    _check_virtual_start_time(values.get("virtual_start_time"))
    changes = TaskChanges(**values, if_match=request.headers.get("if-match"))
    move = await ctx.store.write(taskrouter.update_task(request.account_sid, workspace, sid_, changes))
    return _task_response(move.task, ctx.base_url(request))


async def delete_task(request: Request, ctx: AppContext) -> Response:
    """``DELETE .../Tasks/{Sid}``."""
    workspace = workspace_sid(request)
    await ctx.store.write(
        taskrouter.delete_task(
            request.account_sid, workspace, path_sid(request, "WT"), request.headers.get("if-match")
        )
    )
    return empty_response()
