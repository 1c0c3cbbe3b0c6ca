"""What Flex does: a Flex channel is a chat user, a chat channel with the same sid, the
user as its member, and the flow's integration as a channel webhook, made together in
one transaction (chat-layer-notes.md, "What Flex does with a channel")."""

from __future__ import annotations

import json
from typing import Any

import orjson

from ..dates import now_iso
from ..errors import ChatUniqueNameConflict, ChatUniqueNameTaken, InvalidParameter, ServiceUnavailable
from ..models import Channel, ChannelCreate, channel_flow, check_chat_unique_name
from ..paging import Window
from ..sids import mint_sid
from ..store.queries.chat import FETCH_CHAT_CHANNEL_BY_SID, UPDATE_CHANNEL
from ..store.queries.flex import (
    CLOSE_FLEX_CHANNEL,
    COUNT_FLEX_CHANNEL_CHANGE,
    DELETE_WEB_CHANNEL,
    FETCH_CHAT_SERVICE_OF_FLEX_CHANNEL,
    FETCH_CONFIGURATION,
    FETCH_FLEX_CHANNEL,
    FETCH_FLEX_CHANNEL_BY_IDENTITY,
    FETCH_WEB_CHANNEL,
    FIRST_FLOW_SERVICE,
    FLEX_CHANNEL_SETTINGS,
    FLEX_CHANNELS_OF_TASK,
    FLOW_FOR_NEW_CHANNEL,
    INSERT_CONFIGURATION,
    INSERT_FLEX_CHANNEL,
    INSERT_WEB_CHANNEL,
    LINK_TASK,
    LIST_WEB_CHANNELS,
    UPDATE_CONFIGURATION,
    UPDATE_WEB_CHANNEL,
)
from ..store.queries.taskrouter import FETCH_WORKFLOW, FETCH_WORKSPACE
from ..store.sql import Script, UniqueViolation, page
from . import taskrouter
from .chat import channels as chat_channels
from .chat import messages as chat_messages
from .chat.channels import insert_channel, remove_channel
from .chat.members import add_member
from .chat.messages import MessageCreate
from .chat.services import ensure_service
from .chat.users import ensure_user
from .chat.webhooks import add_webhook
from .events import channel_fields, emit
from .records import ChatChannel, ChatMessage, WebChannel

# Every field of flex.v1.configuration except the URL, which the API layer adds.
CONFIGURATION_FIELDS = (
    "account_sid", "date_created", "date_updated", "attributes", "status", "taskrouter_workspace_sid",
    "taskrouter_target_workflow_sid", "taskrouter_target_taskqueue_sid", "taskrouter_taskqueues",
    "taskrouter_skills", "taskrouter_worker_channels", "taskrouter_worker_attributes",
    "taskrouter_offline_activity_sid", "runtime_domain", "messaging_service_instance_sid",
    "chat_service_instance_sid", "flex_service_instance_sid", "flex_instance_sid", "ui_language",
    "ui_attributes", "ui_dependencies", "ui_version", "service_version", "call_recording_enabled",
    "call_recording_webhook_url", "crm_enabled", "crm_type", "crm_callback_url", "crm_fallback_url",
    "crm_attributes", "public_attributes", "plugin_service_enabled", "plugin_service_attributes",
    "integrations", "outbound_call_flows", "serverless_service_sids", "queue_stats_configuration",
    "notifications", "markdown", "flex_insights_hr", "flex_insights_drilldown", "flex_url",
    "channel_configs", "debugger_integration", "flex_ui_status_report", "agent_conv_end_methods",
    "citrix_voice_vdi", "offline_config",
)


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
    # One read: the flow, whether its chat service exists, the Identity's open channel.
    rows = yield FLOW_FOR_NEW_CHANNEL(params.identity, params.identity, params.flex_flow_sid, account_sid)
    flow = rows[0] if rows else None
    chat_service_sid, integration_type = channel_flow(params.flex_flow_sid, flow)
    assert flow is not None  # channel_flow raised otherwise
    if flow[7] is not None:  # the open channel's sid
        return Channel(*flow[7:])
    integration, channel_type, flow_long_lived = orjson.loads(flow[3]), flow[4], bool(flow[5])
    if not flow[6]:
        yield from ensure_service(account_sid, chat_service_sid)
    user = yield from ensure_user(account_sid, chat_service_sid, params.identity, params.chat_user_friendly_name)
    now = now_iso()
    # A task flow's task: the TaskSid sent, else a new task (made below, once the rows are
    # in), unless the flow opens it at the customer's first message.
    task_sid = params.task_sid
    opens_task = integration_type == "task" and task_sid is None and not integration.get("creation_on_message")
    if opens_task:
        task_sid = mint_sid("WT")
    channel = Channel(
        mint_sid("CH"), account_sid, params.flex_flow_sid, user.sid,
        task_sid if integration_type == "task" else None, now, now,
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
            type_="private", created_by="system", members_count=1,
        )
    except ChatUniqueNameConflict:  # a Chat channel of the service has that name
        raise ChatUniqueNameTaken(params.chat_unique_name or "") from None
    # Counted in by the insert above: one statement fewer.
    yield from add_member(chat_channel, params.identity, webhooks_enabled=False, count=False)
    webhook = integration_webhook(integration_type, integration)
    if webhook is not None:
        yield from add_webhook(chat_channel, *webhook)
    if opens_task:
        yield from open_task(
            account_sid, channel.sid, workspace_sid=integration["workspace_sid"],
            workflow_sid=integration.get("workflow_sid"), name=params.chat_user_friendly_name,
            channel_type=channel_type, task_attributes=params.task_attributes, priority=integration.get("priority"),
            timeout=integration.get("timeout"), task_channel=integration.get("channel"), sid=task_sid,
        )
    channel.seq = inserted[0][0]
    return channel


