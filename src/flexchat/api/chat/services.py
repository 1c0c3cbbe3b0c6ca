"""Chat v2 services: ``/v2/Services`` and ``/v2/Services/{Sid}``."""

from __future__ import annotations

from typing import Any

from ...context import AppContext
from ...domain.chat import services
from ...domain.events import POST_EVENTS
from ...domain.records import ChatService
from ...errors import InvalidParameter
from ...http import Request, Response, json_response
from ...paging import ListScope, parse_page_request
from ...params import Param, boolean, bounded, enum, parse, sid, text, uri
from ..common import deleted, page_response, path_sid

LIST_KEY = "services"
# Chat v2 lists page at most 100 items (the spec's PageSize maximum).
MAX_PAGE_SIZE = 100

# Every event a service's webhooks may name: Chat's pre-events and its post-events.
PRE_EVENTS = (
    "onMessageSend", "onMessageRemove", "onMessageUpdate", "onMediaMessageSend", "onChannelAdd",
    "onChannelUpdate", "onChannelDestroy", "onMemberAdd", "onMemberUpdate", "onMemberRemove", "onUserUpdate",
)
WEBHOOK_EVENTS = PRE_EVENTS + POST_EVENTS

_NOTIFICATIONS = {
    "NewMessage": "new_message",
    "AddedToChannel": "added_to_channel",
    "RemovedFromChannel": "removed_from_channel",
    "InvitedToChannel": "invited_to_channel",
}
_RETRY_COUNT = bounded(0, 3)  # as a channel webhook's Configuration.RetryCount

CREATE_PARAMS = (Param("FriendlyName", "friendly_name", required=True),)
# Wire name -> settings key (dotted into nested objects), as the service shows it.
UPDATE_PARAMS = (
    Param("FriendlyName", "friendly_name"),
    Param("DefaultServiceRoleSid", "default_service_role_sid", sid("RL")),
    Param("DefaultChannelRoleSid", "default_channel_role_sid", sid("RL")),
    Param("DefaultChannelCreatorRoleSid", "default_channel_creator_role_sid", sid("RL")),
    Param("ReadStatusEnabled", "read_status_enabled", boolean),
    Param("ReachabilityEnabled", "reachability_enabled", boolean),
    Param("TypingIndicatorTimeout", "typing_indicator_timeout", bounded(0, 2**31 - 1)),
    Param("ConsumptionReportInterval", "consumption_report_interval", bounded(0, 2**31 - 1)),
    Param("Notifications.LogEnabled", "notifications.log_enabled", boolean),
    *(
        param
        for wire, key in _NOTIFICATIONS.items()
        for param in (
            Param(f"Notifications.{wire}.Enabled", f"notifications.{key}.enabled", boolean),
            Param(f"Notifications.{wire}.Template", f"notifications.{key}.template", text),
            Param(f"Notifications.{wire}.Sound", f"notifications.{key}.sound", text),
        )
    ),
    Param("Notifications.NewMessage.BadgeCountEnabled", "notifications.new_message.badge_count_enabled", boolean),
    Param("PreWebhookUrl", "pre_webhook_url", uri),
    Param("PostWebhookUrl", "post_webhook_url", uri),
    Param("WebhookMethod", "webhook_method", enum("GET", "POST")),
    Param("Limits.ChannelMembers", "limits.channel_members", bounded(1, 1000)),
    Param("Limits.UserChannels", "limits.user_channels", bounded(1, 1000)),
    Param("Media.CompatibilityMessage", "media.compatibility_message", text),
    Param("PreWebhookRetryCount", "pre_webhook_retry_count", _RETRY_COUNT),
    Param("PostWebhookRetryCount", "post_webhook_retry_count", _RETRY_COUNT),
)
# An empty value clears these (Chat's way of removing a webhook URL).
_CLEARABLE = {"PreWebhookUrl", "PostWebhookUrl"}


# What a service whose stored settings predate a field shows for it.
_DEFAULTS = services.default_settings()


