"""Playing the agent: what an agent did in Flex's UI, for tests to exercise the reply path.

Each operation is a transaction script over the products' own rules: accepting a task
moves it through TaskRouter's reservation (pending → reserved → assigned) and adds the
agent to the chat as a member; the agent's messages are Chat messages with
``Source=SDK``, which fire the channel's webhooks whatever the request's headers, as the
Chat SDK's did; Send to Flex is Studio's widget (the task is made, the studio webhook
goes); wrapping up and completing move the task, and the janitor (domain/flex.py) acts
on the end. Chat channels are named by their ``CH`` sid alone, tasks by their ``WT`` sid.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..clock import order_us
from ..errors import InvalidParameter
from ..sids import mint_sid
from ..store.queries.agent import (
    ALL_CHANNEL_MESSAGES,
    CHANNEL_ATTEMPTS,
    CHANNEL_EVENTS,
    DELETE_STUDIO_WEBHOOKS,
    FETCH_TASK_BY_SID,
)
from ..store.queries.chat import FETCH_CHAT_CHANNEL_BY_SID, FETCH_MEMBER_BY_IDENTITY
from ..store.queries.flex import FLEX_CHANNEL_SETTINGS
from ..store.sql import Script
from . import flex, studio, taskrouter
from .chat.members import add_member
from .chat.messages import MessageCreate
from .lookups import require_one
from .records import ChatChannel, ChatMessage, DeliveryAttempt, OutboxEvent, Task

SDK = "SDK"


def require_task(account_sid: str, task_sid: str) -> Script[Task]:
    """The account's task ``task_sid`` (any workspace), or 404."""
    task = yield from require_one(FETCH_TASK_BY_SID(task_sid, account_sid), Task, f"/Tasks/{task_sid}")
    return task


def require_chat(account_sid: str, channel_sid: str) -> Script[ChatChannel]:
    """The account's chat channel ``channel_sid`` (any service), or 404."""
    channel = yield from require_one(
        FETCH_CHAT_CHANNEL_BY_SID(channel_sid, account_sid), ChatChannel, f"/Channels/{channel_sid}"
    )
    return channel


def move(account_sid: str, task_sid: str, status: str, reason: str | None = None) -> Script[Task]:
    """Move a task as TaskRouter would (refused moves are TaskRouter's 400)."""
    task = yield from require_task(account_sid, task_sid)
    moved = yield from taskrouter.move_task(account_sid, task.workspace_sid, task_sid, status, reason)
    return moved.task


def accept_task(account_sid: str, task_sid: str, agent: str) -> Script[Task]:
    """The agent ``agent`` accepts the task: reserved for it, then assigned; the agent
    joins the task's chat channel (``onMemberAdded`` with ``Source=SDK``)."""
    task = yield from require_task(account_sid, task_sid)
    if task.assignment_status == "pending":
        task = yield from move(account_sid, task_sid, "reserved")
    task = yield from move(account_sid, task_sid, "assigned", f"accepted by {agent}")
    if task.channel_sid:
        channel = yield from require_chat(account_sid, task.channel_sid)
        member = yield FETCH_MEMBER_BY_IDENTITY(channel.sid, agent, agent)
        if not member:
            yield from add_member(channel, agent, webhooks_enabled=True, source=SDK)
    return task


def send_message(account_sid: str, channel_sid: str, agent: str, body: str) -> Script[ChatMessage]:
    """A message from the agent: ``From`` the agent, ``Source=SDK``; the channel's
    webhooks fire whatever the request's headers."""
    channel = yield from require_chat(account_sid, channel_sid)
    message = yield from flex.create_message(
        account_sid, channel.service_sid, channel.sid, MessageCreate(author=agent, body=body),
        webhooks_enabled=True, source=SDK,
    )
    return message


def send_to_flex(
    account_sid: str, channel_sid: str, workspace_sid: str | None = None, workflow_sid: str | None = None
) -> Script[str]:
    """Studio's Send to Flex widget: the channel's task is made (in the workspace given,
    else the Flex configuration's, made on first use) and the studio webhook removed, so
    Studio stops answering the customer. Returns the task's sid."""
    channel = yield from require_chat(account_sid, channel_sid)
    rows = yield FLEX_CHANNEL_SETTINGS(channel.sid, account_sid)
    if not rows:
        raise InvalidParameter(f"Channel {channel_sid} is not a Flex channel: Send to Flex needs one")
    name, channel_type = rows[0][2], rows[0][5] or "custom"
    yield DELETE_STUDIO_WEBHOOKS(channel.sid, account_sid)
    if workspace_sid is None:
        configuration, _, _ = yield from flex.fetch_configuration(account_sid)
        workspace_sid = configuration.get("taskrouter_workspace_sid")
        workflow_sid = workflow_sid or configuration.get("taskrouter_target_workflow_sid")
        if workspace_sid is None:
            workspace_sid = yield from flex.ensure_workspace(account_sid, mint_sid("WS"))
            workflow_sid = yield from flex.ensure_workflow(account_sid, workspace_sid, None)
            yield from flex.update_configuration(
                account_sid,
                {"taskrouter_workspace_sid": workspace_sid, "taskrouter_target_workflow_sid": workflow_sid},
            )
    task_sid = yield from flex.open_task(
        account_sid, channel.sid, workspace_sid=workspace_sid, workflow_sid=workflow_sid, name=name,
        channel_type=channel_type,
    )
    return task_sid


