"""Conformance to Twilio's official OpenAPI description of the Flex API v1.

Two parts:

- a scenario through every implemented operation, over real HTTP and in process, whose
  every response is validated with jsonschema against the spec's response schema (the
  OpenAPI 3.0 ``nullable`` keyword translated to JSON Schema);
- a property-based run: schemathesis generates requests (valid and invalid) from the
  spec for those operations and sends them to a running ``flexchat serve``; no response
  may be a 5xx, and every 2xx body must be schema-valid. The number of generated requests
  is printed in the terminal summary of every run.

The spec is read from ``tests/conftest.py REFERENCE_DIR``: FLEXCHAT_REFERENCE_DIR, else
``../shared/reference``, else ``.cache/twilio-api`` where ``make reference`` puts it (from
the npm package @twilio/cli-core). It is never copied into the repository; where it is
absent these tests skip and say how to get it.
"""

from __future__ import annotations

import base64
import copy
import http.client
import json
import os
import re
import secrets
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import requests

from flexchat.testing import InProcessFlexchat, ServerProcess

from .conftest import REFERENCE_CANDIDATES, REFERENCE_DIR, Account

SPEC_PATH = REFERENCE_DIR / "twilio_flex_v1.json"

# The operations flexchat implements; the spec's other paths (WebChannels, Insights, ...) are out of scope.
OPERATIONS = [
    ("GET", "/v1/Channels"),
    ("POST", "/v1/Channels"),
    ("GET", "/v1/Channels/{Sid}"),
    ("DELETE", "/v1/Channels/{Sid}"),
    ("GET", "/v1/FlexFlows"),
    ("POST", "/v1/FlexFlows"),
    ("GET", "/v1/FlexFlows/{Sid}"),
    ("POST", "/v1/FlexFlows/{Sid}"),
    ("DELETE", "/v1/FlexFlows/{Sid}"),
]
# Examples per operation and generation mode (positive, negative); keeps the run well under a minute.
MAX_EXAMPLES = int(os.environ.get("FLEXCHAT_CONFORMANCE_EXAMPLES", "40"))

Spec = dict[str, Any]


