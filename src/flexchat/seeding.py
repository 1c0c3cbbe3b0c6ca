"""Realistic bulk data for benchmarks and demos, generated in batches for bulk inserts.

``F`` Flex Flows share one chat service; channel ``i`` belongs to flow ``i % F`` and to
Identity ``seed-{i // F}``, so each Identity has one chat user and one channel per flow,
as real traffic would make them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from .dates import now_iso
from .sids import mint_sid

BATCH = 20_000

FLOW_COLUMNS = (
    "sid", "account_sid", "friendly_name", "chat_service_sid", "channel_type", "contact_identity",
    "enabled", "integration_type", "integration", "long_lived", "janitor_enabled", "date_created", "date_updated",
)
USER_COLUMNS = ("sid", "account_sid", "chat_service_sid", "identity", "friendly_name", "date_created")
CHANNEL_COLUMNS = (
    "sid", "account_sid", "flex_flow_sid", "chat_service_sid", "identity", "user_sid", "task_sid",
    "chat_friendly_name", "chat_user_friendly_name", "date_created", "date_updated",
)


@dataclass(frozen=True)
class Batch:
    """Rows for one table, and how far the whole seeding has got."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    done: int
    total: int


def seed_batches(account_sid: str, flows: int, channels: int) -> Iterator[Batch]:
    """Batches of rows: the flows first, then users and channels interleaved."""
    if flows < 1:
        raise ValueError("seeding needs at least one Flex Flow")
    now = now_iso()
    chat_service_sid = mint_sid("IS")
    integration = orjson.dumps({"flow_sid": mint_sid("FW"), "retry_count": 1}).decode()
    flow_rows = [
        (mint_sid("FO"), account_sid, f"Seeded flow {n}", chat_service_sid, "web", None, True,
         "studio", integration, False, False, now, now)
        for n in range(flows)
    ]
    total = flows + channels
    yield Batch("flex_flows", FLOW_COLUMNS, flow_rows, flows, total)
    flow_sids = [row[0] for row in flow_rows]
    user_sids: dict[int, str] = {}
    for start in range(0, channels, BATCH):
        users: list[tuple[Any, ...]] = []
        rows: list[tuple[Any, ...]] = []
        for i in range(start, min(start + BATCH, channels)):
            person = i // flows
            identity = f"seed-{account_sid[-6:]}-{person}"
            user_sid = user_sids.get(person)
            if user_sid is None:
                user_sid = user_sids[person] = mint_sid("US")
                users.append((user_sid, account_sid, chat_service_sid, identity, f"Seed user {person}", now))
            rows.append((mint_sid("CH"), account_sid, flow_sids[i % flows], chat_service_sid, identity,
                         user_sid, None, f"Chat {i}", f"Seed user {person}", now, now))
            if i % flows == flows - 1:
                del user_sids[person]  # every channel of this Identity is made
        if users:
            yield Batch("chat_users", USER_COLUMNS, users, flows + start, total)
        yield Batch("channels", CHANNEL_COLUMNS, rows, flows + start + len(rows), total)
