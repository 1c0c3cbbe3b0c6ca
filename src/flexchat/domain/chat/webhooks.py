"""Channel webhooks: ``webhook`` (a URL Chat posts events to), ``trigger`` (a URL called
for messages whose body holds one of its words) and ``studio`` (a Studio flow)."""

from __future__ import annotations

from typing import Any

import orjson

from ...dates import now_iso
from ...errors import InvalidParameter, MissingParameter
from ...paging import Window
from ...sids import mint_sid
from ...store.queries.chat import INSERT_WEBHOOK
from ...store.queries.webhooks import DELETE_WEBHOOK, FETCH_WEBHOOK, LIST_WEBHOOKS, UPDATE_WEBHOOK
from ...store.sql import Rows, Script, page
from ..lookups import require_deleted, require_one
from ..records import ChatChannel, ChatWebhook
from .messages import find_channel_of

WEBHOOK_TYPES = ("webhook", "trigger", "studio")
# The configuration keys, in the order the API shows them.
CONFIGURATION_KEYS = ("url", "method", "filters", "triggers", "flow_sid", "retry_count")


def add_webhook(channel: ChatChannel, type_: str, configuration: dict[str, Any]) -> Script[ChatWebhook]:
    """A new webhook on ``channel`` with its ``configuration`` as the API shows it."""
    now = now_iso()
    rows = yield INSERT_WEBHOOK(
        mint_sid("WH"), channel.account_sid, channel.service_sid, channel.sid, type_,
        orjson.dumps(configuration).decode(), now, now,
    )
    return ChatWebhook(*rows[0])


def checked_configuration(type_: str, configuration: dict[str, Any]) -> dict[str, Any]:
    """``configuration`` completed with Chat's defaults and checked against its type: a
    ``webhook`` or ``trigger`` needs ``Configuration.Url`` (a trigger also its words), a
    ``studio`` one ``Configuration.FlowSid``. Unset keys are left out, as Chat shows them."""
    if type_ in ("webhook", "trigger"):
        if not configuration.get("url"):
            raise MissingParameter("Configuration.Url")
        configuration.setdefault("method", "POST")
        if type_ == "trigger":
            if not configuration.get("triggers"):
                raise MissingParameter("Configuration.Triggers")
            # A trigger hears new messages; events.emit matches the words in their body.
            configuration.setdefault("filters", ["onMessageSent"])
        configuration.setdefault("filters", [])
    elif not configuration.get("flow_sid"):
        raise MissingParameter("Configuration.FlowSid")
    configuration.setdefault("retry_count", 0)
    return {key: configuration[key] for key in CONFIGURATION_KEYS if configuration.get(key) is not None}


def _require_webhook(channel: ChatChannel, sid: str) -> Script[ChatWebhook]:
    webhook = yield from require_one(
        FETCH_WEBHOOK(sid, channel.sid, channel.account_sid), ChatWebhook,
        f"/Services/{channel.service_sid}/Channels/{channel.sid}/Webhooks/{sid}",
    )
    return webhook


def list_channel_webhooks(
    account_sid: str, service_sid: str, channel_ref: str, window: Window
) -> Script[tuple[Rows, bool]]:
    """One page of the channel's webhooks, oldest first."""
    channel = yield from find_channel_of(account_sid, service_sid, channel_ref)
    result = yield from page(LIST_WEBHOOKS, (channel.sid, account_sid), window)
    return result


def create_channel_webhook(
    account_sid: str, service_sid: str, channel_ref: str, type_: str, configuration: dict[str, Any]
) -> Script[ChatWebhook]:
    """A new webhook on the channel (see :func:`checked_configuration`)."""
    if type_ not in WEBHOOK_TYPES:
        raise InvalidParameter(f"Invalid Type: {type_!r} is not one of {', '.join(WEBHOOK_TYPES)}")
    configuration = checked_configuration(type_, dict(configuration))
    # Locked: a webhook is not added to a channel being deleted.
    channel = yield from find_channel_of(account_sid, service_sid, channel_ref, lock=True)
    webhook = yield from add_webhook(channel, type_, configuration)
    return webhook


def fetch_channel_webhook(account_sid: str, service_sid: str, channel_ref: str, sid: str) -> Script[ChatWebhook]:
    """The channel's webhook ``sid``, or 404."""
    channel = yield from find_channel_of(account_sid, service_sid, channel_ref)
    webhook = yield from _require_webhook(channel, sid)
    return webhook


def update_channel_webhook(
    account_sid: str, service_sid: str, channel_ref: str, sid: str, changes: dict[str, Any]
) -> Script[ChatWebhook]:
    """Change the configuration keys given (a repeated list replaces the old one); the
    type stays."""
    channel = yield from find_channel_of(account_sid, service_sid, channel_ref)
    webhook = yield from _require_webhook(channel, sid)
    configuration = checked_configuration(webhook.type, {**webhook.config, **changes})
    # A delete (of the webhook or its channel) that committed since the read leaves the
    # UPDATE no row on PostgreSQL: a 404, as if it had come first.
    updated = yield from require_one(
        UPDATE_WEBHOOK(orjson.dumps(configuration).decode(), now_iso(), webhook.sid, account_sid), ChatWebhook,
        f"/Services/{channel.service_sid}/Channels/{channel.sid}/Webhooks/{sid}",
    )
    return updated


def delete_channel_webhook(account_sid: str, service_sid: str, channel_ref: str, sid: str) -> Script[ChatWebhook]:
    """Delete the channel's webhook ``sid`` (the flow's own integration too), or 404."""
    channel = yield from find_channel_of(account_sid, service_sid, channel_ref)
    webhook = yield from _require_webhook(channel, sid)
    # Nothing is locked by the read, so a racing delete may have taken the row since.
    yield from require_deleted(
        DELETE_WEBHOOK(webhook.sid, account_sid),
        f"/Services/{channel.service_sid}/Channels/{channel.sid}/Webhooks/{sid}",
    )
    return webhook