@pytest.fixture(scope="module")
def spec() -> Spec:
    if not SPEC_PATH.is_file():
        looked = " nor ".join(str(path) for path in REFERENCE_CANDIDATES)
        reason = (
            f"Twilio's OpenAPI spec twilio_flex_v1.json is not in {looked}: run `make reference` "
            "(fetches it from the npm package @twilio/cli-core 9.0.0 into .cache/twilio-api), "
            "or set FLEXCHAT_REFERENCE_DIR to a directory holding it"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true requires the conformance tests to run: " + reason)
        pytest.skip(reason)
    return dict(json.loads(SPEC_PATH.read_text(encoding="utf-8")))


# -- OpenAPI 3.0 schemas as JSON Schema ------------------------------------------------------


def to_json_schema(node: Any, spec: Spec) -> Any:
    """An OpenAPI 3.0 schema object as plain JSON Schema: refs inlined, ``nullable`` as a type."""
    if isinstance(node, list):
        return [to_json_schema(item, spec) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/components/schemas/")
        resolved = to_json_schema(spec["components"]["schemas"][name], spec)
        return {"anyOf": [resolved, {"type": "null"}]} if node.get("nullable") else resolved
    out = {key: to_json_schema(value, spec) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


# RFC 3986 authority: userinfo, a reg-name, IPv4 or [IP literal], and an all-digit port.
_AUTHORITY = re.compile(r"(?:[\w.~!$&'()*+,;=:%-]*@)?(?:[\w.~!$&'()*+,;=%-]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?", re.ASCII)


def _is_uri(value: object) -> bool:
    """An absolute URI (what format "uri" means), checked as strictly as its syntax allows."""
    if not isinstance(value, str):
        return True
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return (
        re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme) is not None
        and _AUTHORITY.fullmatch(parts.netloc) is not None
        and bool(parts.netloc)
        and not any(c.isspace() or ord(c) > 126 for c in value)
    )


# jsonschema checks these formats only with optional packages installed: check them here.
FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("date-time")(_is_date_time)
FORMATS.checks("uri")(_is_uri)


def response_validator(spec: Spec, method: str, path: str, status: int) -> jsonschema.protocols.Validator | None:
    """A validator of the JSON body the spec documents for this status; None for no body."""
    responses = spec["paths"][path][method.lower()]["responses"]
    documented = responses.get(str(status))
    if documented is None:
        raise AssertionError(f"{method} {path} answered {status}; the spec documents only {sorted(responses)}")
    content = documented.get("content")
    if not content:
        return None
    schema = to_json_schema(content["application/json"]["schema"], spec)
    return jsonschema.Draft4Validator(schema, format_checker=FORMATS)


def check_response(spec: Spec, method: str, path: str, status: int, body: bytes) -> None:
    """Fail unless ``status`` is a documented 2xx and ``body`` matches its schema."""
    assert 200 <= status < 300, f"{method} {path}: {status} {body[:500]!r}"
    validator = response_validator(spec, method, path, status)
    if validator is None:
        assert body == b"", f"{method} {path}: {status} must have no body, got {body[:200]!r}"
        return
    errors = sorted(validator.iter_errors(json.loads(body)), key=lambda e: list(e.path))
    assert not errors, f"{method} {path} {status}: " + "; ".join(
        f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:5]
    )


def test_the_validator_catches_what_the_spec_forbids(spec: Spec) -> None:
    channel = {
        "account_sid": "AC" + "a" * 32,
        "flex_flow_sid": "FO" + "b" * 32,
        "sid": "CH" + "c" * 32,
        "user_sid": "US" + "d" * 32,
        "task_sid": None,  # nullable
        "url": "https://flex-api.twilio.com/v1/Channels/CH" + "c" * 32,
        "date_created": "2016-08-01T22:10:40Z",
        "date_updated": "2016-08-01T22:10:40Z",
    }
    check_response(spec, "GET", "/v1/Channels/{Sid}", 200, json.dumps(channel).encode())
    for name, bad in [
        ("sid", "FO" + "c" * 32),
        ("task_sid", "WT123"),
        ("date_created", "2016-08-01 22:10:40"),
        ("date_updated", "2016-13-01T22:10:40Z"),
        ("url", "/v1/Channels/relative"),
        ("url", "http://a:b:c/v1/Channels"),
        ("url", "http://[[[/v1/Channels"),
        ("user_sid", 42),
    ]:
        with pytest.raises(AssertionError, match=name):
            check_response(spec, "GET", "/v1/Channels/{Sid}", 200, json.dumps({**channel, name: bad}).encode())
    flow = {"channel_type": "fax", "enabled": True, "integration": {"anything": 1}}
    with pytest.raises(AssertionError, match="channel_type"):
        check_response(spec, "GET", "/v1/FlexFlows/{Sid}", 200, json.dumps(flow).encode())
    check_response(spec, "GET", "/v1/FlexFlows/{Sid}", 200, json.dumps({**flow, "channel_type": "web"}).encode())
    with pytest.raises(AssertionError, match="no body"):
        check_response(spec, "DELETE", "/v1/Channels/{Sid}", 204, b"{}")
    with pytest.raises(AssertionError, match="documents only"):
        check_response(spec, "POST", "/v1/Channels", 200, json.dumps(channel).encode())


# -- every operation, over HTTP and in process -----------------------------------------------

Call = Callable[[str, str, "dict[str, Any] | None"], "tuple[int, bytes]"]


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
            url = target if target.startswith("http") else "https://flex-api.twilio.com" + target
            response = instance.request(method, url, data=data, auth=instance.auth)
            return response.status, response.body

        every_operation(spec, in_process)


def every_operation(spec: Spec, call: Call) -> None:
    """Every operation's success path, every page of both lists; each response validated."""
    seen: Counter[tuple[str, str]] = Counter()

    def do(method: str, path: str, target: str, data: dict[str, Any] | None = None) -> Any:
        status, body = call(method, target, data)
        check_response(spec, method, path, status, body)
        seen[(method, path)] += 1
        return json.loads(body) if body else None

    assert do("GET", "/v1/FlexFlows", "/v1/FlexFlows")["flex_flows"] == []
    assert do("GET", "/v1/Channels", "/v1/Channels")["flex_chat_channels"] == []
    common = {"ChatServiceSid": "IS" + secrets.token_hex(16), "ChannelType": "web"}
    studio = do("POST", "/v1/FlexFlows", "/v1/FlexFlows", {
        **common, "FriendlyName": "studio", "IntegrationType": "studio", "Integration.FlowSid": "FW" + "1" * 32,
        "Integration.RetryCount": "2", "ContactIdentity": "+15550100", "LongLived": "true",
    })
    external = do("POST", "/v1/FlexFlows", "/v1/FlexFlows", {
        **common, "FriendlyName": "external", "IntegrationType": "external",
        "Integration.Url": "https://example.com/hook", "JanitorEnabled": "true", "Enabled": "false",
    })
    task = do("POST", "/v1/FlexFlows", "/v1/FlexFlows", {
        **common, "FriendlyName": "task", "ChannelType": "sms", "IntegrationType": "task",
        "Integration.WorkspaceSid": "WS" + "2" * 32, "Integration.WorkflowSid": "WW" + "3" * 32,
        "Integration.Channel": "sms", "Integration.Timeout": "60", "Integration.Priority": "3",
        "Integration.CreationOnMessage": "true",
    })
    do("GET", "/v1/FlexFlows/{Sid}", f"/v1/FlexFlows/{studio['sid']}")
    do("POST", "/v1/FlexFlows/{Sid}", f"/v1/FlexFlows/{external['sid']}", {"Enabled": "true", "FriendlyName": "ext"})
    do("POST", "/v1/FlexFlows/{Sid}", f"/v1/FlexFlows/{studio['sid']}", {})
    assert [f["sid"] for f in do("GET", "/v1/FlexFlows", "/v1/FlexFlows?FriendlyName=task")["flex_flows"]] == [
        task["sid"]
    ]

    channels = []
    for flow in (studio, external, task):
        for identity in ("alice", "bob"):
            channels.append(do("POST", "/v1/Channels", "/v1/Channels", {
                "FlexFlowSid": flow["sid"], "Identity": identity,
                "ChatUserFriendlyName": identity, "ChatFriendlyName": f"{identity} chat",
            }))
    do("GET", "/v1/Channels/{Sid}", f"/v1/Channels/{channels[-1]['sid']}")

    # Every page of both lists, forwards and back, through the URLs the server emits.
    for path, key, total in (("/v1/Channels", "flex_chat_channels", 6), ("/v1/FlexFlows", "flex_flows", 3)):
        page = do("GET", path, f"{path}?PageSize=2")
        sids = [item["sid"] for item in page[key]]
        while page["meta"]["next_page_url"]:
            page = do("GET", path, page["meta"]["next_page_url"])
            sids += [item["sid"] for item in page[key]]
        assert len(sids) == len(set(sids)) == total
        while page["meta"]["previous_page_url"]:
            page = do("GET", path, page["meta"]["previous_page_url"])
        assert page[key][0]["sid"] == sids[0]

    do("DELETE", "/v1/Channels/{Sid}", f"/v1/Channels/{channels[0]['sid']}")
    do("DELETE", "/v1/FlexFlows/{Sid}", f"/v1/FlexFlows/{external['sid']}")
    assert set(seen) == set(OPERATIONS)


def test_inputs_the_generator_cannot_reach_get_no_5xx(spec: Spec) -> None:
    """Hand-picked requests that need state (a valid token) or odd syntax the spec does not describe."""
    with InProcessFlexchat() as instance:

        def send(method: str, target: str, data: dict[str, str] | None = None) -> Any:
            response = instance.request(method, "https://flex-api.twilio.com" + target, data=data, auth=instance.auth)
            if 200 <= response.status < 300:
                check_response(spec, method, target.split("?")[0], response.status, response.body)
            else:
                assert response.status < 500, (target, response.text)
                assert set(response.json()) == {"code", "message", "more_info", "status"}
            return response.status, (response.json() if response.body else None)

        form = {"ChatServiceSid": "IS" + "a" * 32, "ChannelType": "web", "Integration.FlowSid": "FW" + "b" * 32}
        for name in ("Café", "Café", "other"):
            assert send("POST", "/v1/FlexFlows", {**form, "FriendlyName": name})[0] == 201
        status, page = send("GET", "/v1/FlexFlows?PageSize=1")
        token = page["meta"]["next_page_url"].split("PageToken=")[1]

        assert send("GET", f"/v1/FlexFlows?PageSize=1&Page={10**24}&PageToken={token}")[0] == 400
        assert send("GET", f"/v1/FlexFlows?PageSize=1&Page={2**63}&PageToken={token}")[0] == 400
        assert send("GET", f"/v1/FlexFlows?PageSize=1&Page={2**31 - 1}&PageToken={token}")[0] == 200
        status, page = send("GET", f"/v1/FlexFlows?PageSize={10**30}")
        assert (status, page["meta"]["page_size"], len(page["flex_flows"])) == (200, 1000, 3)
        # A filter with non-ASCII text, raw in the URL: matched, and kept in every meta URL.
        status, page = send("GET", "/v1/FlexFlows?FriendlyName=Café&PageSize=1")
        assert [f["friendly_name"] for f in page["flex_flows"]] == ["Café"]
        status, page = send("GET", page["meta"]["next_page_url"].removeprefix("https://flex-api.twilio.com"))
        assert [f["friendly_name"] for f in page["flex_flows"]] == ["Café"]
        assert page["meta"]["next_page_url"] is None
        for url in ("http://[::1", "http://[nope]/", "ftp://example.com/", "https://", "not a url"):
            bad = {**form, "FriendlyName": "x", "IntegrationType": "external", "Integration.Url": url}
            assert send("POST", "/v1/FlexFlows", bad)[0] == 400, url


@pytest.mark.parametrize("host", ["[[[", "a:b:c", "::::", "x:99999999", "[::1", "bad host", "é"])
def test_a_malformed_host_header_does_not_leak_into_urls(
    spec: Spec, server: ServerProcess, account: Account, host: str
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.putrequest("GET", "/v1/Channels", skip_host=True)
        connection.putheader("Host", host.encode("utf-8"))
        token = base64.b64encode(f"{account.sid}:{account.auth_token}".encode()).decode()
        connection.putheader("Authorization", f"Basic {token}")
        connection.endheaders()
        response = connection.getresponse()
        status, body = response.status, response.read()
    finally:
        connection.close()
    if status == 400:  # refused by the HTTP layer: as good
        return
    check_response(spec, "GET", "/v1/Channels", status, body)
    assert json.loads(body)["meta"]["url"].startswith(f"http://127.0.0.1:{server.port}/")


# -- property-based: requests generated from the spec ----------------------------------------


@dataclass
class ConformanceReport:
    """What the generated run did, per engine: printed in the terminal summary."""

    requests: Counter[str] = field(default_factory=Counter)
    successes: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    seconds: Counter[str] = field(default_factory=Counter)
    # What the run covers, for the summary: tests/test_conformance_chat.py has its own.
    operations: int = len(OPERATIONS)
    spec_name: str = "twilio_flex_v1.json"

    def lines(self) -> list[str]:
        out = []
        for engine in sorted(self.requests):
            statuses = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses[engine].items()))
            out.append(
                f"flexchat conformance [{engine}]: {self.requests[engine]} generated requests for "
                f"{self.operations} operations of {self.spec_name} in {self.seconds[engine]:.1f}s; "
                f"{self.successes[engine]} 2xx bodies schema-valid, no 5xx (statuses {statuses})"
            )
        return out