def delete_channel(account_sid: str, sid: str) -> Script[bool]:
    """``DELETE /v1/Channels/{Sid}``: the chat channel and everything in it go too."""
    rows = yield FETCH_CHAT_SERVICE_OF_FLEX_CHANNEL(sid, account_sid)
    if not rows:
        return False
    # By its sid alone and locked: a delete that committed since the read leaves no row
    # (this request's 404 then names /Channels/{Sid}, not the chat channel), and a
    # UniqueName that looks like this sid never names another channel here.
    rows = yield FETCH_CHAT_CHANNEL_BY_SID(sid, account_sid)
    if not rows:
        return False
    removed = yield from remove_channel(ChatChannel(*rows[0]), webhooks_enabled=False)
    return removed


def is_inactive(channel: ChatChannel) -> bool:
    """Whether the chat's attributes say it ended (``status: INACTIVE``, as Flex wrote it)."""
    try:
        attributes = orjson.loads(channel.attributes)
    except orjson.JSONDecodeError:
        return False
    return isinstance(attributes, dict) and str(attributes.get("status", "")).upper() == "INACTIVE"


def channel_status_changed(channel: ChatChannel) -> Script[None]:
    """After a chat channel's attributes changed: a chat marked ``INACTIVE`` closes its
    Flex channel for good, so the contact's next ``POST /v1/Channels`` opens a new one."""
    if is_inactive(channel):
        yield CLOSE_FLEX_CHANNEL(False, channel.sid, channel.account_sid)


def update_chat_channel(
    account_sid: str, service_sid: str, ref: str, changes: dict[str, Any], *, webhooks_enabled: bool
) -> Script[tuple[ChatChannel, str | None]]:
    """``POST /v2/Services/{IS}/Channels/{CH}``: Chat's update, and then Flex's rule that a
    chat marked ``INACTIVE`` closes its Flex channel (programs end chats this way)."""
    updated, last = yield from chat_channels.update_channel(
        account_sid, service_sid, ref, changes, webhooks_enabled=webhooks_enabled
    )
    yield from channel_status_changed(updated)
    return updated, last


# -- web channels ---------------------------------------------------------------------


def create_web_channel(account_sid: str, params: ChannelCreate) -> Script[WebChannel]:
    """``POST /v1/WebChannels``: a Flex channel as the web chat widget makes it, listed
    among the web channels; the Identity's open channel on the flow is reused."""
    channel = yield from create_channel(account_sid, params)
    rows = yield INSERT_WEB_CHANNEL(channel.sid, account_sid, channel.flex_flow_sid, channel.date_created,
                                    channel.date_updated)
    if not rows:
        rows = yield FETCH_WEB_CHANNEL(channel.sid, account_sid)
    return WebChannel(*rows[0])