def wrap_up(account_sid: str, task_sid: str, reason: str | None = None) -> Script[Task]:
    """The agent wraps up: the task moves to ``wrapping`` (the chat stays open)."""
    task = yield from move(account_sid, task_sid, "wrapping", reason)
    return task


def complete(account_sid: str, task_sid: str, reason: str | None = None) -> Script[Task]:
    """The agent completes the task (from ``assigned`` or ``wrapping``); the janitor acts."""
    task = yield from move(account_sid, task_sid, "completed", reason or "completed by the agent")
    return task


def end_chat(account_sid: str, channel_sid: str) -> Script[ChatChannel]:
    """The agent ends the chat: ``INACTIVE`` (``onChannelUpdated``, ``Source=SDK``), the
    Flex channel closed for good, and an assigned task moved to ``wrapping``."""
    channel = yield from require_chat(account_sid, channel_sid)
    ended = yield from flex.end_chat(account_sid, channel.sid, source=SDK)
    assert ended is not None
    tasks = yield from taskrouter.tasks_of_channel(account_sid, channel.sid)
    for task in tasks:
        if task.assignment_status == "assigned":
            yield from move(account_sid, task.sid, "wrapping", "chat ended by the agent")
    return ended


def task_to_wire(task: Task) -> dict[str, Any]:
    """What the control API shows of a task."""
    return {
        "sid": task.sid,
        "workspace_sid": task.workspace_sid,
        "assignment_status": task.assignment_status,
        "attributes": orjson.loads(task.attributes),
        "channel_sid": task.channel_sid,
        "reason": task.reason,
        "date_updated": task.date_updated,
    }


# Within one microsecond (or between rows with no finer time: written before schema step
# 12, or dated by the client), kinds keep this order, and each kind the order of its rows.
KIND_ORDER = {"message": 0, "delivery": 1, "task": 2, "execution": 3}


def timeline_key(kind: str, date_created: str, created_us: int | None, seq: int) -> tuple[int, int, int]:
    """Where an entry of a channel's timeline falls: by its finer creation time
    (clock.order_us), then its kind, then its row number. Each row's time is taken by the
    statement that writes it, strictly increasing within a process, so what one
    transaction writes keeps the order it was written in (a message before the events it
    raises), and what other processes wrote falls in by the clock."""
    return order_us(date_created, created_us), KIND_ORDER[kind], seq


def timeline(account_sid: str, channel_sid: str) -> Script[list[dict[str, Any]]]:
    """Everything that happened to a chat, in order: its messages, the events it raised
    with their deliveries and attempts, its tasks' moves and its Studio executions. Each
    entry has a ``type`` (message, delivery, task, execution) and the time ``at`` (its
    ``date_created``, whole seconds); entries are ordered by :func:`timeline_key`, finer
    than ``at``."""
    channel = yield from require_chat(account_sid, channel_sid)
    messages = yield ALL_CHANNEL_MESSAGES(channel.sid, account_sid)
    events = yield CHANNEL_EVENTS(channel.sid, account_sid)
    attempt_rows = yield CHANNEL_ATTEMPTS(channel.sid, account_sid)
    moves = yield from taskrouter.channel_task_events(account_sid, channel.sid)
    executions = yield from studio.executions_of_channel(account_sid, channel.sid)
    attempts: dict[int, list[DeliveryAttempt]] = {}
    for row in attempt_rows:
        attempt = DeliveryAttempt(*row)
        attempts.setdefault(attempt.outbox_seq, []).append(attempt)
    keyed: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
    for row in messages:
        message = ChatMessage(*row[:-1])
        keyed.append((timeline_key("message", message.date_created, row[-1], message.seq), {
            "type": "message", "at": message.date_created, "sid": message.sid, "index": message.message_index,
            "from": message.author, "body": message.body, "attributes": message.attributes,
        }))
    for event in map(lambda row: OutboxEvent(*row), events):
        # The wire shape of a delivery is delivery's own: the API layer renders these two.
        keyed.append((timeline_key("delivery", event.date_created, event.created_us, event.seq), {
            "type": "delivery", "at": event.date_created, "event": event, "attempts": attempts.get(event.seq, []),
        }))
    for move_ in moves:
        keyed.append((timeline_key("task", move_.date_created, move_.created_us, move_.seq), {
            "type": "task", "at": move_.date_created, "task_sid": move_.task_sid, "from_status": move_.from_status,
            "to_status": move_.to_status, "reason": move_.reason,
        }))
    for execution in executions:
        keyed.append((timeline_key("execution", execution.date_created, execution.created_us, execution.seq), {
            "type": "execution", "at": execution.date_created, "sid": execution.sid, "flow_sid": execution.flow_sid,
            "status": execution.status, "initiated_by": execution.initiated_by,
        }))
    keyed.sort(key=lambda pair: pair[0])
    return [entry for _, entry in keyed]
