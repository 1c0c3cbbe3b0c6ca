"""Operations: /healthz, /readyz (and its readiness checks list), /metrics in the
Prometheus text format moving with traffic, and the access log."""

from __future__ import annotations

import io
import json
import re
import time
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from flexchat.access_log import AccessLog, mask_params, mask_query
from flexchat.app import create_app
from flexchat.metrics import Metrics
from flexchat.operations import ReadinessCheck
from flexchat.settings import Settings, SettingsError
from flexchat.testing import InProcessFlexchat, InProcessResponse, run_server

from .postgres import TcpProxy, fresh_database
from .test_http_layer import call

BASE = "https://flex-api.twilio.com"
FLOW = {
    "FriendlyName": "Support",
    "ChatServiceSid": "IS" + "a" * 32,
    "ChannelType": "web",
    "IntegrationType": "studio",
    "Integration.FlowSid": "FW" + "b" * 32,
}


def get(flexchat: InProcessFlexchat, path: str, auth: bool = True, **kwargs: Any) -> InProcessResponse:
    return flexchat.request("GET", BASE + path, auth=flexchat.auth if auth else None, **kwargs)


def scrape(flexchat: InProcessFlexchat) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, parsed by prometheus_client's parser: (name, labels) -> value."""
    response = get(flexchat, "/metrics", auth=False)
    assert response.status == 200
    assert response.header("content-type") == "text/plain; version=0.0.4; charset=utf-8"
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def requests_total(samples: dict[Any, float], route: str, method: str, status: str) -> float:
    labels = tuple(sorted({"route": route, "method": method, "status": status}.items()))
    return samples.get(("flexchat_http_requests_total", labels), 0.0)


# -- health and readiness ----------------------------------------------------------------


def test_healthz_and_readyz_answer_without_credentials(flexchat: InProcessFlexchat) -> None:
    health = get(flexchat, "/healthz", auth=False)
    assert (health.status, health.json()) == (200, {"status": "ok"})
    ready = get(flexchat, "/readyz", auth=False)
    assert ready.status == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}
    # Only GET: the operations routes answer other methods as Twilio answers any route.
    assert flexchat.request("POST", BASE + "/healthz").status == 405


def test_a_failing_readiness_check_makes_readyz_503_and_names_it(flexchat: InProcessFlexchat) -> None:
    stuck = {"now": True}

    async def outbox_not_stuck(ctx: Any) -> None:
        if stuck["now"]:
            raise RuntimeError("oldest entry waits for 900 s")

    flexchat.app.context.readiness_checks.append(ReadinessCheck("outbox", outbox_not_stuck))
    response = get(flexchat, "/readyz", auth=False)
    assert response.status == 503
    body = response.json()
    assert (body["code"], body["status"]) == (20503, 503)
    assert body["checks"] == {
        "database": "ok", "migrations": "ok", "outbox": "RuntimeError: oldest entry waits for 900 s"
    }
    assert "outbox" in body["message"]
    stuck["now"] = False
    assert get(flexchat, "/readyz", auth=False).status == 200


def test_readyz_reports_a_schema_this_flexchat_does_not_match(flexchat: InProcessFlexchat) -> None:
    store = flexchat.app.store

    async def newer() -> tuple[int, int]:
        return 99, 2

    store.schema_version = newer  # type: ignore[method-assign]
    response = get(flexchat, "/readyz", auth=False)
    assert response.status == 503
    assert response.json()["checks"]["migrations"] == "RuntimeError: schema version 99, this flexchat has 2"


@pytest.mark.parametrize("outage", ["refused", "partition"])
def test_readyz_fails_while_postgresql_is_down_and_recovers(outage: str) -> None:
    with fresh_database("postgresql") as url:
        proxy = TcpProxy.for_url(url)
        try:
            with run_server(proxy.url(url), extra_args=["--db-timeout", "1"]) as server:
                ready = requests.get(server.base_url + "/readyz", timeout=10)
                assert ready.status_code == 200, ready.text
                if outage == "refused":
                    proxy.cut()
                else:
                    proxy.blackhole()
                started = time.monotonic()
                down = requests.get(server.base_url + "/readyz", timeout=10)
                assert time.monotonic() - started < 1 + 1.5  # the deadline, plus scheduling noise
                assert down.status_code == 503
                body = down.json()
                assert (body["code"], body["status"]) == (20503, 503)
                assert body["checks"]["database"] != "ok"
                # Alive all along: liveness does not depend on the database.
                assert requests.get(server.base_url + "/healthz", timeout=10).status_code == 200
                proxy.restore()
                deadline = time.monotonic() + 15
                while True:
                    ready = requests.get(server.base_url + "/readyz", timeout=10)
                    if ready.status_code == 200 or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                assert ready.status_code == 200, ready.text
                assert ready.json()["checks"] == {"database": "ok", "migrations": "ok"}
        finally:
            proxy.close()


# -- metrics -----------------------------------------------------------------------------


