"""Webhooks delivered for real, from the outbox, to HTTP receivers the tests start.

Every test runs on SQLite and on PostgreSQL against a real ``flexchat serve`` whose
delivery settings are short (timeout, backoff, poll), and checks what the receiver got,
what ``/flexchat/v1/Deliveries`` and ``flexchat deliveries list`` report, and what the
API's latency did meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from twilio.request_validator import RequestValidator

from flexchat.auth import hash_secret
from flexchat.settings import Settings
from flexchat.store import create_store
from flexchat.store.sql import Script, sql
from flexchat.testing import ServerProcess, run_server

from .conftest import Account, Api, add_account
from .postgres import TcpProxy, fresh_database
from .webhooks import receiving, send_messages, write_message_events

TIMEOUT = 1.5
FAST = {
    "FLEXCHAT_WEBHOOK_TIMEOUT": str(TIMEOUT),
    "FLEXCHAT_WEBHOOK_RETRY_BACKOFF": "0.05",
    "FLEXCHAT_WEBHOOK_POLL_INTERVAL": "0.1",
}
FIELDS = {
    "EventType", "AccountSid", "InstanceSid", "ChannelSid", "MessageSid", "Index", "Body", "From",
    "Attributes", "Source", "DateCreated", "RetryCount", "WebhookSid", "WebhookType",
}


@pytest.fixture(scope="module")
def hub(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own (other servers on one database would share its deliveries)."""
    with fresh_database(engine, tmp_path_factory.mktemp("delivery")) as url, run_server(url, env=FAST) as server:
        yield server


@pytest.fixture
def tenant(hub: ServerProcess) -> Account:
    return add_account(hub.database_url)


@pytest.fixture
def hub_api(hub: ServerProcess, tenant: Account) -> Api:
    return Api(hub.base_url, tenant.auth)


def external_channel(api: Api, url: str, retry_count: int = 0, identity: str = "customer-1") -> tuple[str, str]:
    """A Flex channel on an ``external`` flow posting to ``url``: (service sid, channel sid)."""
    flow = api.create_flow(
        IntegrationType="external", **{"Integration.Url": url, "Integration.RetryCount": str(retry_count)}
    )
    response = api.create_channel(flow["sid"], identity)
    assert response.status_code == 201, response.text
    return flow["chat_service_sid"], response.json()["sid"]


def deliveries(api: Api, channel_sid: str, **filters: str) -> list[dict[str, Any]]:
    response = api.get("/flexchat/v1/Deliveries", params={"ChannelSid": channel_sid, **filters})
    assert response.status_code == 200, response.text
    return list(response.json()["deliveries"])


