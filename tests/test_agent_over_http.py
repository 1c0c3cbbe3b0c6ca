"""The reply path end to end, as a custom channel's middleware sees it: the unmodified
twilio client over HTTP against a real ``flexchat serve`` (both engines), and a real HTTP
receiver standing in for the middleware's webhook endpoint."""

from __future__ import annotations

import json
import secrets

from twilio.request_validator import RequestValidator
from twilio.rest import Client

from flexchat.testing import ServerProcess, accept_task, channel_timeline, complete_task, send_agent_message

from .conftest import Account
from .webhooks import receiving


def test_customer_to_agent_and_back_with_a_janitor(
    twilio_client: Client, server: ServerProcess, account: Account
) -> None:
    flow = twilio_client.flex_api.v1.flex_flow.create(
        friendly_name="support", chat_service_sid="IS" + secrets.token_hex(16), channel_type="custom",
        integration_type="task", integration_workspace_sid="WS" + secrets.token_hex(16),
        integration_workflow_sid="WW" + secrets.token_hex(16), integration_creation_on_message=True,
        janitor_enabled=True,
    )
    creds = {"auth": (account.sid, account.auth_token)}
    with receiving() as middleware:
        channel = twilio_client.flex_api.v1.channel.create(
            flex_flow_sid=flow.sid, identity="cus-1", chat_user_friendly_name="Cus", chat_friendly_name="chat",
        )
        chat = twilio_client.chat.v2.services(flow.chat_service_sid).channels(channel.sid)
        chat.webhooks.create(
            type="webhook", configuration_url=middleware.url, configuration_method="POST",
            configuration_filters=["onMessageSent", "onChannelUpdated"],
        )
        chat.messages.create(body="my order is late", from_="cus-1", x_twilio_webhook_enabled="true")
        task_sid = twilio_client.flex_api.v1.channel(channel.sid).fetch().task_sid
        task = twilio_client.taskrouter.v1.workspaces(flow.integration["workspace_sid"]).tasks(task_sid).fetch()
        assert json.loads(task.attributes)["channelSid"] == channel.sid

        accept_task(server, task_sid, "agent-eve", **creds)
        send_agent_message(server, channel.sid, "agent-eve", "Let me check that for you.", **creds)
        replies = middleware.wait_for(1, what=lambda r: r.form.get("Source") == "SDK")
        reply = replies[0]
        # What every custom channel forwards: onMessageSent from the SDK, validly signed.
        assert reply.form["EventType"] == "onMessageSent"
        assert reply.form["Body"] == "Let me check that for you." and reply.form["From"] == "agent-eve"
        assert RequestValidator(account.auth_token).validate(
            reply.url, reply.form, reply.headers["X-Twilio-Signature"]
        )

        complete_task(server, task_sid, **creds)
        (ended,) = middleware.wait_for(1, what=lambda r: r.form.get("EventType") == "onChannelUpdated")
        assert json.loads(ended.form["Attributes"])["status"] == "INACTIVE"

    timeline = channel_timeline(server, channel.sid, **creds)
    kinds = [entry["type"] for entry in timeline]
    assert {"message", "delivery", "task"} <= set(kinds)
    moves = [entry["to_status"] for entry in timeline if entry["type"] == "task"]
    assert moves == ["pending", "reserved", "assigned", "completed"]
    # The customer's next message opens a new channel.
    again = twilio_client.flex_api.v1.channel.create(
        flex_flow_sid=flow.sid, identity="cus-1", chat_user_friendly_name="Cus", chat_friendly_name="chat",
    )
    assert again.sid != channel.sid
