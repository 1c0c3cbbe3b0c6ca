"""Chat services: the defaults a new service gets, and the lookups other resources need."""

from __future__ import annotations

from typing import Any

import orjson

from ...dates import now_iso
from ...errors import NotFound
from ...sids import mint_sid
from ...store.queries.chat import FETCH_SERVICE, INSERT_SERVICE
from ...store.sql import Script
from ..records import ChatService

# The name Flex gave the chat service that came with every Flex account.
FLEX_SERVICE_NAME = "Flex Chat Service"


def default_settings() -> dict[str, Any]:
    """A new service's settings, with Chat v2's documented defaults."""
    return {
        "default_service_role_sid": mint_sid("RL"),
        "default_channel_role_sid": mint_sid("RL"),
        "default_channel_creator_role_sid": mint_sid("RL"),
        "read_status_enabled": True,
        "reachability_enabled": False,
        "typing_indicator_timeout": 5,
        "consumption_report_interval": 10,
        "limits": {"channel_members": 100, "user_channels": 250},
        "pre_webhook_url": None,
        "post_webhook_url": None,
        "webhook_method": "POST",
        "webhook_filters": [],
        "pre_webhook_retry_count": 0,
        "post_webhook_retry_count": 0,
        "notifications": {
            "log_enabled": False,
            "new_message": {"enabled": False},
            "added_to_channel": {"enabled": False},
            "removed_from_channel": {"enabled": False},
            "invited_to_channel": {"enabled": False},
        },
        "media": {"size_limit_mb": 150, "compatibility_message": "Media messages are not supported by this client"},
    }


def new_service_row(account_sid: str, friendly_name: str, sid: str | None = None) -> tuple[Any, ...]:
    """The INSERT_SERVICE arguments of a new service with default settings."""
    now = now_iso()
    return (sid or mint_sid("IS"), account_sid, friendly_name, orjson.dumps(default_settings()).decode(), now, now)


def ensure_service(account_sid: str, service_sid: str) -> Script[ChatService]:
    """The service ``service_sid`` of the account, created with Flex's name and Chat's
    defaults if it does not exist: a Flex account came with its chat service, so a Flex
    Flow's ChatServiceSid always names one (docs/compatibility.md)."""
    rows = yield FETCH_SERVICE(service_sid, account_sid)
    if not rows:
        rows = yield INSERT_SERVICE(*new_service_row(account_sid, FLEX_SERVICE_NAME, service_sid))
        if not rows:  # created by a concurrent request, or the sid is another account's
            rows = yield FETCH_SERVICE(service_sid, account_sid)
            if not rows:
                raise NotFound(f"/Services/{service_sid}")
    return ChatService(*rows[0])


def require_service(account_sid: str, service_sid: str) -> Script[ChatService]:
    """The account's service ``service_sid``, or 404."""
    rows = yield FETCH_SERVICE(service_sid, account_sid)
    if not rows:
        raise NotFound(f"/Services/{service_sid}")
    return ChatService(*rows[0])
