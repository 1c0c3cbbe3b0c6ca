"""flexchat's own routes, under ``/flexchat/v1``."""

from __future__ import annotations

from ...routing import Route
from . import deliveries


def routes() -> list[Route]:
    """Every path of flexchat's own API."""
    return [
        Route("/flexchat/v1/Deliveries", {"GET": deliveries.list_deliveries}),
        Route("/flexchat/v1/Deliveries/{Sid}", {"GET": deliveries.fetch_delivery}),
    ]
