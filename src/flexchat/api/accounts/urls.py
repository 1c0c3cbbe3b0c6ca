"""Accounts v1 routes (accounts.twilio.com)."""

from __future__ import annotations

from ...routing import CREDENTIALS, Route
from . import auth_tokens


def routes() -> list[Route]:
    """Every Accounts v1 path and method flexchat serves."""
    return [
        Route(
            "/v1/AuthTokens/Secondary",
            {"POST": auth_tokens.create_secondary_token, "DELETE": auth_tokens.delete_secondary_token},
            family=CREDENTIALS,
        ),
        Route("/v1/AuthTokens/Promote", {"POST": auth_tokens.promote_secondary_token}, family=CREDENTIALS),
    ]
