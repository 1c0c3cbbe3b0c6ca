"""Delivery's parts on their own: signing against twilio's validator, the destination
allow-list, its settings, the outbox gauges, and the worker in the in-process double."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from flexchat.delivery.destinations import AllowList, DestinationRefused
from flexchat.delivery.metrics import oldest_pending_age, outbox_depth
from flexchat.delivery.signing import build_request, signature
from flexchat.delivery.worker import DROPPED
from flexchat.domain.events import emit
from flexchat.settings import Settings, SettingsError
from flexchat.store.sql import fetch, sql
from flexchat.testing import InProcessFlexchat

from .postgres import fresh_database
from .webhooks import receiving

TOKEN = "12345678901234567890123456789012"
PARAMS = {"EventType": "onMessageSent", "Body": "héllo & goodbye=1", "Attributes": '{"a": [1, 2]}', "RetryCount": "0"}


@pytest.mark.parametrize("url", [
    "https://hooks.example.com/chat",
    "https://hooks.example.com:8443/chat?tenant=a%20b&x=1",
    "http://127.0.0.1:9000/",
])
def test_a_post_signature_is_what_twilios_validator_accepts(url: str) -> None:
    request = build_request("POST", url, PARAMS, TOKEN, "EV" + "0" * 32)
    assert request.url == url
    assert request.headers["X-Twilio-Signature"] == request.signature == signature(TOKEN, url, PARAMS)
    assert RequestValidator(TOKEN).validate(url, PARAMS, request.signature)
    assert not RequestValidator(TOKEN).validate(url, {**PARAMS, "Body": "tampered"}, request.signature)
    assert not RequestValidator(TOKEN[::-1]).validate(url, PARAMS, request.signature)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["User-Agent"] == "TwilioProxy/1.1"
    assert request.headers["I-Twilio-Idempotency-Token"] == "EV" + "0" * 32


def test_a_get_signature_covers_the_query() -> None:
    request = build_request("get", "https://hooks.example.com/chat?tenant=1", PARAMS, TOKEN, "EV1")
    assert request.method == "GET" and request.body is None
    assert request.url.startswith("https://hooks.example.com/chat?tenant=1&EventType=onMessageSent&")
    assert RequestValidator(TOKEN).validate(request.url, {}, request.signature)
    assert "Content-Type" not in request.headers


def test_the_allow_list_reads_names_suffixes_addresses_and_blocks() -> None:
    allow = AllowList.parse("hooks.example.com, *.tenant.example.org 10.0.0.0/8,[::1], 192.0.2.7")
    assert allow.allows_name("HOOKS.example.com.")
    assert allow.allows_name("a.b.tenant.example.org")
    assert not allow.allows_name("tenant.example.org")
    assert not allow.allows_name("evil-hooks.example.com")
    allow.check("10.1.2.3", ["10.1.2.3"])
    allow.check("::1", ["::1"])
    allow.check("api.partner.net", ["10.9.9.9", "192.0.2.7"])
    with pytest.raises(DestinationRefused, match=r"resolves to 127\.0\.0\.1"):
        allow.check("sneaky.partner.net", ["10.0.0.1", "127.0.0.1"])
    with pytest.raises(DestinationRefused, match="not allowed"):
        allow.check("unresolvable.net", [])
    for wrong in ("http://x.com", "10.0.0.0/33", "a..b", "x/y"):
        with pytest.raises(ValueError):
            AllowList.parse(wrong)


def test_delivery_settings_are_checked() -> None:
    environ = {
        "FLEXCHAT_WEBHOOK_TIMEOUT": "2.5", "FLEXCHAT_WEBHOOK_CONCURRENCY": "8",
        "FLEXCHAT_WEBHOOK_RETRY_BACKOFF": "0.1", "FLEXCHAT_WEBHOOK_POLL_INTERVAL": "0.5",
        "FLEXCHAT_WEBHOOK_ALLOWED_HOSTS": "*.example.com, 10.0.0.0/8",
    }
    settings = Settings.load(environ=environ)
    assert (settings.webhook_timeout, settings.webhook_concurrency) == (2.5, 8)
    assert settings.webhook_allowed_hosts == "*.example.com, 10.0.0.0/8"
    for name, value in (("TIMEOUT", "0"), ("CONCURRENCY", "0"), ("RETRY_BACKOFF", "-1"),
                        ("POLL_INTERVAL", "0"), ("ALLOWED_HOSTS", "ftp://nope")):
        with pytest.raises(SettingsError, match=f"webhook_{name.lower()}"):
            Settings.load(environ={f"FLEXCHAT_WEBHOOK_{name}": value})


def _external_channel(flexchat: InProcessFlexchat, url: str, retry_count: int = 0) -> tuple[str, str]:
    def post(path: str, data: dict[str, Any]) -> Any:
        response = flexchat.request("POST", "https://flex-api.twilio.com" + path, data=data, auth=flexchat.auth)
        assert response.status == 201, response.text
        return response.json()

    flow = post("/v1/FlexFlows", {
        "FriendlyName": "external", "ChatServiceSid": "IS" + "a" * 32, "ChannelType": "web",
        "IntegrationType": "external", "Integration.Url": url, "Integration.RetryCount": str(retry_count),
    })
    channel = post("/v1/Channels", {
        "FlexFlowSid": flow["sid"], "Identity": "customer", "ChatUserFriendlyName": "Customer",
        "ChatFriendlyName": "Chat",
    })
    return flow["chat_service_sid"], channel["sid"]


def test_the_in_process_double_delivers_at_once_on_commit() -> None:
    """flexchat.testing runs the same app, worker included; a commit wakes it (the poll
    interval here is far longer than the test) and the request is signed with the
    double's account token."""
    with InProcessFlexchat(settings=Settings(webhook_poll_interval=60)) as flexchat, receiving() as receiver:
        service, channel = _external_channel(flexchat, receiver.url)
        started = time.monotonic()
        written = flexchat.run(flexchat.app.store.write(
            emit(flexchat.account_sid, service, channel, "onMessageSent", {"Body": "hi", "ChannelSid": channel})
        ))
        assert written == 1
        (request,) = receiver.wait_for(1, timeout=5)
        assert time.monotonic() - started < 2
        assert RequestValidator(flexchat.auth_token).validate(
            request.url, request.form, request.headers["X-Twilio-Signature"]
        )
        listed = flexchat.request(
            "GET", "https://flex-api.twilio.com/flexchat/v1/Deliveries", auth=flexchat.auth
        )
        # Delivery's own namespace is served whatever the host (paths decide).
        assert listed.status == 200
        assert listed.json()["deliveries"][0]["channel_sid"] == channel


