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
    """Channels by row number, bounded, emptied when the channels' change count moves."""

    __slots__ = ("_changes", "_channels", "_size", "_strings")

    def __init__(self, size: int = CHANNEL_CACHE_SIZE) -> None:
        self._size = size
        self._channels: dict[int, Channel] = {}
        self._changes: object = None
        self._strings: dict[str, str] = {}

    def missing(self, changes: object, seqs: Sequence[int]) -> list[int]:
        """The row numbers of ``seqs`` (a page's, ascending) the cache lacks, after
        starting afresh if ``changes`` (the count read with ``seqs``) moved; all of them
        where they would not fit (the cache is emptied: bounded memory at the cost of a
        few cold pages, and no LRU bookkeeping on hits)."""
        channels = self._channels
        if changes != self._changes:
            channels.clear()
            self._changes = changes
        missing = [seq for seq in seqs if seq not in channels]
        if missing and len(channels) + len(missing) > self._size:
            channels.clear()
            missing = list(seqs)
        return missing

    def add(self, rows: Iterable[Sequence[Any]]) -> None:
        """Keep channels read from the table, as rows in ``Channel``'s field order."""
        strings = self._strings
        if len(strings) > self._size:
            strings.clear()
        share = strings.setdefault
        channels = self._channels
        for sid, account, flow, user, task, created, updated, seq in rows:
            # Accounts, flows, chat users (one per Identity, on each of its flows) and
            # creation seconds repeat from row to row: one string each keeps the cache at
            # ~0.3 KB a channel.
            channels[seq] = Channel(
                sid, share(account, account), share(flow, flow), share(user, user), task,
                share(created, created), share(updated, updated), seq,
            )

    def take(self, seqs: Sequence[int]) -> list[Channel]:
        """The channels of ``seqs``, in that order; a row number the table no longer had
        when the missing rows were read (deleted between the two reads) is left out, as
        if the channel had been deleted just before."""
        channels = list(map(self._channels.get, seqs))
        if None in channels:
            return [channel for channel in channels if channel is not None]
        return channels  # type: ignore[return-value]
