"""Flex v1 (twilio_flex_v1.json): Flex Flows and Channels. The spec's other paths
(WebChannels, Insights, ...) are out of scope."""

from __future__ import annotations

import secrets
from typing import Any

from ..helpers.conformance import Exercise, Resources, Table

OPERATIONS = (
    ("GET", "/v1/Channels"),
    ("POST", "/v1/Channels"),
    ("GET", "/v1/Channels/{Sid}"),
    ("DELETE", "/v1/Channels/{Sid}"),
    ("GET", "/v1/FlexFlows"),
    ("POST", "/v1/FlexFlows"),
    ("GET", "/v1/FlexFlows/{Sid}"),
    ("POST", "/v1/FlexFlows/{Sid}"),
    ("DELETE", "/v1/FlexFlows/{Sid}"),
)


def scenario(x: Exercise) -> None:
    """Every operation's success path, every page of both lists."""
    assert x.do("GET", "/v1/FlexFlows", "/v1/FlexFlows")["flex_flows"] == []
    assert x.do("GET", "/v1/Channels", "/v1/Channels")["flex_chat_channels"] == []
    common = {"ChatServiceSid": "IS" + secrets.token_hex(16), "ChannelType": "web"}
    studio = x.do("POST", "/v1/FlexFlows", "/v1/FlexFlows", {
        **common, "FriendlyName": "studio", "IntegrationType": "studio", "Integration.FlowSid": "FW" + "1" * 32,
        "Integration.RetryCount": "2", "ContactIdentity": "+15550100", "LongLived": "true",
    })
    external = x.do("POST", "/v1/FlexFlows", "/v1/FlexFlows", {
        **common, "FriendlyName": "external", "IntegrationType": "external",
        "Integration.Url": "https://example.com/hook", "JanitorEnabled": "true", "Enabled": "false",
    })
    task = x.do("POST", "/v1/FlexFlows", "/v1/FlexFlows", {
        **common, "FriendlyName": "task", "ChannelType": "sms", "IntegrationType": "task",
        "Integration.WorkspaceSid": "WS" + "2" * 32, "Integration.WorkflowSid": "WW" + "3" * 32,
        "Integration.Channel": "sms", "Integration.Timeout": "60", "Integration.Priority": "3",
        "Integration.CreationOnMessage": "true",
    })
    x.do("GET", "/v1/FlexFlows/{Sid}", f"/v1/FlexFlows/{studio['sid']}")
    x.do("POST", "/v1/FlexFlows/{Sid}", f"/v1/FlexFlows/{external['sid']}", {"Enabled": "true", "FriendlyName": "ext"})
    x.do("POST", "/v1/FlexFlows/{Sid}", f"/v1/FlexFlows/{studio['sid']}", {})
    assert [f["sid"] for f in x.do("GET", "/v1/FlexFlows", "/v1/FlexFlows?FriendlyName=task")["flex_flows"]] == [
        task["sid"]
    ]

    channels = []
    for flow in (studio, external, task):
        for identity in ("alice", "bob"):
            channels.append(x.do("POST", "/v1/Channels", "/v1/Channels", {
                "FlexFlowSid": flow["sid"], "Identity": identity,
                "ChatUserFriendlyName": identity, "ChatFriendlyName": f"{identity} chat",
            }))
    x.do("GET", "/v1/Channels/{Sid}", f"/v1/Channels/{channels[-1]['sid']}")

    x.every_page("/v1/Channels", "/v1/Channels?PageSize=2", "flex_chat_channels", 6)
    x.every_page("/v1/FlexFlows", "/v1/FlexFlows?PageSize=2", "flex_flows", 3)

    x.do("DELETE", "/v1/Channels/{Sid}", f"/v1/Channels/{channels[0]['sid']}")
    x.do("DELETE", "/v1/FlexFlows/{Sid}", f"/v1/FlexFlows/{external['sid']}")


class World(Resources):
    """A Flex Flow and a channel that exist, so generated Sids can be swapped for real ones."""

    def __init__(self, base_url: str, auth: tuple[str, str]) -> None:
        super().__init__(base_url, auth)
        self.flow_sid = self.channel_sid = ""
        self.renew("")

    def renew(self, path: str) -> None:
        """A new flow and channel (a delete removed one of them)."""
        self.flow_sid = self.post("/v1/FlexFlows", {
            "FriendlyName": "conformance", "ChatServiceSid": "IS" + secrets.token_hex(16), "ChannelType": "web",
            "Integration.FlowSid": "FW" + secrets.token_hex(16),
        })["sid"]
        self.channel_sid = self.post("/v1/Channels", {
            "FlexFlowSid": self.flow_sid, "Identity": secrets.token_hex(8),
            "ChatUserFriendlyName": "conformance", "ChatFriendlyName": "conformance",
        })["sid"]

    def path_parameters(self, path: str) -> dict[str, str]:
        """The real channel or flow as ``Sid``."""
        if "{Sid}" not in path:
            return {}
        return {"Sid": self.channel_sid if path.startswith("/v1/Channels") else self.flow_sid}

    def fix_body(self, method: str, path: str, body: dict[str, Any]) -> bool:
        """A channel created on the real flow."""
        if (method, path) != ("POST", "/v1/Channels"):
            return False
        body["FlexFlowSid"] = self.flow_sid
        return True


TABLE = Table(
    name="flex_v1",
    spec_name="twilio_flex_v1.json",
    host="https://flex-api.twilio.com",
    operations=OPERATIONS,
    scenario=scenario,
    world=World,
    required_in_ci=True,
)
