"""The Chat v2 records (services, channels, users, members, messages, webhooks) and the
delivery records, as frozen dataclasses built straight from rows. The four a Flex
channel's create builds (user, channel, member, webhook) are not frozen, only slotted:
a frozen dataclass's __init__ costs several times a plain one's (a chat channel's 14
fields: ~2 us against ~0.25). Nothing mutates a record; treat them all as immutable.

Each record's fields are its table's columns in order (``seq`` first), so a row becomes
a record with ``Record(*row)`` on either engine and :func:`columns` writes the SELECT
list once. Booleans come back as integers from SQLite; the few readers that care say so.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import orjson


def columns(record: type[Any], alias: str = "") -> str:
    """The SELECT list that fills ``record`` (optionally prefixed ``alias.``): its fields
    but those marked ``metadata={"memo": True}`` (kept in memory, never stored)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + field.name for field in fields(record) if not field.metadata.get("memo"))


@dataclass(frozen=True, slots=True)
class ChatService:
    """A Chat v2 service (``IS``); ``settings`` holds every configurable field by wire name."""

    seq: int
    sid: str
    account_sid: str
    friendly_name: str
    settings: str
    date_created: str
    date_updated: str

    @property
    def config(self) -> dict[str, Any]:
        """The settings object (parsed on each use: services are read rarely)."""
        value: dict[str, Any] = orjson.loads(self.settings)
        return value


@dataclass(slots=True)  # not frozen: see the module docstring
class ChatUser:
    """A Chat v2 user (``US``)."""

    seq: int
    sid: str
    account_sid: str
    service_sid: str
    identity: str
    friendly_name: str | None
    attributes: str
    role_sid: str | None
    date_created: str
    date_updated: str


@dataclass(slots=True)  # not frozen: see the module docstring
class ChatChannel:
    """A Chat v2 channel (``CH``); a Flex channel is one of these with the same sid."""

    seq: int
    sid: str
    account_sid: str
    service_sid: str
    friendly_name: str | None
    unique_name: str | None
    attributes: str
    type: str
    created_by: str | None
    members_count: int
    messages_count: int
    next_message_index: int
    date_created: str
    date_updated: str


@dataclass(slots=True)  # not frozen: see the module docstring
class ChatMember:
    """A member (``MB``) of a chat channel."""

    seq: int
    sid: str
    account_sid: str
    service_sid: str
    channel_sid: str
    identity: str
    role_sid: str | None
    attributes: str
    last_consumed_message_index: int | None
    last_consumption_timestamp: str | None
    date_created: str
    date_updated: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """A message (``IM``) of a chat channel; ``author`` is the wire's ``from``."""

    seq: int
    sid: str
    account_sid: str
    service_sid: str
    channel_sid: str
    message_index: int
    author: str
    body: str | None
    attributes: str
    media_sid: str | None
    last_updated_by: str | None
    was_edited: bool
    date_created: str
    date_updated: str


@dataclass(slots=True)  # not frozen: see the module docstring
class ChatWebhook:
    """A channel webhook (``WH``): ``webhook`` (a URL) or ``studio`` (a Studio flow)."""

    seq: int
    sid: str
    account_sid: str
    service_sid: str
    channel_sid: str
    type: str
    configuration: str
    date_created: str
    date_updated: str

    @property
    def config(self) -> dict[str, Any]:
        """The configuration object: url, method, filters, triggers, flow_sid, retry_count."""
        value: dict[str, Any] = orjson.loads(self.configuration)
        return value


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One event for one destination, written with the change that raised it."""

    seq: int
    account_sid: str
    service_sid: str | None
    channel_sid: str | None
    webhook_sid: str | None
    kind: str
    event_type: str
    url: str | None
    method: str
    params: str
    retry_count: int
    attempts: int
    state: str
    next_attempt_at: int
    claimed_until: int
    date_created: str
    # Microseconds since the epoch (schema step 12); None for rows written before it.
    created_us: int | None = None


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One HTTP attempt at delivering an outbox event, and what came back."""

    seq: int
    account_sid: str
    outbox_seq: int
    attempt: int
    started_at: str
    duration_ms: float
    status_code: int | None
    error: str | None
    response_start: str | None
    signature: str


@dataclass(frozen=True, slots=True)
class WebChannel:
    """A Flex channel made for the web chat widget (``/v1/WebChannels``)."""

    seq: int
    sid: str
    account_sid: str
    flex_flow_sid: str
    post_engagement_data: str | None
    date_created: str
    date_updated: str


# -- TaskRouter and Studio -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Workspace:
    """A TaskRouter workspace (``WS``)."""

    seq: int
    sid: str
    account_sid: str
    friendly_name: str
    event_callback_url: str | None
    events_filter: str | None
    multi_task_enabled: bool
    prioritize_queue_order: str
    default_activity_sid: str
    default_activity_name: str
    timeout_activity_sid: str
    timeout_activity_name: str
    date_created: str
    date_updated: str


@dataclass(frozen=True, slots=True)
class Workflow:
    """A TaskRouter workflow (``WW``); ``configuration`` is the JSON text as sent."""

    seq: int
    sid: str
    account_sid: str
    workspace_sid: str
    friendly_name: str
    configuration: str
    assignment_callback_url: str | None
    fallback_assignment_callback_url: str | None
    task_reservation_timeout: int
    date_created: str
    date_updated: str


@dataclass(frozen=True, slots=True)
class TaskChannel:
    """A TaskRouter task channel (``TC``): ``default``, ``chat``, ``voice``..."""

    seq: int
    sid: str
    account_sid: str
    workspace_sid: str
    friendly_name: str
    unique_name: str
    channel_optimized_routing: bool | None
    date_created: str
    date_updated: str


@dataclass(frozen=True, slots=True)
class Task:
    """A TaskRouter task (``WT``)."""

    seq: int
    sid: str
    account_sid: str
    workspace_sid: str
    workflow_sid: str | None
    workflow_friendly_name: str | None
    task_channel_sid: str | None
    task_channel_unique_name: str | None
    assignment_status: str
    attributes: str
    priority: int
    timeout: int
    reason: str | None
    task_queue_sid: str | None
    task_queue_friendly_name: str | None
    task_queue_entered_date: str | None
    virtual_start_time: str
    routing_target: str | None
    ignore_capacity: bool | None
    addons: str
    version: int
    channel_sid: str | None
    date_created: str
    date_updated: str


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """One move of a task's assignment status (``from_status`` None: its creation)."""

    seq: int
    account_sid: str
    workspace_sid: str
    task_sid: str
    from_status: str | None
    to_status: str
    reason: str | None
    channel_sid: str | None
    date_created: str
    # Microseconds since the epoch (schema step 12); None for rows written before it.
    created_us: int | None = None


@dataclass(frozen=True, slots=True)
class Execution:
    """A Studio flow execution (``FN``); ``context`` is its JSON context."""

    seq: int
    sid: str
    account_sid: str
    flow_sid: str
    contact_sid: str
    contact_channel_address: str
    flow_version: int
    status: str
    context: str
    initiated_by: str | None
    channel_sid: str | None
    date_created: str
    date_updated: str
    # Microseconds since the epoch (schema step 12); None for rows written before it.
    created_us: int | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key (``SK``); only the hash of its secret is kept."""

    seq: int
    sid: str
    account_sid: str
    friendly_name: str | None
    secret_hash: str
    key_type: str
    date_created: str
    date_updated: str
