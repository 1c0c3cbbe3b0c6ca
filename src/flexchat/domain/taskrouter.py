"""TaskRouter: workspaces, workflows, task channels and tasks, as transaction scripts.

A task's ``assignment_status`` moves only as TaskRouter moves it (``MOVES``); every move,
the creation included, is a row of ``tr_task_events`` (the task's history, for a
channel's timeline). REST updates may make only the moves Twilio's Task update makes
(``API_MOVES``); the others (a reservation, its acceptance or rejection) are TaskRouter's
own and are made by flexchat's orchestration through :func:`move_task`.

Code that must react to a move (Flex's janitor when a task ends) registers a hook in
``TASK_MOVE_HOOKS``: it runs inside the transaction of the move, REST or not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import orjson

from ..clock import now_us
from ..dates import now_iso
from ..errors import (
    InvalidPageToken,
    InvalidParameter,
    MissingParameter,
    NotFound,
    TaskMoveRefused,
    TaskVersionMismatch,
)
from ..paging import Window
from ..sids import mint_sid
from ..store.queries.taskrouter import (
    DELETE_TASK,
    DELETE_TASK_CHANNEL,
    DELETE_WORKFLOW,
    DELETE_WORKSPACE,
    DELETE_WORKSPACE_ROWS,
    FETCH_TASK,
    FETCH_TASK_CHANNEL,
    FETCH_TASK_CHANNEL_BY_UNIQUE_NAME,
    FETCH_TASK_FOR_UPDATE,
    FETCH_TASK_SORT_KEYS,
    FETCH_WORKFLOW,
    FETCH_WORKFLOW_FOR_UPDATE,
    FETCH_WORKSPACE,
    FETCH_WORKSPACE_FOR_UPDATE,
    FIRST_WORKFLOWS,
    INSERT_TASK,
    INSERT_TASK_CHANNEL,
    INSERT_TASK_EVENT,
    INSERT_WORKFLOW,
    INSERT_WORKSPACE,
    LIST_CHANNEL_TASK_EVENTS,
    LIST_CHANNEL_TASKS,
    LIST_TASK_CHANNELS,
    LIST_TASK_EVENTS,
    LIST_WORKFLOWS,
    LIST_WORKFLOWS_BY_NAME,
    LIST_WORKSPACES,
    LIST_WORKSPACES_BY_NAME,
    RENAME_WORKFLOW_TASKS,
    TASK,
    UPDATE_TASK,
    UPDATE_TASK_CHANNEL,
    UPDATE_WORKFLOW,
    UPDATE_WORKSPACE,
)
from ..store.sql import Query, Script, Statement, page, sql
from .expressions import Predicate, compile_expression
from .lookups import find_by_sid_or_name, require_deleted, require_one
from .records import Task, TaskChannel, TaskEvent, Workflow, Workspace

R = TypeVar("R")

STATUSES = ("pending", "reserved", "assigned", "canceled", "completed", "wrapping")
# Not a TaskRouter status: the last row of a deleted task's history, and the ``to_status``
# the move hooks see for a deletion.
DELETED = "deleted"
# A task in one of these has not ended (completed and canceled are final).
OPEN_STATUSES = ("pending", "reserved", "assigned", "wrapping")
# What a REST update of a task may do (Twilio's Task update): cancel a task that no one
# has accepted yet, wrap up an assigned one, complete an assigned or wrapping one. TaskRouter's
# docs: "At any point until the Task has been assigned, the Task can be canceled ... An
# assigned Task won't move to canceled."
API_MOVES: dict[str, frozenset[str]] = {
    "pending": frozenset({"canceled"}),
    "reserved": frozenset({"canceled"}),
    "assigned": frozenset({"wrapping", "completed"}),
    "wrapping": frozenset({"completed"}),
}
# Every move TaskRouter itself makes: a reservation (pending -> reserved), its rejection
# or timeout (reserved -> pending) and its acceptance (reserved -> assigned), and the above.
MOVES: dict[str, frozenset[str]] = {
    "pending": API_MOVES["pending"] | {"reserved"},
    "reserved": API_MOVES["reserved"] | {"pending", "assigned"},
    "assigned": API_MOVES["assigned"],
    "wrapping": API_MOVES["wrapping"],
}

DEFAULT_TASK_CHANNELS = (
    ("Default", "default"), ("Voice", "voice"), ("Programmable Chat", "chat"),
    ("SMS", "sms"), ("Video", "video"), ("Email", "email"),
)
DEFAULT_TIMEOUT = 86_400
MAX_TIMEOUT = 1_209_600
MAX_FRIENDLY_NAME = 64
FIFO_WORKFLOW_NAME = "Default Fifo Workflow"


@dataclass(frozen=True)
class TaskMove:
    """A task after a change, and the assignment status it had before (equal to
    ``task.assignment_status`` when the change moved nothing)."""

    task: Task
    from_status: str

    @property
    def to_status(self) -> str:
        """The status the task has now."""
        return self.task.assignment_status

    @property
    def moved(self) -> bool:
        """Whether the assignment status changed."""
        return self.from_status != self.task.assignment_status


# Hooks run in the transaction of every move (REST or not) and deletion (``to_status`` is
# ``DELETED``): ``hook(move)`` is a script.
TaskMoveHook = Callable[[TaskMove], Script[None]]
TASK_MOVE_HOOKS: list[TaskMoveHook] = []


def _check_friendly_name(name: str, what: str) -> str:
    if len(name) > MAX_FRIENDLY_NAME:
        raise InvalidParameter(f"Invalid FriendlyName: a {what}'s is at most {MAX_FRIENDLY_NAME} characters")
    return name


# -- workspaces ----------------------------------------------------------------------------


def create_workspace(
    account_sid: str,
    friendly_name: str,
    *,
    event_callback_url: str | None = None,
    events_filter: str | None = None,
    multi_task_enabled: bool = True,
    prioritize_queue_order: str = "FIFO",
    template: str = "NONE",
    sid: str | None = None,
) -> Script[Workspace]:
    """A new workspace with Twilio's default task channels (default, voice, chat, sms,
    video, email); ``template="FIFO"`` adds the "Default Fifo Workflow". ``sid`` is for
    Flex, which names its workspace before flexchat has it (domain/flex.py)."""
    _check_friendly_name(friendly_name, "Workspace")
    if template not in ("NONE", "FIFO"):
        raise InvalidParameter(f"Invalid Template: {template!r} is not one of NONE, FIFO")
    now = now_iso()
    # No Activities resource in flexchat: the default and timeout activity is "Offline".
    offline = mint_sid("WA")
    rows = yield INSERT_WORKSPACE(
        sid or mint_sid("WS"), account_sid, friendly_name, event_callback_url, events_filter, multi_task_enabled,
        prioritize_queue_order, offline, "Offline", offline, "Offline", now, now,
    )
    workspace = Workspace(*rows[0])
    for name, unique_name in DEFAULT_TASK_CHANNELS:
        yield INSERT_TASK_CHANNEL(mint_sid("TC"), account_sid, workspace.sid, name, unique_name, False, now, now)
    if template == "FIFO":
        configuration = {"task_routing": {"filters": [], "default_filter": {"queue": mint_sid("WQ")}}}
        yield INSERT_WORKFLOW(
            mint_sid("WW"), account_sid, workspace.sid, FIFO_WORKFLOW_NAME, json.dumps(configuration),
            None, None, 120, now, now,
        )
    return workspace


def require_workspace(account_sid: str, sid: str, *, lock: bool = False) -> Script[Workspace]:
    """The account's workspace ``sid``, or 404 (another account's is not found either)."""
    statement = FETCH_WORKSPACE_FOR_UPDATE if lock else FETCH_WORKSPACE
    workspace = yield from require_one(statement(sid, account_sid), Workspace, f"/Workspaces/{sid}")
    return workspace


def update_workspace(account_sid: str, sid: str, changes: dict[str, Any]) -> Script[Workspace]:
    """Apply the sent fields (wire names as attributes of :class:`Workspace`)."""
    workspace = yield from require_workspace(account_sid, sid, lock=True)
    if "friendly_name" in changes:
        _check_friendly_name(changes["friendly_name"], "Workspace")
    for name in ("default_activity_sid", "timeout_activity_sid"):
        # The only activity flexchat keeps is the workspace's "Offline".
        if name in changes and changes[name] != workspace.default_activity_sid:
            raise InvalidParameter(f"Invalid {_wire(name)}: {changes[name]} is not an Activity of workspace {sid}")
    merged = {**_fields(workspace), **changes}
    rows = yield UPDATE_WORKSPACE(
        merged["friendly_name"], merged["event_callback_url"], merged["events_filter"],
        merged["multi_task_enabled"], merged["prioritize_queue_order"], merged["default_activity_sid"],
        merged["timeout_activity_sid"], now_iso(), workspace.seq, account_sid,
    )
    return Workspace(*rows[0])


def delete_workspace(account_sid: str, sid: str) -> Script[bool]:
    """Delete a workspace with its workflows, task channels, tasks and task history."""
    for statement in DELETE_WORKSPACE_ROWS:
        yield statement(sid, account_sid)
    rows = yield DELETE_WORKSPACE(sid, account_sid)
    return bool(rows)


def list_workspaces(
    account_sid: str, friendly_name: str | None, window: Window
) -> Script[tuple[list[Workspace], bool]]:
    """One page of the account's workspaces, oldest first, optionally by exact name."""
    if friendly_name is None:
        rows, more = yield from page(LIST_WORKSPACES, (account_sid,), window)
    else:
        rows, more = yield from page(LIST_WORKSPACES_BY_NAME, (account_sid, friendly_name), window)
    return [Workspace(*row) for row in rows], more


