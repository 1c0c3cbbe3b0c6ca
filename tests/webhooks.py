"""Webhook receivers for the delivery tests: real HTTP servers on 127.0.0.1 standing in
for a customer's middleware, and the one helper that makes messages raise events."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from flexchat.dates import now_iso
from flexchat.domain.events import emit, message_fields
from flexchat.domain.records import ChatMessage
from flexchat.settings import Settings
from flexchat.sids import mint_sid
from flexchat.store import create_store
from flexchat.testing import ServerProcess

from .conftest import Account


@dataclass(frozen=True)
class Received:
    """One request a receiver got."""

    method: str
    url: str  # as the receiver's framework would rebuild it: scheme, Host, path, query
    headers: dict[str, str]
    form: dict[str, str]  # the POST body's fields (a GET's are in the URL's query)
    at: float

    @property
    def fields(self) -> dict[str, str]:
        """The event's fields, wherever the method put them."""
        return self.form if self.method == "POST" else dict(parse_qsl(urlsplit(self.url).query))


@dataclass
class Receiver:
    """A threaded HTTP server; ``answers`` are (status, seconds to wait first), used in
    order, then ``default``."""

    answers: list[tuple[int, float]] = field(default_factory=list)
    default: tuple[int, float] = (200, 0.0)
    received: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _answer(self) -> tuple[int, float]:
        with self._lock:
            return self.answers.pop(0) if self.answers else self.default

    def record(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)

    def wait_for(
        self, count: int, timeout: float = 20.0, what: Callable[[Received], bool] = lambda r: True
    ) -> list[Received]:
        """The requests received once at least ``count`` match ``what``; fails on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                matching = [r for r in self.received if what(r)]
            if len(matching) >= count or time.monotonic() > deadline:
                assert len(matching) >= count, f"{len(matching)} of {count} webhook requests within {timeout}s"
                return matching
            time.sleep(0.05)

    def wait_for_messages(self, sids: Sequence[str], timeout: float = 20.0) -> list[Received]:
        """Every request received once each of the messages ``sids`` arrived at least
        once (repeats do not count towards it); fails on timeout."""
        wanted = set(sids)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                received = list(self.received)
            missing = wanted - {r.fields.get("MessageSid") for r in received}
            if not missing or time.monotonic() > deadline:
                assert not missing, f"{len(missing)} of {len(wanted)} messages did not arrive within {timeout}s"
                return received

    def __post_init__(self) -> None:
        self._lock = threading.Lock()


@contextmanager
def receiving(answers: Sequence[tuple[int, float]] = (), default: tuple[int, float] = (200, 0.0)) -> Iterator[Receiver]:
    """A :class:`Receiver` listening for the block."""
    receiver = Receiver(list(answers), default)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            host = self.headers.get("Host", f"127.0.0.1:{receiver.port}")
            receiver.record(Received(
                self.command, f"http://{host}{self.path}", {k: v for k, v in self.headers.items()},
                dict(parse_qsl(body, keep_blank_values=True)) if self.command == "POST" else {}, time.time(),
            ))
            status, delay = receiver._answer()
            if delay:
                time.sleep(delay)
            payload = b"ok" if status < 400 else b"try again later"
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the sender gave up waiting

        do_GET = do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def send_messages(
    server: ServerProcess, account: Account, service_sid: str, channel_sid: str, bodies: Sequence[str],
    *, author: str = "customer-1",
) -> list[str]:
    """Post ``bodies`` to the channel as a customer's middleware does:
    ``POST /v2/Services/{IS}/Channels/{CH}/Messages`` with ``X-Twilio-Webhook-Enabled:
    true``, so each message's ``onMessageSent`` is written to the outbox with it. The Sids
    of the acknowledged messages (a 201), in order; it stops at the first request that
    gets no answer (the server was SIGKILLed)."""
    session = requests.Session()
    session.auth = account.auth
    url = f"{server.base_url}/v2/Services/{service_sid}/Channels/{channel_sid}/Messages"
    sids = []
    for body in bodies:
        try:
            response = session.post(
                url, data={"Body": body, "From": author}, headers={"X-Twilio-Webhook-Enabled": "true"}, timeout=30
            )
        except requests.ConnectionError:
            break
        assert response.status_code == 201, response.text
        sids.append(response.json()["sid"])
    return sids


def write_message_events(
    database_url: str, account_sid: str, service_sid: str, channel_sid: str, bodies: Sequence[str],
    *, author: str = "customer-1",
) -> list[str]:
    """``onMessageSent`` for each of ``bodies``, written through ``emit`` into the database
    at ``database_url`` (by this process, whatever the servers are doing); their Sids."""

    async def run() -> list[str]:
        store = create_store(Settings(database_url=database_url))
        await store.open()
        try:
            sids = []
            for index, body in enumerate(bodies):
                now = now_iso()
                message = ChatMessage(
                    0, mint_sid("IM"), account_sid, service_sid, channel_sid, index, author, body, "{}",
                    None, None, False, now, now,
                )
                await store.write(emit(account_sid, service_sid, channel_sid, "onMessageSent", message_fields(message)))
                sids.append(message.sid)
            return sids
        finally:
            await store.close()

    return asyncio.run(run())
