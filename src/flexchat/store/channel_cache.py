"""The Flex channels a process has read, by row number, for ``GET /v1/Channels``.

Both engines list channels the same way: one statement reads the page's row numbers
from the index (with the channels' change count, in the same snapshot), the channels
come from this cache, and only the rows it lacks are read from the table, in one
statement. Building a channel from a row costs more than reading its row number (~1.5
against ~0.4 us on SQLite; on PostgreSQL the row's eight columns cross the wire and are
decoded), and a page is mostly channels listed before: clients poll the first pages.
Each cached channel also keeps its rendered JSON (``Channel.rendered``).

Why a cached channel is never stale: a channel's row changes only where Flex links it
to a task after it was made, and every such change is counted in ``change_counters``
(by any process), so the cache starts afresh when the count moved; row numbers are
never reused (AUTOINCREMENT, an identity column), so a row number names one channel
for ever. A deleted channel is no longer in the index, so it drops off the page; rows
other processes create are seen, as the index is read on every request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..models import Channel

# Channels kept (~0.3 KB each, ~0.6 KB with their JSON): enough for the first pages
# every client polls and a page of 1,000.
CHANNEL_CACHE_SIZE = 1536


class ChannelCache:
    """Channels by row number, bounded, emptied when the channels' change count moves.

    A page is built from what :meth:`lookup` found and what :meth:`add` was given, never
    by reading the shared table back: on PostgreSQL other requests run while a page's
    missing rows are read, and may empty the cache meanwhile (a moved count, an overflow).
    """

    __slots__ = ("_changes", "_channels", "_size", "_strings")

    def __init__(self, size: int = CHANNEL_CACHE_SIZE) -> None:
        self._size = size
        self._channels: dict[int, Channel] = {}
        self._changes: object = None
        self._strings: dict[str, str] = {}

    def lookup(self, changes: object, seqs: Sequence[int]) -> tuple[list[Channel | None], list[int]]:
        """The cached channel of each of ``seqs`` (a page's, ascending; None where none is)
        and the row numbers missing, after starting afresh if ``changes`` (the count read
        with ``seqs``) moved."""
        channels = self._channels
        if changes != self._changes:
            channels.clear()
            self._changes = changes
        held = list(map(channels.get, seqs))
        # Membership in the dict, not ``None in held``: that compares each Channel with
        # None through the dataclass's __eq__, a Python call per channel (~10 us a page).
        if all(map(channels.__contains__, seqs)):
            return held, []
        return held, [seq for seq, channel in zip(seqs, held, strict=True) if channel is None]

    def add(self, changes: object, rows: Iterable[Sequence[Any]]) -> dict[int, Channel]:
        """The channels of ``rows`` (read from the table, in ``Channel``'s field order) by
        row number; kept for later pages unless the count moved since ``changes`` was read
        with them (a row read before a change counted after it would be kept as current).
        Full, the cache starts afresh: bounded memory at the cost of a few cold pages, and
        no LRU bookkeeping on hits."""
        strings = self._strings
        if len(strings) > self._size:
            strings.clear()
        share = strings.setdefault
        fetched: dict[int, Channel] = {}
        for sid, account, flow, user, task, created, updated, seq in rows:
            # Accounts, flows, chat users (one per Identity, on each of its flows) and
            # creation seconds repeat from row to row: one string each keeps the cache at
            # ~0.3 KB a channel.
            fetched[seq] = Channel(
                sid, share(account, account), share(flow, flow), share(user, user), task,
                share(created, created), share(updated, updated), seq,
            )
        if changes == self._changes:
            if len(self._channels) + len(fetched) > self._size:
                self._channels.clear()
            self._channels.update(fetched)
        return fetched


def page_channels(
    seqs: Sequence[int], held: list[Channel | None], fetched: dict[int, Channel] | None
) -> list[Channel]:
    """A page's channels in the order of ``seqs``: held, else fetched (None where
    :meth:`ChannelCache.lookup` missed none); a row number the table no longer had when
    the missing rows were read (deleted between the two reads) is left out, as if the
    channel had been deleted just before."""
    if fetched is None:
        return held  # type: ignore[return-value] # every one was held
    held = [channel if channel is not None else fetched.get(seq) for seq, channel in zip(seqs, held, strict=True)]
    return [channel for channel in held if channel is not None]
