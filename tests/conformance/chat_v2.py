"""Chat v2 (twilio_chat_v2.json), in two tables: Services, Channels, Users and User
Channels; and a channel's Members, Messages and Webhooks (under a Flex channel), whose
generated requests get half the examples, as fifteen more operations would otherwise
double the run."""

from __future__ import annotations

import json
import secrets
from typing import Any

from ..helpers.conformance import MAX_EXAMPLES, Exercise, Resources, Table

SPEC_NAME = "twilio_chat_v2.json"
# The in-process scenarios' host: routes go by path, so it serves the /v1 setup requests too.
HOST = "https://chat.twilio.com"

OPERATIONS = (
    ("GET", "/v2/Services"),
    ("POST", "/v2/Services"),
    ("GET", "/v2/Services/{Sid}"),
    ("POST", "/v2/Services/{Sid}"),
    ("DELETE", "/v2/Services/{Sid}"),
    ("GET", "/v2/Services/{ServiceSid}/Channels"),
    ("POST", "/v2/Services/{ServiceSid}/Channels"),
    ("GET", "/v2/Services/{ServiceSid}/Channels/{Sid}"),
    ("POST", "/v2/Services/{ServiceSid}/Channels/{Sid}"),
    ("DELETE", "/v2/Services/{ServiceSid}/Channels/{Sid}"),
    ("GET", "/v2/Services/{ServiceSid}/Users"),
    ("POST", "/v2/Services/{ServiceSid}/Users"),
    ("GET", "/v2/Services/{ServiceSid}/Users/{Sid}"),
    ("POST", "/v2/Services/{ServiceSid}/Users/{Sid}"),
    ("DELETE", "/v2/Services/{ServiceSid}/Users/{Sid}"),
    ("GET", "/v2/Services/{ServiceSid}/Users/{UserSid}/Channels"),
    ("GET", "/v2/Services/{ServiceSid}/Users/{UserSid}/Channels/{ChannelSid}"),
)


