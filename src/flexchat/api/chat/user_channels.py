"""Chat v2 user channels: ``/v2/Services/{ServiceSid}/Users/{UserSid}/Channels`` and
``.../Channels/{ChannelSid}``: the channels a user (sid or Identity) is a member of."""

from __future__ import annotations

from typing import Any

from ...context import AppContext
from ...domain.chat import users
from ...domain.records import ChatMember, ChatUser
from ...http import Request, Response, json_response
from ...paging import ListScope, parse_page_request
from ..common import page_response, path_ref
from .services import service_sid

LIST_KEY = "channels"
# The spec's PageSize maximum for this list.
MAX_PAGE_SIZE = 50


def user_channel_to_wire(user: ChatUser, member: ChatMember, unread: int | None, base: str) -> dict[str, Any]:
    """The ``chat.v2.service.user.user_channel`` representation of a membership. Invites
    are not kept, so every user channel is ``joined``; push notifications are not sent,
    so the level is ``default``."""
    service = f"{base}/v2/Services/{member.service_sid}"
    channel = f"{service}/Channels/{member.channel_sid}"
    return {
        "account_sid": member.account_sid,
        "service_sid": member.service_sid,
        "channel_sid": member.channel_sid,
        "user_sid": user.sid,
        "member_sid": member.sid,
        "status": "joined",
        "last_consumed_message_index": member.last_consumed_message_index,
        "unread_messages_count": unread,
        "notification_level": "default",
        "url": f"{service}/Users/{user.sid}/Channels/{member.channel_sid}",
        "links": {"channel": channel, "member": f"{channel}/Members/{member.sid}"},
    }


class _Item:
    """A list item as page_response reads it (``seq``: the membership's row number)."""

    __slots__ = ("member", "seq", "unread", "user")

    def __init__(self, user: ChatUser, member: ChatMember, unread: int | None) -> None:
        self.user, self.member, self.unread, self.seq = user, member, unread, member.seq


async def list_user_channels(request: Request, ctx: AppContext) -> Response:
    """``GET /v2/Services/{ServiceSid}/Users/{UserSid}/Channels``: the user's memberships,
    oldest first (how programs find a returning customer's channel)."""
    service_sid_ = service_sid(request, "ServiceSid")
    ref = path_ref(request, "UserSid")
    # Bound to the user as named: a token of one user's list is refused on another's.
    scope = ListScope(LIST_KEY, request.account_sid, parent=f"{service_sid_}/{ref}")
    page = parse_page_request(request.query, ctx.store.paging_secret, scope, max_size=MAX_PAGE_SIZE)
    user, items, more = await ctx.store.read(
        users.list_user_channels(request.account_sid, service_sid_, ref, page.window)
    )
    return page_response(
        request, ctx, scope, page, [_Item(user, member, unread) for member, unread in items], more,
        lambda item, base: user_channel_to_wire(item.user, item.member, item.unread, base),
    )


async def fetch_user_channel(request: Request, ctx: AppContext) -> Response:
    """``GET /v2/Services/{ServiceSid}/Users/{UserSid}/Channels/{ChannelSid}``."""
    service_sid_ = service_sid(request, "ServiceSid")
    user, member, unread = await ctx.store.read(users.fetch_user_channel(
        request.account_sid, service_sid_, path_ref(request, "UserSid"), path_ref(request, "ChannelSid")
    ))
    return json_response(user_channel_to_wire(user, member, unread, ctx.base_url(request)))
