"""HTTP Basic authentication: Account Sid + Auth Token, or API Key Sid + secret.

Secrets are stored as SHA-256 digests and compared in constant time. SHA-256 rather than
a slow password hash because every secret is minted here with 128+ bits of randomness
(nothing to brute-force from a dictionary) and a per-request KDF would cost more than
the whole list query.

Verified credentials are remembered per process for ``auth_cache_seconds`` (default
0.5 s) so the hot path does not pay a database round trip per request. That bound is
how long a deleted key or a promoted-away token can still work on *another* process
sharing the database; the process that made the change forgets the account's entries
at once (:meth:`Authenticator.forget`).
"""

from __future__ import annotations

import base64
import binascii
import time

from .domain.credentials import Principal, authenticate, hash_secret, new_secret
from .errors import Unauthorized
from .store import Store

__all__ = ["Authenticator", "Principal", "hash_secret", "new_secret", "parse_basic"]

CACHE_SECONDS = 0.5
CACHE_LIMIT = 10_000


def parse_basic(header: str | None) -> tuple[str, str]:
    """User name and password of an ``Authorization: Basic`` header."""
    if not header or not header[:6].lower() == "basic ":
        raise Unauthorized()
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized() from None
    user, sep, password = decoded.partition(":")
    if not sep or not user:
        raise Unauthorized()
    return user, password


class Authenticator:
    """Resolves an Authorization header to the principal it acts as."""

    def __init__(self, store: Store, cache_seconds: float = CACHE_SECONDS) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        # Keyed by the whole header: the same header always carries the same user and
        # password, and a hit then skips the base64 decoding and the SHA-256 too.
        self._cache: dict[str, tuple[Principal, float]] = {}

    async def authenticate(self, header: str | None) -> Principal:
        """The principal, or :class:`Unauthorized`."""
        now = time.monotonic()
        if header is not None:
            cached = self._cache.get(header)
            if cached is not None and cached[1] > now:
                return cached[0]
        user, password = parse_basic(header)
        principal = await self.store.read(authenticate(user, hash_secret(password)))
        if principal is None:
            raise Unauthorized()
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        assert header is not None  # parse_basic refused a missing header
        if self.cache_seconds > 0:
            self._cache[header] = (principal, now + self.cache_seconds)
        return principal

    def forget(self, account_sid: str) -> None:
        """Drop the remembered credentials of an account whose keys or tokens changed."""
        for header in [h for h, (p, _) in self._cache.items() if p.account_sid == account_sid]:
            del self._cache[header]
