"""Sids: a two-letter prefix and 32 lowercase hex digits from a cryptographic source."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator

_SID_RE = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")
# Random bytes are read from the OS (what secrets.token_hex reads) 4 KiB at a time, a
# read per 256 Sids instead of one each: a Flex channel's create mints five, and each
# os.urandom is a system call. Per thread (a generator serves one thread at a time); a
# forked child starts afresh, so it never mints its parent's Sids.
_BLOCK_BYTES = 4096
_pools = threading.local()


def _random_hex() -> Iterator[str]:
    while True:
        block = os.urandom(_BLOCK_BYTES).hex()
        for start in range(0, 2 * _BLOCK_BYTES, 32):
            yield block[start : start + 32]


def _forget_pools() -> None:
    global _pools
    _pools = threading.local()


os.register_at_fork(after_in_child=_forget_pools)


def random_hex32() -> str:
    """32 lowercase hex digits from a cryptographic source (``secrets.token_hex(16)``)."""
    try:
        return next(_pools.hex)  # type: ignore[no-any-return]
    except AttributeError:
        _pools.hex = _random_hex()
        return next(_pools.hex)  # type: ignore[no-any-return]


def mint_sid(prefix: str) -> str:
    """A new random Sid with ``prefix`` (``CH``, ``FO``, ``US``, ...)."""
    return prefix + random_hex32()


def is_sid(value: str, prefix: str) -> bool:
    """Whether ``value`` is a well-formed Sid of the given prefix (hex in any case)."""
    return len(value) == 34 and value.startswith(prefix) and _SID_RE.fullmatch(value) is not None


def normalize_sid(value: str) -> str:
    """The stored spelling of a Sid: the prefix as is, the hex digits lower-case."""
    return value[:2] + value[2:].lower()
