"""HEAD is answered like GET, without the body (RFC 9110): curl -I, uptime checks and
link checkers get the status and headers a GET would."""

from __future__ import annotations

from flexchat.testing import InProcessFlexchat

from .conftest import Api


def test_head_is_get_without_the_body(api: Api, anonymous: Api) -> None:
    flow = api.create_flow()
    for path in ("/v1/Channels", "/v1/FlexFlows", f"/v1/FlexFlows/{flow['sid']}"):
        get, head = api.get(path), api.request("HEAD", path)
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["Content-Length"] == str(len(get.content))
        assert head.headers["Content-Type"] == get.headers["Content-Type"]
    # Errors too: the status and headers of the GET, no body.
    missing = api.request("HEAD", "/v1/FlexFlows/FO" + "0" * 32)
    assert (missing.status_code, missing.content) == (404, b"")
    assert anonymous.request("HEAD", "/v1/Channels").status_code == 401


def test_head_is_allowed_where_get_is(api: Api) -> None:
    refused = api.request("PUT", "/v1/Channels")
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET, POST, HEAD, OPTIONS"


def test_the_application_itself_sends_no_body_for_head() -> None:
    # Over HTTP the server could be dropping the body; in process nothing stands between.
    with InProcessFlexchat() as flexchat:
        get = flexchat.request("GET", "https://flex-api.twilio.com/v1/FlexFlows", auth=flexchat.auth)
        head = flexchat.request("HEAD", "https://flex-api.twilio.com/v1/FlexFlows", auth=flexchat.auth)
    assert head.status == get.status == 200
    assert head.body == b"" and get.body
    assert head.header("content-length") == str(len(get.body))
