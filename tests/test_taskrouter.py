"""TaskRouter's Workspaces, Workflows, TaskChannels and Tasks through the unmodified
official client over HTTP, on both engines, and raw HTTP for errors; the task moves
TaskRouter makes itself (reservations) through the domain script flexchat's orchestration
calls, on the server's own database."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from flexchat.domain import taskrouter
from flexchat.domain.records import TaskEvent
from flexchat.errors import InvalidParameter, NotFound, TaskMoveRefused
from flexchat.settings import Settings
from flexchat.store import Store, create_store
from flexchat.store.sql import Script
from flexchat.testing import ServerProcess

from .conftest import Account, Api, add_account

SID = {prefix: re.compile(rf"^{prefix}[0-9a-f]{{32}}$") for prefix in ("WS", "WW", "TC", "WT", "WA", "WQ")}
QUEUE_A = "WQ" + "a" * 32
QUEUE_B = "WQ" + "b" * 32
CONFIGURATION = json.dumps({
    "task_routing": {
        "filters": [
            {"filter_friendly_name": "web", "expression": "channelType == 'web' AND name != 'x'",
             "targets": [{"queue": QUEUE_A, "priority": 9}]},
        ],
        "default_filter": {"queue": QUEUE_B},
    }
})


def rest_error(excinfo: pytest.ExceptionInfo[TwilioRestException]) -> tuple[int, int]:
    return excinfo.value.status, excinfo.value.code


class Direct:
    """The server's database opened from the test, to run domain scripts the way
    flexchat's orchestration does (one event loop for the store's whole life)."""

    def __init__(self, database_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.store: Store = create_store(Settings(database_url=database_url))
        self.loop.run_until_complete(self.store.open())

    def write(self, script: Script[Any]) -> Any:
        return self.loop.run_until_complete(self.store.write(script))

    def read(self, script: Script[Any]) -> Any:
        return self.loop.run_until_complete(self.store.read(script))

    def close(self) -> None:
        self.loop.run_until_complete(self.store.close())
        self.loop.close()


@pytest.fixture
def direct(server: ServerProcess) -> Iterator[Direct]:
    opened = Direct(server.database_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def workspace(twilio_client: Client) -> Any:
    return twilio_client.taskrouter.v1.workspaces.create(friendly_name="Flex Task Assignment")


@pytest.fixture
def workflow(twilio_client: Client, workspace: Any) -> Any:
    return twilio_client.taskrouter.v1.workspaces(workspace.sid).workflows.create(
        friendly_name="Assign to Anyone", configuration=CONFIGURATION
    )


def tasks_of(client: Client, workspace_sid: str) -> Any:
    return client.taskrouter.v1.workspaces(workspace_sid).tasks


# -- workspaces ----------------------------------------------------------------------------


def test_workspace_round_trip(twilio_client: Client, server: ServerProcess) -> None:
    workspaces = twilio_client.taskrouter.v1.workspaces
    created = workspaces.create(
        friendly_name="Support", event_callback_url="https://example.com/events",
        events_filter="task.created,task.canceled", prioritize_queue_order="LIFO",
    )
    assert SID["WS"].match(created.sid)
    assert created.account_sid == twilio_client.username
    assert created.multi_task_enabled is True
    assert created.prioritize_queue_order == "LIFO"
    assert created.event_callback_url == "https://example.com/events"
    assert created.events_filter == "task.created,task.canceled"
    assert created.default_activity_name == created.timeout_activity_name == "Offline"
    assert SID["WA"].match(created.default_activity_sid)
    base = f"{server.base_url}/v1/Workspaces/{created.sid}"
    assert created.url == base
    assert created.links["tasks"] == f"{base}/Tasks"
    assert created.links["workflows"] == f"{base}/Workflows"
    assert created.links["task_channels"] == f"{base}/TaskChannels"

    fetched = workspaces(created.sid).fetch()
    assert (fetched.friendly_name, fetched.date_created) == ("Support", created.date_created)
    updated = workspaces(created.sid).update(
        friendly_name="Sales", multi_task_enabled=False, prioritize_queue_order="FIFO",
        default_activity_sid=created.default_activity_sid,
    )
    assert (updated.friendly_name, updated.multi_task_enabled, updated.prioritize_queue_order) == (
        "Sales", False, "FIFO",
    )
    other = workspaces.create(friendly_name="Other")
    assert [w.sid for w in workspaces.list()] == [created.sid, other.sid]
    assert [w.sid for w in workspaces.list(friendly_name="Other")] == [other.sid]
    assert workspaces.list(friendly_name="Nobody") == []
    assert workspaces(created.sid).delete() is True
    with pytest.raises(TwilioRestException) as excinfo:
        workspaces(created.sid).fetch()
    assert rest_error(excinfo) == (404, 20404)
    assert [w.sid for w in workspaces.list()] == [other.sid]


def test_a_new_workspace_has_twilios_default_task_channels(twilio_client: Client, workspace: Any) -> None:
    channels = twilio_client.taskrouter.v1.workspaces(workspace.sid).task_channels.list()
    assert [(c.unique_name, c.friendly_name) for c in channels] == [
        ("default", "Default"), ("voice", "Voice"), ("chat", "Programmable Chat"),
        ("sms", "SMS"), ("video", "Video"), ("email", "Email"),
    ]
    assert all(SID["TC"].match(c.sid) and c.workspace_sid == workspace.sid for c in channels)


def test_fifo_template_adds_the_default_fifo_workflow(twilio_client: Client) -> None:
    workspace = twilio_client.taskrouter.v1.workspaces.create(friendly_name="FIFO", template="FIFO")
    workflows = twilio_client.taskrouter.v1.workspaces(workspace.sid).workflows.list()
    assert [w.friendly_name for w in workflows] == ["Default Fifo Workflow"]
    # The only workflow: a task needs no WorkflowSid, and lands in the default queue.
    task = tasks_of(twilio_client, workspace.sid).create(attributes="{}")
    assert task.workflow_sid == workflows[0].sid
    assert SID["WQ"].match(task.task_queue_sid)


def test_workspace_errors(api: Api, workspace: Any) -> None:
    assert api.post("/v1/Workspaces", {}).json()["code"] == 20001
    too_long = api.post("/v1/Workspaces", {"FriendlyName": "x" * 65})
    assert (too_long.status_code, too_long.json()["code"]) == (400, 20001)
    for bad in ({"Template": "LIFO"}, {"PrioritizeQueueOrder": "RANDOM"}, {"EventCallbackUrl": "nope"},
                {"MultiTaskEnabled": "maybe"}):
        response = api.post("/v1/Workspaces", {"FriendlyName": "w", **bad})
        assert (response.status_code, response.json()["code"]) == (400, 20001), bad
    unknown_activity = api.post(f"/v1/Workspaces/{workspace.sid}", {"DefaultActivitySid": "WA" + "0" * 32})
    assert (unknown_activity.status_code, unknown_activity.json()["code"]) == (400, 20001)
    for path in ("/v1/Workspaces/WS" + "0" * 32, "/v1/Workspaces/nope", f"/v1/Workspaces/{workspace.sid}/Nothing"):
        response = api.get(path)
        assert (response.status_code, response.json()["code"]) == (404, 20404), path
    assert api.delete("/v1/Workspaces/WS" + "0" * 32).status_code == 404


# -- workflows -----------------------------------------------------------------------------


def test_workflow_round_trip(twilio_client: Client, workspace: Any, server: ServerProcess) -> None:
    workflows = twilio_client.taskrouter.v1.workspaces(workspace.sid).workflows
    created = workflows.create(
        friendly_name="Assign", configuration=CONFIGURATION, assignment_callback_url="https://example.com/assign",
        task_reservation_timeout=60,
    )
    assert SID["WW"].match(created.sid)
    assert (created.workspace_sid, created.configuration, created.task_reservation_timeout) == (
        workspace.sid, CONFIGURATION, 60,
    )
    assert created.assignment_callback_url == "https://example.com/assign"
    assert created.fallback_assignment_callback_url is None
    assert created.document_content_type == "application/json"
    assert created.url == f"{server.base_url}/v1/Workspaces/{workspace.sid}/Workflows/{created.sid}"
    assert created.links["statistics"] == f"{created.url}/Statistics"
    task = tasks_of(twilio_client, workspace.sid).create(workflow_sid=created.sid)
    assert task.workflow_friendly_name == "Assign"

    updated = workflows(created.sid).update(friendly_name="Renamed", task_reservation_timeout=30,
                                            re_evaluate_tasks="true")
    assert (updated.friendly_name, updated.task_reservation_timeout, updated.configuration) == (
        "Renamed", 30, CONFIGURATION,
    )
    # A task shows its workflow's current name.
    assert tasks_of(twilio_client, workspace.sid)(task.sid).fetch().workflow_friendly_name == "Renamed"
    second = workflows.create(friendly_name="Second", configuration=CONFIGURATION)
    assert [w.sid for w in workflows.list()] == [created.sid, second.sid]
    assert [w.sid for w in workflows.list(friendly_name="Second")] == [second.sid]
    assert workflows(created.sid).delete() is True
    with pytest.raises(TwilioRestException) as excinfo:
        workflows(created.sid).fetch()
    assert rest_error(excinfo) == (404, 20404)


@pytest.mark.parametrize(
    "configuration",
    [
        "not json",
        "[]",
        "{}",
        '{"task_routing": []}',
        '{"task_routing": {"filters": {}}}',
        '{"task_routing": {"filters": [{"expression": "1==1"}]}}',
        '{"task_routing": {"filters": [{"expression": "1==1", "targets": []}]}}',
        '{"task_routing": {"filters": [{"expression": "1==1", "targets": [{"priority": 1}]}]}}',
        '{"task_routing": {"filters": [{"expression": "a ==", "targets": [{"queue": "WQ1"}]}]}}',
        '{"task_routing": {"filters": [{"expression": "worker.x == 1", "targets": [{"queue": "WQ1"}]}]}}',
        '{"task_routing": {"default_filter": {}}}',
    ],
)
def test_workflow_configuration_is_checked(api: Api, workspace: Any, configuration: str) -> None:
    response = api.post(f"/v1/Workspaces/{workspace.sid}/Workflows",
                        {"FriendlyName": "w", "Configuration": configuration})
    assert (response.status_code, response.json()["code"]) == (400, 20001), response.text
    assert "Configuration" in response.json()["message"]


def test_workflow_errors(api: Api, workspace: Any, workflow: Any) -> None:
    base = f"/v1/Workspaces/{workspace.sid}/Workflows"
    missing = api.post(base, {"FriendlyName": "w"})
    assert (missing.status_code, missing.json()["code"]) == (400, 20001)
    assert "Configuration" in missing.json()["message"]
    timeout = api.post(f"{base}/{workflow.sid}", {"TaskReservationTimeout": "86401"})
    assert (timeout.status_code, timeout.json()["code"]) == (400, 20001)
    bad = api.post(f"{base}/{workflow.sid}", {"Configuration": "{}"})
    assert bad.status_code == 400
    assert api.get(f"{base}/{workflow.sid}").json()["configuration"] == CONFIGURATION
    assert api.get(f"{base}/WW{'0' * 32}").status_code == 404
    assert api.get(f"/v1/Workspaces/WS{'0' * 32}/Workflows").status_code == 404


# -- task channels -------------------------------------------------------------------------


def test_task_channel_round_trip(twilio_client: Client, workspace: Any, server: ServerProcess) -> None:
    channels = twilio_client.taskrouter.v1.workspaces(workspace.sid).task_channels
    created = channels.create(friendly_name="Outbound Voice", unique_name="ovoice", channel_optimized_routing=True)
    assert SID["TC"].match(created.sid)
    assert (created.unique_name, created.channel_optimized_routing) == ("ovoice", True)
    workspace_url = f"{server.base_url}/v1/Workspaces/{workspace.sid}"
    assert created.url == f"{workspace_url}/TaskChannels/{created.sid}"
    assert created.links == {"workspace": workspace_url}
    assert channels("ovoice").fetch().sid == created.sid
    updated = channels("ovoice").update(friendly_name="Voice out", channel_optimized_routing=False)
    assert (updated.sid, updated.friendly_name, updated.channel_optimized_routing) == (created.sid, "Voice out", False)
    assert channels(created.sid).fetch().friendly_name == "Voice out"
    assert [c.unique_name for c in channels.list()][-1] == "ovoice"
    task = tasks_of(twilio_client, workspace.sid).create(
        workflow_sid=twilio_client.taskrouter.v1.workspaces(workspace.sid).workflows.create(
            friendly_name="w", configuration=CONFIGURATION).sid,
        task_channel="ovoice",
    )
    assert (task.task_channel_sid, task.task_channel_unique_name) == (created.sid, "ovoice")
    assert channels("ovoice").delete() is True
    with pytest.raises(TwilioRestException) as excinfo:
        channels(created.sid).fetch()
    assert rest_error(excinfo) == (404, 20404)
    # The task keeps the channel it was created on.
    assert tasks_of(twilio_client, workspace.sid)(task.sid).fetch().task_channel_unique_name == "ovoice"


def test_task_channel_errors(api: Api, workspace: Any) -> None:
    base = f"/v1/Workspaces/{workspace.sid}/TaskChannels"
    duplicate = api.post(base, {"FriendlyName": "Chat again", "UniqueName": "chat"})
    assert (duplicate.status_code, duplicate.json()["code"]) == (400, 20001)
    assert api.post(base, {"FriendlyName": "only a name"}).status_code == 400
    assert api.post(base, {"FriendlyName": "f", "UniqueName": "u", "ChannelOptimizedRouting": "x"}).status_code == 400
    assert api.get(f"{base}/nothing").status_code == 404
    assert api.get(f"{base}/TC{'0' * 32}").status_code == 404
    assert api.delete(f"{base}/nothing").status_code == 404


# -- tasks ---------------------------------------------------------------------------------


def test_task_round_trip(twilio_client: Client, workspace: Any, workflow: Any, server: ServerProcess) -> None:
    tasks = tasks_of(twilio_client, workspace.sid)
    attributes = json.dumps({"channelSid": "CH" + "1" * 32, "name": "alice", "channelType": "web"})
    created = tasks.create(
        workflow_sid=workflow.sid, attributes=attributes, priority=3, timeout=600, task_channel="chat",
        routing_target="WK" + "2" * 32, ignore_capacity="yes",
    )
    assert SID["WT"].match(created.sid)
    assert created.assignment_status == "pending"
    assert created.attributes == attributes
    # The workflow's first filter matches the attributes: its queue and target priority.
    assert (created.task_queue_sid, created.priority) == (QUEUE_A, 9)
    assert created.task_queue_entered_date == created.date_created
    assert (created.timeout, created.task_channel_unique_name, created.workflow_sid) == (600, "chat", workflow.sid)
    assert (created.routing_target, created.ignore_capacity, created.addons) == ("WK" + "2" * 32, True, "{}")
    assert created.reason is None and created.age >= 0
    assert created.virtual_start_time == created.date_created
    base = f"{server.base_url}/v1/Workspaces/{workspace.sid}"
    assert created.url == f"{base}/Tasks/{created.sid}"
    assert created.links == {
        "workspace": base, "workflow": f"{base}/Workflows/{workflow.sid}",
        "task_queue": f"{base}/TaskQueues/{QUEUE_A}", "reservations": f"{base}/Tasks/{created.sid}/Reservations",
    }

    defaults = tasks.create(workflow_sid=workflow.sid)
    assert (defaults.attributes, defaults.priority, defaults.timeout) == ("{}", 0, 86400)
    assert (defaults.task_channel_unique_name, defaults.task_queue_sid) == ("default", QUEUE_B)
    explicit = tasks.create(workflow_sid=workflow.sid, priority=4, task_queue_sid=QUEUE_A,
                            virtual_start_time="2020-01-02T03:04:05+01:00")
    assert (explicit.priority, explicit.task_queue_sid, explicit.virtual_start_time) == (
        4, QUEUE_A, datetime(2020, 1, 2, 2, 4, 5, tzinfo=UTC),
    )

    fetched = tasks(created.sid).fetch()
    assert (fetched.sid, fetched.attributes, fetched.priority) == (created.sid, attributes, 9)
    updated = tasks(created.sid).update(attributes='{"name": "bob"}', priority=1, task_channel="sms")
    assert (updated.attributes, updated.priority, updated.task_channel_unique_name) == ('{"name": "bob"}', 1, "sms")
    assert updated.assignment_status == "pending"
    assert tasks(created.sid).delete() is True
    with pytest.raises(TwilioRestException) as excinfo:
        tasks(created.sid).fetch()
    assert rest_error(excinfo) == (404, 20404)


def test_workflow_sid_is_needed_unless_the_workspace_has_one_workflow(
    twilio_client: Client, api: Api, workspace: Any
) -> None:
    base = f"/v1/Workspaces/{workspace.sid}/Tasks"
    none = api.post(base, {"Attributes": "{}"})
    assert (none.status_code, none.json()["code"]) == (400, 20001)
    assert "WorkflowSid" in none.json()["message"]
    only = twilio_client.taskrouter.v1.workspaces(workspace.sid).workflows.create(
        friendly_name="only", configuration=CONFIGURATION)
    assert api.post(base, {}).json()["workflow_sid"] == only.sid
    twilio_client.taskrouter.v1.workspaces(workspace.sid).workflows.create(
        friendly_name="second", configuration=CONFIGURATION)
    two = api.post(base, {})
    assert (two.status_code, two.json()["code"]) == (400, 20001)


def test_task_errors(api: Api, workspace: Any, workflow: Any) -> None:
    base = f"/v1/Workspaces/{workspace.sid}/Tasks"
    for bad in (
        {"Attributes": "not json"}, {"Attributes": "[1]"}, {"Priority": "-1"}, {"Priority": "x"},
        {"Timeout": "0"}, {"Timeout": "1209601"}, {"TaskChannel": "pigeon"}, {"WorkflowSid": "WW" + "0" * 32},
        {"WorkflowSid": "nope"}, {"VirtualStartTime": "yesterday"}, {"VirtualStartTime": "2999-01-01T00:00:00Z"},
        {"VirtualStartTime": "1899-12-31T00:00:00Z"}, {"TaskQueueSid": "WQ1"},
        {"Attributes": "[" * 100_000 + "]" * 100_000},
    ):
        response = api.post(base, {"WorkflowSid": workflow.sid, **bad})
        assert (response.status_code, response.json()["code"]) == (400, 20001), bad
    task = api.post(base, {"WorkflowSid": workflow.sid}).json()
    for bad in ({"AssignmentStatus": "done"}, {"Attributes": "{"}, {"Priority": "2147483648"},
                {"TaskChannel": "pigeon"}):
        response = api.post(f"{base}/{task['sid']}", bad)
        assert (response.status_code, response.json()["code"]) == (400, 20001), bad
    assert api.get(f"{base}/WT{'0' * 32}").status_code == 404
    assert api.post(f"{base}/WT{'0' * 32}", {"Priority": "1"}).status_code == 404
    assert api.delete(f"{base}/WT{'0' * 32}").status_code == 404
    assert api.get(f"{base}/nope").status_code == 404


def test_etag_and_if_match(api: Api, workspace: Any, workflow: Any) -> None:
    base = f"/v1/Workspaces/{workspace.sid}/Tasks"
    created = api.post(base, {"WorkflowSid": workflow.sid})
    assert created.headers["ETag"] == "1"
    url = f"{base}/{created.json()['sid']}"
    stale = api.post(url, {"Priority": "5"}, headers={"If-Match": "7"})
    assert (stale.status_code, stale.json()["code"]) == (412, 20001)
    assert api.get(url).json()["priority"] == 0
    fresh = api.post(url, {"Priority": "5"}, headers={"If-Match": '"1"'})
    assert (fresh.status_code, fresh.headers["ETag"]) == (200, "2")
    assert api.get(url).headers["ETag"] == "2"
    assert api.delete(url, headers={"If-Match": "1"}).status_code == 412
    assert api.delete(url, headers={"If-Match": "2"}).status_code == 204


def test_if_match_through_the_client(twilio_client: Client, workspace: Any, workflow: Any) -> None:
    task = tasks_of(twilio_client, workspace.sid).create(workflow_sid=workflow.sid)
    context = tasks_of(twilio_client, workspace.sid)(task.sid)
    with pytest.raises(TwilioRestException) as excinfo:
        context.update(if_match="2", priority=3)
    assert rest_error(excinfo) == (412, 20001)
    assert context.update(if_match="1", priority=3).priority == 3
    assert context.delete(if_match="2") is True


# -- assignment status moves ---------------------------------------------------------------

# How to bring a new task to each status: TaskRouter's own moves first (reservation,
# acceptance), then REST ones.
ROUTE_TO = {
    "pending": [],
    "reserved": ["reserved"],
    "assigned": ["reserved", "assigned"],
    "wrapping": ["reserved", "assigned", "wrapping"],
    "completed": ["reserved", "assigned", "completed"],
    "canceled": ["canceled"],
}
REST_ALLOWED = {
    ("pending", "canceled"), ("reserved", "canceled"), ("assigned", "wrapping"), ("assigned", "completed"),
    ("wrapping", "completed"),
}


def test_every_rest_move_is_allowed_or_refused_as_taskrouter_does(
    api: Api, account: Account, workspace: Any, workflow: Any, direct: Direct
) -> None:
    base = f"/v1/Workspaces/{workspace.sid}/Tasks"
    for start, route in ROUTE_TO.items():
        for target in taskrouter.STATUSES:
            sid = api.post(base, {"WorkflowSid": workflow.sid}).json()["sid"]
            for step in route:
                direct.write(taskrouter.move_task(account.sid, workspace.sid, sid, step, "setup"))
            assert api.get(f"{base}/{sid}").json()["assignment_status"] == start
            response = api.post(f"{base}/{sid}", {"AssignmentStatus": target, "Reason": "because"})
            body = response.json()
            if (start, target) in REST_ALLOWED:
                assert response.status_code == 200, (start, target, body)
                assert (body["assignment_status"], body["reason"]) == (target, "because")
            else:
                assert (response.status_code, body["code"]) == (400, 20001), (start, target, body)
                assert sid in body["message"] and body["message"].startswith("Cannot "), body
                # Never a silent change.
                assert api.get(f"{base}/{sid}").json()["assignment_status"] == start


def test_refused_moves_say_why(api: Api, workspace: Any, workflow: Any) -> None:
    base = f"/v1/Workspaces/{workspace.sid}/Tasks"
    sid = api.post(base, {"WorkflowSid": workflow.sid}).json()["sid"]
    wrap = api.post(f"{base}/{sid}", {"AssignmentStatus": "wrapping"}).json()["message"]
    assert wrap == (f"Cannot wrap up a task {sid} in workspace {workspace.sid} for account "
                    f"{workspace.account_sid} because it's not currently assigned")
    assert "not currently assigned or wrapping" in api.post(
        f"{base}/{sid}", {"AssignmentStatus": "completed"}).json()["message"]
    assert "only TaskRouter's reservations" in api.post(
        f"{base}/{sid}", {"AssignmentStatus": "assigned"}).json()["message"]


def test_moves_taskrouter_makes_itself(account: Account, api: Api, workspace: Any, workflow: Any,
                                       direct: Direct) -> None:
    base = f"/v1/Workspaces/{workspace.sid}/Tasks"
    sid = api.post(base, {"WorkflowSid": workflow.sid}).json()["sid"]
    move = direct.write(taskrouter.move_task(account.sid, workspace.sid, sid, "reserved"))
    assert (move.from_status, move.to_status, move.moved) == ("pending", "reserved", True)
    # A rejected reservation puts the task back in the queue; then accepted.
    assert direct.write(taskrouter.move_task(account.sid, workspace.sid, sid, "pending")).to_status == "pending"
    direct.write(taskrouter.move_task(account.sid, workspace.sid, sid, "reserved"))
    assert direct.write(taskrouter.move_task(account.sid, workspace.sid, sid, "assigned")).from_status == "reserved"
    # Not even TaskRouter cancels an assigned task, or moves a task back from the end.
    for status in ("canceled", "pending", "reserved"):
        with pytest.raises(TaskMoveRefused):
            direct.write(taskrouter.move_task(account.sid, workspace.sid, sid, status))
    move = direct.write(taskrouter.move_task(account.sid, workspace.sid, sid, "completed", "resolved"))
    assert (move.from_status, move.to_status, move.task.reason) == ("assigned", "completed", "resolved")
    for status in taskrouter.STATUSES:
        with pytest.raises(TaskMoveRefused):
            direct.write(taskrouter.move_task(account.sid, workspace.sid, sid, status))
    # Another account's task is not found.
    with pytest.raises(NotFound):
        direct.write(taskrouter.move_task("AC" + "0" * 32, workspace.sid, sid, "completed"))


def test_a_task_keeps_the_history_of_its_moves(account: Account, api: Api, workspace: Any, workflow: Any,
                                               direct: Direct) -> None:
    base = f"/v1/Workspaces/{workspace.sid}/Tasks"
    sid = api.post(base, {"WorkflowSid": workflow.sid}).json()["sid"]
    direct.write(taskrouter.move_task(account.sid, workspace.sid, sid, "reserved"))
    direct.write(taskrouter.move_task(account.sid, workspace.sid, sid, "assigned"))
    api.post(f"{base}/{sid}", {"Priority": "3"})  # not a move: no row
    api.post(f"{base}/{sid}", {"AssignmentStatus": "wrapping"})
    api.post(f"{base}/{sid}", {"AssignmentStatus": "completed", "Reason": "done"})
    api.post(f"{base}/{sid}", {"AssignmentStatus": "canceled"})  # refused: no row
    api.delete(f"{base}/{sid}")
    events: list[TaskEvent] = direct.read(taskrouter.task_events(account.sid, sid))
    assert [(e.from_status, e.to_status, e.reason) for e in events] == [
        (None, "pending", None), ("pending", "reserved", None), ("reserved", "assigned", None),
        ("assigned", "wrapping", None), ("wrapping", "completed", "done"), ("completed", "deleted", None),
    ]
    assert all(e.task_sid == sid and e.workspace_sid == workspace.sid for e in events)
    assert direct.read(taskrouter.task_events("AC" + "0" * 32, sid)) == []


def test_deleting_a_workspace_deletes_everything_in_it(account: Account, api: Api, twilio_client: Client,
                                                      workspace: Any, workflow: Any, direct: Direct) -> None:
    ws = f"/v1/Workspaces/{workspace.sid}"
    sid = api.post(f"{ws}/Tasks", {"WorkflowSid": workflow.sid}).json()["sid"]
    kept = twilio_client.taskrouter.v1.workspaces.create(friendly_name="kept")
    kept_task = api.post(f"/v1/Workspaces/{kept.sid}/Tasks",
                         {"WorkflowSid": twilio_client.taskrouter.v1.workspaces(kept.sid).workflows.create(
                             friendly_name="w", configuration=CONFIGURATION).sid}).json()["sid"]
    assert api.delete(ws).status_code == 204
    for path in (ws, f"{ws}/Tasks/{sid}", f"{ws}/Workflows/{workflow.sid}", f"{ws}/TaskChannels/chat"):
        assert api.get(path).status_code == 404, path
    assert direct.read(taskrouter.task_events(account.sid, sid)) == []
    assert len(direct.read(taskrouter.task_events(account.sid, kept_task))) == 1
    assert api.get(f"/v1/Workspaces/{kept.sid}/Tasks/{kept_task}").status_code == 200
    assert len(api.get(f"/v1/Workspaces/{kept.sid}/TaskChannels").json()["channels"]) == 6


def test_move_hooks_run_in_the_moves_transaction(account: Account, api: Api, workspace: Any, workflow: Any,
                                                 direct: Direct) -> None:
    """The lead's janitor hooks here: every move, REST or not, reaches it; a hook that
    fails undoes the move."""
    seen: list[tuple[str, str]] = []

    def hook(move: taskrouter.TaskMove) -> Script[None]:
        seen.append((move.from_status, move.to_status))
        if move.to_status == "canceled":
            raise InvalidParameter("refused by the hook")
        yield from ()

    base = f"/v1/Workspaces/{workspace.sid}/Tasks"
    sid = api.post(base, {"WorkflowSid": workflow.sid}).json()["sid"]
    taskrouter.TASK_MOVE_HOOKS.append(hook)
    try:
        direct.write(taskrouter.move_task(account.sid, workspace.sid, sid, "reserved"))
        with pytest.raises(InvalidParameter):
            direct.write(taskrouter.move_task(account.sid, workspace.sid, sid, "canceled"))
        # The hook's failure undid the move.
        assert api.get(f"{base}/{sid}").json()["assignment_status"] == "reserved"
        direct.write(taskrouter.update_task(account.sid, workspace.sid, sid, taskrouter.TaskChanges(priority=4)))
        direct.write(taskrouter.delete_task(account.sid, workspace.sid, sid))
    finally:
        taskrouter.TASK_MOVE_HOOKS.remove(hook)
    # A change that moves nothing runs no hook; a deletion is a move to "deleted".
    assert seen == [("pending", "reserved"), ("reserved", "canceled"), ("reserved", "deleted")]


def test_a_channels_tasks_and_their_moves(account: Account, api: Api, workspace: Any, workflow: Any,
                                         direct: Direct) -> None:
    """The tasks' part of a chat channel's timeline: found by the channelSid attribute,
    their moves kept after a task is deleted, other channels' left out."""
    channel, other = "CH" + "1" * 32, "CH" + "2" * 32
    base = f"/v1/Workspaces/{workspace.sid}/Tasks"
    first = direct.write(taskrouter.create_task(account.sid, workspace.sid, workflow.sid, {"channelSid": channel}))
    assert first.channel_sid == channel
    direct.write(taskrouter.create_task(account.sid, workspace.sid, workflow.sid, {"channelSid": other}))
    api.post(f"{base}/{first.sid}", {"AssignmentStatus": "canceled"})
    api.delete(f"{base}/{first.sid}")
    second = api.post(base, {"WorkflowSid": workflow.sid, "Attributes": json.dumps({"channelSid": channel})}).json()
    assert [t.sid for t in direct.read(taskrouter.tasks_of_channel(account.sid, channel))] == [second["sid"]]
    events = direct.read(taskrouter.channel_task_events(account.sid, channel))
    assert [(e.task_sid, e.from_status, e.to_status) for e in events] == [
        (first.sid, None, "pending"), (first.sid, "pending", "canceled"), (first.sid, "canceled", "deleted"),
        (second["sid"], None, "pending"),
    ]
    # New attributes that name no channel take the task out of the channel's list.
    api.post(f"{base}/{second['sid']}", {"Attributes": "{}"})
    assert direct.read(taskrouter.tasks_of_channel(account.sid, channel)) == []
    assert direct.read(taskrouter.tasks_of_channel("AC" + "0" * 32, other)) == []


