"""The Store protocol the resources call, and the factory that picks an engine by URL.

The API layer sees only this protocol: it never knows whether SQLite or PostgreSQL is
behind it. Every operation is named after the API operation it serves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar

from ..models import Channel, Credential, FlexFlow, FlexFlowFields
from ..paging import Window
from ..settings import Settings
from .sql import Script

T = TypeVar("T")



class Store(Protocol):
    """Persistence for accounts, Flex Flows and channels, scoped by account.

    Operations written once for both engines are transaction scripts (``store/sql.py``)
    that the domain builds and :meth:`write` / :meth:`read` run.
    """

    paging_secret: bytes
    # Called after a commit that wrote outbox rows (delivery wakes up), on whichever
    # thread committed: a listener must be thread-safe.
    outbox_listeners: list[Callable[[], None]]
    # Whether the store may only be used from the event loop that opened it (asyncpg's
    # pool); flexchat.testing runs requests on the caller's own loop where it may not.
    loop_bound: bool

    async def write(self, script: Script[T], *, background: bool = False) -> T:
        """Run a transaction script in one transaction; its result. ``background``: work
        of flexchat's own (webhook delivery), which must not queue behind requests for a
        connection (PostgreSQL gives it connections of its own)."""

    async def read(self, script: Script[T], *, background: bool = False) -> T:
        """Run a read-only script (``background`` as for :meth:`write`)."""

    async def open(self) -> None:
        """Connect, apply pending migrations and load the paging secret."""

    async def close(self) -> None:
        """Release connections and threads."""

    async def find_credential(self, sid: str) -> Credential | None:
        """The account and secret hash behind an Account Sid or API Key Sid."""

    async def create_account(self, friendly_name: str | None, token_hash: str, auth_token: str | None = None) -> str:
        """A new account; returns its Sid. ``auth_token`` (the token itself) is kept to
        sign the account's webhooks; without it they cannot be delivered."""

    async def ensure_account(
        self, sid: str, token_hash: str, friendly_name: str | None, auth_token: str | None = None
    ) -> None:
        """Make the account ``sid`` exist with exactly this token (its hash, and the token
        itself for signing webhooks, or none)."""

    async def count_accounts(self) -> int:
        """How many accounts exist."""

    async def create_flex_flow(self, flow: FlexFlow) -> FlexFlow:
        """Store a new Flex Flow."""

    async def fetch_flex_flow(self, account_sid: str, sid: str) -> FlexFlow | None:
        """One Flex Flow of the account, or None."""

    async def update_flex_flow(self, account_sid: str, sid: str, fields: FlexFlowFields) -> FlexFlow | None:
        """Apply ``fields`` atomically (see models.updated_flex_flow); None if absent."""

    async def delete_flex_flow(self, account_sid: str, sid: str) -> bool:
        """Delete one Flex Flow; whether it existed."""

    async def list_flex_flows(
        self, account_sid: str, friendly_name: str | None, window: Window
    ) -> tuple[Sequence[FlexFlow], bool]:
        """One page of Flex Flows in creation order, and whether more lie beyond."""

    async def fetch_channel(self, account_sid: str, sid: str) -> Channel | None:
        """One channel of the account, or None."""

    async def list_channels(self, account_sid: str, window: Window) -> tuple[Sequence[Channel], bool]:
        """One page of channels in creation order, and whether more lie beyond."""

    async def seed(self, account_sid: str, flows: int, channels: int, progress: ProgressFn | None = None) -> None:
        """Bulk-insert ``flows`` Flex Flows and ``channels`` channels (benchmarks, demos)."""

    # -- operations and faults (issue 10) ----------------------------------------------

    async def schema_version(self) -> tuple[int, int]:
        """The schema steps applied to the database and those this flexchat has; being a
        query, it also shows that the database answers (``/readyz``)."""

    def pool_figures(self) -> Mapping[str, float]:
        """Connection pool figures for ``/metrics``: ``pool_size``, ``pool_idle``,
        ``pool_max`` where the engine has a pool, ``write_queue`` where it has a writer."""


class ProgressFn(Protocol):
    def __call__(self, done: int, total: int) -> None: ...


def create_store(settings: Settings) -> Store:
    """The store for ``settings.database_url``; nothing is connected until ``open()``."""
    url = settings.database_url
    if url.startswith("sqlite:"):
        from .sqlite import SqliteStore

        return SqliteStore(url, settings)
    if url.startswith(("postgresql:", "postgres:", "postgresql+asyncpg:")):
        from .postgres import PostgresStore

        return PostgresStore(url, settings)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://...")
