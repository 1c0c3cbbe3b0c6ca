"""Rendered JSON of rows, kept by row number and version (the message list's cache)."""

from __future__ import annotations

# ~0.7 kB of JSON a message: ~1.5 MB at most per process.
DEFAULT_SIZE = 2048


class RenderedRows:
    """The wire JSON of rows a process rendered, by row number, each valid for one version
    of its row and one base URL (its ``url`` field holds the base).

    Row numbers are never reused and every update of a row bumps its version, so an entry
    that matches both is the row's JSON as it is now, whichever process changed it; a
    deleted row is simply never asked for again. Bounded: full, it starts afresh (a few
    pages rendered again rather than LRU bookkeeping on every hit).
    """

    __slots__ = ("_entries", "_size")

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._entries: dict[int, tuple[int, str, str]] = {}
        self._size = size

    def get(self, seq: int, version: int, base: str) -> str | None:
        """The JSON of row ``seq`` at ``version`` rendered for ``base``, if held."""
        entry = self._entries.get(seq)
        if entry is not None and entry[0] == version and entry[1] == base:
            return entry[2]
        return None

    def put(self, seq: int, version: int, base: str, text: str) -> None:
        """Hold ``text``, the JSON of row ``seq`` at ``version`` for ``base``."""
        if len(self._entries) >= self._size:
            self._entries.clear()
        self._entries[seq] = (version, base, text)

    def __len__(self) -> int:
        return len(self._entries)
