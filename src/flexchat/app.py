"""The application, assembled in one place from its parts: routes, store, auth, errors,
and the operations parts: metrics, the access log, faults, readiness checks.

``create_app(settings, store)`` builds everything; nothing happens at import time, and
tests pass their own store (a temporary SQLite file, a PostgreSQL database).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import cache

from . import operations
from .access_log import AccessLog
from .api.accounts import urls as accounts_urls
from .api.chat import urls as chat_urls
from .api.control import urls as control_urls
from .api.flex import urls as flex_urls
from .api.iam import urls as iam_urls
from .api.studio import urls as studio_urls
from .api.taskrouter import urls as taskrouter_urls
from .api.v2010 import urls as v2010_urls
from .auth import Authenticator
from .console.handler import PREFIX as CONSOLE_PREFIX
from .console.handler import Console
from .context import AppContext
from .delivery.worker import DeliveryWorker
from .domain import flex, taskrouter
from .errors import InternalError, NotFound, ServiceUnavailable, TooManyRequests, TwilioError
from .faults import HEADER as FAULT_HEADER
from .faults import Faults
from .http import ClientDisconnected, Receive, Request, Response, Scope, Send, empty_response, json_response
from .limits import ConcurrencyLimiter
from .metrics import UNMATCHED, Metrics
from .routing import API_FAMILIES, Route, Router
from .settings import Settings
from .sids import random_hex32
from .store import Store, create_store

log = logging.getLogger("flexchat")

ALLOW_METHODS = "GET, POST, DELETE, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, Accept, User-Agent, X-Twilio-Client"
EXPOSE_HEADERS = "Twilio-Request-Id, Twilio-Request-Duration, X-Flexchat-Fault"
# A client that left before its answer (nginx's convention), for metrics and the log.
CLIENT_GONE = 499

ErrorHandler = Callable[[Exception], TwilioError]

JSON_TYPE = b"application/json"
# What cors_headers gives a request with no Origin and no preflight headers.
PLAIN_CORS_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", ALLOW_METHODS.encode()),
    (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
    (b"access-control-allow-credentials", b"true"),
    (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
)


# Each Twilio product's routes, by the family faults and metrics name them with.
PRODUCTS = {"flex": flex_urls, "chat": chat_urls, "taskrouter": taskrouter_urls, "studio": studio_urls}


def routes() -> list[Route]:
    """The API: every product's paths (distinct across products, so whatever Host a
    client sends, e.g. chat.twilio.com after a host-level redirect, the path decides),
    flexchat's own control API and the operations endpoints."""
    return list(_route_table())


@cache
def _route_table() -> tuple[Route, ...]:
    # Built once per process: routes are frozen and their endpoints module functions, and
    # building them was a third of an in-process double's start (flexchat.testing).
    return (
        *(replace(route, family=family) for family, product in PRODUCTS.items() for route in product.routes()),
        # Credentials (IAM keys, Accounts token rotation, 2010 keys): family "credentials".
        *iam_urls.routes(), *accounts_urls.routes(), *v2010_urls.routes(),
        *control_urls.routes(),
        *operations.routes(),
    )


@cache
def _router() -> Router:
    """The router of :func:`routes`, compiled once per process (it keeps no state)."""
    return Router(routes())


@cache
def _route_patterns() -> frozenset[str]:
    return frozenset(route.pattern for route in _route_table())


def _internal_error(error: Exception) -> TwilioError:
    log.error("unhandled error", exc_info=error)
    return InternalError()


