"""Chat v2 members, messages and channel webhooks under a Flex channel, through the
unmodified twilio client and raw HTTP against a real ``flexchat serve`` on each engine.

Events are checked in the outbox table (what delivery sends from), read through the
store: delivery itself has its own tests.
"""

from __future__ import annotations

import re
import secrets
import threading
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from flexchat.errors import InvalidParameter
from flexchat.http import decode_form_lists
from flexchat.params import date_time
from flexchat.store.sql import sql
from flexchat.testing import ServerProcess

from .conftest import Account, Api, add_account, read_rows

WEBHOOK_ENABLED = {"X-Twilio-Webhook-Enabled": "true"}
OUTBOX = sql(
    "SELECT event_type, kind, url, method, params, retry_count, state, webhook_sid FROM outbox"
    " WHERE channel_sid = ? AND account_sid = ? ORDER BY seq"
)
CHANNEL_COUNTS = sql(
    "SELECT members_count, messages_count, next_message_index FROM chat_channels WHERE sid = ? AND account_sid = ?"
)
MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def outbox(server: ServerProcess, account: Account, channel_sid: str) -> list[dict[str, Any]]:
    """The outbox rows of a channel, oldest first, with their params decoded."""
    rows = read_rows(server.database_url, OUTBOX, channel_sid, account.sid)
    return [
        {"event_type": r[0], "kind": r[1], "url": r[2], "method": r[3], "params": orjson.loads(r[4]),
         "retry_count": r[5], "state": r[6], "webhook_sid": r[7]}
        for r in rows
    ]


def counts(server: ServerProcess, account: Account, channel_sid: str) -> tuple[int, int, int]:
    """members_count, messages_count, next_message_index of a channel."""
    row = read_rows(server.database_url, CHANNEL_COUNTS, channel_sid, account.sid)[0]
    return int(row[0]), int(row[1]), int(row[2])


class Conversation:
    """A Flex channel (and so a chat channel) on a flow, as a custom channel makes one."""

    def __init__(self, client: Client, integration_type: str = "external", **channel: Any) -> None:
        integration: dict[str, Any] = {
            "external": {"integration_url": "https://middleware.example.com/flex", "integration_retry_count": 2},
            "studio": {"integration_flow_sid": "FW" + secrets.token_hex(16)},
        }[integration_type]
        self.flow = client.flex_api.v1.flex_flow.create(
            friendly_name=f"{integration_type} flow", chat_service_sid="IS" + secrets.token_hex(16),
            channel_type="custom", integration_type=integration_type, **integration,
        )
        self.service_sid: str = self.flow.chat_service_sid
        identity = channel.pop("identity", "customer-" + secrets.token_hex(4))
        self.identity = identity
        flex_channel = client.flex_api.v1.channel.create(
            flex_flow_sid=self.flow.sid, identity=identity, chat_user_friendly_name="Customer",
            chat_friendly_name="Support chat", **channel,
        )
        self.sid: str = flex_channel.sid
        self.chat = client.chat.v2.services(self.service_sid).channels(self.sid)
        self.path = f"/v2/Services/{self.service_sid}/Channels/{self.sid}"


@pytest.fixture
def conversation(client: Client) -> Conversation:
    return Conversation(client)


# -- messages ----------------------------------------------------------------------------


def test_message_round_trip_through_the_client(
    client: Client, conversation: Conversation, server: ServerProcess, account: Account
) -> None:
    first = conversation.chat.messages.create(body="Hello", from_="customer", attributes='{"a": 1}')
    assert re.fullmatch(r"IM[0-9a-f]{32}", first.sid)
    assert (first.index, first.body, first._from, first.attributes) == (0, "Hello", "customer", '{"a": 1}')
    assert (first.to, first.channel_sid, first.service_sid) == (conversation.sid, conversation.sid,
                                                                 conversation.service_sid)
    assert first.type == "text" and first.media is None and first.was_edited is False
    assert first.url == f"{server.base_url}{conversation.path}/Messages/{first.sid}"
    assert first.account_sid == account.sid
    system = conversation.chat.messages.create()
    assert (system.index, system._from, system.body, system.attributes) == (1, "system", "", "{}")
    imported = conversation.chat.messages.create(
        body="old", date_created="2020-01-02T03:04:05Z", last_updated_by="agent"
    )
    assert imported.date_created.isoformat() == "2020-01-02T03:04:05+00:00"
    assert imported.date_updated == imported.date_created and imported.last_updated_by == "agent"
    media = conversation.chat.messages.create(media_sid="ME" + "a" * 32)
    assert media.type == "media" and media.media["sid"] == "ME" + "a" * 32 and media.body is None

    fetched = conversation.chat.messages(first.sid).fetch()
    assert fetched.body == "Hello" and fetched.index == 0
    edited = conversation.chat.messages(first.sid).update(body="Hello!", last_updated_by="customer")
    assert edited.was_edited is True and edited.body == "Hello!" and edited.last_updated_by == "customer"
    assert edited.attributes == '{"a": 1}' and edited._from == "customer"
    renamed = conversation.chat.messages(system.sid).update(from_="bot", attributes='{"b": 2}')
    assert (renamed._from, renamed.attributes, renamed.was_edited) == ("bot", '{"b": 2}', False)
    assert counts(server, account, conversation.sid)[1:] == (4, 4)

    assert conversation.chat.messages(media.sid).delete() is True
    assert conversation.chat.messages(imported.sid).delete() is True
    with pytest.raises(TwilioRestException) as missing:
        conversation.chat.messages(media.sid).fetch()
    assert missing.value.status == 404
    # The index survives deletes: the next message does not take 2 or 3 again.
    after = conversation.chat.messages.create(body="after deletes")
    assert after.index == 4
    assert [m.index for m in conversation.chat.messages.list()] == [0, 1, 4]
    assert counts(server, account, conversation.sid)[1:] == (3, 5)


