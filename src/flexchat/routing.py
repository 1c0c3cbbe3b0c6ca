"""Routes: a path pattern and the endpoint for each of its methods."""

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


@dataclass(frozen=True)
class Route:
    """``/v1/Channels/{Sid}`` with its endpoints by method."""

    pattern: str
    methods: dict[str, Endpoint]

    def compile(self) -> re.Pattern[str]:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.pattern)
        return re.compile(f"^{regex}$")


class Router:
    """Finds the endpoint of a method and path; 404 and 405 as Twilio answers them."""

    def __init__(self, routes: list[Route]) -> None:
        self._routes = [(route.compile(), route) for route in routes]

    def match(self, method: str, path: str) -> tuple[Endpoint, dict[str, str]]:
        for regex, route in self._routes:
            found = regex.match(path)
            if found is None:
                continue
            endpoint = route.methods.get(method)
            if endpoint is None:
                head = ("HEAD",) if "GET" in route.methods else ()
                raise MethodNotAllowed((*route.methods, *head, "OPTIONS"))
            return endpoint, found.groupdict()
        raise NotFound(path)