def test_the_worker_stops_when_a_wake_up_meets_the_stop() -> None:
    """A commit's wake-up arriving in the same tick as the stop: on Python 3.11 a
    ``wait_for`` cancelled as its event is set returns normally, and a claim loop built
    on it never ended (the in-process double's close then timed out)."""
    with InProcessFlexchat(settings=Settings(webhook_poll_interval=60)) as flexchat:
        worker = flexchat.app.delivery
        assert worker is not None

        async def wake_and_stop() -> None:
            for _ in range(3):  # stopped, started and stopped again: each stop returns
                worker.wake()
                await asyncio.sleep(0)  # the event's waiter is done, the loop not resumed yet
                stopping = asyncio.ensure_future(worker.stop())
                done, _ = await asyncio.wait({stopping}, timeout=5)
                assert stopping in done, "the worker did not stop"
                assert not worker.running
                await worker.start()
                await asyncio.sleep(0)

        flexchat.run(wake_and_stop())


def test_a_worker_holds_the_next_events_and_gives_them_back_when_it_stops(engine: str) -> None:
    """Claims take events for the free slots and as many again, so a finished attempt
    starts the next without a claim's round trip; a stopping worker gives its held events
    back at once (their lease would otherwise keep them from other processes). On both
    engines: PostgreSQL runs these on delivery's own connections."""
    settings = Settings(webhook_concurrency=1, webhook_timeout=5)
    with fresh_database(engine) as url, InProcessFlexchat(url, settings=settings) as flexchat, \
            receiving(default=(200, 1.0)) as receiver:
        store = flexchat.app.store
        service, channel = _external_channel(flexchat, receiver.url)
        for n in range(3):
            flexchat.run(store.write(emit(flexchat.account_sid, service, channel, "onMessageSent", {"Body": f"m{n}"})))
        receiver.wait_for(1)  # the first is under way, its answer a second away

        def leases() -> list[bool]:
            rows = flexchat.run(store.read(fetch(sql("SELECT claimed_until FROM outbox ORDER BY seq")())))
            return [row[0] > 0 for row in rows]

        # The second claim may still be committing (PostgreSQL): wait for it, well within
        # the first answer's second.
        deadline = time.monotonic() + 0.8
        while leases() != [True, True, False] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert leases() == [True, True, False]  # in flight, held, left for the next claim
        worker = flexchat.app.delivery
        assert worker is not None
        flexchat.run(worker.stop())
        assert leases()[1:] == [False, False]  # the held one is due again at once
        assert [r.form["Body"] for r in receiver.received] == ["m0"]


