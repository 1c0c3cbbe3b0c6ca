"""The Chat post-events a change raises, and where each one goes.

A write that raises an event calls :func:`emit` inside its own transaction script, so the
event reaches the outbox in the same transaction as the change: committed together or
not at all. Delivery (``flexchat.delivery``) is the only code that sends anything.

Destinations, as Chat had them:
- each ``webhook`` channel webhook whose ``filters`` name the event (and, for message
  events, whose ``triggers``, where set, occur in the body as words);
- each ``studio`` channel webhook, for ``onMessageSent``: recorded, not sent over HTTP,
  and a Studio execution of its flow starts with the message as its trigger;
- the service's ``post_webhook_url``, where its ``webhook_filters`` name the event.

The request's fields follow chat-layer-notes.md: ``RetryCount`` is added per attempt at
send time, ``WebhookSid`` / ``WebhookType`` per channel webhook.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from ..clock import now_us
from ..dates import now_iso
from ..store.queries.chat import ALL_CHANNEL_WEBHOOKS, FETCH_CHANNEL, FETCH_SERVICE
from ..store.queries.outbox import INSERT_EVENT
from ..store.sql import Script
from .records import ChatChannel, ChatMember, ChatMessage, ChatService, ChatWebhook
from .studio import start_execution

# Every post-event flexchat raises.
POST_EVENTS = (
    "onMessageSent",
    "onMessageUpdated",
    "onMessageRemoved",
    "onMediaMessageSent",
    "onChannelAdded",
    "onChannelUpdated",
    "onChannelDestroyed",
    "onMemberAdded",
    "onMemberUpdated",
    "onMemberRemoved",
    "onUserAdded",
    "onUserUpdated",
)
MESSAGE_EVENTS = ("onMessageSent", "onMessageUpdated", "onMessageRemoved", "onMediaMessageSent")


def iso_millis(iso: str) -> str:
    """``2022-03-10T23:56:43Z`` as Chat's webhooks write it: ``2022-03-10T23:56:43.000Z``."""
    return iso[:-1] + ".000Z" if iso.endswith("Z") and "." not in iso else iso


def message_fields(message: ChatMessage) -> dict[str, str]:
    """What a message event says about the message."""
    fields = {
        "ChannelSid": message.channel_sid,
        "MessageSid": message.sid,
        "Index": str(message.message_index),
        "Body": message.body or "",
        "From": message.author,
        "Attributes": message.attributes,
        "DateCreated": iso_millis(message.date_created),
    }
    if message.media_sid:
        fields["MediaSid"] = message.media_sid
    if message.was_edited:
        fields["DateUpdated"] = iso_millis(message.date_updated)
        if message.last_updated_by:
            fields["ModifiedBy"] = message.last_updated_by
    return fields


def channel_fields(channel: ChatChannel) -> dict[str, str]:
    """What a channel event says about the channel."""
    fields = {
        "ChannelSid": channel.sid,
        "Attributes": channel.attributes,
        "FriendlyName": channel.friendly_name or "",
        "ChannelType": channel.type,
        "CreatedBy": channel.created_by or "system",
        "DateCreated": iso_millis(channel.date_created),
        "DateUpdated": iso_millis(channel.date_updated),
        "MembersCount": str(channel.members_count),
        "MessagesCount": str(channel.messages_count),
    }
    if channel.unique_name is not None:
        fields["UniqueName"] = channel.unique_name
    return fields


def member_fields(member: ChatMember) -> dict[str, str]:
    """What a member event says about the member."""
    return {
        "ChannelSid": member.channel_sid,
        "MemberSid": member.sid,
        "Identity": member.identity,
        "RoleSid": member.role_sid or "",
        "DateCreated": iso_millis(member.date_created),
    }


def _triggered(config: Mapping[str, Any], fields: Mapping[str, str]) -> bool:
    triggers = config.get("triggers") or []
    if not triggers or "Body" not in fields:
        return True
    words = set(fields["Body"].lower().split())
    return any(str(trigger).lower() in words for trigger in triggers)


def emit(
    account_sid: str,
    service_sid: str,
    channel_sid: str | None,
    event_type: str,
    fields: Mapping[str, str],
    *,
    source: str = "API",
    identity: str | None = None,
    service: ChatService | None = None,
) -> Script[int]:
    """Write ``event_type`` to the outbox for each destination that wants it; how many.

    ``source`` is ``API`` for REST writes and ``SDK`` for the agent's; ``identity`` the
    acting client's identity (``ClientIdentity``), where there is one; ``service`` the
    service as the same transaction already read it (else it is read here).
    """
    common = {
        "EventType": event_type,
        "AccountSid": account_sid,
        "InstanceSid": service_sid,
        "Source": source,
        **({"ClientIdentity": identity} if identity else {}),
        **fields,
    }
    now = now_iso()
    now_ms = int(time.time() * 1000)
    written = 0
    if channel_sid is not None:
        rows = yield ALL_CHANNEL_WEBHOOKS(channel_sid, account_sid)
        for webhook in map(lambda row: ChatWebhook(*row), rows):
            config = webhook.config
            params = {**common, "WebhookSid": webhook.sid, "WebhookType": webhook.type}
            if webhook.type == "studio":
                if event_type != "onMessageSent":
                    continue
                yield INSERT_EVENT(
                    account_sid, service_sid, channel_sid, webhook.sid, "studio", event_type, None, "POST",
                    orjson.dumps(params).decode(), 0, "recorded", now_ms, now, now_us(),
                )
                # Studio runs the flow: an execution with the message as its trigger.
                channel_rows = yield FETCH_CHANNEL(channel_sid, account_sid, service_sid)
                attributes = ChatChannel(*channel_rows[0]).attributes if channel_rows else "{}"
                trigger = {**params, "ChannelAttributes": attributes}
                yield from start_execution(
                    account_sid, config.get("flow_sid") or "", fields.get("From", "system"), {"message": trigger}
                )
            else:
                if event_type not in (config.get("filters") or []) or not _triggered(config, fields):
                    continue
                yield INSERT_EVENT(
                    account_sid, service_sid, channel_sid, webhook.sid, "webhook", event_type, config["url"],
                    config.get("method") or "POST", orjson.dumps(params).decode(),
                    int(config.get("retry_count") or 0), "pending", now_ms, now, now_us(),
                )
            written += 1
    if service is None:
        service_rows = yield FETCH_SERVICE(service_sid, account_sid)
        service = ChatService(*service_rows[0]) if service_rows else None
    if service is not None:
        settings = service.config
        url = settings.get("post_webhook_url")
        if url and event_type in (settings.get("webhook_filters") or []):
            yield INSERT_EVENT(
                account_sid, service_sid, channel_sid, None, "service", event_type, url,
                settings.get("webhook_method") or "POST", orjson.dumps(common).decode(),
                int(settings.get("post_webhook_retry_count") or 0), "pending", now_ms, now, now_us(),
            )
            written += 1
    return written
