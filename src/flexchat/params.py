"""Parse request parameters once into typed values, from a declarative list of fields.

A resource declares its parameters as :class:`Param` values (wire name, attribute name,
kind); :func:`parse` checks a whole form against them and returns the typed values, so no
handler reads parameters one by one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from .errors import InvalidParameter, MissingParameter
from .sids import is_sid, normalize_sid

Converter = Callable[[str, str], Any]

INT32 = 2**31


def text(name: str, raw: str) -> str:
    """Any string; NUL is refused because neither engine stores it in TEXT."""
    if "\x00" in raw:
        raise InvalidParameter(f"Invalid {name}: must not contain NUL characters")
    return raw


def boolean(name: str, raw: str) -> bool:
    """``true`` / ``false`` in any case, as twilio-python serialises booleans."""
    lowered = raw.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise InvalidParameter(f"Invalid {name}: {raw!r} is not true or false")


_DECIMAL = re.compile(r"-?[0-9]+")
# Longer numbers saturate here: every caller bounds the value anyway (PageSize clamps to
# 1000, the others refuse what passes 32 bits), and int() of a huge string costs time.
_SATURATED = 10**18


def whole_number(name: str, raw: str) -> int:
    """Plain ASCII decimal digits with an optional minus: Python's ``int()`` alone would
    also take ``5_0``, ``+5``, surrounding blanks and non-ASCII digits."""
    if not _DECIMAL.fullmatch(raw):
        raise InvalidParameter(f"Invalid {name}: {raw!r} is not an integer")
    if len(raw.lstrip("-")) > 18:
        return -_SATURATED if raw.startswith("-") else _SATURATED
    return int(raw)


def integer(name: str, raw: str) -> int:
    """A decimal integer that fits 32 bits."""
    value = whole_number(name, raw)
    if not -INT32 <= value < INT32:
        raise InvalidParameter(f"Invalid {name}: {value} is out of range")
    return value


def sid(prefix: str) -> Converter:
    """A Sid with the given two-letter prefix, in its stored (lower-case hex) spelling."""

    def convert(name: str, raw: str) -> str:
        if not is_sid(raw, prefix):
            raise InvalidParameter(f"Invalid {name}: {raw!r} is not a valid {prefix} Sid")
        return normalize_sid(raw)

    return convert


def enum(*allowed: str) -> Converter:
    """One of a fixed set of values (exact case, as the spec lists them)."""

    def convert(name: str, raw: str) -> str:
        if raw not in allowed:
            raise InvalidParameter(f"Invalid {name}: {raw!r} is not one of {', '.join(allowed)}")
        return raw

    return convert


def uri(name: str, raw: str) -> str:
    """An absolute http(s) URL."""
    try:
        parts = urlsplit(raw)
    except ValueError:  # e.g. an unclosed IPv6 bracket: "http://[::1"
        raise InvalidParameter(f"Invalid {name}: {raw!r} is not an absolute http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in raw):
        raise InvalidParameter(f"Invalid {name}: {raw!r} is not an absolute http(s) URL")
    return raw


def json_object(name: str, raw: str) -> str:
    """A string holding a JSON object; stored as sent."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply for json
        raise InvalidParameter(f"Invalid {name}: not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidParameter(f"Invalid {name}: must be a JSON object")
    return text(name, raw)


def json_text(name: str, raw: str) -> str:
    """A string holding any JSON value (Chat's ``Attributes``); stored as sent."""
    try:
        json.loads(raw)
    except ValueError:
        raise InvalidParameter(f"Invalid {name}: not valid JSON") from None
    return text(name, raw)


def date_time(name: str, raw: str) -> str:
    """An ISO 8601 date and time with a zone (``Z`` or an offset), as flexchat writes
    dates: UTC, whole seconds, ``Z`` (``2016-03-24T20:37:57Z``). Four-digit years only:
    the text must sort and parse as the dates flexchat writes."""
    try:
        value = datetime.fromisoformat(raw.strip())
        if value.tzinfo is None or "T" not in raw:
            raise ValueError(raw)
        utc = value.astimezone(UTC)
        if utc.year < 1000:
            raise ValueError(raw)
        return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError):
        raise InvalidParameter(f"Invalid {name}: {raw!r} is not an ISO 8601 date and time with a time zone") from None


def bounded(low: int, high: int) -> Converter:
    """A decimal integer from ``low`` to ``high`` inclusive."""

    def convert(name: str, raw: str) -> int:
        value = whole_number(name, raw)
        if not low <= value <= high:
            raise InvalidParameter(f"Invalid {name}: {value} is not between {low} and {high}")
        return value

    return convert


@dataclass(frozen=True)
class Param:
    """One request parameter: its wire name, the attribute it fills, how to read it."""

    wire: str
    attr: str
    convert: Converter = text
    required: bool = False


def parse(form: Mapping[str, str], params: tuple[Param, ...], *, where: str = "post body") -> dict[str, Any]:
    """Typed values of the ``params`` present in ``form``; unknown names are ignored, as Twilio does."""
    values: dict[str, Any] = {}
    for param in params:
        raw = form.get(param.wire)
        if raw is None or (param.required and raw == ""):
            if param.required:
                raise MissingParameter(param.wire, where)
            continue
        values[param.attr] = param.convert(param.wire, raw)
    return values