def test_create_task_script_takes_attributes_as_an_object(account: Account, workspace: Any, workflow: Any,
                                                          direct: Direct) -> None:
    task = direct.write(taskrouter.create_task(
        account.sid, workspace.sid, workflow.sid, {"channelSid": "CH" + "1" * 32, "channelType": "web"},
        priority=2, timeout=30, task_channel="chat",
    ))
    assert json.loads(task.attributes) == {"channelSid": "CH" + "1" * 32, "channelType": "web"}
    assert (task.priority, task.timeout, task.task_channel_unique_name, task.task_queue_sid) == (9, 30, "chat", QUEUE_A)


# -- the task list -------------------------------------------------------------------------


def test_task_list_filters(twilio_client: Client, account: Account, workspace: Any, workflow: Any,
                           direct: Direct) -> None:
    tasks = tasks_of(twilio_client, workspace.sid)
    other_flow = twilio_client.taskrouter.v1.workspaces(workspace.sid).workflows.create(
        friendly_name="Other flow", configuration=json.dumps({"task_routing": {"filters": []}}))
    web = tasks.create(workflow_sid=workflow.sid, attributes=json.dumps({"channelType": "web", "tier": 3,
                                                                         "skills": ["fr", "en"]}))
    sms = tasks.create(workflow_sid=workflow.sid, attributes=json.dumps({"channelType": "sms", "tier": 1}),
                       routing_target="WK" + "1" * 32)
    other = tasks.create(workflow_sid=other_flow.sid, priority=5, attributes=json.dumps({"name": "carol"}))
    direct.write(taskrouter.move_task(account.sid, workspace.sid, sms.sid, "reserved"))
    tasks(other.sid).update(assignment_status="canceled", reason="gone")

    def sids(**filters: Any) -> list[str]:
        return [t.sid for t in tasks.list(**filters)]

    assert sids() == [web.sid, sms.sid, other.sid]
    assert sids(assignment_status=["pending"]) == [web.sid]
    assert sids(assignment_status=["pending", "reserved"]) == [web.sid, sms.sid]
    assert sids(assignment_status=["completed"]) == []
    assert sids(workflow_sid=other_flow.sid) == [other.sid]
    assert sids(workflow_name="Assign to Anyone") == [web.sid, sms.sid]
    assert sids(task_queue_sid=QUEUE_A) == [web.sid]
    assert sids(task_queue_sid=QUEUE_B) == [sms.sid]
    assert sids(task_queue_name="Anything") == []  # flexchat's queues have no names
    assert sids(priority=5) == [other.sid]
    assert sids(routing_target="WK" + "1" * 32) == [sms.sid]
    assert sids(has_addons=False) == [web.sid, sms.sid, other.sid]
    assert sids(has_addons=True) == []
    assert sids(evaluate_task_attributes="tier > 1") == [web.sid]
    assert sids(evaluate_task_attributes="channelType IN ['web', 'sms'] AND NOT tier == 1") == [web.sid]
    assert sids(evaluate_task_attributes="skills HAS 'fr' OR name CONTAINS 'aro'") == [web.sid, other.sid]
    assert sids(evaluate_task_attributes="task.channelType == \"sms\"") == [sms.sid]
    assert sids(evaluate_task_attributes="1 == 1", assignment_status=["canceled"]) == [other.sid]
    assert sids(ordering="DateCreated:desc") == [other.sid, sms.sid, web.sid]
    # web: priority 9 (its filter's target), sms: 0, other: 5.
    assert sids(ordering="Priority:desc") == [web.sid, other.sid, sms.sid]
    assert sids(ordering="Priority:asc,DateCreated:desc") == [sms.sid, other.sid, web.sid]
    for task, day in ((web, 3), (sms, 1), (other, 2)):
        tasks(task.sid).update(virtual_start_time=datetime(2020, 1, day, tzinfo=UTC))
    assert sids(ordering="VirtualStartTime:asc") == [sms.sid, other.sid, web.sid]
    assert sids(ordering="VirtualStartTime:desc,Priority:asc") == [web.sid, other.sid, sms.sid]


