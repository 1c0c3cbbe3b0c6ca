"""Chat v2 members: ``/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Members[/{Sid}]``,
a member addressed by its MB sid or its identity."""

from __future__ import annotations

from typing import Any

from ...context import AppContext
from ...domain.chat import members
from ...domain.records import ChatMember
from ...errors import InvalidParameter
from ...http import Request, Response, empty_response, json_response
from ...paging import ListScope, parse_page_request
from ...params import Param, date_time, integer, json_object, parse, sid, text
from ..common import page_response, path_ref, webhooks_enabled
from .channel_scope import channel_base, channel_path

LIST_KEY = "members"
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 100
# Identity filters one list request may carry.
MAX_IDENTITIES = 100

INDEX = "LastConsumedMessageIndex"
UPDATE_PARAMS = (
    Param("RoleSid", "role_sid", sid("RL")),
    Param(INDEX, "last_consumed_message_index", integer),
    Param("LastConsumptionTimestamp", "last_consumption_timestamp", date_time),
    Param("DateCreated", "date_created", date_time),
    Param("DateUpdated", "date_updated", date_time),
    Param("Attributes", "attributes", json_object),
)
IDENTITY = Param("Identity", "identity", required=True)


def member_to_wire(member: ChatMember, base: str) -> dict[str, Any]:
    """The ``chat.v2.service.channel.member`` representation."""
    return {
        "sid": member.sid,
        "account_sid": member.account_sid,
        "channel_sid": member.channel_sid,
        "service_sid": member.service_sid,
        "identity": member.identity,
        "date_created": member.date_created,
        "date_updated": member.date_updated,
        "role_sid": member.role_sid,
        "last_consumed_message_index": member.last_consumed_message_index,
        "last_consumption_timestamp": member.last_consumption_timestamp,
        "url": f"{channel_base(base, member.service_sid, member.channel_sid)}/Members/{member.sid}",
        "attributes": member.attributes,
    }


def _member_values(form: dict[str, str]) -> dict[str, Any]:
    cleared = form.get(INDEX) == ""  # nullable: an empty value clears it
    values = parse({name: value for name, value in form.items() if not (cleared and name == INDEX)}, UPDATE_PARAMS)
    if cleared:
        values["last_consumed_message_index"] = None
    elif (values.get("last_consumed_message_index") or 0) < 0:
        raise InvalidParameter(f"Invalid {INDEX}: must not be negative")
    return values


async def list_members(request: Request, ctx: AppContext) -> Response:
    """``GET .../Members``: one page, oldest first; ``Identity`` (repeatable) filters."""
    service_sid, ref = channel_path(request)
    identities = tuple(dict.fromkeys(
        text("Identity", value) for value in request.query_lists().get("Identity", []) if value
    ))
    if len(identities) > MAX_IDENTITIES:
        raise InvalidParameter(f"Invalid Identity: at most {MAX_IDENTITIES} values")
    scope = ListScope(
        LIST_KEY, request.account_sid, tuple(("Identity", identity) for identity in identities),
        parent=f"{service_sid}/{ref}",
    )
    page = parse_page_request(
        request.query, ctx.store.paging_secret, scope, default_size=DEFAULT_PAGE_SIZE, max_size=MAX_PAGE_SIZE
    )
    rows, more = await ctx.store.read(
        members.list_members(request.account_sid, service_sid, ref, page.window, identities)
    )
    return page_response(request, ctx, scope, page, [ChatMember(*row) for row in rows], more, member_to_wire)


async def create_member(request: Request, ctx: AppContext) -> Response:
    """``POST .../Members``: Identity joins the channel; 409 if it is a member already."""
    service_sid, ref = channel_path(request)
    form = await request.form(ctx.settings.max_body_bytes)
    identity = parse(form, (IDENTITY,))["identity"]
    member = await ctx.store.write(members.create_member(
        request.account_sid, service_sid, ref, identity, _member_values(form),
        webhooks_enabled=webhooks_enabled(request),
    ))
    return json_response(member_to_wire(member, ctx.base_url(request)), 201)


async def fetch_member(request: Request, ctx: AppContext) -> Response:
    """``GET .../Members/{Sid}`` (an MB sid or an identity)."""
    service_sid, ref = channel_path(request)
    member = await ctx.store.read(members.fetch_member(request.account_sid, service_sid, ref, path_ref(request, "Sid")))
    return json_response(member_to_wire(member, ctx.base_url(request)))


async def update_member(request: Request, ctx: AppContext) -> Response:
    """``POST .../Members/{Sid}``: the fields given change."""
    service_sid, ref = channel_path(request)
    member_ref = path_ref(request, "Sid")
    values = _member_values(await request.form(ctx.settings.max_body_bytes))
    member = await ctx.store.write(members.update_member(
        request.account_sid, service_sid, ref, member_ref, values, webhooks_enabled=webhooks_enabled(request)
    ))
    return json_response(member_to_wire(member, ctx.base_url(request)))


async def delete_member(request: Request, ctx: AppContext) -> Response:
    """``DELETE .../Members/{Sid}``: 204; the channel counts one member fewer."""
    service_sid, ref = channel_path(request)
    await ctx.store.write(members.delete_member(
        request.account_sid, service_sid, ref, path_ref(request, "Sid"), webhooks_enabled=webhooks_enabled(request)
    ))
    return empty_response()
