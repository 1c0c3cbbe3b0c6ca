"""Overload protection: bounded concurrency per account and per process, no queue.

A request holds one slot of its process and one of its account from admission until
its endpoint returns. One over either limit is refused at once with 429 / 20429 and the
``Twilio-Concurrent-Requests`` header (:class:`errors.TooManyRequests`): nothing waits
in an unbounded queue, so the requests already admitted keep their latency and a client
that backs off gets in as soon as load drops.

Both counters live in this process (an event loop is single-threaded, so plain integers
need no lock). With N API processes an account may have N x the per-account limit in
flight, and the database sees at most N x the process limit; docs/scaling.md says how
to size both for a deployment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import TooManyRequests


class ConcurrencyLimiter:
    """Counts requests in flight, for the process and for each account.

    ``per_account`` or ``per_process`` of 0 turns that limit off.
    """

    def __init__(self, per_account: int, per_process: int) -> None:
        self.per_account = per_account
        self.per_process = per_process
        self.in_flight = 0
        self._accounts: dict[str, int] = {}

    def enter_process(self) -> None:
        """Take a slot of the process, before authentication (which may read the
        database); :class:`TooManyRequests` when they are all taken."""
        if self.per_process and self.in_flight >= self.per_process:
            raise TooManyRequests(
                self.in_flight, "Too many concurrent requests on this server; retry later", retry_after="1"
            )
        self.in_flight += 1

    def leave_process(self) -> None:
        """Give the process slot back."""
        self.in_flight -= 1

    @contextmanager
    def account(self, account_sid: str) -> Iterator[None]:
        """Hold one of the account's slots for the duration of the block."""
        count = self._accounts.get(account_sid, 0)
        if self.per_account and count >= self.per_account:
            raise TooManyRequests(count, "Too many concurrent requests", retry_after="1")
        self._accounts[account_sid] = count + 1
        try:
            yield
        finally:
            remaining = self._accounts[account_sid] - 1
            # Idle accounts leave no entry: the table is as large as the accounts in flight.
            if remaining:
                self._accounts[account_sid] = remaining
            else:
                del self._accounts[account_sid]

    def account_in_flight(self, account_sid: str) -> int:
        """How many requests of the account are in flight here."""
        return self._accounts.get(account_sid, 0)
