"""Chat v2 Services, Channels, Users and User Channels: the unmodified official twilio
client over HTTP against a real ``flexchat serve`` on both engines, raw HTTP for the
errors and headers, and the outbox read straight from the database."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from flexchat.settings import Settings
from flexchat.store import create_store
from flexchat.store.sql import fetch, sql
from flexchat.testing import ServerProcess, twilio_client

from .conftest import Account, Api, add_account, read_rows

HEADER = {"X-Twilio-Webhook-Enabled": "true"}
OUTBOX_OF_CHANNEL = sql(
    "SELECT event_type, kind, url, params FROM outbox WHERE account_sid = ? AND channel_sid = ? ORDER BY seq"
)
OUTBOX_OF_SERVICE = sql(
    "SELECT event_type, kind, url, params FROM outbox WHERE account_sid = ? AND service_sid = ? ORDER BY seq"
)


def outbox(database_url: str, statement: Any, *args: str) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """The outbox rows a statement selects, ``params`` decoded."""
    return [(row[0], row[1], row[2], orjson.loads(row[3])) for row in read_rows(database_url, statement, *args)]


def rest_error(call: Callable[[], Any]) -> tuple[int, int]:
    with pytest.raises(TwilioRestException) as caught:
        call()
    return caught.value.status, caught.value.code


def error_of(response: Any) -> tuple[int, int]:
    return response.status_code, response.json()["code"]


# -- services ------------------------------------------------------------------------------


def test_service_round_trip_with_every_update_parameter(client: Client) -> None:
    created = client.chat.v2.services.create(friendly_name="Support")
    assert created.sid.startswith("IS") and created.friendly_name == "Support"
    assert created.read_status_enabled is True and created.reachability_enabled is False
    assert created.limits == {"channel_members": 100, "user_channels": 250}
    assert created.webhook_filters == [] and created.post_webhook_url is None
    assert created.links == {
        name: f"{created.url}/{path}"
        for name, path in (("channels", "Channels"), ("users", "Users"), ("roles", "Roles"), ("bindings", "Bindings"))
    }
    role = "RL" + secrets.token_hex(16)
    updated = client.chat.v2.services(created.sid).update(
        friendly_name="Renamed",
        default_service_role_sid=role,
        default_channel_role_sid=role,
        default_channel_creator_role_sid=role,
        read_status_enabled=False,
        reachability_enabled=True,
        typing_indicator_timeout=9,
        consumption_report_interval=11,
        notifications_new_message_enabled=True,
        notifications_new_message_template="New: ${MESSAGE}",
        notifications_new_message_sound="ding",
        notifications_new_message_badge_count_enabled=True,
        notifications_added_to_channel_enabled=True,
        notifications_added_to_channel_template="added",
        notifications_added_to_channel_sound="a",
        notifications_removed_from_channel_enabled=True,
        notifications_removed_from_channel_template="removed",
        notifications_removed_from_channel_sound="r",
        notifications_invited_to_channel_enabled=True,
        notifications_invited_to_channel_template="invited",
        notifications_invited_to_channel_sound="i",
        notifications_log_enabled=True,
        pre_webhook_url="https://example.com/pre",
        post_webhook_url="https://example.com/post",
        webhook_method="GET",
        webhook_filters=["onMessageSent", "onMediaMessageSent", "onMessageSend"],
        limits_channel_members=500,
        limits_user_channels=1000,
        media_compatibility_message="no media here",
        pre_webhook_retry_count=1,
        post_webhook_retry_count=3,
    )
    assert updated.friendly_name == "Renamed"
    assert (updated.default_service_role_sid, updated.default_channel_role_sid) == (role, role)
    assert updated.default_channel_creator_role_sid == role
    assert (updated.read_status_enabled, updated.reachability_enabled) == (False, True)
    assert (updated.typing_indicator_timeout, updated.consumption_report_interval) == (9, 11)
    assert updated.notifications == {
        "log_enabled": True,
        "new_message": {"enabled": True, "template": "New: ${MESSAGE}", "sound": "ding", "badge_count_enabled": True},
        "added_to_channel": {"enabled": True, "template": "added", "sound": "a"},
        "removed_from_channel": {"enabled": True, "template": "removed", "sound": "r"},
        "invited_to_channel": {"enabled": True, "template": "invited", "sound": "i"},
    }
    assert (updated.pre_webhook_url, updated.post_webhook_url) == ("https://example.com/pre", "https://example.com/post")
    assert updated.webhook_method == "GET"
    assert updated.webhook_filters == ["onMessageSent", "onMediaMessageSent", "onMessageSend"]
    assert updated.limits == {"channel_members": 500, "user_channels": 1000}
    assert updated.media["compatibility_message"] == "no media here"
    assert (updated.pre_webhook_retry_count, updated.post_webhook_retry_count) == (1, 3)
    # Stored, not echoed: a fetch shows the same; an update of one field keeps the others.
    fetched = client.chat.v2.services(created.sid).update(limits_user_channels=7)
    assert fetched.limits == {"channel_members": 500, "user_channels": 7}
    assert fetched.webhook_filters == updated.webhook_filters and fetched.notifications == updated.notifications
    assert client.chat.v2.services(created.sid).fetch().date_created == created.date_created


def test_service_update_errors_and_clearing(client: Client, api: Api) -> None:
    sid = client.chat.v2.services.create(friendly_name="s").sid
    path = f"/v2/Services/{sid}"
    assert api.post(path, {"PostWebhookUrl": "https://example.com/p", "WebhookFilters": "onChannelUpdated"}).ok
    for bad in (
        {"WebhookFilters": "onSomethingElse"},
        {"WebhookMethod": "PUT"},
        {"Limits.ChannelMembers": "0"},
        {"Limits.UserChannels": "1001"},
        {"PostWebhookRetryCount": "4"},
        {"PostWebhookUrl": "not a url"},
        {"ReadStatusEnabled": "maybe"},
        {"DefaultServiceRoleSid": "RL123"},
        {"TypingIndicatorTimeout": "-1"},
    ):
        assert error_of(api.post(path, bad)) == (400, 20001), bad
    # An empty WebhookFilters clears the list, an empty PostWebhookUrl the URL.
    cleared = api.post(path, {"PostWebhookUrl": "", "WebhookFilters": ""}).json()
    assert (cleared["post_webhook_url"], cleared["webhook_filters"]) == (None, [])
    assert error_of(api.post("/v2/Services", {})) == (400, 20001)


def test_services_list_pages_and_is_per_account(client: Client, api: Api, server: ServerProcess) -> None:
    sids = [client.chat.v2.services.create(friendly_name=f"s{i}").sid for i in range(5)]
    assert [s.sid for s in client.chat.v2.services.list(page_size=2)] == sids
    page = api.get("/v2/Services?PageSize=2").json()
    assert page["meta"]["key"] == "services" and page["meta"]["page_size"] == 2
    assert page["meta"]["next_page_url"].startswith(server.base_url + "/v2/Services?")
    # The spec's maximum page size for Chat lists is 100.
    assert api.get("/v2/Services?PageSize=5000").json()["meta"]["page_size"] == 100
    other = Api(server.base_url, add_account(server.database_url).auth)
    assert other.get("/v2/Services").json()["services"] == []
    assert error_of(other.get(f"/v2/Services/{sids[0]}")) == (404, 20404)
    assert error_of(other.post(f"/v2/Services/{sids[0]}", {"FriendlyName": "mine"})) == (404, 20404)
    assert error_of(other.delete(f"/v2/Services/{sids[0]}")) == (404, 20404)
    assert error_of(other.get(f"/v2/Services/{sids[0]}/Channels")) == (404, 20404)
    assert error_of(other.get(f"/v2/Services/{sids[0]}/Users")) == (404, 20404)
    assert error_of(api.get("/v2/Services/ISnot-a-sid")) == (404, 20404)


def test_a_flex_flow_makes_its_chat_service_and_deleting_the_service_takes_everything(
    client: Client, api: Api
) -> None:
    service_sid = "IS" + secrets.token_hex(16)
    flow = client.flex_api.v1.flex_flow.create(
        friendly_name="f", chat_service_sid=service_sid, channel_type="web", integration_flow_sid="FW" + "1" * 32
    )
    service = client.chat.v2.services(service_sid).fetch()
    assert (service.sid, service.friendly_name) == (service_sid, "Flex Chat Service")
    moved_to = "IS" + secrets.token_hex(16)
    client.flex_api.v1.flex_flow(flow.sid).update(chat_service_sid=moved_to)
    assert client.chat.v2.services(moved_to).fetch().sid == moved_to

    flex_channel = client.flex_api.v1.channel.create(
        flex_flow_sid=flow.sid, identity="alice", chat_user_friendly_name="Alice", chat_friendly_name="chat"
    )
    chat = client.chat.v2.services(moved_to)
    chat.channels.create(friendly_name="other")
    chat.users.create(identity="bob")
    assert len(chat.channels.list()) == 2 and len(chat.users.list()) == 2
    assert chat.delete() is True
    assert rest_error(chat.fetch) == (404, 20404)
    assert rest_error(lambda: client.flex_api.v1.channel(flex_channel.sid).fetch()) == (404, 20404)
    assert error_of(api.get(f"/v2/Services/{moved_to}/Channels/{flex_channel.sid}")) == (404, 20404)
    assert error_of(api.delete(f"/v2/Services/{moved_to}")) == (404, 20404)
    # The flow still names the service: its next channel brings it back, empty.
    again = client.flex_api.v1.channel.create(
        flex_flow_sid=flow.sid, identity="alice", chat_user_friendly_name="Alice", chat_friendly_name="chat"
    )
    assert again.sid != flex_channel.sid
    assert [c.sid for c in chat.channels.list()] == [again.sid]


def test_two_accounts_naming_the_same_made_up_service_get_one_each(client: Client, server: ServerProcess) -> None:
    other_account = add_account(server.database_url)
    other = Client(*other_account.auth)
    other.flex_api.base_url = other.chat.base_url = server.base_url
    service_sid = "IS" + "0" * 32  # as in docs/examples/test_example.py
    channels = []
    for each in (client, other):
        flow = each.flex_api.v1.flex_flow.create(
            friendly_name="f", chat_service_sid=service_sid, channel_type="web", integration_flow_sid="FW" + "1" * 32
        )
        channels.append(each.flex_api.v1.channel.create(
            flex_flow_sid=flow.sid, identity="alice", chat_user_friendly_name="A", chat_friendly_name="c"
        ).sid)
    for each, mine in zip((client, other), channels, strict=True):
        assert [c.sid for c in each.chat.v2.services(service_sid).channels.list()] == [mine]
    assert client.chat.v2.services(service_sid).delete() is True
    assert [c.sid for c in other.chat.v2.services(service_sid).channels.list()] == [channels[1]]


# -- channels ------------------------------------------------------------------------------


def test_channel_round_trip_by_sid_and_unique_name(client: Client, server: ServerProcess) -> None:
    chat = client.chat.v2.services.create(friendly_name="s")
    channels = client.chat.v2.services(chat.sid).channels
    created = channels.create(
        friendly_name="Support", unique_name="support-1", attributes='{"status": "ACTIVE"}', type="private",
        date_created="2020-01-02T03:04:05Z", created_by="alice",
    )
    assert created.sid.startswith("CH") and created.service_sid == chat.sid
    assert (created.friendly_name, created.unique_name, created.type) == ("Support", "support-1", "private")
    assert created.attributes == '{"status": "ACTIVE"}' and created.created_by == "alice"
    assert created.date_created.isoformat() == created.date_updated.isoformat() == "2020-01-02T03:04:05+00:00"
    assert (created.members_count, created.messages_count) == (0, 0)
    url = f"{server.base_url}/v2/Services/{chat.sid}/Channels/{created.sid}"
    assert created.url == url
    assert created.links == {
        "members": f"{url}/Members", "messages": f"{url}/Messages", "invites": f"{url}/Invites",
        "webhooks": f"{url}/Webhooks", "last_message": None,
    }
    plain = channels.create()
    assert (plain.type, plain.attributes, plain.created_by, plain.friendly_name, plain.unique_name) == (
        "public", "{}", "system", None, None,
    )
    assert channels("support-1").fetch().sid == created.sid
    renamed = channels("support-1").update(unique_name="support-2", friendly_name="Renamed")
    assert (renamed.unique_name, renamed.friendly_name, renamed.attributes) == (
        "support-2", "Renamed", '{"status": "ACTIVE"}',
    )
    assert renamed.date_updated > created.date_updated
    assert rest_error(channels("support-1").fetch) == (404, 20404)
    assert channels(created.sid).fetch().unique_name == "support-2"
    assert channels("support-2").delete() is True
    assert [c.sid for c in channels.list()] == [plain.sid]


def test_channel_errors(client: Client, api: Api) -> None:
    chat = client.chat.v2.services.create(friendly_name="s").sid
    path = f"/v2/Services/{chat}/Channels"
    first = api.post(path, {"UniqueName": "taken"}).json()
    second = api.post(path, {"UniqueName": "free"}).json()
    assert error_of(api.post(path, {"UniqueName": "taken"})) == (409, 50307)
    assert error_of(api.post(f"{path}/{second['sid']}", {"UniqueName": "taken"})) == (409, 50307)
    assert api.get(f"{path}/free").json()["sid"] == second["sid"]
    for bad in ({"Attributes": "{not json"}, {"Type": "secret"}, {"DateCreated": "yesterday"}):
        assert error_of(api.post(path, bad)) == (400, 20001), bad
    assert error_of(api.post(f"{path}/{first['sid']}", {"Attributes": "{not json"})) == (400, 20001)
    assert error_of(api.get(f"{path}?Type=secret")) == (400, 20001)
    assert error_of(api.get(f"{path}/CH{'0' * 32}")) == (404, 20404)
    assert error_of(api.get(f"{path}/no-such-name")) == (404, 20404)
    assert error_of(api.delete(f"{path}/no-such-name")) == (404, 20404)
    assert error_of(api.post(f"/v2/Services/IS{'0' * 32}/Channels", {})) == (404, 20404)
    # A channel of one service is not found through another.
    elsewhere = client.chat.v2.services.create(friendly_name="t").sid
    assert error_of(api.get(f"/v2/Services/{elsewhere}/Channels/{first['sid']}")) == (404, 20404)


def test_channel_list_type_filter_and_paging(client: Client, api: Api) -> None:
    chat = client.chat.v2.services.create(friendly_name="s").sid
    channels = client.chat.v2.services(chat).channels
    public = [channels.create(friendly_name=f"pub{i}").sid for i in range(3)]
    private = [channels.create(friendly_name=f"priv{i}", type="private").sid for i in range(3)]
    assert [c.sid for c in channels.list(type=["private"], page_size=2)] == private
    assert [c.sid for c in channels.list(type=["public"], page_size=2)] == public
    assert [c.sid for c in channels.list(type=["public", "private"])] == public + private
    assert [c.sid for c in channels.list(page_size=4)] == public + private

    page = api.get(f"/v2/Services/{chat}/Channels?Type=private&PageSize=2").json()
    assert page["meta"]["key"] == "channels"
    assert "Type=private" in page["meta"]["next_page_url"]
    token = page["meta"]["next_page_url"].split("PageToken=")[1]
    assert [c["sid"] for c in api.get(page["meta"]["next_page_url"]).json()["channels"]] == private[2:]
    # The token is bound to its list: another service's channels, or another filter, refuse it.
    other = client.chat.v2.services.create(friendly_name="t").sid
    assert error_of(api.get(f"/v2/Services/{other}/Channels?Type=private&PageSize=2&Page=1&PageToken={token}")) == (
        400, 20001,
    )
    assert error_of(api.get(f"/v2/Services/{chat}/Channels?PageSize=2&Page=1&PageToken={token}")) == (400, 20001)


def test_channel_update_emits_on_channel_updated_only_with_the_header(
    client: Client, api: Api, server: ServerProcess, account: Account
) -> None:
    chat = client.chat.v2.services.create(friendly_name="s").sid
    client.chat.v2.services(chat).update(
        post_webhook_url="https://example.com/events",
        webhook_filters=["onChannelAdded", "onChannelUpdated", "onChannelDestroyed"],
    )
    channels = client.chat.v2.services(chat).channels
    quiet = channels.create(friendly_name="quiet", unique_name="quiet")
    channels(quiet.sid).update(attributes='{"status": "INACTIVE"}')
    assert outbox(server.database_url, OUTBOX_OF_CHANNEL, account.sid, quiet.sid) == []

    loud = channels.create(friendly_name="loud", unique_name="loud", x_twilio_webhook_enabled="true")
    updated = channels("loud").update(attributes='{"status": "INACTIVE"}', x_twilio_webhook_enabled="true")
    # One client sends True: the header is compared in any case.
    deleted = api.delete(f"/v2/Services/{chat}/Channels/loud", headers={"X-Twilio-Webhook-Enabled": "True"})
    assert deleted.status_code == 204
    events = outbox(server.database_url, OUTBOX_OF_CHANNEL, account.sid, loud.sid)
    assert [(e[0], e[1], e[2]) for e in events] == [
        ("onChannelAdded", "service", "https://example.com/events"),
        ("onChannelUpdated", "service", "https://example.com/events"),
        ("onChannelDestroyed", "service", "https://example.com/events"),
    ]
    params = events[1][3]
    assert params["EventType"] == "onChannelUpdated" and params["Source"] == "API"
    assert (params["AccountSid"], params["InstanceSid"], params["ChannelSid"]) == (account.sid, chat, loud.sid)
    assert orjson.loads(params["Attributes"]) == {"status": "INACTIVE"}
    assert params["UniqueName"] == "loud" and params["FriendlyName"] == "loud"
    assert params["ChannelType"] == "public" and params["CreatedBy"] == "system"
    assert params["DateUpdated"] == updated.date_updated.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    # Without the header a delete is silent too.
    assert api.delete(f"/v2/Services/{chat}/Channels/quiet").status_code == 204
    assert outbox(server.database_url, OUTBOX_OF_CHANNEL, account.sid, quiet.sid) == []


def test_deleting_the_chat_channel_of_a_flex_channel_deletes_the_flex_channel(client: Client) -> None:
    service_sid = "IS" + secrets.token_hex(16)
    flow = client.flex_api.v1.flex_flow.create(
        friendly_name="f", chat_service_sid=service_sid, channel_type="web", integration_flow_sid="FW" + "1" * 32
    )
    flex = client.flex_api.v1.channel.create(
        flex_flow_sid=flow.sid, identity="alice", chat_user_friendly_name="Alice", chat_friendly_name="chat",
        chat_unique_name="alice-chat",
    )
    chat = client.chat.v2.services(service_sid).channels(flex.sid).fetch()
    assert (chat.unique_name, chat.type, chat.created_by, chat.members_count) == ("alice-chat", "private", "system", 1)
    assert orjson.loads(chat.attributes)["status"] == "ACTIVE"
    # The program's way of ending a chat, then cleaning up.
    client.chat.v2.services(service_sid).channels("alice-chat").update(
        attributes=orjson.dumps({**orjson.loads(chat.attributes), "status": "INACTIVE"}).decode()
    )
    # A rename through Chat frees the old name for Flex too, and takes the new one.
    client.chat.v2.services(service_sid).channels("alice-chat").update(unique_name="alice-old")

    def flex_channel(identity: str, unique_name: str) -> Any:
        return client.flex_api.v1.channel.create(
            flex_flow_sid=flow.sid, identity=identity, chat_user_friendly_name=identity, chat_friendly_name="chat",
            chat_unique_name=unique_name,
        )

    assert flex_channel("bob", "alice-chat").sid != flex.sid
    assert rest_error(lambda: flex_channel("carol", "alice-old")) == (409, 45208)
    assert client.chat.v2.services(service_sid).channels(flex.sid).delete() is True
    assert rest_error(lambda: client.flex_api.v1.channel(flex.sid).fetch()) == (404, 20404)
    assert flex_channel("dave", "alice-old").sid


# -- users and user channels ---------------------------------------------------------------


def test_user_round_trip_by_identity_and_sid(client: Client, server: ServerProcess) -> None:
    chat = client.chat.v2.services.create(friendly_name="s")
    users = client.chat.v2.services(chat.sid).users
    role = "RL" + secrets.token_hex(16)
    alice = users.create(identity="alice", friendly_name="Alice", attributes='{"tier": 1}', role_sid=role)
    assert alice.sid.startswith("US") and alice.identity == "alice" and alice.role_sid == role
    assert (alice.friendly_name, alice.attributes, alice.joined_channels_count) == ("Alice", '{"tier": 1}', 0)
    assert alice.is_online is None and alice.is_notifiable is None
    url = f"{server.base_url}/v2/Services/{chat.sid}/Users/{alice.sid}"
    assert alice.url == url
    assert alice.links == {"user_channels": f"{url}/Channels", "user_bindings": f"{url}/Bindings"}
    bob = users.create(identity="bob")
    assert bob.role_sid == chat.default_service_role_sid and bob.attributes == "{}" and bob.friendly_name is None
    assert users("alice").fetch().sid == alice.sid and users(alice.sid).fetch().identity == "alice"
    updated = users("alice").update(attributes='{"tier": 2}')
    assert (updated.attributes, updated.friendly_name) == ('{"tier": 2}', "Alice")
    assert users(alice.sid).update(friendly_name="Al").friendly_name == "Al"
    assert [u.identity for u in users.list(page_size=1)] == ["alice", "bob"]
    assert users("bob").delete() is True
    assert rest_error(users("bob").fetch) == (404, 20404)
    assert [u.sid for u in users.list()] == [alice.sid]


def test_user_errors(client: Client, api: Api) -> None:
    chat = client.chat.v2.services.create(friendly_name="s").sid
    path = f"/v2/Services/{chat}/Users"
    assert api.post(path, {"Identity": "alice"}).status_code == 201
    assert error_of(api.post(path, {"Identity": "alice"})) == (409, 50201)
    assert error_of(api.post(path, {})) == (400, 20001)
    assert error_of(api.post(path, {"Identity": "x", "Attributes": "{nope"})) == (400, 20001)
    assert error_of(api.post(path, {"Identity": "x", "RoleSid": "RLxyz"})) == (400, 20001)
    # The existence check programs make: an empty POST to Users/{identity}.
    assert error_of(api.post(f"{path}/nobody")) == (404, 20404)
    assert error_of(api.post(f"{path}/nobody", {})) == (404, 20404)
    assert api.post(f"{path}/alice").status_code == 200
    assert error_of(api.get(f"{path}/nobody")) == (404, 20404)
    assert error_of(api.delete(f"{path}/nobody")) == (404, 20404)
    assert error_of(api.get(f"{path}/nobody/Channels")) == (404, 20404)
    assert error_of(api.get(f"{path}/US{'0' * 32}")) == (404, 20404)
    assert rest_error(lambda: client.chat.v2.services(chat).users("nobody").update()) == (404, 20404)


def test_user_channels_find_a_returning_customers_channel(client: Client, api: Api, server: ServerProcess) -> None:
    service_sid = "IS" + secrets.token_hex(16)
    flows = [
        client.flex_api.v1.flex_flow.create(
            friendly_name=f"f{i}", chat_service_sid=service_sid, channel_type="web",
            integration_flow_sid="FW" + "1" * 32,
        )
        for i in range(3)
    ]
    channels = [
        client.flex_api.v1.channel.create(
            flex_flow_sid=flow.sid, identity="carol", chat_user_friendly_name="Carol", chat_friendly_name="c"
        ).sid
        for flow in flows
    ]
    user = client.chat.v2.services(service_sid).users("carol").fetch()
    assert user.joined_channels_count == 3 and user.friendly_name == "Carol"
    listed = client.chat.v2.services(service_sid).users("carol").user_channels.list(page_size=2)
    assert [c.channel_sid for c in listed] == channels
    first = listed[0]
    assert (first.user_sid, first.service_sid, first.status, first.notification_level) == (
        user.sid, service_sid, "joined", "default",
    )
    assert first.member_sid.startswith("MB") and first.last_consumed_message_index is None
    assert first.unread_messages_count is None
    base = f"{server.base_url}/v2/Services/{service_sid}"
    assert first.url == f"{base}/Users/{user.sid}/Channels/{channels[0]}"
    assert first.links == {
        "channel": f"{base}/Channels/{channels[0]}",
        "member": f"{base}/Channels/{channels[0]}/Members/{first.member_sid}",
    }
    fetched = client.chat.v2.services(service_sid).users(user.sid).user_channels(channels[1]).fetch()
    assert (fetched.channel_sid, fetched.member_sid) == (channels[1], listed[1].member_sid)

    page = api.get(f"/v2/Services/{service_sid}/Users/carol/Channels?PageSize=100").json()
    assert page["meta"]["key"] == "channels" and page["meta"]["page_size"] == 50
    client.chat.v2.services(service_sid).users.create(identity="dave")
    assert api.get(f"/v2/Services/{service_sid}/Users/dave/Channels").json()["channels"] == []
    assert error_of(api.get(f"/v2/Services/{service_sid}/Users/dave/Channels/{channels[0]}")) == (404, 20404)
    token = api.get(f"/v2/Services/{service_sid}/Users/carol/Channels?PageSize=1").json()["meta"]["next_page_url"]
    token = token.split("PageToken=")[1]
    assert error_of(api.get(f"/v2/Services/{service_sid}/Users/dave/Channels?Page=1&PageToken={token}")) == (400, 20001)


def test_user_events_go_to_the_service_webhook_with_the_header(
    client: Client, api: Api, server: ServerProcess, account: Account
) -> None:
    chat = client.chat.v2.services.create(friendly_name="s").sid
    client.chat.v2.services(chat).update(
        post_webhook_url="https://example.com/u", webhook_filters=["onUserAdded", "onUserUpdated"]
    )
    path = f"/v2/Services/{chat}/Users"
    api.post(path, {"Identity": "quiet"})
    api.post(f"{path}/quiet", {"FriendlyName": "Q"})
    assert outbox(server.database_url, OUTBOX_OF_SERVICE, account.sid, chat) == []
    api.post(path, {"Identity": "loud"}, headers=HEADER)
    api.post(f"{path}/loud", {"FriendlyName": "L"}, headers=HEADER)
    events = outbox(server.database_url, OUTBOX_OF_SERVICE, account.sid, chat)
    assert [e[0] for e in events] == ["onUserAdded", "onUserUpdated"]
    assert events[1][3]["Identity"] == "loud" and events[1][3]["FriendlyName"] == "L"


# -- in process ----------------------------------------------------------------------------


def test_flexchat_testing_routes_chat_in_process() -> None:
    client = twilio_client()
    try:
        service_sid = "IS" + secrets.token_hex(16)
        flow = client.flex_api.v1.flex_flow.create(
            friendly_name="f", chat_service_sid=service_sid, channel_type="web", integration_flow_sid="FW" + "1" * 32
        )
        flex = client.flex_api.v1.channel.create(
            flex_flow_sid=flow.sid, identity="erin", chat_user_friendly_name="Erin", chat_friendly_name="c"
        )
        chat = client.chat.v2.services(service_sid).channels(flex.sid).fetch()
        assert chat.url == f"https://chat.twilio.com/v2/Services/{service_sid}/Channels/{flex.sid}"
        user_channels = client.chat.v2.services(service_sid).users("erin").user_channels.list()
        assert [c.channel_sid for c in user_channels] == [flex.sid]
    finally:
        client.http_client.close()


# -- rows other resources write (Messages, Members), put straight into the database ------------

INSERT_MESSAGE = sql(
    "INSERT INTO chat_messages (sid, account_sid, service_sid, channel_sid, message_index, author, body,"
    " attributes, media_sid, last_updated_by, was_edited, date_created, date_updated)"
    " VALUES (?, ?, ?, ?, ?, 'system', 'hi', '{}', NULL, NULL, ?, '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z')"
)
CONSUMED = sql("UPDATE chat_members SET last_consumed_message_index = ? WHERE sid = ?")


def write(database_url: str, *queries: Any) -> None:
    async def run() -> None:
        store = create_store(Settings(database_url=database_url))
        await store.open()
        try:
            for query in queries:
                await store.write(fetch(query))
        finally:
            await store.close()

    asyncio.run(run())


def test_last_message_link_and_unread_count(client: Client, server: ServerProcess, account: Account) -> None:
    service_sid = "IS" + secrets.token_hex(16)
    flow = client.flex_api.v1.flex_flow.create(
        friendly_name="f", chat_service_sid=service_sid, channel_type="web", integration_flow_sid="FW" + "1" * 32
    )
    flex = client.flex_api.v1.channel.create(
        flex_flow_sid=flow.sid, identity="frank", chat_user_friendly_name="Frank", chat_friendly_name="c"
    )
    messages = ["IM" + secrets.token_hex(16) for _ in range(4)]
    write(server.database_url, *(
        INSERT_MESSAGE(sid, account.sid, service_sid, flex.sid, index, False) for index, sid in enumerate(messages)
    ))
    channel_url = f"{server.base_url}/v2/Services/{service_sid}/Channels/{flex.sid}"
    chat = client.chat.v2.services(service_sid)
    assert chat.channels(flex.sid).fetch().links["last_message"] == f"{channel_url}/Messages/{messages[-1]}"
    assert [c.links["last_message"] for c in chat.channels.list()] == [f"{channel_url}/Messages/{messages[-1]}"]
    assert chat.channels.create().links["last_message"] is None

    user_channel = chat.users("frank").user_channels(flex.sid).fetch()
    assert (user_channel.last_consumed_message_index, user_channel.unread_messages_count) == (None, None)
    write(server.database_url, CONSUMED(1, user_channel.member_sid))
    user_channel = chat.users("frank").user_channels.list()[0]
    assert (user_channel.last_consumed_message_index, user_channel.unread_messages_count) == (1, 2)
    assert chat.users("frank").user_channels(flex.sid).fetch().unread_messages_count == 2
