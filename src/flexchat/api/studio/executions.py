"""Studio executions: ``/v2/Flows/{FlowSid}/Executions[/{Sid}]``, the execution's
``Context`` and ``Steps``. Executions are keyed by FlowSid; no Flow resource is needed."""

from __future__ import annotations

from typing import Any

from ...context import AppContext
from ...domain import studio
from ...domain.records import Execution
from ...http import Request, Response, json_response
from ...paging import ListScope, parse_page_request
from ...params import Param, enum, parse
from ..common import deleted, page_response, path_sid
from ..timestamps import date_time

LIST_KEY = "executions"
STEPS_KEY = "steps"

CREATE_PARAMS = (
    Param("To", "to", required=True),
    Param("From", "from_", required=True),
    Param("Parameters", "parameters"),
)
UPDATE_PARAMS = (Param("Status", "status", enum(*studio.STATUSES), required=True),)
LIST_PARAMS = (
    Param("status", "status", enum(*studio.STATUSES)),
    Param("DateCreatedFrom", "date_created_from", date_time),
    Param("DateCreatedTo", "date_created_to", date_time),
)


def execution_url(base: str, execution: Execution) -> str:
    """The absolute URL of an execution."""
    return f"{base}/v2/Flows/{execution.flow_sid}/Executions/{execution.sid}"


def execution_to_wire(execution: Execution, base: str) -> dict[str, Any]:
    """The ``studio.v2.flow.execution`` representation; as Studio's examples show, its
    ``context`` is empty here: the context is the ``Context`` sub-resource."""
    url = execution_url(base, execution)
    return {
        "sid": execution.sid,
        "account_sid": execution.account_sid,
        "flow_sid": execution.flow_sid,
        "contact_sid": execution.contact_sid,
        "contact_channel_address": execution.contact_channel_address,
        "context": {},
        "flow_version": execution.flow_version,
        "status": execution.status,
        "date_created": execution.date_created,
        "date_updated": execution.date_updated,
        "initiated_by": execution.initiated_by,
        "url": url,
        "links": {"steps": f"{url}/Steps", "execution_context": f"{url}/Context"},
    }


async def list_executions(request: Request, ctx: AppContext) -> Response:
    """``GET /v2/Flows/{FlowSid}/Executions``: newest first, by status and creation date."""
    flow_sid = path_sid(request, "FW", "FlowSid")
    values = parse(request.query, LIST_PARAMS, where="query string")
    echoed = tuple((p.wire, request.query[p.wire]) for p in LIST_PARAMS if p.attr in values)
    scope = ListScope(LIST_KEY, request.account_sid, echoed, parent=f"studio/{flow_sid}")
    page = parse_page_request(request.query, ctx.store.paging_secret, scope)
    items, more = await ctx.store.read(
        studio.list_executions(request.account_sid, flow_sid, studio.ExecutionFilters(**values), page.window)
    )
    return page_response(request, ctx, scope, page, items, more, execution_to_wire)


async def create_execution(request: Request, ctx: AppContext) -> Response:
    """``POST /v2/Flows/{FlowSid}/Executions``: To, From, optional Parameters (JSON)."""
    flow_sid = path_sid(request, "FW", "FlowSid")
    values = parse(await request.form(ctx.settings.max_body_bytes), CREATE_PARAMS)
    parameters = studio.parameters_object(values["parameters"]) if "parameters" in values else None
    execution = await ctx.store.write(
        studio.create_execution(request.account_sid, flow_sid, values["to"], values["from_"], parameters)
    )
    return json_response(execution_to_wire(execution, ctx.base_url(request)), 201)


async def fetch_execution(request: Request, ctx: AppContext) -> Response:
    """``GET /v2/Flows/{FlowSid}/Executions/{Sid}``."""
    execution = await ctx.store.read(
        studio.require_execution(
            request.account_sid, path_sid(request, "FW", "FlowSid"), path_sid(request, "FN")
        )
    )
    return json_response(execution_to_wire(execution, ctx.base_url(request)))


async def update_execution(request: Request, ctx: AppContext) -> Response:
    """``POST /v2/Flows/{FlowSid}/Executions/{Sid}``: ``Status=ended``."""
    flow_sid = path_sid(request, "FW", "FlowSid")
    sid_ = path_sid(request, "FN")
    values = parse(await request.form(ctx.settings.max_body_bytes), UPDATE_PARAMS)
    execution = await ctx.store.write(studio.update_execution(request.account_sid, flow_sid, sid_, values["status"]))
    return json_response(execution_to_wire(execution, ctx.base_url(request)))


async def delete_execution(request: Request, ctx: AppContext) -> Response:
    """``DELETE /v2/Flows/{FlowSid}/Executions/{Sid}``."""
    flow_sid = path_sid(request, "FW", "FlowSid")
    removed = await ctx.store.write(studio.delete_execution(request.account_sid, flow_sid, path_sid(request, "FN")))
    return deleted(removed, request)


async def fetch_execution_context(request: Request, ctx: AppContext) -> Response:
    """``GET .../Executions/{ExecutionSid}/Context``: the execution's context JSON."""
    execution = await ctx.store.read(
        studio.require_execution(
            request.account_sid, path_sid(request, "FW", "FlowSid"), path_sid(request, "FN", "ExecutionSid")
        )
    )
    return json_response({
        "account_sid": execution.account_sid,
        "context": studio.context_of(execution),
        "flow_sid": execution.flow_sid,
        "execution_sid": execution.sid,
        "url": f"{execution_url(ctx.base_url(request), execution)}/Context",
    })


async def list_execution_steps(request: Request, ctx: AppContext) -> Response:
    """``GET .../Executions/{ExecutionSid}/Steps``: always empty, since flexchat runs no
    widgets; the execution must exist (404 otherwise) and paging parameters are checked."""
    flow_sid = path_sid(request, "FW", "FlowSid")
    execution_sid = path_sid(request, "FN", "ExecutionSid")
    await ctx.store.read(studio.require_execution(request.account_sid, flow_sid, execution_sid))
    scope = ListScope(STEPS_KEY, request.account_sid, parent=f"studio/{flow_sid}/{execution_sid}")
    page = parse_page_request(request.query, ctx.store.paging_secret, scope)
    return page_response(request, ctx, scope, page, [], False, lambda item, base: {})
