"""An account's API keys in the 2010 API: ``/2010-04-01/Accounts/{AccountSid}/Keys.json``
and ``.../Keys/{Sid}.json``, the same keys as IAM's ``/v1/Keys``.

The 2010 API's own shapes: RFC 2822 dates, no ``policy`` or ``flags``, and a list
envelope with ``uri``, ``first_page_uri``, ``next_page_uri``, ``previous_page_uri``,
``page``, ``page_size``, ``start`` and ``end`` (relative URIs) in place of ``meta``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_plus

from ...context import AppContext
from ...domain import credentials
from ...domain.records import ApiKey
from ...errors import NotFound
from ...http import Request, Response, empty_response, json_response
from ...paging import ListScope, neighbour_links, parse_page_request
from ...params import Param, parse
from ...sids import is_sid, normalize_sid
from ..common import found, path_sid, require_manager
from ..iam.keys import friendly_name, rfc2822

PARAMS = (Param("FriendlyName", "friendly_name", friendly_name),)


def key_to_wire(key: ApiKey) -> dict[str, Any]:
    """The 2010 ``api.v2010.account.key`` representation."""
    return {
        "sid": key.sid,
        "friendly_name": key.friendly_name,
        "date_created": rfc2822(key.date_created),
        "date_updated": rfc2822(key.date_updated),
    }


def _account(request: Request) -> str:
    # The path names the account; credentials act for their own only, and another
    # account's resources are a 404, as everywhere.
    require_manager(request)
    sid = request.path_params["AccountSid"]
    if not is_sid(sid, "AC") or normalize_sid(sid) != request.account_sid:
        raise NotFound(request.path)
    return request.account_sid


async def list_account_keys(request: Request, ctx: AppContext) -> Response:
    """``GET /2010-04-01/Accounts/{AccountSid}/Keys.json``."""
    account_sid = _account(request)
    scope = ListScope("keys", account_sid)
    page = parse_page_request(request.query, ctx.store.paging_secret, scope)
    items, more = await ctx.store.read(credentials.list_keys(account_sid, page.window))
    ends = (items[0].seq, items[-1].seq) if items else ()
    links = neighbour_links(ctx.store.paging_secret, scope, page.window, ends, more)
    prefix = f"{request.path}?PageSize={page.page_size}&Page="

    def uri(number: int, token: str | None) -> str:
        return f"{prefix}{number}" + (f"&PageToken={quote_plus(token)}" if token else "")

    start = page.page * page.page_size
    return json_response({
        "keys": [key_to_wire(key) for key in items],
        "uri": uri(page.page, page.token),
        "first_page_uri": uri(0, None),
        "next_page_uri": uri(page.page + 1, links.next_token) if links.next_token else None,
        "previous_page_uri": uri(max(page.page - 1, 0), links.previous_token) if links.previous_token else None,
        "page": page.page,
        "page_size": page.page_size,
        "start": start,
        "end": start + max(len(items) - 1, 0),
    })


async def create_account_key(request: Request, ctx: AppContext) -> Response:
    """``POST /2010-04-01/Accounts/{AccountSid}/Keys.json``: a standard key and its
    secret, shown this once (twilio-python's ``new_keys.create``)."""
    account_sid = _account(request)
    values = parse(await request.form(ctx.settings.max_body_bytes), PARAMS)
    new = await ctx.store.write(credentials.create_key(account_sid, values.get("friendly_name")))
    return json_response({**key_to_wire(new.key), "secret": new.secret}, 201)


async def fetch_account_key(request: Request, ctx: AppContext) -> Response:
    """``GET /2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json``."""
    key = found(await ctx.store.read(credentials.fetch_key(_account(request), path_sid(request, "SK"))), request)
    return json_response(key_to_wire(key))


async def update_account_key(request: Request, ctx: AppContext) -> Response:
    """``POST /2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json``: rename."""
    account_sid = _account(request)
    sid = path_sid(request, "SK")
    values = parse(await request.form(ctx.settings.max_body_bytes), PARAMS)
    key = found(await ctx.store.write(credentials.update_key(account_sid, sid, values.get("friendly_name"))), request)
    return json_response(key_to_wire(key))


async def delete_account_key(request: Request, ctx: AppContext) -> Response:
    """``DELETE /2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json``: revoked as in IAM."""
    account_sid = _account(request)
    if not await ctx.store.write(credentials.delete_key(account_sid, path_sid(request, "SK"))):
        raise NotFound(request.path)
    ctx.forget_credentials(account_sid)
    return empty_response()
