"""Overload protection: bounded concurrency per account and per process, no queue.

A request holds one slot of its process and one of its account from admission until
its endpoint returns. One over either limit is refused at once with 429 / 20429 and the
``Twilio-Concurrent-Requests`` header (:class:`errors.TooManyRequests`): nothing waits
in an unbounded queue, so the requests already admitted keep their latency and a client
that backs off gets in as soon as load drops.

A client that ignores ``Retry-After`` and asks again at once (a retry loop without
back-off, a flood) would keep the process busy answering 429s, and the requests it
admits would wait behind them on the one event loop. So past ``per_account`` refusals of
one account in a second (``per_process`` for the process limit), each further refusal
of that second is answered after ``refusal_delay`` seconds: a client that backs off, or
whose excess is a few requests, never meets the delay; a flood over N connections is
slowed to N refusals per delay, at no cost to the process (a sleeping request holds no
slot and does no work).

Both counters live in this process (an event loop is single-threaded, so plain integers
need no lock). With N API processes an account may have N x the per-account limit in
flight, and the database sees at most N x the process limit; docs/scaling.md says how
to size both for a deployment.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import TooManyRequests


class ConcurrencyLimiter:
    """Counts requests in flight, for the process and for each account.

    ``per_account`` or ``per_process`` of 0 turns that limit off.
    """

    def __init__(self, per_account: int, per_process: int, refusal_delay: float = 0.0) -> None:
        self.per_account = per_account
        self.per_process = per_process
        self.refusal_delay = refusal_delay
        self.in_flight = 0
        self._accounts: dict[str, int] = {}
        # Refusals in the current second, by account ("" for the process limit).
        self._refused: dict[str, int] = {}
        self._second = 0

    def _refuse(self, key: str, count: int, allowed: int, message: str) -> TooManyRequests:
        second = int(time.monotonic())
        if second != self._second:
            self._second = second
            self._refused = {}
        refused = self._refused[key] = self._refused.get(key, 0) + 1
        error = TooManyRequests(count, message, retry_after="1")
        if refused > allowed:
            error.delay = self.refusal_delay
        return error

    def enter_process(self) -> None:
        """Take a slot of the process, before authentication (which may read the
        database); :class:`TooManyRequests` when they are all taken."""
        if self.per_process and self.in_flight >= self.per_process:
            raise self._refuse(
                "", self.in_flight, self.per_process, "Too many concurrent requests on this server; retry later"
            )
        self.in_flight += 1

    def leave_process(self) -> None:
        """Give the process slot back."""
        self.in_flight -= 1

    def enter_account(self, account_sid: str) -> None:
        """Take one of the account's slots; :class:`TooManyRequests` when they are all
        taken. Every request takes one: a pair of calls, not a generator-based context
        manager, which cost ten times as much (1.4 us a request)."""
        count = self._accounts.get(account_sid, 0)
        if self.per_account and count >= self.per_account:
            raise self._refuse(account_sid, count, self.per_account, "Too many concurrent requests")
        self._accounts[account_sid] = count + 1

    def leave_account(self, account_sid: str) -> None:
        """Give one of the account's slots back."""
        remaining = self._accounts[account_sid] - 1
        # Idle accounts leave no entry: the table is as large as the accounts in flight.
        if remaining:
            self._accounts[account_sid] = remaining
        else:
            del self._accounts[account_sid]

    @contextmanager
    def account(self, account_sid: str) -> Iterator[None]:
        """Hold one of the account's slots for the duration of the block."""
        self.enter_account(account_sid)
        try:
            yield
        finally:
            self.leave_account(account_sid)

    def account_in_flight(self, account_sid: str) -> int:
        """How many requests of the account are in flight here."""
        return self._accounts.get(account_sid, 0)
