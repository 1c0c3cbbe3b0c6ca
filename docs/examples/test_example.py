"""A user's test suite with flexchat: the code under test takes a twilio Client, and the
tests hand it one that talks to flexchat instead of Twilio.

Needs only flexchat with its ``testing`` extra (docs/testing.md) and pytest: the fixtures come
from flexchat's pytest plugin, which pytest loads by itself.
"""

import asyncio

import pytest
import requests
from twilio.base.exceptions import TwilioRestException


# -- the code under test (in a real project it lives in your package) -----------------------
def open_support_chat(client, customer_id):
    """Find or create the "Support" Flex Flow, then open a chat channel for the customer."""
    flows = client.flex_api.v1.flex_flow.list(friendly_name="Support", limit=1)
    flow = flows[0] if flows else client.flex_api.v1.flex_flow.create(
        friendly_name="Support",
        chat_service_sid="IS" + "0" * 32,
        channel_type="web",
        integration_type="studio",
        integration_flow_sid="FW" + "0" * 32,
    )
    return client.flex_api.v1.channel.create(
        flex_flow_sid=flow.sid,
        identity=customer_id,
        chat_user_friendly_name=f"Customer {customer_id}",
        chat_friendly_name=f"Support for {customer_id}",
    )


# -- the tests -------------------------------------------------------------------------------
def test_opens_one_channel_per_customer(flex_client):
    # flex_client: a twilio.rest.Client on a fresh in-process flexchat (no network).
    first = open_support_chat(flex_client, "customer-1")
    again = open_support_chat(flex_client, "customer-1")
    other = open_support_chat(flex_client, "customer-2")

    assert again.sid == first.sid  # an open channel is reused, as on Twilio
    assert other.sid != first.sid
    assert len(flex_client.flex_api.v1.flex_flow.list()) == 1
    assert [c.sid for c in flex_client.flex_api.v1.channel.list(page_size=1)] == [first.sid, other.sid]


def test_every_test_starts_empty(flex_client):
    assert flex_client.flex_api.v1.channel.list() == []


def test_errors_are_twilio_errors(flex_client):
    with pytest.raises(TwilioRestException) as error:
        flex_client.flex_api.v1.channel("CH" + "0" * 32).fetch()
    assert (error.value.status, error.value.code) == (404, 20404)


def test_async_calls(flex_async_client):
    # flex_async_client: the same, for the *_async methods.
    async def scenario():
        flow = await flex_async_client.flex_api.v1.flex_flow.create_async(
            friendly_name="Async",
            chat_service_sid="IS" + "0" * 32,
            channel_type="sms",
            integration_type="external",
            integration_url="https://example.com/hook",
        )
        return await flex_async_client.flex_api.v1.flex_flow(flow.sid).fetch_async()

    assert asyncio.run(scenario()).friendly_name == "Async"


def test_over_real_http(flexchat_server):
    # flexchat_server: a running `flexchat serve` (one per session, a fresh account per test).
    client = flexchat_server.twilio_client()
    channel = open_support_chat(client, "customer-1")
    assert channel.url.startswith(flexchat_server.base_url)
    # The channel is a Chat v2 channel in the flow's chat service, as on Twilio.
    chat = client.chat.v2.services("IS" + "0" * 32).channels(channel.sid).fetch()
    assert chat.members_count == 1

    # Any HTTP client works too: HTTP Basic with the account's Sid and Auth Token.
    response = requests.get(f"{flexchat_server.base_url}/v1/Channels", auth=flexchat_server.auth, timeout=10)
    assert response.status_code == 200
    assert [c["sid"] for c in response.json()["flex_chat_channels"]] == [channel.sid]
