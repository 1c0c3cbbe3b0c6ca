"""The official twilio client, sync and async, against flexchat in process
(``flexchat.testing``): every implemented operation, multi-page lists, errors, hosts."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import secrets
from typing import Any

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from flexchat.testing import (
    AsyncFlexchatHttpClient,
    FlexchatHttpClient,
    InProcessFlexchat,
    UnsupportedHostError,
    is_chat_host,
    is_flex_api_host,
    is_served_host,
    twilio_client,
)


def sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def flow_args(**overrides: Any) -> dict[str, Any]:
    return {
        "friendly_name": "Support",
        "chat_service_sid": sid("IS"),
        "channel_type": "web",
        "integration_type": "studio",
        "integration_flow_sid": sid("FW"),
        **overrides,
    }


def channel_args(flow_sid: str, identity: str, **overrides: Any) -> dict[str, Any]:
    return {
        "flex_flow_sid": flow_sid,
        "identity": identity,
        "chat_user_friendly_name": f"User {identity}",
        "chat_friendly_name": f"Chat with {identity}",
        **overrides,
    }


def rest_error(excinfo: pytest.ExceptionInfo[TwilioRestException]) -> tuple[int, int]:
    return excinfo.value.status, excinfo.value.code


# -- the client itself -------------------------------------------------------------------


def test_client_is_bound_to_a_new_account(flex_client: Client) -> None:
    instance = flex_client.http_client.flexchat
    assert isinstance(flex_client.http_client, FlexchatHttpClient)
    assert re.fullmatch(r"AC[0-9a-f]{32}", flex_client.username)
    assert re.fullmatch(r"[0-9a-f]{32}", flex_client.password)
    assert (flex_client.username, flex_client.password) == instance.auth
    assert flex_client.account_sid == flex_client.username
    assert flex_client.flex_api.v1.flex_flow.list() == []
    assert flex_client.flex_api.v1.channel.list() == []


def test_every_client_gets_its_own_store() -> None:
    first, second = twilio_client(), twilio_client()
    try:
        assert first.username != second.username
        first.flex_api.v1.flex_flow.create(**flow_args())
        assert len(first.flex_api.v1.flex_flow.list()) == 1
        assert second.flex_api.v1.flex_flow.list() == []
        # Not just another account on a shared store: the databases differ.
        assert first.http_client.flexchat.app.store is not second.http_client.flexchat.app.store
    finally:
        first.http_client.close()
        second.http_client.close()


def test_wrong_credentials_are_refused(flex_client: Client) -> None:
    intruder = Client(flex_client.username, "0" * 32, http_client=flex_client.http_client)
    with pytest.raises(TwilioRestException) as excinfo:
        intruder.flex_api.v1.flex_flow.create(**flow_args())
    assert rest_error(excinfo) == (401, 20003)


def test_api_key_credentials_work() -> None:
    with InProcessFlexchat() as instance:
        key_sid, secret = instance.create_api_key()
        client = Client(key_sid, secret, instance.account_sid, http_client=FlexchatHttpClient(instance))
        flow = client.flex_api.v1.flex_flow.create(**flow_args())
        assert flow.account_sid == instance.account_sid


@pytest.mark.parametrize(
    ("options", "host"),
    [
        ({"edge": "sydney", "region": "au1"}, "flex-api.sydney.au1.twilio.com"),
        ({"region": "ie1"}, "flex-api.ie1.twilio.com"),
        ({"edge": "dublin"}, "flex-api.dublin.us1.twilio.com"),
    ],
)
def test_edge_and_region_hosts_are_served(options: dict[str, str], host: str) -> None:
    client = twilio_client(**options)
    try:
        for name in ("a", "b", "c"):
            client.flex_api.v1.flex_flow.create(**flow_args(friendly_name=name))
        # Three pages of one: next_page() follows the emitted URL back in process.
        assert [f.friendly_name for f in client.flex_api.v1.flex_flow.list(page_size=1)] == ["a", "b", "c"]
        last = client.http_client._test_only_last_request
        assert last.url.startswith(f"https://{host}/v1/FlexFlows?")
    finally:
        client.http_client.close()


@pytest.mark.parametrize(
    ("call", "host"),
    [
        (lambda c: c.api.v2010.accounts.list(), "api.twilio.com"),
        (lambda c: c.conversations.v1.services.list(), "conversations.twilio.com"),
        # A Flex path flexchat does not have:
        (lambda c: c.flex_api.v1.plugin_configurations("FJ" + "0" * 32).fetch(), None),
    ],
)
def test_other_twilio_hosts_fail_with_a_clear_error(flex_client: Client, call: Any, host: str | None) -> None:
    if host is None:
        with pytest.raises(TwilioRestException) as excinfo:
            call(flex_client)
        assert rest_error(excinfo) == (404, 20404)
        return
    with pytest.raises(UnsupportedHostError) as raised:
        call(flex_client)
    assert raised.value.host == host
    assert repr(host) in str(raised.value)
    assert "flex-api.twilio.com" in str(raised.value)


def test_host_forms() -> None:
    served = ("flex-api.twilio.com", "FLEX-API.twilio.com", "flex-api.au1.twilio.com", "flex-api.sydney.au1.twilio.com")
    for host in served:
        assert is_flex_api_host(host), host
    for host in ("api.twilio.com", "flex-api.twilio.com.evil.org", "flex-api.a.b.c.twilio.com", "flex-apiXtwilio.com"):
        assert not is_flex_api_host(host), host
    for host in ("chat.twilio.com", "CHAT.twilio.com", "chat.au1.twilio.com", "chat.sydney.au1.twilio.com"):
        assert is_chat_host(host) and is_served_host(host), host
    for host in ("chat.twilio.com.evil.org", "conversations.twilio.com", "chatXtwilio.com"):
        assert not is_chat_host(host) and not is_served_host(host), host
    with InProcessFlexchat() as instance, pytest.raises(UnsupportedHostError, match="'localhost'"):
        instance.request("GET", "http://localhost:8080/v1/Channels", auth=instance.auth)


def test_closed_instance_refuses_requests() -> None:
    client = twilio_client()
    client.http_client.close()
    assert client.http_client.flexchat.closed
    with pytest.raises(RuntimeError, match="closed"):
        client.flex_api.v1.channel.list()


def test_an_unclosed_client_is_released_when_collected() -> None:
    client = twilio_client()
    client.flex_api.v1.flex_flow.create(**flow_args())
    app = client.http_client.flexchat.app
    store = app.store
    assert app._open and store._reader is not None
    del client
    gc.collect()
    # Stopped, and the store closed: the private in-memory database is gone with it.
    assert not app._open
    assert store._reader is None


# -- Flex Flows, sync ----------------------------------------------------------------------


def test_flex_flow_create_fetch_update_delete(flex_client: Client) -> None:
    flows = flex_client.flex_api.v1.flex_flow
    workspace, workflow = sid("WS"), sid("WW")
    created = flows.create(
        **flow_args(
            friendly_name="Tasks",
            channel_type="sms",
            contact_identity="+15550100",
            enabled=False,
            integration_type="task",
            integration_flow_sid=None,
            integration_workspace_sid=workspace,
            integration_workflow_sid=workflow,
            integration_channel="default",
            integration_timeout=3600,
            integration_priority=5,
            integration_creation_on_message=True,
            long_lived=True,
            janitor_enabled=True,
        )
    )
    assert re.fullmatch(r"FO[0-9a-f]{32}", created.sid)
    assert created.account_sid == flex_client.username
    assert (created.friendly_name, created.channel_type, created.contact_identity) == ("Tasks", "sms", "+15550100")
    assert (created.enabled, created.integration_type, created.long_lived, created.janitor_enabled) == (
        False, "task", True, True
    )
    assert created.integration == {
        "workspace_sid": workspace,
        "workflow_sid": workflow,
        "channel": "default",
        "timeout": 3600,
        "priority": 5,
        "creation_on_message": True,
    }
    assert created.url == f"https://flex-api.twilio.com/v1/FlexFlows/{created.sid}"
    assert created.date_created is not None and created.date_created == created.date_updated

    fetched = flows(created.sid).fetch()
    assert fetched.sid == created.sid and fetched.integration == created.integration

    updated = flows(created.sid).update(friendly_name="Renamed", enabled=True, integration_priority=9)
    assert (updated.friendly_name, updated.enabled) == ("Renamed", True)
    assert updated.integration["priority"] == 9 and updated.integration["workspace_sid"] == workspace
    assert created.update(contact_identity="+15550199").contact_identity == "+15550199"  # instance proxy

    assert flows(created.sid).delete() is True
    with pytest.raises(TwilioRestException) as excinfo:
        flows(created.sid).fetch()
    assert rest_error(excinfo) == (404, 20404)
    with pytest.raises(TwilioRestException) as excinfo:
        flows(created.sid).delete()
    assert rest_error(excinfo) == (404, 20404)
    with pytest.raises(TwilioRestException) as excinfo:
        flows(created.sid).update(friendly_name="gone")
    assert rest_error(excinfo) == (404, 20404)


def test_flex_flow_lists_page_and_filter(flex_client: Client) -> None:
    flows = flex_client.flex_api.v1.flex_flow
    names = ["a", "b", "a", "c", "a"]
    sids = [flows.create(**flow_args(friendly_name=name)).sid for name in names]

    assert [f.sid for f in flows.list(page_size=2)] == sids
    assert [f.sid for f in flows.list(limit=3)] == sids[:3]
    assert [f.sid for f in flows.stream(page_size=2, limit=4)] == sids[:4]
    assert [f.sid for f in flows.list(friendly_name="a", page_size=1)] == [sids[0], sids[2], sids[4]]
    assert flows.list(friendly_name="nobody") == []

    first = flows.page(page_size=2)
    second = first.next_page()
    third = second.next_page()
    assert [f.sid for f in first] == sids[:2]
    assert [f.sid for f in second] == sids[2:4]
    assert [f.sid for f in third] == sids[4:]
    assert third.next_page() is None
    assert [f.sid for f in third.previous_page()] == sids[2:4]
    assert first.previous_page() is None
    assert second.next_page_url.startswith("https://flex-api.twilio.com/v1/FlexFlows?PageSize=2&Page=2&PageToken=PA")


def test_flex_flow_errors(flex_client: Client) -> None:
    flows = flex_client.flex_api.v1.flex_flow
    with pytest.raises(TwilioRestException) as excinfo:
        flows.create(**flow_args(channel_type="fax"))
    assert rest_error(excinfo) == (400, 20001)
    assert "ChannelType" in excinfo.value.msg
    with pytest.raises(TwilioRestException) as excinfo:
        flows.create(**flow_args(integration_flow_sid=None))  # studio needs its Flow
    assert rest_error(excinfo) == (400, 20001)
    assert "Integration.FlowSid" in excinfo.value.msg
    with pytest.raises(TwilioRestException) as excinfo:
        flows.create(**flow_args(chat_service_sid="IS123"))
    assert rest_error(excinfo) == (400, 20001)
    with pytest.raises(TwilioRestException) as excinfo:
        flows("FOnot-a-sid").fetch()
    assert rest_error(excinfo) == (404, 20404)
    # List errors lose their body in twilio-python: only "Unable to fetch page" remains.
    with pytest.raises(TwilioException, match="Unable to fetch page"):
        flows.get_page("https://flex-api.twilio.com/v1/FlexFlows?PageSize=2&Page=1&PageToken=PAforged")


# -- channels, sync ---------------------------------------------------------------------------


def test_channel_create_fetch_list_delete(flex_client: Client) -> None:
    flow = flex_client.flex_api.v1.flex_flow.create(**flow_args())
    channels = flex_client.flex_api.v1.channel
    created = channels.create(
        **channel_args(
            flow.sid,
            "alice",
            target="+15550100",
            chat_unique_name="alice-chat",
            pre_engagement_data='{"topic": "billing"}',
            task_attributes='{"priority": 1}',
            long_lived=True,
        )
    )
    assert re.fullmatch(r"CH[0-9a-f]{32}", created.sid)
    assert re.fullmatch(r"US[0-9a-f]{32}", created.user_sid)
    assert (created.account_sid, created.flex_flow_sid, created.task_sid) == (flex_client.username, flow.sid, None)
    assert created.url == f"https://flex-api.twilio.com/v1/Channels/{created.sid}"

    # The Identity's open channel on that flow comes back instead of a second one.
    again = channels.create(**channel_args(flow.sid, "alice"))
    assert again.sid == created.sid

    fetched = channels(created.sid).fetch()
    assert (fetched.sid, fetched.user_sid) == (created.sid, created.user_sid)
    assert fetched.date_created == created.date_created

    others = [channels.create(**channel_args(flow.sid, f"user{n}")).sid for n in range(4)]
    everything = [created.sid, *others]
    assert [c.sid for c in channels.list(page_size=2)] == everything
    assert [c.sid for c in channels.stream(page_size=3)] == everything
    page = channels.page(page_size=2).next_page().next_page()
    assert [c.sid for c in page] == everything[4:]
    assert page.next_page() is None

    assert channels(created.sid).delete() is True
    assert [c.sid for c in channels.list()] == others
    with pytest.raises(TwilioRestException) as excinfo:
        channels(created.sid).fetch()
    assert rest_error(excinfo) == (404, 20404)
    assert created.sid in excinfo.value.msg
    with pytest.raises(TwilioRestException) as excinfo:
        channels(created.sid).delete()
    assert rest_error(excinfo) == (404, 20404)


def test_channel_on_a_task_flow_has_a_task(flex_client: Client) -> None:
    flow = flex_client.flex_api.v1.flex_flow.create(
        **flow_args(
            integration_type="task",
            integration_flow_sid=None,
            integration_workspace_sid=sid("WS"),
            integration_workflow_sid=sid("WW"),
        )
    )
    channels = flex_client.flex_api.v1.channel
    assert re.fullmatch(r"WT[0-9a-f]{32}", channels.create(**channel_args(flow.sid, "bob")).task_sid)
    task = sid("WT")
    assert channels.create(**channel_args(flow.sid, "carol", task_sid=task)).task_sid == task


def test_channel_errors(flex_client: Client) -> None:
    channels = flex_client.flex_api.v1.channel
    with pytest.raises(TwilioRestException) as excinfo:
        channels.create(**channel_args(sid("FO"), "alice"))
    assert rest_error(excinfo) == (400, 45205)
    flow = flex_client.flex_api.v1.flex_flow.create(**flow_args())
    with pytest.raises(TwilioRestException) as excinfo:
        channels.create(**channel_args(flow.sid, ""))
    assert rest_error(excinfo) == (400, 20001)
    assert "Identity" in excinfo.value.msg
    with pytest.raises(TwilioRestException) as excinfo:
        channels.create(**channel_args(flow.sid, "alice", task_attributes="[1, 2]"))
    assert rest_error(excinfo) == (400, 20001)
    channels.create(**channel_args(flow.sid, "alice", chat_unique_name="taken"))
    with pytest.raises(TwilioRestException) as excinfo:
        channels.create(**channel_args(flow.sid, "bob", chat_unique_name="taken"))
    assert rest_error(excinfo) == (409, 45208)
    disabled = flex_client.flex_api.v1.flex_flow.create(**flow_args(enabled=False))
    with pytest.raises(TwilioRestException) as excinfo:
        channels.create(**channel_args(disabled.sid, "dave"))
    assert rest_error(excinfo) == (400, 45205)
    with pytest.raises(TwilioRestException) as excinfo:
        channels(sid("CH")).fetch()
    assert rest_error(excinfo) == (404, 20404)
    with pytest.raises(TwilioException, match="Unable to fetch page"):
        channels.list(page_size=-1)


def test_http_info_carries_status_and_headers(flex_client: Client) -> None:
    flows = flex_client.flex_api.v1.flex_flow
    response = flows.create_with_http_info(**flow_args())
    assert response.status_code == 201
    # A plain dict by then (twilio's doing), with the names as the server sent them.
    assert response.headers["twilio-request-id"].startswith("RQ")
    assert response.headers["content-type"] == "application/json"
    assert flows(response.data.sid).delete_with_http_info().status_code == 204


# -- async ---------------------------------------------------------------------------------


def test_async_client_every_operation() -> None:
    client = twilio_client(async_=True)
    assert isinstance(client.http_client, AsyncFlexchatHttpClient)

    async def scenario() -> None:
        flows, channels = client.flex_api.v1.flex_flow, client.flex_api.v1.channel
        flow_sids = [(await flows.create_async(**flow_args(friendly_name=f"f{n}"))).sid for n in range(3)]
        assert [f.sid for f in await flows.list_async(page_size=2)] == flow_sids
        assert [f.sid async for f in await flows.stream_async(page_size=1, limit=2)] == flow_sids[:2]
        assert [f.sid for f in await flows.list_async(friendly_name="f1")] == [flow_sids[1]]
        page = await flows.page_async(page_size=2)
        following = await page.next_page_async()
        assert [f.sid for f in following] == flow_sids[2:]
        assert await following.next_page_async() is None
        assert [f.sid for f in await following.previous_page_async()] == flow_sids[:2]

        flow = await flows(flow_sids[0]).fetch_async()
        assert flow.friendly_name == "f0"
        updated = await flows(flow.sid).update_async(friendly_name="renamed", integration_retry_count=2)
        assert updated.friendly_name == "renamed" and updated.integration["retry_count"] == 2

        channel_sids = [(await channels.create_async(**channel_args(flow.sid, f"u{n}"))).sid for n in range(5)]
        assert [c.sid for c in await channels.list_async(page_size=2)] == channel_sids
        assert [c.sid async for c in await channels.stream_async(page_size=2, limit=3)] == channel_sids[:3]
        fetched = await channels(channel_sids[0]).fetch_async()
        assert fetched.flex_flow_sid == flow.sid
        assert await channels(channel_sids[0]).delete_async() is True
        assert await flows(flow_sids[2]).delete_async() is True

        with pytest.raises(TwilioRestException) as excinfo:
            await channels(channel_sids[0]).fetch_async()
        assert rest_error(excinfo) == (404, 20404)
        with pytest.raises(TwilioRestException) as excinfo:
            await channels(channel_sids[0]).delete_async()
        assert rest_error(excinfo) == (404, 20404)
        with pytest.raises(TwilioRestException) as excinfo:
            await flows(flow_sids[2]).update_async(friendly_name="gone")
        assert rest_error(excinfo) == (404, 20404)
        with pytest.raises(TwilioRestException) as excinfo:
            await channels.create_async(**channel_args(sid("FO"), "x"))
        assert rest_error(excinfo) == (400, 45205)
        with pytest.raises(TwilioRestException) as excinfo:
            await flows.create_async(**flow_args(integration_type="carrier-pigeon"))
        assert rest_error(excinfo) == (400, 20001)
        with pytest.raises(TwilioException, match="Unable to fetch page"):
            await flows.list_async(page_size=-1)
        intruder = Client(client.username, "0" * 32, http_client=client.http_client)
        with pytest.raises(TwilioRestException) as excinfo:
            await intruder.flex_api.v1.flex_flow(flow.sid).fetch_async()
        assert rest_error(excinfo) == (401, 20003)
        with pytest.raises(UnsupportedHostError, match=r"'api\.twilio\.com'"):
            await client.api.v2010.accounts.list_async()
        await client.http_client.close()

    asyncio.run(scenario())
    assert client.http_client.flexchat.closed


def test_async_requests_run_concurrently_and_share_an_instance_with_sync() -> None:
    with InProcessFlexchat() as instance:
        sync_client = twilio_client(flexchat=instance)
        async_client = twilio_client(async_=True, flexchat=instance)
        assert async_client.username == sync_client.username == instance.account_sid
        flow = sync_client.flex_api.v1.flex_flow.create(**flow_args())

        async def create_many() -> list[str]:
            channels = async_client.flex_api.v1.channel
            created = await asyncio.gather(
                *(channels.create_async(**channel_args(flow.sid, f"user{n}")) for n in range(20))
            )
            return [channel.sid for channel in created]

        sids = asyncio.run(create_many())
        assert len(set(sids)) == 20
        assert sorted(c.sid for c in sync_client.flex_api.v1.channel.list(page_size=7)) == sorted(sids)
        # Closing a client that did not create the instance leaves it open.
        sync_client.http_client.close()
        assert not instance.closed
    assert instance.closed


def test_async_fixture(flex_async_client: Client) -> None:
    async def scenario() -> str:
        flow = await flex_async_client.flex_api.v1.flex_flow.create_async(**flow_args())
        return str((await flex_async_client.flex_api.v1.flex_flow(flow.sid).fetch_async()).sid)

    assert asyncio.run(scenario()).startswith("FO")


# -- in process and over HTTP: the same application --------------------------------------

_SID = re.compile(r"\b([A-Z]{2})[0-9a-f]{32}\b")
_TOKEN = re.compile(r"PageToken=([^&\"]+)")
_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_ORIGIN = re.compile(r"https?://[^/\"]+")


def normalise(transcript: list[tuple[int, str]]) -> list[tuple[int, Any]]:
    """Sids and page tokens numbered by first appearance, dates and URL hosts blanked."""
    names: dict[str, str] = {}

    def number(kind: str, value: str) -> str:
        return names.setdefault(value, f"<{kind}{sum(k.startswith('<' + kind) for k in names.values())}>")

    out = []
    for status, text in transcript:
        text = _SID.sub(lambda m: number(m.group(1), m.group(0)), text)
        text = _TOKEN.sub(lambda m: "PageToken=" + number("token", m.group(1)), text)
        text = _ORIGIN.sub("<origin>", _DATE.sub("<date>", text))
        out.append((status, json.loads(text) if text else None))
    return out


def run_scenario(client: Client, base_url: str) -> list[tuple[int, str]]:
    """Every operation, pages, filters and errors, through ``client.request``; raw bodies."""
    transcript: list[tuple[int, str]] = []

    def send(method: str, target: str, data: dict[str, Any] | None = None, **options: Any) -> Any:
        url = target if target.startswith("http") else base_url + target
        response = client.request(method, url, data=data, **options)
        transcript.append((response.status_code, response.text))
        return json.loads(response.text) if response.text else None

    common = {"ChatServiceSid": "IS" + "a" * 32, "ChannelType": "web"}
    send("GET", "/v1/FlexFlows")
    studio = send("POST", "/v1/FlexFlows", {**common, "FriendlyName": "one", "Integration.FlowSid": "FW" + "b" * 32})
    task = send("POST", "/v1/FlexFlows", {
        **common, "FriendlyName": "two", "IntegrationType": "task", "Integration.WorkspaceSid": "WS" + "c" * 32,
        "Integration.WorkflowSid": "WW" + "d" * 32, "Integration.Timeout": "30", "LongLived": "true",
    })
    send("POST", "/v1/FlexFlows", {**common, "FriendlyName": "one", "IntegrationType": "external",
                                    "Integration.Url": "https://example.com/x", "Enabled": "false"})
    send("POST", f"/v1/FlexFlows/{studio['sid']}", {"FriendlyName": "uno", "Integration.RetryCount": "1"})
    send("GET", f"/v1/FlexFlows/{task['sid']}")
    page = send("GET", "/v1/FlexFlows?PageSize=1")
    while page["meta"]["next_page_url"]:
        page = send("GET", page["meta"]["next_page_url"])
    send("GET", page["meta"]["previous_page_url"])
    send("GET", "/v1/FlexFlows?FriendlyName=one")
    for flow in (studio, task):
        for identity in ("alice", "bob", "alice"):
            send("POST", "/v1/Channels", {"FlexFlowSid": flow["sid"], "Identity": identity,
                                          "ChatUserFriendlyName": identity, "ChatFriendlyName": "chat"})
    page = send("GET", "/v1/Channels?PageSize=3")
    send("GET", page["meta"]["next_page_url"])
    first = page["flex_chat_channels"][0]["sid"]
    send("GET", f"/v1/Channels/{first}")
    send("DELETE", f"/v1/Channels/{first}")
    send("GET", f"/v1/Channels/{first}")
    send("DELETE", f"/v1/Channels/{first}")
    send("DELETE", f"/v1/FlexFlows/{task['sid']}")
    send("GET", "/v1/Channels")
    # Errors: unknown flow, missing and malformed parameters, bad token, route, method, auth.
    send("POST", "/v1/Channels", {"FlexFlowSid": "FO" + "e" * 32, "Identity": "x",
                                  "ChatUserFriendlyName": "x", "ChatFriendlyName": "x"})
    send("POST", "/v1/Channels", {"FlexFlowSid": studio["sid"], "ChatUserFriendlyName": "x", "ChatFriendlyName": "x"})
    send("POST", "/v1/FlexFlows", {**common, "FriendlyName": "bad", "ChannelType": "fax"})
    send("GET", "/v1/FlexFlows?PageSize=0")
    send("GET", "/v1/Channels?Page=2&PageToken=PAforged")
    send("GET", "/v1/Nothing")
    send("DELETE", "/v1/Channels")
    send("GET", "/v1/FlexFlows", auth=(client.username, "0" * 32))
    return transcript


def test_in_process_and_http_give_equal_bodies(flex_client: Client, twilio_client: Client, server: Any) -> None:
    # twilio_client (tests/conftest.py) is the unmodified client on TwilioHttpClient, over real HTTP.
    over_http = run_scenario(twilio_client, server.base_url)
    in_process = run_scenario(flex_client, "https://flex-api.twilio.com")
    assert len(in_process) == len(over_http) > 30
    assert normalise(in_process) == normalise(over_http)
    # Not vacuous: the scenario saw success and error bodies, and hosts were really blanked.
    assert {status for status, _ in in_process} >= {200, 201, 204, 400, 401, 404, 405}
    assert "https://flex-api.twilio.com/v1/" in in_process[1][1] and server.base_url in over_http[1][1]


def test_in_process_on_each_engine(database_url: str) -> None:
    # The session's database of each engine (tests/conftest.py); a new account keeps it apart.
    with InProcessFlexchat(database_url) as instance:
        client = twilio_client(flexchat=instance)
        flow = client.flex_api.v1.flex_flow.create(**flow_args())
        channel = client.flex_api.v1.channel.create(**channel_args(flow.sid, "alice"))
        assert [c.sid for c in client.flex_api.v1.channel.list(page_size=1)] == [channel.sid]
        assert client.flex_api.v1.channel(channel.sid).delete() is True


def test_sync_calls_run_on_the_callers_thread_one_at_a_time() -> None:
    """A sync call on the default store runs on the caller's thread (no hop to the
    background loop), under the lock that keeps requests of several threads, and the
    background tasks, from running at once."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    with InProcessFlexchat() as instance:
        client = Client(*instance.auth, http_client=FlexchatHttpClient(instance))
        flow = client.flex_api.v1.flex_flow.create(**flow_args())
        handled_on: list[int] = []
        inside = 0
        overlapped = False
        handle = instance.app.handle

        async def watched(scope: Any, receive: Any, send: Any) -> None:
            nonlocal inside, overlapped
            handled_on.append(threading.get_ident())
            inside += 1
            overlapped = overlapped or inside > 1
            try:
                await handle(scope, receive, send)
            finally:
                inside -= 1

        instance.app.handle = watched  # type: ignore[method-assign]

        def open_chats(worker: int) -> int:
            for number in range(10):
                client.flex_api.v1.channel.create(
                    flex_flow_sid=flow.sid, identity=f"w{worker}-{number}",
                    chat_user_friendly_name="c", chat_friendly_name="c",
                )
            return threading.get_ident()

        with ThreadPoolExecutor(4) as pool:
            callers = set(pool.map(open_chats, range(4)))
        assert set(handled_on) == callers  # each on its own caller's thread
        assert instance._thread.ident not in handled_on
        assert not overlapped
        assert len(client.flex_api.v1.channel.list()) == 40
