"""The in-process double's figures (issue 9, item 6), each against a floor measured in
the same run.

A test suite using ``flexchat.testing`` pays, per call, what the official ``twilio``
client costs by itself plus what the double adds (turning the request into an ASGI call,
the application, the answer back). The floor is the client's own cost: the same call
through ``twilio.rest.Client`` with an ``HttpClient`` subclass that returns fixed bytes,
the very bytes the double answered that call with (so the client parses the same page).

Figures, per call, in microseconds:

1. **list**: ``client.flex_api.v1.channel.list(limit=50)`` on an account with 0, 2 and 50
   channels, through the double and through the floor. Target: the double at least half
   the floor's speed (double / floor <= 2).
2. **create**: ``client.flex_api.v1.channel.create(...)`` (a new identity each time, so a
   new channel), through the double and through the floor. Target: <= 150 us.
3. **fresh client**, what a test pays before its first call and after its last:
   - ``flex_client`` (the pytest plugin's fixture, and ``twilio_client()``): a new
     ``InProcessFlexchat`` (store, application, first account) and its ``Client``, then
     closing it. This is what every test using the fixture pays. Target: <= 2 ms;
   - for comparison, a new account on an instance shared by the tests (``create_account``
     plus a ``Client`` for it): cheaper, but the tests then share one store, its fault
     rules and settings. The plugin does not do this.

How: rounds interleave every figure (``--rounds``, default 5), so a burst from a neighbour
on this shared machine costs one round of one figure, not a ratio. A round of a per-call
figure is the mean over ``--calls`` calls; the best round is kept (the least disturbed).
A round of the fresh-client figure is the median of ``--fresh`` constructions; the best
round's median is kept. Run by ``make bench`` after the others; needs no server.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twilio.http import HttpClient  # type: ignore[import-untyped]
from twilio.http.response import Response  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]

from flexchat.testing import InProcessFlexchat, twilio_client

TARGET_LIST_RATIO = 2.0  # double / floor: at least half the floor's speed
TARGET_CREATE_US = 150.0
TARGET_FRESH_MS = 2.0
PAGES = (0, 2, 50)
NAMES = {"chat_user_friendly_name": "c", "chat_friendly_name": "b"}
RESULTS = Path(__file__).resolve().parent / "results"

FLOW = {
    "friendly_name": "bench",
    "chat_service_sid": "IS" + "0" * 32,
    "channel_type": "web",
    "integration_type": "studio",
    "integration_flow_sid": "FW" + "0" * 32,
}


class FixedHttpClient(HttpClient):  # type: ignore[misc]
    """The floor: an HTTP client that answers every request with the same bytes."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(None, False)
        self.status = status
        self.text = text

    def request(self, *args: Any, **kwargs: Any) -> Any:
        """The fixed answer, whatever was asked."""
        return Response(self.status, self.text)


def per_call_us(call: Callable[[], object], calls: int) -> float:
    """Mean microseconds of ``call`` over ``calls`` calls."""
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls * 1e6


class Subjects:
    """Every measured call, set up once: a double per page size, and their floors."""

    def __init__(self) -> None:
        self.doubles: list[Any] = []
        self.calls: dict[str, Callable[[], object]] = {}
        for size in PAGES:
            client = twilio_client()
            self.doubles.append(client)
            flow = client.flex_api.v1.flex_flow.create(**FLOW)
            for number in range(size):
                client.flex_api.v1.channel.create(flex_flow_sid=flow.sid, identity=f"customer-{number}", **NAMES)
            instance = client.http_client.flexchat
            page = instance.request(
                "GET", "https://flex-api.twilio.com/v1/Channels?PageSize=50", auth=instance.auth
            )
            assert page.status == 200 and len(page.json()["flex_chat_channels"]) == size
            floor = Client(instance.account_sid, instance.auth_token, http_client=FixedHttpClient(200, page.text))
            self.calls[f"list {size}: floor"] = self._lister(floor)
            self.calls[f"list {size}: double"] = self._lister(client)
        # Create: a fresh identity per call on its own double (a new channel each time).
        client = twilio_client()
        self.doubles.append(client)
        flow_sid = client.flex_api.v1.flex_flow.create(**FLOW).sid
        counter = iter(range(10**9))

        def create(target: Any = client) -> object:
            return target.flex_api.v1.channel.create(flex_flow_sid=flow_sid, identity=f"c{next(counter)}", **NAMES)

        instance = client.http_client.flexchat
        answer = instance.request(
            "POST", "https://flex-api.twilio.com/v1/Channels", auth=instance.auth,
            data={"FlexFlowSid": flow_sid, "Identity": "floor", "ChatUserFriendlyName": "c", "ChatFriendlyName": "b"},
        )
        assert answer.status == 201, answer.text
        floor = Client(instance.account_sid, instance.auth_token, http_client=FixedHttpClient(201, answer.text))
        self.calls["create: floor"] = lambda: create(floor)
        self.calls["create: double"] = create
        # What a test pays for an isolated client, and a cheaper way it could.
        shared = InProcessFlexchat()
        self.shared = shared

        def fresh_fixture() -> None:
            fresh = twilio_client()
            fresh.http_client.flexchat.close()

        def new_account() -> None:
            sid, token = shared.create_account("bench")
            Client(sid, token, http_client=client.http_client)

        self.fresh = {"fresh: flex_client": fresh_fixture, "fresh: account on a shared instance": new_account}

    @staticmethod
    def _lister(client: Any) -> Callable[[], object]:
        return lambda: client.flex_api.v1.channel.list(limit=50)

    def close(self) -> None:
        """Release every double."""
        for client in self.doubles:
            client.http_client.flexchat.close()
        self.shared.close()


