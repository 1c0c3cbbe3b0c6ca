"""Console sessions: an HMAC-signed cookie any API process on the same database accepts.

The cookie holds ``credential sid | issued | expires`` and a MAC keyed by a key derived
from the database's paging secret (``server_settings``, shared by every process) and
the credential's current secret hash: rotating an auth token or deleting an API key
ends the sessions opened with it, and nothing is stored per session. The CSRF token is a
second MAC over the same payload, so it is bound to the session and never stored either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

from ..store import Store

COOKIE = "flexchat_console"
CSRF_HEADER = "x-csrf-token"
# Eight hours: a working day with the console open.
LIFETIME_SECONDS = 8 * 3600
_LABEL = b"flexchat console session v1"


@dataclass(frozen=True)
class Session:
    """A verified session: who logged in and for which account."""

    account_sid: str
    credential_sid: str
    expires: int
    csrf: str


def _key(paging_secret: bytes) -> bytes:
    # A key of its own, so a session MAC can never be replayed as a page token or back.
    return hmac.new(paging_secret, _LABEL, hashlib.sha256).digest()


def _mac(key: bytes, purpose: bytes, payload: bytes, secret_hash: str) -> str:
    digest = hmac.new(key, purpose + b"|" + payload + b"|" + secret_hash.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(store: Store, credential_sid: str, secret_hash: str, now: float | None = None) -> str:
    """A cookie value for a credential that just proved its secret."""
    issued = int(now if now is not None else time.time())
    payload = f"{credential_sid}|{issued}|{issued + LIFETIME_SECONDS}".encode()
    mac = _mac(_key(store.paging_secret), b"session", payload, secret_hash)
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + mac


async def verify(store: Store, cookie: str | None, now: float | None = None) -> Session | None:
    """The session a cookie value carries, or None (absent, forged, expired, or its
    credential rotated or deleted since)."""
    if not cookie or "." not in cookie or len(cookie) > 512:
        return None
    encoded, _, mac = cookie.partition(".")
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        credential_sid, issued, expires = payload.decode("ascii").split("|")
        expires_at = int(expires)
        int(issued)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return None
    if expires_at <= (now if now is not None else time.time()) or credential_sid[:2] not in ("AC", "SK"):
        return None
    credential = await store.find_credential(credential_sid)
    if credential is None:
        return None
    key = _key(store.paging_secret)
    if not hmac.compare_digest(mac, _mac(key, b"session", payload, credential.secret_hash)):
        return None
    csrf = _mac(key, b"csrf", payload, credential.secret_hash)
    return Session(credential.account_sid, credential_sid, expires_at, csrf)


def csrf_ok(session: Session, token: str | None) -> bool:
    """Whether a state-changing request carries its session's CSRF token."""
    return token is not None and hmac.compare_digest(session.csrf, token)


def cookie_header(value: str, secure: bool, max_age: int = LIFETIME_SECONDS) -> str:
    """The Set-Cookie value: httpOnly, SameSite=Strict, Secure over https, path /console."""
    secure_flag = "; Secure" if secure else ""
    return f"{COOKIE}={value}; Path=/console; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure_flag}"


def read_cookie(header: str | None) -> str | None:
    """The session cookie's value in a Cookie header."""
    if not header:
        return None
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None
