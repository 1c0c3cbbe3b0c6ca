"""Flex's orchestration and the agent's side, in process through the unmodified twilio
client: tasks made as Flex made them, Studio executions, the channel's life, the janitor,
and playing the agent (flexchat.testing's control functions)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from twilio.rest import Client

from flexchat.store.sql import fetch, sql
from flexchat.testing import (
    ControlError,
    InProcessFlexchat,
    accept_task,
    channel_timeline,
    complete_task,
    end_chat,
    send_agent_message,
    send_to_flex,
    twilio_client,
    wrap_up_task,
)

from .postgres import fresh_database

OUTBOX = sql(
    "SELECT event_type, params, state FROM outbox WHERE channel_sid = ? AND account_sid = ? ORDER BY seq"
)
HEADER = {"X-Twilio-Webhook-Enabled": "true"}


@pytest.fixture
def flexchat() -> Iterator[InProcessFlexchat]:
    with InProcessFlexchat() as instance:
        yield instance


@pytest.fixture
def client(flexchat: InProcessFlexchat) -> Client:
    return twilio_client(flexchat=flexchat)


def events(flexchat: InProcessFlexchat, channel_sid: str) -> list[tuple[str, dict[str, str]]]:
    rows = flexchat.run(flexchat.app.store.read(fetch(OUTBOX(channel_sid, flexchat.account_sid))))
    return [(row[0], json.loads(row[1])) for row in rows if row[2] != "recorded"]


def task_flow(client: Client, **extra: Any) -> Any:
    return client.flex_api.v1.flex_flow.create(
        friendly_name="tasks", chat_service_sid="IS" + secrets.token_hex(16), channel_type="custom",
        integration_type="task", integration_workspace_sid="WS" + secrets.token_hex(16),
        integration_workflow_sid="WW" + secrets.token_hex(16), integration_channel="chat",
        integration_priority=3, integration_timeout=600, **extra,
    )


def open_channel(client: Client, flow: Any, identity: str, **extra: Any) -> Any:
    channel = client.flex_api.v1.channel.create(
        flex_flow_sid=flow.sid, identity=identity, chat_user_friendly_name=f"Customer {identity}",
        chat_friendly_name="chat", **extra,
    )
    # The customer's middleware listens for the channel's messages and updates; nothing
    # answers at this address: these tests read the events from the outbox.
    client.chat.v2.services(flow.chat_service_sid).channels(channel.sid).webhooks.create(
        type="webhook", configuration_url="http://127.0.0.1:9/hook",
        configuration_filters=["onMessageSent", "onChannelUpdated"],
    )
    return channel


def customer_says(flexchat: InProcessFlexchat, flow: Any, channel_sid: str, body: str, who: str) -> Any:
    response = flexchat.request(
        "POST", f"https://chat.twilio.com/v2/Services/{flow.chat_service_sid}/Channels/{channel_sid}/Messages",
        data={"Body": body, "From": who}, headers=HEADER, auth=flexchat.auth,
    )
    assert response.status == 201, response.text
    return response.json()


def attributes(client: Client, flow: Any, channel_sid: str) -> dict[str, Any]:
    return dict(json.loads(client.chat.v2.services(flow.chat_service_sid).channels(channel_sid).fetch().attributes))


def test_a_customers_message_becomes_a_task_an_agent_answers_and_the_janitor_ends_the_chat(
    flexchat: InProcessFlexchat, client: Client
) -> None:
    flow = task_flow(client, integration_creation_on_message=True, janitor_enabled=True)
    channel = open_channel(client, flow, "ann", task_attributes='{"topic": "refund"}')
    assert channel.task_sid is None  # not before the customer says something
    customer_says(flexchat, flow, channel.sid, "Hello?", "ann")
    task_sid = client.flex_api.v1.channel(channel.sid).fetch().task_sid
    assert task_sid is not None and attributes(client, flow, channel.sid)["task_sid"] == task_sid
    workspace = client.taskrouter.v1.workspaces(flow.integration["workspace_sid"])
    task = workspace.tasks(task_sid).fetch()
    assert json.loads(task.attributes) == {
        "channelSid": channel.sid, "name": "Customer ann", "channelType": "custom", "topic": "refund",
    }
    assert (task.assignment_status, task.priority, task.timeout) == ("pending", 3, 600)
    # A second message does not open a second task.
    customer_says(flexchat, flow, channel.sid, "Anyone?", "ann")
    assert client.flex_api.v1.channel(channel.sid).fetch().task_sid == task_sid

    accepted = accept_task(flexchat, task_sid, "agent-bob")
    assert accepted["assignment_status"] == "assigned"
    members = client.chat.v2.services(flow.chat_service_sid).channels(channel.sid).members.list()
    assert {member.identity for member in members} == {"ann", "agent-bob"}
    reply = send_agent_message(flexchat, channel.sid, "agent-bob", "Hi Ann, how can I help?")
    assert reply["from"] == "agent-bob"
    sent = [params for kind, params in events(flexchat, channel.sid) if kind == "onMessageSent"]
    # The agent's reply reaches the middleware as Source=SDK, without any header.
    assert [(p["Body"], p["Source"]) for p in sent] == [
        ("Hello?", "API"), ("Anyone?", "API"), ("Hi Ann, how can I help?", "SDK"),
    ]
    assert sent[-1]["ClientIdentity"] == "agent-bob"

    assert wrap_up_task(flexchat, task_sid)["assignment_status"] == "wrapping"
    assert attributes(client, flow, channel.sid)["status"] == "ACTIVE"  # wrapping does not end the chat
    assert complete_task(flexchat, task_sid)["assignment_status"] == "completed"
    assert attributes(client, flow, channel.sid)["status"] == "INACTIVE"
    updates = [params for kind, params in events(flexchat, channel.sid) if kind == "onChannelUpdated"]
    assert json.loads(updates[-1]["Attributes"])["status"] == "INACTIVE"
    # The customer's next contact opens a new channel.
    assert open_channel(client, flow, "ann").sid != channel.sid


def test_a_long_lived_channel_survives_its_task_and_opens_the_next_one(
    flexchat: InProcessFlexchat, client: Client
) -> None:
    flow = task_flow(client, integration_creation_on_message=True, janitor_enabled=True, long_lived=True)
    channel = open_channel(client, flow, "lee")
    customer_says(flexchat, flow, channel.sid, "first contact", "lee")
    first = client.flex_api.v1.channel(channel.sid).fetch().task_sid
    accept_task(flexchat, first, "agent-kim")
    complete_task(flexchat, first)
    assert attributes(client, flow, channel.sid)["status"] == "ACTIVE"
    assert client.flex_api.v1.channel(channel.sid).fetch().task_sid is None
    assert open_channel(client, flow, "lee").sid == channel.sid  # the same channel, reused
    customer_says(flexchat, flow, channel.sid, "second contact", "lee")
    second = client.flex_api.v1.channel(channel.sid).fetch().task_sid
    assert second not in (None, first)
    # The list shows the new task too (no cached copy of the channel is served).
    listed = {item.sid: item.task_sid for item in client.flex_api.v1.channel.list()}
    assert listed[channel.sid] == second


def test_a_studio_flow_runs_per_message_until_sent_to_flex(flexchat: InProcessFlexchat, client: Client) -> None:
    studio_flow = "FW" + secrets.token_hex(16)
    flow = client.flex_api.v1.flex_flow.create(
        friendly_name="bot", chat_service_sid="IS" + secrets.token_hex(16), channel_type="web",
        integration_type="studio", integration_flow_sid=studio_flow, janitor_enabled=True,
    )
    channel = open_channel(client, flow, "sam", pre_engagement_data='{"question": "hours"}')
    customer_says(flexchat, flow, channel.sid, "What are your hours?", "sam")
    customer_says(flexchat, flow, channel.sid, "Hello?", "sam")
    executions = client.studio.v2.flows(studio_flow).executions.list()
    assert len(executions) == 2
    context = client.studio.v2.flows(studio_flow).executions(executions[-1].sid).execution_context().fetch().context
    message = context["trigger"]["message"]
    assert message["ChannelSid"] == channel.sid and message["Body"] == "What are your hours?"
    assert message["From"] == "sam" and message["InstanceSid"] == flow.chat_service_sid
    assert json.loads(message["ChannelAttributes"])["pre_engagement_data"] == {"question": "hours"}

    task_sid = send_to_flex(flexchat, channel.sid)["task_sid"]
    hooks = client.chat.v2.services(flow.chat_service_sid).channels(channel.sid).webhooks.list()
    assert [hook.type for hook in hooks] == ["webhook"]  # the studio webhook is gone
    assert attributes(client, flow, channel.sid)["task_sid"] == task_sid
    customer_says(flexchat, flow, channel.sid, "Still there?", "sam")
    assert len(client.studio.v2.flows(studio_flow).executions.list()) == 2
    accept_task(flexchat, task_sid, "agent-ada")
    send_agent_message(flexchat, channel.sid, "agent-ada", "We open at nine.")
    end_chat(flexchat, channel.sid)
    assert attributes(client, flow, channel.sid)["status"] == "INACTIVE"
    configuration = client.flex_api.v1.configuration().fetch()
    assert configuration.taskrouter_workspace_sid is not None


def test_an_outbound_conversation_starts_with_its_task(flexchat: InProcessFlexchat, client: Client) -> None:
    flow = task_flow(client, integration_creation_on_message=False)
    channel = open_channel(
        client, flow, "+15550001", target="+15550001",
        task_attributes=json.dumps({"direction": "outbound", "to": "+15550001"}),
    )
    task = client.taskrouter.v1.workspaces(flow.integration["workspace_sid"]).tasks(channel.task_sid).fetch()
    assert json.loads(task.attributes)["direction"] == "outbound"
    assert attributes(client, flow, channel.sid)["from"] == "+15550001"


def test_every_move_taskrouter_refuses_is_refused(flexchat: InProcessFlexchat, client: Client) -> None:
    flow = task_flow(client, integration_creation_on_message=False)
    task_sid = open_channel(client, flow, "max").task_sid
    for refused in (complete_task, wrap_up_task):
        with pytest.raises(ControlError) as error:
            refused(flexchat, task_sid)  # a pending task has no agent to wrap up or complete
        assert error.value.status == 400 and error.value.body["code"] == 20001
    accept_task(flexchat, task_sid, "agent-joe")
    with pytest.raises(ControlError) as twice:
        accept_task(flexchat, task_sid, "agent-zoe")
    assert twice.value.status == 400
    complete_task(flexchat, task_sid)
    with pytest.raises(ControlError) as ended:
        wrap_up_task(flexchat, task_sid)
    assert ended.value.status == 400
    workspace = client.taskrouter.v1.workspaces(flow.integration["workspace_sid"])
    assert workspace.tasks(task_sid).fetch().assignment_status == "completed"
    missing = "WT" + secrets.token_hex(16)
    with pytest.raises(ControlError) as unknown:
        accept_task(flexchat, missing, "agent-joe")
    assert unknown.value.status == 404


def test_the_cli_plays_the_agent(tmp_path: Any) -> None:
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'agent.db'}"
    with InProcessFlexchat(url) as instance:
        client = twilio_client(flexchat=instance)
        flow = task_flow(client, integration_creation_on_message=False, janitor_enabled=True)
        channel = open_channel(client, flow, "cli")
        account = instance.account_sid

    def agent(*args: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "flexchat.cli", "agent", *args, "--database", url, "--account-sid", account],
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert agent("accept", channel.task_sid, "--agent", "agent-cli")["assignment_status"] == "assigned"
    assert agent("reply", channel.sid, "hi", "--agent", "agent-cli")["from"] == "agent-cli"
    assert agent("complete", channel.task_sid)["assignment_status"] == "completed"
    timeline = agent("timeline", channel.sid)
    assert [e["to_status"] for e in timeline if e["type"] == "task"] == ["pending", "reserved", "assigned", "completed"]
    assert any(e["type"] == "delivery" and e["event_type"] == "onMessageSent" for e in timeline)
    refused = subprocess.run(
        [sys.executable, "-m", "flexchat.cli", "agent", "wrap-up", channel.task_sid,
         "--database", url, "--account-sid", account],
        capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode == 1 and "Cannot wrap up" in refused.stderr and "Traceback" not in refused.stderr


def _at_the_start_of_a_second() -> None:
    """Wait for the next whole second, so what follows shares one ``date_created``."""
    time.sleep(1 - time.time() % 1 + 0.01)


def test_a_channels_timeline_is_in_the_order_of_what_happened_within_one_second(engine: str) -> None:
    """A customer's message, Send to Flex, the agent's acceptance, reply, wrap-up and
    completion, all within one second: the timeline lists them (and what each raised) in
    the order they happened, not grouped by kind, on both engines."""
    with fresh_database(engine) as url, InProcessFlexchat(url) as flexchat:
        client = twilio_client(flexchat=flexchat)
        studio_flow = "FW" + secrets.token_hex(16)
        flow = client.flex_api.v1.flex_flow.create(
            friendly_name="bot", chat_service_sid="IS" + secrets.token_hex(16), channel_type="custom",
            integration_type="studio", integration_flow_sid=studio_flow, janitor_enabled=True,
        )
        for attempt in range(3):  # a loaded machine may cross a second: try again
            identity = f"pat-{attempt}"
            channel = open_channel(client, flow, identity)
            chat = client.chat.v2.services(flow.chat_service_sid).channels(channel.sid)
            _at_the_start_of_a_second()
            chat.messages.create(body="Is anyone there?", from_=identity, x_twilio_webhook_enabled="true")
            task_sid = send_to_flex(flexchat, channel.sid)["task_sid"]
            accept_task(flexchat, task_sid, "agent-ada")
            send_agent_message(flexchat, channel.sid, "agent-ada", "Yes, how can I help?")
            wrap_up_task(flexchat, task_sid)
            complete_task(flexchat, task_sid)
            timeline = channel_timeline(flexchat, channel.sid)
            if len({entry["at"] for entry in timeline}) == 1:
                break
        else:
            pytest.fail("three tries each crossed a second")

    def describe(entry: dict[str, Any]) -> str:
        if entry["type"] == "message":
            return f"message {entry['body']}"
        if entry["type"] == "delivery":
            return f"delivery {entry['kind']} {entry['event_type']}"
        if entry["type"] == "task":
            return f"task {entry['to_status']}"
        return f"execution {entry['status']}"

    assert [describe(entry) for entry in timeline] == [
        "message Is anyone there?",
        "delivery studio onMessageSent",  # the flow's studio webhook...
        "execution active",  # ...runs the flow
        "delivery webhook onMessageSent",  # the middleware's webhook
        "task pending",  # Send to Flex
        "task reserved",
        "task assigned",  # accepted
        "message Yes, how can I help?",
        "delivery webhook onMessageSent",
        "task wrapping",
        "task completed",
        "delivery webhook onChannelUpdated",  # the janitor ends the chat
    ]


CLEAR_FINER_TIMES = [
    sql(f"UPDATE {table} SET created_us = NULL WHERE account_sid = ?")
    for table in ("chat_messages", "outbox", "tr_task_events", "studio_executions")
]


def test_rows_without_a_finer_time_are_ordered_by_their_date(flexchat: InProcessFlexchat, client: Client) -> None:
    """A message dated by its client falls where its DateCreated says; rows written
    before schema step 12 (no created_us) by date_created, then kind, then row number."""
    flow = task_flow(client, integration_creation_on_message=True)
    channel = open_channel(client, flow, "old")
    chat = client.chat.v2.services(flow.chat_service_sid).channels(channel.sid)
    customer_says(flexchat, flow, channel.sid, "now", "old")
    imported = chat.messages.create(
        body="years ago", from_="old", date_created=datetime(2016, 8, 1, 22, 10, 40, tzinfo=UTC)
    )
    assert imported.date_created == datetime(2016, 8, 1, 22, 10, 40, tzinfo=UTC)
    timeline = channel_timeline(flexchat, channel.sid)
    assert timeline[0]["type"] == "message" and timeline[0]["body"] == "years ago"
    assert timeline[0]["at"] == "2016-08-01T22:10:40Z"
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)

    for statement in CLEAR_FINER_TIMES:
        flexchat.run(flexchat.app.store.write(fetch(statement(flexchat.account_sid))))
    again = channel_timeline(flexchat, channel.sid)
    def names(entries: list[dict[str, Any]]) -> list[str]:
        return sorted(e.get("sid") or e.get("id") or e["to_status"] for e in entries)

    assert names(again) == names(timeline)  # the same entries
    kinds = {"message": 0, "delivery": 1, "task": 2, "execution": 3}
    assert [(e["at"], kinds[e["type"]]) for e in again] == sorted((e["at"], kinds[e["type"]]) for e in again)
