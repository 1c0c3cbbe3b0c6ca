"""Creation instants finer than Twilio's whole-second dates, for ordering records that
happened within one second (a channel's timeline); never shown on Twilio's wire.

``now_us()`` is microseconds since the epoch, strictly increasing within a process: two
rows written one after the other, in one transaction or two, get increasing values even
within the clock's resolution or across a step of the clock backwards. Across processes
(API workers on one database) the values are the wall clock's, which orders what they
wrote as well as the clock does.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

_lock = threading.Lock()
_last = 0
# A finer instant is trusted only within this long after its row's ``date_created``
# (taken earlier in the same script): beyond it, or before it, ``date_created`` was not
# the time of the write (a client's DateCreated) and the row is ordered by that alone.
TRUSTED_US = 60_000_000


def now_us() -> int:
    """Microseconds since the epoch, greater than any value this process returned before."""
    global _last
    now = time.time_ns() // 1000
    with _lock:
        if now <= _last:
            now = _last + 1
        _last = now
    return now


def iso_seconds(text: str) -> int | None:
    """An ISO 8601 date as whole seconds since the epoch (UTC unless it says otherwise);
    None if it is not one."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return int((moment - datetime(1970, 1, 1)).total_seconds())
    return int(moment.timestamp())


def order_us(date_created: str, created_us: int | None) -> int:
    """Where a record falls in time: its finer creation instant where it has one that
    agrees with its ``date_created`` (written with it, at most ``TRUSTED_US`` later); else
    the start of its ``date_created`` second (rows from before the column, or dated by the
    client)."""
    second = iso_seconds(date_created)
    if second is None:
        return created_us or 0
    start = second * 1_000_000
    if created_us and start <= created_us < start + TRUSTED_US:
        return created_us
    return start
