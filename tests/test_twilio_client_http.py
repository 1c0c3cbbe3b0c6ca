"""The unmodified official twilio client against a real ``flexchat serve`` over HTTP."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from .conftest import seed_channels

SID = {prefix: re.compile(rf"^{prefix}[0-9a-f]{{32}}$") for prefix in ("CH", "FO", "US", "WT", "AC")}


def chat_service() -> str:
    return "IS" + secrets.token_hex(16)


def create_flow(client: Client, integration_type: str, **extra: Any) -> Any:
    integration = {
        "studio": {"integration_flow_sid": "FW" + secrets.token_hex(16), "integration_retry_count": 2},
        "external": {"integration_url": "https://example.com/hook", "integration_retry_count": 1},
        "task": {
            "integration_workspace_sid": "WS" + secrets.token_hex(16),
            "integration_workflow_sid": "WW" + secrets.token_hex(16),
            "integration_channel": "chat",
            "integration_timeout": 30,
            "integration_priority": 5,
            "integration_creation_on_message": True,
        },
    }[integration_type]
    return client.flex_api.v1.flex_flow.create(
        friendly_name=f"{integration_type} flow",
        chat_service_sid=chat_service(),
        channel_type="web",
        integration_type=integration_type,
        **{**integration, **extra},
    )


def create_channel(client: Client, flow_sid: str, identity: str, **extra: Any) -> Any:
    return client.flex_api.v1.channel.create(
        flex_flow_sid=flow_sid,
        identity=identity,
        chat_user_friendly_name=f"User {identity}",
        chat_friendly_name=f"Chat {identity}",
        **extra,
    )


@pytest.mark.parametrize("integration_type", ["studio", "external", "task"])
def test_flow_of_each_integration_type_round_trips(twilio_client: Client, integration_type: str) -> None:
    flow = create_flow(twilio_client, integration_type, long_lived=True, janitor_enabled=True, contact_identity="+1555")
    assert SID["FO"].match(flow.sid)
    assert flow.integration_type == integration_type
    assert flow.long_lived is True and flow.janitor_enabled is True and flow.enabled is True
    assert flow.contact_identity == "+1555"
    fetched = twilio_client.flex_api.v1.flex_flow(flow.sid).fetch()
    assert fetched.integration == flow.integration
    if integration_type == "task":
        assert fetched.integration["timeout"] == 30 and fetched.integration["creation_on_message"] is True
    if integration_type == "studio":
        assert fetched.integration["retry_count"] == 2


@pytest.mark.parametrize(("integration_type", "has_task"), [("studio", False), ("external", False), ("task", True)])
def test_channel_task_sid_only_for_task_flows(twilio_client: Client, integration_type: str, has_task: bool) -> None:
    # A task flow that opens its task with the channel (not at the first message).
    extra = {"integration_creation_on_message": False} if integration_type == "task" else {}
    flow = create_flow(twilio_client, integration_type, **extra)
    channel = create_channel(twilio_client, flow.sid, "alice", task_attributes='{"topic": "billing"}')
    assert SID["CH"].match(channel.sid) and SID["US"].match(channel.user_sid)
    assert channel.flex_flow_sid == flow.sid
    assert channel.account_sid == twilio_client.username
    assert (channel.task_sid is not None) == has_task
    if has_task:
        assert SID["WT"].match(channel.task_sid)
        # The task is real: in the flow's workspace, with Flex's attributes and TaskAttributes.
        task = twilio_client.taskrouter.v1.workspaces(flow.integration["workspace_sid"]).tasks(channel.task_sid).fetch()
        assert task.assignment_status == "pending" and task.priority == 5 and task.timeout == 30
        assert json.loads(task.attributes) == {
            "channelSid": channel.sid, "name": "User alice", "channelType": "web", "topic": "billing",
        }


def test_given_task_sid_is_used_on_task_flows(twilio_client: Client) -> None:
    flow = create_flow(twilio_client, "task")
    task_sid = "WT" + secrets.token_hex(16)
    assert create_channel(twilio_client, flow.sid, "bob", task_sid=task_sid).task_sid == task_sid


def test_same_identity_gets_same_user_and_reuses_its_open_channel(twilio_client: Client) -> None:
    service = chat_service()
    flow_a = twilio_client.flex_api.v1.flex_flow.create(
        friendly_name="a", chat_service_sid=service, channel_type="sms", integration_flow_sid="FW" + "1" * 32
    )
    flow_b = twilio_client.flex_api.v1.flex_flow.create(
        friendly_name="b", chat_service_sid=service, channel_type="sms", integration_flow_sid="FW" + "2" * 32
    )
    first = create_channel(twilio_client, flow_a.sid, "carol")
    again = create_channel(twilio_client, flow_a.sid, "carol")
    other_flow = create_channel(twilio_client, flow_b.sid, "carol")
    assert again.sid == first.sid
    assert other_flow.sid != first.sid
    assert other_flow.user_sid == first.user_sid


def test_fetch_and_delete_channel(twilio_client: Client) -> None:
    flow = create_flow(twilio_client, "studio")
    channel = create_channel(twilio_client, flow.sid, "dave")
    fetched = twilio_client.flex_api.v1.channel(channel.sid).fetch()
    assert (fetched.sid, fetched.user_sid, fetched.date_created) == (
        channel.sid,
        channel.user_sid,
        channel.date_created,
    )
    assert twilio_client.flex_api.v1.channel(channel.sid).delete() is True
    with pytest.raises(TwilioRestException) as caught:
        twilio_client.flex_api.v1.channel(channel.sid).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)


def test_update_and_delete_flex_flow(twilio_client: Client) -> None:
    flow = create_flow(twilio_client, "studio")
    updated = twilio_client.flex_api.v1.flex_flow(flow.sid).update(
        friendly_name="renamed", enabled=False, integration_retry_count=3
    )
    assert updated.friendly_name == "renamed" and updated.enabled is False
    assert updated.integration == {**flow.integration, "retry_count": 3}
    assert [f.sid for f in twilio_client.flex_api.v1.flex_flow.list(friendly_name="renamed")] == [flow.sid]
    assert twilio_client.flex_api.v1.flex_flow(flow.sid).delete() is True
    assert twilio_client.flex_api.v1.flex_flow.list() == []


def test_list_with_limit_crosses_pages(twilio_client: Client, server: Any) -> None:
    from .conftest import Account

    seed_channels(server.database_url, Account(twilio_client.username, twilio_client.password), 3, 1500)
    channels = twilio_client.flex_api.v1.channel.list(limit=1500)
    assert len(channels) == 1500
    assert len({c.sid for c in channels}) == 1500
    # limit with no page size sends PageSize=1500, clamped to 1000: two pages, nothing lost.
    assert len(twilio_client.flex_api.v1.channel.list(limit=1200, page_size=None)) == 1200


def test_stream_small_pages_and_page_navigation(twilio_client: Client) -> None:
    flow = create_flow(twilio_client, "studio")
    created = [create_channel(twilio_client, flow.sid, f"user{i}").sid for i in range(23)]
    streamed = [c.sid for c in twilio_client.flex_api.v1.channel.stream(page_size=7)]
    assert streamed == created  # creation order, oldest first, across four pages

    first = twilio_client.flex_api.v1.channel.page(page_size=10)
    assert [c.sid for c in first] == created[:10]
    second = first.next_page()
    assert [c.sid for c in second] == created[10:20]
    third = second.next_page()
    assert [c.sid for c in third] == created[20:]
    assert third.next_page() is None
    back = third.previous_page()
    assert [c.sid for c in back] == created[10:20]
    assert [c.sid for c in back.previous_page()] == created[:10]
    assert back.previous_page().previous_page() is None


def test_errors_are_twilio_rest_exceptions(twilio_client: Client, server: Any) -> None:
    flow = create_flow(twilio_client, "studio")
    with pytest.raises(TwilioRestException) as missing:
        twilio_client.flex_api.v1.channel.create(
            flex_flow_sid=flow.sid, identity="", chat_user_friendly_name="u", chat_friendly_name="c"
        )
    assert (missing.value.status, missing.value.code) == (400, 20001)
    assert "Identity" in missing.value.msg

    with pytest.raises(TwilioRestException) as unknown:
        twilio_client.flex_api.v1.flex_flow("FO" + "0" * 32).fetch()
    assert (unknown.value.status, unknown.value.code) == (404, 20404)

    wrong = Client(twilio_client.username, "not-the-token")
    wrong.flex_api.base_url = server.base_url
    with pytest.raises(TwilioRestException) as denied:
        wrong.flex_api.v1.flex_flow("FO" + "0" * 32).fetch()
    assert (denied.value.status, denied.value.code) == (401, 20003)


def test_unknown_or_disabled_flow_is_named_in_the_error(twilio_client: Client) -> None:
    missing_sid = "FO" + "f" * 32
    with pytest.raises(TwilioRestException) as missing:
        create_channel(twilio_client, missing_sid, "erin")
    assert missing.value.status == 400 and missing.value.code == 45205 and missing_sid in missing.value.msg

    flow = create_flow(twilio_client, "studio", enabled=False)
    with pytest.raises(TwilioRestException) as disabled:
        create_channel(twilio_client, flow.sid, "erin")
    assert disabled.value.status == 400 and flow.sid in disabled.value.msg and "disabled" in disabled.value.msg


def test_api_key_authenticates_as_its_account(twilio_client: Client, server: Any) -> None:
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "flexchat.cli",
            "api-key",
            "create",
            "--database",
            server.database_url,
            "--account-sid",
            twilio_client.username,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    key = json.loads(out)
    assert SID["AC"].match(key["account_sid"]) and key["sid"].startswith("SK")
    flow = create_flow(twilio_client, "studio")
    keyed = Client(key["sid"], key["secret"], account_sid=twilio_client.username)
    keyed.flex_api.base_url = server.base_url
    assert [f.sid for f in keyed.flex_api.v1.flex_flow.list()] == [flow.sid]