def update_web_channel(
    account_sid: str, sid: str, chat_status: str | None, post_engagement_data: str | None
) -> Script[WebChannel | None]:
    """``POST /v1/WebChannels/{Sid}``: ``ChatStatus=inactive`` ends the chat (the chat
    channel's status becomes ``INACTIVE``, an ``onChannelUpdated`` event, as Flex raised
    it whatever the request's headers); ``PostEngagementData`` is kept with it."""
    rows = yield FETCH_WEB_CHANNEL(sid, account_sid)
    if not rows:
        return None
    web = WebChannel(*rows[0])
    changes: dict[str, Any] = {}
    if chat_status == "inactive":
        changes["status"] = "INACTIVE"
    if post_engagement_data is not None:
        changes["post_engagement_data"] = _pre_engagement(post_engagement_data)
    if changes:
        changed = yield from set_chat_attributes(account_sid, sid, **changes)
        if changed is not None:
            yield from channel_status_changed(changed)
            yield from emit(account_sid, changed.service_sid, sid, "onChannelUpdated", channel_fields(changed))
    now = now_iso()
    rows = yield UPDATE_WEB_CHANNEL(
        post_engagement_data if post_engagement_data is not None else web.post_engagement_data, now, web.seq
    )
    # None (a 404) where a delete that committed since the read left the UPDATE no row on
    # PostgreSQL. The chat channel's row, where changed above, was locked first: the order
    # the web channel's delete (and the chat channel's) takes.
    return WebChannel(*rows[0]) if rows else None


def delete_web_channel(account_sid: str, sid: str) -> Script[bool]:
    """``DELETE /v1/WebChannels/{Sid}``: the Flex channel and its conversation go too."""
    rows = yield FETCH_WEB_CHANNEL(sid, account_sid)
    if not rows:
        return False
    removed = yield from delete_channel(account_sid, sid)
    if removed:  # the web channel went with it
        return True
    # No Flex channel: its chat service's delete leaves the web channel, or a concurrent
    # delete of it committed since the read (then this DELETE finds no row either).
    deleted = yield DELETE_WEB_CHANNEL(sid, account_sid)
    return bool(deleted)


# -- configuration --------------------------------------------------------------------

# Fields that POST /v1/Configuration may not change: who owns it and what the server says.
READ_ONLY_CONFIGURATION = frozenset({"account_sid", "date_created", "date_updated", "url", "status"})


def default_configuration(account_sid: str, chat_service_sid: str) -> dict[str, Any]:
    """A new account's Flex configuration: every field of ``flex.v1.configuration``,
    tied to the account's chat service."""
    fields: dict[str, Any] = {name: None for name in CONFIGURATION_FIELDS}
    fields.update(
        {
            "attributes": {},
            "status": "ok",
            "chat_service_instance_sid": chat_service_sid,
            "flex_service_instance_sid": chat_service_sid,
            "flex_instance_sid": mint_sid("GO"),
            "ui_language": "en",
            "ui_attributes": {},
            "ui_dependencies": {},
            "ui_version": "2.0.0",
            "service_version": "1.0",
            "call_recording_enabled": False,
            "crm_enabled": False,
            "plugin_service_enabled": False,
            "integrations": [],
            "serverless_service_sids": [],
            "notifications": {"enabled": True, "mode": "whenNotInFocus"},
            "markdown": {"enabled": False, "mode": "readOnly"},
            "flex_insights_hr": {},
            "flex_insights_drilldown": False,
            "channel_configs": [],
            "agent_conv_end_methods": {},
            "citrix_voice_vdi": {},
            "offline_config": {},
            "public_attributes": {},
        }
    )
    return fields


def fetch_configuration(account_sid: str) -> Script[tuple[dict[str, Any], str, str]]:
    """The account's configuration with its dates, made on first use: its chat service
    is that of the account's first Flex Flow, else a new Flex chat service."""
    rows = yield FETCH_CONFIGURATION(account_sid)
    if not rows:
        flows = yield FIRST_FLOW_SERVICE(account_sid)
        service_sid = flows[0][0] if flows else mint_sid("IS")
        yield from ensure_service(account_sid, service_sid)
        now = now_iso()
        yield INSERT_CONFIGURATION(
            account_sid, orjson.dumps(default_configuration(account_sid, service_sid)).decode(), now, now
        )
        rows = yield FETCH_CONFIGURATION(account_sid)
    return orjson.loads(rows[0][0]), rows[0][1], rows[0][2]


