"""Flex configuration: ``/v1/Configuration``, one per account."""

from __future__ import annotations

from typing import Any

from ...context import AppContext
from ...domain import flex
from ...http import Request, Response, json_response


def configuration_to_wire(
    configuration: dict[str, Any], created: str, updated: str, account_sid: str, base: str
) -> dict[str, Any]:
    """The ``flex.v1.configuration`` representation."""
    return {
        **configuration,
        "account_sid": account_sid,
        "date_created": created,
        "date_updated": updated,
        "url": f"{base}/v1/Configuration",
    }


async def fetch_configuration(request: Request, ctx: AppContext) -> Response:
    """``GET /v1/Configuration``; ``UiVersion`` is echoed as the UI version asked for."""
    configuration, created, updated = await ctx.store.write(flex.fetch_configuration(request.account_sid))
    wire = configuration_to_wire(configuration, created, updated, request.account_sid, ctx.base_url(request))
    ui_version = request.query.get("UiVersion")
    if ui_version:
        wire["ui_version"] = ui_version
    return json_response(wire)


async def update_configuration(request: Request, ctx: AppContext) -> Response:
    """``POST /v1/Configuration`` with a JSON object: its top-level fields replace the stored ones."""
    changes = await request.json_object(ctx.settings.max_body_bytes)
    configuration, created, updated = await ctx.store.write(flex.update_configuration(request.account_sid, changes))
    return json_response(
        configuration_to_wire(configuration, created, updated, request.account_sid, ctx.base_url(request))
    )
