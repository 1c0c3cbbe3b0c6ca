"""Channel members."""

from __future__ import annotations

from ...dates import now_iso
from ...errors import ChatMemberExists
from ...sids import mint_sid
from ...store.queries.chat import COUNT_MEMBERS, INSERT_MEMBER
from ...store.sql import Script
from ..events import emit, member_fields
from ..records import ChatChannel, ChatMember


def add_member(
    channel: ChatChannel,
    identity: str,
    *,
    role_sid: str | None = None,
    attributes: str = "{}",
    last_consumed_message_index: int | None = None,
    last_consumption_timestamp: str | None = None,
    date_created: str | None = None,
    date_updated: str | None = None,
    webhooks_enabled: bool,
    source: str = "API",
) -> Script[ChatMember]:
    """``identity`` joins ``channel`` (kept counted in ``members_count``); 409 if it is in."""
    now = now_iso()
    rows = yield INSERT_MEMBER(
        mint_sid("MB"), channel.account_sid, channel.service_sid, channel.sid, identity, role_sid, attributes,
        last_consumed_message_index, last_consumption_timestamp, date_created or now,
        date_updated or date_created or now,
    )
    if not rows:
        raise ChatMemberExists(identity)
    yield COUNT_MEMBERS(1, channel.sid, channel.account_sid)
    member = ChatMember(*rows[0])
    if webhooks_enabled:
        yield from emit(channel.account_sid, channel.service_sid, channel.sid, "onMemberAdded",
                        member_fields(member), source=source)
    return member
