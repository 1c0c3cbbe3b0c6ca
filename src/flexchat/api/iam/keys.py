"""API keys: ``/v1/Keys`` and ``/v1/Keys/{Sid}`` (Twilio IAM v1).

The secret is in the create response only; every later view has none. Keys made here
are standard keys; ``KeyType=restricted`` (Twilio's fine-grained policies) is refused
with a 400 rather than made into a key that would ignore its policy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from ...context import AppContext
from ...domain import credentials
from ...domain.records import ApiKey
from ...errors import InvalidParameter, MissingParameter, NotFound, Unauthorized
from ...http import Request, Response, empty_response, json_response
from ...paging import ListScope, parse_page_request
from ...params import Param, parse, sid, text
from ..common import found, page_response, path_sid, require_manager

LIST_KEY = "keys"
MAX_FRIENDLY_NAME = 64


def friendly_name(name: str, raw: str) -> str:
    """Up to 64 characters, as the spec says."""
    value = text(name, raw)
    if len(value) > MAX_FRIENDLY_NAME:
        raise InvalidParameter(f"Invalid {name}: longer than {MAX_FRIENDLY_NAME} characters")
    return value


CREATE_PARAMS = (
    Param("AccountSid", "account_sid", sid("AC"), required=True),
    Param("FriendlyName", "friendly_name", friendly_name),
    Param("KeyType", "key_type"),
    Param("Policy", "policy"),
)
UPDATE_PARAMS = (
    Param("FriendlyName", "friendly_name", friendly_name),
    Param("Policy", "policy"),
)


def rfc2822(iso: str) -> str:
    """IAM's dates: ``Mon, 13 Jun 2016 22:50:08 +0000`` from the stored ISO 8601 UTC."""
    moment = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return format_datetime(moment).replace("-0000", "+0000")


def key_to_wire(key: ApiKey, base: str = "") -> dict[str, Any]:
    """The ``iam.v1.key`` representation (fetch, update)."""
    return {
        "sid": key.sid,
        "friendly_name": key.friendly_name,
        "date_created": rfc2822(key.date_created),
        "date_updated": rfc2822(key.date_updated),
        "policy": None,
    }


def listed_key_to_wire(key: ApiKey, base: str = "") -> dict[str, Any]:
    """The ``iam.v1.get_keys`` representation (list items)."""
    return {
        "sid": key.sid,
        "friendly_name": key.friendly_name,
        "date_created": rfc2822(key.date_created),
        "date_updated": rfc2822(key.date_updated),
        "flags": ["rest_api", "signing"],
    }


def _own_account(request: Request, account_sid: str) -> None:
    # Credentials act for their own account only; another's Sid is refused as Twilio
    # refuses credentials "scoped to the wrong account" (401 / 20003).
    if account_sid != request.account_sid:
        raise Unauthorized()


def _refuse_policy(values: dict[str, Any]) -> None:
    key_type = values.get("key_type")
    if key_type == "restricted" or values.get("policy") is not None:
        raise InvalidParameter("Restricted API keys (KeyType=restricted, Policy) are not supported by flexchat")
    if key_type is not None and key_type != "standard":
        raise InvalidParameter(f"Invalid KeyType: {key_type!r}")


async def list_keys(request: Request, ctx: AppContext) -> Response:
    """``GET /v1/Keys?AccountSid=AC...``: the account's keys, oldest first."""
    require_manager(request)
    account_sid = request.query.get("AccountSid")
    if not account_sid:
        raise MissingParameter("AccountSid", "query")
    account_sid = sid("AC")("AccountSid", account_sid)
    _own_account(request, account_sid)
    scope = ListScope(LIST_KEY, account_sid, (("AccountSid", account_sid),))
    page = parse_page_request(request.query, ctx.store.paging_secret, scope)
    items, more = await ctx.store.read(credentials.list_keys(account_sid, page.window))
    return page_response(request, ctx, scope, page, items, more, listed_key_to_wire)


async def create_key(request: Request, ctx: AppContext) -> Response:
    """``POST /v1/Keys``: a standard key; the secret is in this response only."""
    require_manager(request)
    values = parse(await request.form(ctx.settings.max_body_bytes), CREATE_PARAMS)
    _own_account(request, values["account_sid"])
    _refuse_policy(values)
    new = await ctx.store.write(credentials.create_key(request.account_sid, values.get("friendly_name")))
    return json_response({**key_to_wire(new.key), "secret": new.secret}, 201)


async def fetch_key(request: Request, ctx: AppContext) -> Response:
    """``GET /v1/Keys/{Sid}``."""
    require_manager(request)
    key = found(await ctx.store.read(credentials.fetch_key(request.account_sid, path_sid(request, "SK"))), request)
    return json_response(key_to_wire(key))


async def update_key(request: Request, ctx: AppContext) -> Response:
    """``POST /v1/Keys/{Sid}``: rename."""
    require_manager(request)
    sid_ = path_sid(request, "SK")
    values = parse(await request.form(ctx.settings.max_body_bytes), UPDATE_PARAMS)
    _refuse_policy(values)
    updated = await ctx.store.write(credentials.update_key(request.account_sid, sid_, values.get("friendly_name")))
    return json_response(key_to_wire(found(updated, request)))


async def delete_key(request: Request, ctx: AppContext) -> Response:
    """``DELETE /v1/Keys/{Sid}``: the key fails from now on, on every process within
    ``auth_cache_seconds``, on this one at once."""
    require_manager(request)
    if not await ctx.store.write(credentials.delete_key(request.account_sid, path_sid(request, "SK"))):
        raise NotFound(request.path)
    ctx.forget_credentials(request.account_sid)
    return empty_response()
