"""HTTP Basic authentication: Account Sid + Auth Token, or API Key Sid + secret.

Secrets are stored as SHA-256 digests and compared in constant time. SHA-256 rather than
a slow password hash because every secret is minted here with 128+ bits of randomness
(nothing to brute-force from a dictionary) and a per-request KDF would cost more than
the whole list query. Verified credentials are remembered for a few seconds per process
so the hot path does not pay a database round trip per request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time

from .errors import Unauthorized
from .store import Store

CACHE_SECONDS = 5.0
CACHE_LIMIT = 10_000


def hash_secret(secret: str) -> str:
    """The stored form of an auth token or API key secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    """A fresh auth token or API key secret: 32 hex digits, like Twilio's."""
    return secrets.token_hex(16)


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
    """Resolves an Authorization header to the Account Sid it acts for."""

    def __init__(self, store: Store, cache_seconds: float = CACHE_SECONDS) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        # Keyed by the whole header: the same header always carries the same user and
        # password, and a hit then skips the base64 decoding and the SHA-256 too.
        self._cache: dict[str, tuple[str, float]] = {}

    async def authenticate(self, header: str | None) -> str:
        """The Account Sid, or :class:`Unauthorized`."""
        now = time.monotonic()
        if header is not None:
            cached = self._cache.get(header)
            if cached is not None and cached[1] > now:
                return cached[0]
        user, password = parse_basic(header)
        digest = hash_secret(password)
        credential = await self.store.find_credential(user) if user[:2] in ("AC", "SK") else None
        if credential is None or not hmac.compare_digest(credential.secret_hash, digest):
            raise Unauthorized()
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        assert header is not None  # parse_basic refused a missing header
        self._cache[header] = (credential.account_sid, now + self.cache_seconds)
        return credential.account_sid
