"""The faults control API, in flexchat's own namespace: ``/flexchat/v1/Faults`` and
``/flexchat/v1/Faults/{Family}``. Authenticated like the API; each account sees and
changes only its own faults (docs/operations.md)."""

from __future__ import annotations

from ...context import AppContext
from ...errors import UnknownFaultFamily
from ...faults import FAMILIES, FaultRule, updated_rule
from ...faults import list_faults as read_faults
from ...http import Request, Response, empty_response, json_response

LIST_KEY = "faults"


def _family(request: Request) -> str:
    family = request.path_params["Family"]
    if family not in FAMILIES:
        raise UnknownFaultFamily(family, FAMILIES)
    return family


async def _current(ctx: AppContext, account_sid: str, family: str) -> FaultRule:
    for rule in await ctx.store.read(read_faults(account_sid)):
        if rule.family == family:
            return rule
    return FaultRule(account_sid, family)


async def list_faults(request: Request, ctx: AppContext) -> Response:
    """Every family's rule of the account, all zero where none is set."""
    base = ctx.base_url(request)
    stored = {rule.family: rule for rule in await ctx.store.read(read_faults(request.account_sid))}
    rules = [stored.get(family) or FaultRule(request.account_sid, family) for family in FAMILIES]
    url = f"{base}/flexchat/v1/Faults"
    return json_response(
        {
            LIST_KEY: [rule.to_wire(base) for rule in rules],
            "meta": {
                "key": LIST_KEY, "page": 0, "page_size": len(rules), "url": url, "first_page_url": url,
                "previous_page_url": None, "next_page_url": None,
            },
        }
    )


async def fetch_fault(request: Request, ctx: AppContext) -> Response:
    """One family's rule (all zero when none is set)."""
    rule = await _current(ctx, request.account_sid, _family(request))
    return json_response(rule.to_wire(ctx.base_url(request)))


async def update_fault(request: Request, ctx: AppContext) -> Response:
    """Set the parameters given (ErrorRate, ErrorStatus, ThrottleRate, ThrottleBurst,
    LatencyMs, DropDeliveryRate); the others keep their values."""
    family = _family(request)
    form = await request.form(ctx.settings.max_body_bytes)
    rule = updated_rule(await _current(ctx, request.account_sid, family), form)
    stored = await ctx.faults.put(rule)
    return json_response(stored.to_wire(ctx.base_url(request)))


async def delete_fault(request: Request, ctx: AppContext) -> Response:
    """Switch one family's faults off."""
    await ctx.faults.clear(request.account_sid, _family(request))
    return empty_response(204)


async def delete_faults(request: Request, ctx: AppContext) -> Response:
    """Switch every fault of the account off."""
    await ctx.faults.clear(request.account_sid)
    return empty_response(204)
