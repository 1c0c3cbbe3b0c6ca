"""Helpers for test suites: a real ``flexchat serve`` process, and an in-process drop-in
for the official twilio client.

In process, :class:`InProcessFlexchat` runs the very ASGI application ``flexchat serve``
runs, on a fresh store of its own; no socket is opened. Its background tasks run on an
event loop in a background thread shared by every instance; a synchronous call runs on
the caller's own thread, under a lock that keeps it apart from them (see
:class:`_AppLoop`). :class:`FlexchatHttpClient` and :class:`AsyncFlexchatHttpClient` are
``twilio.http`` clients that route requests for ``flex-api.twilio.com`` and
``chat.twilio.com`` (in any edge or
region form) into it, and :func:`twilio_client` returns a ready ``twilio.rest.Client``.

twilio is the optional ``flexchat[testing]`` extra: it is imported only when one of the
twilio-facing names is first used, so ``run_server`` works without it.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import concurrent.futures
import contextlib
import contextvars
import json
import logging
import os
import re
import secrets
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import IO, TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, quote_plus, unquote, urlsplit

from .sids import mint_sid

if TYPE_CHECKING:
    from .app import FlexchatApp
    from .settings import Settings

__all__ = [
    "SERVED_PRODUCTS",
    "AsyncFlexchatHttpClient",
    "ControlError",
    "FlexchatHttpClient",
    "InProcessFlexchat",
    "InProcessResponse",
    "ServerProcess",
    "UnsupportedHostError",
    "accept_task",
    "add_account",
    "channel_timeline",
    "complete_task",
    "end_chat",
    "free_port",
    "is_chat_host",
    "is_credentials_host",
    "is_flex_api_host",
    "is_served_host",
    "run_server",
    "send_agent_message",
    "send_to_flex",
    "twilio_client",
    "wrap_up_task",
]

T = TypeVar("T")

def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# repr=False: pytest prints the repr of objects in a failed assertion, and the generated
# one would show the auth token, the database password and every variable of ``env`` (the
# whole environment, CI secrets included). __repr__ below shows none of them.
@dataclass(repr=False)
class ServerProcess:
    """A running ``flexchat serve`` and the credentials of the account it was started with."""

    base_url: str
    account_sid: str
    auth_token: str
    database_url: str
    port: int
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    # What runs with ``args``: ``flexchat serve``; the benchmark puts other servers here.
    command: list[str] = field(default_factory=lambda: [sys.executable, "-m", "flexchat.cli", "serve"])

    def __repr__(self) -> str:
        from .settings import redact_url

        state = "not started" if self.process is None else f"pid {self.process.pid}"
        return (
            f"ServerProcess(base_url={self.base_url!r}, account_sid={self.account_sid!r}, "
            f"database_url={redact_url(self.database_url)!r}, {state})"
        )

    def start(self, timeout: float = 20.0) -> None:
        """Start the process and wait until it answers HTTP."""
        # A file, not a pipe: a pipe nobody reads would block a chatty server.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [*self.command, *self.args],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"flexchat serve exited with {self.process.returncode}: {self.output()[-2000:]}")
            try:
                urllib.request.urlopen(self.base_url + "/v1/Channels", timeout=1)
            except urllib.error.HTTPError:
                return  # 401 without credentials: it is up
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"flexchat serve did not answer on {self.base_url} within {timeout}s")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Stop the process (SIGTERM by default; SIGKILL to simulate a crash)."""
        if self.process is None or self.process.poll() is not None:
            return
        if self.process.pid and sig == signal.SIGKILL:
            # With --workers the children must die too, as in a real crash.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def output(self) -> str:
        """What the server printed so far."""
        if self.log is None:
            return ""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    @property
    def auth(self) -> tuple[str, str]:
        return (self.account_sid, self.auth_token)

    def create_account(self, friendly_name: str | None = None) -> tuple[str, str]:
        """A new account, written straight into the server's database: its Sid and Auth Token."""
        return add_account(self.database_url, friendly_name)


