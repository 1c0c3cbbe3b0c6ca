"""Conformance to Twilio's official OpenAPI description of Chat v2 (twilio_chat_v2.json),
for the operations flexchat implements, the same two ways as tests/test_conformance.py
does for Flex v1: a scenario through every operation (over HTTP and in process) whose
every response is validated with jsonschema, and schemathesis-generated requests sent to
a running ``flexchat serve`` (no 5xx; every 2xx body schema-valid).

Resources other engineers add (Members, Messages, channel Webhooks) extend
``OPERATIONS`` and the scenario here.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import secrets
import time
import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import requests

from flexchat.testing import InProcessFlexchat, ServerProcess

from .conftest import REFERENCE_DIR, Account
from .test_conformance import MAX_EXAMPLES, ConformanceReport, Spec, _SummaryPlugin, check_response

SPEC_PATH = REFERENCE_DIR / "twilio_chat_v2.json"

OPERATIONS = [
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
]

Call = Callable[[str, str, "dict[str, Any] | None"], "tuple[int, bytes]"]


@pytest.fixture(scope="module")
def spec() -> Spec:
    if not SPEC_PATH.is_file():
        pytest.skip(
            f"Twilio's OpenAPI spec is not at {SPEC_PATH}: put twilio_chat_v2.json there "
            "or point FLEXCHAT_REFERENCE_DIR at the directory holding it"
        )
    return dict(json.loads(SPEC_PATH.read_text(encoding="utf-8")))


# -- every operation, over HTTP and in process -----------------------------------------------


def test_every_operation_conforms_over_http(spec: Spec, server: ServerProcess, account: Account) -> None:
    session = requests.Session()
    session.auth = account.auth

    def over_http(method: str, target: str, data: dict[str, Any] | None) -> tuple[int, bytes]:
        url = target if target.startswith("http") else server.base_url + target
        response = session.request(method, url, data=data, timeout=30)
        return response.status_code, response.content

    every_operation(spec, over_http)


def test_every_operation_conforms_in_process(spec: Spec) -> None:
    with InProcessFlexchat() as instance:

        def in_process(method: str, target: str, data: dict[str, Any] | None) -> tuple[int, bytes]:
            host = "https://flex-api.twilio.com" if target.startswith("/v1/") else "https://chat.twilio.com"
            url = target if target.startswith("http") else host + target
            response = instance.request(method, url, data=data, auth=instance.auth)
            return response.status, response.body

        every_operation(spec, in_process)


def every_operation(spec: Spec, call: Call) -> None:
    """Every operation's success path, every page of the lists; each response validated."""
    seen: Counter[tuple[str, str]] = Counter()

    def do(method: str, path: str, target: str, data: dict[str, Any] | None = None) -> Any:
        status, body = call(method, target, data)
        check_response(spec, method, path, status, body)
        seen[(method, path)] += 1
        return json.loads(body) if body else None

    def flex(method: str, target: str, data: dict[str, Any]) -> Any:
        status, body = call(method, target, data)
        assert status == 201, body
        return json.loads(body)

    assert do("GET", "/v2/Services", "/v2/Services")["services"] == []
    service = do("POST", "/v2/Services", "/v2/Services", {"FriendlyName": "conformance"})
    is_ = service["sid"]
    do("GET", "/v2/Services/{Sid}", f"/v2/Services/{is_}")
    do("POST", "/v2/Services/{Sid}", f"/v2/Services/{is_}", {
        "FriendlyName": "renamed", "ReadStatusEnabled": "false", "ReachabilityEnabled": "true",
        "TypingIndicatorTimeout": "3", "ConsumptionReportInterval": "4", "Notifications.NewMessage.Enabled": "true",
        "Notifications.NewMessage.Template": "t", "Notifications.NewMessage.BadgeCountEnabled": "true",
        "Notifications.LogEnabled": "true", "PreWebhookUrl": "https://example.com/pre",
        "PostWebhookUrl": "https://example.com/post", "WebhookMethod": "POST",
        "WebhookFilters": ["onMessageSent", "onChannelUpdated"], "Limits.ChannelMembers": "10",
        "Limits.UserChannels": "20", "Media.CompatibilityMessage": "m", "PreWebhookRetryCount": "1",
        "PostWebhookRetryCount": "2", "DefaultServiceRoleSid": "RL" + "1" * 32,
    })
    do("POST", "/v2/Services", "/v2/Services", {"FriendlyName": "second"})

    channels = f"/v2/Services/{is_}/Channels"
    created = [
        do("POST", "/v2/Services/{ServiceSid}/Channels", channels, {
            "FriendlyName": f"c{i}", "Type": "private" if i % 2 else "public", "Attributes": json.dumps({"i": i}),
            **({"UniqueName": "named", "DateCreated": "2020-01-01T00:00:00Z", "CreatedBy": "me"} if i == 0 else {}),
        })
        for i in range(5)
    ]
    do("GET", "/v2/Services/{ServiceSid}/Channels/{Sid}", f"{channels}/{created[1]['sid']}")
    do("GET", "/v2/Services/{ServiceSid}/Channels/{Sid}", f"{channels}/named")
    do("POST", "/v2/Services/{ServiceSid}/Channels/{Sid}", f"{channels}/named", {
        "Attributes": '{"status": "INACTIVE"}', "FriendlyName": "f", "UniqueName": "renamed",
        "DateUpdated": "2021-01-01T00:00:00Z", "CreatedBy": "you",
    })
    assert [c["sid"] for c in do("GET", "/v2/Services/{ServiceSid}/Channels", f"{channels}?Type=private")[
        "channels"]] == [created[1]["sid"], created[3]["sid"]]

    users = f"/v2/Services/{is_}/Users"
    for identity in ("u1", "u2", "u3"):
        do("POST", "/v2/Services/{ServiceSid}/Users", users, {
            "Identity": identity, "FriendlyName": identity.upper(), "Attributes": "{}",
            "RoleSid": "RL" + "2" * 32,
        })
    do("GET", "/v2/Services/{ServiceSid}/Users/{Sid}", f"{users}/u1")
    do("POST", "/v2/Services/{ServiceSid}/Users/{Sid}", f"{users}/u1", {"FriendlyName": "x", "Attributes": "[1]"})

    # Memberships come from Flex channels here (Members are another resource).
    for name in ("f", "g"):
        flow = flex("POST", "/v1/FlexFlows", {
            "FriendlyName": name, "ChatServiceSid": is_, "ChannelType": "web", "Integration.FlowSid": "FW" + "3" * 32,
        })
        flex("POST", "/v1/Channels", {
            "FlexFlowSid": flow["sid"], "Identity": "u1", "ChatUserFriendlyName": "U", "ChatFriendlyName": "C",
        })
    memberships = do("GET", "/v2/Services/{ServiceSid}/Users/{UserSid}/Channels", f"{users}/u1/Channels")
    assert len(memberships["channels"]) == 2
    member_channel = memberships["channels"][0]["channel_sid"]
    user_channel = "/v2/Services/{ServiceSid}/Users/{UserSid}/Channels/{ChannelSid}"
    do("GET", user_channel, f"{users}/u1/Channels/{member_channel}")

    # Every page of every list, forwards and back, through the URLs the server emits.
    for path, target, key, total in (
        ("/v2/Services", "/v2/Services", "services", 2),
        ("/v2/Services/{ServiceSid}/Channels", channels, "channels", 7),
        ("/v2/Services/{ServiceSid}/Users", users, "users", 3),
        ("/v2/Services/{ServiceSid}/Users/{UserSid}/Channels", f"{users}/u1/Channels", "channels", 2),
    ):
        page = do("GET", path, f"{target}?PageSize=1")
        sids = [item.get("sid") or item["channel_sid"] for item in page[key]]
        while page["meta"]["next_page_url"]:
            page = do("GET", path, page["meta"]["next_page_url"])
            sids += [item.get("sid") or item["channel_sid"] for item in page[key]]
        assert len(sids) == len(set(sids)) == total, (path, sids)
        while page["meta"]["previous_page_url"]:
            page = do("GET", path, page["meta"]["previous_page_url"])
        assert (page[key][0].get("sid") or page[key][0]["channel_sid"]) == sids[0]

    do("DELETE", "/v2/Services/{ServiceSid}/Users/{Sid}", f"{users}/u2")
    do("DELETE", "/v2/Services/{ServiceSid}/Channels/{Sid}", f"{channels}/{created[2]['sid']}")
    do("DELETE", "/v2/Services/{Sid}", f"/v2/Services/{is_}")
    assert set(seen) == set(OPERATIONS)


