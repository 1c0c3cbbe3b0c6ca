"""Flex API v1 routes (flex-api.twilio.com)."""

from __future__ import annotations

from ...routing import Route
from . import channels, configuration, flex_flows, web_channels


def routes() -> list[Route]:
    """Every Flex v1 path and method."""
    return [
        Route("/v1/Channels", {"GET": channels.list_channels, "POST": channels.create_channel}),
        Route("/v1/Channels/{Sid}", {"GET": channels.fetch_channel, "DELETE": channels.delete_channel}),
        Route("/v1/FlexFlows", {"GET": flex_flows.list_flex_flows, "POST": flex_flows.create_flex_flow}),
        Route(
            "/v1/FlexFlows/{Sid}",
            {
                "GET": flex_flows.fetch_flex_flow,
                "POST": flex_flows.update_flex_flow,
                "DELETE": flex_flows.delete_flex_flow,
            },
        ),
        Route(
            "/v1/WebChannels",
            {"GET": web_channels.list_web_channels, "POST": web_channels.create_web_channel},
        ),
        Route(
            "/v1/WebChannels/{Sid}",
            {
                "GET": web_channels.fetch_web_channel,
                "POST": web_channels.update_web_channel,
                "DELETE": web_channels.delete_web_channel,
            },
        ),
        Route(
            "/v1/Configuration",
            {"GET": configuration.fetch_configuration, "POST": configuration.update_configuration},
        ),
    ]
