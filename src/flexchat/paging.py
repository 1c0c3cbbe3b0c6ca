"""Paging: PageSize/Page/PageToken parsing, token minting and checking, meta URLs.

Lists are paged by keyset on an internal, ever-increasing row number (``seq``), never
by OFFSET, so page 10,000 costs what page 1 costs, and a walk while others create and
delete sees every item that existed throughout the walk exactly once.

A token is ``PA`` (next) or ``PB`` (previous) followed by the row number it continues
from and an HMAC over that number, the list, the account and the list's filters. The
HMAC key is generated once per database and stored in it, so every API process accepts
tokens minted by any other, and a token edited by hand or used on another account or
list is refused with a 400.
"""

from __future__ import annotations

import binascii
import hmac
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote_plus

from .errors import InvalidPageToken, InvalidParameter
from .params import whole_number

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_PAGE = 2**31 - 1
T = TypeVar("T")
_MAC_BYTES = 12
_SEQ = struct.Struct(">Q")


# Not frozen, with slots, as ListScope below: built on every list request. Treat it
# as immutable.
@dataclass(slots=True)
class Window:
    """Which rows a page holds: after ``after`` ascending, or before ``before`` descending."""

    limit: int
    after: int | None = None
    before: int | None = None

    @property
    def backward(self) -> bool:
        """Whether the page lies before a position (a ``PB`` token)."""
        return self.before is not None

    @property
    def bound(self) -> int:
        """The row number the page starts from, exclusive (0: from the very first)."""
        return self.before if self.before is not None else self.after or 0

    def cut(self, rows: Sequence[T]) -> tuple[list[T], bool]:
        """A page from up to ``limit + 1`` rows read nearest-first in this window's
        direction: the first ``limit`` in ascending order, and whether a row lay beyond."""
        page = list(rows[: self.limit])
        if self.backward:
            page.reverse()
        return page, len(rows) > self.limit


# Not frozen, with slots: see Window.
@dataclass(slots=True)
class PageRequest:
    """The paging parameters of one list request, checked and typed."""

    page_size: int
    page: int
    token: str | None
    window: Window


# Not frozen, with slots: built on every list request, and a frozen dataclass's
# __init__ costs three times as much. Treat it as immutable.
@dataclass(slots=True)
class ListScope:
    """What a token is bound to: a list, an account and that list's filters."""

    key: str
    account_sid: str
    filters: tuple[tuple[str, str], ...] = ()
    # The list's place that the path names (a service, a channel): bound by the MAC, so a
    # token of one channel's messages is refused on another's, but not echoed in URLs.
    parent: str = ""
    _material: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Once per request although up to three MACs use it.
        self._material = "\x1f".join(
            [self.key, self.account_sid, *(f"{k}={v}" for k, v in self.filters)]
            + ([self.parent] if self.parent else [])
        ).encode()

    def mac(self, secret: bytes, direction: str, seq: int) -> bytes:
        """The MAC over direction, list, account, filters (0x1F-separated) and ``seq``."""
        material = _DIRECTION_PREFIX[direction] + self._material + _SEQ.pack(seq)
        return hmac.digest(secret, material, "sha256")[:_MAC_BYTES]


_DIRECTION_PREFIX = {"A": b"A\x1f", "B": b"B\x1f"}
# base64url <-> base64, as base64.urlsafe_b64encode/decode translate (called directly:
# those wrappers cost more than the encoding of 20 bytes).
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
# What quote_plus leaves as it is; a token minted here never has anything else.
_URL_SAFE_TOKEN = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch


def _spell(raw: bytes) -> str:
    """The unpadded base64url spelling of a token's bytes, the only one accepted back."""
    return binascii.b2a_base64(raw, newline=False).translate(_TO_URLSAFE).decode().rstrip("=")


def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    return whole_number(name, raw)


# Tokens minted and tokens verified, remembered: both are pure functions of the secret,
# the scope and the token or position, and the pages clients poll (the first, the one
# they are on) use the same few over and over. Bounded; cleared when full.
_TOKEN_MEMO_SIZE = 256
_MINTED: dict[tuple[bytes, bytes, str, int], str] = {}
_VERIFIED: dict[tuple[bytes, bytes, str], tuple[str, int]] = {}


def mint_token(secret: bytes, scope: ListScope, direction: str, seq: int) -> str:
    """A token continuing after (``A``) or before (``B``) row ``seq``."""
    key = (secret, scope._material, direction, seq)
    token = _MINTED.get(key)
    if token is None:
        raw = _SEQ.pack(seq) + scope.mac(secret, direction, seq)
        token = "P" + direction + _spell(raw)
        if len(_MINTED) >= _TOKEN_MEMO_SIZE:
            _MINTED.clear()
        _MINTED[key] = token
    return token


def read_token(secret: bytes, scope: ListScope, token: str) -> Window:
    """The window a token points at, or :class:`InvalidPageToken`."""
    direction, seq = _token_position(secret, scope, token)
    return Window(0, after=seq) if direction == "A" else Window(0, before=seq)


def _token_position(secret: bytes, scope: ListScope, token: str) -> tuple[str, int]:
    """The direction and row number of a token, or :class:`InvalidPageToken`."""
    key = (secret, scope._material, token)
    position = _VERIFIED.get(key)
    if position is None:
        position = _verify_token(secret, scope, token)
        if len(_VERIFIED) >= _TOKEN_MEMO_SIZE:
            _VERIFIED.clear()
        _VERIFIED[key] = position
    return position


