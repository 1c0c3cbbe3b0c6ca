"""Chat v2 routes (chat.twilio.com). Each resource module adds its own lines here."""

from __future__ import annotations

from ...routing import Route


def routes() -> list[Route]:
    """Every Chat v2 path and method."""
    return []