def scenario(x: Exercise) -> None:
    """Every service, channel, user and user channel operation's success path, every page
    of the lists."""
    assert x.do("GET", "/v2/Services", "/v2/Services")["services"] == []
    service = x.do("POST", "/v2/Services", "/v2/Services", {"FriendlyName": "conformance"})
    is_ = service["sid"]
    x.do("GET", "/v2/Services/{Sid}", f"/v2/Services/{is_}")
    x.do("POST", "/v2/Services/{Sid}", f"/v2/Services/{is_}", {
        "FriendlyName": "renamed", "ReadStatusEnabled": "false", "ReachabilityEnabled": "true",
        "TypingIndicatorTimeout": "3", "ConsumptionReportInterval": "4", "Notifications.NewMessage.Enabled": "true",
        "Notifications.NewMessage.Template": "t", "Notifications.NewMessage.BadgeCountEnabled": "true",
        "Notifications.LogEnabled": "true", "PreWebhookUrl": "https://example.com/pre",
        "PostWebhookUrl": "https://example.com/post", "WebhookMethod": "POST",
        "WebhookFilters": ["onMessageSent", "onChannelUpdated"], "Limits.ChannelMembers": "10",
        "Limits.UserChannels": "20", "Media.CompatibilityMessage": "m", "PreWebhookRetryCount": "1",
        "PostWebhookRetryCount": "2", "DefaultServiceRoleSid": "RL" + "1" * 32,
    })
    x.do("POST", "/v2/Services", "/v2/Services", {"FriendlyName": "second"})

    channels = f"/v2/Services/{is_}/Channels"
    created = [
        x.do("POST", "/v2/Services/{ServiceSid}/Channels", channels, {
            "FriendlyName": f"c{i}", "Type": "private" if i % 2 else "public", "Attributes": json.dumps({"i": i}),
            **({"UniqueName": "named", "DateCreated": "2020-01-01T00:00:00Z", "CreatedBy": "me"} if i == 0 else {}),
        })
        for i in range(5)
    ]
    x.do("GET", "/v2/Services/{ServiceSid}/Channels/{Sid}", f"{channels}/{created[1]['sid']}")
    x.do("GET", "/v2/Services/{ServiceSid}/Channels/{Sid}", f"{channels}/named")
    x.do("POST", "/v2/Services/{ServiceSid}/Channels/{Sid}", f"{channels}/named", {
        "Attributes": '{"status": "INACTIVE"}', "FriendlyName": "f", "UniqueName": "renamed",
        "DateUpdated": "2021-01-01T00:00:00Z", "CreatedBy": "you",
    })
    assert [c["sid"] for c in x.do("GET", "/v2/Services/{ServiceSid}/Channels", f"{channels}?Type=private")[
        "channels"]] == [created[1]["sid"], created[3]["sid"]]

    users = f"/v2/Services/{is_}/Users"
    for identity in ("u1", "u2", "u3"):
        x.do("POST", "/v2/Services/{ServiceSid}/Users", users, {
            "Identity": identity, "FriendlyName": identity.upper(), "Attributes": "{}",
            "RoleSid": "RL" + "2" * 32,
        })
    x.do("GET", "/v2/Services/{ServiceSid}/Users/{Sid}", f"{users}/u1")
    x.do("POST", "/v2/Services/{ServiceSid}/Users/{Sid}", f"{users}/u1", {"FriendlyName": "x", "Attributes": "[1]"})

    # Memberships come from Flex channels here (Members have their own table).
    for name in ("f", "g"):
        flow = x.create("/v1/FlexFlows", {
            "FriendlyName": name, "ChatServiceSid": is_, "ChannelType": "web", "Integration.FlowSid": "FW" + "3" * 32,
        })
        x.create("/v1/Channels", {
            "FlexFlowSid": flow["sid"], "Identity": "u1", "ChatUserFriendlyName": "U", "ChatFriendlyName": "C",
        })
    memberships = x.do("GET", "/v2/Services/{ServiceSid}/Users/{UserSid}/Channels", f"{users}/u1/Channels")
    assert len(memberships["channels"]) == 2
    member_channel = memberships["channels"][0]["channel_sid"]
    user_channel = "/v2/Services/{ServiceSid}/Users/{UserSid}/Channels/{ChannelSid}"
    x.do("GET", user_channel, f"{users}/u1/Channels/{member_channel}")

    x.every_page("/v2/Services", "/v2/Services?PageSize=1", "services", 2)
    x.every_page("/v2/Services/{ServiceSid}/Channels", f"{channels}?PageSize=1", "channels", 7)
    x.every_page("/v2/Services/{ServiceSid}/Users", f"{users}?PageSize=1", "users", 3)
    x.every_page(
        "/v2/Services/{ServiceSid}/Users/{UserSid}/Channels", f"{users}/u1/Channels?PageSize=1", "channels", 2
    )

    x.do("DELETE", "/v2/Services/{ServiceSid}/Users/{Sid}", f"{users}/u2")
    x.do("DELETE", "/v2/Services/{ServiceSid}/Channels/{Sid}", f"{channels}/{created[2]['sid']}")
    x.do("DELETE", "/v2/Services/{Sid}", f"/v2/Services/{is_}")


