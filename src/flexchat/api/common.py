"""What every resource module shares: path Sids, a 404 where nothing was found, list
filters and the list response."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import orjson

from ..context import AppContext
from ..errors import CredentialNotPermitted, NotFound
from ..http import Request, Response, empty_response, json_response
from ..paging import ListScope, PageRequest, build_meta, neighbour_links
from ..sids import is_sid, normalize_sid

T = TypeVar("T")


def path_sid(request: Request, prefix: str, name: str = "Sid") -> str:
    """The path's ``{Sid}`` (or ``{name}``: ``WorkspaceSid``, ``FlowSid``, ...), a sid of
    ``prefix``; a malformed one is a 404 like an unknown one."""
    sid = request.path_params[name]
    if not is_sid(sid, prefix):
        raise NotFound(request.path)
    return normalize_sid(sid)


def found(record: T | None, request: Request) -> T:
    """``record``, or a 404 naming the request's path where the store found none."""
    if record is None:
        raise NotFound(request.path)
    return record


def deleted(removed: bool, request: Request) -> Response:
    """A delete's 204, or a 404 naming the request's path where there was nothing to delete."""
    if not removed:
        raise NotFound(request.path)
    return empty_response()


def exact_filter(request: Request, name: str) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """A list's optional exact-match query parameter (``FriendlyName=...``): its value, and
    the filters the page's tokens and meta URLs carry (none where it is absent)."""
    value = request.query.get(name)
    return value, (((name, value),) if value is not None else ())


def path_ref(request: Request, name: str) -> str:
    """A path parameter that names a resource by sid or by a name (a channel's UniqueName,
    a user's Identity). One holding NUL names nothing: neither engine stores NUL in text,
    and PostgreSQL refuses it in a query, so it is a 404 here rather than a 500 there."""
    value = request.path_params[name]
    if "\x00" in value:
        raise NotFound(request.path)
    return value


# What a path may hold as it is; anything else (a UniqueName's blank or accent in a Chat
# path, which the server received percent-encoded and decoded) is encoded again.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/._~!$&'()*+,;=:@-]*").fullmatch


def url_path(path: str) -> str:
    """``path`` as it goes into a URL."""
    return path if _PLAIN_PATH(path) else quote(path, safe="/._~!$&'()*+,;=:@-")


def page_response(
    request: Request,
    ctx: AppContext,
    scope: ListScope,
    page: PageRequest,
    items: Sequence[T],
    has_more: bool,
    to_wire: Callable[[T, str], Mapping[str, Any]],
    items_json: Callable[[Sequence[T], str], str | None] | None = None,
) -> Response:
    """A list page: the items under ``scope.key`` and the ``meta`` object.

    ``items_json``, where given, writes the items as JSON text (the array's contents,
    byte for byte what orjson would make of ``to_wire``), or None where it cannot vouch
    for that; the list then costs no dict per item.
    """
    base = ctx.base_url(request)
    # Only the first and last row numbers matter for the neighbours' tokens.
    ends = (items[0].seq, items[-1].seq) if items else ()  # type: ignore[attr-defined]
    rendered = items_json(items, base) if items_json is not None else None
    if rendered is None:
        meta = page_meta(request, ctx, scope, page, ends, has_more, base)
        return json_response({scope.key: [to_wire(item, base) for item in items], "meta": meta})
    return rendered_page_response(request, ctx, scope, page, ends, has_more, base, rendered.encode())


def page_meta(
    request: Request, ctx: AppContext, scope: ListScope, page: PageRequest, ends: tuple[int, int] | tuple[()],
    has_more: bool, base: str,
) -> dict[str, Any]:
    """A list page's ``meta`` object; ``ends``: the first and last row numbers on the page."""
    links = neighbour_links(ctx.store.paging_secret, scope, page.window, ends, has_more)
    return build_meta(base + url_path(request.path), page, scope, links)


def rendered_page_response(
    request: Request, ctx: AppContext, scope: ListScope, page: PageRequest, ends: tuple[int, int] | tuple[()],
    has_more: bool, base: str, items_json: bytes,
) -> Response:
    """A list page whose items are already JSON (the array's contents, UTF-8, byte for
    byte what orjson would write for their dicts); ``ends`` as for :func:`page_meta`."""
    meta = page_meta(request, ctx, scope, page, ends, has_more, base)
    body = b"".join([b'{"', scope.key.encode(), b'":[', items_json, b'],"meta":', orjson.dumps(meta), b"}"])
    return Response(200, body)


def json_safe(text: str, _known: dict[str, bool] = {}) -> bool:  # noqa: B006 - a deliberate memo
    """Whether ``text`` goes into a JSON string as it is, with nothing to escape.

    Remembers its answers (a base URL or an Account Sid repeats on every request), up to
    a bound, so a stream of distinct Host headers cannot grow it.
    """
    known = _known.get(text)
    if known is None:
        known = not any(char in '"\\' or char < " " for char in text)
        if len(_known) >= 1024:
            _known.clear()
        _known[text] = known
    return known


def webhooks_enabled(request: Request) -> bool:
    """Whether a REST write asked for Chat's webhooks: ``X-Twilio-Webhook-Enabled: true``
    in any case (one client sends ``True``); without it a REST write fires none."""
    return request.headers.get("x-twilio-webhook-enabled", "").strip().lower() == "true"


def require_manager(request: Request) -> None:
    """Managing keys and tokens takes the account's token or a main key, as on Twilio:
    a standard key gets 401 / 20003."""
    if not request.may_manage:
        raise CredentialNotPermitted()
