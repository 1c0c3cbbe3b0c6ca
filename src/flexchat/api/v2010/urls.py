"""2010-04-01 API routes (api.twilio.com) that flexchat serves: an account's keys."""

from __future__ import annotations

from ...routing import CREDENTIALS, Route
from . import keys

ACCOUNT = "/2010-04-01/Accounts/{AccountSid}"


def routes() -> list[Route]:
    """The 2010 paths and methods flexchat serves."""
    return [
        Route(
            f"{ACCOUNT}/Keys.json", {"GET": keys.list_account_keys, "POST": keys.create_account_key}, family=CREDENTIALS
        ),
        Route(
            f"{ACCOUNT}/Keys/{{Sid}}.json",
            {"GET": keys.fetch_account_key, "POST": keys.update_account_key, "DELETE": keys.delete_account_key},
            family=CREDENTIALS,
        ),
    ]