def settled(api: Api, channel_sid: str, count: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The channel's deliveries once ``count`` of them are no longer pending, with attempts."""
    deadline = time.monotonic() + timeout
    while True:
        items = deliveries(api, channel_sid)
        done = [item for item in items if item["state"] != "pending"]
        if len(done) >= count or time.monotonic() > deadline:
            assert len(done) >= count, items
            return [api.get(item["url"]).json() for item in done]
        time.sleep(0.1)


def test_a_message_reaches_the_receiver_signed_with_every_field(
    hub: ServerProcess, hub_api: Api, tenant: Account
) -> None:
    with receiving() as receiver:
        service, channel = external_channel(hub_api, receiver.url)
        (message,) = send_messages(hub, tenant, service, channel, ["Hello there"])
        (request,) = receiver.wait_for(1)
        (delivery,) = settled(hub_api, channel)

    assert request.method == "POST"
    assert request.headers["User-Agent"] == "TwilioProxy/1.1"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["I-Twilio-Idempotency-Token"] == delivery["id"]
    form = request.form
    assert set(form) == FIELDS
    assert form["EventType"] == "onMessageSent"
    assert form["AccountSid"] == tenant.sid
    assert form["InstanceSid"] == service
    assert form["ChannelSid"] == channel
    assert form["MessageSid"] == message
    assert form["Body"] == "Hello there"
    assert form["From"] == "customer-1"
    assert form["Source"] == "API"
    assert form["RetryCount"] == "0"
    assert form["WebhookType"] == "webhook"
    assert form["WebhookSid"].startswith("WH")
    assert form["DateCreated"].endswith(".000Z")
    signature = request.headers["X-Twilio-Signature"]
    assert RequestValidator(tenant.auth_token).validate(request.url, form, signature)
    assert not RequestValidator("0" * 32).validate(request.url, form, signature)

    assert delivery["state"] == "delivered"
    assert delivery["attempt_count"] == 1
    assert delivery["webhook_url"] == receiver.url
    assert delivery["params"]["MessageSid"] == message
    (attempt,) = delivery["attempts"]
    assert attempt["status_code"] == 200
    assert attempt["response_start"] == "ok"
    assert attempt["error"] is None
    assert attempt["signature"] == signature


def test_deliveries_are_per_account(hub: ServerProcess, hub_api: Api, tenant: Account) -> None:
    with receiving() as receiver:
        service, channel = external_channel(hub_api, receiver.url)
        send_messages(hub, tenant, service, channel, ["mine"])
        (delivery,) = settled(hub_api, channel)
    other = Api(hub.base_url, add_account(hub.database_url).auth)
    assert deliveries(other, channel) == []
    assert other.get("/flexchat/v1/Deliveries").json()["deliveries"] == []
    assert other.get(delivery["url"]).status_code == 404
    assert hub_api.get("/flexchat/v1/Deliveries/EVnot-an-id").status_code == 404
    assert Api(hub.base_url, None).get("/flexchat/v1/Deliveries").status_code == 401
    assert hub_api.get("/flexchat/v1/Deliveries", params={"State": "lost"}).status_code == 400
    assert [d["id"] for d in deliveries(hub_api, channel, State="delivered")] == [delivery["id"]]
    assert deliveries(hub_api, channel, State="failed") == []


def test_cli_lists_an_accounts_deliveries(hub: ServerProcess, hub_api: Api, tenant: Account) -> None:
    with receiving() as receiver:
        service, channel = external_channel(hub_api, receiver.url)
        send_messages(hub, tenant, service, channel, ["one", "two"])
        settled(hub_api, channel, 2)
    output = subprocess.run(
        [sys.executable, "-m", "flexchat.cli", "deliveries", "list", "--database", hub.database_url,
         "--account-sid", tenant.sid, "--channel", channel],
        capture_output=True, text=True, check=True,
    ).stdout
    lines = [json.loads(line) for line in output.splitlines()]
    assert [line["params"]["Body"] for line in lines] == ["two", "one"]  # newest first
    assert all(line["state"] == "delivered" and line["attempts"][0]["status_code"] == 200 for line in lines)
    other = add_account(hub.database_url)
    output = subprocess.run(
        [sys.executable, "-m", "flexchat.cli", "deliveries", "list", "--database", hub.database_url,
         "--account-sid", other.sid], capture_output=True, text=True, check=True,
    ).stdout
    assert output == ""


def test_a_failing_receiver_is_retried_until_it_answers(hub: ServerProcess, hub_api: Api, tenant: Account) -> None:
    with receiving(answers=[(503, 0), (503, 0)]) as receiver:
        service, channel = external_channel(hub_api, receiver.url, retry_count=2)
        send_messages(hub, tenant, service, channel, ["again"])
        (delivery,) = settled(hub_api, channel)
        requests = receiver.received
    assert [r.form["RetryCount"] for r in requests] == ["0", "1", "2"]
    for request in requests:  # each attempt signed for its own RetryCount
        signature = request.headers["X-Twilio-Signature"]
        assert RequestValidator(tenant.auth_token).validate(request.url, request.form, signature)
    assert len({r.headers["I-Twilio-Idempotency-Token"] for r in requests}) == 1
    assert delivery["state"] == "delivered"
    assert delivery["attempt_count"] == 3
    assert [a["status_code"] for a in delivery["attempts"]] == [503, 503, 200]
    assert delivery["attempts"][0]["response_start"] == "try again later"


def test_a_receiver_that_is_down_fails_after_the_retries(hub: ServerProcess, hub_api: Api, tenant: Account) -> None:
    with receiving() as receiver:
        url = receiver.url
    # The receiver is gone: nothing listens on its port any more.
    service, channel = external_channel(hub_api, url, retry_count=2)
    send_messages(hub, tenant, service, channel, ["anyone?"])
    (delivery,) = settled(hub_api, channel)
    assert delivery["state"] == "failed"
    assert delivery["attempt_count"] == 3
    assert [a["status_code"] for a in delivery["attempts"]] == [None, None, None]
    assert all("cannot connect" in a["error"] for a in delivery["attempts"])


def test_a_client_error_is_not_retried(hub: ServerProcess, hub_api: Api, tenant: Account) -> None:
    with receiving(default=(404, 0)) as receiver:
        service, channel = external_channel(hub_api, receiver.url, retry_count=3)
        send_messages(hub, tenant, service, channel, ["lost"])
        (delivery,) = settled(hub_api, channel)
        time.sleep(0.5)
        assert len(receiver.received) == 1
    assert delivery["state"] == "failed"
    assert [a["status_code"] for a in delivery["attempts"]] == [404]


def test_a_slow_receiver_leaves_the_api_fast_and_times_out(hub: ServerProcess, hub_api: Api, tenant: Account) -> None:
    def create_latency(tag: str) -> float:
        flow = hub_api.create_flow()
        times = []
        for number in range(15):
            started = time.perf_counter()
            response = hub_api.create_channel(flow["sid"], f"{tag}-{number}")
            times.append(time.perf_counter() - started)
            assert response.status_code == 201
        return statistics.median(times)

    baseline = create_latency("before")
    with receiving(default=(200, 10.0)) as receiver:
        service, channel = external_channel(hub_api, receiver.url, retry_count=0)
        send_messages(hub, tenant, service, channel, [f"slow {n}" for n in range(5)])
        receiver.wait_for(5)  # every attempt is now waiting on the receiver
        during = create_latency("during")
        items = settled(hub_api, channel, 5)
    assert during < baseline * 3 + 0.05, (baseline, during)
    for delivery in items:
        assert delivery["state"] == "failed"
        (attempt,) = delivery["attempts"]
        assert "no answer within 1.5 s" in attempt["error"]
        assert TIMEOUT * 1000 - 100 <= attempt["duration_ms"] <= TIMEOUT * 1000 + 1500


def test_a_get_webhook_carries_the_fields_in_its_signed_url(hub: ServerProcess, hub_api: Api, tenant: Account) -> None:
    with receiving() as receiver:
        service, channel = external_channel(hub_api, receiver.url + "?tenant=a%20b")
        _set_webhook_method(hub.database_url, channel, "GET")
        send_messages(hub, tenant, service, channel, ["by GET"])
        (request,) = receiver.wait_for(1)
    assert request.method == "GET"
    assert request.fields["Body"] == "by GET"
    assert request.fields["tenant"] == "a b"
    assert RequestValidator(tenant.auth_token).validate(request.url, {}, request.headers["X-Twilio-Signature"])


def _set_webhook_method(database_url: str, channel_sid: str, method: str) -> None:
    """Switch a channel's webhooks to ``method`` in the database (a Flex flow's webhook
    is a POST; until the webhook update endpoint is merged this makes a GET one)."""
    select = sql("SELECT sid, configuration FROM chat_webhooks WHERE channel_sid = ?")
    update = sql("UPDATE chat_webhooks SET configuration = ? WHERE sid = ?")

    def script() -> Script[None]:
        rows = yield select(channel_sid)
        for sid, configuration in rows:
            yield update(orjson.dumps({**orjson.loads(configuration), "method": method}).decode(), sid)

    async def run() -> None:
        store = create_store(Settings(database_url=database_url))
        await store.open()
        try:
            await store.write(script())
        finally:
            await store.close()

    asyncio.run(run())


def test_an_account_without_a_stored_token_records_why_nothing_was_sent(
    hub: ServerProcess, tenant: Account
) -> None:
    async def forget_token() -> None:
        # As an account created before flexchat kept tokens.
        store = create_store(Settings(database_url=hub.database_url))
        await store.open()
        try:
            await store.ensure_account(tenant.sid, hash_secret(tenant.auth_token), None)
        finally:
            await store.close()

    api = Api(hub.base_url, tenant.auth)
    with receiving() as receiver:
        service, channel = external_channel(api, receiver.url, retry_count=2)
        asyncio.run(forget_token())
        time.sleep(5.5)  # the worker's token cache
        send_messages(hub, tenant, service, channel, ["unsigned?"])
        (delivery,) = settled(api, channel)
        assert receiver.received == []
    assert delivery["state"] == "failed"
    (attempt,) = delivery["attempts"]
    assert "no stored auth token" in attempt["error"]
    assert "rotate-token" in attempt["error"]
    assert tenant.auth_token not in json.dumps(delivery)


def test_acknowledged_events_survive_a_sigkill_of_the_server(hub: ServerProcess, tenant: Account) -> None:
    """SIGKILL while a burst is being delivered: after a restart every event whose
    write was acknowledged arrives (at least once: a few may arrive twice)."""
    api = Api(hub.base_url, tenant.auth)
    with receiving(default=(200, 0.02)) as receiver:
        service, channel = external_channel(api, receiver.url)
        acknowledged: list[str] = []

        def burst() -> None:
            acknowledged.extend(
                send_messages(hub, tenant, service, channel, [f"burst {n}" for n in range(150)])
            )

        writer = threading.Thread(target=burst)
        writer.start()
        receiver.wait_for(5)  # delivery is under way
        hub.stop(signal.SIGKILL)
        killed_after = len(receiver.received)
        writer.join()
        hub.start()
        try:
            # Events the killed process held come back when their lease ends (8 s); repeats
            # of events it sent but had not recorded do not count towards the wait.
            receiver.wait_for_messages(acknowledged, timeout=60)
        except AssertionError as error:
            arrived = {r.fields.get("MessageSid") for r in receiver.received}
            listed = deliveries(api, channel, PageSize="1000")
            lost = [d for d in listed if d["params"]["MessageSid"] not in arrived]
            pytest.fail(f"{error}: {lost[:3]}\nserver output: {hub.output()[-3000:]}")
    # The kill cut the burst short: what was acknowledged before it all arrived.
    assert 5 <= len(acknowledged) < 150 or killed_after < len(acknowledged), (killed_after, len(acknowledged))
    assert eventually(lambda: deliveries(api, channel, State="pending") == [])


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Whether ``check`` holds within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path) as url:
        yield url


