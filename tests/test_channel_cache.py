"""The per-process channel cache behind GET /v1/Channels (store/channel_cache.py): a page
is built from what the request found and fetched, whatever other requests did to the
cache meanwhile (on PostgreSQL they run while a page's missing rows are read)."""

from __future__ import annotations

from flexchat.store.channel_cache import ChannelCache, page_channels


def row(seq: int, task: str | None = None) -> tuple[object, ...]:
    return (f"CH{seq:032x}", "AC" + "a" * 32, "FO" + "b" * 32, "US" + "c" * 32, task, "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z", seq)


def test_a_page_survives_another_request_emptying_the_cache() -> None:
    cache = ChannelCache(size=8)
    cache.lookup(0, [1, 2, 3])
    cache.add(0, [row(seq) for seq in (1, 2, 3)])
    held, missing = cache.lookup(0, [1, 2, 3, 4, 5])
    assert missing == [4, 5]
    # Meanwhile another request's page overflows the cache, which starts afresh.
    _, other_missing = cache.lookup(0, list(range(10, 18)))
    cache.add(0, [row(seq) for seq in other_missing])
    fetched = cache.add(0, [row(4), row(5)])
    assert [channel.seq for channel in page_channels([1, 2, 3, 4, 5], held, fetched)] == [1, 2, 3, 4, 5]


def test_rows_read_before_a_counted_change_are_not_kept() -> None:
    cache = ChannelCache()
    held, _ = cache.lookup(0, [1])
    # A task is linked to channel 1 after this request read its row, and another request
    # saw the new count first: the old row must not be kept as current.
    cache.lookup(1, [2])
    fetched = cache.add(0, [row(1, task=None)])
    assert page_channels([1], held, fetched)[0].task_sid is None  # this page: what it read
    assert cache.lookup(1, [1])[1] == [1]  # later pages read it again
    fetched = cache.add(1, [row(1, task="WT" + "d" * 32)])
    assert cache.lookup(1, [1])[0][0] is fetched[1]


def test_a_row_deleted_between_the_reads_is_left_out() -> None:
    cache = ChannelCache()
    held, _ = cache.lookup(0, [1, 2, 3])
    fetched = cache.add(0, [row(1), row(3)])
    assert [channel.seq for channel in page_channels([1, 2, 3], held, fetched)] == [1, 3]


def test_a_page_whose_missing_rows_were_all_deleted_holds_only_the_cached_ones() -> None:
    cache = ChannelCache()
    cache.lookup(0, [1])
    cache.add(0, [row(1)])
    held, missing = cache.lookup(0, [1, 2, 3])
    assert missing == [2, 3]
    assert [channel.seq for channel in page_channels([1, 2, 3], held, cache.add(0, []))] == [1]
