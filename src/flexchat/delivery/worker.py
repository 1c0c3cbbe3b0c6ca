"""The delivery worker: claims due outbox events, sends them, records and settles them.

One worker runs in every API process, on the application's event loop, started and
stopped with the application (``app.py``; so also in ``flexchat.testing``'s in-process
double). It wakes at once when this process commits outbox rows (the store's
``outbox_listeners``) and polls every ``webhook_poll_interval`` seconds for rows other
processes wrote and for retries that fell due.

Claiming: one ``UPDATE ... RETURNING`` sets ``claimed_until`` (a lease) on up to as many
due events as the worker has free slots (``webhook_concurrency``), so with N processes on
one PostgreSQL database each event is sent by one process (``FOR UPDATE SKIP LOCKED``),
and on SQLite the single writer serialises the claims. A process that dies holding a
lease leaves its events to be claimed again once the lease ends (twice the timeout plus
five seconds): an event is delivered at least once, and more than once only when a
process died between sending and settling it (receivers deduplicate by the
``I-Twilio-Idempotency-Token`` header).

Each attempt is recorded in ``delivery_attempts`` and settles its event in the same
transaction: ``delivered`` on a 2xx; retried after ``webhook_retry_backoff`` x 2^(n-1)
seconds on a timeout, a connection error, a 429 or a 5xx, while attempts remain (the
event's ``retry_count`` retries after the first attempt); ``failed`` otherwise. The auth
token that signs the request is never logged, nor are URLs (they may carry credentials).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..domain.records import OutboxEvent
from ..faults import Faults
from ..metrics import Metrics, Sample
from ..settings import Settings
from ..store import Store
from ..store.queries.delivery import (
    ACCOUNT_AUTH_TOKEN,
    ANY_DUE,
    CLAIM,
    RELEASE_CLAIM,
    insert_attempts,
    settle_events,
    settle_sizes,
)
from ..store.sql import Script, fetch
from .metrics import oldest_pending_age, outbox_depth
from .reads import delivery_id
from .sender_process import ProcessSender
from .sending import InlineSender, Job, Outcome, Sender

log = logging.getLogger("flexchat.delivery")

# The longest wait between two attempts, whatever the backoff doubles to.
MAX_BACKOFF = 600.0
# Auth tokens are read once per account for this long (a rotation reaches delivery within it).
TOKEN_CACHE_SECONDS = 5.0
# How often database trouble is logged, at most (the worker retries on every poll).
LOG_INTERVAL = 10.0
# How often the worker refreshes the outbox gauges it shows /metrics (seconds).
GAUGE_INTERVAL = 2.0
DROPPED = "dropped by a fault (DropDeliveryRate, docs/operations.md): not sent"
# Finished attempts written in one transaction, at most.
SETTLE_BATCH = 64
# An in-flight attempt may finish this long on shutdown; the rest are left to their lease.
STOP_GRACE = 2.0
# Claims start at most this often, and so do settlements (seconds). Under load each then
# carries what became due or finished meanwhile, instead of a transaction for every event
# or two: on PostgreSQL a transaction is several round trips, each paid in the API
# process's CPU. When idle, the next one starts at once (docs/benchmarks.md).
PACE = 0.01


def lease_seconds(settings: Settings) -> float:
    """How long a claim holds an event: its attempt plus a margin for settling it."""
    return 2 * settings.webhook_timeout + 5.0


def iso_millis(epoch: float) -> str:
    """``2026-11-25T20:01:02.345Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}Z"


def release(events: list[OutboxEvent]) -> Script[None]:
    """Give claimed events back (a stopping worker's held ones): due again at once."""
    for event in events:
        yield RELEASE_CLAIM(event.account_sid, event.seq)