def test_metrics_parse_and_move_with_traffic(flexchat: InProcessFlexchat) -> None:
    before = scrape(flexchat)
    flow = flexchat.request("POST", BASE + "/v1/FlexFlows", data=FLOW, auth=flexchat.auth).json()
    channel = flexchat.request(
        "POST", BASE + "/v1/Channels", auth=flexchat.auth,
        data={"FlexFlowSid": flow["sid"], "Identity": "c1", "ChatUserFriendlyName": "C", "ChatFriendlyName": "C"},
    ).json()
    for _ in range(5):
        assert get(flexchat, "/v1/Channels").status == 200
    assert get(flexchat, f"/v1/Channels/{channel['sid']}").status == 200
    assert get(flexchat, "/v1/Channels/CH" + "0" * 32).status == 404
    assert get(flexchat, "/v1/Channels", auth=False).status == 401
    assert get(flexchat, "/no/such/path").status == 404
    after = scrape(flexchat)

    def moved(route: str, method: str, status: str) -> float:
        return requests_total(after, route, method, status) - requests_total(before, route, method, status)

    assert moved("/v1/Channels", "GET", "200") == 5
    assert moved("/v1/Channels", "POST", "201") == 1
    assert moved("/v1/Channels", "GET", "401") == 1
    # Labelled by route pattern, never by the path: Sids do not become time series.
    assert moved("/v1/Channels/{Sid}", "GET", "200") == 1
    assert moved("/v1/Channels/{Sid}", "GET", "404") == 1
    assert moved("unmatched", "GET", "404") == 1
    assert not any("CH" in value for _, labels in after for _, value in labels)

    labels = (("method", "GET"), ("route", "/v1/Channels"), ("status", "200"))
    buckets = sorted(
        (float(dict(key[1])["le"]), value)
        for key, value in after.items()
        if key[0] == "flexchat_http_request_duration_seconds_bucket"
        and tuple(item for item in key[1] if item[0] != "le") == labels
    )
    counts = [value for _, value in buckets]
    assert counts == sorted(counts), "buckets are cumulative"
    assert buckets[-1] == (float("inf"), after[("flexchat_http_request_duration_seconds_count", labels)])
    assert after[("flexchat_http_request_duration_seconds_count", labels)] == requests_total(
        after, "/v1/Channels", "GET", "200"
    )
    assert 0 < after[("flexchat_http_request_duration_seconds_sum", labels)] < 5.0
    # The database figures are there (SQLite has a write queue, not a pool).
    assert after[("flexchat_db_write_queue_depth", ())] == 0
    assert after[("process_resident_memory_bytes", ())] > 1_000_000


def test_metrics_of_a_postgresql_pool() -> None:
    with fresh_database("postgresql") as url:
        flexchat = InProcessFlexchat(url)
        try:
            assert get(flexchat, "/v1/Channels").status == 200
            samples = scrape(flexchat)
            assert samples[("flexchat_db_pool_max_connections", ())] == 10
            idle = samples[("flexchat_db_pool_connections", (("state", "idle"),))]
            in_use = samples[("flexchat_db_pool_connections", (("state", "in_use"),))]
            assert idle >= 1 and in_use >= 0
        finally:
            flexchat.close()


def test_metrics_registered_by_other_modules_and_label_escaping() -> None:
    metrics = Metrics()
    attempts = metrics.counter("flexchat_delivery_attempts_total", "Webhook delivery attempts.", ("outcome",))
    attempts.inc("failed")
    attempts.inc("failed")
    attempts.inc('quote " back \\ newline \n')
    depth = {"value": 7.0}
    metrics.gauge("flexchat_outbox_depth", "Deliveries waiting.", read=lambda: [((), depth["value"])])
    age = metrics.histogram("flexchat_outbox_age_seconds", "Age at delivery.", ("family",), buckets=(1.0, 10.0))
    age.observe(("chat",), 0.5)
    age.observe(("chat",), 20.0)
    metrics.requests.observe("/v1/Channels", "BREW", 405, 0.001)
    with pytest.raises(ValueError, match="registered already"):
        metrics.counter("flexchat_delivery_attempts_total", "again")
    with pytest.raises(ValueError):
        attempts.inc("failed", amount=-1)

    families = {family.name: family for family in text_string_to_metric_families(metrics.render().decode())}
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert families["flexchat_delivery_attempts"].type == "counter"
    assert values[("flexchat_delivery_attempts_total", (("outcome", "failed"),))] == 2
    assert values[("flexchat_delivery_attempts_total", (("outcome", 'quote " back \\ newline \n'),))] == 1
    assert values[("flexchat_outbox_depth", ())] == 7
    assert values[("flexchat_outbox_age_seconds_bucket", (("family", "chat"), ("le", "1.0")))] == 1
    assert values[("flexchat_outbox_age_seconds_bucket", (("family", "chat"), ("le", "+Inf")))] == 2
    assert values[("flexchat_outbox_age_seconds_sum", (("family", "chat"),))] == 20.5
    # A method no client should send is one series, not one per spelling.
    other = (("method", "other"), ("route", "/v1/Channels"), ("status", "405"))
    assert values[("flexchat_http_requests_total", other)] == 1