def test_task_list_errors(api: Api, workspace: Any) -> None:
    base = f"/v1/Workspaces/{workspace.sid}/Tasks"
    for query in ("AssignmentStatus=done", "AssignmentStatus=pending,nope", "WorkflowSid=WW1", "TaskQueueSid=x",
                  "Priority=high", "HasAddons=perhaps", "Ordering=Name:asc", "Ordering=Priority:up",
                  "Ordering=DateCreated:asc,VirtualStartTime:desc", "Ordering=Priority:asc,Priority:desc",
                  "EvaluateTaskAttributes=a%20%3D%3D", "EvaluateTaskAttributes=worker.a%20%3D%3D%201",
                  "EvaluateTaskAttributes=" + "(" * 3000 + "a%3D%3D1" + ")" * 3000,
                  "EvaluateTaskAttributes=" + "NOT%20" * 60 + "a%3D%3D1",
                  "PageSize=0", "Page=1", "PageToken=PAxyz"):
        response = api.get(f"{base}?{query}")
        assert (response.status_code, response.json()["code"]) == (400, 20001), query
    assert api.get(f"/v1/Workspaces/WS{'0' * 32}/Tasks").status_code == 404


def test_task_list_pages_in_every_ordering(api: Api, workspace: Any, workflow: Any) -> None:
    base = f"/v1/Workspaces/{workspace.sid}/Tasks"
    priorities = [3, 1, 3, 0, 2, 3, 1]
    created = [api.post(base, {"WorkflowSid": workflow.sid, "Priority": str(p), "Attributes": f'{{"n": {i}}}'})
               .json() for i, p in enumerate(priorities)]
    for ordering, query in (
        (created, ""),
        (list(reversed(created)), "&Ordering=DateCreated:desc"),
        (sorted(created, key=lambda t: (-t["priority"], created.index(t))), "&Ordering=Priority:desc"),
        (sorted(created, key=lambda t: (t["priority"], -created.index(t))),
         "&Ordering=Priority:asc,DateCreated:desc"),
    ):
        expected = [t["sid"] for t in ordering]
        page = api.get(f"{base}?PageSize=3{query}").json()
        assert page["meta"]["key"] == "tasks"
        seen = [t["sid"] for t in page["tasks"]]
        pages = [page]
        while page["meta"]["next_page_url"]:
            page = api.get(page["meta"]["next_page_url"]).json()
            pages.append(page)
            seen += [t["sid"] for t in page["tasks"]]
        assert seen == expected, query
        assert [len(p["tasks"]) for p in pages] == [3, 3, 1]
        # And back again through previous_page_url.
        back: list[str] = []
        while page["meta"]["previous_page_url"]:
            page = api.get(page["meta"]["previous_page_url"]).json()
            back = [t["sid"] for t in page["tasks"]] + back
        assert back == expected[:6], query
    # Filters are echoed in the page URLs, so the next page keeps them.
    page = api.get(f"{base}?PageSize=1&AssignmentStatus=pending&AssignmentStatus=reserved&Priority=3").json()
    assert "AssignmentStatus=pending&AssignmentStatus=reserved" in page["meta"]["next_page_url"]
    walked = [page["tasks"][0]["priority"]]
    while page["meta"]["next_page_url"]:
        page = api.get(page["meta"]["next_page_url"]).json()
        walked += [t["priority"] for t in page["tasks"]]
    assert walked == [3, 3, 3]
    # EvaluateTaskAttributes pages too, reading on past rows that do not match.
    page = api.get(f"{base}?PageSize=2&EvaluateTaskAttributes=n%20%3E%3D%203").json()
    numbers = [json.loads(t["attributes"])["n"] for t in page["tasks"]]
    while page["meta"]["next_page_url"]:
        page = api.get(page["meta"]["next_page_url"]).json()
        numbers += [json.loads(t["attributes"])["n"] for t in page["tasks"]]
    assert numbers == [3, 4, 5, 6]