def _run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)``, in a helper thread when this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def add_account(database_url: str, friendly_name: str | None = None) -> tuple[str, str]:
    """A new account in the database at ``database_url`` (which a server may be using)."""
    from .auth import hash_secret, new_secret
    from .settings import Settings
    from .store import create_store

    sid, token = mint_sid("AC"), new_secret()

    async def create() -> None:
        store = create_store(Settings(database_url=database_url))
        await store.open()
        try:
            await store.ensure_account(sid, hash_secret(token), friendly_name, token)
        finally:
            await store.close()

    _run_blocking(create())
    return sid, token


@contextlib.contextmanager
def run_server(
    database_url: str,
    *,
    port: int | None = None,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> Iterator[ServerProcess]:
    """A ``flexchat serve`` on 127.0.0.1 for the duration of the block.

    The account it is started with comes from FLEXCHAT_ACCOUNT_SID/AUTH_TOKEN, minted here.
    """
    port = port or free_port()
    account_sid, auth_token = mint_sid("AC"), secrets.token_hex(16)
    full_env = {
        **os.environ,
        **(env or {}),
        "FLEXCHAT_ACCOUNT_SID": account_sid,
        "FLEXCHAT_AUTH_TOKEN": auth_token,
        "FLEXCHAT_ACCESS_LOG": "false",
    }
    args = ["--host", "127.0.0.1", "--port", str(port), "--database", database_url, *extra_args]
    server = ServerProcess(
        f"http://127.0.0.1:{port}", account_sid, auth_token, database_url, port, args, full_env
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- in process ----------------------------------------------------------------------

# flex-api.twilio.com, flex-api.<region>.twilio.com, flex-api.<edge>.<region>.twilio.com:
# the three shapes twilio-python's ClientBase.get_hostname produces.
_FLEX_API_HOST = re.compile(r"flex-api(?:\.[a-z0-9-]+){0,2}\.twilio\.com", re.IGNORECASE)
# Every Twilio product host flexchat serves, by its first label, in the same three shapes.
SERVED_PRODUCTS = ("flex-api", "chat", "taskrouter", "studio", "iam", "accounts")
_SERVED_HOST = re.compile(
    rf"(?:{'|'.join(map(re.escape, SERVED_PRODUCTS))})(?:\.[a-z0-9-]+){{0,2}}\.twilio\.com", re.IGNORECASE
)
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


def is_flex_api_host(host: str) -> bool:
    """Whether ``host`` (no port) is the Flex API in any of its edge or region forms."""
    return _FLEX_API_HOST.fullmatch(host) is not None


def is_chat_host(host: str) -> bool:
    """Whether ``host`` (no port) is Chat v2 (chat.twilio.com) in any of its edge or region forms."""
    return host.lower().startswith("chat.") and is_served_host(host)


def is_credentials_host(host: str) -> bool:
    """Whether ``host`` (no port) is IAM (API keys) or Accounts (token rotation)."""
    return host.lower().startswith(("iam.", "accounts.")) and is_served_host(host)


def is_served_host(host: str) -> bool:
    """Whether ``host`` (no port) is a product flexchat serves (``SERVED_PRODUCTS``), in
    any of its edge or region forms."""
    return _SERVED_HOST.fullmatch(host) is not None


class UnsupportedHostError(LookupError):
    """A request for a Twilio host flexchat does not serve (see ``SERVED_PRODUCTS``)."""

    def __init__(self, host: str, method: str, url: str) -> None:
        super().__init__(
            f"flexchat.testing serves only "
            f"{', '.join(f'{product}.twilio.com' for product in SERVED_PRODUCTS)} (in any edge or region form); "
            f"{method} {url} is for host {host!r}, which flexchat does not implement"
        )
        self.host = host
        self.url = url


@dataclass(frozen=True)
class InProcessResponse:
    """What the application answered: status, headers as sent (lower-case names), body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)

    def json(self) -> Any:
        return json.loads(self.body)


# What quote_plus leaves as it is: a value made only of these is its own encoding.
_FORM_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


def _form_quote(value: object) -> str:
    """One name or value as ``urlencode`` encodes it (``quote_plus`` of its ``str``)."""
    if isinstance(value, bytes):
        return quote_plus(value)
    text = value if isinstance(value, str) else str(value)
    # Most names and values are ASCII letters and digits: two string methods tell, at a
    # fifth of the pattern's cost.
    if (text.isalnum() and text.isascii()) or _FORM_PLAIN.fullmatch(text):
        return text
    return quote_plus(text)


def _encode_pairs(values: Mapping[str, object] | None) -> str:
    """Form/query encoding as ``requests`` does it: None dropped, sequences repeated.

    The same text as ``urlencode`` gives, in half its time: most names and values need
    no escaping, and this runs for every request of a test suite."""
    if not values:
        return ""
    pairs: list[str] = []
    for name, value in values.items():
        key = _form_quote(name) + "="
        if isinstance(value, list | tuple):
            pairs.extend(key + _form_quote(item) for item in value if item is not None)
        elif value is not None:
            pairs.append(key + _form_quote(value))
    return "&".join(pairs)


def _basic_auth(user: str, password: str) -> str:
    raw = f"{user}:{password}"
    try:
        encoded = raw.encode("latin-1")  # what requests and aiohttp send
    except UnicodeEncodeError:
        encoded = raw.encode("utf-8")
    return "Basic " + base64.b64encode(encoded).decode("ascii")


@lru_cache(maxsize=256)
def _cached_basic_auth(user: str, password: str) -> str:
    # A test suite sends the same few credentials over and over.
    return _basic_auth(user, password)


@lru_cache(maxsize=1024)
def _url_target(url: str) -> tuple[str, str, str, int, str, bytes, str] | None:
    """What a request's URL gives its ASGI scope: scheme, host, netloc, port, decoded
    path, raw path and query (percent-encoded as ``requests`` sends them); None for a
    host flexchat does not serve. A test suite calls the same few URLs over and over."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not is_served_host(host):
        return None
    # As requests does (requote_uri): characters a URL cannot carry are percent-encoded
    # as UTF-8, escapes already present are kept.
    path = quote(parts.path, safe=_URL_SAFE) or "/"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return (
        parts.scheme, host, parts.netloc, port, unquote(path), path.encode("ascii"),
        quote(parts.query, safe=_URL_SAFE),
    )


class _LockingSelector(selectors.DefaultSelector):
    """The loop thread's selector: it gives the application lock up while it waits."""

    def __init__(self, lock: threading.Lock) -> None:
        super().__init__()
        self.lock = lock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        """Wait for I/O or the next timer without the lock; take it back to run callbacks."""
        self.lock.release()
        try:
            return super().select(timeout)
        finally:
            self.lock.acquire()


class _AppLoop:
    """The event loop every in-process application of this process runs on, in a daemon
    thread, and the lock that makes the applications single-threaded as in a server.

    The loop thread holds :attr:`lock` whenever it runs callbacks and gives it up only
    while it waits in its selector. A synchronous caller takes the lock and runs its
    request on its own thread (:meth:`InProcessFlexchat.request`): no thread hop, and
    never at the same time as the application's background tasks (webhook delivery,
    fault rules), which stay on this loop. One loop for all instances, started once:
    a thread and a loop per instance were a tenth of a fresh instance's cost.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # The thread running a request under the lock, if any (see _close).
        self.owner: int | None = None
        self.loop = asyncio.SelectorEventLoop(_LockingSelector(self.lock))
        self.thread = threading.Thread(target=self._run, name="flexchat-inprocess", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with self.lock:
            self.loop.run_forever()

    @property
    def alive(self) -> bool:
        return self.thread.is_alive() and not self.loop.is_closed()


_APP_LOOP: _AppLoop | None = None
_APP_LOOP_GUARD = threading.Lock()
# Each synchronous caller thread's own event loop, on which its requests run.
_CALLER = threading.local()


def _app_loop() -> _AppLoop:
    """The shared loop, started on first use (and again in a forked child, whose copy
    has no thread)."""
    global _APP_LOOP
    with _APP_LOOP_GUARD:
        if _APP_LOOP is None or not _APP_LOOP.alive:
            _APP_LOOP = _AppLoop()
        return _APP_LOOP


class _CallerLoop(asyncio.SelectorEventLoop):
    """A caller thread's event loop, on which its requests run as tasks.

    :meth:`run_now` runs a task's steps as they are scheduled, without the loop's own
    machinery, for as long as the task has steps ready; only a task that waits for
    something (a timer, I/O, another thread) is left to ``run_until_complete``. A
    request on a throw-away SQLite store never waits, and ``run_until_complete`` (its
    ``run_forever`` set-up and two passes through the selector) cost about 30 us a call,
    a third of the request.
    """

    def __init__(self) -> None:
        super().__init__()
        # While run_now drives a task: the callbacks scheduled meanwhile, run in order.
        self._eager: collections.deque[tuple[asyncio.Handle, Callable[..., object], tuple[Any, ...],
                                             contextvars.Context | None]] | None = None

    def call_soon(  # type: ignore[override]
        self, callback: Callable[..., object], *args: Any, context: contextvars.Context | None = None
    ) -> asyncio.Handle:
        """As the loop's own, but kept for :meth:`run_now` while it drives a task."""
        eager = self._eager
        if eager is None:
            return super().call_soon(callback, *args, context=context)
        handle = asyncio.Handle(callback, args, self, context)
        eager.append((handle, callback, args, context))
        return handle

    def run_now(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` as a task of this loop (so ``current_task()`` and timeouts work)
        to its end, on this thread, which must not be running a loop."""
        eager: collections.deque[Any] = collections.deque()
        self._eager = eager
        asyncio._set_running_loop(self)
        try:
            task = self.create_task(coro)
            while eager:
                handle, callback, args, context = eager.popleft()
                if handle.cancelled():
                    continue
                try:
                    if context is None:
                        callback(*args)
                    else:
                        context.run(callback, *args)
                except (SystemExit, KeyboardInterrupt):
                    raise
                except BaseException as error:  # as Handle._run reports it
                    self.call_exception_handler({"message": f"Exception in callback {callback!r}",
                                                 "exception": error, "handle": handle})
        finally:
            self._eager = None
            asyncio._set_running_loop(None)
        if task.done():
            return task.result()
        # It waits for something: the loop's machinery takes it from here.
        return self.run_until_complete(task)


def _forget_loops_after_fork() -> None:
    # A forked child has none of its parent's threads, and must not share the parent's
    # selectors (an epoll instance survives fork): it starts its own loops on first use.
    global _APP_LOOP, _APP_LOOP_GUARD, _CALLER
    _APP_LOOP = None
    _APP_LOOP_GUARD = threading.Lock()  # another thread may have held it at the fork
    _CALLER = threading.local()


os.register_at_fork(after_in_child=_forget_loops_after_fork)


def _caller_loop() -> _CallerLoop:
    """This thread's loop for running requests here (made on first use)."""
    loop: _CallerLoop | None = getattr(_CALLER, "loop", None)
    if loop is None or loop.is_closed():
        loop = _CALLER.loop = _CallerLoop()
    return loop


def _close(app: FlexchatApp, app_loop: _AppLoop) -> None:
    """Stop the application and close its store; also the finaliser of an unclosed instance."""
    if not app_loop.alive:
        return
    ident = threading.get_ident()
    if ident == app_loop.thread.ident or ident == app_loop.owner:
        # The garbage collector may run this on the loop's own thread, or on a thread in
        # the middle of a request under the lock: waiting would deadlock.
        app_loop.loop.call_soon_threadsafe(app_loop.loop.create_task, app.shutdown())
        return
    asyncio.run_coroutine_threadsafe(app.shutdown(), app_loop.loop).result(timeout=30)


class InProcessFlexchat:
    """The flexchat application in this process, on a fresh store and a background event loop.

    The application is the one ``flexchat serve`` runs (``create_app``); requests reach it
    as ASGI calls, not through a socket. The store defaults to ``sqlite:///:memory:``, a
    private in-memory database gone on :meth:`close`. A first account is created on
    start; :attr:`account_sid` and :attr:`auth_token` are its credentials.

    Usable from any thread and from any event loop. The application's background tasks
    (webhook delivery, fault rules) run on an event loop in a background thread that
    every instance of the process shares. A request from synchronous code on a SQLite
    store runs on the caller's own thread, holding the lock that keeps it apart from
    those tasks (a thread hop cost more than the request); any other call is handed to
    the background loop. So the sync and async twilio clients can share one instance.

    ``database_url`` names the store (any URL ``flexchat serve`` accepts); ``settings``
    supplies the other settings, its own ``database_url`` being ignored. A suite can set
    :attr:`default_settings` once for every instance it makes without ``settings`` (for
    example ``webhook_allowed_hosts`` to keep webhooks on this machine).
    """

    default_settings: Settings | None = None

    def __init__(
        self,
        database_url: str = "sqlite:///:memory:",
        *,
        settings: Settings | None = None,
        friendly_name: str | None = "flexchat.testing",
    ) -> None:
        from .app import create_app
        from .settings import Settings

        # Settings() rather than Settings.load(): a FLEXCHAT_PUBLIC_URL in the environment
        # must not change the URLs a test sees. No access log: it would print a line per
        # request into the output of the suite that embeds flexchat.
        base = settings or InProcessFlexchat.default_settings or Settings(access_log=False)
        # Webhooks go out from the double's own loop: no sender process per instance.
        self.settings = base.with_(database_url=database_url, webhook_sender="inline")
        self.app: FlexchatApp = create_app(self.settings)
        self._app_loop = _app_loop()
        self._loop = self._app_loop.loop
        self._thread = self._app_loop.thread
        # asyncpg's pool belongs to the loop that opened it; SQLite works on any loop.
        self._runs_anywhere = not getattr(self.app.store, "loop_bound", True)
        self._finalizer = weakref.finalize(self, _close, self.app, self._app_loop)
        # At interpreter exit thread pools refuse work, so the store could not close
        # cleanly; its committed data is durable and a temporary database is in memory.
        self._finalizer.atexit = False
        try:
            self.run(self.app.startup())
            self.account_sid, self.auth_token = self.create_account(friendly_name)
        except BaseException:
            self.close()
            raise

    # -- life cycle ------------------------------------------------------------------

    def close(self) -> None:
        """Stop the application and close its store (an in-memory database is gone)."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __enter__(self) -> InProcessFlexchat:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        from .settings import redact_url

        return f"<InProcessFlexchat {redact_url(self.settings.database_url)} {state}>"

    # -- running code on the application's loop ----------------------------------------

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the application's loop and wait for its result."""
        if self.closed:
            coro.close()
            raise RuntimeError("this InProcessFlexchat is closed")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("InProcessFlexchat.run() called from its own loop: await the coroutine instead")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"flexchat did not answer within {timeout}s") from None

    def _run_here(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro``, which uses the application and its store only, on this thread
        when it can (a synchronous caller, a store usable from any loop), else as
        :meth:`run` does."""
        if not self._runs_anywhere or self.closed:
            return self.run(coro, timeout)
        if asyncio._get_running_loop() is not None:
            # A sync call from async code: this thread's loop is busy running that code.
            return self.run(coro, timeout)
        loop = _caller_loop()
        app_loop = self._app_loop
        with app_loop.lock:
            app_loop.owner = threading.get_ident()
            try:
                if timeout is None:
                    return loop.run_now(coro)
                try:
                    return loop.run_now(asyncio.wait_for(coro, timeout))
                except TimeoutError:
                    raise TimeoutError(f"flexchat did not answer within {timeout}s") from None
            finally:
                app_loop.owner = None

    async def run_async(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Await ``coro`` run on the application's loop, from any other event loop."""
        if self.closed:
            coro.close()
            raise RuntimeError("this InProcessFlexchat is closed")
        future = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TimeoutError(f"flexchat did not answer within {timeout}s") from None

    # -- accounts ----------------------------------------------------------------------

    def create_account(self, friendly_name: str | None = None) -> tuple[str, str]:
        """A new account in this instance's store: its Sid and Auth Token."""
        from .auth import hash_secret, new_secret

        token = new_secret()
        sid = self._run_here(self.app.store.create_account(friendly_name, hash_secret(token), token))
        return sid, token

    def create_api_key(
        self, account_sid: str | None = None, friendly_name: str | None = None, key_type: str = "standard"
    ) -> tuple[str, str]:
        """A new API key (``SK...``) of the account (default: the first one): Sid and
        secret. ``key_type="main"`` makes one that may manage keys and tokens."""
        from .domain.credentials import create_key

        new = self._run_here(
            self.app.store.write(create_key(account_sid or self.account_sid, friendly_name, key_type))
        )
        return new.key.sid, new.secret

    @property
    def auth(self) -> tuple[str, str]:
        return (self.account_sid, self.auth_token)

    # -- requests ------------------------------------------------------------------------

    def build_request(
        self,
        method: str,
        url: str,
        params: Mapping[str, object] | None = None,
        data: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> tuple[dict[str, Any], bytes]:
        """The ASGI scope and body of one request, as a twilio HTTP client would send it.

        Only the hosts of served products are accepted (:func:`is_served_host`); anything
        else is :class:`UnsupportedHostError`.
        """
        method = method.upper()
        target = _url_target(url)
        if target is None:
            parts = urlsplit(url)
            host = parts.hostname or ""
            raise UnsupportedHostError(host or url, method, url)
        scheme, host, netloc, port, path, raw_path, url_query = target
        query = "&".join(q for q in (url_query, _encode_pairs(params)) if q)
        header_map = {name.lower(): value for name, value in (headers or {}).items()}
        if header_map.get("content-type", "").split(";")[0].strip() in ("application/json", "application/scim+json"):
            body = json.dumps(dict(data)).encode() if data else b""
        else:
            body = _encode_pairs(data).encode("ascii")
            if body:
                header_map.setdefault("content-type", "application/x-www-form-urlencoded")
        if auth is not None and "authorization" not in header_map:
            header_map["authorization"] = _cached_basic_auth(*auth)
        header_map["host"] = netloc
        if body or method in ("POST", "PUT", "PATCH"):
            header_map["content-length"] = str(len(body))
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": scheme,
            "path": path,
            "raw_path": raw_path,
            "query_string": query.encode("ascii"),
            "root_path": "",
            "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in header_map.items()],
            "client": ("127.0.0.1", 0),
            "server": (host, port),
        }
        return scope, body

    async def _call(self, scope: dict[str, Any], body: bytes) -> InProcessResponse:
        request_sent = False
        status: int | None = None
        response_headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal request_sent
            if request_sent:
                return {"type": "http.disconnect"}
            request_sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_headers[:] = [
                    (name.decode("latin-1"), value.decode("latin-1")) for name, value in message.get("headers", ())
                ]
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        await self.app(scope, receive, send)
        if status is None:
            raise RuntimeError(f"flexchat sent no response to {scope['method']} {scope['path']}")
        return InProcessResponse(status, response_headers, b"".join(chunks))

    def request(
        self,
        method: str,
        url: str,
        params: Mapping[str, object] | None = None,
        data: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
    ) -> InProcessResponse:
        """One request to the application, waited for from this thread."""
        scope, body = self.build_request(method, url, params, data, headers, auth)
        return self._run_here(self._call(scope, body), timeout)

    async def request_async(
        self,
        method: str,
        url: str,
        params: Mapping[str, object] | None = None,
        data: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
    ) -> InProcessResponse:
        """One request to the application, awaited from any event loop."""
        scope, body = self.build_request(method, url, params, data, headers, auth)
        return await self.run_async(self._call(scope, body), timeout)


# -- the twilio-facing part (twilio imported on first use) ------------------------------


@cache
def _twilio_classes() -> tuple[type[Any], type[Any]]:
    """Define the two HTTP clients; twilio is imported here, not with this module."""
    try:
        from requests.structures import CaseInsensitiveDict
        from twilio.http import AsyncHttpClient, HttpClient  # type: ignore[import-untyped]
        from twilio.http.request import Request as TwilioRequest  # type: ignore[import-untyped]
        from twilio.http.response import Response  # type: ignore[import-untyped]
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise ImportError(
            "flexchat.testing's twilio clients need twilio-python: pip install 'flexchat[testing]'"
        ) from error

    def prepare(
        client: Any,
        method: str,
        url: str,
        params: dict[str, object] | None,
        data: dict[str, object] | None,
        headers: dict[str, str] | None,
        auth: tuple[str, str] | None,
        timeout: float | None,
    ) -> float | None:
        if timeout is not None and timeout <= 0:
            raise ValueError(timeout)
        kwargs = {
            "method": method.upper(), "url": url, "params": params, "data": data, "headers": headers, "auth": auth
        }
        # twilio's log methods format their lines before the logger decides to drop them.
        if client.logger.isEnabledFor(logging.INFO):
            client.log_request(kwargs)
        client._test_only_last_request = TwilioRequest(**kwargs)
        client._test_only_last_response = None
        return timeout if timeout is not None else client.timeout

    def finish(client: Any, raw: InProcessResponse) -> Any:
        # CaseInsensitiveDict(raw.headers), its store filled directly: its __init__ and
        # update() go through MutableMapping's generic methods item by item. The same
        # dict, at a fraction of the cost.
        headers: Any = CaseInsensitiveDict.__new__(CaseInsensitiveDict)
        headers._store = collections.OrderedDict([(name.lower(), (name, value)) for name, value in raw.headers])
        response = Response(raw.status, raw.text, headers)
        if client.logger.isEnabledFor(logging.INFO):
            client.log_response(raw.status, response)
        client._test_only_last_response = response
        return response

    class FlexchatHttpClient(HttpClient):  # type: ignore[misc]
        """A ``twilio.http.HttpClient`` that answers Flex API requests in process.

        ``flexchat`` is the instance to route to (default: a new one, closed with
        :meth:`close` or when the client is garbage-collected).
        """

        def __init__(
            self, flexchat: InProcessFlexchat | None = None, *, timeout: float | None = None, logger: Any = None
        ) -> None:
            super().__init__(logger or logging.getLogger("flexchat.testing"), False, timeout)
            self.owns_flexchat = flexchat is None
            self.flexchat = flexchat or InProcessFlexchat()

        def request(
            self,
            method: str,
            url: str,
            params: dict[str, object] | None = None,
            data: dict[str, object] | None = None,
            headers: dict[str, str] | None = None,
            auth: tuple[str, str] | None = None,
            timeout: float | None = None,
            allow_redirects: bool = False,
        ) -> Any:
            """Send one request to the in-process flexchat; a ``twilio.http.response.Response``."""
            timeout = prepare(self, method, url, params, data, headers, auth, timeout)
            return finish(self, self.flexchat.request(method, url, params, data, headers, auth, timeout))

        def close(self) -> None:
            """Close the flexchat instance if this client created it."""
            if self.owns_flexchat:
                self.flexchat.close()

    class AsyncFlexchatHttpClient(AsyncHttpClient):  # type: ignore[misc]
        """A ``twilio.http.AsyncHttpClient`` (for ``*_async`` calls) answering in process."""

        def __init__(
            self, flexchat: InProcessFlexchat | None = None, *, timeout: float | None = None, logger: Any = None
        ) -> None:
            super().__init__(logger or logging.getLogger("flexchat.testing"), True, timeout)
            self.owns_flexchat = flexchat is None
            self.flexchat = flexchat or InProcessFlexchat()

        async def request(
            self,
            method: str,
            url: str,
            params: dict[str, object] | None = None,
            data: dict[str, object] | None = None,
            headers: dict[str, str] | None = None,
            auth: tuple[str, str] | None = None,
            timeout: float | None = None,
            allow_redirects: bool = False,
        ) -> Any:
            """Send one request to the in-process flexchat; a ``twilio.http.response.Response``."""
            timeout = prepare(self, method, url, params, data, headers, auth, timeout)
            raw = await self.flexchat.request_async(method, url, params, data, headers, auth, timeout)
            return finish(self, raw)

        async def close(self) -> None:
            """Close the flexchat instance if this client created it."""
            if self.owns_flexchat:
                await asyncio.to_thread(self.flexchat.close)

        async def __aenter__(self) -> AsyncFlexchatHttpClient:
            return self

        async def __aexit__(self, *exc_info: object) -> None:
            await self.close()

    return FlexchatHttpClient, AsyncFlexchatHttpClient


if TYPE_CHECKING:
    FlexchatHttpClient: type[Any]
    AsyncFlexchatHttpClient: type[Any]


def __getattr__(name: str) -> Any:
    # The twilio clients are built on first access so that importing this module (for
    # run_server, say) does not need twilio installed.
    if name == "FlexchatHttpClient":
        return _twilio_classes()[0]
    if name == "AsyncFlexchatHttpClient":
        return _twilio_classes()[1]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def twilio_client(
    async_: bool = False, *, flexchat: InProcessFlexchat | None = None, **client_options: Any
) -> Any:
    """A ready ``twilio.rest.Client`` bound to an in-process flexchat.

    By default the flexchat is new, with a fresh store and a newly created account whose
    Sid and Auth Token are the client's ``username`` and ``password``. With ``async_=True``
    the client's ``*_async`` calls work (and the sync ones do not, as with twilio's own
    ``AsyncTwilioHttpClient``). ``flexchat`` shares an existing instance (and its first
    account) instead; ``client_options`` go to ``Client`` (``edge``, ``region``, ...).
    The instance is ``client.http_client.flexchat``; ``client.http_client.close()``
    releases it early, otherwise it is released when the client is garbage-collected.
    """
    from twilio.rest import Client  # type: ignore[import-untyped]

    sync_class, async_class = _twilio_classes()
    http_client = (async_class if async_ else sync_class)(flexchat)
    instance = http_client.flexchat
    return Client(instance.account_sid, instance.auth_token, http_client=http_client, **client_options)


# -- playing the agent -----------------------------------------------------------------


class ControlError(RuntimeError):
    """A control API call that flexchat refused: its status and Twilio error body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"flexchat answered {status}: {body}")
        self.status = status
        self.body = body


# Any served host reaches the control API in process: routes go by path.
_CONTROL_BASE = "https://flex-api.twilio.com"


def _control(
    target: InProcessFlexchat | ServerProcess,
    path: str,
    data: Mapping[str, object] | None = None,
    auth: tuple[str, str] | None = None,
    method: str = "POST",
) -> Any:
    """One control API call, in process or over HTTP; its JSON, or :class:`ControlError`."""
    auth = auth or target.auth
    if isinstance(target, InProcessFlexchat):
        response = target.request(method, _CONTROL_BASE + path, data=data, auth=auth)
        status, body = response.status, response.body
    else:
        request = urllib.request.Request(
            target.base_url + path, data=_encode_pairs(data).encode() if method == "POST" else None, method=method,
            headers={"Authorization": _basic_auth(*auth), "Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, body = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
    value = json.loads(body) if body else None
    if status >= 400:
        raise ControlError(status, value)
    return value


def accept_task(target: InProcessFlexchat | ServerProcess, task_sid: str, agent: str, **kw: Any) -> Any:
    """The agent ``agent`` accepts the task (it becomes assigned) and joins its chat."""
    return _control(target, f"/flexchat/v1/Tasks/{task_sid}/Accept", {"Agent": agent}, **kw)


def send_agent_message(
    target: InProcessFlexchat | ServerProcess, channel_sid: str, agent: str, body: str, **kw: Any
) -> Any:
    """A message from the agent (``Source=SDK``): the channel's webhooks fire."""
    return _control(target, f"/flexchat/v1/Channels/{channel_sid}/Messages", {"Agent": agent, "Body": body}, **kw)


def send_to_flex(target: InProcessFlexchat | ServerProcess, channel_sid: str, **kw: Any) -> Any:
    """Studio's Send to Flex: the channel's task is made and the studio webhook removed."""
    return _control(target, f"/flexchat/v1/Channels/{channel_sid}/SendToFlex", {}, **kw)


def wrap_up_task(target: InProcessFlexchat | ServerProcess, task_sid: str, **kw: Any) -> Any:
    """The agent wraps up: the task moves to ``wrapping``."""
    return _control(target, f"/flexchat/v1/Tasks/{task_sid}/WrapUp", {}, **kw)


def complete_task(target: InProcessFlexchat | ServerProcess, task_sid: str, **kw: Any) -> Any:
    """The agent completes the task; a janitor-enabled flow's chat then ends."""
    return _control(target, f"/flexchat/v1/Tasks/{task_sid}/Complete", {}, **kw)


def end_chat(target: InProcessFlexchat | ServerProcess, channel_sid: str, **kw: Any) -> Any:
    """The agent ends the chat (``INACTIVE``)."""
    return _control(target, f"/flexchat/v1/Channels/{channel_sid}/End", {}, **kw)


def channel_timeline(target: InProcessFlexchat | ServerProcess, channel_sid: str, **kw: Any) -> Any:
    """The chat's messages, deliveries, task moves and executions, in order."""
    return _control(target, f"/flexchat/v1/Channels/{channel_sid}/Timeline", method="GET", **kw)["timeline"]
