"""Overload: more concurrent requests than an account (or a process) may have in flight
are refused at once with 429 / 20429 and ``Twilio-Concurrent-Requests``, never queued;
nothing fails with a 5xx, other accounts go on, and service is back as soon as the load
drops. No timing asserts beyond generous ones: bench/overload.py measures latency."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from flexchat.errors import TooManyRequests
from flexchat.limits import ConcurrencyLimiter
from flexchat.testing import ServerProcess, run_server

from .conftest import Account, Api, add_account
from .load import Outcome, lowered, run_threads, session
from .postgres import fresh_database

THREADS = 16
REQUESTS_PER_THREAD = 25
PER_ACCOUNT = 3


def create_flow(s: requests.Session, base_url: str) -> Outcome:
    data = {
        "FriendlyName": "load",
        "ChatServiceSid": "IS" + secrets.token_hex(16),
        "ChannelType": "web",
        "IntegrationType": "studio",
        "Integration.FlowSid": "FW" + secrets.token_hex(16),
    }
    started = time.monotonic()
    response = s.post(base_url + "/v1/FlexFlows", data=data, timeout=30)
    return Outcome(
        started, time.monotonic() - started, response.status_code, response.json(), lowered(response.headers), data
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def limited_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    env = {"FLEXCHAT_MAX_CONCURRENT_REQUESTS_PER_ACCOUNT": str(PER_ACCOUNT)}
    with fresh_database(str(request.param), tmp_path) as url, run_server(url, env=env) as server:
        yield server


def assert_refusal(outcome: Outcome, limit: int | None) -> None:
    assert outcome.body["code"] == 20429 and outcome.body["status"] == 429
    assert outcome.body["more_info"] == "https://www.twilio.com/docs/errors/20429"
    assert outcome.body["message"].startswith("Too many concurrent requests")
    in_flight = int(outcome.headers["twilio-concurrent-requests"])
    assert in_flight == limit if limit is not None else in_flight > 0
    assert outcome.headers["retry-after"] == "1"


def test_an_account_over_its_limit_gets_429s_and_others_go_on(limited_server: ServerProcess) -> None:
    server = limited_server
    busy, quiet = add_account(server.database_url), add_account(server.database_url)
    quiet_outcomes: list[Outcome] = []

    def work(thread: int) -> list[Outcome]:
        if thread == 0:
            # One request at a time for another account, all through the flood.
            s = session(quiet.auth)
            for _ in range(REQUESTS_PER_THREAD):
                quiet_outcomes.append(create_flow(s, server.base_url))
            return []
        s = session(busy.auth)
        return [create_flow(s, server.base_url) for _ in range(REQUESTS_PER_THREAD)]

    outcomes = run_threads(THREADS, work)

    statuses = {o.status for o in outcomes}
    assert statuses <= {201, 429}, statuses  # never a 5xx, never anything else
    refused = [o for o in outcomes if o.status == 429]
    admitted = [o for o in outcomes if o.status == 201]
    assert refused and admitted
    for outcome in refused:
        assert_refusal(outcome, PER_ACCOUNT)
    # Refusals are immediate (no queue) and the admitted went through: generous bounds.
    assert max(o.seconds for o in refused) < 5 and max(o.seconds for o in admitted) < 10
    # The other account, within its own limit, saw no refusal at all.
    assert [o.status for o in quiet_outcomes] == [201] * REQUESTS_PER_THREAD

    # As soon as the load drops the busy account is served again: every request succeeds.
    s = session(busy.auth)
    assert [create_flow(s, server.base_url).status for _ in range(10)] == [201] * 10
    # Exactly what was admitted exists.
    listed = Api(server.base_url, busy.auth).get("/v1/FlexFlows?PageSize=1000").json()["flex_flows"]
    assert len(listed) == len(admitted) + 10


def test_reads_over_the_limit_are_refused_too(limited_server: ServerProcess) -> None:
    # A SQLite read runs without yielding; counted only while it ran, no two reads were
    # ever in flight, and a flood of them queued in the HTTP server instead of a 429 (the
    # code before the admission yield never refused one here). Python clients overlap
    # their requests only now and then, so they read until one is refused, for at most
    # 20 s (about 100 ms when it works).
    server = limited_server
    busy = add_account(server.database_url)
    # A page of 50 flows, not an empty one: a read that takes a little longer gives the
    # requests more chances to arrive together (each read still never yields by itself).
    s = session(busy.auth)
    for _ in range(50):
        assert create_flow(s, server.base_url).status == 201
    refused = threading.Event()
    deadline = time.monotonic() + 20

    def work(thread: int) -> list[Outcome]:
        s = session(busy.auth)
        outcomes = []
        while not refused.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            response = s.get(server.base_url + "/v1/FlexFlows?PageSize=50", timeout=30)
            outcomes.append(Outcome(started, time.monotonic() - started, response.status_code,
                                    response.json(), lowered(response.headers), {}))
            if response.status_code == 429:
                refused.set()
        return outcomes

    outcomes = run_threads(THREADS, work)
    assert {o.status for o in outcomes} == {200, 429}
    for outcome in (o for o in outcomes if o.status == 429):
        assert_refusal(outcome, PER_ACCOUNT)


def test_the_process_limit_protects_the_database(tmp_path: Path) -> None:
    env = {"FLEXCHAT_MAX_CONCURRENT_REQUESTS": "4", "FLEXCHAT_MAX_CONCURRENT_REQUESTS_PER_ACCOUNT": "0"}
    with fresh_database("sqlite", tmp_path) as url, run_server(url, env=env) as server:
        accounts: list[Account] = [add_account(url) for _ in range(4)]

        def work(thread: int) -> list[Outcome]:
            s = session(accounts[thread % len(accounts)].auth)
            return [create_flow(s, server.base_url) for _ in range(REQUESTS_PER_THREAD)]

        outcomes = run_threads(THREADS, work)
        assert {o.status for o in outcomes} == {201, 429}
        for outcome in (o for o in outcomes if o.status == 429):
            assert_refusal(outcome, None)
            assert "on this server" in outcome.body["message"]
        s = session(accounts[0].auth)
        assert [create_flow(s, server.base_url).status for _ in range(5)] == [201] * 5


def test_limiter_counts_and_releases() -> None:
    limiter = ConcurrencyLimiter(per_account=2, per_process=3)
    with limiter.account("AC1"), limiter.account("AC1"):
        with pytest.raises(TooManyRequests) as refused, limiter.account("AC1"):
            pass
        assert refused.value.headers["Twilio-Concurrent-Requests"] == "2"
        with limiter.account("AC2"):  # another account has its own slots
            assert limiter.account_in_flight("AC2") == 1
    assert limiter.account_in_flight("AC1") == 0 and limiter._accounts == {}
    # A slot is given back when the request fails.
    with pytest.raises(RuntimeError), limiter.account("AC1"):
        raise RuntimeError("endpoint failed")
    assert limiter.account_in_flight("AC1") == 0
    for _ in range(3):
        limiter.enter_process()
    with pytest.raises(TooManyRequests):
        limiter.enter_process()
    limiter.leave_process()
    limiter.enter_process()
    assert limiter.in_flight == 3
    unlimited = ConcurrencyLimiter(0, 0)
    for _ in range(10_000):
        unlimited.enter_process()
    assert unlimited.in_flight == 10_000


def test_refusals_past_the_limit_in_a_second_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("flexchat.limits.time.monotonic", lambda: 1000.5)
    limiter = ConcurrencyLimiter(per_account=2, per_process=1, refusal_delay=0.25)

    def refusal(account: str) -> float:
        with pytest.raises(TooManyRequests) as refused, limiter.account(account):
            pass
        return refused.value.delay

    with limiter.account("AC1"), limiter.account("AC1"), limiter.account("AC2"), limiter.account("AC2"):
        # As many refusals a second as the limit are answered at once, the rest wait.
        assert [refusal("AC1") for _ in range(4)] == [0, 0, 0.25, 0.25]
        assert refusal("AC2") == 0  # counted per account
        limiter.enter_process()
        delays = []
        for _ in range(2):
            with pytest.raises(TooManyRequests) as refused:
                limiter.enter_process()
            delays.append(refused.value.delay)
        assert delays == [0, 0.25]  # the process limit: its own count
        monkeypatch.setattr("flexchat.limits.time.monotonic", lambda: 1001.0)
        assert refusal("AC1") == 0  # a new second


def test_a_client_that_keeps_asking_is_slowed_and_others_are_not(tmp_path: Path) -> None:
    env = {"FLEXCHAT_MAX_CONCURRENT_REQUESTS_PER_ACCOUNT": "1", "FLEXCHAT_REFUSAL_DELAY": "0.3"}
    with fresh_database("sqlite", tmp_path) as url, run_server(url, env=env) as server:
        busy, quiet = add_account(url), add_account(url)
        slow = requests.post(
            f"{server.base_url}/flexchat/v1/Faults/flex", data={"LatencyMs": "4000"}, auth=busy.auth, timeout=10
        )
        assert slow.status_code == 200, slow.text

        def hold() -> None:
            # Holds the account's one slot for 4 s (the flex family's latency); asks again
            # if a request of the loop below had the slot when it came.
            while requests.get(f"{server.base_url}/v1/FlexFlows", auth=busy.auth, timeout=20).status_code == 429:
                pass

        holder = threading.Thread(target=hold)
        holder.start()
        time.sleep(0.5)
        s = session(busy.auth)
        seconds: list[float] = []
        deadline = time.monotonic() + 3.5
        # Chat requests, which no fault slows: refused while the holder has the slot.
        while time.monotonic() < deadline and len(seconds) < 8:
            started = time.monotonic()
            response = s.get(f"{server.base_url}/v2/Services", timeout=10)
            if response.status_code == 200:  # the holder is not in yet
                continue
            assert response.status_code == 429 and response.json()["code"] == 20429, response.text
            seconds.append(time.monotonic() - started)
        # One refusal a second (the limit) is answered at once, the others wait 0.3 s.
        assert len(seconds) == 8, seconds
        # (Anything under the delay was not delayed: a loaded machine gets the whole margin.)
        assert min(seconds) < 0.3 and sum(t >= 0.3 for t in seconds) >= 4, seconds
        # Another account is not slowed.
        started = time.monotonic()
        answered = requests.get(f"{server.base_url}/v2/Services", auth=quiet.auth, timeout=10)
        assert answered.status_code == 200 and time.monotonic() - started < 0.3
        holder.join()