def test_page_tokens_are_bound_to_their_workspace_and_filters(api: Api, twilio_client: Client,
                                                              workspace: Any, workflow: Any) -> None:
    base = f"/v1/Workspaces/{workspace.sid}/Tasks"
    for _ in range(2):
        api.post(base, {"WorkflowSid": workflow.sid})
    token = api.get(f"{base}?PageSize=1").json()["meta"]["next_page_url"].split("PageToken=")[1]
    other = twilio_client.taskrouter.v1.workspaces.create(friendly_name="other")
    for url in (f"/v1/Workspaces/{other.sid}/Tasks?PageSize=1&PageToken={token}",
                f"{base}?PageSize=1&Priority=0&PageToken={token}",
                f"/v1/Workspaces/{workspace.sid}/Workflows?PageSize=1&PageToken={token}"):
        response = api.get(url)
        assert (response.status_code, response.json()["code"]) == (400, 20001), url
    # A token continuing from a task deleted meanwhile, in an ordering by priority.
    page = api.get(f"{base}?PageSize=1&Ordering=Priority:desc").json()
    api.delete(f"{base}/{page['tasks'][0]['sid']}")
    assert api.get(page["meta"]["next_page_url"]).status_code == 400


def test_workflows_and_task_channels_page(api: Api, workspace: Any) -> None:
    channels_page = api.get(f"/v1/Workspaces/{workspace.sid}/TaskChannels?PageSize=4").json()
    assert (len(channels_page["channels"]), channels_page["meta"]["key"]) == (4, "channels")
    rest = api.get(channels_page["meta"]["next_page_url"]).json()
    assert [c["unique_name"] for c in rest["channels"]] == ["video", "email"]
    assert rest["meta"]["next_page_url"] is None
    for i in range(3):
        api.post(f"/v1/Workspaces/{workspace.sid}/Workflows",
                 {"FriendlyName": f"w{i}", "Configuration": CONFIGURATION})
    first = api.get(f"/v1/Workspaces/{workspace.sid}/Workflows?PageSize=2").json()
    second = api.get(first["meta"]["next_page_url"]).json()
    assert [w["friendly_name"] for w in first["workflows"] + second["workflows"]] == ["w0", "w1", "w2"]