def update_configuration(account_sid: str, changes: dict[str, Any]) -> Script[tuple[dict[str, Any], str, str]]:
    """``POST /v1/Configuration``: the sent top-level fields replace the stored ones."""
    configuration, created, _ = yield from fetch_configuration(account_sid)
    for name, value in changes.items():
        if name == "account_sid":
            if value != account_sid:
                raise InvalidParameter("Invalid account_sid: must be the Account Sid of the credentials")
            continue
        if name in READ_ONLY_CONFIGURATION:
            continue
        if name not in CONFIGURATION_FIELDS:
            raise InvalidParameter(f"Invalid configuration field: {name}")
        configuration[name] = value
    now = now_iso()
    yield UPDATE_CONFIGURATION(orjson.dumps(configuration).decode(), now, account_sid)
    return configuration, created, now


def list_web_channels(account_sid: str, window: Window) -> Script[tuple[list[WebChannel], bool]]:
    """One page of the account's web channels, oldest first."""
    rows, more = yield from page(LIST_WEB_CHANNELS, (account_sid,), window)
    return [WebChannel(*row) for row in rows], more


def fetch_web_channel(account_sid: str, sid: str) -> Script[WebChannel | None]:
    """One web channel of the account, or None."""
    rows = yield FETCH_WEB_CHANNEL(sid, account_sid)
    return WebChannel(*rows[0]) if rows else None


# -- orchestration: tasks, the janitor ------------------------------------------------

# Names Flex gave the TaskRouter parts that came with every Flex account.
FLEX_WORKSPACE_NAME = "Flex Task Assignment"
FLEX_WORKFLOW_NAME = "Assign to Anyone"


def ensure_workspace(account_sid: str, workspace_sid: str) -> Script[str]:
    """The account's workspace ``workspace_sid``, created (with TaskRouter's default task
    channels) if it does not exist yet: like its chat service, a Flex account came with
    its workspace, and a ``task`` flow names it by sid."""
    rows = yield FETCH_WORKSPACE(workspace_sid, account_sid)
    if not rows:
        yield from taskrouter.create_workspace(account_sid, FLEX_WORKSPACE_NAME, sid=workspace_sid)
    return workspace_sid


def ensure_workflow(account_sid: str, workspace_sid: str, workflow_sid: str | None) -> Script[str]:
    """The workspace's workflow ``workflow_sid`` (or a new one), created if it does not
    exist yet, routing every task to one queue."""
    if workflow_sid is not None:
        rows = yield FETCH_WORKFLOW(workflow_sid, account_sid, workspace_sid)
        if rows:
            return workflow_sid
    configuration = orjson.dumps({"task_routing": {"filters": [], "default_filter": {"queue": mint_sid("WQ")}}})
    workflow = yield from taskrouter.create_workflow(
        account_sid, workspace_sid, FLEX_WORKFLOW_NAME, configuration.decode(), sid=workflow_sid
    )
    return workflow.sid


def set_chat_attributes(account_sid: str, channel_sid: str, **changes: Any) -> Script[ChatChannel | None]:
    """Merge ``changes`` into a chat channel's attributes (a value of None removes the key)."""
    rows = yield FETCH_CHAT_CHANNEL_BY_SID(channel_sid, account_sid)
    if not rows:
        return None
    channel = ChatChannel(*rows[0])
    try:
        attributes = orjson.loads(channel.attributes)
    except orjson.JSONDecodeError:
        attributes = {}
    if not isinstance(attributes, dict):
        attributes = {}
    for key, value in changes.items():
        if value is None:
            attributes.pop(key, None)
        else:
            attributes[key] = value
    updated = yield UPDATE_CHANNEL(
        channel.friendly_name, channel.unique_name, orjson.dumps(attributes).decode(), channel.created_by,
        channel.date_created, now_iso(), channel.seq, account_sid,
    )
    return ChatChannel(*updated[0])


def link_task(account_sid: str, channel_sid: str, task_sid: str | None) -> Script[None]:
    """Make ``task_sid`` the Flex channel's task (None: no task), in the Flex channel and
    in the chat channel's attributes; counted, so no cached copy of the channel outlives it."""
    yield LINK_TASK(task_sid, now_iso(), channel_sid, account_sid)
    yield COUNT_FLEX_CHANNEL_CHANGE()
    yield from set_chat_attributes(account_sid, channel_sid, task_sid=task_sid)