# -- workflows -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Routing:
    """A workflow's configuration, read: its filters in order and the default."""

    filters: tuple[tuple[Predicate, str | None, int | None], ...]
    default_queue: str | None

    def route(self, attributes: dict[str, Any]) -> tuple[str | None, int | None]:
        """The queue and target priority the first matching filter gives, else the default's."""
        for matches, queue, priority in self.filters:
            if matches(attributes):
                return queue, priority
        return self.default_queue, None


def read_configuration(text: str) -> Routing:
    """Check a workflow configuration (JSON: ``{"task_routing": {"filters": [{"expression",
    "targets": [{"queue", "priority"...}]}], "default_filter": {"queue"}}}``) and read it."""

    def bad(why: str) -> InvalidParameter:
        return InvalidParameter(f"Invalid Configuration: {why}")

    try:
        document = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise bad("not valid JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("task_routing"), dict):
        raise bad("must be a JSON object with a task_routing object")
    routing = document["task_routing"]
    filters = routing.get("filters", [])
    if not isinstance(filters, list):
        raise bad("task_routing.filters must be a list")
    read: list[tuple[Predicate, str | None, int | None]] = []
    for number, entry in enumerate(filters):
        if not isinstance(entry, dict):
            raise bad(f"filter {number} must be an object")
        expression = entry.get("expression", "1==1")
        if not isinstance(expression, str):
            raise bad(f"filter {number}'s expression must be a string")
        targets = entry.get("targets")
        if not isinstance(targets, list) or not targets or not all(isinstance(t, dict) for t in targets):
            raise bad(f"filter {number} must have a non-empty list of target objects")
        first = targets[0]
        queue = first.get("queue")
        if not isinstance(queue, str):
            raise bad(f"filter {number}'s first target must name a queue")
        priority = first.get("priority")
        if priority is not None and not isinstance(priority, int):
            raise bad(f"filter {number}'s target priority must be an integer")
        read.append((compile_expression(expression, f"Configuration (filter {number})"), queue, priority))
    default = routing.get("default_filter")
    if default is not None and (not isinstance(default, dict) or not isinstance(default.get("queue"), str)):
        raise bad("task_routing.default_filter must be an object with a queue")
    return Routing(tuple(read), default["queue"] if default else None)


def create_workflow(
    account_sid: str,
    workspace_sid: str,
    friendly_name: str,
    configuration: str,
    *,
    assignment_callback_url: str | None = None,
    fallback_assignment_callback_url: str | None = None,
    task_reservation_timeout: int = 120,
    sid: str | None = None,
) -> Script[Workflow]:
    """A new workflow; its configuration is checked (:func:`read_configuration`). ``sid``
    as for :func:`create_workspace`."""
    read_configuration(configuration)
    _check_reservation_timeout(task_reservation_timeout)
    yield from require_workspace(account_sid, workspace_sid)
    now = now_iso()
    rows = yield INSERT_WORKFLOW(
        sid or mint_sid("WW"), account_sid, workspace_sid, friendly_name, configuration, assignment_callback_url,
        fallback_assignment_callback_url, task_reservation_timeout, now, now,
    )
    return Workflow(*rows[0])


def _check_reservation_timeout(value: int) -> None:
    if not 1 <= value <= 86_400:
        raise InvalidParameter(f"Invalid TaskReservationTimeout: {value} is not between 1 and 86400")


def _require_in_workspace(
    account_sid: str, workspace_sid: str, sid: str, statement: Statement, record: Callable[..., R], collection: str
) -> Script[R]:
    """The record of ``statement``'s row ``sid`` in the workspace (a workflow, a task), or
    404 naming the workspace where it does not exist, else naming the record."""
    yield from require_workspace(account_sid, workspace_sid)
    path = f"/Workspaces/{workspace_sid}/{collection}/{sid}"
    found = yield from require_one(statement(sid, account_sid, workspace_sid), record, path)
    return found


def require_workflow(account_sid: str, workspace_sid: str, sid: str, *, lock: bool = False) -> Script[Workflow]:
    """The workspace's workflow ``sid``, or 404."""
    statement = FETCH_WORKFLOW_FOR_UPDATE if lock else FETCH_WORKFLOW
    workflow = yield from _require_in_workspace(account_sid, workspace_sid, sid, statement, Workflow, "Workflows")
    return workflow


def update_workflow(account_sid: str, workspace_sid: str, sid: str, changes: dict[str, Any]) -> Script[Workflow]:
    """Apply the sent fields; a new FriendlyName shows on the workflow's tasks too."""
    if "configuration" in changes:
        read_configuration(changes["configuration"])
    if "task_reservation_timeout" in changes:
        _check_reservation_timeout(changes["task_reservation_timeout"])
    workflow = yield from require_workflow(account_sid, workspace_sid, sid, lock=True)
    merged = {**_fields(workflow), **changes}
    rows = yield UPDATE_WORKFLOW(
        merged["friendly_name"], merged["configuration"], merged["assignment_callback_url"],
        merged["fallback_assignment_callback_url"], merged["task_reservation_timeout"], now_iso(),
        workflow.seq, account_sid,
    )
    if merged["friendly_name"] != workflow.friendly_name:
        yield RENAME_WORKFLOW_TASKS(merged["friendly_name"], sid, account_sid)
    return Workflow(*rows[0])


def delete_workflow(account_sid: str, workspace_sid: str, sid: str) -> Script[bool]:
    """Delete a workflow (its tasks stay, naming it); whether it existed."""
    yield from require_workspace(account_sid, workspace_sid)
    rows = yield DELETE_WORKFLOW(sid, account_sid, workspace_sid)
    return bool(rows)


def list_workflows(
    account_sid: str, workspace_sid: str, friendly_name: str | None, window: Window
) -> Script[tuple[list[Workflow], bool]]:
    """One page of the workspace's workflows, oldest first, optionally by exact name."""
    yield from require_workspace(account_sid, workspace_sid)
    if friendly_name is None:
        rows, more = yield from page(LIST_WORKFLOWS, (account_sid, workspace_sid), window)
    else:
        rows, more = yield from page(LIST_WORKFLOWS_BY_NAME, (account_sid, workspace_sid, friendly_name), window)
    return [Workflow(*row) for row in rows], more


# -- task channels -------------------------------------------------------------------------


def create_task_channel(
    account_sid: str, workspace_sid: str, friendly_name: str, unique_name: str,
    channel_optimized_routing: bool | None = None,
) -> Script[TaskChannel]:
    """A new task channel; a UniqueName already used in the workspace is refused."""
    _check_friendly_name(friendly_name, "TaskChannel")
    yield from require_workspace(account_sid, workspace_sid)
    now = now_iso()
    rows = yield INSERT_TASK_CHANNEL(
        mint_sid("TC"), account_sid, workspace_sid, friendly_name, unique_name, channel_optimized_routing, now, now
    )
    if not rows:
        raise InvalidParameter(
            f"Invalid UniqueName: workspace {workspace_sid} already has a TaskChannel {unique_name!r}"
        )
    return TaskChannel(*rows[0])


def find_task_channel(account_sid: str, workspace_sid: str, ref: str) -> Script[TaskChannel | None]:
    """The workspace's task channel named by ``ref``: a TC sid, else a unique name."""
    found = yield from find_by_sid_or_name(
        ref, "TC", TaskChannel, (account_sid, workspace_sid), FETCH_TASK_CHANNEL, FETCH_TASK_CHANNEL_BY_UNIQUE_NAME
    )
    return found


def require_task_channel(account_sid: str, workspace_sid: str, ref: str) -> Script[TaskChannel]:
    """:func:`find_task_channel` in an existing workspace, or 404."""
    yield from require_workspace(account_sid, workspace_sid)
    channel = yield from find_task_channel(account_sid, workspace_sid, ref)
    if channel is None:
        raise NotFound(f"/Workspaces/{workspace_sid}/TaskChannels/{ref}")
    return channel


def update_task_channel(
    account_sid: str, workspace_sid: str, ref: str, changes: dict[str, Any]
) -> Script[TaskChannel]:
    """Apply FriendlyName / ChannelOptimizedRouting."""
    if "friendly_name" in changes:
        _check_friendly_name(changes["friendly_name"], "TaskChannel")
    channel = yield from require_task_channel(account_sid, workspace_sid, ref)
    merged = {**_fields(channel), **changes}
    # A delete (of the task channel or its workspace) that committed since the read leaves
    # the UPDATE no row on PostgreSQL: a 404, as if it had come first.
    updated = yield from require_one(
        UPDATE_TASK_CHANNEL(
            merged["friendly_name"], merged["channel_optimized_routing"], now_iso(), channel.seq, account_sid
        ),
        TaskChannel, f"/Workspaces/{workspace_sid}/TaskChannels/{ref}",
    )
    return updated


def delete_task_channel(account_sid: str, workspace_sid: str, ref: str) -> Script[TaskChannel]:
    """Delete a task channel (tasks on it keep its sid and unique name)."""
    channel = yield from require_task_channel(account_sid, workspace_sid, ref)
    # Nothing is locked by the read, so a racing delete may have taken the row since.
    yield from require_deleted(
        DELETE_TASK_CHANNEL(channel.seq, account_sid), f"/Workspaces/{workspace_sid}/TaskChannels/{ref}"
    )
    return channel


def list_task_channels(
    account_sid: str, workspace_sid: str, window: Window
) -> Script[tuple[list[TaskChannel], bool]]:
    """One page of the workspace's task channels, oldest first."""
    yield from require_workspace(account_sid, workspace_sid)
    rows, more = yield from page(LIST_TASK_CHANNELS, (account_sid, workspace_sid), window)
    return [TaskChannel(*row) for row in rows], more


# -- tasks ---------------------------------------------------------------------------------


def _attributes_text(attributes: dict[str, Any] | str) -> tuple[str, dict[str, Any]]:
    """Attributes as stored (JSON text, as sent when text) and as an object."""
    if isinstance(attributes, str):
        try:
            value = json.loads(attributes)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            raise InvalidParameter("Invalid Attributes: not valid JSON") from None
        if not isinstance(value, dict):
            raise InvalidParameter("Invalid Attributes: must be a JSON object")
        return attributes, value
    return orjson.dumps(attributes).decode(), attributes


def _check_priority(priority: int) -> None:
    if not 0 <= priority <= 2**31 - 1:
        raise InvalidParameter(f"Invalid Priority: {priority} is not between 0 and 2147483647")


def create_task(
    account_sid: str,
    workspace_sid: str,
    workflow_sid: str | None,
    attributes: dict[str, Any] | str = "{}",
    priority: int | None = None,
    timeout: int | None = None,
    task_channel: str | None = None,
    *,
    virtual_start_time: str | None = None,
    routing_target: str | None = None,
    ignore_capacity: bool | None = None,
    task_queue_sid: str | None = None,
    sid: str | None = None,
) -> Script[Task]:
    """A new ``pending`` task in the workflow (optional when the workspace has exactly
    one), on the task channel named by sid or unique name (default ``default``), in the
    queue the workflow's configuration routes its attributes to; its creation is the first
    row of its history."""
    text, values = _attributes_text(attributes)
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    if not 1 <= timeout <= MAX_TIMEOUT:
        raise InvalidParameter(f"Invalid Timeout: {timeout} is not between 1 and {MAX_TIMEOUT}")
    if priority is not None:
        _check_priority(priority)
    yield from require_workspace(account_sid, workspace_sid)
    if workflow_sid is None:
        rows = yield FIRST_WORKFLOWS(workspace_sid, account_sid)
        if len(rows) != 1:
            # TaskRouter needs WorkflowSid unless the workspace has exactly one workflow.
            raise MissingParameter("WorkflowSid")
        workflow = Workflow(*rows[0])
    else:
        rows = yield FETCH_WORKFLOW(workflow_sid, account_sid, workspace_sid)
        if not rows:
            raise InvalidParameter(
                f"Invalid WorkflowSid: {workflow_sid} is not a Workflow of workspace {workspace_sid}"
            )
        workflow = Workflow(*rows[0])
    channel_ref = task_channel or "default"
    channel = yield from find_task_channel(account_sid, workspace_sid, channel_ref)
    if channel is None:
        raise InvalidParameter(
            f"Invalid TaskChannel: {channel_ref!r} is not a TaskChannel of workspace {workspace_sid}"
        )
    queue, target_priority = read_configuration(workflow.configuration).route(values)
    now = now_iso()
    if task_queue_sid is not None:
        queue = task_queue_sid
    rows = yield INSERT_TASK(
        sid or mint_sid("WT"), account_sid, workspace_sid, workflow.sid, workflow.friendly_name, channel.sid,
        channel.unique_name, "pending", text,
        # A matching target's priority wins over the one sent, as TaskRouter's docs say.
        target_priority if target_priority is not None else (priority or 0),
        timeout, None, queue, None, now if queue else None, virtual_start_time or now, routing_target,
        ignore_capacity, "{}", _channel_of(values), now, now,
    )
    task = Task(*rows[0])
    yield INSERT_TASK_EVENT(
        account_sid, workspace_sid, task.sid, None, "pending", None, task.channel_sid, now, now_us()
    )
    return task


def _channel_of(attributes: dict[str, Any]) -> str | None:
    """The chat channel a task is about: its ``channelSid`` attribute, as Flex sets it."""
    channel = attributes.get("channelSid")
    return channel if isinstance(channel, str) else None


def require_task(account_sid: str, workspace_sid: str, sid: str, *, lock: bool = False) -> Script[Task]:
    """The workspace's task ``sid``, or 404."""
    statement = FETCH_TASK_FOR_UPDATE if lock else FETCH_TASK
    task = yield from _require_in_workspace(account_sid, workspace_sid, sid, statement, Task, "Tasks")
    return task


def check_move(task: Task, to_status: str, *, via_api: bool) -> None:
    """Refuse a move TaskRouter does not make (400, code 20001), with its wording."""
    allowed = (API_MOVES if via_api else MOVES).get(task.assignment_status, frozenset())
    if to_status in allowed:
        return
    where = f"task {task.sid} in workspace {task.workspace_sid} for account {task.account_sid}"
    current = task.assignment_status
    if to_status == "wrapping":
        raise TaskMoveRefused(f"Cannot wrap up a {where} because it's not currently assigned")
    if to_status == "completed":
        raise TaskMoveRefused(f"Cannot complete a {where} because it's not currently assigned or wrapping")
    if to_status == "canceled":
        raise TaskMoveRefused(
            f"Cannot cancel a {where} because it's {current}: only a pending or reserved task can be canceled"
        )
    if via_api and to_status in ("pending", "reserved", "assigned"):
        raise TaskMoveRefused(
            f"Cannot set the AssignmentStatus of a {where} to {to_status}: only TaskRouter's reservations do that"
        )
    raise TaskMoveRefused(f"Cannot move a {where} from {current} to {to_status}")


@dataclass(frozen=True)
class TaskChanges:
    """What a task update sends; None: leave as it is."""

    assignment_status: str | None = None
    reason: str | None = None
    attributes: dict[str, Any] | str | None = None
    priority: int | None = None
    task_channel: str | None = None
    virtual_start_time: str | None = None
    if_match: str | None = None
    # False: one of TaskRouter's own moves (MOVES), not a REST update (API_MOVES).
    via_api: bool = True


def update_task(account_sid: str, workspace_sid: str, sid: str, changes: TaskChanges) -> Script[TaskMove]:
    """Apply ``changes`` to a task in one step: a move (checked, recorded, hooks run),
    attributes, priority, task channel, virtual start time, reason."""
    task = yield from require_task(account_sid, workspace_sid, sid, lock=True)
    if changes.if_match is not None and _etag_value(changes.if_match) != str(task.version):
        raise TaskVersionMismatch(sid, task.version)
    status = task.assignment_status
    if changes.assignment_status is not None:
        if changes.assignment_status not in STATUSES:
            raise InvalidParameter(
                f"Invalid AssignmentStatus: {changes.assignment_status!r} is not one of {', '.join(STATUSES)}"
            )
        check_move(task, changes.assignment_status, via_api=changes.via_api)
        status = changes.assignment_status
    attributes, chat_channel = task.attributes, task.channel_sid
    if changes.attributes is not None:
        attributes, values = _attributes_text(changes.attributes)
        chat_channel = _channel_of(values)
    priority = task.priority
    if changes.priority is not None:
        _check_priority(changes.priority)
        priority = changes.priority
    channel_sid, channel_name = task.task_channel_sid, task.task_channel_unique_name
    if changes.task_channel is not None:
        channel = yield from find_task_channel(account_sid, workspace_sid, changes.task_channel)
        if channel is None:
            raise InvalidParameter(
                f"Invalid TaskChannel: {changes.task_channel!r} is not a TaskChannel of workspace {workspace_sid}"
            )
        channel_sid, channel_name = channel.sid, channel.unique_name
    reason = task.reason if changes.reason is None else changes.reason
    now = now_iso()
    rows = yield UPDATE_TASK(
        status, attributes, priority, reason, channel_sid, channel_name,
        changes.virtual_start_time or task.virtual_start_time, chat_channel, now, task.seq, account_sid,
    )
    move = TaskMove(Task(*rows[0]), task.assignment_status)
    if move.moved:
        yield INSERT_TASK_EVENT(
            account_sid, workspace_sid, sid, move.from_status, move.to_status, changes.reason, chat_channel, now,
            now_us(),
        )
        for hook in TASK_MOVE_HOOKS:
            yield from hook(move)
    return move


def move_task(
    account_sid: str, workspace_sid: str, task_sid: str, assignment_status: str, reason: str | None = None
) -> Script[TaskMove]:
    """Move a task as TaskRouter does (``MOVES``: reservations included), for flexchat's
    orchestration; the result carries the status before and after."""
    move = yield from update_task(
        account_sid, workspace_sid, task_sid,
        TaskChanges(assignment_status=assignment_status, reason=reason, via_api=False),
    )
    return move


def delete_task(account_sid: str, workspace_sid: str, sid: str, if_match: str | None = None) -> Script[Task]:
    """Delete a task; its history stays, ending with a ``deleted`` row, and the move hooks
    see it as a move to ``deleted`` (a program may delete a task that has not ended)."""
    task = yield from require_task(account_sid, workspace_sid, sid, lock=True)
    if if_match is not None and _etag_value(if_match) != str(task.version):
        raise TaskVersionMismatch(sid, task.version)
    # The task's lock already makes a second delete read after the first committed; the
    # check keeps the history to one ``deleted`` row whatever reads the task some other way.
    yield from require_deleted(DELETE_TASK(task.seq, account_sid), f"/Workspaces/{workspace_sid}/Tasks/{sid}")
    yield INSERT_TASK_EVENT(
        account_sid, workspace_sid, sid, task.assignment_status, DELETED, None, task.channel_sid, now_iso(), now_us()
    )
    move = TaskMove(replace(task, assignment_status=DELETED), task.assignment_status)
    for hook in TASK_MOVE_HOOKS:
        yield from hook(move)
    return task


def task_events(account_sid: str, task_sid: str) -> Script[list[TaskEvent]]:
    """A task's history in order: creation, every move, and its deletion if deleted."""
    rows = yield LIST_TASK_EVENTS(task_sid, account_sid)
    return [TaskEvent(*row) for row in rows]


def tasks_of_channel(account_sid: str, channel_sid: str) -> Script[list[Task]]:
    """The tasks about a chat channel (``channelSid`` attribute), oldest first."""
    rows = yield LIST_CHANNEL_TASKS(account_sid, channel_sid)
    return [Task(*row) for row in rows]


def channel_task_events(account_sid: str, channel_sid: str) -> Script[list[TaskEvent]]:
    """Every move of every task about a chat channel, deleted tasks' included, in order:
    the tasks' part of the channel's timeline."""
    rows = yield LIST_CHANNEL_TASK_EVENTS(account_sid, channel_sid)
    return [TaskEvent(*row) for row in rows]


def _etag_value(header: str) -> str:
    """An If-Match value without weak marker or quotes."""
    value = header.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


# -- the task list -------------------------------------------------------------------------

# Ordering's attributes and their columns; DateCreated is the row number (creation order).
ORDER_COLUMNS = {"DateCreated": "seq", "Priority": "priority", "VirtualStartTime": "virtual_start_time"}


@dataclass(frozen=True)
class TaskFilters:
    """The task list's filters, checked."""

    assignment_statuses: tuple[str, ...] = ()
    workflow_sid: str | None = None
    workflow_name: str | None = None
    task_queue_sid: str | None = None
    task_queue_name: str | None = None
    priority: int | None = None
    routing_target: str | None = None
    has_addons: bool | None = None
    evaluate_task_attributes: str | None = None
    # (column, "asc"|"desc") pairs, ending with seq.
    ordering: tuple[tuple[str, str], ...] = (("seq", "asc"),)

    def where(self) -> tuple[str, tuple[Any, ...]]:
        """The WHERE conditions after account and workspace, and their arguments."""
        conditions: list[str] = []
        args: list[Any] = []
        if self.assignment_statuses:
            conditions.append(f"assignment_status IN ({', '.join('?' for _ in self.assignment_statuses)})")
            args.extend(self.assignment_statuses)
        for column, value in (
            ("workflow_sid", self.workflow_sid), ("workflow_friendly_name", self.workflow_name),
            ("task_queue_sid", self.task_queue_sid), ("task_queue_friendly_name", self.task_queue_name),
            ("priority", self.priority), ("routing_target", self.routing_target),
        ):
            if value is not None:
                conditions.append(f"{column} = ?")
                args.append(value)
        if self.has_addons is not None:
            conditions.append("addons <> '{}'" if self.has_addons else "addons = '{}'")
        return "".join(f" AND {condition}" for condition in conditions), tuple(args)


def parse_ordering(raw: str) -> tuple[tuple[str, str], ...]:
    """``Priority:desc,DateCreated:asc`` as (column, direction) pairs ending with ``seq``
    (creation order breaks ties, ascending unless DateCreated says otherwise)."""
    pairs: list[tuple[str, str]] = []
    names: list[str] = []
    for part in raw.split(","):
        name, _, direction = part.strip().partition(":")
        direction = direction.strip().lower() or "asc"
        if name not in ORDER_COLUMNS or direction not in ("asc", "desc"):
            raise InvalidParameter(
                f"Invalid Ordering: {part.strip()!r} is not Attribute:Order with Attribute one of"
                " DateCreated, Priority, VirtualStartTime and Order asc or desc"
            )
        if name in names:
            raise InvalidParameter(f"Invalid Ordering: {name} is named twice")
        names.append(name)
        pairs.append((ORDER_COLUMNS[name], direction))
    if "DateCreated" in names and "VirtualStartTime" in names:
        raise InvalidParameter("Invalid Ordering: DateCreated and VirtualStartTime cannot be paired")
    if ("seq", "asc") not in pairs and ("seq", "desc") not in pairs:
        pairs.append(("seq", "asc"))
    # Nothing after the row number can change the order.
    cut = next(i for i, (column, _) in enumerate(pairs) if column == "seq")
    return tuple(pairs[: cut + 1])


_TASK_LIST_STATEMENTS: dict[tuple[str, tuple[tuple[str, str], ...], bool, bool], Statement] = {}


def _task_list_statement(where: str, ordering: tuple[tuple[str, str], ...], backward: bool, bounded: bool) -> Statement:
    """The keyset query of one list shape: rows after (or, ``backward``, before) the
    bound row in the list's order. The bound's sort keys are given as arguments."""
    key = (where, ordering, backward, bounded)
    statement = _TASK_LIST_STATEMENTS.get(key)
    if statement is None:
        order = [(column, direction if not backward else ("desc" if direction == "asc" else "asc"))
                 for column, direction in ordering]
        text = f"SELECT {TASK} FROM tr_tasks WHERE account_sid = ? AND workspace_sid = ?{where}"
        if bounded:
            # (k1, k2, ..., seq) strictly beyond the bound's keys, lexicographically.
            alternatives = []
            for i, (column, direction) in enumerate(order):
                equal = [f"{prefix} = ?" for prefix, _ in order[:i]]
                equal.append(f"{column} {'>' if direction == 'asc' else '<'} ?")
                alternatives.append("(" + " AND ".join(equal) + ")")
            text += " AND (" + " OR ".join(alternatives) + ")"
        text += " ORDER BY " + ", ".join(f"{column} {direction.upper()}" for column, direction in order) + " LIMIT ?"
        statement = sql(text)
        _TASK_LIST_STATEMENTS[key] = statement
    return statement


def _bound_args(ordering: tuple[tuple[str, str], ...], keys: dict[str, Any]) -> list[Any]:
    """The arguments of the keyset condition for a bound row with sort ``keys``."""
    args: list[Any] = []
    for i, (column, _) in enumerate(ordering):
        args.extend(keys[prefix] for prefix, _ in ordering[:i])
        args.append(keys[column])
    return args


def list_tasks(
    account_sid: str, workspace_sid: str, filters: TaskFilters, window: Window
) -> Script[tuple[list[Task], bool]]:
    """One page of the workspace's tasks matching ``filters``, in their ordering.

    The page continues from the row its token names, by that row's sort keys (read
    again, so a token whose row was deleted meanwhile is refused rather than silently
    ending the walk). ``EvaluateTaskAttributes`` is applied to the rows as they are read,
    reading on until the page is full or the list ends.
    """
    yield from require_workspace(account_sid, workspace_sid)
    where, where_args = filters.where()
    predicate = (
        compile_expression(filters.evaluate_task_attributes, "EvaluateTaskAttributes")
        if filters.evaluate_task_attributes is not None else None
    )
    backward = window.backward
    bound = window.before if backward else window.after
    bound_keys: dict[str, Any] | None = None
    if bound is not None:
        bound_keys = {"seq": bound}
        if any(column != "seq" for column, _ in filters.ordering):
            rows = yield FETCH_TASK_SORT_KEYS(bound, account_sid, workspace_sid)
            if not rows:
                raise InvalidPageToken("the task it continues from was deleted; start the list again")
            bound_keys.update(priority=rows[0][0], virtual_start_time=rows[0][1])
    need = window.limit + 1
    matched: list[Task] = []
    while True:
        batch = need if predicate is None else max(need - len(matched), 200)
        statement = _task_list_statement(where, filters.ordering, backward, bound_keys is not None)
        args = (account_sid, workspace_sid, *where_args,
                *(_bound_args(filters.ordering, bound_keys) if bound_keys is not None else ()), batch)
        rows = yield Query(statement, args)
        for row in rows:
            task = Task(*row)
            if predicate is None or predicate(_attributes_object(task.attributes)):
                matched.append(task)
                if len(matched) == need:
                    break
        if len(matched) >= need or len(rows) < batch:
            break
        last = Task(*rows[-1])
        bound_keys = {"seq": last.seq, "priority": last.priority, "virtual_start_time": last.virtual_start_time}
    result: tuple[list[Task], bool] = window.cut(matched)
    return result


def _attributes_object(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


# -- helpers -------------------------------------------------------------------------------


def _fields(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__slots__}


def _wire(attr: str) -> str:
    return "".join(part.capitalize() for part in attr.split("_"))