def measure(rounds: int, calls: int, fresh: int) -> dict[str, float]:
    """Best round of every figure, in microseconds."""
    subjects = Subjects()
    best: dict[str, float] = {}
    try:
        for call in subjects.calls.values():  # warm-up: imports, caches, first pages
            per_call_us(call, 20)
        for make in subjects.fresh.values():
            per_call_us(make, 5)
        for round_number in range(rounds):
            for name, call in subjects.calls.items():
                figure = per_call_us(call, calls if "list 50" not in name else max(calls // 10, 20))
                best[name] = min(best.get(name, float("inf")), figure)
            for name, make in subjects.fresh.items():
                samples = []
                for _ in range(fresh):
                    samples.append(per_call_us(make, 1))
                # A collection now rather than inside the next figure's timing.
                gc.collect()
                figure = statistics.median(samples)
                best[name] = min(best.get(name, float("inf")), figure)
            print(f"[double] round {round_number + 1}/{rounds} done", file=sys.stderr, flush=True)
    finally:
        subjects.close()
    return best


def render(best: dict[str, float]) -> str:
    """The figures as a Markdown table, each against its floor or target."""
    lines = [
        "| figure | floor (twilio client, fixed bytes) | flexchat.testing | ratio | target |",
        "|---|---|---|---|---|",
    ]
    for size in PAGES:
        floor, double = best[f"list {size}: floor"], best[f"list {size}: double"]
        ratio = double / floor
        mark = "met" if ratio <= TARGET_LIST_RATIO else "missed"
        lines.append(
            f"| list, {size} channels | {floor:,.0f} us | {double:,.0f} us | **{ratio:.2f}x** "
            f"| <= {TARGET_LIST_RATIO:g}x ({mark}) |"
        )
    floor, double = best["create: floor"], best["create: double"]
    mark = "met" if double <= TARGET_CREATE_US else "missed"
    lines.append(
        f"| create | {floor:,.0f} us | {double:,.0f} us | **{double / floor:.2f}x** "
        f"| <= {TARGET_CREATE_US:g} us ({mark}) |"
    )
    fresh = best["fresh: flex_client"]
    mark = "met" if fresh <= TARGET_FRESH_MS * 1000 else "missed"
    lines.append(
        f"| fresh isolated client (`flex_client`: new instance + Client + close) | | "
        f"{fresh / 1000:.2f} ms | | <= {TARGET_FRESH_MS:g} ms ({mark}) |"
    )
    shared = best["fresh: account on a shared instance"]
    lines.append(f"| new account on a shared instance (not what the plugin does) | | {shared:,.0f} us | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, keep the figures in bench/results/."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the best is kept")
    parser.add_argument("--calls", type=int, default=500, help="calls per round of a per-call figure")
    parser.add_argument("--fresh", type=int, default=40, help="fresh clients per round (their median)")
    args = parser.parse_args(argv)
    best = measure(args.rounds, args.calls, args.fresh)
    table = render(best)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"double-{stamp}.json").write_text(json.dumps(best, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
