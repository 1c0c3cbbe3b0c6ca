"""Rendered JSON of rows, kept by row number and version (the message list's cache)."""

from __future__ import annotations

from collections.abc import Sequence

# ~0.7 kB of JSON a message: ~1.5 MB at most per process.
DEFAULT_SIZE = 2048

# A row's number and version.
Key = tuple[int, int]


class RenderedRows:
    """The wire JSON of rows a process rendered, by (row number, version), for each base
    URL (a row's ``url`` field holds the base).

    Row numbers are never reused and every update of a row bumps its version, so an
    entry found under a row's current (number, version) is the row's JSON as it is now,
    whichever process changed it; an older version or a deleted row is never asked for
    again. Bounded: full, it starts afresh (a few pages rendered again rather than LRU
    bookkeeping on every hit).
    """

    __slots__ = ("_by_base", "_count", "_size")

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._by_base: dict[str, dict[Key, str]] = {}
        self._count = 0
        self._size = size

    def lookup(self, base: str, keys: Sequence[Key]) -> list[str | None]:
        """The JSON held for each key rendered for ``base``, None where none is."""
        texts = self._by_base.get(base)
        if texts is None:
            return [None] * len(keys)
        return list(map(texts.get, keys))

    def put(self, base: str, key: Key, text: str) -> None:
        """Hold ``text``, the JSON of the row ``key`` names, rendered for ``base``."""
        if self._count >= self._size:
            self._by_base.clear()
            self._count = 0
        texts = self._by_base.setdefault(base, {})
        if key not in texts:
            self._count += 1
        texts[key] = text

    def __len__(self) -> int:
        return self._count
