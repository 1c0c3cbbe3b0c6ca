"""Chat v2 routes (chat.twilio.com). Each resource module adds its own lines here."""

from __future__ import annotations

from ...routing import Route
from . import channels, members, messages, services, user_channels, users, webhooks

_CHANNEL = "/v2/Services/{ServiceSid}/Channels/{ChannelSid}"


def routes() -> list[Route]:
    """Every Chat v2 path and method."""
    return [
        Route("/v2/Services", {"GET": services.list_services, "POST": services.create_service}),
        Route(
            "/v2/Services/{Sid}",
            {"GET": services.fetch_service, "POST": services.update_service, "DELETE": services.delete_service},
        ),
        Route(
            "/v2/Services/{ServiceSid}/Channels",
            {"GET": channels.list_channels, "POST": channels.create_channel},
        ),
        Route(
            "/v2/Services/{ServiceSid}/Channels/{Sid}",
            {"GET": channels.fetch_channel, "POST": channels.update_channel, "DELETE": channels.delete_channel},
        ),
        Route("/v2/Services/{ServiceSid}/Users", {"GET": users.list_users, "POST": users.create_user}),
        Route(
            "/v2/Services/{ServiceSid}/Users/{Sid}",
            {"GET": users.fetch_user, "POST": users.update_user, "DELETE": users.delete_user},
        ),
        Route("/v2/Services/{ServiceSid}/Users/{UserSid}/Channels", {"GET": user_channels.list_user_channels}),
        Route(
            "/v2/Services/{ServiceSid}/Users/{UserSid}/Channels/{ChannelSid}",
            {"GET": user_channels.fetch_user_channel},
        ),
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