def test_two_api_processes_on_postgresql_deliver_each_event_once(postgres_url: str) -> None:
    with run_server(postgres_url, env=FAST) as first, run_server(postgres_url, env=FAST) as second:
        tenant = add_account(postgres_url)
        api = Api(first.base_url, tenant.auth)
        with receiving(default=(200, 0.005)) as receiver:
            service, channel = external_channel(api, receiver.url)
            sids = send_messages(first, tenant, service, channel, [f"m{n}" for n in range(300)])
            receiver.wait_for(300, timeout=60)
            assert eventually(lambda: deliveries(Api(second.base_url, tenant.auth), channel, State="pending") == [])
            time.sleep(1.0)  # anything sent twice would have arrived by now
            received = [r.form["MessageSid"] for r in receiver.received]
    assert sorted(received) == sorted(sids)
    assert len(received) == len(set(received)) == 300


def test_a_process_without_a_sender_leaves_its_events_to_one_that_sends(engine: str, tmp_path: Path) -> None:
    """FLEXCHAT_WEBHOOK_SENDER=none: an API-only process writes the events of the messages
    it takes, sends none and is ready; a delivering process on the same database sends
    each of them once."""
    with fresh_database(engine, tmp_path) as url, receiving() as receiver:
        tenant = add_account(url)
        with run_server(url, env={**FAST, "FLEXCHAT_WEBHOOK_SENDER": "none"}) as api_only:
            api = Api(api_only.base_url, tenant.auth)
            service, channel = external_channel(api, receiver.url)
            sids = send_messages(api_only, tenant, service, channel, ["one", "two", "three"])
            time.sleep(1.0)  # ten of FAST's polls: a process that delivers would have sent them
            assert receiver.received == []
            assert [item["state"] for item in deliveries(api, channel)] == ["pending"] * 3
            ready = requests.get(api_only.base_url + "/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
            with run_server(url, env=FAST):
                receiver.wait_for(3)
                assert eventually(lambda: [item["state"] for item in deliveries(api, channel)] == ["delivered"] * 3)
                time.sleep(0.5)  # a second send of any of them would have arrived by now
    assert sorted(r.form["MessageSid"] for r in receiver.received) == sorted(sids)


def test_a_deployment_can_restrict_destinations(tmp_path: Path) -> None:
    """With FLEXCHAT_WEBHOOK_ALLOWED_HOSTS only listed destinations are sent to; any
    other is one failed attempt saying why, whatever its retry count."""
    env = {**FAST, "FLEXCHAT_WEBHOOK_ALLOWED_HOSTS": "localhost, *.example.com, 192.0.2.0/24"}
    with fresh_database("sqlite", tmp_path) as url, run_server(url, env=env) as server, receiving() as receiver:
        tenant = add_account(url)
        api = Api(server.base_url, tenant.auth)
        refused = {}
        for host in ("127.0.0.1", "[::1]"):
            service, channel = external_channel(api, receiver.url.replace("127.0.0.1", host), 2, f"c-{host}")
            send_messages(server, tenant, service, channel, ["refused"])
            refused[host] = settled(api, channel)[0]
        service, channel = external_channel(api, receiver.url.replace("127.0.0.1", "localhost"), 2, "c-name")
        send_messages(server, tenant, service, channel, ["allowed by name"])
        (allowed,) = settled(api, channel)
        assert [r.form["Body"] for r in receiver.received] == ["allowed by name"]
    assert allowed["state"] == "delivered"
    for host, delivery in refused.items():
        assert delivery["state"] == "failed"
        (attempt,) = delivery["attempts"]
        assert attempt["error"] == (
            f"destination {host.strip('[]')} is not allowed by FLEXCHAT_WEBHOOK_ALLOWED_HOSTS"
        )


def test_a_rotated_token_signs_the_next_webhooks(hub: ServerProcess, hub_api: Api, tenant: Account) -> None:
    rotated = json.loads(subprocess.run(
        [sys.executable, "-m", "flexchat.cli", "account", "rotate-token", "--database", hub.database_url,
         "--account-sid", tenant.sid], capture_output=True, text=True, check=True,
    ).stdout)
    assert rotated["sid"] == tenant.sid and rotated["auth_token"] != tenant.auth_token
    api = Api(hub.base_url, (tenant.sid, rotated["auth_token"]))
    time.sleep(5.5)  # the old token's cached verification and the worker's token cache lapse
    assert hub_api.get("/v1/Channels").status_code == 401
    with receiving() as receiver:
        service, channel = external_channel(api, receiver.url)
        send_messages(hub, Account(tenant.sid, rotated["auth_token"]), service, channel, ["rotated"])
        (request,) = receiver.wait_for(1)
    signature = request.headers["X-Twilio-Signature"]
    assert RequestValidator(rotated["auth_token"]).validate(request.url, request.form, signature)
    missing = subprocess.run(
        [sys.executable, "-m", "flexchat.cli", "account", "rotate-token", "--database", hub.database_url,
         "--account-sid", "AC" + "0" * 32], capture_output=True, text=True,
    )
    assert missing.returncode == 1 and "no account" in missing.stderr


def test_delivery_resumes_after_a_database_outage(postgres_url: str) -> None:
    """The database goes away under a running server: delivery spends no attempt while it
    cannot claim or record, and once it is back every event arrives, once."""
    proxy = TcpProxy.for_url(postgres_url)
    try:
        with run_server(proxy.url(postgres_url), env={**FAST, "FLEXCHAT_DB_TIMEOUT": "1"}) as server, \
                receiving() as receiver:
            tenant = add_account(postgres_url)
            api = Api(server.base_url, tenant.auth)
            service, channel = external_channel(api, receiver.url)
            proxy.cut()
            # Written straight into the database: the server cannot reach it now.
            sids = write_message_events(postgres_url, tenant.sid, service, channel, [f"m{n}" for n in range(20)])
            time.sleep(1.5)  # the worker polls a database it cannot reach
            assert receiver.received == []
            proxy.restore()
            receiver.wait_for(20, timeout=30)
            assert eventually(lambda: deliveries(api, channel, State="pending") == [])
            time.sleep(0.5)
            received = [r.form["MessageSid"] for r in receiver.received]
            items = deliveries(api, channel)
    finally:
        proxy.close()
    assert sorted(received) == sorted(sids)
    assert all(item["state"] == "delivered" and item["attempt_count"] == 1 for item in items)


def _sender_processes(server: ServerProcess) -> list[int]:
    """The webhook sender processes under ``server`` (one per API worker)."""
    found = subprocess.run(
        ["pgrep", "-f", "flexchat.delivery.sender_process"], capture_output=True, text=True, check=False
    ).stdout.split()
    mine = []
    for pid in map(int, found):
        parent = pid
        while parent > 1:  # walk up to the server's process, or to init
            with open(f"/proc/{parent}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            if parent == server.process.pid:
                mine.append(pid)
                break
    return mine


def test_the_sender_process_starts_with_the_first_webhook(tmp_path: Path) -> None:
    """A server whose channels have no webhooks never starts its sender process."""
    with fresh_database("sqlite", tmp_path) as url, run_server(url, env=FAST) as server, receiving() as receiver:
        account = add_account(url)
        api = Api(server.base_url, account.auth)
        api.create_flow()
        assert api.get("/v1/Channels").status_code == 200
        assert _sender_processes(server) == []
        service, channel = external_channel(api, receiver.url)
        send_messages(server, account, service, channel, ["first"])
        receiver.wait_for(1)
        assert len(_sender_processes(server)) == 1


def test_a_killed_sender_process_is_replaced_and_nothing_is_lost(
    hub: ServerProcess, hub_api: Api, tenant: Account
) -> None:
    """The requests go out from a process beside the API worker (FLEXCHAT_WEBHOOK_SENDER
    =process, serve's default). Killed, it is started again at the next send; an event
    it held comes back as a retryable attempt and is sent again."""
    with receiving() as receiver:
        service, channel = external_channel(hub_api, receiver.url, retry_count=3)
        send_messages(hub, tenant, service, channel, ["before"])
        receiver.wait_for(1)
        # Settled first: killed between the receiver's answer and its report, the sender
        # would leave "before" unconfirmed, and it would rightly be sent a second time.
        settled(hub_api, channel, count=1)
        (sender,) = _sender_processes(hub)
        os.kill(sender, signal.SIGKILL)
        send_messages(hub, tenant, service, channel, ["after"])
        got = receiver.wait_for(2, timeout=20)
        items = settled(hub_api, channel, count=2)
    assert sorted(request.form["Body"] for request in got) == ["after", "before"]
    assert all(item["state"] == "delivered" for item in items)
    (replacement,) = _sender_processes(hub)
    assert replacement != sender