def test_messages_page_both_ways_with_tokens_bound_to_the_order(
    client: Client, conversation: Conversation, api: Api
) -> None:
    for n in range(7):
        conversation.chat.messages.create(body=f"m{n}")
    assert [m.index for m in conversation.chat.messages.list(order="desc")] == list(range(6, -1, -1))
    assert [m.index for m in conversation.chat.messages.list(order="asc", page_size=2)] == list(range(7))
    assert [m.body for m in conversation.chat.messages.list(limit=1, order="desc")] == ["m6"]

    for order, expected in (("asc", list(range(7))), ("desc", list(range(6, -1, -1)))):
        page = api.get(f"{conversation.path}/Messages?Order={order}&PageSize=3").json()
        assert page["meta"]["key"] == "messages" and page["meta"]["page_size"] == 3
        assert page["meta"]["previous_page_url"] is None
        seen = [m["index"] for m in page["messages"]]
        pages = [page]
        while page["meta"]["next_page_url"]:
            assert f"Order={order}" in page["meta"]["next_page_url"]
            page = api.get(page["meta"]["next_page_url"]).json()
            pages.append(page)
            seen += [m["index"] for m in page["messages"]]
        assert seen == expected and len(pages) == 3
        back = [m["index"] for m in page["messages"]]
        while page["meta"]["previous_page_url"]:
            page = api.get(page["meta"]["previous_page_url"]).json()
            back = [m["index"] for m in page["messages"]] + back
        assert back == expected

    asc = api.get(f"{conversation.path}/Messages?PageSize=3").json()
    token = asc["meta"]["next_page_url"].split("PageToken=")[1]
    refused = api.get(f"{conversation.path}/Messages?Order=desc&PageSize=3&PageToken={token}")
    assert refused.status_code == 400 and refused.json()["code"] == 20001
    other = Conversation(client)
    refused = api.get(f"{other.path}/Messages?PageSize=3&PageToken={token}")
    assert refused.status_code == 400
    clamped = api.get(f"{conversation.path}/Messages?PageSize=5000").json()
    assert clamped["meta"]["page_size"] == 100 and len(clamped["messages"]) == 7
    assert api.get(f"{conversation.path}/Messages?Order=sideways").status_code == 400


# Values whose JSON escaping a rendering could get wrong.
AWKWARD = [
    'say "hi" \\ C:\\path\\',
    "line one\nline two\r\n\ttab \b\f \x01\x1f\x7f",
    "emoji \U0001f600 accents \u00e9\u00fc, CJK \u4e2d\u6587, separators \u2028\u2029, </script>",
    "",
]


