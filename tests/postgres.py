"""PostgreSQL for the suite: a fresh database per test session on the server that
FLEXCHAT_TEST_POSTGRES_URL names (default: the local one at 127.0.0.1:5432), and a TCP
relay that tests break to simulate outages.

Where no server answers the tests skip and say why; with CI=true they fail instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from flexchat.testing import free_port

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


@contextmanager
def fresh_database(engine: str, directory: Path | None = None) -> Iterator[str]:
    """The URL of a new empty database of ``engine``; SQLite's file goes in ``directory``."""
    if engine == "sqlite":
        with tempfile.TemporaryDirectory(dir=directory) as where:
            yield f"sqlite:///{where}/flexchat.db"
    else:
        with postgres_database() as url:
            yield url


class TcpProxy:
    """A TCP relay between the server and PostgreSQL that a test can break on purpose.

    ``cut()`` drops every relayed connection and refuses new ones (a database that is
    down or restarting); ``blackhole()`` accepts and keeps connections but passes no
    byte either way (a network partition: nothing fails, everything hangs);
    ``restore()`` relays again.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._passing = threading.Event()
        self._passing.set()
        self._closed = False
        self._listener: socket.socket | None = None
        self._listen()

    @classmethod
    def for_url(cls, url: str) -> TcpProxy:
        parts = urlsplit(url)
        return cls((parts.hostname or "127.0.0.1", parts.port or 5432))

    def url(self, database_url: str) -> str:
        """``database_url`` with its host and port replaced by this relay's."""
        parts = urlsplit(database_url)
        user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{self.port}"))

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        # A timeout, because closing a socket does not wake a thread blocked in accept().
        listener.settimeout(0.05)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                self._sockets.add(client)
            if not self._passing.is_set():
                continue  # blackhole: held open, never answered
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                self._drop(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.add(upstream)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                self._passing.wait()
                dst.sendall(data)
        except OSError:
            pass
        self._drop(src)
        self._drop(dst)

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def _drop_all(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            self._drop(sock)

    def cut(self) -> None:
        """Refuse new connections and reset every open one."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        self._drop_all()
        self._passing.set()  # pumps stuck in a blackhole wake up and find their sockets gone

    def blackhole(self) -> None:
        """Accept connections, relay nothing."""
        self._passing.clear()

    def restore(self) -> None:
        """Relay again; connections held by a blackhole are dropped, as a partition's would time out."""
        if not self._passing.is_set():
            self._drop_all()
            self._passing.set()
        if self._listener is None and not self._closed:
            self._listen()

    def close(self) -> None:
        self._closed = True
        self.cut()
