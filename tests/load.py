"""Traffic for the scaling and outage tests: many threads creating channels through one
or more servers, and a complete paged walk, each recording exactly what it saw."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from flexchat.testing import ServerProcess


@dataclass(frozen=True)
class Outcome:
    """One request: when it started (monotonic), how long it took, what came back."""

    started: float
    seconds: float
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    request: dict[str, str] = field(default_factory=dict)


def session(auth: tuple[str, str]) -> requests.Session:
    s = requests.Session()
    s.auth = auth
    return s


def create_channel(s: requests.Session, base_url: str, flow_sid: str, identity: str) -> Outcome:
    data = {
        "FlexFlowSid": flow_sid,
        "Identity": identity,
        "ChatUserFriendlyName": f"User {identity}",
        "ChatFriendlyName": f"Chat with {identity}",
    }
    started = time.monotonic()
    response = s.post(base_url + "/v1/Channels", data=data, timeout=30)
    return Outcome(
        started, time.monotonic() - started, response.status_code,
        response.json() if response.content else {}, lowered(response.headers), data,
    )


def lowered(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names in lower case (the server sends them so; requests hides it)."""
    return {name.lower(): value for name, value in headers.items()}


def run_threads(threads: int, work: Callable[[int], list[Outcome]]) -> list[Outcome]:
    """``work(thread_number)`` on ``threads`` threads at once; every outcome, in no order."""
    barrier = threading.Barrier(threads)

    def start(number: int) -> list[Outcome]:
        barrier.wait()  # all threads fire together, to make the races real
        return work(number)

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(start, range(threads)))
    return [outcome for outcomes in results for outcome in outcomes]


def walk_channels(
    server: ServerProcess, auth: tuple[str, str], page_size: int = 50, start: str | None = None
) -> list[dict[str, Any]]:
    """Every channel of the account through ``server``, following ``next_page_url`` from
    the first page, or from ``start`` (a page URL any server emitted)."""
    s = session(auth)
    items: list[dict[str, Any]] = []
    url: str | None = start or f"{server.base_url}/v1/Channels?PageSize={page_size}"
    while url:
        response = s.get(on_server(url, server), timeout=30)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["flex_chat_channels"])
        url = page["meta"]["next_page_url"]
    return items


def on_server(url: str, server: ServerProcess) -> str:
    """``url`` (absolute, from another server's response) pointed at ``server``."""
    path = url.split("/", 3)[3]
    return f"{server.base_url}/{path}"


def twilio_error_body(outcome: Outcome, status: int, code: int) -> bool:
    """Whether the answer is Twilio's error body for this status and code."""
    body = outcome.body
    return (
        outcome.status == status
        and set(body) == {"code", "message", "more_info", "status"}
        and body["code"] == code
        and body["status"] == status
        and body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
        and isinstance(body["message"], str)
        and bool(body["message"])
    )


def distinct(values: Sequence[str]) -> bool:
    return len(set(values)) == len(values)
