"""TaskRouter statements (workspaces, workflows, task channels, tasks, task events),
written once for both engines. The task list's statements depend on its filters and
ordering and are built in domain/taskrouter.py."""

from __future__ import annotations

from ...domain.records import Task, TaskChannel, TaskEvent, Workflow, Workspace, columns
from ..sql import paged, sql

WORKSPACE = columns(Workspace)
WORKFLOW = columns(Workflow)
TASK_CHANNEL = columns(TaskChannel)
TASK = columns(Task)
TASK_EVENT = columns(TaskEvent)

INSERT_WORKSPACE = sql(
    "INSERT INTO tr_workspaces (sid, account_sid, friendly_name, event_callback_url, events_filter,"
    " multi_task_enabled, prioritize_queue_order, default_activity_sid, default_activity_name,"
    " timeout_activity_sid, timeout_activity_name, date_created, date_updated)"
    f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {WORKSPACE}"
)
FETCH_WORKSPACE = sql(f"SELECT {WORKSPACE} FROM tr_workspaces WHERE sid = ? AND account_sid = ?")
FETCH_WORKSPACE_FOR_UPDATE = sql(
    f"SELECT {WORKSPACE} FROM tr_workspaces WHERE sid = ? AND account_sid = ? FOR UPDATE"
)
UPDATE_WORKSPACE = sql(
    "UPDATE tr_workspaces SET friendly_name = ?, event_callback_url = ?, events_filter = ?,"
    " multi_task_enabled = ?, prioritize_queue_order = ?, default_activity_sid = ?, timeout_activity_sid = ?,"
    f" date_updated = ? WHERE seq = ? AND account_sid = ? RETURNING {WORKSPACE}"
)
LIST_WORKSPACES = paged(f"SELECT {WORKSPACE} FROM tr_workspaces WHERE account_sid = ?")
LIST_WORKSPACES_BY_NAME = paged(
    f"SELECT {WORKSPACE} FROM tr_workspaces WHERE account_sid = ? AND friendly_name = ?"
)
# A workspace's rows go with it. The workflows first: a workflow's update locks its row and
# then its tasks' (a new FriendlyName shows on them), so a delete that took the tasks first
# could deadlock against it on PostgreSQL (a 503).
DELETE_WORKSPACE_ROWS = tuple(
    sql(f"DELETE FROM {table} WHERE workspace_sid = ? AND account_sid = ?")
    for table in ("tr_workflows", "tr_task_channels", "tr_tasks", "tr_task_events")
)
DELETE_WORKSPACE = sql("DELETE FROM tr_workspaces WHERE sid = ? AND account_sid = ? RETURNING sid")

INSERT_WORKFLOW = sql(
    "INSERT INTO tr_workflows (sid, account_sid, workspace_sid, friendly_name, configuration,"
    " assignment_callback_url, fallback_assignment_callback_url, task_reservation_timeout,"
    f" date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {WORKFLOW}"
)
FETCH_WORKFLOW = sql(
    f"SELECT {WORKFLOW} FROM tr_workflows WHERE sid = ? AND account_sid = ? AND workspace_sid = ?"
)
FETCH_WORKFLOW_FOR_UPDATE = sql(
    f"SELECT {WORKFLOW} FROM tr_workflows WHERE sid = ? AND account_sid = ? AND workspace_sid = ? FOR UPDATE"
)
# Two rows at most: enough to tell "the only workflow" from "one of several".
FIRST_WORKFLOWS = sql(
    f"SELECT {WORKFLOW} FROM tr_workflows WHERE workspace_sid = ? AND account_sid = ? ORDER BY seq LIMIT 2"
)
UPDATE_WORKFLOW = sql(
    "UPDATE tr_workflows SET friendly_name = ?, configuration = ?, assignment_callback_url = ?,"
    " fallback_assignment_callback_url = ?, task_reservation_timeout = ?, date_updated = ?"
    f" WHERE seq = ? AND account_sid = ? RETURNING {WORKFLOW}"
)
# Tasks show their workflow's current name.
RENAME_WORKFLOW_TASKS = sql(
    "UPDATE tr_tasks SET workflow_friendly_name = ? WHERE workflow_sid = ? AND account_sid = ?"
)
LIST_WORKFLOWS = paged(f"SELECT {WORKFLOW} FROM tr_workflows WHERE account_sid = ? AND workspace_sid = ?")
LIST_WORKFLOWS_BY_NAME = paged(
    f"SELECT {WORKFLOW} FROM tr_workflows WHERE account_sid = ? AND workspace_sid = ? AND friendly_name = ?"
)
DELETE_WORKFLOW = sql(
    "DELETE FROM tr_workflows WHERE sid = ? AND account_sid = ? AND workspace_sid = ? RETURNING sid"
)