class FlexchatApp:
    """The ASGI application."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.metrics = Metrics()
        operations.register_store_metrics(self.metrics, store)
        self.faults = Faults(store, self.metrics, settings.faults_refresh)
        self.context = AppContext(
            settings, store, self.metrics, self.faults, operations.default_readiness_checks()
        )
        self.router = _router()
        # Flex's rules that follow a task's moves (the janitor), whoever moves the task.
        if flex.janitor not in taskrouter.TASK_MOVE_HOOKS:
            taskrouter.TASK_MOVE_HOOKS.append(flex.janitor)
        self.access_log = (
            AccessLog(settings.access_log_format, trust_proxy=settings.trust_proxy) if settings.access_log else None
        )
        self.authenticator = Authenticator(store, settings.auth_cache_seconds)
        self.context.forget_credentials = self.authenticator.forget
        self.limiter = ConcurrencyLimiter(
            settings.max_concurrent_requests_per_account, settings.max_concurrent_requests, settings.refusal_delay
        )
        # The web console (/console, docs/console.md) and its per-account request log.
        self.console = Console(self.context, self.authenticator, _route_patterns().__contains__)
        # Looked up along the exception's class hierarchy, most specific first.
        self.error_handlers: dict[type[BaseException], ErrorHandler] = {
            TwilioError: lambda error: error,  # type: ignore[dict-item,return-value]
            Exception: _internal_error,
        }
        for kind in getattr(store, "unavailable_errors", ()):
            self.error_handlers[kind] = lambda error: ServiceUnavailable()
        self._open = False
        self._open_lock = asyncio.Lock()
        # Sends the outbox's webhooks from this process while the app is open.
        self.delivery = DeliveryWorker(store, settings, faults=self.faults, metrics=self.metrics)
        self.context.readiness_checks.append(operations.ReadinessCheck("delivery", self.delivery.check_ready))

    async def startup(self) -> None:
        """Open the store and start delivering webhooks (idempotent); also run on first
        request if no lifespan came."""
        async with self._open_lock:
            if not self._open:
                await self.store.open()
                await self.faults.start()
                await self.delivery.start()
                self._open = True

    async def shutdown(self) -> None:
        """Stop delivering (events in flight go back to the outbox) and reloading fault
        rules; close the store."""
        async with self._open_lock:
            if self._open:
                await self.delivery.stop()
                await self.faults.stop()
                await self.store.close()
                self._open = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.handle(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as error:
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One HTTP request, start to end; every failure becomes a Twilio error body.
        Each request ends in exactly one metrics update and one access log line."""
        started = time.perf_counter()
        request = Request(scope, receive)
        request_id = "RQ" + random_hex32()  # as secrets.token_hex(16), see sids.py
        route = UNMATCHED
        try:
            if not self._open:
                await self.startup()
            path = request.path
            if path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
                route = CONSOLE_PREFIX
                console_response = await self.console.handle(request, send)
                if console_response is None:  # a stream, already sent
                    self.record(request, 200, started, request_id, route)
                    return
                response = console_response
            else:
                found, request.path_params = self.router.find(path)
                if found is not None:
                    route = found.pattern
                response = await self.dispatch(request, found)
        except ClientDisconnected:
            self.record(request, CLIENT_GONE, started, request_id, route)
            return
        except Exception as error:
            response = self.error_response(error)
            if isinstance(error, TooManyRequests) and error.delay:
                await asyncio.sleep(error.delay)  # a client that keeps asking: limits.py
        try:
            if not await request.finish_body(self.settings.max_body_bytes):
                response.headers = {**response.headers, "Connection": "close"}
        except ClientDisconnected:
            self.record(request, CLIENT_GONE, started, request_id, route)
            return
        await self.send_response(send, request, response, started, request_id, cors=route != CONSOLE_PREFIX)
        self.record(request, response.status, started, request_id, route)

    def record(self, request: Request, status: int, started: float, request_id: str, route: str) -> None:
        """The request's metrics and its access log line."""
        seconds = time.perf_counter() - started
        self.metrics.requests.observe(route, request.method, status, seconds)
        if self.access_log is not None:
            self.access_log.write(request, status, seconds, request_id, route)
        if request.account_sid and route != CONSOLE_PREFIX:
            self.console.request_log.add(
                request.account_sid, request.method, request.path, route, status, seconds,
                request.scope.get("query_string", b""), request.received_body,
                request.headers.get("content-type", ""), request.fault,
            )

    async def dispatch(self, request: Request, route: Route | None) -> Response:
        """Preflight, admission (limits.py), authentication, routing, faults, endpoint.
        Public routes (health, readiness, metrics) are outside the limits: an operator
        sees an overloaded process."""
        if request.method == "OPTIONS":
            return empty_response(204)
        if route is not None and route.public:
            return await route.endpoint(request.method)(request, self.context)
        limiter = self.limiter
        limiter.enter_process()
        try:
            # Before the 404, as Twilio answers an unknown path without credentials with 401.
            principal = await self.authenticator.authenticate(request.headers.get("authorization"))
            request.account_sid = principal.account_sid
            request.may_manage = principal.may_manage
            if route is None:
                raise NotFound(request.path)
            endpoint = route.endpoint(request.method)
            account_sid = principal.account_sid
            limiter.enter_account(account_sid)
            try:
                if limiter.per_account:
                    # Let the requests that arrived meanwhile take (or be refused) their
                    # slots before this one runs: a SQLite read never yields, so without
                    # this no two reads were ever in flight at once and a flood of them
                    # queued in the HTTP server instead of being refused.
                    await asyncio.sleep(0)
                if self.faults.rules and route.family in API_FAMILIES and account_sid in self.faults.rules:
                    return await self.faults.run(request, route.family, endpoint, self.context)
                return await endpoint(request, self.context)
            finally:
                limiter.leave_account(account_sid)
        finally:
            limiter.leave_process()

    def error_response(self, error: Exception) -> Response:
        """The Twilio error body and status for any exception."""
        for kind in type(error).__mro__:
            handler = self.error_handlers.get(kind)
            if handler is not None:
                twilio_error = handler(error)
                break
        else:  # pragma: no cover - Exception is always in the table
            twilio_error = InternalError()
        return json_response(twilio_error.to_wire(), twilio_error.status, twilio_error.headers)

    async def send_response(
        self, send: Send, request: Request, response: Response, started: float, request_id: str, cors: bool = True
    ) -> None:
        """Send status, headers (CORS, except on the console's same-origin pages, and the
        request id on every response) and body."""
        headers = [
            (b"content-length", str(len(response.body)).encode()),
            *(self.cors_headers(request) if cors else ()),
            (b"twilio-request-id", request_id.encode()),
            (b"twilio-request-duration", f"{time.perf_counter() - started:.3f}".encode()),
        ]
        if request.fault:
            headers.append((FAULT_HEADER.encode(), request.fault.encode()))
        if response.content_type:
            headers.append(
                (b"content-type", JSON_TYPE if response.content_type == "application/json"
                 else response.content_type.encode())
            )
        if response.headers:
            headers.extend((name.lower().encode(), value.encode()) for name, value in response.headers.items())
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if request.method == "HEAD" else response.body})

    @staticmethod
    def cors_headers(request: Request) -> Sequence[tuple[bytes, bytes]]:
        """The five CORS headers of the API page, plus preflight extras."""
        request_headers = request.headers
        origin = request_headers.get("origin")
        if (
            origin is None
            and "access-control-request-headers" not in request_headers
            and request.method != "OPTIONS"
        ):
            return PLAIN_CORS_HEADERS  # every non-browser request: built once
        headers = [
            # A browser sends credentials only where the origin is named, not with "*".
            (b"access-control-allow-origin", origin.encode("latin-1") if origin else b"*"),
            (b"access-control-allow-methods", ALLOW_METHODS.encode()),
            (
                b"access-control-allow-headers",
                request_headers.get("access-control-request-headers", ALLOW_HEADERS).encode("latin-1"),
            ),
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
        ]
        if origin:
            headers.append((b"vary", b"Origin"))
        if request.method == "OPTIONS":
            headers.append((b"access-control-max-age", b"600"))
        return headers


def create_app(settings: Settings | None = None, store: Store | None = None) -> FlexchatApp:
    """The ASGI app for ``settings`` (default: from the environment) on ``store``
    (default: the one ``settings.database_url`` names)."""
    settings = settings or Settings.load()
    return FlexchatApp(settings, store or create_store(settings))


def app_from_environment() -> FlexchatApp:
    """Factory for ``uvicorn --factory`` worker processes: settings from FLEXCHAT_*."""
    return create_app(Settings.load())
