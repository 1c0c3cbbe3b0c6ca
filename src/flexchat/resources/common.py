"""What every resource module shares: path Sids and the list response."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from ..context import AppContext
from ..errors import NotFound
from ..http import Request, Response, json_response
from ..paging import ListScope, PageRequest, build_meta, neighbour_links
from ..sids import is_sid, normalize_sid

T = TypeVar("T")


def path_sid(request: Request, prefix: str) -> str:
    """The ``{Sid}`` of the path; a malformed one is a 404 like an unknown one."""
    sid = request.path_params["Sid"]
    if not is_sid(sid, prefix):
        raise NotFound(request.path)
    return normalize_sid(sid)


def page_response(
    request: Request,
    ctx: AppContext,
    scope: ListScope,
    page: PageRequest,
    items: Sequence[T],
    has_more: bool,
    to_wire: Callable[[T, str], Mapping[str, Any]],
) -> Response:
    """A list page: the items under ``scope.key`` and the ``meta`` object."""
    base = ctx.base_url(request)
    links = neighbour_links(
        ctx.store.paging_secret, scope, page.window, [item.seq for item in items], has_more  # type: ignore[attr-defined]
    )
    return json_response(
        {
            scope.key: [to_wire(item, base) for item in items],
            "meta": build_meta(base + request.path, page, scope, links),
        }
    )
