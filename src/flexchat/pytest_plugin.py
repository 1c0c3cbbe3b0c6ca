"""pytest plugin: flexchat fixtures for a test suite, registered through the ``pytest11``
entry point, so ``pip install 'flexchat[testing]'`` is all a project needs.

- ``flex_client``: a ready ``twilio.rest.Client`` on a fresh in-process flexchat (no
  socket, its own store and account) for each test.
- ``flex_async_client``: the same for ``*_async`` calls.
- ``flexchat_server``: the base URL and credentials of a running ``flexchat serve``
  (one per session, a fresh account per test) for tests that want real HTTP.

This module is imported by every pytest run in an environment where flexchat is
installed, so it imports nothing heavy: flexchat.testing and twilio are imported inside
the fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .testing import ServerProcess

DATABASE_OPTION = "--flexchat-database"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--flexchat-database URL``: the database of the ``flexchat_server`` process."""
    group = parser.getgroup("flexchat")
    group.addoption(
        DATABASE_OPTION,
        dest="flexchat_database",
        default=None,
        help="database URL for the flexchat_server fixture's server (default: a temporary SQLite file)",
    )


@dataclass(frozen=True)
class FlexchatServer:
    """A running ``flexchat serve`` and an account of its own for one test."""

    base_url: str
    account_sid: str
    # Out of the repr, which pytest prints when an assertion about this object fails.
    auth_token: str = field(repr=False)

    @property
    def auth(self) -> tuple[str, str]:
        """``(account_sid, auth_token)``, e.g. for ``requests``' ``auth=``."""
        return (self.account_sid, self.auth_token)

    def twilio_client(self, **client_options: Any) -> Any:
        """A ``twilio.rest.Client`` of this account whose Flex API and Chat calls go to the server."""
        from twilio.rest import Client  # type: ignore[import-untyped]

        client = Client(self.account_sid, self.auth_token, **client_options)
        client.flex_api.base_url = self.base_url
        client.chat.base_url = self.base_url
        return client


@pytest.fixture
def flex_client() -> Iterator[Any]:
    """A ``twilio.rest.Client`` bound to a fresh in-process flexchat (sync calls)."""
    from .testing import twilio_client

    client = twilio_client()
    try:
        yield client
    finally:
        client.http_client.flexchat.close()


@pytest.fixture
def flex_async_client() -> Iterator[Any]:
    """A ``twilio.rest.Client`` bound to a fresh in-process flexchat, for ``*_async`` calls."""
    from .testing import twilio_client

    client = twilio_client(async_=True)
    try:
        yield client
    finally:
        client.http_client.flexchat.close()


@pytest.fixture(scope="session")
def flexchat_server_process(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One ``flexchat serve`` for the session (see ``--flexchat-database``)."""
    from .testing import run_server

    database_url = request.config.getoption("flexchat_database")
    if not database_url:
        database_url = f"sqlite:///{tmp_path_factory.mktemp('flexchat') / 'flexchat.db'}"
    with run_server(database_url) as server:
        yield server


@pytest.fixture
def flexchat_server(flexchat_server_process: ServerProcess) -> FlexchatServer:
    """Base URL and a fresh account's credentials of the session's ``flexchat serve``."""
    account_sid, auth_token = flexchat_server_process.create_account("pytest")
    return FlexchatServer(flexchat_server_process.base_url, account_sid, auth_token)