def open_task(
    account_sid: str,
    channel_sid: str,
    *,
    workspace_sid: str,
    workflow_sid: str | None,
    name: str,
    channel_type: str,
    task_attributes: str | None = None,
    priority: int | None = None,
    timeout: int | None = None,
    task_channel: str | None = None,
    sid: str | None = None,
) -> Script[str]:
    """A task for a chat, as Flex made them: attributes ``{"channelSid", "name",
    "channelType"}`` merged with ``TaskAttributes``, in the flow's workspace and workflow
    (made if missing), on its task channel (default ``chat``). A task ``sid`` chosen in
    advance is already in the channel's rows (channel create); else it is linked now."""
    yield from ensure_workspace(account_sid, workspace_sid)
    workflow = yield from ensure_workflow(account_sid, workspace_sid, workflow_sid)
    attributes: dict[str, Any] = {"channelSid": channel_sid, "name": name, "channelType": channel_type}
    if task_attributes:
        attributes.update(orjson.loads(task_attributes))
    task = yield from taskrouter.create_task(
        account_sid, workspace_sid, workflow, attributes, priority, timeout, task_channel or "chat", sid=sid
    )
    if sid is None:
        yield from link_task(account_sid, channel_sid, task.sid)
    return task.sid


def open_flow_task(account_sid: str, channel_sid: str) -> Script[str | None]:
    """The task a ``task`` flow gives a channel (its integration's workspace, workflow,
    priority, timeout and task channel); None for other flows."""
    rows = yield FLEX_CHANNEL_SETTINGS(channel_sid, account_sid)
    if not rows or rows[0][3] != "task":
        return None
    _, task_attributes, name, _, integration_text, channel_type, *_ = rows[0]
    integration = orjson.loads(integration_text)
    task_sid = yield from open_task(
        account_sid, channel_sid,
        workspace_sid=integration["workspace_sid"], workflow_sid=integration.get("workflow_sid"),
        name=name, channel_type=channel_type, task_attributes=task_attributes,
        priority=integration.get("priority"), timeout=integration.get("timeout"),
        task_channel=integration.get("channel"),
    )
    return task_sid


def create_message(
    account_sid: str,
    service_sid: str,
    channel_ref: str,
    values: MessageCreate,
    *,
    webhooks_enabled: bool,
    source: str = "API",
) -> Script[ChatMessage]:
    """``POST /v2/Services/{IS}/Channels/{CH}/Messages``: Chat's create, then Flex's rule
    for a ``task`` flow with ``Integration.CreationOnMessage``: the customer's first
    message (not the agent's) opens the channel's task."""
    message = yield from chat_messages.create_message(
        account_sid, service_sid, channel_ref, values, webhooks_enabled=webhooks_enabled, source=source
    )
    if source != "SDK":
        rows = yield FLEX_CHANNEL_SETTINGS(message.channel_sid, account_sid)
        if rows and rows[0][3] == "task" and orjson.loads(rows[0][4]).get("creation_on_message"):
            channel = yield FETCH_FLEX_CHANNEL(message.channel_sid, account_sid)
            if channel and channel[0][4] is None:  # no task yet
                yield from open_flow_task(account_sid, message.channel_sid)
    return message


def end_chat(account_sid: str, channel_sid: str, *, source: str = "API") -> Script[ChatChannel | None]:
    """Mark a chat ``INACTIVE`` (``onChannelUpdated``) and close its Flex channel for good."""
    channel = yield from set_chat_attributes(account_sid, channel_sid, status="INACTIVE")
    if channel is None:
        return None
    yield from channel_status_changed(channel)
    yield from emit(account_sid, channel.service_sid, channel.sid, "onChannelUpdated", channel_fields(channel),
                    source=source)
    return channel


def janitor(move: taskrouter.TaskMove) -> Script[None]:
    """When a chat's task ends (completed, canceled or deleted; wrapping does not end it),
    Flex's janitor closes the channel if its flow has ``janitor_enabled``, unless the
    channel is long-lived: a long-lived channel stays ``ACTIVE`` for the contact's next
    interaction and lets go of the ended task, so the next one can be opened."""
    if move.to_status not in ("completed", "canceled", taskrouter.DELETED) or not move.moved:
        return
    task = move.task
    rows = yield FLEX_CHANNELS_OF_TASK(task.account_sid, task.sid)
    for row in rows:
        channel = Channel(*row)
        settings = yield FLEX_CHANNEL_SETTINGS(channel.sid, task.account_sid)
        if not settings:
            continue
        long_lived_param, *_, flow_long_lived, janitor_enabled, _, _, _ = settings[0]
        long_lived = bool(flow_long_lived) if long_lived_param is None else bool(long_lived_param)
        if long_lived:
            yield from link_task(task.account_sid, channel.sid, None)
        elif janitor_enabled:
            yield from end_chat(task.account_sid, channel.sid)