INSERT_TASK_CHANNEL = sql(
    "INSERT INTO tr_task_channels (sid, account_sid, workspace_sid, friendly_name, unique_name,"
    " channel_optimized_routing, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    f" ON CONFLICT DO NOTHING RETURNING {TASK_CHANNEL}"
)
FETCH_TASK_CHANNEL = sql(
    f"SELECT {TASK_CHANNEL} FROM tr_task_channels WHERE sid = ? AND account_sid = ? AND workspace_sid = ?"
)
FETCH_TASK_CHANNEL_BY_UNIQUE_NAME = sql(
    f"SELECT {TASK_CHANNEL} FROM tr_task_channels WHERE account_sid = ? AND workspace_sid = ?"
    " AND md5(unique_name) = md5(?) AND unique_name = ?"
)
UPDATE_TASK_CHANNEL = sql(
    "UPDATE tr_task_channels SET friendly_name = ?, channel_optimized_routing = ?, date_updated = ?"
    f" WHERE seq = ? AND account_sid = ? RETURNING {TASK_CHANNEL}"
)
LIST_TASK_CHANNELS = paged(
    f"SELECT {TASK_CHANNEL} FROM tr_task_channels WHERE account_sid = ? AND workspace_sid = ?"
)
DELETE_TASK_CHANNEL = sql("DELETE FROM tr_task_channels WHERE seq = ? AND account_sid = ? RETURNING sid")

INSERT_TASK = sql(
    "INSERT INTO tr_tasks (sid, account_sid, workspace_sid, workflow_sid, workflow_friendly_name,"
    " task_channel_sid, task_channel_unique_name, assignment_status, attributes, priority, timeout, reason,"
    " task_queue_sid, task_queue_friendly_name, task_queue_entered_date, virtual_start_time, routing_target,"
    " ignore_capacity, addons, version, channel_sid, date_created, date_updated)"
    f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?) RETURNING {TASK}"
)
FETCH_TASK = sql(f"SELECT {TASK} FROM tr_tasks WHERE sid = ? AND account_sid = ? AND workspace_sid = ?")
FETCH_TASK_FOR_UPDATE = sql(
    f"SELECT {TASK} FROM tr_tasks WHERE sid = ? AND account_sid = ? AND workspace_sid = ? FOR UPDATE"
)
UPDATE_TASK = sql(
    "UPDATE tr_tasks SET assignment_status = ?, attributes = ?, priority = ?, reason = ?, task_channel_sid = ?,"
    " task_channel_unique_name = ?, virtual_start_time = ?, channel_sid = ?, version = version + 1, date_updated = ?"
    f" WHERE seq = ? AND account_sid = ? RETURNING {TASK}"
)
DELETE_TASK = sql("DELETE FROM tr_tasks WHERE seq = ? AND account_sid = ? RETURNING sid")
# The sort keys of the row a page token continues from (see domain/taskrouter.py).
FETCH_TASK_SORT_KEYS = sql(
    "SELECT priority, virtual_start_time FROM tr_tasks WHERE seq = ? AND account_sid = ? AND workspace_sid = ?"
)

INSERT_TASK_EVENT = sql(
    "INSERT INTO tr_task_events (account_sid, workspace_sid, task_sid, from_status, to_status, reason,"
    f" channel_sid, date_created, created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {TASK_EVENT}"
)
LIST_TASK_EVENTS = sql(
    f"SELECT {TASK_EVENT} FROM tr_task_events WHERE task_sid = ? AND account_sid = ? ORDER BY seq"
)
LIST_CHANNEL_TASK_EVENTS = sql(
    f"SELECT {TASK_EVENT} FROM tr_task_events WHERE account_sid = ? AND channel_sid = ? ORDER BY seq"
)
LIST_CHANNEL_TASKS = sql(f"SELECT {TASK} FROM tr_tasks WHERE account_sid = ? AND channel_sid = ? ORDER BY seq")