class _SummaryPlugin:
    def __init__(self, report: ConformanceReport) -> None:
        self.report = report

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines = self.report.lines()
        if lines:
            terminalreporter.write_sep("-", f"conformance to {self.report.spec_name}")
            for line in lines:
                terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def conformance_report(pytestconfig: pytest.Config) -> ConformanceReport:
    report = ConformanceReport()
    # Registered, not unregistered: the terminal summary runs after every fixture is gone.
    pytestconfig.pluginmanager.register(_SummaryPlugin(report), "flexchat-conformance-summary")
    return report


@pytest.fixture(scope="module")
def schema(spec: Spec) -> Any:
    import schemathesis

    return schemathesis.openapi.from_dict(copy.deepcopy(spec))


class World:
    """A Flex Flow and a channel that exist, so generated Sids can be swapped for real ones."""

    def __init__(self, base_url: str, auth: tuple[str, str]) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.auth = auth
        self.flow_sid = self.channel_sid = ""
        self.renew()

    def renew(self) -> None:
        flow = self.session.post(self.base_url + "/v1/FlexFlows", data={
            "FriendlyName": "conformance", "ChatServiceSid": "IS" + secrets.token_hex(16), "ChannelType": "web",
            "Integration.FlowSid": "FW" + secrets.token_hex(16),
        }, timeout=30)
        assert flow.status_code == 201, flow.text
        self.flow_sid = flow.json()["sid"]
        channel = self.session.post(self.base_url + "/v1/Channels", data={
            "FlexFlowSid": self.flow_sid, "Identity": secrets.token_hex(8),
            "ChatUserFriendlyName": "conformance", "ChatFriendlyName": "conformance",
        }, timeout=30)
        assert channel.status_code == 201, channel.text
        self.channel_sid = channel.json()["sid"]

    def sid_for(self, path: str) -> str:
        return self.channel_sid if path.startswith("/v1/Channels") else self.flow_sid


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_generated_requests_conform(
    method: str,
    path: str,
    spec: Spec,
    schema: Any,
    server: ServerProcess,
    account: Account,
    engine: str,
    conformance_report: ConformanceReport,
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
            # Then with the Sids that name real resources, so the success paths see generated input.
            if "{Sid}" in path:
                case.path_parameters = {**(case.path_parameters or {}), "Sid": world.sid_for(path)}
                send(case)
            elif (method, path) == ("POST", "/v1/Channels") and isinstance(case.body, dict):
                case.body["FlexFlowSid"] = world.flow_sid
                send(case)

        each()

    try:
        run(GenerationMode.POSITIVE)
        run(GenerationMode.NEGATIVE)
    finally:
        sent = sum(statuses.values())
        successes = sum(n for status, n in statuses.items() if 200 <= status < 300)
        conformance_report.requests[engine] += sent
        conformance_report.successes[engine] += successes
        conformance_report.statuses.setdefault(engine, Counter()).update(statuses)
        conformance_report.seconds[engine] += time.perf_counter() - started
        record_property("generated_requests", sent)
        if os.environ.get("PYTEST_XDIST_WORKER"):
            # Workers' terminal summaries are not shown; warnings are.
            warnings.warn(f"{method} {path} [{engine}]: {sent} generated requests", stacklevel=1)
    assert successes > 0, f"no generated request to {method} {path} succeeded: {dict(statuses)}"
    assert not any(status >= 500 for status in statuses)


# -- Chat v2: members, messages and channel webhooks (twilio_chat_v2.json) -------------------

CHAT_SPEC_PATH = REFERENCE_DIR / "twilio_chat_v2.json"
# Fifteen operations: half the Flex operations' examples each keeps the run near two minutes.
CHAT_MAX_EXAMPLES = max(1, MAX_EXAMPLES // 2)
_CHANNEL = "/v2/Services/{ServiceSid}/Channels/{ChannelSid}"
CHAT_CHANNEL_OPERATIONS = [
    ("GET", f"{_CHANNEL}/Members"),
    ("POST", f"{_CHANNEL}/Members"),
    ("GET", f"{_CHANNEL}/Members/{{Sid}}"),
    ("POST", f"{_CHANNEL}/Members/{{Sid}}"),
    ("DELETE", f"{_CHANNEL}/Members/{{Sid}}"),
    ("GET", f"{_CHANNEL}/Messages"),
    ("POST", f"{_CHANNEL}/Messages"),
    ("GET", f"{_CHANNEL}/Messages/{{Sid}}"),
    ("POST", f"{_CHANNEL}/Messages/{{Sid}}"),
    ("DELETE", f"{_CHANNEL}/Messages/{{Sid}}"),
    ("GET", f"{_CHANNEL}/Webhooks"),
    ("POST", f"{_CHANNEL}/Webhooks"),
    ("GET", f"{_CHANNEL}/Webhooks/{{Sid}}"),
    ("POST", f"{_CHANNEL}/Webhooks/{{Sid}}"),
    ("DELETE", f"{_CHANNEL}/Webhooks/{{Sid}}"),
]


@pytest.fixture(scope="module")
def chat_spec() -> Spec:
    if not CHAT_SPEC_PATH.is_file():
        pytest.skip(
            f"Twilio's OpenAPI spec is not at {CHAT_SPEC_PATH}: put twilio_chat_v2.json there "
            "or point FLEXCHAT_REFERENCE_DIR at the directory holding it"
        )
    return dict(json.loads(CHAT_SPEC_PATH.read_text(encoding="utf-8")))


def test_chat_channel_operations_conform_over_http(chat_spec: Spec, server: ServerProcess, account: Account) -> None:
    session = requests.Session()
    session.auth = account.auth

    def over_http(method: str, target: str, data: dict[str, Any] | None) -> tuple[int, bytes]:
        url = target if target.startswith("http") else server.base_url + target
        response = session.request(method, url, data=data, timeout=30)
        return response.status_code, response.content

    every_chat_channel_operation(chat_spec, over_http)


def test_chat_channel_operations_conform_in_process(chat_spec: Spec) -> None:
    # Routes go by path, so the Flex host serves /v2 too.
    with InProcessFlexchat() as instance:

        def in_process(method: str, target: str, data: dict[str, Any] | None) -> tuple[int, bytes]:
            url = target if target.startswith("http") else "https://flex-api.twilio.com" + target
            response = instance.request(method, url, data=data, auth=instance.auth)
            return response.status, response.body

        every_chat_channel_operation(chat_spec, in_process)


def every_chat_channel_operation(spec: Spec, call: Call) -> None:
    """Every member, message and webhook operation's success path under a Flex channel,
    every page of each list both ways; each response validated against the Chat spec."""
    seen: Counter[tuple[str, str]] = Counter()

    def do(method: str, path: str, target: str, data: dict[str, Any] | None = None) -> Any:
        status, body = call(method, target, data)
        check_response(spec, method, path, status, body)
        seen[(method, path)] += 1
        return json.loads(body) if body else None

    status, body = call("POST", "/v1/FlexFlows", {
        "FriendlyName": "chat", "ChatServiceSid": "IS" + secrets.token_hex(16), "ChannelType": "custom",
        "IntegrationType": "external", "Integration.Url": "https://example.com/hook", "Integration.RetryCount": "1",
    })
    assert status == 201, body
    flow = json.loads(body)
    status, body = call("POST", "/v1/Channels", {
        "FlexFlowSid": flow["sid"], "Identity": "alice", "ChatUserFriendlyName": "Alice", "ChatFriendlyName": "chat",
    })
    assert status == 201, body
    base = f"/v2/Services/{flow['chat_service_sid']}/Channels/{json.loads(body)['sid']}"

    members, messages, webhooks = (f"{_CHANNEL}/{name}" for name in ("Members", "Messages", "Webhooks"))
    for identity in ("bob", "carol"):
        do("POST", members, f"{base}/Members", {"Identity": identity, "Attributes": '{"n": 1}',
                                                "LastConsumedMessageIndex": "0",
                                                "LastConsumptionTimestamp": "2024-01-02T03:04:05Z"})
    do("GET", f"{members}/{{Sid}}", f"{base}/Members/bob")
    bob = do("POST", f"{members}/{{Sid}}", f"{base}/Members/bob", {"RoleSid": "RL" + "a" * 32})
    do("GET", members, f"{base}/Members?Identity=bob&Identity=carol")
    for n in range(5):
        do("POST", messages, f"{base}/Messages", {"Body": f"m{n}", "From": "alice", "Attributes": "{}"})
    media = do("POST", messages, f"{base}/Messages", {"MediaSid": "ME" + "b" * 32})
    do("GET", f"{messages}/{{Sid}}", f"{base}/Messages/{media['sid']}")
    do("POST", f"{messages}/{{Sid}}", f"{base}/Messages/{media['sid']}", {"Body": "edited", "LastUpdatedBy": "bob"})
    for n in range(6):
        do("POST", webhooks, f"{base}/Webhooks", {
            "Type": "webhook", "Configuration.Url": f"https://example.com/{n}", "Configuration.Method": "GET",
            "Configuration.Filters": ["onMessageSent", "onChannelUpdated"], "Configuration.RetryCount": "1",
        })
    studio = do("POST", webhooks, f"{base}/Webhooks", {"Type": "studio", "Configuration.FlowSid": "FW" + "c" * 32})
    do("GET", f"{webhooks}/{{Sid}}", f"{base}/Webhooks/{studio['sid']}")
    do("POST", f"{webhooks}/{{Sid}}", f"{base}/Webhooks/{studio['sid']}", {"Configuration.RetryCount": "2"})

    for path, target, key, total in (
        (members, f"{base}/Members?PageSize=2", "members", 3),
        (messages, f"{base}/Messages?PageSize=2", "messages", 6),
        (messages, f"{base}/Messages?PageSize=4&Order=desc", "messages", 6),
        (webhooks, f"{base}/Webhooks", "webhooks", 8),
    ):
        page = do("GET", path, target)
        sids = [item["sid"] for item in page[key]]
        while page["meta"]["next_page_url"]:
            page = do("GET", path, page["meta"]["next_page_url"])
            sids += [item["sid"] for item in page[key]]
        assert len(sids) == len(set(sids)) == total
        while page["meta"]["previous_page_url"]:
            page = do("GET", path, page["meta"]["previous_page_url"])
        assert page[key][0]["sid"] == sids[0]

    do("DELETE", f"{members}/{{Sid}}", f"{base}/Members/{bob['sid']}")
    do("DELETE", f"{messages}/{{Sid}}", f"{base}/Messages/{media['sid']}")
    do("DELETE", f"{webhooks}/{{Sid}}", f"{base}/Webhooks/{studio['sid']}")
    assert set(seen) == set(CHAT_CHANNEL_OPERATIONS)


@pytest.fixture(scope="module")
def chat_schema(chat_spec: Spec) -> Any:
    import schemathesis

    return schemathesis.openapi.from_dict(copy.deepcopy(chat_spec))


class ChatWorld:
    """A Flex channel with a member, a message and a webhook, so generated Sids can be
    swapped for real ones; what a successful delete removed is made again."""

    def __init__(self, base_url: str, auth: tuple[str, str]) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.auth = auth
        flow = self._post("/v1/FlexFlows", {
            "FriendlyName": "conformance", "ChatServiceSid": "IS" + secrets.token_hex(16), "ChannelType": "web",
            "IntegrationType": "external", "Integration.Url": "https://example.com/hook",
        })
        channel = self._post("/v1/Channels", {
            "FlexFlowSid": flow["sid"], "Identity": secrets.token_hex(8),
            "ChatUserFriendlyName": "conformance", "ChatFriendlyName": "conformance",
        })
        self.service_sid, self.channel_sid = flow["chat_service_sid"], channel["sid"]
        self.sids: dict[str, str] = {}
        for kind in ("Members", "Messages", "Webhooks"):
            self.renew(kind)

    def _post(self, path: str, data: dict[str, Any]) -> Any:
        response = self.session.post(self.base_url + path, data=data, timeout=30)
        assert response.status_code == 201, response.text
        return response.json()

    def renew(self, kind: str) -> None:
        form = {
            "Members": {"Identity": secrets.token_hex(8)},
            "Messages": {"Body": "conformance"},
            "Webhooks": {"Type": "webhook", "Configuration.Url": "https://example.com/w"},
        }[kind]
        path = f"/v2/Services/{self.service_sid}/Channels/{self.channel_sid}/{kind}"
        self.sids[kind] = self._post(path, form)["sid"]


@pytest.mark.parametrize(
    ("method", "path"), CHAT_CHANNEL_OPERATIONS, ids=[f"{m} {p}" for m, p in CHAT_CHANNEL_OPERATIONS]
)
def test_generated_chat_requests_conform(
    method: str,
    path: str,
    chat_spec: Spec,
    chat_schema: Any,
    server: ServerProcess,
    account: Account,
    engine: str,
    conformance_report: ConformanceReport,
) -> None:
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

    operation = chat_schema[path][method]
    world = ChatWorld(server.base_url, account.auth)
    kind = path.split("/")[6]
    session = requests.Session()
    authorization = "Basic " + base64.b64encode(f"{account.sid}:{account.auth_token}".encode()).decode()
    statuses: Counter[int] = Counter()
    started = time.perf_counter()

    def send(case: Any) -> None:
        response = case.call(base_url=server.base_url, session=session, headers={"Authorization": authorization})
        statuses[response.status_code] += 1
        case.validate_response(
            response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
        )
        if 200 <= response.status_code < 300:
            check_response(chat_spec, method, path, response.status_code, response.content)
            if method == "DELETE":
                world.renew(kind)

    def run(mode: GenerationMode) -> None:
        @settings(
            max_examples=CHAT_MAX_EXAMPLES,
            deadline=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def each(case: Any) -> None:
            send(case)  # as generated: mostly unknown services and channels
            real = {"ServiceSid": world.service_sid, "ChannelSid": world.channel_sid}
            if "{Sid}" in path:
                real["Sid"] = world.sids[kind]
            case.path_parameters = {**(case.path_parameters or {}), **real}
            send(case)
            if kind == "Webhooks" and method == "POST" and isinstance(case.body, dict):
                # Generated URLs are rarely http(s) ones, and types need their own keys.
                case.body["Configuration.Url"] = "https://example.com/generated"
                if "{Sid}" not in path:
                    case.body["Type"] = "webhook"
                send(case)

        each()

    try:
        run(GenerationMode.POSITIVE)
        run(GenerationMode.NEGATIVE)
    finally:
        sent = sum(statuses.values())
        key = f"{engine} chat"
        conformance_report.requests[key] += sent
        conformance_report.successes[key] += sum(n for status, n in statuses.items() if 200 <= status < 300)
        conformance_report.statuses.setdefault(key, Counter()).update(statuses)
        conformance_report.seconds[key] += time.perf_counter() - started
    assert any(200 <= status < 300 for status in statuses), f"no generated {method} {path} succeeded: {statuses}"
    assert not any(status >= 500 for status in statuses)


# -- TaskRouter and Studio: their own specs -------------------------------------------------

PRODUCT_SPECS = {"taskrouter": "twilio_taskrouter_v1.json", "studio": "twilio_studio_v2.json"}
# The TaskRouter and Studio operations flexchat implements (the specs' others are out of scope).
PRODUCT_OPERATIONS = {
    "taskrouter": [
        (method, path)
        for path, methods in (
            ("/v1/Workspaces", ("GET", "POST")),
            ("/v1/Workspaces/{Sid}", ("GET", "POST", "DELETE")),
            ("/v1/Workspaces/{WorkspaceSid}/Workflows", ("GET", "POST")),
            ("/v1/Workspaces/{WorkspaceSid}/Workflows/{Sid}", ("GET", "POST", "DELETE")),
            ("/v1/Workspaces/{WorkspaceSid}/TaskChannels", ("GET", "POST")),
            ("/v1/Workspaces/{WorkspaceSid}/TaskChannels/{Sid}", ("GET", "POST", "DELETE")),
            ("/v1/Workspaces/{WorkspaceSid}/Tasks", ("GET", "POST")),
            ("/v1/Workspaces/{WorkspaceSid}/Tasks/{Sid}", ("GET", "POST", "DELETE")),
        )
        for method in methods
    ],
    "studio": [
        ("GET", "/v2/Flows/{FlowSid}/Executions"),
        ("POST", "/v2/Flows/{FlowSid}/Executions"),
        ("GET", "/v2/Flows/{FlowSid}/Executions/{Sid}"),
        ("POST", "/v2/Flows/{FlowSid}/Executions/{Sid}"),
        ("DELETE", "/v2/Flows/{FlowSid}/Executions/{Sid}"),
        ("GET", "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Context"),
        ("GET", "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps"),
    ],
}
PRODUCT_CONFIGURATION = json.dumps(
    {"task_routing": {"filters": [{"expression": "language == 'fr'", "targets": [{"queue": "WQ" + "4" * 32}]}],
                      "default_filter": {"queue": "WQ" + "5" * 32}}}
)


@pytest.fixture(scope="module")
def product_specs() -> dict[str, Spec]:
    specs = {}
    for product, name in PRODUCT_SPECS.items():
        path = REFERENCE_DIR / name
        if not path.is_file():
            pytest.skip(f"Twilio's OpenAPI spec is not at {path}: put {name} there, or set FLEXCHAT_REFERENCE_DIR")
        specs[product] = dict(json.loads(path.read_text(encoding="utf-8")))
    return specs


def test_taskrouter_and_studio_operations_conform_over_http(
    product_specs: dict[str, Spec], server: ServerProcess, account: Account
) -> None:
    session = requests.Session()
    session.auth = account.auth

    def over_http(method: str, target: str, data: dict[str, Any] | None) -> tuple[int, bytes]:
        url = target if target.startswith("http") else server.base_url + target
        response = session.request(method, url, data=data, timeout=30)
        return response.status_code, response.content

    every_product_operation(product_specs, over_http)


def test_taskrouter_and_studio_operations_conform_in_process(product_specs: dict[str, Spec]) -> None:
    with InProcessFlexchat() as instance:

        def in_process(method: str, target: str, data: dict[str, Any] | None) -> tuple[int, bytes]:
            host = "https://studio.twilio.com" if target.startswith("/v2/") else "https://taskrouter.twilio.com"
            url = target if target.startswith("http") else host + target
            response = instance.request(method, url, data=data, auth=instance.auth)
            return response.status, response.body

        every_product_operation(product_specs, in_process)


def every_product_operation(specs: dict[str, Spec], call: Call) -> None:
    """Every TaskRouter and Studio operation's success path, every page of each list in
    both directions; each response validated against its product's spec."""
    seen: Counter[tuple[str, str]] = Counter()

    def do(method: str, path: str, target: str, data: dict[str, Any] | None = None) -> Any:
        status, body = call(method, target, data)
        check_response(specs["studio" if path.startswith("/v2/") else "taskrouter"], method, path, status, body)
        seen[(method, path)] += 1
        return json.loads(body) if body else None

    def walk(path: str, target: str, key: str) -> list[str]:
        page = do("GET", path, target)
        sids = [item["sid"] for item in page[key]]
        while page["meta"]["next_page_url"]:
            page = do("GET", path, page["meta"]["next_page_url"])
            sids += [item["sid"] for item in page[key]]
        assert len(sids) == len(set(sids))
        while page["meta"]["previous_page_url"]:
            page = do("GET", path, page["meta"]["previous_page_url"])
        assert not sids or page[key][0]["sid"] == sids[0]
        return sids

    workspaces = "/v1/Workspaces"
    one = "/v1/Workspaces/{Sid}"
    assert do("GET", workspaces, workspaces)["workspaces"] == []
    workspace = do("POST", workspaces, workspaces, {
        "FriendlyName": "conformance", "EventCallbackUrl": "https://example.com/events",
        "PrioritizeQueueOrder": "LIFO", "Template": "FIFO",
    })
    spare = do("POST", workspaces, workspaces, {"FriendlyName": "spare", "MultiTaskEnabled": "false"})
    do("GET", one, f"{workspaces}/{workspace['sid']}")
    do("POST", one, f"{workspaces}/{spare['sid']}", {"FriendlyName": "spare 2", "EventsFilter": "task.created"})
    assert len(walk(workspaces, f"{workspaces}?PageSize=1", "workspaces")) == 2

    ws = f"{workspaces}/{workspace['sid']}"
    flows, flow = "/v1/Workspaces/{WorkspaceSid}/Workflows", "/v1/Workspaces/{WorkspaceSid}/Workflows/{Sid}"
    workflow = do("POST", flows, f"{ws}/Workflows", {
        "FriendlyName": "French", "Configuration": PRODUCT_CONFIGURATION,
        "AssignmentCallbackUrl": "https://example.com/assign", "TaskReservationTimeout": "30",
    })
    do("GET", flow, f"{ws}/Workflows/{workflow['sid']}")
    do("POST", flow, f"{ws}/Workflows/{workflow['sid']}", {"FriendlyName": "Français"})
    assert len(walk(flows, f"{ws}/Workflows?PageSize=1", "workflows")) == 2

    channels, channel = "/v1/Workspaces/{WorkspaceSid}/TaskChannels", "/v1/Workspaces/{WorkspaceSid}/TaskChannels/{Sid}"
    made = do("POST", channels, f"{ws}/TaskChannels", {"FriendlyName": "Fax", "UniqueName": "fax",
                                                       "ChannelOptimizedRouting": "true"})
    do("GET", channel, f"{ws}/TaskChannels/fax")
    do("POST", channel, f"{ws}/TaskChannels/{made['sid']}", {"FriendlyName": "Telefax"})
    assert len(walk(channels, f"{ws}/TaskChannels?PageSize=4", "channels")) == 7

    tasks, task_path = "/v1/Workspaces/{WorkspaceSid}/Tasks", "/v1/Workspaces/{WorkspaceSid}/Tasks/{Sid}"
    created = [
        do("POST", tasks, f"{ws}/Tasks", {
            "WorkflowSid": workflow["sid"], "Attributes": json.dumps({"language": language}), "Priority": str(i),
            "TaskChannel": "chat", "Timeout": "3600",
        })
        for i, language in enumerate(("fr", "en", "fr"))
    ]
    do("GET", task_path, f"{ws}/Tasks/{created[0]['sid']}")
    do("POST", task_path, f"{ws}/Tasks/{created[0]['sid']}", {"AssignmentStatus": "canceled", "Reason": "test"})
    do("POST", task_path, f"{ws}/Tasks/{created[1]['sid']}", {"Attributes": "{}", "Priority": "7"})
    assert len(walk(tasks, f"{ws}/Tasks?PageSize=2", "tasks")) == 3
    assert len(walk(tasks, f"{ws}/Tasks?PageSize=1&Ordering=Priority:desc&AssignmentStatus=pending", "tasks")) == 2
    do("DELETE", task_path, f"{ws}/Tasks/{created[2]['sid']}")
    do("DELETE", channel, f"{ws}/TaskChannels/fax")
    do("DELETE", flow, f"{ws}/Workflows/{workflow['sid']}")
    do("DELETE", one, f"{workspaces}/{spare['sid']}")

    base = f"/v2/Flows/FW{'6' * 32}/Executions"
    executions, execution_path = "/v2/Flows/{FlowSid}/Executions", "/v2/Flows/{FlowSid}/Executions/{Sid}"
    assert do("GET", executions, base)["executions"] == []
    started = [do("POST", executions, base, {"To": f"+1555010{i}", "From": "+15550199",
                                             "Parameters": json.dumps({"i": i})}) for i in range(3)]
    do("GET", execution_path, f"{base}/{started[0]['sid']}")
    do("POST", execution_path, f"{base}/{started[0]['sid']}", {"Status": "ended"})
    assert len(walk(executions, f"{base}?PageSize=2", "executions")) == 3
    context = do("GET", "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Context", f"{base}/{started[1]['sid']}/Context")
    assert context["context"]["flow"]["data"] == {"i": 1}
    assert do("GET", "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps", f"{base}/{started[1]['sid']}/Steps")[
        "steps"
    ] == []
    do("DELETE", execution_path, f"{base}/{started[2]['sid']}")
    assert set(seen) == {op for ops in PRODUCT_OPERATIONS.values() for op in ops}


class ProductWorld:
    """A workspace with a workflow, a task channel and a task, and a flow's execution, so
    generated path Sids can be swapped for ones that exist."""

    def __init__(self, base_url: str, auth: tuple[str, str]) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.auth = auth
        self.flow_sid = "FW" + secrets.token_hex(16)
        self.sids: dict[str, str] = {}
        self.renew()

    def post(self, path: str, data: dict[str, str]) -> str:
        response = self.session.post(self.base_url + path, data=data, timeout=30)
        assert response.status_code == 201, response.text
        return str(response.json()["sid"])

    def renew(self) -> None:
        workspace = self.post("/v1/Workspaces", {"FriendlyName": "conformance"})
        ws = f"/v1/Workspaces/{workspace}"
        workflow = self.post(f"{ws}/Workflows", {"FriendlyName": "w", "Configuration": PRODUCT_CONFIGURATION})
        self.sids = {
            "WorkspaceSid": workspace,
            "Workflows": workflow,
            "TaskChannels": self.post(f"{ws}/TaskChannels", {"FriendlyName": "c", "UniqueName": secrets.token_hex(4)}),
            "Tasks": self.post(f"{ws}/Tasks", {"WorkflowSid": workflow}),
            "FlowSid": self.flow_sid,
            "Executions": self.post(f"/v2/Flows/{self.flow_sid}/Executions", {"To": "+1", "From": "+2"}),
        }

    def path_parameters(self, path: str) -> dict[str, str]:
        """Real values for the path's parameters."""
        values = {name: self.sids[name] for name in ("WorkspaceSid", "FlowSid") if f"{{{name}}}" in path}
        if "{ExecutionSid}" in path:
            values["ExecutionSid"] = self.sids["Executions"]
        if path.endswith("{Sid}"):
            kind = path.rsplit("/", 2)[-2]
            values["Sid"] = self.sids["WorkspaceSid"] if kind == "Workspaces" else self.sids[kind]
        return values


PRODUCT_CASES = [(product, method, path) for product, ops in PRODUCT_OPERATIONS.items() for method, path in ops]


@pytest.mark.parametrize(("product", "method", "path"), PRODUCT_CASES, ids=[f"{m} {p}" for _, m, p in PRODUCT_CASES])
def test_generated_taskrouter_and_studio_requests_conform(
    product: str,
    method: str,
    path: str,
    product_specs: dict[str, Spec],
    server: ServerProcess,
    account: Account,
) -> None:
    """Requests generated from TaskRouter's and Studio's specs: never a 5xx, every 2xx
    body valid; each case also sent with path Sids that exist."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error

    spec = product_specs[product]
    operation = schemathesis.openapi.from_dict(copy.deepcopy(spec))[path][method]
    world = ProductWorld(server.base_url, account.auth)
    session = requests.Session()
    authorization = "Basic " + base64.b64encode(f"{account.sid}:{account.auth_token}".encode()).decode()
    statuses: Counter[int] = Counter()

    def send(case: Any) -> None:
        response = case.call(base_url=server.base_url, session=session, headers={"Authorization": authorization})
        statuses[response.status_code] += 1
        case.validate_response(response, checks=[not_a_server_error])
        if 200 <= response.status_code < 300:
            check_response(spec, method, path, response.status_code, response.content)
            if method == "DELETE":
                world.renew()
        else:
            assert set(response.json()) == {"code", "message", "more_info", "status"}, response.text

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @settings(
            max_examples=max(MAX_EXAMPLES // 4, 5),
            deadline=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def each(case: Any) -> None:
            send(case)
            if "{" in path:
                case.path_parameters = {**(case.path_parameters or {}), **world.path_parameters(path)}
                send(case)
            if path.endswith("/Workflows") and method == "POST" and isinstance(case.body, dict):
                # A generated Configuration is almost never a routing document.
                case.body["Configuration"] = PRODUCT_CONFIGURATION
                send(case)

        each()
    assert not any(status >= 500 for status in statuses)
    assert any(200 <= status < 300 for status in statuses), f"no generated request succeeded: {dict(statuses)}"
