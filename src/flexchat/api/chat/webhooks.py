"""Chat v2 channel webhooks: ``/v2/Services/{ServiceSid}/Channels/{ChannelSid}/Webhooks[/{Sid}]``."""

from __future__ import annotations

from typing import Any

from ...context import AppContext
from ...domain.chat import webhooks
from ...domain.events import POST_EVENTS
from ...domain.records import ChatWebhook
from ...errors import InvalidParameter
from ...http import Request, Response, empty_response, json_response
from ...paging import ListScope, parse_page_request
from ...params import Param, enum, integer, parse, sid, text, uri
from ..common import page_response, path_sid
from .channel_scope import channel_base, channel_path

LIST_KEY = "webhooks"
# The spec's: 5 a page by default, and at most.
DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE = 5
MAX_RETRY_COUNT = 3

CONFIGURATION_PARAMS = (
    Param("Configuration.Url", "url", uri),
    Param("Configuration.Method", "method", enum("GET", "POST")),
    Param("Configuration.FlowSid", "flow_sid", sid("FW")),
    Param("Configuration.RetryCount", "retry_count", integer),
)
TYPE = Param("Type", "type", enum(*webhooks.WEBHOOK_TYPES), required=True)


def _filter(name: str, raw: str) -> str:
    if raw not in POST_EVENTS:
        raise InvalidParameter(f"Invalid {name}: {raw!r} is not one of {', '.join(POST_EVENTS)}")
    return raw


def configuration_values(form: dict[str, str], lists: dict[str, list[str]]) -> dict[str, Any]:
    """The ``Configuration.*`` parameters present, typed; ``Filters`` and ``Triggers``
    repeat, one value each, and a repeated list replaces the stored one on update."""
    values = parse(form, CONFIGURATION_PARAMS)
    retry_count = values.get("retry_count")
    if retry_count is not None and not 0 <= retry_count <= MAX_RETRY_COUNT:
        raise InvalidParameter(f"Invalid Configuration.RetryCount: {retry_count} is not between 0 and 3")
    if "Configuration.Filters" in lists:
        values["filters"] = [_filter("Configuration.Filters", raw) for raw in lists["Configuration.Filters"] if raw]
    if "Configuration.Triggers" in lists:
        values["triggers"] = [text("Configuration.Triggers", raw) for raw in lists["Configuration.Triggers"] if raw]
    return values


def webhook_to_wire(webhook: ChatWebhook, base: str) -> dict[str, Any]:
    """The ``chat.v2.service.channel.channel_webhook`` representation."""
    config = webhook.config
    return {
        "account_sid": webhook.account_sid,
        "service_sid": webhook.service_sid,
        "channel_sid": webhook.channel_sid,
        "sid": webhook.sid,
        "type": webhook.type,
        # Keys in Chat's order; those never set (a studio webhook's url) are left out.
        "configuration": {key: config[key] for key in webhooks.CONFIGURATION_KEYS if config.get(key) is not None},
        "date_created": webhook.date_created,
        "date_updated": webhook.date_updated,
        "url": f"{channel_base(base, webhook.service_sid, webhook.channel_sid)}/Webhooks/{webhook.sid}",
    }


async def list_channel_webhooks(request: Request, ctx: AppContext) -> Response:
    """``GET .../Webhooks``: one page, oldest first (the flow's own integration among them)."""
    service_sid, ref = channel_path(request)
    scope = ListScope(LIST_KEY, request.account_sid, parent=f"{service_sid}/{ref}")
    page = parse_page_request(
        request.query, ctx.store.paging_secret, scope, default_size=DEFAULT_PAGE_SIZE, max_size=MAX_PAGE_SIZE
    )
    rows, more = await ctx.store.read(
        webhooks.list_channel_webhooks(request.account_sid, service_sid, ref, page.window)
    )
    return page_response(request, ctx, scope, page, [ChatWebhook(*row) for row in rows], more, webhook_to_wire)


async def create_channel_webhook(request: Request, ctx: AppContext) -> Response:
    """``POST .../Webhooks``: Type and its Configuration.*."""
    service_sid, ref = channel_path(request)
    form = await request.form(ctx.settings.max_body_bytes)
    lists = await request.form_lists(ctx.settings.max_body_bytes)
    type_ = parse(form, (TYPE,))["type"]
    configuration = configuration_values(form, lists)
    webhook = await ctx.store.write(
        webhooks.create_channel_webhook(request.account_sid, service_sid, ref, type_, configuration)
    )
    return json_response(webhook_to_wire(webhook, ctx.base_url(request)), 201)


async def fetch_channel_webhook(request: Request, ctx: AppContext) -> Response:
    """``GET .../Webhooks/{Sid}``."""
    service_sid, ref = channel_path(request)
    webhook = await ctx.store.read(
        webhooks.fetch_channel_webhook(request.account_sid, service_sid, ref, path_sid(request, "WH"))
    )
    return json_response(webhook_to_wire(webhook, ctx.base_url(request)))


async def update_channel_webhook(request: Request, ctx: AppContext) -> Response:
    """``POST .../Webhooks/{Sid}``: the Configuration.* given change; the rest stays."""
    service_sid, ref = channel_path(request)
    sid_ = path_sid(request, "WH")
    form = await request.form(ctx.settings.max_body_bytes)
    lists = await request.form_lists(ctx.settings.max_body_bytes)
    changes = configuration_values(form, lists)
    webhook = await ctx.store.write(
        webhooks.update_channel_webhook(request.account_sid, service_sid, ref, sid_, changes)
    )
    return json_response(webhook_to_wire(webhook, ctx.base_url(request)))


async def delete_channel_webhook(request: Request, ctx: AppContext) -> Response:
    """``DELETE .../Webhooks/{Sid}``: 204."""
    service_sid, ref = channel_path(request)
    await ctx.store.write(
        webhooks.delete_channel_webhook(request.account_sid, service_sid, ref, path_sid(request, "WH"))
    )
    return empty_response()


