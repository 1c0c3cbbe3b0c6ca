"""The thin HTTP layer over ASGI: a request with lazily parsed parts, and JSON responses.

flexchat speaks raw ASGI rather than through a framework: the whole API is nine routes,
and on the list hot path a framework's request/response objects cost more than the
database query (see docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

from .errors import InvalidParameter, PayloadTooLarge, UnsupportedMediaType

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

FORM_TYPE = "application/x-www-form-urlencoded"


def decode_form(raw: bytes, what: str) -> dict[str, str]:
    """Decode URL-encoded pairs; the first value wins where a name repeats."""
    if not raw:
        return {}
    try:
        text = raw.decode("utf-8")
        if "%" not in text and "+" not in text:
            # Nothing to unquote (``PageSize=50``): what parse_qsl would return, at a
            # fifth of its cost.
            out: dict[str, str] = {}
            for pair in text.split("&"):
                if pair:
                    name, _, value = pair.partition("=")
                    out.setdefault(name, value)
            return out
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise InvalidParameter(f"The {what} is not valid UTF-8 URL-encoded data") from None
    out = {}
    for name, value in pairs:
        out.setdefault(name, value)
    return out


def decode_form_lists(raw: bytes, what: str) -> dict[str, list[str]]:
    """Decode URL-encoded pairs keeping every value of a repeated name, in order: what a
    list parameter needs (``WebhookFilters=a&WebhookFilters=b``, ``Type=public&Type=private``)."""
    if not raw:
        return {}
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise InvalidParameter(f"The {what} is not valid UTF-8 URL-encoded data") from None
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out


class ClientDisconnected(Exception):
    """The client went away before its request body was complete; nothing is answered."""


class Request:
    """One HTTP request; headers, query and form are decoded on first use."""

    __slots__ = (
        "_body", "_headers", "_query", "_receive", "account_sid", "fault", "may_manage", "path_params", "scope"
    )

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self._receive = receive
        self._headers: dict[str, str] | None = None
        self._query: dict[str, str] | None = None
        self._body: bytes | None = None
        self.path_params: dict[str, str] = {}
        self.account_sid: str = ""
        # The faults that shaped this request's answer (X-Flexchat-Fault), if any.
        self.fault: str = ""
        # Whether the credential may manage keys and tokens (not a standard API key).
        self.may_manage = False

    @property
    def method(self) -> str:
        return str(self.scope["method"])

    @property
    def path(self) -> str:
        return str(self.scope["path"])

    @property
    def headers(self) -> dict[str, str]:
        """Header names lower-cased; the first value wins where a name repeats."""
        if self._headers is None:
            headers: dict[str, str] = {}
            for name, value in self.scope["headers"]:
                headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
            self._headers = headers
        return self._headers

    @property
    def query(self) -> dict[str, str]:
        """The query string's parameters."""
        if self._query is None:
            self._query = decode_form(self.scope.get("query_string", b""), "query string")
        return self._query

    def query_lists(self) -> dict[str, list[str]]:
        """The query string's parameters with every value of a repeated name."""
        return decode_form_lists(self.scope.get("query_string", b""), "query string")

    async def body(self, limit: int) -> bytes:
        """The whole body; :class:`PayloadTooLarge` as soon as it passes ``limit`` bytes.
        Read once and kept, so :meth:`form` and :meth:`form_lists` may both be used."""
        if self._body is not None:
            return self._body
        declared = self.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                # Never act on a truncated body: a half-sent form must not create anything.
                raise ClientDisconnected()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        self._body = b"".join(chunks)
        return self._body

    async def finish_body(self, limit: int) -> bool:
        """Read a body that no endpoint read, so that the connection can carry the
        client's next request: an answer given before the body arrived (401, 429, 404)
        leaves it in the stream, and the HTTP server then drops the connection without
        a word, which a keep-alive client sees as a broken pipe on its next request.
        False when the body passes ``limit`` (the connection has to close instead).
        """
        if self._body is not None:
            return True
        headers = self.headers
        length = headers.get("content-length")
        if (length is None or length == "0") and "transfer-encoding" not in headers:
            return True
        try:
            await self.body(limit)
        except PayloadTooLarge:
            return False
        return True

    async def disconnected(self) -> None:
        """Return once the client has gone away (what a streamed response waits on)."""
        while (await self._receive())["type"] != "http.disconnect":
            pass

    @property
    def received_body(self) -> bytes | None:
        """The body if an endpoint read it, else None (for the console's request log)."""
        return self._body

    async def _form_body(self, limit: int) -> bytes:
        raw = await self.body(limit)
        if raw:
            content_type = self.headers.get("content-type", FORM_TYPE).split(";")[0].strip().lower()
            if content_type != FORM_TYPE:
                raise UnsupportedMediaType(content_type)
        return raw

    async def form(self, limit: int) -> dict[str, str]:
        """The form-encoded body, first value of each name; any other non-empty body is refused."""
        return decode_form(await self._form_body(limit), "request body")

    async def form_lists(self, limit: int) -> dict[str, list[str]]:
        """The form-encoded body with every value of a repeated name (see :func:`decode_form_lists`)."""
        return decode_form_lists(await self._form_body(limit), "request body")

    async def json_object(self, limit: int) -> dict[str, Any]:
        """A JSON object body (the few Twilio operations that take JSON, e.g. Flex's
        ``POST /v1/Configuration``); an empty body is an empty object."""
        raw = await self.body(limit)
        if not raw:
            return {}
        content_type = self.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise UnsupportedMediaType(content_type, "application/json")
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise InvalidParameter("The request body is not valid JSON") from None
        if not isinstance(value, dict):
            raise InvalidParameter("The request body must be a JSON object")
        return value


@dataclass
class Response:
    """A status, a body and extra headers; CORS and request ids are added by the app."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json"


def json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """``payload`` serialised as JSON."""
    return Response(status, orjson.dumps(payload), headers or {})


def empty_response(status: int = 204) -> Response:
    """A response with no body (delete, preflight)."""
    return Response(status, b"", {}, None)
