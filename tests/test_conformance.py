"""Conformance to Twilio's official OpenAPI descriptions, for every product flexchat
implements (tests/conformance/: Flex v1, Chat v2, TaskRouter v1, Studio v2), on both
engines.

Two parts, the same for every product:

- a scenario through every implemented operation, over real HTTP (per engine) and in
  process, whose every response is validated with jsonschema against the spec's response
  schema (the OpenAPI 3.0 ``nullable`` keyword translated to JSON Schema);
- a property-based run: schemathesis generates requests (valid and invalid) from the
  spec for those operations and sends them to a running ``flexchat serve``; no response
  may be a 5xx, every 2xx body must be schema-valid and every other one Twilio's error
  body. The number of generated requests
  is printed in the terminal summary of every run.

Then what a generator cannot reach in the Flex API (hand-picked inputs, Host headers) and
a check that the validator does catch what the spec forbids.

The specs are read from ``tests/conftest.py REFERENCE_DIR``: FLEXCHAT_REFERENCE_DIR, else
``../shared/reference``, else ``.cache/twilio-api`` where ``make reference`` puts them (from
the npm package @twilio/cli-core). They are never copied into the repository; where one is
absent its tests skip and say how to get it (with CI=true, Flex v1's fail instead).
The machinery is in tests/helpers/conformance.py.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Callable
from typing import Any

import pytest

from flexchat.testing import InProcessFlexchat, ServerProcess

from .conformance import TABLES, flex_v1
from .conftest import Account
from .helpers.conformance import (
    ConformanceReport,
    Spec,
    SummaryPlugin,
    Table,
    check_response,
    in_process,
    operations_of,
    over_http,
    send_generated_requests,
)


@pytest.fixture(scope="module")
def spec() -> Spec:
    """Flex v1's spec, for the Flex-only tests below."""
    return flex_v1.TABLE.spec()


# -- every operation, over HTTP and in process -----------------------------------------------


@pytest.mark.parametrize("table", TABLES, ids=[table.name for table in TABLES])
def test_every_operation_conforms_over_http(table: Table, server: ServerProcess, account: Account) -> None:
    table.run_scenario(over_http(server.base_url, account.auth))


@pytest.mark.parametrize("table", TABLES, ids=[table.name for table in TABLES])
def test_every_operation_conforms_in_process(table: Table) -> None:
    with InProcessFlexchat() as instance:
        table.run_scenario(in_process(instance, table.host))


# -- property-based: requests generated from the spec ----------------------------------------


@pytest.fixture(scope="session")
def conformance_report(pytestconfig: pytest.Config) -> ConformanceReport:
    report = ConformanceReport()
    # Registered, not unregistered: the terminal summary runs after every fixture is gone.
    pytestconfig.pluginmanager.register(SummaryPlugin(report), "flexchat-conformance-summary")
    return report


@pytest.mark.parametrize(("table", "method", "path"), list(operations_of(TABLES)))
def test_generated_requests_conform(
    table: Table,
    method: str,
    path: str,
    server: ServerProcess,
    account: Account,
    engine: str,
    conformance_report: ConformanceReport,
    record_property: Callable[[str, object], None],
) -> None:
    send_generated_requests(table, method, path, server, account, engine, conformance_report, record_property)


# -- Flex v1: what the generator cannot reach ------------------------------------------------


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