# -- isolation -----------------------------------------------------------------------------


def test_another_accounts_resources_are_not_found(server: ServerProcess, api: Api, workspace: Any,
                                                  workflow: Any) -> None:
    task = api.post(f"/v1/Workspaces/{workspace.sid}/Tasks", {"WorkflowSid": workflow.sid}).json()
    intruder = Api(server.base_url, add_account(server.database_url).auth)
    ws = f"/v1/Workspaces/{workspace.sid}"
    for path in (ws, f"{ws}/Workflows", f"{ws}/Workflows/{workflow.sid}", f"{ws}/TaskChannels",
                 f"{ws}/TaskChannels/chat", f"{ws}/Tasks", f"{ws}/Tasks/{task['sid']}"):
        response = intruder.get(path)
        assert (response.status_code, response.json()["code"]) == (404, 20404), path
    for path, data in ((ws, {"FriendlyName": "mine"}), (f"{ws}/Tasks/{task['sid']}", {"AssignmentStatus": "canceled"}),
                       (f"{ws}/Tasks", {"WorkflowSid": workflow.sid}), (f"{ws}/Workflows/{workflow.sid}", {}),
                       (f"{ws}/TaskChannels", {"FriendlyName": "f", "UniqueName": "u"})):
        assert intruder.post(path, data).status_code == 404, path
    for path in (f"{ws}/Tasks/{task['sid']}", f"{ws}/Workflows/{workflow.sid}", f"{ws}/TaskChannels/chat", ws):
        assert intruder.delete(path).status_code == 404, path
    assert intruder.get("/v1/Workspaces").json()["workspaces"] == []
    assert api.get(f"{ws}/Tasks/{task['sid']}").json()["assignment_status"] == "pending"


