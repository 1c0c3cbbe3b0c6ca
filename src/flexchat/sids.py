"""Sids: a two-letter prefix and 32 lowercase hex digits from a cryptographic source."""

from __future__ import annotations

import re
import secrets

_SID_RE = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")


def mint_sid(prefix: str) -> str:
    """A new random Sid with ``prefix`` (``CH``, ``FO``, ``US``, ...)."""
    return prefix + secrets.token_hex(16)


def is_sid(value: str, prefix: str) -> bool:
    """Whether ``value`` is a well-formed Sid of the given prefix (hex in any case)."""
    return len(value) == 34 and value.startswith(prefix) and _SID_RE.fullmatch(value) is not None


def normalize_sid(value: str) -> str:
    """The stored spelling of a Sid: the prefix as is, the hex digits lower-case."""
    return value[:2] + value[2:].lower()