def test_outbox_gauges_show_what_waits_and_since_when() -> None:
    with InProcessFlexchat(settings=Settings(webhook_timeout=3)) as flexchat, \
            receiving(default=(200, 2.0)) as receiver:
        store = flexchat.app.store
        assert flexchat.run(outbox_depth(store)) == 0
        assert flexchat.run(oldest_pending_age(store)) == 0.0
        service, channel = _external_channel(flexchat, receiver.url)
        flexchat.run(store.write(emit(flexchat.account_sid, service, channel, "onMessageSent", {"Body": "wait"})))
        receiver.wait_for(1)  # sent, its answer two seconds away: still pending
        assert flexchat.run(outbox_depth(store)) == 1
        age = flexchat.run(oldest_pending_age(store))
        assert 0.0 <= age < 5
        deadline = time.monotonic() + 10
        while flexchat.run(outbox_depth(store)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flexchat.run(outbox_depth(store)) == 0
        assert flexchat.run(oldest_pending_age(store)) == 0.0


def test_settled_batches_are_cut_into_few_statement_shapes() -> None:
    from flexchat.store.queries.delivery import settle_sizes

    assert settle_sizes(0) == []
    assert settle_sizes(1) == [1]
    assert settle_sizes(46) == [32, 8, 4, 2]
    assert settle_sizes(64) == [64]
    assert settle_sizes(100, 64) == [64, 32, 4]
    for count in range(200):
        sizes = settle_sizes(count)
        assert sum(sizes) == count and all(size & (size - 1) == 0 for size in sizes)


def test_a_burst_in_process_is_recorded_attempt_by_attempt() -> None:
    """Many attempts finishing together are settled in a few set-based statements; each
    event still ends delivered with its own attempt."""
    with InProcessFlexchat() as flexchat, receiving() as receiver:
        service, channel = _external_channel(flexchat, receiver.url)
        store = flexchat.app.store
        for number in range(75):
            fields = {"Body": f"b{number}", "MessageSid": str(number)}
            flexchat.run(store.write(emit(flexchat.account_sid, service, channel, "onMessageSent", fields)))
        receiver.wait_for(75)
        deadline = time.monotonic() + 10
        while flexchat.run(outbox_depth(store)) and time.monotonic() < deadline:
            time.sleep(0.05)
        listed = flexchat.request(
            "GET", "https://flex-api.twilio.com/flexchat/v1/Deliveries?PageSize=100", auth=flexchat.auth
        ).json()["deliveries"]
        assert len(listed) == 75
        assert {item["state"] for item in listed} == {"delivered"}
        assert {item["attempt_count"] for item in listed} == {1}
        some = flexchat.request("GET", listed[40]["url"], auth=flexchat.auth).json()
        assert [attempt["status_code"] for attempt in some["attempts"]] == [200]
        # Paged like every list, filters kept in the page links, both ways.
        url: str | None = (
            f"https://flex-api.twilio.com/flexchat/v1/Deliveries?ChannelSid={channel}&State=delivered&PageSize=20"
        )
        pages: list[list[str]] = []
        while url:
            page = flexchat.request("GET", url, auth=flexchat.auth).json()
            pages.append([item["id"] for item in page["deliveries"]])
            url = page["meta"]["next_page_url"]
        assert [len(ids) for ids in pages] == [20, 20, 20, 15]
        assert [ident for ids in pages for ident in ids] == [item["id"] for item in listed]
        back = flexchat.request("GET", page["meta"]["previous_page_url"], auth=flexchat.auth).json()
        assert [item["id"] for item in back["deliveries"]] == pages[2]


def test_an_answer_that_is_not_http_is_recorded_without_the_url() -> None:
    """The URL may carry credentials (a token in its query): an error never repeats it."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook?token=s3cr3t"
    try:
        with InProcessFlexchat(settings=Settings(webhook_retry_backoff=0.01)) as flexchat:
            service, channel = _external_channel(flexchat, url, retry_count=1)
            store = flexchat.app.store
            flexchat.run(store.write(emit(flexchat.account_sid, service, channel, "onMessageSent", {"Body": "x"})))
            deadline = time.monotonic() + 10
            while flexchat.run(outbox_depth(store)) and time.monotonic() < deadline:
                time.sleep(0.05)
            (item,) = flexchat.request(
                "GET", "https://flex-api.twilio.com/flexchat/v1/Deliveries", auth=flexchat.auth
            ).json()["deliveries"]
            fetched = flexchat.request("GET", item["url"], auth=flexchat.auth).json()
    finally:
        listener.close()
    assert fetched["state"] == "failed"
    assert len(fetched["attempts"]) == 2  # retried once: a broken answer may be passing
    for attempt in fetched["attempts"]:
        assert attempt["error"].startswith("invalid answer: Bad status line")
        assert "s3cr3t" not in attempt["error"]


def test_delivery_shows_in_metrics_readiness_and_obeys_dropped_delivery_faults() -> None:
    with InProcessFlexchat(settings=Settings(access_log=False, webhook_retry_backoff=0.01)) as flexchat, \
            receiving() as receiver:
        base = "https://flex-api.twilio.com"
        service, channel = _external_channel(flexchat, receiver.url, retry_count=1)
        store = flexchat.app.store
        flexchat.run(store.write(emit(flexchat.account_sid, service, channel, "onMessageSent", {"Body": "sent"})))
        receiver.wait_for(1)

        # Every webhook of the account is now lost on its way: each attempt says so.
        fault = flexchat.request(
            "POST", f"{base}/flexchat/v1/Faults/chat", data={"DropDeliveryRate": "1"}, auth=flexchat.auth
        )
        assert fault.status == 200, fault.text
        flexchat.run(store.write(emit(flexchat.account_sid, service, channel, "onMessageSent", {"Body": "dropped"})))
        deadline = time.monotonic() + 10
        while flexchat.run(outbox_depth(store)) and time.monotonic() < deadline:
            time.sleep(0.05)
        listed = flexchat.request(
            "GET", f"{base}/flexchat/v1/Deliveries?State=failed", auth=flexchat.auth
        ).json()["deliveries"]
        (dropped,) = listed
        attempts = flexchat.request("GET", dropped["url"], auth=flexchat.auth).json()["attempts"]
        assert [a["error"] for a in attempts] == [DROPPED] * 2
        assert [r.form.get("Body") for r in receiver.received] == ["sent"]

        time.sleep(2.5)  # the worker's gauges refresh every 2 s
        metrics = flexchat.request("GET", f"{base}/metrics").text
        assert 'flexchat_delivery_attempts_total{state="delivered"} 1' in metrics
        assert 'flexchat_delivery_attempts_total{state="failed"} 1' in metrics
        assert 'flexchat_delivery_attempts_total{state="pending"} 1' in metrics
        assert "flexchat_outbox_depth 0" in metrics
        assert "flexchat_outbox_oldest_pending_seconds 0" in metrics
        assert 'flexchat_faults_injected_total{family="chat",fault="dropped-delivery"} 2' in metrics
        ready = flexchat.request("GET", f"{base}/readyz")
        assert ready.status == 200 and ready.json()["checks"]["delivery"] == "ok"
        flexchat.run(flexchat.app.delivery.stop())
        not_ready = flexchat.request("GET", f"{base}/readyz")
        assert not_ready.status == 503 and "not running" in not_ready.text


def test_readiness_fails_while_the_outbox_is_stuck_and_recovers() -> None:
    settings = Settings(access_log=False, webhook_stuck_seconds=0.5, webhook_poll_interval=0.05)
    with InProcessFlexchat(settings=settings) as flexchat, receiving() as receiver:
        base = "https://flex-api.twilio.com"
        service, channel = _external_channel(flexchat, receiver.url, retry_count=1)
        worker = flexchat.app.delivery
        assert flexchat.request("GET", f"{base}/readyz").status == 200
        claim = worker.claim

        # A claim loop that looks but takes nothing (as a wedged or broken claim would):
        # a due event nobody claims, while this worker has room, is a stuck outbox.
        async def takes_nothing() -> int:
            return 0

        worker.claim = takes_nothing  # type: ignore[method-assign]
        flexchat.run(flexchat.app.store.write(emit(flexchat.account_sid, service, channel, "onMessageSent", {})))
        time.sleep(0.3)
        assert flexchat.request("GET", f"{base}/readyz").status == 200  # due, but not for long
        time.sleep(0.5)
        stuck = flexchat.request("GET", f"{base}/readyz")
        assert stuck.status == 503 and "no worker claims it" in stuck.json()["checks"]["delivery"]

        # A claim that never returns: the loop stops looking at all.
        async def hangs() -> int:
            await asyncio.sleep(3600)
            return 0

        worker.claim = hangs  # type: ignore[method-assign]
        time.sleep(0.8)
        wedged = flexchat.request("GET", f"{base}/readyz")
        assert wedged.status == 503 and "has not looked for due events" in wedged.json()["checks"]["delivery"]

        # Claiming again, the event goes out and the process is ready once more.
        worker.claim = claim  # type: ignore[method-assign]
        worker.wake()
        flexchat.run(worker.stop())
        flexchat.run(worker.start())
        receiver.wait_for(1)
        deadline = time.monotonic() + 5
        while flexchat.request("GET", f"{base}/readyz").status != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flexchat.request("GET", f"{base}/readyz").status == 200


def test_the_sender_process_takes_jobs_in_batches_and_answers_each_once() -> None:
    """Jobs handed over while the process starts and after: each outcome comes back once,
    by its number; a batch that fails in part (a 500 among 200s, a URL that is not
    http) says which one; what a closed sender held is answered as retryable."""
    from flexchat.delivery.sender_process import SENDER_GONE, ProcessSender
    from flexchat.delivery.sending import Job, Outcome

    async def scenario(url: str) -> tuple[dict[int, list[Outcome]], dict[int, list[Outcome]]]:
        outcomes: dict[int, list[Outcome]] = {}
        sender = ProcessSender(Settings(webhook_timeout=2.0))
        await sender.open(lambda number, outcome: outcomes.setdefault(number, []).append(outcome))

        def job(url: str, n: int) -> Job:
            return Job("AC" + "0" * 32, "POST", url, f'{{"Body": "m{n}"}}', 1, TOKEN, f"EV{n}")

        sender.submit([(n, job(url, n)) for n in range(1, 21)])  # before the process is up
        sender.submit([(21, job("ftp://example.com/", 21)), (22, job(url + "?fail=1", 22))])
        deadline = time.monotonic() + 20
        while len(outcomes) < 22 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        sender.submit([(n, job(url, n)) for n in range(23, 43)])
        while len(outcomes) < 42 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        answered = dict(outcomes)
        # Held by a receiver that takes its time, then the sender is closed under them.
        outcomes.clear()
        sender.submit([(n, job(url + "?slow=1", n)) for n in range(43, 46)])
        await asyncio.sleep(0.3)
        await sender.close()
        return answered, outcomes

    with receiving() as receiver:
        # Each request is answered by what its own URL asks for: the handler thread that
        # recorded it answers it, while other requests may be recorded meanwhile.
        handled = threading.local()
        record = receiver.record

        def remember(received: Any) -> None:
            handled.url = received.url
            record(received)

        def answer() -> tuple[int, float]:
            url = handled.url
            return (500, 0.0) if "fail=1" in url else (200, 10.0) if "slow=1" in url else (200, 0.0)

        receiver.record = remember  # type: ignore[method-assign]
        receiver._answer = answer  # type: ignore[method-assign]
        answered, after_close = asyncio.run(scenario(receiver.url))
    assert sorted(answered) == list(range(1, 43))
    assert all(len(outcomes) == 1 for outcomes in answered.values())
    assert all(answered[n][0].delivered for n in range(1, 21)) and all(answered[n][0].delivered for n in range(23, 43))
    assert answered[21][0].error is not None and not answered[21][0].retry  # not an http URL: not retried
    assert answered[22][0].status_code == 500 and answered[22][0].retry
    assert {r.form["Body"] for r in receiver.received if "fail" not in r.url and "slow" not in r.url} == {
        f"m{n}" for n in [*range(1, 21), *range(23, 43)]
    }
    # Closed while the receiver still held them: each is answered once, to be sent again.
    assert sorted(after_close) == [43, 44, 45]
    assert all(outcomes == [Outcome(error=SENDER_GONE, retry=True)] for outcomes in after_close.values())


def test_a_stop_during_a_token_read_gives_the_event_back_at_once() -> None:
    """A stop while the signing token is still being read (a PostgreSQL round trip, a slow
    disk): the attempt never started, so the stop does not wait for it and the event is
    due again at once, not left to its lease."""
    with InProcessFlexchat(settings=Settings(webhook_poll_interval=60)) as flexchat, receiving() as receiver:
        store, worker = flexchat.app.store, flexchat.app.delivery
        service, channel = _external_channel(flexchat, receiver.url)
        read_token = worker._auth_token

        async def slow_read(account_sid: str) -> str | None:
            await asyncio.sleep(0.5)
            return await read_token(account_sid)

        worker._auth_token = slow_read  # type: ignore[method-assign]
        worker._tokens.clear()
        flexchat.run(store.write(emit(flexchat.account_sid, service, channel, "onMessageSent", {"Body": "x"})))
        deadline = time.monotonic() + 5
        while not worker._reading_tokens and time.monotonic() < deadline:
            time.sleep(0.005)
        assert worker._reading_tokens, "the worker never started reading the token"
        started = time.monotonic()
        flexchat.run(worker.stop())
        assert time.monotonic() - started < 1.0
        rows = flexchat.run(store.read(fetch(sql("SELECT claimed_until, state, attempts FROM outbox")())))
        assert rows == [(0, "pending", 0)]
        assert receiver.received == []


def test_claims_and_settlements_are_paced_but_start_at_once_when_idle() -> None:
    """The pace that lets a claim (or a settlement) under load carry what became due
    meanwhile: a turn after a quiet spell starts at once, one right after another waits
    out the interval."""
    from flexchat.delivery.worker import Pacer

    async def turns() -> list[float]:
        pacer = Pacer(0.05)
        started = time.monotonic()
        took = []
        for _ in range(3):
            await pacer.turn()
            took.append(time.monotonic() - started)
        await asyncio.sleep(0.08)  # idle for longer than the interval
        before = time.monotonic()
        await pacer.turn()
        took.append(time.monotonic() - before)
        return took

    first, second, third, after_idle = asyncio.run(turns())
    assert first < 0.02
    assert second >= 0.045 and third - second >= 0.045
    assert after_idle < 0.02
