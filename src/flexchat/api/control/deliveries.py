"""Webhook deliveries: ``/flexchat/v1/Deliveries`` (the account's outbox events, oldest
first, paged like every list) and ``/flexchat/v1/Deliveries/{Id}`` (one, with its attempts).
Authenticated like the rest of the API; an account sees only its own events."""

from __future__ import annotations

from ...context import AppContext
from ...delivery import reads
from ...errors import NotFound
from ...http import Request, Response, json_response
from ...paging import ListScope, parse_page_request
from ...params import Param, enum, parse, sid
from ..common import page_response

LIST_KEY = "deliveries"
PATH = "/flexchat/v1/Deliveries"
LIST_PARAMS = (
    Param("ChannelSid", "channel_sid", sid("CH")),
    Param("State", "state", enum(*reads.STATES)),
)


async def list_deliveries(request: Request, ctx: AppContext) -> Response:
    """``GET /flexchat/v1/Deliveries[?ChannelSid=CH...][&State=failed]``: one page."""
    query = request.query
    values = parse(query, LIST_PARAMS, where="query")
    channel_sid, state = values.get("channel_sid"), values.get("state")
    filters = tuple((name, query[name]) for name in ("ChannelSid", "State") if name in query)
    scope = ListScope(LIST_KEY, request.account_sid, filters)
    page = parse_page_request(query, ctx.store.paging_secret, scope)
    items, more = await ctx.store.read(reads.list_deliveries(request.account_sid, channel_sid, state, page.window))
    return page_response(
        request, ctx, scope, page, items, more,
        lambda event, base: reads.delivery_to_wire(event, f"{base}{PATH}/{reads.delivery_id(event.seq)}"),
    )


async def fetch_delivery(request: Request, ctx: AppContext) -> Response:
    """``GET /flexchat/v1/Deliveries/{Id}``: the event, its request fields and every attempt."""
    ident = request.path_params["Sid"]
    seq = reads.delivery_seq(ident)
    found = await ctx.store.read(reads.fetch_delivery(request.account_sid, seq)) if seq is not None else None
    if found is None:
        raise NotFound(request.path)
    event, attempts = found
    url = f"{ctx.base_url(request)}{PATH}/{ident}"
    return json_response(reads.delivery_to_wire(event, url, attempts))
