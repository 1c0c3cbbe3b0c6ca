"""Chat services: the defaults a new service gets, and the lookups other resources need."""

from __future__ import annotations

from typing import Any

import orjson

from ...dates import now_iso
from ...errors import NotFound
from ...sids import mint_sid
from ...store.queries.chat import FETCH_SERVICE, INSERT_SERVICE
from ...store.queries.services import (
    DELETE_SERVICE,
    DELETE_SERVICE_ROWS,
    FETCH_SERVICE_FOR_UPDATE,
    LIST_SERVICES,
    UPDATE_SERVICE,
)
from ...store.sql import Script, page
from ..lookups import require_one
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
        if not rows:  # created by a concurrent request: READ COMMITTED sees it now
            rows = yield FETCH_SERVICE(service_sid, account_sid)
            if not rows:
                raise NotFound(f"/Services/{service_sid}")
    return ChatService(*rows[0])


def require_service(account_sid: str, service_sid: str) -> Script[ChatService]:
    """The account's service ``service_sid``, or 404."""
    service = yield from require_one(FETCH_SERVICE(service_sid, account_sid), ChatService, f"/Services/{service_sid}")
    return service


def list_services(account_sid: str, window: Any) -> Script[tuple[list[ChatService], bool]]:
    """One page of the account's services, oldest first."""
    rows, more = yield from page(LIST_SERVICES, (account_sid,), window)
    return [ChatService(*row) for row in rows], more


def create_service(account_sid: str, friendly_name: str) -> Script[ChatService]:
    """A new service with Chat's default settings."""
    rows = yield INSERT_SERVICE(*new_service_row(account_sid, friendly_name))
    return ChatService(*rows[0])


def merge_settings(settings: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with ``changes`` applied; a dotted key (``notifications.new_message.
    enabled``) sets one field of a nested object, creating the object where missing."""
    merged = orjson.loads(orjson.dumps(settings))  # a deep copy of plain JSON
    for key, value in changes.items():
        *path, leaf = key.split(".")
        node = merged
        for part in path:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf] = value
    return dict(merged)


def update_service(
    account_sid: str, sid: str, friendly_name: str | None, changes: dict[str, Any]
) -> Script[ChatService]:
    """Apply ``changes`` (settings keys, dotted for nested fields) to the service; 404 if
    the account has no such service."""
    rows = yield FETCH_SERVICE_FOR_UPDATE(sid, account_sid)
    if not rows:
        raise NotFound(f"/Services/{sid}")
    service = ChatService(*rows[0])
    settings = merge_settings(service.config, changes)
    rows = yield UPDATE_SERVICE(
        service.friendly_name if friendly_name is None else friendly_name,
        orjson.dumps(settings).decode(), now_iso(), sid, account_sid,
    )
    return ChatService(*rows[0])


def delete_service(account_sid: str, sid: str) -> Script[bool]:
    """Delete the service with its channels (their members, messages and webhooks, and
    the Flex channels that are those channels) and its users; False if there was none.
    No event goes out: Chat raises none for a service's deletion."""
    rows = yield FETCH_SERVICE_FOR_UPDATE(sid, account_sid)
    if not rows:
        return False
    for statement in DELETE_SERVICE_ROWS:
        yield statement(account_sid, sid)
    yield DELETE_SERVICE(sid, account_sid)
    return True
