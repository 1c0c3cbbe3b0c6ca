"""Rendered JSON of rows, kept by row number and stamp (the message list's cache)."""

from __future__ import annotations

from collections.abc import Sequence

# Rows kept (~0.7 kB of JSON a typical message), and at most this many characters of them
# in all: a message's body may be up to the request limit (1 MiB), so a count alone would
# not bound the memory. A row larger than ROW_MAX is rendered every time instead.
DEFAULT_SIZE = 2048
ROWS_BUDGET = 2 * 1024 * 1024
ROW_MAX = 16 * 1024
# Whole pages kept, as the bytes of their items (~35 kB for 50 typical messages), within
# PAGES_BUDGET bytes in all; a page larger than PAGE_MAX is not kept.
PAGES_SIZE = 32
PAGES_BUDGET = 2 * 1024 * 1024
PAGE_MAX = 128 * 1024


class RenderedRows:
    """The wire JSON of rows a process rendered, by row number, with the stamp it was
    rendered under, for each base URL (a row's ``url`` field holds the base).

    The stamp is what moves whenever such a row changes (for a message, its channel's
    ``messages_version``, bumped by every update of one of its messages). Row numbers are
    never reused, so an entry found for a row under the stamp read with it is the row's
    JSON as it is now, whichever process changed it; a deleted row is never asked for
    again. Bounded in entries and in characters: full, it starts afresh (a few pages
    rendered again rather than LRU bookkeeping on every hit).
    """

    __slots__ = ("_by_base", "_chars", "_count", "_page_bytes", "_pages", "_size")

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._by_base: dict[str, dict[int, tuple[int, str]]] = {}
        self._count = 0
        # Characters put since the last fresh start (a replaced row's old text included:
        # an overestimate, which only starts afresh sooner).
        self._chars = 0
        self._size = size
        self._pages: dict[tuple[str, int, tuple[int, ...]], bytes] = {}
        self._page_bytes = 0

    def lookup(self, base: str, stamp: int, seqs: Sequence[int]) -> tuple[list[str | None], list[int]]:
        """The JSON held for each row rendered for ``base`` under ``stamp`` (None where
        none is), and the row numbers of those not held."""
        texts = self._by_base.get(base)
        if texts is None:
            return [None] * len(seqs), list(seqs)
        get = texts.get
        held: list[str | None] = [
            entry[1] if (entry := get(seq)) is not None and entry[0] == stamp else None for seq in seqs
        ]
        if None not in held:
            return held, []
        return held, [seq for seq, text in zip(seqs, held, strict=True) if text is None]

    def put(self, base: str, seq: int, stamp: int, text: str) -> None:
        """Hold ``text``, the JSON of row ``seq`` under ``stamp``, rendered for ``base``
        (unless it is larger than ``ROW_MAX``)."""
        if len(text) > ROW_MAX:
            return
        if self._count >= self._size or self._chars + len(text) > ROWS_BUDGET:
            self._by_base.clear()
            self._count = 0
            self._chars = 0
        self._chars += len(text)
        texts = self._by_base.setdefault(base, {})
        if seq not in texts:
            self._count += 1
        texts[seq] = (stamp, text)

    def page(self, base: str, stamp: int, seqs: Sequence[int]) -> bytes | None:
        """The items of a page of exactly these rows, in this order, under ``stamp``, as
        :meth:`put_page` was given them (None if it was not).

        A page polled again and again is the same rows under the same stamp: its bytes
        are fixed by them, as each row's JSON is, so the page's are kept whole rather
        than looked up row by row, joined and encoded on every request.
        """
        return self._pages.get((base, stamp, tuple(seqs)))

    def put_page(self, base: str, stamp: int, seqs: Sequence[int], items: bytes) -> None:
        """Hold ``items``, the page of rows ``seqs`` under ``stamp``, rendered for ``base``
        (unless it is larger than ``PAGE_MAX``)."""
        if len(items) > PAGE_MAX:
            return
        if len(self._pages) >= PAGES_SIZE or self._page_bytes + len(items) > PAGES_BUDGET:
            self._pages.clear()
            self._page_bytes = 0
        self._page_bytes += len(items)
        self._pages[(base, stamp, tuple(seqs))] = items

    def __len__(self) -> int:
        return self._count
