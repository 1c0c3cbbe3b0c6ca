"""Chat v2 routes (chat.twilio.com). Each resource module adds its own lines here."""

from __future__ import annotations

from ...routing import Route
from . import members, messages, webhooks

_CHANNEL = "/v2/Services/{ServiceSid}/Channels/{ChannelSid}"


def routes() -> list[Route]:
    """Every Chat v2 path and method."""
    return [
        Route(f"{_CHANNEL}/Members", {"GET": members.list_members, "POST": members.create_member}),
        Route(
            f"{_CHANNEL}/Members/{{Sid}}",
            {"GET": members.fetch_member, "POST": members.update_member, "DELETE": members.delete_member},
        ),
        Route(f"{_CHANNEL}/Messages", {"GET": messages.list_messages, "POST": messages.create_message}),
        Route(
            f"{_CHANNEL}/Messages/{{Sid}}",
            {"GET": messages.fetch_message, "POST": messages.update_message, "DELETE": messages.delete_message},
        ),
        Route(
            f"{_CHANNEL}/Webhooks",
            {"GET": webhooks.list_channel_webhooks, "POST": webhooks.create_channel_webhook},
        ),
        Route(
            f"{_CHANNEL}/Webhooks/{{Sid}}",
            {
                "GET": webhooks.fetch_channel_webhook,
                "POST": webhooks.update_channel_webhook,
                "DELETE": webhooks.delete_channel_webhook,
            },
        ),
    ]
