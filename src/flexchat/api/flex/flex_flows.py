"""Flex Flows: ``/v1/FlexFlows`` and ``/v1/FlexFlows/{Sid}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...context import AppContext
from ...domain.chat.services import ensure_service
from ...http import Request, Response, json_response
from ...models import CHANNEL_TYPES, INTEGRATION_KEYS, INTEGRATION_TYPES, FlexFlow, FlexFlowFields, new_flex_flow
from ...paging import ListScope, parse_page_request
from ...params import Param, boolean, enum, integer, parse, sid, text, uri
from ..common import deleted, exact_filter, found, page_response, path_sid

LIST_KEY = "flex_flows"

_INTEGRATION_CONVERTERS = {
    "Integration.FlowSid": sid("FW"),
    "Integration.Url": uri,
    "Integration.WorkspaceSid": sid("WS"),
    "Integration.WorkflowSid": sid("WW"),
    "Integration.Timeout": integer,
    "Integration.Priority": integer,
    "Integration.CreationOnMessage": boolean,
    "Integration.RetryCount": integer,
}

UPDATE_PARAMS = (
    Param("FriendlyName", "friendly_name"),
    Param("ChatServiceSid", "chat_service_sid", sid("IS")),
    Param("ChannelType", "channel_type", enum(*CHANNEL_TYPES)),
    Param("ContactIdentity", "contact_identity"),
    Param("Enabled", "enabled", boolean),
    Param("IntegrationType", "integration_type", enum(*INTEGRATION_TYPES)),
    Param("LongLived", "long_lived", boolean),
    Param("JanitorEnabled", "janitor_enabled", boolean),
    *(
        Param(wire, "integration." + key, _INTEGRATION_CONVERTERS.get(wire, text))
        for wire, key in INTEGRATION_KEYS.items()
    ),
)
_REQUIRED_ON_CREATE = {"FriendlyName", "ChatServiceSid", "ChannelType"}
CREATE_PARAMS = tuple(Param(p.wire, p.attr, p.convert, required=p.wire in _REQUIRED_ON_CREATE) for p in UPDATE_PARAMS)


def flex_flow_fields(form: Mapping[str, str], params: tuple[Param, ...]) -> FlexFlowFields:
    """The form as typed Flex Flow fields, Integration.* gathered into one object."""
    values = parse(form, params)
    integration = {
        name.removeprefix("integration."): values.pop(name) for name in list(values) if name.startswith("integration.")
    }
    return FlexFlowFields(**values, integration=integration)


def flex_flow_to_wire(flow: FlexFlow, base: str) -> dict[str, Any]:
    """The ``flex.v1.flex_flow`` representation."""
    return {
        "account_sid": flow.account_sid,
        "date_created": flow.date_created,
        "date_updated": flow.date_updated,
        "sid": flow.sid,
        "friendly_name": flow.friendly_name,
        "chat_service_sid": flow.chat_service_sid,
        "channel_type": flow.channel_type,
        "contact_identity": flow.contact_identity,
        "enabled": flow.enabled,
        "integration_type": flow.integration_type,
        "integration": flow.integration,
        "long_lived": flow.long_lived,
        "janitor_enabled": flow.janitor_enabled,
        "url": f"{base}/v1/FlexFlows/{flow.sid}",
    }


async def ensure_chat_service(ctx: AppContext, flow: FlexFlow) -> None:
    """Make the flow's chat service exist (Chat's defaults, Flex's name) so that
    ``GET /v2/Services/{ChatServiceSid}`` answers right after the flow is saved, as it
    would on an account that came with its service. Each account has its own service of
    a given sid (schema step 3), so a made-up sid is never another account's."""
    await ctx.store.write(ensure_service(flow.account_sid, flow.chat_service_sid))


async def list_flex_flows(request: Request, ctx: AppContext) -> Response:
    """``GET /v1/FlexFlows``, optionally filtered by exact ``FriendlyName``."""
    friendly_name, filters = exact_filter(request, "FriendlyName")
    scope = ListScope(LIST_KEY, request.account_sid, filters)
    page = parse_page_request(request.query, ctx.store.paging_secret, scope)
    items, more = await ctx.store.list_flex_flows(request.account_sid, friendly_name, page.window)
    return page_response(request, ctx, scope, page, items, more, flex_flow_to_wire)


async def create_flex_flow(request: Request, ctx: AppContext) -> Response:
    """``POST /v1/FlexFlows``."""
    fields = flex_flow_fields(await request.form(ctx.settings.max_body_bytes), CREATE_PARAMS)
    flow = await ctx.store.create_flex_flow(new_flex_flow(request.account_sid, fields))
    await ensure_chat_service(ctx, flow)
    return json_response(flex_flow_to_wire(flow, ctx.base_url(request)), 201)


async def fetch_flex_flow(request: Request, ctx: AppContext) -> Response:
    """``GET /v1/FlexFlows/{Sid}``."""
    flow = found(await ctx.store.fetch_flex_flow(request.account_sid, path_sid(request, "FO")), request)
    return json_response(flex_flow_to_wire(flow, ctx.base_url(request)))


async def update_flex_flow(request: Request, ctx: AppContext) -> Response:
    """``POST /v1/FlexFlows/{Sid}``: every parameter optional; Integration.* are merged."""
    sid_ = path_sid(request, "FO")
    fields = flex_flow_fields(await request.form(ctx.settings.max_body_bytes), UPDATE_PARAMS)
    flow = found(await ctx.store.update_flex_flow(request.account_sid, sid_, fields), request)
    if fields.chat_service_sid is not None:
        await ensure_chat_service(ctx, flow)
    return json_response(flex_flow_to_wire(flow, ctx.base_url(request)))


async def delete_flex_flow(request: Request, ctx: AppContext) -> Response:
    """``DELETE /v1/FlexFlows/{Sid}``; the flow's channels stay (see docs/compatibility.md)."""
    return deleted(await ctx.store.delete_flex_flow(request.account_sid, path_sid(request, "FO")), request)
