"""PostgreSQL for the suite: a fresh database per test session on the server that
FLEXCHAT_TEST_POSTGRES_URL names (default: the local one at 127.0.0.1:5432).

Where no server answers the tests skip and say why; with CI=true they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    return os.environ.get("FLEXCHAT_TEST_POSTGRES_URL", DEFAULT_URL)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


async def _execute(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    """The URL of a new empty database, dropped afterwards."""
    url = admin_url()
    try:
        asyncio.run(_execute(url, "SELECT 1"))
    except Exception as error:
        reason = f"no PostgreSQL answers at {url} ({error.__class__.__name__}: {error}); set FLEXCHAT_TEST_POSTGRES_URL"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true requires PostgreSQL: " + reason)
        pytest.skip(reason)
    name = "flexchat_test_" + secrets.token_hex(6)
    asyncio.run(_execute(url, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(url, name)
    finally:
        asyncio.run(_execute(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
