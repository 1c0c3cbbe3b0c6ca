"""What the paths under ``/v2/Services/{ServiceSid}/Channels/{ChannelSid}/`` share."""

from __future__ import annotations

from ...http import Request
from ...sids import is_sid, normalize_sid
from ..common import path_ref, path_sid


def channel_path(request: Request) -> tuple[str, str]:
    """The path's service Sid and channel reference (a CH sid, else a UniqueName as
    given); a malformed service Sid is a 404 like an unknown one."""
    ref = path_ref(request, "ChannelSid")
    return path_sid(request, "IS", "ServiceSid"), normalize_sid(ref) if is_sid(ref, "CH") else ref


def channel_base(base: str, service_sid: str, channel_sid: str) -> str:
    """The absolute URL of a channel, which its members, messages and webhooks extend."""
    return f"{base}/v2/Services/{service_sid}/Channels/{channel_sid}"
