"""Sending one webhook request and classifying what came of it.

:class:`HttpSender` owns an HTTP client (aiohttp, keep-alive pooled) and turns a
:class:`Job` (an outbox event's attempt with the token that signs it) into an
:class:`Outcome`. The worker hands jobs to a sender in batches and is told each outcome
through a callback (:class:`Sender`): :class:`InlineSender` runs ``HttpSender`` in the
worker's own event loop (``webhook_sender=inline``, the in-process double), and
``sender_process.ProcessSender`` in a process of its own (what ``flexchat serve`` runs),
which runs this same code.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from ..settings import Settings
from .destinations import AllowList, DestinationRefused
from .signing import build_request

log = logging.getLogger("flexchat.delivery")

# How much of an answer is kept with its attempt (characters; bytes read for it).
RESPONSE_START_CHARS = 512
RESPONSE_START_BYTES = 2048

NO_AUTH_TOKEN = (
    "account {account} has no stored auth token to sign webhooks with (it was created before"
    " flexchat kept tokens); rotate it with `flexchat account rotate-token --account-sid {account}`"
    " or restart `flexchat serve` with FLEXCHAT_ACCOUNT_SID/FLEXCHAT_AUTH_TOKEN (docs/webhooks.md)"
)


@dataclass(frozen=True, slots=True)
class Job:
    """One attempt to send: the event's request and what signs it."""

    account_sid: str
    method: str
    url: str
    params: str  # the event's fields, JSON text as the outbox holds them
    attempt: int  # 1 for the first; RetryCount is attempt - 1
    token: str | None  # the account's auth token (signs the request)
    idempotency_token: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to."""

    status_code: int | None = None
    error: str | None = None
    response_start: str | None = None
    retry: bool = False  # worth another attempt (timeout, connection error, 429, 5xx)
    signature: str = ""

    @property
    def delivered(self) -> bool:
        """A 2xx came back."""
        return self.status_code is not None and 200 <= self.status_code < 300


# Told each job's outcome by its number (see Sender).
OutcomeCallback = Callable[[int, "Outcome"], None]


class Sender(Protocol):
    """Where the worker's jobs go: ``submit`` takes numbered jobs and returns at once;
    each job's :class:`Outcome` comes back once, through the callback given to ``open``,
    on the worker's loop. Batches, not a task and a future per job: the API process pays
    for every webhook it hands over (docs/architecture.md)."""

    async def open(self, on_outcome: OutcomeCallback) -> None: ...

    def submit(self, jobs: list[tuple[int, Job]]) -> None: ...

    async def close(self) -> None: ...


def crashed(error: BaseException) -> Outcome:
    """The outcome of a send that failed on a bug: recorded and retried, not lost."""
    log.error("webhook send failed unexpectedly", exc_info=error)
    return Outcome(error=f"internal error: {error.__class__.__name__}", retry=True)


def classify(status: int) -> bool:
    """Whether an answer with ``status`` (not 2xx) is worth retrying: 429 and 5xx are."""
    return status == 429 or status >= 500


class AllowListResolver(AbstractResolver):
    """The system resolver, refusing names that resolve outside the allow-list: the check
    is made on the very addresses the connection then uses."""

    def __init__(self, allow: AllowList) -> None:
        self.allow = allow
        self.inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The addresses of ``host``; :class:`DestinationRefused` if any is not allowed."""
        results = await self.inner.resolve(host, port, family)
        self.allow.check(host, [result["host"] for result in results])
        return results

    async def close(self) -> None:
        """Release the inner resolver."""
        await self.inner.close()


