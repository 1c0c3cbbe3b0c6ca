"""Flex's web channels and configuration, through the unmodified official client over HTTP."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from .conftest import Api
from .test_twilio_client_http import create_flow


def create_web_channel(client: Client, flow_sid: str, identity: str, **extra: Any) -> Any:
    return client.flex_api.v1.web_channel.create(
        flex_flow_sid=flow_sid,
        identity=identity,
        customer_friendly_name=f"Customer {identity}",
        chat_friendly_name=f"Chat {identity}",
        **extra,
    )


def test_web_channel_is_a_flex_channel_and_a_chat_channel(twilio_client: Client) -> None:
    flow = create_flow(twilio_client, "studio")
    web = create_web_channel(twilio_client, flow.sid, "web-1", pre_engagement_data='{"question": "refund"}')
    assert web.sid.startswith("CH") and web.flex_flow_sid == flow.sid
    assert web.url.endswith(f"/v1/WebChannels/{web.sid}")
    assert twilio_client.flex_api.v1.web_channel(web.sid).fetch().sid == web.sid
    assert twilio_client.flex_api.v1.channel(web.sid).fetch().flex_flow_sid == flow.sid
    chat = twilio_client.chat.v2.services(flow.chat_service_sid).channels(web.sid).fetch()
    attributes = json.loads(chat.attributes)
    assert attributes["status"] == "ACTIVE"
    assert attributes["from"] == "Customer web-1"
    assert attributes["pre_engagement_data"] == {"question": "refund"}
    # The same Identity on the same flow gets its open channel back.
    assert create_web_channel(twilio_client, flow.sid, "web-1").sid == web.sid
    listed = [channel.sid for channel in twilio_client.flex_api.v1.web_channel.list()]
    assert listed == [web.sid]


def test_ending_a_web_chat_marks_its_chat_channel_inactive(twilio_client: Client, api: Api) -> None:
    flow = create_flow(twilio_client, "studio")
    web = create_web_channel(twilio_client, flow.sid, "web-2")
    updated = twilio_client.flex_api.v1.web_channel(web.sid).update(
        chat_status="inactive", post_engagement_data='{"rating": 5}'
    )
    assert updated.sid == web.sid
    chat = twilio_client.chat.v2.services(flow.chat_service_sid).channels(web.sid).fetch()
    attributes = json.loads(chat.attributes)
    assert attributes["status"] == "INACTIVE"
    assert attributes["post_engagement_data"] == {"rating": 5}
    refused = api.post(f"/v1/WebChannels/{web.sid}", {"ChatStatus": "closed"})
    assert refused.status_code == 400 and refused.json()["code"] == 20001


def test_deleting_a_web_channel_deletes_its_conversation(twilio_client: Client) -> None:
    flow = create_flow(twilio_client, "external")
    web = create_web_channel(twilio_client, flow.sid, "web-3")
    assert twilio_client.flex_api.v1.web_channel(web.sid).delete() is True
    for fetch in (
        twilio_client.flex_api.v1.web_channel(web.sid).fetch,
        twilio_client.flex_api.v1.channel(web.sid).fetch,
        twilio_client.chat.v2.services(flow.chat_service_sid).channels(web.sid).fetch,
    ):
        with pytest.raises(TwilioRestException) as missing:
            fetch()
        assert missing.value.status == 404 and missing.value.code == 20404


def test_web_channels_of_another_account_do_not_exist(twilio_client: Client, api: Api, server: Any) -> None:
    from .conftest import add_account

    flow = create_flow(twilio_client, "studio")
    web = create_web_channel(twilio_client, flow.sid, "web-4")
    other = Api(server.base_url, add_account(server.database_url).auth)
    assert other.get(f"/v1/WebChannels/{web.sid}").status_code == 404
    assert other.post(f"/v1/WebChannels/{web.sid}", {"ChatStatus": "inactive"}).status_code == 404
    assert other.delete(f"/v1/WebChannels/{web.sid}").status_code == 404
    assert other.get("/v1/WebChannels").json()["flex_chat_channels"] == []


class Body:
    """What twilio-python's Configuration.update takes: an object with ``to_dict``."""

    def __init__(self, **fields: Any) -> None:
        self.fields = fields

    def to_dict(self) -> dict[str, Any]:
        return self.fields


def test_configuration_is_per_account_and_updates(twilio_client: Client, api: Api, account: Any) -> None:
    flow = create_flow(twilio_client, "studio")
    configuration = twilio_client.flex_api.v1.configuration().fetch()
    assert configuration.account_sid == account.sid
    assert configuration.status == "ok"
    assert configuration.chat_service_instance_sid == flow.chat_service_sid
    assert twilio_client.chat.v2.services(flow.chat_service_sid).fetch().sid == flow.chat_service_sid
    flags = {"feature_flags": {"new_inbox": secrets.choice([True, False])}}
    updated = twilio_client.flex_api.v1.configuration().update(
        body=Body(account_sid=account.sid, attributes=flags, ui_language="de")
    )
    assert updated.attributes == flags and updated.ui_language == "de"
    assert twilio_client.flex_api.v1.configuration().fetch().attributes == flags
    # Bad input is a Twilio error, and changes nothing.
    assert api.post("/v1/Configuration", data="[1]", headers={"Content-Type": "application/json"}).status_code == 400
    assert api.post("/v1/Configuration", data="{", headers={"Content-Type": "application/json"}).status_code == 400
    unknown = api.post("/v1/Configuration", json={"no_such_field": 1})
    assert unknown.status_code == 400 and "no_such_field" in unknown.json()["message"]
    foreign = api.post("/v1/Configuration", json={"account_sid": "AC" + "0" * 32})
    assert foreign.status_code == 400
    assert api.get("/v1/Configuration").json()["attributes"] == flags


def test_an_ended_chat_is_never_reused(twilio_client: Client) -> None:
    flow = create_flow(twilio_client, "studio")
    first = create_web_channel(twilio_client, flow.sid, "web-5")
    twilio_client.flex_api.v1.web_channel(first.sid).update(chat_status="inactive")
    second = create_web_channel(twilio_client, flow.sid, "web-5")
    assert second.sid != first.sid
    # The ended channel is still there to read; the open one is what the Identity gets now.
    assert twilio_client.flex_api.v1.channel(first.sid).fetch().sid == first.sid
    again = twilio_client.flex_api.v1.channel.create(
        flex_flow_sid=flow.sid, identity="web-5", chat_user_friendly_name="Customer web-5", chat_friendly_name="x"
    )
    assert again.sid == second.sid


def test_a_chat_ended_through_chat_v2_opens_a_new_flex_channel_next_time(twilio_client: Client) -> None:
    flow = create_flow(twilio_client, "external")
    first = twilio_client.flex_api.v1.channel.create(
        flex_flow_sid=flow.sid, identity="sms-1", chat_user_friendly_name="Customer", chat_friendly_name="x"
    )
    chat = twilio_client.chat.v2.services(flow.chat_service_sid).channels(first.sid)
    attributes = json.loads(chat.fetch().attributes)
    chat.update(attributes=json.dumps({**attributes, "status": "INACTIVE"}))
    second = twilio_client.flex_api.v1.channel.create(
        flex_flow_sid=flow.sid, identity="sms-1", chat_user_friendly_name="Customer", chat_friendly_name="x"
    )
    assert second.sid != first.sid
    assert json.loads(twilio_client.chat.v2.services(flow.chat_service_sid).channels(second.sid).fetch()
                      .attributes)["status"] == "ACTIVE"
