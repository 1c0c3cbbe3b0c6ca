"""What the paths under ``/v2/Services/{ServiceSid}/Channels/{ChannelSid}/`` share."""

from __future__ import annotations

from ...errors import NotFound
from ...http import Request
from ...sids import is_sid, normalize_sid


def channel_path(request: Request) -> tuple[str, str]:
    """The path's service Sid and channel reference (a CH sid, else a UniqueName as
    given); a malformed service Sid is a 404 like an unknown one."""
    service_sid = request.path_params["ServiceSid"]
    if not is_sid(service_sid, "IS"):
        raise NotFound(request.path)
    ref = request.path_params["ChannelSid"]
    if "\x00" in ref:  # names nothing (and neither engine takes NUL in text)
        raise NotFound(request.path)
    return normalize_sid(service_sid), normalize_sid(ref) if is_sid(ref, "CH") else ref


def channel_base(base: str, service_sid: str, channel_sid: str) -> str:
    """The absolute URL of a channel, which its members, messages and webhooks extend."""
    return f"{base}/v2/Services/{service_sid}/Channels/{channel_sid}"
