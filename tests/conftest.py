"""Fixtures shared by the suite: one parametrised set of database engines, a real
``flexchat serve`` per engine, and a fresh account per test for isolation."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from flexchat.auth import hash_secret
from flexchat.settings import Settings
from flexchat.sids import mint_sid
from flexchat.store import Store, create_store
from flexchat.store.sql import fetch
from flexchat.testing import InProcessFlexchat, ServerProcess, run_server

from .postgres import postgres_database

T = TypeVar("T")
# Webhooks the suite's flexchat instances send stay on this machine: tests post to local
# receivers, and a flow's made-up URL (https://example.com/hook) must never be reached.
LOCAL_DESTINATIONS = "127.0.0.0/8 ::1 localhost"
os.environ.setdefault("FLEXCHAT_WEBHOOK_ALLOWED_HOSTS", LOCAL_DESTINATIONS)
InProcessFlexchat.default_settings = Settings(access_log=False, webhook_allowed_hosts=LOCAL_DESTINATIONS)

ENGINES = ["sqlite", "postgresql"]
ROOT = Path(__file__).parents[1]
# Where Twilio's OpenAPI files are looked for, in order: FLEXCHAT_REFERENCE_DIR if set;
# ../shared/reference beside the repository; .cache/twilio-api, which `make reference`
# fills from the npm package @twilio/cli-core (a fresh clone has no ../shared).
REFERENCE_CANDIDATES = (
    [Path(os.environ["FLEXCHAT_REFERENCE_DIR"])]
    if os.environ.get("FLEXCHAT_REFERENCE_DIR")
    else [ROOT.parent / "shared" / "reference", ROOT / ".cache" / "twilio-api"]
)
REFERENCE_DIR = next(
    (path for path in REFERENCE_CANDIDATES if (path / "twilio_flex_v1.json").is_file()), REFERENCE_CANDIDATES[-1]
)


@dataclass(frozen=True)
class Account:
    sid: str
    auth_token: str

    @property
    def auth(self) -> tuple[str, str]:
        return (self.sid, self.auth_token)


def add_account(database_url: str) -> Account:
    """A new account written straight into the database the server uses."""
    account = Account(mint_sid("AC"), secrets.token_hex(16))
    with_store(
        database_url,
        lambda store: store.ensure_account(account.sid, hash_secret(account.auth_token), "test", account.auth_token),
    )
    return account


def with_store(database_url: str, use: Callable[[Store], Awaitable[T]]) -> T:
    """``use`` on a store of its own opened on the server's database, closed after."""

    async def run() -> T:
        store = create_store(Settings(database_url=database_url))
        await store.open()
        try:
            return await use(store)
        finally:
            await store.close()

    return asyncio.run(run())


def read_rows(database_url: str, statement: Any, *args: Any) -> list[Any]:
    """The rows a shared SQL statement selects, straight from the database the server writes to."""
    return with_store(database_url, lambda store: store.read(fetch(statement(*args))))


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database of the engine, for this test session."""
    if engine == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'flexchat.db'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture(scope="session")
def server(database_url: str) -> Iterator[ServerProcess]:
    """A ``flexchat serve`` process on the engine's database."""
    with run_server(database_url) as running:
        yield running


@pytest.fixture
def account(server: ServerProcess) -> Account:
    """A fresh account: every test sees an empty API."""
    return add_account(server.database_url)


class Api:
    """Raw HTTP against the server, as a curl user would drive it."""

    def __init__(self, base_url: str, auth: tuple[str, str] | None) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.auth = auth

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else self.base_url + path
        return self.session.request(method, url, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, data=data, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def create_flow(self, **overrides: Any) -> dict[str, Any]:
        data = {
            "FriendlyName": "Support",
            "ChatServiceSid": "IS" + secrets.token_hex(16),
            "ChannelType": "web",
            "IntegrationType": "studio",
            "Integration.FlowSid": "FW" + secrets.token_hex(16),
            **overrides,
        }
        response = self.post("/v1/FlexFlows", data)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def create_channel(self, flow_sid: str, identity: str, **overrides: Any) -> requests.Response:
        return self.post(
            "/v1/Channels",
            {
                "FlexFlowSid": flow_sid,
                "Identity": identity,
                "ChatUserFriendlyName": f"User {identity}",
                "ChatFriendlyName": f"Chat with {identity}",
                **overrides,
            },
        )


@pytest.fixture
def api(server: ServerProcess, account: Account) -> Api:
    return Api(server.base_url, account.auth)


@pytest.fixture
def anonymous(server: ServerProcess) -> Api:
    return Api(server.base_url, None)


@pytest.fixture
def twilio_client(server: ServerProcess, account: Account) -> Any:
    """The unmodified official client, pointed at the server."""
    from twilio.rest import Client

    client = Client(account.sid, account.auth_token)
    client.flex_api.base_url = server.base_url
    client.chat.base_url = server.base_url
    client.taskrouter.base_url = server.base_url
    client.studio.base_url = server.base_url
    return client


@pytest.fixture
def client(twilio_client: Any) -> Any:
    """The same client, under the name the chat tests use."""
    return twilio_client


@pytest.fixture
def flexchat() -> Iterator[InProcessFlexchat]:
    """An in-process flexchat on a fresh database of its own, closed after the test."""
    with InProcessFlexchat() as instance:
        yield instance


@pytest.fixture
def flow(api: Api) -> dict[str, Any]:
    return api.create_flow()


def seed_channels(database_url: str, account: Account, flows: int, channels: int) -> None:
    """Bulk data through the store's seeding (fast), for paging tests."""
    with_store(database_url, lambda store: store.seed(account.sid, flows, channels))
