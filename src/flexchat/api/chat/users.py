"""Chat v2 users: ``/v2/Services/{ServiceSid}/Users`` and ``.../Users/{Sid}``, a user
addressed by its sid or its Identity."""

from __future__ import annotations

from typing import Any

from ...context import AppContext
from ...domain.chat import users
from ...domain.records import ChatService, ChatUser
from ...http import Request, Response, empty_response, json_response
from ...paging import ListScope, parse_page_request
from ...params import Param, json_text, parse, sid
from ..common import page_response, path_ref, webhooks_enabled
from .services import MAX_PAGE_SIZE, service_sid

LIST_KEY = "users"

UPDATE_PARAMS = (
    Param("RoleSid", "role_sid", sid("RL")),
    Param("Attributes", "attributes", json_text),
    Param("FriendlyName", "friendly_name"),
)
CREATE_PARAMS = (Param("Identity", "identity", required=True), *UPDATE_PARAMS)


def user_to_wire(service: ChatService, user: ChatUser, joined_channels_count: int, base: str) -> dict[str, Any]:
    """The ``chat.v2.service.user`` representation. Reachability is not tracked, so
    ``is_online`` / ``is_notifiable`` are null, as Chat shows them with it disabled."""
    url = f"{base}/v2/Services/{user.service_sid}/Users/{user.sid}"
    return {
        "sid": user.sid,
        "account_sid": user.account_sid,
        "service_sid": user.service_sid,
        "attributes": user.attributes,
        "friendly_name": user.friendly_name,
        # Users Flex made carry no role of their own: the service's default user role.
        "role_sid": user.role_sid or service.config.get("default_service_role_sid"),
        "identity": user.identity,
        "is_online": None,
        "is_notifiable": None,
        "date_created": user.date_created,
        "date_updated": user.date_updated,
        "joined_channels_count": joined_channels_count,
        "links": {"user_channels": f"{url}/Channels", "user_bindings": f"{url}/Bindings"},
        "url": url,
    }


class _Item:
    """A list item as page_response reads it (``seq``), with what its wire form needs."""

    __slots__ = ("joined", "seq", "service", "user")

    def __init__(self, service: ChatService, user: ChatUser, joined: int) -> None:
        self.service, self.user, self.joined, self.seq = service, user, joined, user.seq


async def list_users(request: Request, ctx: AppContext) -> Response:
    """``GET /v2/Services/{ServiceSid}/Users``: one page, oldest first."""
    service_sid_ = service_sid(request, "ServiceSid")
    scope = ListScope(LIST_KEY, request.account_sid, parent=service_sid_)
    page = parse_page_request(request.query, ctx.store.paging_secret, scope, max_size=MAX_PAGE_SIZE)
    service, items, more = await ctx.store.read(users.list_users(request.account_sid, service_sid_, page.window))
    return page_response(
        request, ctx, scope, page, [_Item(service, user, joined) for user, joined in items], more,
        lambda item, base: user_to_wire(item.service, item.user, item.joined, base),
    )


async def create_user(request: Request, ctx: AppContext) -> Response:
    """``POST /v2/Services/{ServiceSid}/Users``: 409 if the Identity exists."""
    service_sid_ = service_sid(request, "ServiceSid")
    values = parse(await request.form(ctx.settings.max_body_bytes), CREATE_PARAMS)
    service, user = await ctx.store.write(users.create_user(
        request.account_sid, service_sid_, values["identity"],
        role_sid=values.get("role_sid"), attributes=values.get("attributes", "{}"),
        friendly_name=values.get("friendly_name"), webhooks_enabled=webhooks_enabled(request),
    ))
    return json_response(user_to_wire(service, user, 0, ctx.base_url(request)), 201)


async def fetch_user(request: Request, ctx: AppContext) -> Response:
    """``GET /v2/Services/{ServiceSid}/Users/{Sid}`` (a sid or an Identity)."""
    service_sid_ = service_sid(request, "ServiceSid")
    service, user, joined = await ctx.store.read(
        users.fetch_user(request.account_sid, service_sid_, path_ref(request, "Sid"))
    )
    return json_response(user_to_wire(service, user, joined, ctx.base_url(request)))


async def update_user(request: Request, ctx: AppContext) -> Response:
    """``POST /v2/Services/{ServiceSid}/Users/{Sid}``: the parameters sent change; an
    unknown user is a 404 even with an empty form (programs' existence check)."""
    service_sid_ = service_sid(request, "ServiceSid")
    values = parse(await request.form(ctx.settings.max_body_bytes), UPDATE_PARAMS)
    service, user, joined = await ctx.store.write(users.update_user(
        request.account_sid, service_sid_, path_ref(request, "Sid"), values,
        webhooks_enabled=webhooks_enabled(request),
    ))
    return json_response(user_to_wire(service, user, joined, ctx.base_url(request)))


async def delete_user(request: Request, ctx: AppContext) -> Response:
    """``DELETE /v2/Services/{ServiceSid}/Users/{Sid}``."""
    service_sid_ = service_sid(request, "ServiceSid")
    await ctx.store.write(users.delete_user(request.account_sid, service_sid_, path_ref(request, "Sid")))
    return empty_response()
