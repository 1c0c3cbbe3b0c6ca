"""Chat users: one per Identity in a service."""

from __future__ import annotations

from ...dates import now_iso
from ...sids import mint_sid
from ...store.queries.chat import FETCH_USER_BY_IDENTITY, INSERT_USER
from ...store.sql import Script
from ..records import ChatUser


def ensure_user(account_sid: str, service_sid: str, identity: str, friendly_name: str | None) -> Script[ChatUser]:
    """The service's user ``identity``, created if it does not exist (a Flex channel's
    customer is reused across channels)."""
    now = now_iso()
    rows = yield INSERT_USER(
        mint_sid("US"), account_sid, service_sid, identity, friendly_name, "{}", None, now, now
    )
    if not rows:  # exists (or a concurrent create won): READ COMMITTED sees it now
        rows = yield FETCH_USER_BY_IDENTITY(account_sid, service_sid, identity, identity)
    return ChatUser(*rows[0])