class World(Resources):
    """A service with a channel and a user who is a member of a channel, so generated
    path parameters can be swapped for ones that name real resources."""

    def __init__(self, base_url: str, auth: tuple[str, str]) -> None:
        super().__init__(base_url, auth)
        self.service_sid = self.channel_sid = self.user_sid = self.member_channel_sid = ""
        self.renew("")

    def renew(self, path: str) -> None:
        """All of it anew, in a new service (a delete removed some of it)."""
        self.service_sid = "IS" + secrets.token_hex(16)
        flow = self.post("/v1/FlexFlows", {
            "FriendlyName": "conformance", "ChatServiceSid": self.service_sid, "ChannelType": "web",
            "Integration.FlowSid": "FW" + secrets.token_hex(16),
        })
        identity = secrets.token_hex(8)
        self.member_channel_sid = self.post("/v1/Channels", {
            "FlexFlowSid": flow["sid"], "Identity": identity, "ChatUserFriendlyName": "c", "ChatFriendlyName": "c",
        })["sid"]
        self.channel_sid = self.post(f"/v2/Services/{self.service_sid}/Channels", {"FriendlyName": "c"})["sid"]
        self.user_sid = self.get(f"/v2/Services/{self.service_sid}/Users/{identity}")["sid"]

    def path_parameters(self, path: str) -> dict[str, str]:
        """Real values for each of the path's parameters."""
        values = {"ServiceSid": self.service_sid, "UserSid": self.user_sid, "ChannelSid": self.member_channel_sid}
        if path == "/v2/Services/{Sid}":
            values["Sid"] = self.service_sid
        elif "/Channels/{Sid}" in path:
            values["Sid"] = self.channel_sid
        elif "/Users/{Sid}" in path:
            values["Sid"] = self.user_sid
        return {name: value for name, value in values.items() if "{" + name + "}" in path}


TABLE = Table(
    name="chat_v2",
    spec_name=SPEC_NAME,
    host=HOST,
    operations=OPERATIONS,
    scenario=scenario,
    world=World,
)


# -- a channel's Members, Messages and Webhooks ----------------------------------------------

_CHANNEL = "/v2/Services/{ServiceSid}/Channels/{ChannelSid}"
CHANNEL_OPERATIONS = tuple(
    (method, f"{_CHANNEL}/{kind}{suffix}")
    for kind in ("Members", "Messages", "Webhooks")
    for method, suffix in (("GET", ""), ("POST", ""), ("GET", "/{Sid}"), ("POST", "/{Sid}"), ("DELETE", "/{Sid}"))
)


def channel_scenario(x: Exercise) -> None:
    """Every member, message and webhook operation's success path under a Flex channel,
    every page of each list both ways."""
    flow = x.create("/v1/FlexFlows", {
        "FriendlyName": "chat", "ChatServiceSid": "IS" + secrets.token_hex(16), "ChannelType": "custom",
        "IntegrationType": "external", "Integration.Url": "https://example.com/hook", "Integration.RetryCount": "1",
    })
    channel = x.create("/v1/Channels", {
        "FlexFlowSid": flow["sid"], "Identity": "alice", "ChatUserFriendlyName": "Alice", "ChatFriendlyName": "chat",
    })
    base = f"/v2/Services/{flow['chat_service_sid']}/Channels/{channel['sid']}"

    members, messages, webhooks = (f"{_CHANNEL}/{name}" for name in ("Members", "Messages", "Webhooks"))
    for identity in ("bob", "carol"):
        x.do("POST", members, f"{base}/Members", {"Identity": identity, "Attributes": '{"n": 1}',
                                                  "LastConsumedMessageIndex": "0",
                                                  "LastConsumptionTimestamp": "2024-01-02T03:04:05Z"})
    x.do("GET", f"{members}/{{Sid}}", f"{base}/Members/bob")
    bob = x.do("POST", f"{members}/{{Sid}}", f"{base}/Members/bob", {"RoleSid": "RL" + "a" * 32})
    x.do("GET", members, f"{base}/Members?Identity=bob&Identity=carol")
    for n in range(5):
        x.do("POST", messages, f"{base}/Messages", {"Body": f"m{n}", "From": "alice", "Attributes": "{}"})
    media = x.do("POST", messages, f"{base}/Messages", {"MediaSid": "ME" + "b" * 32})
    x.do("GET", f"{messages}/{{Sid}}", f"{base}/Messages/{media['sid']}")
    x.do("POST", f"{messages}/{{Sid}}", f"{base}/Messages/{media['sid']}", {"Body": "edited", "LastUpdatedBy": "bob"})
    for n in range(6):
        x.do("POST", webhooks, f"{base}/Webhooks", {
            "Type": "webhook", "Configuration.Url": f"https://example.com/{n}", "Configuration.Method": "GET",
            "Configuration.Filters": ["onMessageSent", "onChannelUpdated"], "Configuration.RetryCount": "1",
        })
    studio = x.do("POST", webhooks, f"{base}/Webhooks", {"Type": "studio", "Configuration.FlowSid": "FW" + "c" * 32})
    x.do("GET", f"{webhooks}/{{Sid}}", f"{base}/Webhooks/{studio['sid']}")
    x.do("POST", f"{webhooks}/{{Sid}}", f"{base}/Webhooks/{studio['sid']}", {"Configuration.RetryCount": "2"})

    x.every_page(members, f"{base}/Members?PageSize=2", "members", 3)
    x.every_page(messages, f"{base}/Messages?PageSize=2", "messages", 6)
    x.every_page(messages, f"{base}/Messages?PageSize=4&Order=desc", "messages", 6)
    x.every_page(webhooks, f"{base}/Webhooks", "webhooks", 8)

    x.do("DELETE", f"{members}/{{Sid}}", f"{base}/Members/{bob['sid']}")
    x.do("DELETE", f"{messages}/{{Sid}}", f"{base}/Messages/{media['sid']}")
    x.do("DELETE", f"{webhooks}/{{Sid}}", f"{base}/Webhooks/{studio['sid']}")


