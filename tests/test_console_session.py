"""Console session cookies and CSRF tokens, without a server."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from flexchat.console import session as sessions
from flexchat.console.request_log import RequestLog
from flexchat.models import Credential


@dataclass
class FakeStore:
    """What sessions need of a store: the paging secret and credentials."""

    paging_secret: bytes = b"s" * 32
    credentials: dict[str, Credential] = field(default_factory=dict)

    async def find_credential(self, sid: str) -> Credential | None:
        return self.credentials.get(sid)


ACCOUNT = "AC" + "1" * 32
KEY = "SK" + "2" * 32


def store() -> FakeStore:
    return FakeStore(credentials={ACCOUNT: Credential(ACCOUNT, "a" * 64), KEY: Credential(ACCOUNT, "b" * 64)})


def verify(fake: FakeStore, cookie: str | None, now: float | None = None) -> sessions.Session | None:
    return asyncio.run(sessions.verify(fake, cookie, now))  # type: ignore[arg-type]


def test_a_cookie_verifies_and_carries_the_account() -> None:
    fake = store()
    cookie = sessions.issue(fake, KEY, "b" * 64, now=1_000)  # type: ignore[arg-type]
    found = verify(fake, cookie, now=1_001)
    assert found is not None and found.account_sid == ACCOUNT and found.credential_sid == KEY
    assert sessions.csrf_ok(found, found.csrf) and not sessions.csrf_ok(found, None)
    assert not sessions.csrf_ok(found, found.csrf[:-1] + ("A" if found.csrf[-1] != "A" else "B"))


def test_expired_tampered_rotated_or_foreign_cookies_are_refused() -> None:
    fake = store()
    cookie = sessions.issue(fake, ACCOUNT, "a" * 64, now=1_000)  # type: ignore[arg-type]
    assert verify(fake, cookie, now=1_000 + sessions.LIFETIME_SECONDS) is None
    payload, _, mac = cookie.partition(".")
    assert verify(fake, payload + "." + mac[:-2] + "xx", now=1_001) is None
    # Another credential's sid with the same MAC.
    other = sessions.issue(fake, KEY, "b" * 64, now=1_000)  # type: ignore[arg-type]
    assert verify(fake, other.partition(".")[0] + "." + mac, now=1_001) is None
    # The token rotated: the stored hash changed.
    fake.credentials[ACCOUNT] = Credential(ACCOUNT, "c" * 64)
    assert verify(fake, cookie, now=1_001) is None
    # Another database (another paging secret) does not accept it either.
    assert verify(FakeStore(b"t" * 32, store().credentials), cookie, now=1_001) is None
    for junk in (None, "", "x", "a.b", "!!!.???", "QUN8MXwy.x", "." * 600):
        assert verify(fake, junk, now=1_001) is None


def test_cookie_header_flags() -> None:
    plain = sessions.cookie_header("v", secure=False)
    assert "HttpOnly" in plain and "SameSite=Strict" in plain and "Secure" not in plain
    assert "; Secure" in sessions.cookie_header("v", secure=True)
    assert sessions.read_cookie("a=1; flexchat_console=v.w; b=2") == "v.w"
    assert sessions.read_cookie("a=1") is None


def test_request_log_keeps_the_last_calls_per_account_masked() -> None:
    log = RequestLog(per_account=3, max_accounts=2)
    for n in range(5):
        log.add(ACCOUNT, "POST", "/v1/Channels", "/v1/Channels", 201, 0.002, b"", f"Identity=u{n}&AuthToken=x".encode(),
                "application/x-www-form-urlencoded", "")
    entries = log.recent(ACCOUNT)
    assert [e["params"]["Identity"] for e in entries] == ["u4", "u3", "u2"]
    assert entries[0]["params"]["AuthToken"] == "***"
    # JSON bodies are not kept; accounts beyond the limit push out the oldest.
    log.add("AC2", "POST", "/v1/Configuration", "/v1/Configuration", 200, 0.001, b"", b'{"a": 1}',
            "application/json", "")
    assert log.recent("AC2")[0]["params"] == {}
    log.add("AC3", "GET", "/v1/Channels", "/v1/Channels", 200, 0.001, b"PageSize=5", None, "", "")
    assert log.recent(ACCOUNT) == [] and log.recent("AC3")[0]["params"] == {"PageSize": "5"}


def test_reset_covers_every_table_an_account_owns(tmp_path: Path) -> None:
    """A table added later with an ``account_sid`` column must be added to the reset (or
    here, with the reason it is kept)."""
    from flexchat.settings import Settings
    from flexchat.store import create_store
    from flexchat.store.queries.console import RESET_TABLES

    kept = {"accounts", "api_keys"}  # the account and its credentials stay

    async def migrate() -> None:
        store = create_store(Settings(database_url=f"sqlite:///{tmp_path}/reset.db"))
        await store.open()
        await store.close()

    asyncio.run(migrate())
    with sqlite3.connect(tmp_path / "reset.db") as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        owned = {t for t in tables if any(col[1] == "account_sid" for col in db.execute(f"PRAGMA table_info({t})"))}
    assert owned - kept == set(RESET_TABLES)
