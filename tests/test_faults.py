"""Faults on demand: off by default, switched per account and route family through the
control API and the CLI, held across API processes, and shaping answers exactly as
Twilio's (bodies, codes, headers) with X-Flexchat-Fault saying so."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import requests

from flexchat.faults import FaultRule, put_fault
from flexchat.testing import InProcessFlexchat, InProcessResponse, run_server

from .postgres import fresh_database
from .test_cli import flexchat as cli

BASE = "https://flex-api.twilio.com"
FAULTS = BASE + "/flexchat/v1/Faults"


def set_fault(flexchat: InProcessFlexchat, family: str, auth: tuple[str, str] | None = None, **params: Any) -> Any:
    response = flexchat.request("POST", f"{FAULTS}/{family}", data=params, auth=auth or flexchat.auth)
    assert response.status == 200, response.text
    return response.json()


def channels(flexchat: InProcessFlexchat, auth: tuple[str, str] | None = None) -> InProcessResponse:
    return flexchat.request("GET", BASE + "/v1/Channels", auth=auth or flexchat.auth)


def assert_twilio_error(response: InProcessResponse, status: int, code: int) -> None:
    assert response.status == status, response.text
    body = response.json()
    assert body == {
        "code": code, "message": body["message"], "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def test_off_by_default(flexchat: InProcessFlexchat) -> None:
    response = channels(flexchat)
    assert response.status == 200 and response.header("x-flexchat-fault") is None
    listed = flexchat.request("GET", FAULTS, auth=flexchat.auth).json()
    assert [rule["family"] for rule in listed["faults"]] == ["flex", "chat", "taskrouter", "studio", "*"]
    for rule in listed["faults"]:
        assert rule["error_rate"] == rule["throttle_rate"] == rule["latency_ms"] == rule["drop_delivery_rate"] == 0
    assert not flexchat.app.faults.should_drop_delivery(flexchat.account_sid)


@pytest.mark.parametrize(("status", "code"), [(500, 20500), (503, 20503)])
def test_an_error_rate_of_one_gives_twilios_error_then_is_turned_off(
    flexchat: InProcessFlexchat, status: int, code: int
) -> None:
    rule = set_fault(flexchat, "flex", ErrorRate="1.0", ErrorStatus=str(status))
    assert (rule["family"], rule["error_rate"], rule["error_status"]) == ("flex", 1.0, status)
    assert rule["url"] == f"{FAULTS}/flex"
    for _ in range(3):
        response = channels(flexchat)
        assert_twilio_error(response, status, code)
        assert response.header("x-flexchat-fault") == "error-rate"
        assert (response.header("twilio-request-id") or "").startswith("RQ")
    # Nothing ran: a create under the fault creates nothing.
    created = flexchat.request("POST", BASE + "/v1/FlexFlows", data={"FriendlyName": "x"}, auth=flexchat.auth)
    assert created.status == status
    assert flexchat.request("DELETE", f"{FAULTS}/flex", auth=flexchat.auth).status == 204
    response = channels(flexchat)
    assert response.status == 200 and response.header("x-flexchat-fault") is None


def test_429_bursts_carry_twilios_code_and_concurrent_requests_header(
    flexchat: InProcessFlexchat, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_fault(flexchat, "flex", ThrottleRate="1")
    response = channels(flexchat)
    assert_twilio_error(response, 429, 20429)
    assert response.json()["message"] == "Too Many Requests"
    assert response.header("twilio-concurrent-requests") == "1"
    assert response.header("x-flexchat-fault") == "throttle"
    # A burst: one draw starts it, the next requests are throttled without drawing.
    draws = iter([0.1, 0.9, 0.9, 0.9])
    monkeypatch.setattr("flexchat.faults.random.random", lambda: next(draws))
    set_fault(flexchat, "flex", ThrottleRate="0.5", ThrottleBurst="3")
    statuses = [channels(flexchat).status for _ in range(5)]
    assert statuses == [429, 429, 429, 200, 200]


def test_concurrent_requests_header_counts_the_accounts_requests_in_flight(flexchat: InProcessFlexchat) -> None:
    other = flexchat.create_account()
    set_fault(flexchat, "flex", LatencyMs="200", ThrottleRate="1")

    async def together() -> list[InProcessResponse]:
        mine = [flexchat.request_async("GET", BASE + "/v1/Channels", auth=flexchat.auth) for _ in range(3)]
        theirs = [flexchat.request_async("GET", BASE + "/v1/Channels", auth=other) for _ in range(2)]
        return list(await asyncio.gather(*mine, *theirs))

    responses = asyncio.run(together())
    assert [r.status for r in responses] == [429, 429, 429, 200, 200]
    # Each 429 saw the account's requests still in flight: 3, then 2, then 1; the other
    # account's requests do not count.
    assert sorted(int(r.header("twilio-concurrent-requests") or 0) for r in responses[:3]) == [1, 2, 3]
    assert flexchat.app.faults.in_flight == {}


def test_latency_is_added_and_combines_with_other_faults(flexchat: InProcessFlexchat) -> None:
    started = time.monotonic()
    assert channels(flexchat).status == 200
    baseline = time.monotonic() - started
    set_fault(flexchat, "*", LatencyMs="300")
    started = time.monotonic()
    response = channels(flexchat)
    assert time.monotonic() - started >= 0.3
    assert response.status == 200 and response.header("x-flexchat-fault") == "latency"
    # A family's own rule replaces the "*" rule for that family.
    set_fault(flexchat, "flex", LatencyMs="100", ErrorRate="1")
    started = time.monotonic()
    response = channels(flexchat)
    assert 0.1 <= time.monotonic() - started < 0.3
    assert response.status == 500 and response.header("x-flexchat-fault") == "latency, error-rate"
    assert flexchat.request("DELETE", FAULTS, auth=flexchat.auth).status == 204
    started = time.monotonic()
    response = channels(flexchat)
    assert response.status == 200 and time.monotonic() - started < baseline + 0.1


# One list request of each route family (Twilio serves each from its own host; flexchat
# routes by path).
FAMILY_REQUESTS = {
    "flex": "https://flex-api.twilio.com/v1/Channels",
    "chat": "https://chat.twilio.com/v2/Services",
    "taskrouter": "https://taskrouter.twilio.com/v1/Workspaces",
    "studio": "https://studio.twilio.com/v2/Flows/FW" + "0" * 32 + "/Executions",
}


@pytest.mark.parametrize("family", list(FAMILY_REQUESTS))
def test_a_familys_rule_shapes_that_family_only(flexchat: InProcessFlexchat, family: str) -> None:
    def statuses() -> dict[str, int]:
        return {name: flexchat.request("GET", url, auth=flexchat.auth).status for name, url in FAMILY_REQUESTS.items()}

    assert set(statuses().values()) == {200}
    set_fault(flexchat, family, ErrorRate="1", ErrorStatus="503")
    shaped = flexchat.request("GET", FAMILY_REQUESTS[family], auth=flexchat.auth)
    assert_twilio_error(shaped, 503, 20503)
    assert shaped.header("x-flexchat-fault") == "error-rate" and shaped.header("retry-after") == "1"
    assert statuses() == {name: 503 if name == family else 200 for name in FAMILY_REQUESTS}
    flexchat.request("DELETE", f"{FAULTS}/{family}", auth=flexchat.auth)
    assert set(statuses().values()) == {200}


def test_faults_are_per_account(flexchat: InProcessFlexchat) -> None:
    other = flexchat.create_account()
    set_fault(flexchat, "*", ErrorRate="1", DropDeliveryRate="1")
    assert channels(flexchat).status == 500
    assert channels(flexchat, other).status == 200
    # Each account sees only its own rules.
    theirs = flexchat.request("GET", f"{FAULTS}/*", auth=other).json()
    assert (theirs["account_sid"], theirs["error_rate"]) == (other[0], 0)
    assert flexchat.app.faults.should_drop_delivery(flexchat.account_sid)
    assert not flexchat.app.faults.should_drop_delivery(other[0])
    # Clearing all of one account's faults leaves the other's alone.
    set_fault(flexchat, "flex", auth=other, ErrorRate="1", ErrorStatus="503")
    assert flexchat.request("DELETE", FAULTS, auth=flexchat.auth).status == 204
    assert channels(flexchat).status == 200
    assert channels(flexchat, other).status == 503


def test_dropped_deliveries_hook(flexchat: InProcessFlexchat, monkeypatch: pytest.MonkeyPatch) -> None:
    faults = flexchat.app.faults
    set_fault(flexchat, "chat", DropDeliveryRate="1")
    # Only deliveries: API requests of the family are untouched.
    assert channels(flexchat).status == 200
    assert faults.should_drop_delivery(flexchat.account_sid)
    assert faults.should_drop_delivery(flexchat.account_sid, "chat")
    assert not faults.should_drop_delivery(flexchat.account_sid, "studio")
    set_fault(flexchat, "chat", DropDeliveryRate="0.5")
    monkeypatch.setattr("flexchat.faults.random.random", iter([0.2, 0.7]).__next__)
    assert [faults.should_drop_delivery(flexchat.account_sid) for _ in range(2)] == [True, False]
    assert faults.injected.values[("chat", "dropped-delivery")] == 3
    flexchat.request("DELETE", f"{FAULTS}/chat", auth=flexchat.auth)
    assert not faults.should_drop_delivery(flexchat.account_sid)


def test_faults_never_touch_the_control_api_or_operations(flexchat: InProcessFlexchat) -> None:
    set_fault(flexchat, "*", ErrorRate="1", ThrottleRate="1", LatencyMs="0")
    assert channels(flexchat).status == 429
    for path in ("/healthz", "/readyz", "/metrics"):
        response = flexchat.request("GET", BASE + path)
        assert response.status == 200 and response.header("x-flexchat-fault") is None
    assert flexchat.request("GET", FAULTS, auth=flexchat.auth).status == 200
    assert flexchat.request("DELETE", FAULTS, auth=flexchat.auth).status == 204
    assert channels(flexchat).status == 200


def test_updates_change_only_the_parameters_given(flexchat: InProcessFlexchat) -> None:
    set_fault(flexchat, "flex", ErrorRate="0.25", LatencyMs="5")
    rule = set_fault(flexchat, "flex", ThrottleRate="0.5")
    assert (rule["error_rate"], rule["latency_ms"], rule["throttle_rate"]) == (0.25, 5, 0.5)
    fetched = flexchat.request("GET", f"{FAULTS}/flex", auth=flexchat.auth).json()
    assert fetched == rule


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ErrorRate": "2"}, "Invalid ErrorRate: '2' is not a number from 0 to 1"),
        ({"ErrorRate": "nan"}, "Invalid ErrorRate: 'nan' is not a number from 0 to 1"),
        ({"ThrottleRate": "x"}, "Invalid ThrottleRate: 'x' is not a number from 0 to 1"),
        ({"ErrorStatus": "404"}, "Invalid ErrorStatus: '404' is not one of 500, 503"),
        ({"LatencyMs": "-1"}, "Invalid LatencyMs: '-1' is not a whole number from 0 to 60000"),
        ({"LatencyMs": "1.5"}, "Invalid LatencyMs: '1.5' is not an integer"),
        ({"ThrottleBurst": "0"}, "Invalid ThrottleBurst: '0' is not a whole number from 1 to 10000"),
    ],
)
def test_bad_parameters_get_twilio_errors(flexchat: InProcessFlexchat, params: dict[str, str], message: str) -> None:
    response = flexchat.request("POST", f"{FAULTS}/flex", data=params, auth=flexchat.auth)
    assert_twilio_error(response, 400, 20001)
    assert response.json()["message"] == message
    assert channels(flexchat).status == 200


def test_unknown_family_and_missing_credentials(flexchat: InProcessFlexchat) -> None:
    response = flexchat.request("POST", f"{FAULTS}/voice", data={"ErrorRate": "1"}, auth=flexchat.auth)
    assert_twilio_error(response, 404, 20404)
    assert response.json()["message"] == "Unknown fault family 'voice': use one of flex, chat, taskrouter, studio, *"
    assert_twilio_error(flexchat.request("POST", f"{FAULTS}/flex", data={"ErrorRate": "1"}), 401, 20003)
    assert_twilio_error(flexchat.request("PUT", f"{FAULTS}/flex", auth=flexchat.auth), 405, 20004)


def test_fault_metrics_count_what_was_injected(flexchat: InProcessFlexchat) -> None:
    set_fault(flexchat, "flex", ErrorRate="1")
    channels(flexchat)
    channels(flexchat)
    metrics = flexchat.request("GET", BASE + "/metrics").text
    assert 'flexchat_faults_injected_total{family="flex",fault="error-rate"} 2' in metrics
    assert 'flexchat_http_requests_total{route="/v1/Channels",method="GET",status="500"} 2' in metrics


def test_rules_of_a_database_reload_and_survive_an_unreachable_store(flexchat: InProcessFlexchat) -> None:
    faults = flexchat.app.faults
    flexchat.run(faults.store.write(put_fault(FaultRule(flexchat.account_sid, "flex", error_rate=1.0))))
    # Written behind the app's back, as another process would: picked up by the reload.
    deadline = time.monotonic() + 5
    while channels(flexchat).status != 500:
        assert time.monotonic() < deadline, "the rule written to the database was never picked up"
        time.sleep(0.1)

    async def unreachable(script: Any) -> Any:
        script.close()
        raise OSError("database unreachable")

    faults.store.read = unreachable  # type: ignore[method-assign]
    time.sleep(faults.refresh_seconds * 2.5)
    assert channels(flexchat).status == 500, "the last rules known stay in force"


# -- several processes and the CLI -----------------------------------------------------------


def http_status(server: Any, auth: tuple[str, str]) -> requests.Response:
    return requests.get(server.base_url + "/v1/Channels", auth=auth, timeout=10)


def wait_for(predicate: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "not within the refresh interval"
        time.sleep(0.1)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_faults_hold_across_processes_and_the_cli(engine: str, tmp_path: Any) -> None:
    with fresh_database(engine, tmp_path) as url, run_server(url) as first, run_server(url) as second:
        auth = first.auth
        other = first.create_account()
        # Set through the first process's control API: the second applies it too.
        response = requests.post(
            first.base_url + "/flexchat/v1/Faults/flex", data={"ErrorRate": "1", "ErrorStatus": "503"},
            auth=auth, timeout=10,
        )
        assert response.status_code == 200, response.text
        assert http_status(first, auth).status_code == 503  # at once where it was set
        wait_for(lambda: http_status(second, auth).status_code == 503)
        failed = http_status(second, auth)
        assert failed.json()["code"] == 20503 and failed.headers["X-Flexchat-Fault"] == "error-rate"
        assert http_status(second, other).status_code == 200

        # The CLI writes to the database: both processes follow.
        cleared = cli("faults", "clear", "--database", url, "--account-sid", first.account_sid, "--family", "flex")
        assert cleared.returncode == 0, cleared.stderr
        assert json.loads(cleared.stdout) == []
        wait_for(lambda: http_status(first, auth).status_code == 200 and http_status(second, auth).status_code == 200)

        result = cli(
            "faults", "set", "--database", url, "--account-sid", other[0], "--family", "*",
            "--throttle-rate", "1", "--latency-ms", "10",
        )
        assert result.returncode == 0, result.stderr
        [rule] = json.loads(result.stdout)
        assert (rule["family"], rule["throttle_rate"], rule["latency_ms"]) == ("*", 1, 10)
        assert rule["account_sid"] == other[0]
        wait_for(lambda: http_status(first, other).status_code == 429 and http_status(second, other).status_code == 429)
        throttled = http_status(first, other)
        assert throttled.status_code == 429 and throttled.headers["X-Flexchat-Fault"] == "latency, throttle"
        assert int(throttled.headers["Twilio-Concurrent-Requests"]) >= 1
        assert http_status(first, auth).status_code == 200

        listed = cli("faults", "list", "--database", url, "--account-sid", other[0])
        assert [r["family"] for r in json.loads(listed.stdout)] == ["*"]
        assert cli("faults", "clear", "--database", url, "--account-sid", other[0]).returncode == 0
        wait_for(lambda: http_status(first, other).status_code == 200 and http_status(second, other).status_code == 200)


def test_cli_refuses_bad_input_clearly(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    made = cli("account", "create", "--database", url)
    sid = json.loads(made.stdout)["sid"]
    result = cli("faults", "set", "--database", url, "--account-sid", sid, "--family", "flex", "--error-rate", "7")
    assert result.returncode == 2 and "Invalid ErrorRate: '7' is not a number from 0 to 1" in result.stderr
    result = cli("faults", "set", "--database", url, "--account-sid", sid, "--family", "voice", "--error-rate", "1")
    assert result.returncode == 2 and "Invalid Family: 'voice'" in result.stderr
    result = cli("faults", "list", "--database", url, "--account-sid", "AC" + "0" * 32)
    assert result.returncode == 1 and "no account" in result.stderr
    assert json.loads(cli("faults", "list", "--database", url, "--account-sid", sid).stdout) == []
