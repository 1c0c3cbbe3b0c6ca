"""IAM v1 routes (iam.twilio.com)."""

from __future__ import annotations

from ...routing import CREDENTIALS, Route
from . import keys


def routes() -> list[Route]:
    """Every IAM v1 path and method flexchat serves."""
    return [
        Route("/v1/Keys", {"GET": keys.list_keys, "POST": keys.create_key}, family=CREDENTIALS),
        Route(
            "/v1/Keys/{Sid}",
            {"GET": keys.fetch_key, "POST": keys.update_key, "DELETE": keys.delete_key},
            family=CREDENTIALS,
        ),
    ]