class HttpSender:
    """Sends jobs over HTTP from the running event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.allow = AllowList.parse(settings.webhook_allowed_hosts) if settings.webhook_allowed_hosts else None
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        """Nothing yet: the HTTP client is made with the first request. Most in-process
        doubles (flexchat.testing) never send one, and making it was a tenth of such a
        double's start."""

    def _open_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self.settings.webhook_concurrency,
            resolver=AllowListResolver(self.allow) if self.allow is not None else None,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.settings.webhook_timeout),
            # No cookies carried from one tenant's receiver to the next request.
            cookie_jar=aiohttp.DummyCookieJar(),
            # Answers come uncompressed, so the start of each is readable as recorded.
            skip_auto_headers=("Accept-Encoding",),
        )
        return self._session

    async def close(self) -> None:
        """Close the HTTP client."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def send(self, job: Job) -> Outcome:
        """Send ``job`` once, signed with its token; what came of it."""
        url = job.url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # The URL itself is not repeated: it may carry credentials, and errors are logged.
            return Outcome(error=f"not an http(s) URL (scheme {parts.scheme!r}, host {parts.hostname!r})")
        if self.allow is not None:
            refusal = self._refused_by_name(parts.hostname)
            if refusal is not None:
                return Outcome(error=refusal)
        if not job.token:
            return Outcome(error=NO_AUTH_TOKEN.format(account=job.account_sid))
        params = {name: str(value) for name, value in orjson.loads(job.params).items()}
        params["RetryCount"] = str(job.attempt - 1)
        request = build_request(job.method, url, params, job.token, job.idempotency_token)
        session = self._session or self._open_session()
        try:
            async with session.request(
                request.method, URL(request.url, encoded=True), data=request.body, headers=request.headers,
                allow_redirects=False,
            ) as response:
                status = response.status
                start = (await response.content.read(RESPONSE_START_BYTES)).decode("utf-8", "replace")
        except TimeoutError:
            return Outcome(
                error=f"no answer within {self.settings.webhook_timeout:g} s (FLEXCHAT_WEBHOOK_TIMEOUT)",
                retry=True, signature=request.signature,
            )
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, DestinationRefused):
                return Outcome(error=str(error.os_error), signature=request.signature)
            return Outcome(error=f"cannot connect: {error.os_error}", retry=True, signature=request.signature)
        except aiohttp.InvalidURL:
            return Outcome(error="the URL cannot be requested as it is written", signature=request.signature)
        except aiohttp.ClientResponseError as error:  # an answer that is not HTTP; its text names the URL
            return Outcome(error=f"invalid answer: {error.message}", retry=True, signature=request.signature)
        except (aiohttp.ClientError, OSError) as error:
            return Outcome(error=f"{error.__class__.__name__}: {error}", retry=True, signature=request.signature)
        return Outcome(
            status_code=status,
            response_start=start[:RESPONSE_START_CHARS],
            retry=classify(status),
            signature=request.signature,
        )

    def _refused_by_name(self, host: str) -> str | None:
        """Why ``host`` is refused before resolving it: an address literal outside the
        allowed blocks. Names are checked by the resolver, on the addresses used."""
        assert self.allow is not None
        literal = host.strip("[]")
        try:
            ipaddress.ip_address(literal)
        except ValueError:
            return None
        try:
            self.allow.check(literal, [literal])
        except DestinationRefused as refused:
            return str(refused)
        return None


class InlineSender:
    """:class:`HttpSender` on the worker's own loop, one task per job (the in-process
    double, ``webhook_sender=inline``)."""

    def __init__(self, settings: Settings) -> None:
        self.http = HttpSender(settings)
        self._on_outcome: OutcomeCallback | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def open(self, on_outcome: OutcomeCallback) -> None:
        """Ready to send; outcomes go to ``on_outcome``."""
        self._on_outcome = on_outcome
        await self.http.open()

    def submit(self, jobs: list[tuple[int, Job]]) -> None:
        """Start each job's request."""
        for number, job in jobs:
            task = asyncio.create_task(self._one(number, job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _one(self, number: int, job: Job) -> None:
        try:
            outcome = await self.http.send(job)
        except Exception as error:
            outcome = crashed(error)
        assert self._on_outcome is not None
        self._on_outcome(number, outcome)

    async def close(self) -> None:
        """Stop what is under way (the worker waited for it as long as it would) and
        close the HTTP client."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.http.close()