def test_listed_messages_are_the_bytes_of_their_dicts(client: Client, conversation: Conversation, api: Api) -> None:
    """The list serves messages as JSON rendered once and kept per (row, version): every
    item must be byte for byte what ``message_to_wire`` and orjson make of the message
    (the fetch endpoint's body), on a first read and from the cache, in both orders, after
    an edit, and with awkward text everywhere a client writes it."""
    path = f"{conversation.path}/Messages"
    for text in AWKWARD:
        attributes = orjson.dumps({"t": text}).decode()
        values = {"Body": text, "From": text or "system", "Attributes": attributes, "LastUpdatedBy": text}
        created = api.post(path, values)
        assert created.status_code == 201, created.text
    api.post(path, {"MediaSid": "ME" + "c" * 32, "From": AWKWARD[0]})
    api.post(path, {})
    edited = api.post(path, {"Body": "before"}).json()
    assert api.post(f"{path}/{edited['sid']}", {"Body": AWKWARD[1]}).status_code == 200

    def check_pages(order: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        url: str | None = f"{path}?PageSize=3&Order={order}"
        while url:
            response = api.get(url)
            assert response.status_code == 200
            assert orjson.dumps(orjson.loads(response.content)) == response.content  # orjson's own bytes
            page = orjson.loads(response.content)
            for item in page["messages"]:
                assert orjson.dumps(item) == api.get(f"{path}/{item['sid']}").content
            items += page["messages"]
            url = page["meta"]["next_page_url"]
        return items

    for order in ("asc", "desc", "asc", "desc"):  # the second time from the cache
        items = check_pages(order)
        indexes = [item["index"] for item in items]
        assert indexes == sorted(indexes, reverse=order == "desc") and len(items) == len(AWKWARD) + 3
    by_sid = {item["sid"]: item for item in items}
    assert by_sid[edited["sid"]]["was_edited"] is True and by_sid[edited["sid"]]["body"] == AWKWARD[1]
    assert [item["type"] for item in items].count("media") == 1
    media = next(item for item in items if item["type"] == "media")
    assert media["media"]["sid"] == "ME" + "c" * 32 and media["body"] is None

    # An edit after the pages were cached shows on the next read, in every order.
    assert api.post(f"{path}/{edited['sid']}", {"Attributes": '{"again": "\\u00e9"}'}).status_code == 200
    for order in ("asc", "desc"):
        after = {item["sid"]: item for item in check_pages(order)}
        assert after[edited["sid"]]["attributes"] == '{"again": "\\u00e9"}'
    # The official client reads the same page.
    listed = conversation.chat.messages.list(order="desc", page_size=4)
    assert [m.body for m in listed][-len(AWKWARD):] == list(reversed(AWKWARD))


def test_a_page_read_again_shows_every_change_since(conversation: Conversation) -> None:
    """A page asked for again is served whole from what the process kept for its rows
    and the channel's stamp: each kind of change since must show on the next read."""
    messages = conversation.chat.messages
    sids = [messages.create(body=f"m{n}").sid for n in range(3)]

    def bodies(order: str) -> list[str]:
        return [m.body for m in messages.list(order=order, page_size=2)]

    for order in ("asc", "desc", "asc", "desc"):  # the second time from what was kept
        assert bodies(order) == (["m0", "m1", "m2"] if order == "asc" else ["m2", "m1", "m0"])
    messages(sids[1]).update(body="edited")
    assert bodies("asc") == ["m0", "edited", "m2"] and bodies("desc") == ["m2", "edited", "m0"]
    messages(sids[0]).delete()
    assert bodies("asc") == ["edited", "m2"] and bodies("desc") == ["m2", "edited"]
    messages.create(body="m3")
    assert bodies("asc") == ["edited", "m2", "m3"] and bodies("desc") == ["m3", "m2", "edited"]


def test_concurrent_creates_get_distinct_indexes(
    conversation: Conversation, server: ServerProcess, account: Account
) -> None:
    results: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def post(n: int) -> None:
        try:
            session = Api(server.base_url, account.auth)
            for i in range(5):
                response = session.post(f"{conversation.path}/Messages", {"Body": f"{n}-{i}"})
                assert response.status_code == 201, response.text
                with lock:
                    results.append(response.json()["index"])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sorted(results) == list(range(40))
    assert counts(server, account, conversation.sid)[1:] == (40, 40)
    listed = Api(server.base_url, account.auth).get(f"{conversation.path}/Messages?PageSize=100").json()
    assert [m["index"] for m in listed["messages"]] == list(range(40))


def test_message_events_reach_the_outbox_only_with_the_header(
    client: Client, conversation: Conversation, api: Api, server: ServerProcess, account: Account
) -> None:
    flow_hook = conversation.chat.webhooks.list()[0]
    quiet = conversation.chat.messages.create(body="no header", from_="customer")
    assert outbox(server, account, conversation.sid) == []
    sent = conversation.chat.messages.create(
        body="Hi there", from_="customer", attributes='{"k": "v"}', x_twilio_webhook_enabled="true"
    )
    events = outbox(server, account, conversation.sid)
    assert len(events) == 1
    event = events[0]
    assert (event["event_type"], event["kind"], event["url"], event["method"], event["retry_count"]) == (
        "onMessageSent", "webhook", "https://middleware.example.com/flex", "POST", 2
    )
    # Its state is delivery's business (pending here; sent or retried once delivery runs).
    assert event["kind"] == "webhook" and event["webhook_sid"] == flow_hook.sid
    params = event["params"]
    assert MILLIS.match(params.pop("DateCreated"))
    assert params == {
        "EventType": "onMessageSent", "AccountSid": account.sid, "InstanceSid": conversation.service_sid,
        "ChannelSid": conversation.sid, "MessageSid": sent.sid, "Index": "1", "Body": "Hi there",
        "From": "customer", "Attributes": '{"k": "v"}', "Source": "API", "WebhookSid": flow_hook.sid,
        "WebhookType": "webhook",
    }

    # The header in another case; an update and a delete over raw HTTP (twilio-python
    # drops the header on delete). The flow's webhook listens to onMessageSent only, so
    # add one that hears the rest.
    hook = api.post(f"{conversation.path}/Webhooks", {
        "Type": "webhook", "Configuration.Url": "https://example.com/all",
        "Configuration.Filters": ["onMessageUpdated", "onMessageRemoved", "onMediaMessageSent"],
    })
    assert hook.status_code == 201, hook.text
    updated = api.post(f"{conversation.path}/Messages/{quiet.sid}", {"Body": "edited", "LastUpdatedBy": "agent"},
                       headers={"X-Twilio-Webhook-Enabled": "True"})
    assert updated.status_code == 200 and updated.json()["was_edited"] is True
    assert api.delete(f"{conversation.path}/Messages/{sent.sid}", headers=WEBHOOK_ENABLED).status_code == 204
    media = api.post(f"{conversation.path}/Messages", {"MediaSid": "ME" + "b" * 32}, headers=WEBHOOK_ENABLED)
    assert media.status_code == 201
    tail = outbox(server, account, conversation.sid)[1:]
    assert [(e["event_type"], e["url"]) for e in tail] == [
        ("onMessageUpdated", "https://example.com/all"),
        ("onMessageRemoved", "https://example.com/all"),
        ("onMediaMessageSent", "https://example.com/all"),
    ]
    assert tail[0]["params"]["Body"] == "edited" and tail[0]["params"]["ModifiedBy"] == "agent"
    assert MILLIS.match(tail[0]["params"]["DateUpdated"])
    assert tail[1]["params"]["MessageSid"] == sent.sid and tail[1]["params"]["Index"] == "1"
    assert tail[2]["params"]["MediaSid"] == "ME" + "b" * 32
    # Without the header: nothing more.
    assert api.delete(f"{conversation.path}/Messages/{quiet.sid}").status_code == 204
    assert len(outbox(server, account, conversation.sid)) == 4


def test_message_errors(client: Client, conversation: Conversation, api: Api, server: ServerProcess) -> None:
    bad = api.post(f"{conversation.path}/Messages", {"Body": "x", "Attributes": "{not json"})
    assert bad.status_code == 400 and "Attributes" in bad.json()["message"]
    assert api.post(f"{conversation.path}/Messages", {"DateCreated": "yesterday"}).status_code == 400
    assert api.post(f"{conversation.path}/Messages", {"MediaSid": "XX" + "0" * 32}).status_code == 400
    unknown_channel = f"/v2/Services/{conversation.service_sid}/Channels/CH{'0' * 32}/Messages"
    unknown_service = f"/v2/Services/IS{'0' * 32}/Channels/{conversation.sid}/Messages"
    for path in (unknown_channel, unknown_service, f"/v2/Services/nope/Channels/{conversation.sid}/Messages"):
        for response in (api.get(path), api.post(path, {"Body": "x"})):
            assert response.status_code == 404, (path, response.text)
            assert response.json()["code"] == 20404
    message = conversation.chat.messages.create(body="mine")
    for path in (f"{conversation.path}/Messages/IM{'0' * 32}", f"{conversation.path}/Messages/nope"):
        assert api.get(path).status_code == 404
        assert api.post(path, {"Body": "x"}).status_code == 404
        assert api.delete(path).status_code == 404
    # Another account sees none of it.
    stranger = Api(server.base_url, add_account(server.database_url).auth)
    assert stranger.get(f"{conversation.path}/Messages").status_code == 404
    assert stranger.get(f"{conversation.path}/Messages/{message.sid}").status_code == 404
    assert stranger.post(f"{conversation.path}/Messages", {"Body": "x"}).status_code == 404
    assert stranger.delete(f"{conversation.path}/Messages/{message.sid}").status_code == 404
    assert conversation.chat.messages(message.sid).fetch().body == "mine"


def test_a_channel_is_addressed_by_its_unique_name(client: Client) -> None:
    name = "support-" + secrets.token_hex(4)
    conversation = Conversation(client, chat_unique_name=name)
    by_name = client.chat.v2.services(conversation.service_sid).channels(name)
    message = by_name.messages.create(body="by name")
    assert message.channel_sid == conversation.sid
    assert [m.sid for m in conversation.chat.messages.list()] == [message.sid]
    assert by_name.messages(message.sid).fetch().index == 0
    assert [w.channel_sid for w in by_name.webhooks.list()] == [conversation.sid]
    assert [m.identity for m in by_name.members.list()] == [conversation.identity]




# -- channel webhooks ----------------------------------------------------------------------


def test_the_external_flows_webhook_is_listed_and_can_be_deleted(
    client: Client, conversation: Conversation, server: ServerProcess, account: Account
) -> None:
    hooks = conversation.chat.webhooks.list()
    assert len(hooks) == 1
    hook = hooks[0]
    assert re.fullmatch(r"WH[0-9a-f]{32}", hook.sid) and hook.type == "webhook"
    assert hook.configuration == {
        "url": "https://middleware.example.com/flex", "method": "POST", "filters": ["onMessageSent"],
        "retry_count": 2,
    }
    assert (hook.account_sid, hook.service_sid, hook.channel_sid) == (account.sid, conversation.service_sid,
                                                                      conversation.sid)
    assert hook.url == f"{server.base_url}{conversation.path}/Webhooks/{hook.sid}"
    # As middleware finds it: by its URL.
    integration_url = conversation.flow.integration["url"]
    found = [w for w in conversation.chat.webhooks.list() if w.configuration.get("url") == integration_url]
    assert [w.sid for w in found] == [hook.sid]
    assert conversation.chat.webhooks(hook.sid).fetch().configuration == hook.configuration
    assert conversation.chat.webhooks(hook.sid).delete() is True
    assert conversation.chat.webhooks.list() == []
    # Gone: a message with the header now reaches no destination.
    conversation.chat.messages.create(body="after", x_twilio_webhook_enabled="true")
    assert outbox(server, account, conversation.sid) == []


def test_a_studio_flows_channel_lists_a_studio_webhook(
    client: Client, server: ServerProcess, account: Account
) -> None:
    conversation = Conversation(client, "studio")
    (hook,) = conversation.chat.webhooks.list()
    assert hook.type == "studio"
    assert hook.configuration["flow_sid"] == conversation.flow.integration["flow_sid"]
    assert "url" not in hook.configuration
    conversation.chat.messages.create(body="hi", x_twilio_webhook_enabled="true")
    (event,) = outbox(server, account, conversation.sid)
    assert (event["kind"], event["state"], event["event_type"]) == ("studio", "recorded", "onMessageSent")
    assert event["params"]["WebhookType"] == "studio"
    # Hand-off: the studio webhook is removed, found by its type.
    studio = [w for w in conversation.chat.webhooks.list() if w.type == "studio"]
    assert conversation.chat.webhooks(studio[0].sid).delete() is True
    assert conversation.chat.webhooks.list() == []


def test_a_webhook_for_several_events_round_trips(
    client: Client, conversation: Conversation, api: Api, server: ServerProcess, account: Account
) -> None:
    hook = conversation.chat.webhooks.create(
        type="webhook", configuration_url="https://example.com/events", configuration_method="GET",
        configuration_filters=["onMessageSent", "onChannelUpdated"], configuration_retry_count=3,
    )
    assert hook.type == "webhook"
    assert hook.configuration == {
        "url": "https://example.com/events", "method": "GET", "filters": ["onMessageSent", "onChannelUpdated"],
        "retry_count": 3,
    }
    assert [w.sid for w in conversation.chat.webhooks.list()][1:] == [hook.sid]
    updated = conversation.chat.webhooks(hook.sid).update(
        configuration_filters=["onMessageSent"], configuration_triggers=["help", "agent"]
    )
    assert updated.configuration == {
        "url": "https://example.com/events", "method": "GET", "filters": ["onMessageSent"],
        "triggers": ["help", "agent"], "retry_count": 3,
    }
    assert updated.date_updated >= updated.date_created
    assert conversation.chat.webhooks(hook.sid).update().configuration == updated.configuration
    # Triggers select messages by the words of their body.
    conversation.chat.messages.create(body="nothing here", x_twilio_webhook_enabled="true")
    conversation.chat.messages.create(body="I need an agent", x_twilio_webhook_enabled="true")
    events = [(e["url"], e["method"], e["params"]["Body"]) for e in outbox(server, account, conversation.sid)]
    assert events == [
        ("https://middleware.example.com/flex", "POST", "nothing here"),
        ("https://middleware.example.com/flex", "POST", "I need an agent"),
        ("https://example.com/events", "GET", "I need an agent"),
    ]
    studio = conversation.chat.webhooks.create(type="studio", configuration_flow_sid="FW" + "c" * 32)
    assert studio.configuration == {"flow_sid": "FW" + "c" * 32, "retry_count": 0}
    trigger = api.post(f"{conversation.path}/Webhooks", {
        "Type": "trigger", "Configuration.Url": "https://example.com/t", "Configuration.Triggers": ["urgent"],
    })
    assert trigger.status_code == 201 and trigger.json()["configuration"]["triggers"] == ["urgent"]

    # Five a page by default and at most; the rest through the next page.
    for n in range(3):
        api.post(f"{conversation.path}/Webhooks", {"Type": "webhook", "Configuration.Url": f"https://e.com/{n}"})
    first = api.get(f"{conversation.path}/Webhooks?PageSize=50").json()
    assert first["meta"]["page_size"] == 5 and len(first["webhooks"]) == 5 and first["meta"]["key"] == "webhooks"
    second = api.get(first["meta"]["next_page_url"]).json()
    assert len(second["webhooks"]) == 2 and second["meta"]["next_page_url"] is None
    assert len(conversation.chat.webhooks.list()) == 7


def test_webhook_errors(client: Client, conversation: Conversation, api: Api, server: ServerProcess) -> None:
    path = f"{conversation.path}/Webhooks"
    for form in (
        {},
        {"Type": "carrier-pigeon", "Configuration.Url": "https://e.com"},
        {"Type": "webhook"},
        {"Type": "webhook", "Configuration.Url": "not a url"},
        {"Type": "webhook", "Configuration.Url": "https://e.com", "Configuration.Method": "PUT"},
        {"Type": "webhook", "Configuration.Url": "https://e.com", "Configuration.RetryCount": "4"},
        {"Type": "webhook", "Configuration.Url": "https://e.com", "Configuration.RetryCount": "-1"},
        {"Type": "webhook", "Configuration.Url": "https://e.com", "Configuration.Filters": ["onSomething"]},
        {"Type": "studio"},
        {"Type": "studio", "Configuration.FlowSid": "FW123"},
        {"Type": "trigger", "Configuration.Url": "https://e.com"},
    ):
        response = api.post(path, form)
        assert response.status_code == 400, (form, response.text)
        assert response.json()["code"] == 20001
    with pytest.raises(TwilioRestException) as error:
        conversation.chat.webhooks.create(type="studio")
    assert error.value.status == 400 and "Configuration.FlowSid" in error.value.msg
    hook = conversation.chat.webhooks.list()[0]
    assert api.post(f"{path}/{hook.sid}", {"Configuration.Url": "ftp://x"}).status_code == 400
    assert api.post(f"{path}/{hook.sid}", {"Configuration.RetryCount": "9"}).status_code == 400
    for missing in (f"{path}/WH{'0' * 32}", f"{path}/nope"):
        assert api.get(missing).status_code == 404
        assert api.post(missing, {}).status_code == 404
        assert api.delete(missing).status_code == 404
    unknown = f"/v2/Services/IS{'0' * 32}/Channels/{conversation.sid}/Webhooks"
    assert api.get(unknown).status_code == 404
    assert api.post(unknown, {"Type": "webhook", "Configuration.Url": "https://e.com"}).status_code == 404
    stranger = Api(server.base_url, add_account(server.database_url).auth)
    assert stranger.get(path).status_code == 404
    assert stranger.get(f"{path}/{hook.sid}").status_code == 404
    assert stranger.delete(f"{path}/{hook.sid}").status_code == 404
    assert conversation.chat.webhooks(hook.sid).fetch().sid == hook.sid


# -- members ---------------------------------------------------------------------------------


def test_members_round_trip_by_sid_and_identity(
    client: Client, conversation: Conversation, api: Api, server: ServerProcess, account: Account
) -> None:
    (customer,) = conversation.chat.members.list()
    assert customer.identity == conversation.identity and re.fullmatch(r"MB[0-9a-f]{32}", customer.sid)
    assert counts(server, account, conversation.sid)[0] == 1
    agent = conversation.chat.members.create(
        identity="agent-1", attributes='{"role": "agent"}', last_consumed_message_index=3,
        last_consumption_timestamp="2024-05-06T07:08:09Z", date_created="2024-01-01T00:00:00Z",
    )
    assert agent.identity == "agent-1" and agent.attributes == '{"role": "agent"}'
    assert agent.last_consumed_message_index == 3
    assert agent.last_consumption_timestamp.isoformat() == "2024-05-06T07:08:09+00:00"
    assert agent.date_created.isoformat() == "2024-01-01T00:00:00+00:00"
    assert re.fullmatch(r"RL[0-9a-f]{32}", agent.role_sid)
    assert agent.url == f"{server.base_url}{conversation.path}/Members/{agent.sid}"
    assert (agent.account_sid, agent.service_sid, agent.channel_sid) == (account.sid, conversation.service_sid,
                                                                         conversation.sid)
    bot = conversation.chat.members.create(identity="bot", role_sid="RL" + "e" * 32)
    assert bot.role_sid == "RL" + "e" * 32 and bot.attributes == "{}" and bot.last_consumed_message_index is None
    assert counts(server, account, conversation.sid)[0] == 3

    assert conversation.chat.members("agent-1").fetch().sid == agent.sid
    assert conversation.chat.members(agent.sid).fetch().identity == "agent-1"
    updated = conversation.chat.members("agent-1").update(last_consumed_message_index=5, attributes='{"x": 1}')
    assert (updated.last_consumed_message_index, updated.attributes) == (5, '{"x": 1}')
    assert updated.role_sid == agent.role_sid and updated.date_created == agent.date_created
    cleared = api.post(f"{conversation.path}/Members/{agent.sid}", {"LastConsumedMessageIndex": ""}).json()
    assert cleared["last_consumed_message_index"] is None and cleared["attributes"] == '{"x": 1}'

    filtered = conversation.chat.members.list(identity=["agent-1", "bot", "nobody"])
    assert [m.identity for m in filtered] == ["agent-1", "bot"]
    assert [m.identity for m in conversation.chat.members.list(identity=["bot"])] == ["bot"]
    page = api.get(f"{conversation.path}/Members?Identity=bot&Identity=agent-1&Identity={conversation.identity}"
                   "&PageSize=2").json()
    assert [m["identity"] for m in page["members"]] == [conversation.identity, "agent-1"]
    assert "Identity=bot&Identity=agent-1" in page["meta"]["next_page_url"]
    last = api.get(page["meta"]["next_page_url"]).json()
    assert [m["identity"] for m in last["members"]] == ["bot"] and last["meta"]["next_page_url"] is None
    back = api.get(last["meta"]["previous_page_url"]).json()
    assert [m["identity"] for m in back["members"]] == [conversation.identity, "agent-1"]
    unfiltered = api.get(f"{conversation.path}/Members?PageSize=2").json()
    walked = [m["identity"] for m in unfiltered["members"]]
    walked += [m["identity"] for m in api.get(unfiltered["meta"]["next_page_url"]).json()["members"]]
    assert walked == [conversation.identity, "agent-1", "bot"]

    assert conversation.chat.members("bot").delete() is True
    assert conversation.chat.members(agent.sid).delete() is True
    assert [m.identity for m in conversation.chat.members.list()] == [conversation.identity]
    assert counts(server, account, conversation.sid)[0] == 1
    # A member who left can join again.
    assert conversation.chat.members.create(identity="bot").identity == "bot"
    assert counts(server, account, conversation.sid)[0] == 2


def test_member_events_and_errors(
    client: Client, conversation: Conversation, api: Api, server: ServerProcess, account: Account
) -> None:
    hook = conversation.chat.webhooks.create(
        type="webhook", configuration_url="https://example.com/members",
        configuration_filters=["onMemberAdded", "onMemberUpdated", "onMemberRemoved"],
    )
    conversation.chat.members.create(identity="quiet")
    assert outbox(server, account, conversation.sid) == []
    agent = conversation.chat.members.create(identity="agent", x_twilio_webhook_enabled="true")
    conversation.chat.members("agent").update(attributes='{"a": 1}', x_twilio_webhook_enabled="true")
    assert api.delete(f"{conversation.path}/Members/agent", headers=WEBHOOK_ENABLED).status_code == 204
    events = outbox(server, account, conversation.sid)
    assert [e["event_type"] for e in events] == ["onMemberAdded", "onMemberUpdated", "onMemberRemoved"]
    for event in events:
        params = event["params"]
        assert MILLIS.match(params.pop("DateCreated"))
        assert params == {
            "EventType": event["event_type"], "AccountSid": account.sid, "InstanceSid": conversation.service_sid,
            "ChannelSid": conversation.sid, "MemberSid": agent.sid, "Identity": "agent", "RoleSid": agent.role_sid,
            "Source": "API", "WebhookSid": hook.sid, "WebhookType": "webhook",
        }

    duplicate = api.post(f"{conversation.path}/Members", {"Identity": "quiet"})
    assert duplicate.status_code == 409 and duplicate.json()["code"] == 50404
    with pytest.raises(TwilioRestException) as error:
        conversation.chat.members.create(identity=conversation.identity)
    assert error.value.status == 409
    for form in ({}, {"Identity": ""}, {"Identity": "x", "Attributes": "[1"}, {"Identity": "x", "RoleSid": "RL1"},
                 {"Identity": "x", "LastConsumedMessageIndex": "-1"}, {"Identity": "x", "DateCreated": "soon"}):
        response = api.post(f"{conversation.path}/Members", form)
        assert response.status_code == 400, (form, response.text)
    assert api.post(f"{conversation.path}/Members/quiet", {"Attributes": "nope"}).status_code == 400
    for missing in (f"{conversation.path}/Members/nobody", f"{conversation.path}/Members/MB{'0' * 32}"):
        assert api.get(missing).status_code == 404
        assert api.post(missing, {}).status_code == 404
        assert api.delete(missing).status_code == 404
    assert counts(server, account, conversation.sid)[0] == 2
    assert api.get(f"/v2/Services/IS{'0' * 32}/Channels/{conversation.sid}/Members").status_code == 404
    assert api.get(f"/v2/Services/{conversation.service_sid}/Channels/nope/Members").status_code == 404
    # NUL names nothing, and neither engine stores it: a clear 4xx, never a 500.
    assert api.get(f"{conversation.path}/Members?Identity=a%00b").status_code == 400
    assert api.get(f"{conversation.path}/Members/a%00b").status_code == 404
    assert api.get(f"/v2/Services/{conversation.service_sid}/Channels/a%00b/Members").status_code == 404
    assert api.post(f"{conversation.path}/Members", {"Identity": "a\x00b"}).status_code == 400
    stranger = Api(server.base_url, add_account(server.database_url).auth)
    assert stranger.get(f"{conversation.path}/Members").status_code == 404
    assert stranger.get(f"{conversation.path}/Members/quiet").status_code == 404
    assert stranger.post(f"{conversation.path}/Members", {"Identity": "intruder"}).status_code == 404
    assert stranger.delete(f"{conversation.path}/Members/quiet").status_code == 404
    assert [m.identity for m in conversation.chat.members.list()] == [conversation.identity, "quiet"]


def test_a_unique_name_that_needs_encoding_pages_through_valid_urls(client: Client, api: Api) -> None:
    name = f"chat with Zoë {secrets.token_hex(3)}"
    conversation = Conversation(client, chat_unique_name=name)
    path = f"/v2/Services/{conversation.service_sid}/Channels/{quote(name)}/Messages"
    for n in range(3):
        assert api.post(path, {"Body": str(n)}).status_code == 201
    page = api.get(f"{path}?PageSize=2").json()
    assert page["meta"]["url"].endswith(f"{quote(name)}/Messages?PageSize=2&Page=0")
    assert " " not in page["meta"]["next_page_url"]
    rest = api.get(page["meta"]["next_page_url"]).json()
    assert [m["body"] for m in page["messages"] + rest["messages"]] == ["0", "1", "2"]
    assert rest["messages"][0]["url"].split("/Channels/")[1].startswith(conversation.sid)


# -- the shared pieces these resources added ----------------------------------------------------


def test_repeated_form_names_keep_every_value_in_order() -> None:
    assert decode_form_lists(b"", "body") == {}
    assert decode_form_lists(b"A=1&B=&A=2&A=%C3%A9+x", "body") == {"A": ["1", "2", "é x"], "B": [""]}
    with pytest.raises(InvalidParameter):
        decode_form_lists(b"A=%FF", "body")


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("2016-03-24T20:37:57Z", "2016-03-24T20:37:57Z"),
        ("2016-03-24T20:37:57.999Z", "2016-03-24T20:37:57Z"),
        ("2016-03-24T21:37:57+01:00", "2016-03-24T20:37:57Z"),
        ("2016-03-24T20:37:57", None),
        ("2016-03-24", None),
        ("0999-01-01T00:00:00Z", None),
        ("0001-01-01T00:00:00+01:00", None),
        ("tomorrow", None),
    ],
)
def test_dates_are_stored_in_utc_to_the_second(raw: str, stored: str | None) -> None:
    if stored is None:
        with pytest.raises(InvalidParameter):
            date_time("DateCreated", raw)
    else:
        assert date_time("DateCreated", raw) == stored