def service_sid(request: Request, name: str = "Sid") -> str:
    """The service Sid of the path (``{Sid}`` or ``{ServiceSid}``); a malformed one is a 404."""
    return path_sid(request, "IS", name)


def webhook_filters(values: list[str]) -> list[str]:
    """``WebhookFilters`` as sent (repeated), empty values dropped (one empty value
    clears the list); each must be a Chat webhook event."""
    filters = [value for value in values if value != ""]
    for value in filters:
        if value not in WEBHOOK_EVENTS:
            raise InvalidParameter(f"Invalid WebhookFilters: {value!r} is not a Chat webhook event")
    return list(dict.fromkeys(filters))


def service_to_wire(service: ChatService, base: str) -> dict[str, Any]:
    """The ``chat.v2.service`` representation."""
    settings = _DEFAULTS | service.config
    url = f"{base}/v2/Services/{service.sid}"
    return {
        "sid": service.sid,
        "account_sid": service.account_sid,
        "friendly_name": service.friendly_name,
        "date_created": service.date_created,
        "date_updated": service.date_updated,
        **{key: settings[key] for key in (
            "default_service_role_sid", "default_channel_role_sid", "default_channel_creator_role_sid",
            "read_status_enabled", "reachability_enabled", "typing_indicator_timeout",
            "consumption_report_interval", "limits", "pre_webhook_url", "post_webhook_url", "webhook_method",
            "webhook_filters", "pre_webhook_retry_count", "post_webhook_retry_count", "notifications", "media",
        )},
        "url": url,
        "links": {
            "channels": f"{url}/Channels",
            "users": f"{url}/Users",
            "roles": f"{url}/Roles",
            "bindings": f"{url}/Bindings",
        },
    }


async def list_services(request: Request, ctx: AppContext) -> Response:
    """``GET /v2/Services``: one page, oldest first."""
    scope = ListScope(LIST_KEY, request.account_sid)
    page = parse_page_request(request.query, ctx.store.paging_secret, scope, max_size=MAX_PAGE_SIZE)
    items, more = await ctx.store.read(services.list_services(request.account_sid, page.window))
    return page_response(request, ctx, scope, page, items, more, service_to_wire)


async def create_service(request: Request, ctx: AppContext) -> Response:
    """``POST /v2/Services``."""
    values = parse(await request.form(ctx.settings.max_body_bytes), CREATE_PARAMS)
    service = await ctx.store.write(services.create_service(request.account_sid, values["friendly_name"]))
    return json_response(service_to_wire(service, ctx.base_url(request)), 201)


async def fetch_service(request: Request, ctx: AppContext) -> Response:
    """``GET /v2/Services/{Sid}``."""
    service = await ctx.store.read(services.require_service(request.account_sid, service_sid(request)))
    return json_response(service_to_wire(service, ctx.base_url(request)))


async def update_service(request: Request, ctx: AppContext) -> Response:
    """``POST /v2/Services/{Sid}``: every parameter optional; nested fields are merged."""
    sid_ = service_sid(request)
    limit = ctx.settings.max_body_bytes
    form = await request.form(limit)
    cleared = {wire for wire in _CLEARABLE if form.get(wire) == ""}
    values = parse({name: value for name, value in form.items() if name not in cleared}, UPDATE_PARAMS)
    values.update({param.attr: None for param in UPDATE_PARAMS if param.wire in cleared})
    repeated = (await request.form_lists(limit)).get("WebhookFilters")
    if repeated is not None:
        values["webhook_filters"] = webhook_filters(repeated)
    friendly_name = values.pop("friendly_name", None)
    service = await ctx.store.write(services.update_service(request.account_sid, sid_, friendly_name, values))
    return json_response(service_to_wire(service, ctx.base_url(request)))


async def delete_service(request: Request, ctx: AppContext) -> Response:
    """``DELETE /v2/Services/{Sid}``: its channels and users go with it."""
    return deleted(await ctx.store.write(services.delete_service(request.account_sid, service_sid(request))), request)
