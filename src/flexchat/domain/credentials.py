"""Credentials: what a Basic-auth user name and password resolve to, API keys (Twilio's
IAM ``/v1/Keys``) and auth token rotation (Twilio's Accounts ``/v1/AuthTokens``).

Secrets are minted here, shown once by the caller, and stored only as SHA-256 digests
(see ``auth.py`` for why SHA-256). The one exception is the auth token text that signs
webhooks (``accounts.auth_token``): a secondary token's text is kept beside its hash
until promotion, when it becomes that signing token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from ..dates import now_iso
from ..paging import Window
from ..sids import is_sid, mint_sid
from ..store.queries.credentials import (
    DELETE_API_KEY,
    FETCH_ACCOUNT_SECRETS,
    FETCH_ACCOUNT_TOKENS,
    FETCH_API_KEY,
    FETCH_KEY_SECRET,
    INSERT_API_KEY,
    LIST_API_KEYS,
    PROMOTE_SECONDARY_TOKEN,
    SET_SECONDARY_TOKEN,
    UPDATE_API_KEY,
)
from ..store.sql import Script, one, page
from .records import ApiKey

# ``standard``: made over the API; everything except managing keys and tokens.
# ``main``: made with the CLI (Twilio makes Main keys only in its Console); may do both.
KEY_TYPES = ("standard", "main")


def hash_secret(secret: str) -> str:
    """The stored form of an auth token or API key secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    """A fresh auth token or API key secret: 32 hex digits, like Twilio's."""
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: the account, the credential used, and whether that
    credential may manage keys and tokens (an account's token or a main key)."""

    account_sid: str
    credential_sid: str
    may_manage: bool


def authenticate(user: str, digest: str) -> Script[Principal | None]:
    """The principal whose secret hashes to ``digest``, or None.

    An account authenticates with its primary or, while there is one, its secondary
    token. Digests are compared in constant time. A user name that is no well-formed Sid
    finds nothing without a query (PostgreSQL text could not even hold a NUL in it).
    """
    if not is_sid(user, user[:2]):
        return None
    if user[:2] == "AC":
        row = one((yield FETCH_ACCOUNT_SECRETS(user)))
        if row is None:
            return None
        primary_ok = hmac.compare_digest(row[0], digest)
        secondary_ok = row[1] is not None and hmac.compare_digest(row[1], digest)
        return Principal(user, user, True) if primary_ok or secondary_ok else None
    if user[:2] == "SK":
        row = one((yield FETCH_KEY_SECRET(user)))
        if row is None or not hmac.compare_digest(row[1], digest):
            return None
        return Principal(row[0], user, row[2] == "main")
    return None


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just made, with its secret (shown this once)."""

    key: ApiKey
    secret: str


def create_key(account_sid: str, friendly_name: str | None, key_type: str = "standard") -> Script[NewKey]:
    """A new API key of ``account_sid``."""
    secret = new_secret()
    now = now_iso()
    rows = yield INSERT_API_KEY(mint_sid("SK"), account_sid, friendly_name, hash_secret(secret), key_type, now, now)
    return NewKey(ApiKey(*rows[0]), secret)


def fetch_key(account_sid: str, sid: str) -> Script[ApiKey | None]:
    """One key of the account, or None (another account's key too)."""
    row = one((yield FETCH_API_KEY(sid, account_sid)))
    return ApiKey(*row) if row is not None else None


def update_key(account_sid: str, sid: str, friendly_name: str | None) -> Script[ApiKey | None]:
    """Rename a key (``None`` keeps the name); None if the account has no such key."""
    if friendly_name is None:
        return (yield from fetch_key(account_sid, sid))
    row = one((yield UPDATE_API_KEY(friendly_name, now_iso(), sid, account_sid)))
    return ApiKey(*row) if row is not None else None


def delete_key(account_sid: str, sid: str) -> Script[bool]:
    """Delete a key; whether the account had it. Its secret fails from the next lookup."""
    rows = yield DELETE_API_KEY(sid, account_sid)
    return bool(rows)


def list_keys(account_sid: str, window: Window) -> Script[tuple[list[ApiKey], bool]]:
    """One page of the account's keys, oldest first, and whether more lie beyond."""
    rows, more = yield from page(LIST_API_KEYS, (account_sid,), window)
    return [ApiKey(*row) for row in rows], more


@dataclass(frozen=True, slots=True)
class TokenChange:
    """A token rotation's outcome: the token shown once, and the resource's dates."""

    account_sid: str
    token: str
    date_created: str
    date_updated: str


def create_secondary_token(account_sid: str) -> Script[TokenChange | None]:
    """A new secondary auth token (replacing any earlier one); None if no such account."""
    row = one((yield FETCH_ACCOUNT_TOKENS(account_sid)))
    if row is None:
        return None
    token, now = new_secret(), now_iso()
    yield SET_SECONDARY_TOKEN(hash_secret(token), token, now, now, account_sid)
    return TokenChange(account_sid, token, now, now)


def delete_secondary_token(account_sid: str) -> Script[bool]:
    """Remove the secondary token; whether there was one."""
    row = one((yield FETCH_ACCOUNT_TOKENS(account_sid)))
    if row is None or row[0] is None:
        return False
    yield SET_SECONDARY_TOKEN(None, None, None, now_iso(), account_sid)
    return True


def promote_secondary_token(account_sid: str) -> Script[TokenChange | None]:
    """Make the secondary token the primary; the old primary fails from then on.
    None if there is no secondary token."""
    row = one((yield FETCH_ACCOUNT_TOKENS(account_sid)))
    if row is None or row[0] is None:
        return None
    created, now = row[2] or row[3], now_iso()
    rows = yield PROMOTE_SECONDARY_TOKEN(now, account_sid)
    if not rows:
        return None
    return TokenChange(account_sid, rows[0][0], created, now)