def _verify_token(secret: bytes, scope: ListScope, token: str) -> tuple[str, int]:
    if len(token) < 3 or token[0] != "P" or token[1] not in "AB":
        raise InvalidPageToken("not a token minted by this server")
    direction, body = token[1], token[2:]
    try:
        # What base64.urlsafe_b64decode does: ASCII only, other characters skipped.
        raw = binascii.a2b_base64((body + "=" * (-len(body) % 4)).encode("ascii").translate(_FROM_URLSAFE))
    except ValueError:
        raise InvalidPageToken("not a token minted by this server") from None
    # Only the spelling mint_token writes: the decoder ignores the last character's
    # padding bits and skips stray characters, so an edited token could decode to the
    # bytes of a valid one (about 7% of one-character edits at the end did).
    if len(raw) != _SEQ.size + _MAC_BYTES or _spell(raw) != body:
        raise InvalidPageToken("not a token minted by this server")
    (seq,) = _SEQ.unpack(raw[: _SEQ.size])
    if not hmac.compare_digest(raw[_SEQ.size :], scope.mac(secret, direction, seq)):
        raise InvalidPageToken("it was altered, or minted for another list, filter or account")
    return direction, seq


def parse_page_request(
    query: Mapping[str, str],
    secret: bytes,
    scope: ListScope,
    *,
    default_size: int = DEFAULT_PAGE_SIZE,
    max_size: int = MAX_PAGE_SIZE,
) -> PageRequest:
    """Check PageSize, Page and PageToken; PageSize above the list's maximum (the spec's:
    1000 in Flex v1, 100 or 50 in Chat v2) is clamped.

    Clamping rather than refusing: twilio-python's ``list(limit=N)`` sends ``PageSize=N``.
    ``default_size`` and ``max_size`` are the list's own where its spec sets them (Chat's
    messages and members: 50 and 100; channel webhooks: 5 and 5).
    """
    page_size = _int_param(query, "PageSize", default_size)
    if page_size < 1:
        raise InvalidParameter(f"Invalid PageSize: {page_size} is less than 1")
    page_size = min(page_size, max_size)
    page = _int_param(query, "Page", 0)
    if page < 0:
        raise InvalidParameter(f"Invalid Page: {page} is less than 0")
    if page > MAX_PAGE:
        # Page is echoed in meta as a JSON number; past 64 bits the encoder fails with a 500.
        raise InvalidParameter(f"Invalid Page: {page} is out of range")
    token = query.get("PageToken") or None
    if token is None:
        if page > 0:
            raise InvalidParameter("PageToken is required for paging.")
        return PageRequest(page_size, page, None, Window(page_size))
    direction, seq = _token_position(secret, scope, token)
    window = Window(page_size, after=seq) if direction == "A" else Window(page_size, before=seq)
    return PageRequest(page_size, page, token, window)


# Not frozen, with slots: see Window.
@dataclass(slots=True)
class Links:
    """The tokens of the neighbouring pages; None where there is no such page."""

    next_token: str | None
    previous_token: str | None


def neighbour_links(
    secret: bytes, scope: ListScope, window: Window, seqs: Sequence[int], has_more: bool
) -> Links:
    """Tokens for the pages around one whose rows have row numbers ``seqs`` (ascending).

    ``has_more`` says the store found a row beyond the page in the window's direction.
    """
    backward = window.before is not None
    has_next = backward or has_more
    has_previous = has_more if backward else window.after is not None
    last = seqs[-1] if seqs else (window.before - 1 if window.before is not None else window.after or 0)
    first = seqs[0] if seqs else (window.after + 1 if window.after is not None else window.before or 0)
    return Links(
        mint_token(secret, scope, "A", last) if has_next else None,
        mint_token(secret, scope, "B", first) if has_previous else None,
    )


def build_meta(
    base: str, request: PageRequest, scope: ListScope, links: Links
) -> dict[str, Any]:
    """The ``meta`` object: absolute URLs carrying PageSize, Page, PageToken and filters.

    The query strings are what ``urlencode`` makes of the same pairs, spelled out: three
    urlencode calls cost more than the rest of the list endpoint's Python code.
    """
    prefix = "".join([
        base, "?", *(f"{quote_plus(name)}={quote_plus(value)}&" for name, value in scope.filters),
        f"PageSize={request.page_size}&Page=",
    ])

    def link(page: int, token: str | None) -> str:
        if token is None:
            return f"{prefix}{page}"
        return f"{prefix}{page}&PageToken={token}"

    return {
        "page": request.page,
        "page_size": request.page_size,
        "first_page_url": link(0, None),
        "previous_page_url": (
            link(max(request.page - 1, 0), links.previous_token) if links.previous_token else None
        ),
        # A minted token is URL-safe as it is; the echoed one is as the client sent it.
        "url": link(request.page, None if request.token is None else _quote_token(request.token)),
        "next_page_url": link(request.page + 1, links.next_token) if links.next_token else None,
        "key": scope.key,
    }


def _quote_token(token: str) -> str:
    """``quote_plus(token)``, skipped where it would change nothing."""
    return token if _URL_SAFE_TOKEN(token) else quote_plus(token)