class ChannelWorld(Resources):
    """A Flex channel with a member, a message and a webhook, so generated Sids can be
    swapped for real ones; what a successful delete removed is made again."""

    def __init__(self, base_url: str, auth: tuple[str, str]) -> None:
        super().__init__(base_url, auth)
        flow = self.post("/v1/FlexFlows", {
            "FriendlyName": "conformance", "ChatServiceSid": "IS" + secrets.token_hex(16), "ChannelType": "web",
            "IntegrationType": "external", "Integration.Url": "https://example.com/hook",
        })
        channel = self.post("/v1/Channels", {
            "FlexFlowSid": flow["sid"], "Identity": secrets.token_hex(8),
            "ChatUserFriendlyName": "conformance", "ChatFriendlyName": "conformance",
        })
        self.service_sid, self.channel_sid = flow["chat_service_sid"], channel["sid"]
        self.sids: dict[str, str] = {}
        for kind in ("Members", "Messages", "Webhooks"):
            self._make(kind)

    def _make(self, kind: str) -> None:
        form = {
            "Members": {"Identity": secrets.token_hex(8)},
            "Messages": {"Body": "conformance"},
            "Webhooks": {"Type": "webhook", "Configuration.Url": "https://example.com/w"},
        }[kind]
        path = f"/v2/Services/{self.service_sid}/Channels/{self.channel_sid}/{kind}"
        self.sids[kind] = self.post(path, form)["sid"]

    def renew(self, path: str) -> None:
        """A new member, message or webhook, the kind the deleted one was."""
        self._make(_kind(path))

    def path_parameters(self, path: str) -> dict[str, str]:
        """The real service and channel, and the real member, message or webhook as ``Sid``."""
        real = {"ServiceSid": self.service_sid, "ChannelSid": self.channel_sid}
        if "{Sid}" in path:
            real["Sid"] = self.sids[_kind(path)]
        return real

    def fix_body(self, method: str, path: str, body: dict[str, Any]) -> bool:
        """Webhook forms with an http(s) URL: generated ones rarely are, and a new webhook
        needs the type whose keys it has."""
        if _kind(path) != "Webhooks" or method != "POST":
            return False
        body["Configuration.Url"] = "https://example.com/generated"
        if "{Sid}" not in path:
            body["Type"] = "webhook"
        return True


def _kind(path: str) -> str:
    return path.split("/")[6]


CHANNEL_TABLE = Table(
    name="chat_v2_channel",
    spec_name=SPEC_NAME,
    host=HOST,
    operations=CHANNEL_OPERATIONS,
    scenario=channel_scenario,
    world=ChannelWorld,
    examples=max(1, MAX_EXAMPLES // 2),
)