# -- in process ----------------------------------------------------------------------------


def test_flexchat_testing_serves_taskrouter_and_studio_hosts_in_process() -> None:
    from flexchat.testing import is_flex_api_host, is_served_host, twilio_client

    for host in ("taskrouter.twilio.com", "TASKROUTER.twilio.com", "taskrouter.sydney.au1.twilio.com",
                 "studio.twilio.com", "studio.ie1.twilio.com", "flex-api.twilio.com"):
        assert is_served_host(host), host
    for host in ("api.twilio.com", "taskrouter.twilio.com.evil.org", "studio.a.b.c.twilio.com", "xstudio.twilio.com"):
        assert not is_served_host(host), host
    assert not is_flex_api_host("taskrouter.twilio.com")

    client = twilio_client(edge="sydney", region="au1")
    try:
        workspace = client.taskrouter.v1.workspaces.create(friendly_name="in process")
        assert workspace.url.startswith("https://taskrouter.sydney.au1.twilio.com/v1/Workspaces/WS")
        workflow = client.taskrouter.v1.workspaces(workspace.sid).workflows.create(
            friendly_name="w", configuration=CONFIGURATION)
        tasks = client.taskrouter.v1.workspaces(workspace.sid).tasks
        for priority in (1, 2, 3):
            tasks.create(workflow_sid=workflow.sid, priority=priority)
        # next_page_url names the host asked for, so paging stays in process.
        assert [t.priority for t in tasks.list(page_size=1, ordering="Priority:desc")] == [3, 2, 1]
        task = tasks.list(limit=1)[0]
        assert tasks(task.sid).update(assignment_status="canceled").assignment_status == "canceled"
        with pytest.raises(TwilioRestException) as excinfo:
            tasks(task.sid).update(assignment_status="completed")
        assert rest_error(excinfo) == (400, 20001)
        execution = client.studio.v2.flows("FW" + "1" * 32).executions.create(to="+1", from_="+2")
        assert execution.url.startswith("https://studio.sydney.au1.twilio.com/v2/Flows/FW")
        assert client.studio.v2.flows("FW" + "1" * 32).executions(execution.sid).execution_context().fetch().context[
            "contact"] == {"channel": {"address": "+1"}}
    finally:
        client.http_client.close()
