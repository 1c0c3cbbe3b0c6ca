"""Raw HTTP: the wire rules a curl user or a browser relies on."""

from __future__ import annotations

import base64
import re
import socket
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from flexchat.testing import ServerProcess

from .conftest import Account, Api, add_account, seed_channels

CORS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Credentials",
    "Access-Control-Expose-Headers",
)


def assert_twilio_error(response: Any, status: int, code: int, message: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert body["code"] == code and body["status"] == status
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    if message is not None:
        assert body["message"] == message
    return dict(body)


def test_cors_headers_on_success_and_error(api: Api, anonymous: Api) -> None:
    ok = api.get("/v1/Channels", headers={"Origin": "https://app.example"})
    denied = anonymous.get("/v1/Channels")
    missing = api.get("/v1/Channels/CH" + "0" * 32)
    for response in (ok, denied, missing):
        for name in CORS:
            assert response.headers.get(name), (response.status_code, name)
        assert re.fullmatch(r"RQ[0-9a-f]{32}", response.headers["Twilio-Request-Id"])
    assert ok.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert denied.headers["Access-Control-Allow-Origin"] == "*"
    assert "Twilio-Request-Id" in ok.headers["Access-Control-Expose-Headers"]


def test_preflight_needs_no_credentials(anonymous: Api) -> None:
    response = anonymous.request(
        "OPTIONS",
        "/v1/Channels",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204 and response.content == b""
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Headers"] == "authorization, content-type"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


def test_unauthenticated_gets_401_with_challenge(anonymous: Api, api: Api, account: Any) -> None:
    response = anonymous.get("/v1/Channels")
    assert_twilio_error(response, 401, 20003, "Authenticate")
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Twilio API"'
    for header in ("Bearer abc", "Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode()):
        assert_twilio_error(anonymous.get("/v1/Channels", headers={"Authorization": header}), 401, 20003)
    assert_twilio_error(anonymous.get("/v1/Channels", auth=(account.sid, "wrong")), 401, 20003)


def test_missing_parameter_message(api: Api, flow: dict[str, Any]) -> None:
    response = api.post(
        "/v1/Channels", {"FlexFlowSid": flow["sid"], "ChatUserFriendlyName": "u", "ChatFriendlyName": "c"}
    )
    assert_twilio_error(response, 400, 20001, "Missing required parameter Identity in the post body")


@pytest.mark.parametrize(
    ("data", "names"),
    [
        ({"ChannelType": "pigeon"}, "ChannelType"),
        ({"IntegrationType": "Studio"}, "IntegrationType"),
        ({"Enabled": "yes"}, "Enabled"),
        ({"ChatServiceSid": "IS123"}, "ChatServiceSid"),
        ({"Integration.FlowSid": "FO" + "a" * 32}, "Integration.FlowSid"),
        ({"Integration.RetryCount": "three"}, "Integration.RetryCount"),
        ({"Integration.Timeout": "99999999999"}, "Integration.Timeout"),
        ({"Integration.Priority": "5_0"}, "Integration.Priority"),
        ({"Integration.Priority": "+5"}, "Integration.Priority"),
        ({"Integration.Priority": " 5"}, "Integration.Priority"),
        ({"Integration.Priority": "\u0665"}, "Integration.Priority"),
        ({"IntegrationType": "external", "Integration.Url": "not a url"}, "Integration.Url"),
        ({"IntegrationType": "external"}, "Integration.Url"),
        ({"IntegrationType": "task", "Integration.WorkspaceSid": "WS" + "a" * 32}, "Integration.WorkflowSid"),
        ({"FriendlyName": "nul\x00byte"}, "FriendlyName"),
    ],
)
def test_invalid_flex_flow_parameters(api: Api, data: dict[str, str], names: str) -> None:
    base = {
        "FriendlyName": "f",
        "ChatServiceSid": "IS" + "a" * 32,
        "ChannelType": "web",
        "Integration.FlowSid": "FW" + "a" * 32,
    }
    body = assert_twilio_error(api.post("/v1/FlexFlows", {**base, **data}), 400, 20001)
    assert names in body["message"]
    assert api.get("/v1/FlexFlows").json()["flex_flows"] == []  # nothing half-stored


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ({"TaskAttributes": "[1, 2]"}, "TaskAttributes"),
        ({"TaskAttributes": "{oops"}, "TaskAttributes"),
        ({"LongLived": "maybe"}, "LongLived"),
        ({"TaskSid": "WT123"}, "TaskSid"),
        ({"FlexFlowSid": "FO-not-a-sid"}, "FlexFlowSid"),
    ],
)
def test_invalid_channel_parameters(api: Api, flow: dict[str, Any], data: dict[str, str], name: str) -> None:
    response = api.create_channel(flow["sid"], "frank", **data)
    assert name in assert_twilio_error(response, 400, 20001)["message"]


def test_unknown_and_malformed_sids_and_routes_are_404(api: Api) -> None:
    assert_twilio_error(
        api.get("/v1/Channels/CH" + "0" * 32),
        404,
        20404,
        f"The requested resource /Channels/CH{'0' * 32} was not found",
    )
    assert_twilio_error(api.get("/v1/Channels/not-a-sid"), 404, 20404)
    assert_twilio_error(api.get("/v1/Channels/FO" + "0" * 32), 404, 20404)
    assert_twilio_error(api.delete("/v1/FlexFlows/FO" + "0" * 32), 404, 20404)
    assert_twilio_error(api.post("/v1/FlexFlows/FO" + "0" * 32, {"FriendlyName": "x"}), 404, 20404)
    assert_twilio_error(api.get("/v1/Nope"), 404, 20404)
    assert_twilio_error(api.get("/"), 404, 20404)


def test_method_not_allowed(api: Api) -> None:
    response = api.request("PUT", "/v1/Channels")
    assert_twilio_error(response, 405, 20004, "Method not allowed")
    assert "GET" in response.headers["Allow"]
    assert_twilio_error(api.post("/v1/Channels/CH" + "0" * 32, {}), 405, 20004)
    assert_twilio_error(api.request("PATCH", "/v1/FlexFlows/FO" + "0" * 32), 405, 20004)


def test_oversized_body_is_413(api: Api, flow: dict[str, Any]) -> None:
    huge = "x" * (1_048_576 + 10)
    assert_twilio_error(api.create_channel(flow["sid"], "gina", Target=huge), 413, 20413)
    assert api.get("/v1/Channels").json()["flex_chat_channels"] == []


def test_non_form_body_and_bad_encoding(api: Api) -> None:
    response = api.post("/v1/FlexFlows", data=b'{"FriendlyName": "x"}', headers={"Content-Type": "application/json"})
    assert_twilio_error(response, 415, 20415)
    response = api.post(
        "/v1/FlexFlows", data=b"FriendlyName=%ff%fe", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_twilio_error(response, 400, 20001)
    assert_twilio_error(api.get("/v1/Channels?PageSize=%ff"), 400, 20001)


def test_wire_shape_of_created_channel(api: Api, flow: dict[str, Any], server: Any) -> None:
    response = api.create_channel(flow["sid"], "hank", LongLived="true", PreEngagementData='{"q": 1}')
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "account_sid",
        "flex_flow_sid",
        "sid",
        "user_sid",
        "task_sid",
        "url",
        "date_created",
        "date_updated",
    }
    assert body["url"] == f"{server.base_url}/v1/Channels/{body['sid']}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["date_created"])
    assert body["task_sid"] is None
    assert api.delete(f"/v1/Channels/{body['sid']}").status_code == 204


def test_uppercase_hex_in_sid_finds_the_resource(api: Api, flow: dict[str, Any]) -> None:
    sid = flow["sid"]
    shouted = sid[:2] + sid[2:].upper()
    assert api.get(f"/v1/FlexFlows/{shouted}").json()["sid"] == sid
    assert api.create_channel(shouted, "ivy").json()["flex_flow_sid"] == sid


def test_delete_answers_204_with_empty_body(api: Api, flow: dict[str, Any]) -> None:
    sid = api.create_channel(flow["sid"], "jack").json()["sid"]
    response = api.delete(f"/v1/Channels/{sid}")
    assert response.status_code == 204 and response.content == b""
    assert_twilio_error(api.delete(f"/v1/Channels/{sid}"), 404, 20404)


def test_date_updated_moves_on_update(api: Api, flow: dict[str, Any]) -> None:
    import time

    time.sleep(1.1)
    updated = api.post(f"/v1/FlexFlows/{flow['sid']}", {"ContactIdentity": "+15550001"}).json()
    assert updated["date_created"] == flow["date_created"]
    assert updated["date_updated"] > flow["date_updated"]
    assert updated["contact_identity"] == "+15550001"


def test_chat_unique_name_is_unique_per_chat_service(api: Api, flow: dict[str, Any]) -> None:
    assert api.create_channel(flow["sid"], "kim", ChatUniqueName="room-1").status_code == 201
    assert_twilio_error(api.create_channel(flow["sid"], "lee", ChatUniqueName="room-1"), 409, 45208)
    other = api.create_flow()
    assert api.create_channel(other["sid"], "lee", ChatUniqueName="room-1").status_code == 201


def test_deleting_a_flow_keeps_its_channels(api: Api, flow: dict[str, Any]) -> None:
    channel = api.create_channel(flow["sid"], "max").json()
    assert api.delete(f"/v1/FlexFlows/{flow['sid']}").status_code == 204
    assert api.get(f"/v1/Channels/{channel['sid']}").json() == channel
    assert_twilio_error(api.create_channel(flow["sid"], "ned"), 400, 45205)


# -- accounts ------------------------------------------------------------------------


def test_other_accounts_resources_do_not_exist(api: Api, server: Any, flow: dict[str, Any]) -> None:
    channel = api.create_channel(flow["sid"], "olga").json()
    other = Api(server.base_url, add_account(server.database_url).auth)
    assert other.get("/v1/Channels").json()["flex_chat_channels"] == []
    assert other.get("/v1/FlexFlows").json()["flex_flows"] == []
    for path in (f"/v1/Channels/{channel['sid']}", f"/v1/FlexFlows/{flow['sid']}"):
        assert_twilio_error(other.get(path), 404, 20404)
        assert_twilio_error(other.delete(path), 404, 20404)
    assert_twilio_error(other.post(f"/v1/FlexFlows/{flow['sid']}", {"FriendlyName": "mine"}), 404, 20404)
    assert_twilio_error(other.create_channel(flow["sid"], "olga"), 400, 45205)
    assert api.get(f"/v1/Channels/{channel['sid']}").status_code == 200
    assert api.get(f"/v1/FlexFlows/{flow['sid']}").json()["friendly_name"] == flow["friendly_name"]


# -- paging --------------------------------------------------------------------------


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_meta_of_first_page(api: Api, server: Any, account: Any) -> None:
    seed_channels(server.database_url, account, 2, 5)
    body = api.get("/v1/Channels?PageSize=2").json()
    meta = body["meta"]
    assert meta["key"] == "flex_chat_channels" and meta["page"] == 0 and meta["page_size"] == 2
    assert meta["url"] == f"{server.base_url}/v1/Channels?PageSize=2&Page=0"
    assert meta["first_page_url"] == meta["url"]
    assert meta["previous_page_url"] is None
    next_query = query(meta["next_page_url"])
    assert next_query["Page"] == "1" and next_query["PageSize"] == "2" and next_query["PageToken"].startswith("PA")
    second = api.get(meta["next_page_url"]).json()["meta"]
    assert query(second["previous_page_url"])["PageToken"].startswith("PB")
    assert second["url"] == meta["next_page_url"]


@pytest.mark.parametrize(
    ("size", "expected"), [("1000", 1000), ("1001", 1000), ("5000", 1000), ("1", 1), ("9" * 40, 1000)]
)
def test_page_size_is_clamped(api: Api, size: str, expected: int) -> None:
    assert api.get(f"/v1/Channels?PageSize={size}").json()["meta"]["page_size"] == expected


@pytest.mark.parametrize("bad", ["0", "-1", "ten", "1.5", "5_0", "+5", " 5", "-99999999999999999999999"])
def test_page_size_below_one_or_not_integer(api: Api, bad: str) -> None:
    assert "PageSize" in assert_twilio_error(api.get(f"/v1/Channels?PageSize={bad}"), 400, 20001)["message"]


def test_page_without_token(api: Api) -> None:
    assert_twilio_error(api.get("/v1/Channels?Page=2"), 400, 20001, "PageToken is required for paging.")
    assert_twilio_error(api.get("/v1/FlexFlows?Page=-1"), 400, 20001)


def test_tampered_and_foreign_tokens(api: Api, server: Any, account: Any) -> None:
    seed_channels(server.database_url, account, 1, 4)
    token = query(api.get("/v1/Channels?PageSize=1").json()["meta"]["next_page_url"])["PageToken"]
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (flipped, "PA" + token[2:-3], "PAxyz", "garbage", token.replace("PA", "PB", 1), "PA" + "%" * 10):
        assert (
            "PageToken"
            in assert_twilio_error(
                api.get("/v1/Channels", params={"PageSize": 1, "Page": 1, "PageToken": bad}), 400, 20001
            )["message"]
        )
    # A token of another list, another filter or another account is refused too.
    assert_twilio_error(api.get("/v1/FlexFlows", params={"Page": 1, "PageToken": token}), 400, 20001)
    other = Api(server.base_url, add_account(server.database_url).auth)
    assert_twilio_error(other.get("/v1/Channels", params={"Page": 1, "PageToken": token}), 400, 20001)
    assert api.get("/v1/Channels", params={"PageSize": 1, "Page": 1, "PageToken": token}).status_code == 200


def test_friendly_name_filter_stays_in_meta_urls(api: Api) -> None:
    for n in range(3):
        api.create_flow(FriendlyName="Sales & Support")
        api.create_flow(FriendlyName=f"Other {n}")
    body = api.get("/v1/FlexFlows", params={"FriendlyName": "Sales & Support", "PageSize": 2}).json()
    assert [f["friendly_name"] for f in body["flex_flows"]] == ["Sales & Support"] * 2
    for name in ("url", "first_page_url", "next_page_url"):
        assert query(body["meta"][name])["FriendlyName"] == "Sales & Support"
    rest = api.get(body["meta"]["next_page_url"]).json()
    assert len(rest["flex_flows"]) == 1 and rest["meta"]["next_page_url"] is None
    # The same token under another filter is refused.
    token = query(body["meta"]["next_page_url"])["PageToken"]
    assert_twilio_error(
        api.get("/v1/FlexFlows", params={"FriendlyName": "Other 1", "Page": 1, "PageToken": token}), 400, 20001
    )


def test_walk_is_exactly_once_while_others_create_and_delete(api: Api, flow: dict[str, Any]) -> None:
    """Every channel that exists for the whole walk is seen once; none twice."""
    initial = [api.create_channel(flow["sid"], f"w{i}").json()["sid"] for i in range(40)]
    doomed = set(initial[::5])
    survivors = [sid for sid in initial if sid not in doomed]
    seen: list[str] = []
    url: str | None = "/v1/Channels?PageSize=6"
    step = 0
    while url:
        page = api.get(url).json()
        seen.extend(c["sid"] for c in page["flex_chat_channels"])
        url = page["meta"]["next_page_url"]
        # Churn between page fetches: delete some not yet (or already) seen, add new ones.
        for sid in list(doomed)[:2]:
            assert api.delete(f"/v1/Channels/{sid}").status_code == 204
            doomed.discard(sid)
        api.create_channel(flow["sid"], f"new{step}")
        step += 1
    assert len(seen) == len(set(seen)), "a channel was returned twice"
    assert set(survivors) <= set(seen), "a channel that existed for the whole walk was skipped"
    assert [s for s in seen if s in set(survivors)] == survivors  # still oldest first


def test_public_url_overrides_request_host(database_url: str) -> None:
    from flexchat.testing import run_server

    with run_server(database_url, extra_args=["--public-url", "https://chat.example.com/base/"]) as srv:
        api = Api(srv.base_url, srv.auth)
        flow = api.create_flow()
        assert flow["url"] == f"https://chat.example.com/base/v1/FlexFlows/{flow['sid']}"
        assert api.get("/v1/FlexFlows").json()["meta"]["url"].startswith("https://chat.example.com/base/v1/FlexFlows?")


def test_forwarded_headers_only_with_trusted_proxy(api: Api, server: Any, database_url: str) -> None:
    from flexchat.testing import run_server

    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"}
    assert api.get("/v1/Channels", headers=forwarded).json()["meta"]["url"].startswith(server.base_url)
    with run_server(database_url, extra_args=["--trust-proxy"]) as srv:
        meta = Api(srv.base_url, srv.auth).get("/v1/Channels", headers=forwarded).json()["meta"]
        assert meta["url"].startswith("https://api.example.com/v1/Channels?")


def _read_response(sock: socket.socket) -> tuple[bytes, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body: status line, headers, body."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection after {buffer!r}"
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {k.decode().lower(): v.decode().strip() for k, _, v in (line.partition(b":") for line in lines)}
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk
        rest += chunk
    return status, headers, rest[:length]


def _flow_post_head(user: str, secret: str, length: int) -> bytes:
    """The head of a raw ``POST /v1/FlexFlows`` with Basic credentials and a body of ``length``."""
    authorization = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return (
        b"POST /v1/FlexFlows HTTP/1.1\r\nHost: flex-api.twilio.com\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"Authorization: Basic {authorization}\r\nContent-Length: {length}\r\n\r\n".encode()
    )


def test_an_answer_given_before_the_body_arrived_keeps_the_connection(server: ServerProcess, account: Account) -> None:
    # A keep-alive client whose POST is refused (401 here; 429 under overload) before
    # its body has arrived must be able to send its next request on the same
    # connection, as requests' and twilio-python's connection pools do.
    port = int(urlsplit(server.base_url).port or 80)
    body = b"FriendlyName=late&ChatServiceSid=IS" + b"a" * 32
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for secret, expected in (("0" * 32, b"401"), ("0" * 32, b"401"), (account.auth_token, b"400")):
            sock.sendall(_flow_post_head(account.sid, secret, len(body)))
            time.sleep(0.05)  # the answer is decided before the body is on its way
            sock.sendall(body)
            status, headers, _ = _read_response(sock)
            assert expected in status
            assert headers.get("connection") != "close"


def test_a_body_too_large_to_read_is_answered_and_the_connection_ends(server: ServerProcess, account: Account) -> None:
    port = int(urlsplit(server.base_url).port or 80)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_flow_post_head(account.sid, account.auth_token, 50 * 1024 * 1024))
        status, headers, body = _read_response(sock)
        assert b"413" in status and b"20413" in body
        # Said in the answer, then done: the unread 50 MB cannot precede a next request.
        assert headers["connection"] == "close"
        assert sock.recv(100) == b""