class Pacer:
    """Lets a repeated step begin at most once every ``interval`` seconds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = 0.0

    async def turn(self) -> None:
        """Wait until ``interval`` has passed since the last turn began; this one begins now."""
        wait = self._last + self.interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last = time.monotonic()


@dataclass(slots=True)
class Sent:
    """An attempt handed to the sender, waiting for its outcome."""

    event: OutboxEvent
    attempt: int
    started_at: str  # iso_millis, the same for a batch
    clock_started: float  # perf_counter


@dataclass(frozen=True, slots=True)
class Settlement:
    """An attempt to record and the state it leaves its event in."""

    event: OutboxEvent
    attempt: int
    started_at: str
    duration_ms: float
    outcome: Outcome
    state: str
    next_attempt_at: int
    retry_in: float = 0.0  # seconds, for a pending one


def settle(settlements: list[Settlement]) -> Script[None]:
    """Record the attempts and settle their events, in one transaction."""
    start = 0
    for size in settle_sizes(len(settlements), SETTLE_BATCH):
        chunk = settlements[start:start + size]
        start += size
        attempts: list[Any] = []
        events: list[Any] = []
        for item in chunk:
            event, outcome = item.event, item.outcome
            attempts += (
                event.account_sid, event.seq, item.attempt, item.started_at, item.duration_ms,
                outcome.status_code, outcome.error, outcome.response_start, outcome.signature,
            )
            events += (event.account_sid, event.seq, item.attempt, item.state, item.next_attempt_at)
        yield insert_attempts(size)(*attempts)
        yield settle_events(size)(*events)


class DeliveryWorker:
    """Delivers one process's share of the outbox (see module docstring)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        *,
        faults: Faults | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.faults = faults
        self.concurrency = settings.webhook_concurrency
        # webhook_sender=none: this process writes events and leaves them to the processes
        # of its database that deliver; it claims nothing, so it has nothing to be stuck on.
        self.delivers = settings.webhook_sender != "none"
        # Sends the requests: from this loop, or from a process of its own (sender_process.py).
        self.sender: Sender = (
            ProcessSender(settings) if settings.webhook_sender == "process" else InlineSender(settings)
        )
        self._lease_ms = int(lease_seconds(settings) * 1000)
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        # Handed to the sender, by job number; their outcomes come back to _finished.
        self._in_flight: dict[int, Sent] = {}
        self._numbers = 0
        # Signing tokens being read for a batch whose accounts were not cached.
        self._reading_tokens: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._refilling = False
        # Set by this process's commits of outbox rows (see claim).
        self._due_known = False
        self._claim_pacer, self._settle_pacer = Pacer(PACE), Pacer(PACE)
        # Claimed, waiting for a slot (see claim).
        self._held: collections.deque[OutboxEvent] = collections.deque()
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False
        self._settler: asyncio.Task[None] | None = None
        self._settlements: asyncio.Queue[Settlement] = asyncio.Queue()
        self._tokens: dict[str, tuple[str | None, float]] = {}
        self._last_logged = 0.0
        # The outbox gauges as last read (every GAUGE_INTERVAL seconds by the claim loop):
        # a scrape reads them without a query of its own.
        self.depth: int | None = None
        self.oldest_age: float | None = None
        self._gauges_read = 0.0
        # When the claim loop last finished a pass (readiness: a wedged loop is stuck).
        self._last_pass = time.monotonic()
        self.attempts = None if metrics is None else metrics.counter(
            "flexchat_delivery_attempts_total", "Webhook attempts of this process, by what they left the event in.",
            ("state",),
        )
        if metrics is not None:
            self._register_gauges(metrics)

    def _register_gauges(self, metrics: Metrics) -> None:
        def read(value: Callable[[], float | None]) -> Callable[[], list[Sample]]:
            def samples() -> list[Sample]:
                figure = value()
                return [] if figure is None else [((), figure)]

            return samples

        metrics.gauge(
            "flexchat_outbox_depth", "Webhook events waiting for delivery, all accounts (pending: due or backing off).",
            read=read(lambda: None if self.depth is None else float(self.depth)),
        )
        metrics.gauge(
            "flexchat_outbox_oldest_pending_seconds", "Age of the oldest pending webhook event; 0 when none waits.",
            read=read(lambda: self.oldest_age),
        )
        metrics.gauge(
            "flexchat_delivery_in_flight", "Webhook requests this process has under way.",
            read=read(lambda: float(len(self._in_flight))),
        )

    # -- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Open the sender, listen for this process's commits, start claiming."""
        if self._runner is not None or not self.delivers:
            return
        await self.sender.open(self._finished)
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._refilling = False
        self._loop = asyncio.get_running_loop()
        self._settlements = asyncio.Queue()
        self._stopping = False
        self._last_pass = time.monotonic()
        self.store.outbox_listeners.append(self._committed)
        self._settler = asyncio.create_task(self._settle_batches(), name="flexchat-delivery-settle")
        self._runner = asyncio.create_task(self._run(), name="flexchat-delivery")

    async def stop(self) -> None:
        """Stop claiming; let attempts in flight finish briefly, then close the sender.
        Held events are given back at once; those still in flight are claimed again when
        their lease ends."""
        if not self.delivers:
            return
        if self._committed in self.store.outbox_listeners:
            self.store.outbox_listeners.remove(self._committed)
        runner, self._runner = self._runner, None
        if runner is not None:
            # The flag ends the loop even where a cancel is lost (see _run).
            self._stopping = True
            self._wakeup.set()
            runner.cancel()
            await asyncio.wait({runner})  # not `await`: a cancel of this stop must not be swallowed
        for task in list(self._reading_tokens):
            task.cancel()
        await asyncio.gather(*self._reading_tokens, return_exceptions=True)
        # Slots taken for a batch whose tokens were still being read: never handed over,
        # so given back with the held events rather than waited for.
        for number in [number for number, sent in self._in_flight.items() if not sent.started_at]:
            self._held.appendleft(self._in_flight.pop(number).event)
        if self._in_flight:
            self._idle.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_GRACE):
                    await self._idle.wait()
            # What did not finish in time is left to its lease: its outcome is no longer
            # awaited, and the inline sender's requests end here, as they did when each
            # was a task of its own.
            self._in_flight.clear()
            await self.sender.close()
        held, self._held = list(self._held), collections.deque()
        if held:
            with contextlib.suppress(Exception):  # the database is away: their leases run out instead
                await self.store.write(release(held), background=True)
        settler, self._settler = self._settler, None
        if settler is not None:
            settler.cancel()
            await asyncio.wait({settler})  # not `await`: a cancel of this stop must not be swallowed
        # What finished but was not recorded yet is recorded now, while the store is open.
        leftover = []
        while not self._settlements.empty():
            leftover.append(self._settlements.get_nowait())
        if leftover:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._settle(leftover), STOP_GRACE)
        await self.sender.close()

    @property
    def running(self) -> bool:
        """Whether the worker is claiming (for readiness checks)."""
        return self._runner is not None and not self._runner.done()

    @property
    def in_flight(self) -> int:
        """Attempts under way in this process (a gauge)."""
        return len(self._in_flight)

    async def check_ready(self, ctx: object) -> None:
        """``/readyz``: the worker of this process is claiming and the outbox is not stuck.

        Stuck means this worker has not finished a look for due events within
        ``webhook_stuck_seconds``, or an event has been due that long, unclaimed, while
        this worker has room for it (so nothing is taking it). A backlog that busy
        workers are working through is not stuck: making every process unready under
        load would take the service down; ``flexchat_outbox_oldest_pending_seconds`` is
        what to alert on for that. A process that does not deliver (``webhook_sender=none``)
        is ready: its events are the delivering processes' to claim, and their readiness.
        """
        if not self.delivers:
            return
        if not self.running:
            raise RuntimeError("the webhook delivery worker is not running")
        stuck = self.settings.webhook_stuck_seconds
        if not stuck:
            return
        idle = time.monotonic() - self._last_pass
        if idle > stuck:
            raise RuntimeError(f"the webhook delivery worker has not looked for due events for {idle:.0f} s")
        if len(self._in_flight) + len(self._held) < 2 * self.concurrency:
            now = int(self.clock() * 1000)
            if await self.store.read(fetch(ANY_DUE(now - int(stuck * 1000), now)), background=True):
                raise RuntimeError(f"a webhook event has been due for over {stuck:g} s and no worker claims it")

    def _committed(self) -> None:
        # This process committed outbox rows: the next claim need not look for due ones first.
        self._due_known = True
        self.wake()

    def wake(self) -> None:
        """Look for due events now (called after a commit that wrote outbox rows). Safe
        from any thread: flexchat.testing commits on the caller's thread."""
        loop = self._loop
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop or loop is None:
            self._wakeup.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._wakeup.set)

    # -- claiming ------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            try:
                await self._claim_pacer.turn()
                await self.claim()
                self._last_pass = time.monotonic()
                if time.monotonic() - self._gauges_read >= GAUGE_INTERVAL:
                    self._gauges_read = time.monotonic()
                    self.depth = await outbox_depth(self.store)
                    self.oldest_age = await oldest_pending_age(self.store)
            except Exception as error:  # the database is away: try again at the next poll
                self._log_trouble("cannot claim webhook events", error)
            # asyncio.timeout, not wait_for: Python 3.11's wait_for returns normally when
            # it is cancelled just as the event is set, and this loop would never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.webhook_poll_interval):
                    await self._wakeup.wait()

    async def claim(self) -> int:
        """Claim due events for the free slots and as many again to start as slots free
        up; start what the slots allow; how many were claimed.

        The second share hides the claim's round trip (a write, which waits for the
        writer's commit): a finished attempt starts the next held event at once instead
        of waiting for the next claim. Held events keep their lease, as those in flight
        do, and are claimed again elsewhere only if this process dies holding them.
        """
        room = 2 * self.concurrency - len(self._in_flight) - len(self._held)
        if room <= 0:
            return 0  # a finishing attempt wakes the loop
        now = int(self.clock() * 1000)
        due_known, self._due_known = self._due_known, False
        if not due_known and not await self.store.read(fetch(ANY_DUE(now, now)), background=True):
            return 0
        # Up to ``room`` due events, leased until the first argument.
        rows = await self.store.write(fetch(CLAIM(now + self._lease_ms, now, now, room)), background=True)
        self._held.extend(sorted((OutboxEvent(*row) for row in rows), key=lambda event: event.seq))
        self._start_held()
        return len(rows)

    def _start_held(self) -> None:
        """Hand held events to the sender, as many as the free slots take, in one batch."""
        room = self.concurrency - len(self._in_flight)
        if room <= 0 or not self._held or self._stopping:
            return
        batch = [self._held.popleft() for _ in range(min(room, len(self._held)))]
        jobs: list[tuple[int, OutboxEvent]] = []
        for event in batch:
            self._numbers += 1
            # The slot is taken now; the times are set when the job is handed over.
            self._in_flight[self._numbers] = Sent(event, event.attempts + 1, "", 0.0)
            jobs.append((self._numbers, event))
        now = time.monotonic()
        tokens: dict[str, str | None] = {}
        for event in batch:
            cached = self._cached_token(event.account_sid, now)
            if cached is None:
                break
            tokens[event.account_sid] = cached[0]
        else:
            self._submit(jobs, tokens)
            return
        task = asyncio.create_task(self._submit_after_tokens(jobs))
        self._reading_tokens.add(task)
        task.add_done_callback(self._reading_tokens.discard)

    async def _submit_after_tokens(self, jobs: list[tuple[int, OutboxEvent]]) -> None:
        accounts = list(dict.fromkeys(event.account_sid for _, event in jobs))
        read = await asyncio.gather(*map(self._auth_token, accounts), return_exceptions=True)
        tokens: dict[str, str | None] = {}
        for account, token in zip(accounts, read, strict=True):
            if isinstance(token, BaseException):  # the database is away: no attempt is spent, the lease runs out
                self._log_trouble(f"cannot read the signing token of account {account}", token)
            else:
                tokens[account] = token
        ready = []
        for number, event in jobs:
            if event.account_sid in tokens:
                ready.append((number, event))
            else:
                self._release_slot(number)
        self._submit(ready, tokens)

    def _submit(self, jobs: list[tuple[int, OutboxEvent]], tokens: dict[str, str | None]) -> None:
        started, clock_started = iso_millis(self.clock()), time.perf_counter()
        sending: list[tuple[int, Job]] = []
        for number, event in jobs:
            sent = self._in_flight.get(number)
            if sent is None:  # given up on by a stop meanwhile
                continue
            sent.started_at, sent.clock_started = started, clock_started
            if self.faults is not None and self.faults.should_drop_delivery(event.account_sid):
                # As if the request were lost on the way: retried like a timeout.
                self._finished(number, Outcome(error=DROPPED, retry=True))
                continue
            sending.append((number, Job(
                event.account_sid, event.method, event.url or "", event.params, sent.attempt,
                tokens[event.account_sid], delivery_id(event.seq),
            )))
        if sending:
            self.sender.submit(sending)

    def _release_slot(self, number: int) -> None:
        self._in_flight.pop(number, None)
        if not self._in_flight:
            self._idle.set()
        loop = self._loop
        if not self._refilling and not self._stopping and loop is not None and not loop.is_closed():
            # Once per pass of the loop: the outcomes of one answer free their slots
            # together, and the next held events go out in one batch.
            self._refilling = True
            loop.call_soon(self._refill)

    def _refill(self) -> None:
        self._refilling = False
        if not self._stopping:
            self._start_held()
            if len(self._held) < self.concurrency:
                self.wake()

    def _finished(self, number: int, outcome: Outcome) -> None:
        """An attempt's outcome (the sender's callback): settled by the settler, and its
        slot given to the next held event."""
        sent = self._in_flight.get(number)
        if sent is None:  # a stop gave up on it; its lease runs out
            return
        event, attempt = sent.event, sent.attempt
        duration_ms = (time.perf_counter() - sent.clock_started) * 1000
        now_ms = int(self.clock() * 1000)
        delay = 0.0
        if outcome.delivered:
            state, next_at = "delivered", now_ms
        elif outcome.retry and attempt <= event.retry_count:
            delay = min(MAX_BACKOFF, self.settings.webhook_retry_backoff * 2 ** (attempt - 1))
            state, next_at = "pending", now_ms + int(delay * 1000)
        else:
            state, next_at = "failed", now_ms
        if self.attempts is not None:
            self.attempts.inc(state)
        # The slot is free once the request is over: recording it is the settler's job,
        # and the event's lease keeps it from being claimed again meanwhile.
        self._settlements.put_nowait(
            Settlement(event, attempt, sent.started_at, duration_ms, outcome, state, next_at, delay)
        )
        self._release_slot(number)

    async def _settle_batches(self) -> None:
        """Record finished attempts, all that finished meanwhile in one transaction: a
        burst of deliveries costs a few commits and pooled connections, not one each, and
        sending goes on while they commit."""
        while True:
            # Paced before taking anything: a stop that cancels the wait finds every
            # finished attempt still queued, and records it.
            await self._settle_pacer.turn()
            batch = [await self._settlements.get()]
            while len(batch) < SETTLE_BATCH and not self._settlements.empty():
                batch.append(self._settlements.get_nowait())
            await self._settle(batch)

    async def _settle(self, batch: list[Settlement]) -> None:
        try:
            await self.store.write(settle(batch), background=True)
        except Exception as error:  # their leases run out and the events are sent again
            self._log_trouble(f"cannot record {len(batch)} webhook attempt(s)", error)
            return
        loop = asyncio.get_running_loop()
        for item in batch:
            if item.state == "pending":
                loop.call_later(item.retry_in, self.wake)
            elif item.state == "failed":
                event = item.event
                log.warning(
                    "webhook %s (%s, %s) failed after %d attempt(s): %s",
                    delivery_id(event.seq), event.event_type, _host(event.url), item.attempt,
                    item.outcome.error or f"HTTP {item.outcome.status_code}",
                )

    def _cached_token(self, account_sid: str, now: float) -> tuple[str | None, float] | None:
        """The account's signing token as cached, while it is fresh (a token of None is
        cached too: an account without one)."""
        cached = self._tokens.get(account_sid)
        return cached if cached is not None and cached[1] > now else None

    async def _auth_token(self, account_sid: str) -> str | None:
        now = time.monotonic()
        cached = self._cached_token(account_sid, now)
        if cached is not None:
            return cached[0]
        rows = await self.store.read(fetch(ACCOUNT_AUTH_TOKEN(account_sid)), background=True)
        token = rows[0][0] if rows else None
        if len(self._tokens) > 10_000:
            self._tokens.clear()
        self._tokens[account_sid] = (token, now + TOKEN_CACHE_SECONDS)
        return token

    def _log_trouble(self, what: str, error: BaseException) -> None:
        now = time.monotonic()
        if now - self._last_logged >= LOG_INTERVAL:
            self._last_logged = now
            log.warning("%s: %s: %s", what, error.__class__.__name__, error)


def _host(url: str | None) -> str:
    """The host of a URL, for logs (a URL's path or query may hold credentials)."""
    return urlsplit(url or "").hostname or "?"
