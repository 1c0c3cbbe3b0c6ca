"""Channel webhooks: ``webhook`` (a URL Chat posts events to) and ``studio`` (a flow)."""

from __future__ import annotations

from typing import Any

import orjson

from ...dates import now_iso
from ...sids import mint_sid
from ...store.queries.chat import INSERT_WEBHOOK
from ...store.sql import Script
from ..records import ChatChannel, ChatWebhook

WEBHOOK_TYPES = ("webhook", "studio")


def add_webhook(channel: ChatChannel, type_: str, configuration: dict[str, Any]) -> Script[ChatWebhook]:
    """A new webhook on ``channel`` with its ``configuration`` as the API shows it."""
    now = now_iso()
    rows = yield INSERT_WEBHOOK(
        mint_sid("WH"), channel.account_sid, channel.service_sid, channel.sid, type_,
        orjson.dumps(configuration).decode(), now, now,
    )
    return ChatWebhook(*rows[0])
