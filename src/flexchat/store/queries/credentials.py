"""Statements of the credentials: accounts' auth tokens and API keys (IAM, Accounts API)."""

from __future__ import annotations

from ...domain.records import ApiKey, columns
from ..sql import paged, sql

API_KEY = columns(ApiKey)

# What HTTP Basic authentication needs, for an Account Sid or an API Key Sid.
FETCH_ACCOUNT_SECRETS = sql("SELECT auth_token_hash, secondary_token_hash FROM accounts WHERE sid = ?")
FETCH_KEY_SECRET = sql("SELECT account_sid, secret_hash, key_type FROM api_keys WHERE sid = ?")

INSERT_API_KEY = sql(
    "INSERT INTO api_keys (sid, account_sid, friendly_name, secret_hash, key_type, date_created, date_updated)"
    f" VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {API_KEY}"
)
FETCH_API_KEY = sql(f"SELECT {API_KEY} FROM api_keys WHERE sid = ? AND account_sid = ?")
UPDATE_API_KEY = sql(
    f"UPDATE api_keys SET friendly_name = ?, date_updated = ? WHERE sid = ? AND account_sid = ? RETURNING {API_KEY}"
)
DELETE_API_KEY = sql("DELETE FROM api_keys WHERE sid = ? AND account_sid = ? RETURNING sid")
LIST_API_KEYS = paged(f"SELECT {API_KEY} FROM api_keys WHERE account_sid = ?")

FETCH_ACCOUNT_TOKENS = sql(
    "SELECT secondary_token_hash, secondary_auth_token, secondary_date_created, date_created"
    " FROM accounts WHERE sid = ? FOR UPDATE"
)
SET_SECONDARY_TOKEN = sql(
    "UPDATE accounts SET secondary_token_hash = ?, secondary_auth_token = ?, secondary_date_created = ?,"
    " date_updated = ? WHERE sid = ?"
)
# The secondary becomes the primary: its hash authenticates and its text signs webhooks.
PROMOTE_SECONDARY_TOKEN = sql(
    "UPDATE accounts SET auth_token_hash = secondary_token_hash, auth_token = secondary_auth_token,"
    " secondary_token_hash = NULL, secondary_auth_token = NULL, secondary_date_created = NULL,"
    " date_updated = ? WHERE sid = ? AND secondary_token_hash IS NOT NULL RETURNING auth_token"
)