# -- access log --------------------------------------------------------------------------


def logged(flexchat: InProcessFlexchat, fmt: str = "text") -> io.StringIO:
    stream = io.StringIO()
    flexchat.app.access_log = AccessLog(fmt, stream)
    return stream


def test_access_log_line_carries_the_request_id_and_masks_secrets(flexchat: InProcessFlexchat) -> None:
    stream = logged(flexchat)
    response = get(flexchat, "/v1/Channels?PageSize=5&AuthToken=hunter2&password=swordfish&api_key=k3y&X=1")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    line = lines[0]
    request_id = response.header("twilio-request-id")
    assert request_id and line.endswith(" " + request_id)
    assert '"GET /v1/Channels?PageSize=5&AuthToken=***&password=***&api_key=***&X=1" 200 ' in line
    assert flexchat.account_sid in line
    for secret in ("hunter2", "swordfish", "k3y", flexchat.auth_token, "Basic"):
        assert secret not in line
    # A failed login is logged without the credentials that failed.
    get(flexchat, "/v1/Channels", auth=False, headers={"Authorization": "Basic QUN4OnNlY3JldA=="})
    assert "QUN4OnNlY3JldA" not in stream.getvalue() and " 401 " in stream.getvalue()


def test_access_log_as_json_lines(flexchat: InProcessFlexchat) -> None:
    stream = logged(flexchat, "json")
    response = get(flexchat, "/v1/FlexFlows?Token=abc")
    entry = json.loads(stream.getvalue())
    assert entry["request_id"] == response.header("twilio-request-id")
    assert entry | {"time": None, "duration_ms": None} == {
        "time": None, "duration_ms": None, "remote": "127.0.0.1", "account_sid": flexchat.account_sid,
        "method": "GET", "target": "/v1/FlexFlows?Token=***", "route": "/v1/FlexFlows", "status": 200,
        "request_id": response.header("twilio-request-id"),
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    assert entry["duration_ms"] >= 0


def test_a_path_cannot_forge_a_log_line() -> None:
    import asyncio

    async def scenario() -> str:
        app = create_app(Settings(database_url="sqlite:///:memory:"))
        stream = io.StringIO()
        app.access_log = AccessLog("text", stream)
        await app.startup()
        try:
            await call(app, "GET", '/v1/x\n127.0.0.1 - "GET /forged" 200', [], [])
        finally:
            await app.shutdown()
        return stream.getvalue()

    text = asyncio.run(scenario())
    assert text.count("\n") == 1 and '\\x0a127.0.0.1 - \\"GET /forged\\"' in text


def test_masking_helpers() -> None:
    assert mask_query("a=1&Auth%54oken=x&b") == "a=1&Auth%54oken=***&b"
    assert mask_query("PageSize=50") == "PageSize=50"
    assert mask_query("PageSize=50&PageToken=PA123&Token=x") == "PageSize=50&PageToken=PA123&Token=***"
    assert mask_query("a=b+c&PASSWORD=p") == "a=b+c&PASSWORD=***"
    assert mask_params({"Identity": "me", "Signature": "s", "ClientSecret": "c"}) == {
        "Identity": "me", "Signature": "***", "ClientSecret": "***"
    }
    with pytest.raises(ValueError):
        AccessLog("xml")


def test_access_log_and_fault_settings_are_checked() -> None:
    loaded = Settings.load({}, {"FLEXCHAT_ACCESS_LOG_FORMAT": "json", "FLEXCHAT_FAULTS_REFRESH": "0.5"})
    assert (loaded.access_log_format, loaded.faults_refresh) == ("json", 0.5)
    flag_wins = Settings.load({"access_log_format": "text"}, {"FLEXCHAT_ACCESS_LOG_FORMAT": "json"})
    assert flag_wins.access_log_format == "text"
    with pytest.raises(SettingsError, match="access_log_format"):
        Settings.load({}, {"FLEXCHAT_ACCESS_LOG_FORMAT": "xml"})
    with pytest.raises(SettingsError, match="faults_refresh"):
        Settings.load({}, {"FLEXCHAT_FAULTS_REFRESH": "0"})


def test_the_server_logs_exactly_one_line_per_request(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    with run_server(url, extra_args=["--access-log", "--access-log-format", "json"]) as server:
        ids = []
        for path in ("/v1/Channels", "/v1/FlexFlows", "/healthz", "/nowhere"):
            response = requests.get(server.base_url + path, auth=server.auth, timeout=10)
            ids.append(response.headers["Twilio-Request-Id"])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and ids[-1] not in server.output():
            time.sleep(0.05)
        output = server.output()
    entries = [json.loads(line) for line in output.splitlines() if line.startswith("{") and "request_id" in line]
    # run_server's own readiness probe is logged too; the four requests once each.
    assert [entry["request_id"] for entry in entries if entry["request_id"] in ids] == ids
    assert [entry["status"] for entry in entries if entry["request_id"] in ids] == [200, 200, 200, 404]
    assert "HTTP/1.1\" 200" not in output, "the server's own access log is on too"
    assert server.auth_token not in output
