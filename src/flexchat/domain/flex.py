"""What Flex does: a Flex channel is a chat user, a chat channel with the same sid, the
user as its member, and the flow's integration as a channel webhook, made together in
one transaction (chat-layer-notes.md, "What Flex does with a channel")."""

from __future__ import annotations

import json
from typing import Any

import orjson

from ..dates import now_iso
from ..errors import ChatUniqueNameConflict, ChatUniqueNameTaken, ServiceUnavailable
from ..models import Channel, ChannelCreate, channel_flow, channel_task_sid, check_chat_unique_name
from ..sids import mint_sid
from ..store.queries.flex import (
    FETCH_CHAT_SERVICE_OF_FLEX_CHANNEL,
    FETCH_FLEX_CHANNEL_BY_IDENTITY,
    FETCH_FLOW_FOR_CHANNEL,
    INSERT_FLEX_CHANNEL,
)
from ..store.sql import Script, UniqueViolation
from .chat.channels import delete_channel as delete_chat_channel
from .chat.channels import insert_channel
from .chat.members import add_member
from .chat.services import ensure_service
from .chat.users import ensure_user
from .chat.webhooks import add_webhook


def _pre_engagement(raw: str | None) -> Any:
    """PreEngagementData as the attributes hold it: the JSON it carries, else the text."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def channel_attributes(params: ChannelCreate, channel_type: str, long_lived: bool, task_sid: str | None) -> str:
    """The chat channel's attributes as Flex wrote them."""
    attributes: dict[str, Any] = {
        "from": params.target or params.chat_user_friendly_name,
        "channel_type": channel_type,
        "status": "ACTIVE",
        "long_lived": long_lived,
    }
    if params.pre_engagement_data is not None:
        attributes["pre_engagement_data"] = _pre_engagement(params.pre_engagement_data)
    if task_sid is not None:
        attributes["task_sid"] = task_sid
    return orjson.dumps(attributes).decode()


def integration_webhook(integration_type: str, integration: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The channel webhook a flow's integration puts on its channels: ``studio`` runs
    the flow, ``external`` posts each new message to its URL; ``task`` needs none."""
    if integration_type == "studio":
        return "studio", {"flow_sid": integration.get("flow_sid"), "retry_count": 0}
    if integration_type == "external":
        return "webhook", {
            "url": integration.get("url"),
            "method": "POST",
            "filters": ["onMessageSent"],
            "retry_count": integration.get("retry_count", 0),
        }
    return None


def create_channel(account_sid: str, params: ChannelCreate) -> Script[Channel]:
    """``POST /v1/Channels``: the Identity's channel on the flow if it has one, else a new
    Flex channel with its conversation (see module docstring)."""
    check_chat_unique_name(params.chat_unique_name)
    flow = yield FETCH_FLOW_FOR_CHANNEL(params.flex_flow_sid, account_sid)
    chat_service_sid, integration_type = channel_flow(params.flex_flow_sid, flow[0] if flow else None)
    integration, channel_type, flow_long_lived = orjson.loads(flow[0][3]), flow[0][4], bool(flow[0][5])
    existing = yield FETCH_FLEX_CHANNEL_BY_IDENTITY(account_sid, params.flex_flow_sid, params.identity, params.identity)
    if existing:
        return Channel(*existing[0])
    yield from ensure_service(account_sid, chat_service_sid)
    user = yield from ensure_user(account_sid, chat_service_sid, params.identity, params.chat_user_friendly_name)
    now = now_iso()
    channel = Channel(
        mint_sid("CH"), account_sid, params.flex_flow_sid, user.sid,
        channel_task_sid(integration_type, params.task_sid), now, now,
    )
    # The Flex row first: a create that lost a race for this Identity answers with the
    # winner's channel before it has written anything.
    try:
        inserted = yield INSERT_FLEX_CHANNEL(
            channel.sid, account_sid, params.flex_flow_sid, chat_service_sid, params.identity,
            user.sid, channel.task_sid, params.target, params.chat_friendly_name,
            params.chat_unique_name, params.chat_user_friendly_name, params.pre_engagement_data,
            params.task_attributes, params.long_lived, now, now,
        )
    except UniqueViolation:
        inserted = []
    if not inserted:
        existing = yield FETCH_FLEX_CHANNEL_BY_IDENTITY(
            account_sid, params.flex_flow_sid, params.identity, params.identity
        )
        if existing:
            return Channel(*existing[0])
        if params.chat_unique_name is not None:
            raise ChatUniqueNameTaken(params.chat_unique_name)
        raise ServiceUnavailable("Service unavailable: a concurrent change got in the way; retry")
    long_lived = flow_long_lived if params.long_lived is None else params.long_lived
    try:
        chat_channel = yield from insert_channel(
            account_sid, chat_service_sid, channel.sid,
            friendly_name=params.chat_friendly_name, unique_name=params.chat_unique_name,
            attributes=channel_attributes(params, channel_type, long_lived, channel.task_sid),
            type_="private", created_by="system",
        )
    except ChatUniqueNameConflict:  # a Chat channel of the service has that name
        raise ChatUniqueNameTaken(params.chat_unique_name or "") from None
    yield from add_member(chat_channel, params.identity, webhooks_enabled=False)
    webhook = integration_webhook(integration_type, integration)
    if webhook is not None:
        yield from add_webhook(chat_channel, *webhook)
    channel.seq = inserted[0][0]
    return channel


def delete_channel(account_sid: str, sid: str) -> Script[bool]:
    """``DELETE /v1/Channels/{Sid}``: the chat channel and everything in it go too."""
    rows = yield FETCH_CHAT_SERVICE_OF_FLEX_CHANNEL(sid, account_sid)
    if not rows:
        return False
    yield from delete_chat_channel(account_sid, rows[0][0], sid, webhooks_enabled=False)
    return True
