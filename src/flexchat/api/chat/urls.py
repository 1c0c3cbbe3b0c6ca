"""Chat v2 routes (chat.twilio.com). Each resource module adds its own lines here."""

from __future__ import annotations

from ...routing import Route
from . import services


def routes() -> list[Route]:
    """Every Chat v2 path and method."""
    return [
        Route("/v2/Services", {"GET": services.list_services, "POST": services.create_service}),
        Route(
            "/v2/Services/{Sid}",
            {"GET": services.fetch_service, "POST": services.update_service, "DELETE": services.delete_service},
        ),
    ]
