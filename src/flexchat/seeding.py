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
from .domain.chat.services import default_settings
from .sids import mint_sid

BATCH = 20_000

FLOW_COLUMNS = (
    "sid", "account_sid", "friendly_name", "chat_service_sid", "channel_type", "contact_identity",
    "enabled", "integration_type", "integration", "long_lived", "janitor_enabled", "date_created", "date_updated",
)
SERVICE_COLUMNS = ("sid", "account_sid", "friendly_name", "settings", "date_created", "date_updated")
USER_COLUMNS = (
    "sid", "account_sid", "service_sid", "identity", "friendly_name", "attributes", "date_created", "date_updated",
)
# Each Flex channel is also a chat channel with its customer as member and the flow's
# studio webhook, as POST /v1/Channels makes them (domain/flex.py).
CHAT_CHANNEL_COLUMNS = (
    "sid", "account_sid", "service_sid", "friendly_name", "attributes", "type", "created_by",
    "members_count", "messages_count", "next_message_index", "date_created", "date_updated",
)
MEMBER_COLUMNS = (
    "sid", "account_sid", "service_sid", "channel_sid", "identity", "attributes", "date_created", "date_updated",
)
WEBHOOK_COLUMNS = (
    "sid", "account_sid", "service_sid", "channel_sid", "type", "configuration", "date_created", "date_updated",
)
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
    studio_flow = mint_sid("FW")
    integration = orjson.dumps({"flow_sid": studio_flow, "retry_count": 1}).decode()
    webhook_config = orjson.dumps({"flow_sid": studio_flow, "retry_count": 0}).decode()
    flow_rows = [
        (mint_sid("FO"), account_sid, f"Seeded flow {n}", chat_service_sid, "web", None, True,
         "studio", integration, False, False, now, now)
        for n in range(flows)
    ]
    total = flows + channels
    yield Batch(
        "chat_services", SERVICE_COLUMNS,
        [(chat_service_sid, account_sid, "Flex Chat Service", orjson.dumps(default_settings()).decode(), now, now)],
        0, total,
    )
    yield Batch("flex_flows", FLOW_COLUMNS, flow_rows, flows, total)
    flow_sids = [row[0] for row in flow_rows]
    user_sids: dict[int, str] = {}
    for start in range(0, channels, BATCH):
        users: list[tuple[Any, ...]] = []
        rows: list[tuple[Any, ...]] = []
        chat_rows: list[tuple[Any, ...]] = []
        members: list[tuple[Any, ...]] = []
        webhooks: list[tuple[Any, ...]] = []
        for i in range(start, min(start + BATCH, channels)):
            person = i // flows
            identity = f"seed-{account_sid[-6:]}-{person}"
            user_sid = user_sids.get(person)
            if user_sid is None:
                user_sid = user_sids[person] = mint_sid("US")
                users.append((user_sid, account_sid, chat_service_sid, identity, f"Seed user {person}", "{}", now, now))
            channel_sid = mint_sid("CH")
            rows.append((channel_sid, account_sid, flow_sids[i % flows], chat_service_sid, identity,
                         user_sid, None, f"Chat {i}", f"Seed user {person}", now, now))
            attributes = orjson.dumps(
                {"from": f"Seed user {person}", "channel_type": "web", "status": "ACTIVE", "long_lived": False}
            ).decode()
            chat_rows.append((channel_sid, account_sid, chat_service_sid, f"Chat {i}", attributes, "private",
                              "system", 1, 0, 0, now, now))
            members.append((mint_sid("MB"), account_sid, chat_service_sid, channel_sid, identity, "{}", now, now))
            webhooks.append((mint_sid("WH"), account_sid, chat_service_sid, channel_sid, "studio", webhook_config,
                             now, now))
            if i % flows == flows - 1:
                del user_sids[person]  # every channel of this Identity is made
        if users:
            yield Batch("chat_users", USER_COLUMNS, users, flows + start, total)
        yield Batch("chat_channels", CHAT_CHANNEL_COLUMNS, chat_rows, flows + start, total)
        yield Batch("chat_members", MEMBER_COLUMNS, members, flows + start, total)
        yield Batch("chat_webhooks", WEBHOOK_COLUMNS, webhooks, flows + start, total)
        yield Batch("channels", CHANNEL_COLUMNS, rows, flows + start + len(rows), total)