# -- property-based: requests generated from the spec ----------------------------------------


@pytest.fixture(scope="session")
def chat_conformance_report(pytestconfig: pytest.Config) -> ConformanceReport:
    report = ConformanceReport(operations=len(OPERATIONS), spec_name="twilio_chat_v2.json")
    pytestconfig.pluginmanager.register(_SummaryPlugin(report), "flexchat-chat-conformance-summary")
    return report


@pytest.fixture(scope="module")
def schema(spec: Spec) -> Any:
    import schemathesis

    return schemathesis.openapi.from_dict(copy.deepcopy(spec))


class World:
    """A service with a channel and a user who is a member of a channel, so generated
    path parameters can be swapped for ones that name real resources."""

    def __init__(self, base_url: str, auth: tuple[str, str]) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.auth = auth
        self.service_sid = self.channel_sid = self.user_sid = self.member_channel_sid = ""
        self.renew()

    def post(self, path: str, data: dict[str, str]) -> dict[str, Any]:
        response = self.session.post(self.base_url + path, data=data, timeout=30)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def renew(self) -> None:
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
        response = self.session.get(f"{self.base_url}/v2/Services/{self.service_sid}/Users/{identity}", timeout=30)
        assert response.status_code == 200, response.text
        self.user_sid = response.json()["sid"]

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


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_generated_requests_conform(
    method: str,
    path: str,
    spec: Spec,
    schema: Any,
    server: ServerProcess,
    account: Account,
    engine: str,
    chat_conformance_report: ConformanceReport,
    record_property: Callable[[str, object], None],
) -> None:
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

    operation = schema[path][method]
    world = World(server.base_url, account.auth)
    session = requests.Session()
    authorization = "Basic " + base64.b64encode(f"{account.sid}:{account.auth_token}".encode()).decode()
    statuses: Counter[int] = Counter()
    started = time.perf_counter()
    report = chat_conformance_report

    def send(case: Any) -> None:
        response = case.call(base_url=server.base_url, session=session, headers={"Authorization": authorization})
        statuses[response.status_code] += 1
        case.validate_response(
            response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
        )
        if 200 <= response.status_code < 300:
            check_response(spec, method, path, response.status_code, response.content)
            if method == "DELETE":
                world.renew()

    def run(mode: GenerationMode) -> None:
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def each(case: Any) -> None:
            # As generated: random Sids mostly name nothing (404, 400), which must be answered well too.
            send(case)
            # Then with path parameters that name real resources, so success paths see generated input.
            if "{" in path:
                case.path_parameters = {**(case.path_parameters or {}), **world.path_parameters(path)}
                send(case)

        each()

    try:
        run(GenerationMode.POSITIVE)
        run(GenerationMode.NEGATIVE)
    finally:
        sent = sum(statuses.values())
        successes = sum(n for status, n in statuses.items() if 200 <= status < 300)
        report.requests[engine] += sent
        report.successes[engine] += successes
        report.statuses.setdefault(engine, Counter()).update(statuses)
        report.seconds[engine] += time.perf_counter() - started
        record_property("generated_requests", sent)
        if os.environ.get("PYTEST_XDIST_WORKER"):
            warnings.warn(f"{method} {path} [{engine}]: {sent} generated requests", stacklevel=1)
    assert successes > 0, f"no generated request to {method} {path} succeeded: {dict(statuses)}"
    assert not any(status >= 500 for status in statuses)
