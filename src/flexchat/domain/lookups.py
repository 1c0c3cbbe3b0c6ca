"""Finding one record in a transaction script: by its sid or 404, or by a sid or a name.

Every resource's ``require_*`` and ``find_*`` scripts keep their names (one grep finds a
request's whole path); what they share is the reading, here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..errors import NotFound
from ..sids import is_sid, normalize_sid
from ..store.sql import Query, Script, Statement

R = TypeVar("R")


def require_one(query: Query, record: Callable[..., R], path: str) -> Script[R]:
    """The ``record`` of the row ``query`` reads, or 404 naming ``path`` (the resource as
    the client addressed it, for the error's message)."""
    rows = yield query
    if not rows:
        raise NotFound(path)
    return record(*rows[0])


def require_deleted(query: Query, path: str) -> Script[None]:
    """Run ``query``, a ``DELETE ... RETURNING``; 404 naming ``path`` where it deleted no
    row: on PostgreSQL a concurrent delete of the row committed after this script read it,
    and this request answers as if it had come second."""
    rows = yield query
    if not rows:
        raise NotFound(path)


def find_by_sid_or_name(
    ref: str,
    prefix: str,
    record: Callable[..., R],
    scope: tuple[str, ...],
    by_sid: Statement,
    by_name: Statement,
    *,
    by_sid_for_update: Statement | None = None,
) -> Script[R | None]:
    """The record ``ref`` names where Twilio lets a path name it either way: a sid of
    ``prefix``, else a name (a UniqueName, an Identity); None where it names nothing.

    ``by_sid`` takes ``(sid, *scope)``, ``by_name`` ``(*scope, name, name)`` (the name is
    matched by its md5 first, for the index). A text that looks like a sid but names no
    row is tried as a name too: a UniqueName may look like a sid. ``by_sid_for_update``,
    where given, reads the row FOR UPDATE instead (held until the transaction ends, for
    read-modify-write): a row found by name is read again that way by its sid.
    """
    if is_sid(ref, prefix):
        rows = yield (by_sid_for_update or by_sid)(normalize_sid(ref), *scope)
        if rows:
            return record(*rows[0])
    rows = yield by_name(*scope, ref, ref)
    if rows and by_sid_for_update is not None:
        # The sid is the second column of every record (after its row number).
        rows = yield by_sid_for_update(rows[0][1], *scope)
    return record(*rows[0]) if rows else None
