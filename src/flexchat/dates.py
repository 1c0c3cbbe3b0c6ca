"""Timestamps as Twilio writes them: ISO 8601, UTC, whole seconds, ``Z`` suffix."""

from __future__ import annotations

import time


def now_iso() -> str:
    """The current UTC time, e.g. ``2016-08-01T22:10:40Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
