"""Date-time parameters (TaskRouter's VirtualStartTime, Studio's DateCreatedFrom/To):
ISO 8601 with a UTC offset, read into the form flexchat stores and compares
(``YYYY-MM-DDThh:mm:ssZ``, UTC), so text comparison is time comparison."""

from __future__ import annotations

from datetime import UTC, datetime

from ..errors import InvalidParameter


def date_time(name: str, raw: str) -> str:
    """``raw`` (e.g. ``2024-05-01T10:00:00Z``, ``...+02:00``, a date alone) in UTC, as stored."""
    text = raw.strip()
    try:
        if len(text) == 10:
            value = datetime.fromisoformat(text).replace(tzinfo=UTC)
        else:
            value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidParameter(f"Invalid {name}: {raw!r} is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
