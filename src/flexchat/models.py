"""Domain records and the rules both stores apply inside their transactions.

The stores own persistence and concurrency; what a Flex Flow or a channel *is* and which
values it may take lives here once, so SQLite and PostgreSQL cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .dates import now_iso
from .errors import FlexFlowDisabled, FlexFlowNotFound, InvalidParameter, MissingParameter
from .sids import mint_sid

CHANNEL_TYPES = ("web", "sms", "facebook", "whatsapp", "line", "custom")
INTEGRATION_TYPES = ("studio", "external", "task")

# Integration.* wire names and the keys of the ``integration`` object they fill.
INTEGRATION_KEYS = {
    "Integration.FlowSid": "flow_sid",
    "Integration.Url": "url",
    "Integration.WorkspaceSid": "workspace_sid",
    "Integration.WorkflowSid": "workflow_sid",
    "Integration.Channel": "channel",
    "Integration.Timeout": "timeout",
    "Integration.Priority": "priority",
    "Integration.CreationOnMessage": "creation_on_message",
    "Integration.RetryCount": "retry_count",
}
# What each integration type cannot work without (Twilio's "Required when ..." notes).
REQUIRED_INTEGRATION = {
    "studio": ("Integration.FlowSid",),
    "external": ("Integration.Url",),
    "task": ("Integration.WorkspaceSid", "Integration.WorkflowSid"),
}


@dataclass(frozen=True)
class Credential:
    """What a Basic-auth user name resolves to: its account and the stored secret hash."""

    account_sid: str
    secret_hash: str


@dataclass(frozen=True, slots=True)
class FlexFlow:
    """A stored Flex Flow."""

    sid: str
    account_sid: str
    friendly_name: str
    chat_service_sid: str
    channel_type: str
    contact_identity: str | None
    enabled: bool
    integration_type: str
    integration: dict[str, Any]
    long_lived: bool
    janitor_enabled: bool
    date_created: str
    date_updated: str
    seq: int = 0


# Not frozen: a frozen dataclass's __init__ goes through object.__setattr__ per field,
# six times the cost of a plain one, and a list page builds up to 1,000 of these per
# request (docs/benchmarks.md). Nothing mutates a Channel; treat it as immutable.
@dataclass(slots=True)
class Channel:
    """A stored Flex chat channel (the fields the API returns)."""

    sid: str
    account_sid: str
    flex_flow_sid: str
    user_sid: str
    task_sid: str | None
    date_created: str
    date_updated: str
    seq: int = 0
    # The channel's list item as JSON text, with the base URL it was written for: a
    # memo of api/flex/channels.py's channels_json, the one field ever set after
    # construction (a channel the store's cache holds is listed over and over).
    rendered: tuple[str, str] | None = field(default=None, compare=False, repr=False, metadata={"memo": True})


@dataclass(frozen=True)
class FlexFlowFields:
    """Flex Flow parameters as sent: create fills the required ones, update any subset."""

    friendly_name: str | None = None
    chat_service_sid: str | None = None
    channel_type: str | None = None
    contact_identity: str | None = None
    enabled: bool | None = None
    integration_type: str | None = None
    long_lived: bool | None = None
    janitor_enabled: bool | None = None
    integration: dict[str, Any] = field(default_factory=dict)


# Not frozen, with slots: built on every create (see Channel). Treat it as immutable.
@dataclass(slots=True)
class ChannelCreate:
    """Channel create parameters as sent."""

    flex_flow_sid: str
    identity: str
    chat_user_friendly_name: str
    chat_friendly_name: str
    target: str | None = None
    chat_unique_name: str | None = None
    pre_engagement_data: str | None = None
    task_sid: str | None = None
    task_attributes: str | None = None
    long_lived: bool | None = None


def _check_integration(integration_type: str, integration: dict[str, Any]) -> None:
    for wire in REQUIRED_INTEGRATION[integration_type]:
        if INTEGRATION_KEYS[wire] not in integration:
            raise MissingParameter(wire)


def new_flex_flow(account_sid: str, fields: FlexFlowFields) -> FlexFlow:
    """A Flex Flow built from create parameters, with Twilio's defaults filled in."""
    assert fields.friendly_name is not None and fields.chat_service_sid is not None
    assert fields.channel_type is not None
    integration_type = fields.integration_type or "studio"
    _check_integration(integration_type, fields.integration)
    now = now_iso()
    return FlexFlow(
        sid=mint_sid("FO"),
        account_sid=account_sid,
        friendly_name=fields.friendly_name,
        chat_service_sid=fields.chat_service_sid,
        channel_type=fields.channel_type,
        contact_identity=fields.contact_identity,
        # A new flow is enabled unless told otherwise: a flow nobody can use surprises.
        enabled=True if fields.enabled is None else fields.enabled,
        integration_type=integration_type,
        integration=dict(fields.integration),
        long_lived=bool(fields.long_lived),
        janitor_enabled=bool(fields.janitor_enabled),
        date_created=now,
        date_updated=now,
    )


def updated_flex_flow(flow: FlexFlow, fields: FlexFlowFields) -> FlexFlow:
    """``flow`` with the sent parameters applied; Integration.* merge into the old object."""
    changes: dict[str, Any] = {
        name: getattr(fields, name)
        for name in (
            "friendly_name",
            "chat_service_sid",
            "channel_type",
            "contact_identity",
            "enabled",
            "integration_type",
            "long_lived",
            "janitor_enabled",
        )
        if getattr(fields, name) is not None
    }
    changes["integration"] = {**flow.integration, **fields.integration}
    updated = replace(flow, **changes, date_updated=now_iso())
    if updated.integration_type != flow.integration_type or fields.integration:
        _check_integration(updated.integration_type, updated.integration)
    return updated


def channel_flow(sid: str, flow: Sequence[Any] | None) -> tuple[str, str]:
    """The chat service and integration type of the flow a channel is created on, from
    its row ``(chat_service_sid, enabled, integration_type, ...)``; the flow must exist in
    the caller's account and be enabled."""
    if flow is None:
        raise FlexFlowNotFound(sid)
    if not flow[1]:
        raise FlexFlowDisabled(sid)
    return flow[0], flow[2]


def check_chat_unique_name(name: str | None) -> None:
    """An empty ChatUniqueName would collide with every other empty one: refuse it."""
    if name is not None and name == "":
        raise InvalidParameter("Invalid ChatUniqueName: must not be empty")
