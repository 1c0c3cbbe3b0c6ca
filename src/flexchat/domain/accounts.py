"""Accounts: the tenants every resource belongs to."""

from __future__ import annotations

from ..store.queries.accounts import LIST_ACCOUNTS
from ..store.sql import Script


def list_accounts(limit: int) -> Script[list[tuple[str, str | None]]]:
    """Up to ``limit`` accounts' Sids and friendly names, oldest first (no secrets)."""
    rows = yield LIST_ACCOUNTS(limit)
    return [(row[0], row[1]) for row in rows]
