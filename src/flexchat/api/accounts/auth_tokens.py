"""Auth token rotation: ``/v1/AuthTokens/Secondary`` and ``/v1/AuthTokens/Promote``
(Twilio Accounts v1).

A secondary token works beside the primary until it is promoted (the old primary then
fails) or deleted. Tokens are shown once, in the response that makes them.
``SuppressEmailNotification`` is accepted and has nothing to suppress.
"""

from __future__ import annotations

from typing import Any

from ...context import AppContext
from ...domain import credentials
from ...errors import InvalidParameter, NotFound
from ...http import Request, Response, empty_response, json_response
from ...params import Param, boolean, parse
from ..common import require_manager

PARAMS = (Param("SuppressEmailNotification", "suppress_email_notification", boolean),)


def _wire(change: credentials.TokenChange, field: str, url: str) -> dict[str, Any]:
    return {
        "account_sid": change.account_sid,
        field: change.token,
        "date_created": change.date_created,
        "date_updated": change.date_updated,
        "url": url,
    }


async def create_secondary_token(request: Request, ctx: AppContext) -> Response:
    """``POST /v1/AuthTokens/Secondary``: a new secondary token (replacing any earlier one)."""
    require_manager(request)
    parse(await request.form(ctx.settings.max_body_bytes), PARAMS)
    change = await ctx.store.write(credentials.create_secondary_token(request.account_sid))
    if change is None:  # the account went away after authentication
        raise NotFound(request.path)
    ctx.forget_credentials(request.account_sid)
    return json_response(
        _wire(change, "secondary_auth_token", f"{ctx.base_url(request)}/v1/AuthTokens/Secondary"), 201
    )


async def delete_secondary_token(request: Request, ctx: AppContext) -> Response:
    """``DELETE /v1/AuthTokens/Secondary``: the secondary token fails from now on."""
    require_manager(request)
    parse(request.query, PARAMS)
    if not await ctx.store.write(credentials.delete_secondary_token(request.account_sid)):
        raise NotFound(request.path)
    ctx.forget_credentials(request.account_sid)
    return empty_response()


async def promote_secondary_token(request: Request, ctx: AppContext) -> Response:
    """``POST /v1/AuthTokens/Promote``: the secondary becomes the primary; the old
    primary fails from now on (on other processes within ``auth_cache_seconds``)."""
    require_manager(request)
    parse(await request.form(ctx.settings.max_body_bytes), PARAMS)
    change = await ctx.store.write(credentials.promote_secondary_token(request.account_sid))
    if change is None:
        raise InvalidParameter("There is no secondary Auth Token to promote")
    ctx.forget_credentials(request.account_sid)
    return json_response(_wire(change, "auth_token", f"{ctx.base_url(request)}/v1/AuthTokens/Promote"))
