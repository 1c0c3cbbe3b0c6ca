"""Accounts and their credentials."""

from __future__ import annotations

from ..sql import sql

LIST_ACCOUNTS = sql("SELECT sid, friendly_name FROM accounts ORDER BY date_created, sid LIMIT ?")
