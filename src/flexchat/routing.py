"""Routes: a path pattern, the endpoint for each of its methods, and what kind of route
it is (its family, for faults and metrics; whether it needs credentials)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import MethodNotAllowed, NotFound
from .http import Request, Response

if TYPE_CHECKING:
    from .context import AppContext

Endpoint = Callable[[Request, "AppContext"], Awaitable[Response]]

# Families of the Twilio API a route belongs to (Twilio serves each from its own host:
# flex-api, chat, taskrouter, studio). Faults are switched on per family.
API_FAMILIES = ("flex", "chat", "taskrouter", "studio")
# flexchat's own routes: the control API and the operations endpoints. Faults never
# apply to them, so a fault cannot lock an operator out of switching it off again.
CONTROL = "flexchat"
OPERATIONS = "operations"
# Credentials: IAM keys, Accounts token rotation, the 2010 API's keys. No faults apply to
# them either, so a fault cannot keep an operator from rotating a key.
CREDENTIALS = "credentials"
# Paths whose route a router remembers, and the longest it remembers (real ones are
# under ~200 characters: two sids and a UniqueName or Identity).
FOUND_SIZE = 1024
FOUND_PATH_MAX = 256


@dataclass(frozen=True)
class Route:
    """``/v1/Channels/{Sid}`` with its endpoints by method.

    ``family`` is one of :data:`API_FAMILIES`, :data:`CONTROL` or :data:`OPERATIONS`;
    ``public`` routes answer without credentials (health, readiness, metrics).
    """

    pattern: str
    methods: dict[str, Endpoint]
    family: str = "flex"
    public: bool = False

    def compile(self) -> re.Pattern[str]:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.pattern)
        return re.compile(f"^{regex}$")

    def endpoint(self, method: str) -> Endpoint:
        """The endpoint of ``method``, or :class:`MethodNotAllowed` naming those there are.
        HEAD is GET without the body (RFC 9110); the app leaves the body out."""
        endpoint = self.methods.get("GET" if method == "HEAD" else method)
        if endpoint is None:
            head = ("HEAD",) if "GET" in self.methods else ()
            raise MethodNotAllowed((*self.methods, *head, "OPTIONS"))
        return endpoint


class Router:
    """Finds the route of a path and the endpoint of a method; 404 and 405 as Twilio answers them."""

    def __init__(self, routes: list[Route]) -> None:
        families = {*API_FAMILIES, CONTROL, OPERATIONS, CREDENTIALS}
        for route in routes:
            if route.family not in families:
                raise ValueError(f"route {route.pattern}: unknown family {route.family!r}")
        # Bucketed by the number of "/" in the pattern: a path parameter never spans a
        # "/", so only routes with as many as the path can match it, and in order. The
        # Chat routes come late in the list; trying every regex before them cost the
        # message list ~8 us a request of the ~20 it tried.
        self._routes: dict[int, list[tuple[re.Pattern[str], Route]]] = {}
        for route in routes:
            self._routes.setdefault(route.pattern.count("/"), []).append((route.compile(), route))
        self.routes = tuple(routes)
        # Clients ask for the same paths again and again (a page they poll, a channel's
        # messages): each one's route is worked out once. Bounded in paths and in their
        # length: this runs before authentication, and any /v1/Channels/<anything> has a
        # route, so an anonymous client could otherwise park 1,024 paths of 64 kB here.
        self._found: dict[str, tuple[Route, dict[str, str]]] = {}

    def find(self, path: str) -> tuple[Route | None, dict[str, str]]:
        """The route whose pattern matches ``path`` and its path parameters, or ``(None, {})``.

        Separate from :meth:`match` because the app needs the route (its pattern for
        metrics, whether it is public) before it may tell a client that it does not exist.
        """
        known = self._found.get(path)
        if known is not None:
            return known[0], dict(known[1])
        for regex, route in self._routes.get(path.count("/"), ()):
            found = regex.match(path)
            if found is not None:
                params = found.groupdict()
                if len(path) <= FOUND_PATH_MAX:
                    if len(self._found) >= FOUND_SIZE:
                        self._found.clear()
                    self._found[path] = (route, params)
                    return route, dict(params)
                return route, params
        return None, {}

    def match(self, method: str, path: str) -> tuple[Endpoint, dict[str, str]]:
        """The endpoint and path parameters, or :class:`NotFound` / :class:`MethodNotAllowed`."""
        route, params = self.find(path)
        if route is None:
            raise NotFound(path)
        return route.endpoint(method), params
