"""The console's HTTP side: its pages and files, its JSON endpoints under
``/console/api/``, and the live transcript stream.

Endpoints run the same domain scripts as the Twilio API (``create_message``,
``update_chat_channel``, the Faults object), never HTTP calls to flexchat itself, and
only for the session's account. Every state change needs the session's CSRF token in
``X-CSRF-Token``; login needs neither (it creates the session) but refuses a foreign
Origin. Pages carry a strict Content-Security-Policy: scripts and styles come only from
``/console/static/``, nothing inline.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import importlib.resources
import logging
import re
import time
from collections.abc import Awaitable, Callable
from operator import itemgetter
from typing import Any

import orjson

from ..access_log import mask_params
from ..auth import Authenticator
from ..context import AppContext
from ..domain import agent, studio, taskrouter
from ..domain.records import ChatMessage
from ..errors import InvalidParameter, NotFound, TwilioError, Unauthorized
from ..faults import FAMILIES, FaultRule, updated_rule
from ..faults import list_faults as read_faults
from ..http import Request, Response, Send, json_response
from ..paging import Window
from ..sids import is_sid
from ..store.sql import Row
from . import session as sessions
from .request_log import RequestLog
from .store import channel_page, find_channel, reset_account, timeline, transcript_after, transcript_tail

log = logging.getLogger("flexchat.console")

PREFIX = "/console"
API = "/console/api"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The transcript stream polls the store (so it sees messages any process wrote) this often.
POLL_SECONDS = 0.5
# A stream ends after this long (the browser reconnects with Last-Event-ID): a server
# shutting down never waits on an idle console for more than this.
STREAM_SECONDS = 300.0
HEARTBEAT_SECONDS = 15.0
# The session of a long stream is checked again this often (a rotated token ends it).
RECHECK_SECONDS = 60.0
PAGE_SIZE = 50
MAX_BODY = 64 * 1024
# The agent's controls (domain/agent.py, also /flexchat/v1/...); the console runs the same
# scripts. The timeline of tasks and executions is the control API's.
AGENT_ROUTES = {
    "timeline": "/flexchat/v1/Channels/{Sid}/Timeline",
    "accept": "/flexchat/v1/Tasks/{Sid}/Accept",
}
AGENT_ACTIONS = ("/accept", "/sendtoflex", "/wrapup", "/complete")
_CHANNEL_PATH = re.compile(r"^/console/api/channels/(?P<sid>[^/]+)(?P<rest>/[a-z]+)?$")
_FAULT_PATH = re.compile(r"^/console/api/faults/(?P<family>[^/]+)$")

Handler = Callable[[Request, "sessions.Session"], Awaitable[Response]]


class ConsoleError(TwilioError):
    """A console request refused: a missing or wrong CSRF token, a foreign Origin."""

    status, code = 403, 20403


class NotLoggedIn(TwilioError):
    """No valid session (or wrong credentials at login). Unlike the API's 401 it sends no
    ``WWW-Authenticate: Basic``, which would make the browser show its own login box."""

    status, code = 401, 20003


def _static_files() -> dict[str, tuple[bytes, str, str]]:
    """Every file under ``static/``, read once: body, content type, ETag."""
    files: dict[str, tuple[bytes, str, str]] = {}
    root = importlib.resources.files("flexchat.console") / "static"
    for item in root.iterdir():
        if item.is_file():
            name = item.name
            suffix = name[name.rfind("."):] if "." in name else ""
            body = item.read_bytes()
            files[name] = (body, STATIC_TYPES.get(suffix, "application/octet-stream"),
                           '"' + hashlib.sha256(body).hexdigest()[:16] + '"')
    return files


def _status(attributes: str | None) -> str | None:
    if not attributes:
        return None
    try:
        value = orjson.loads(attributes)
    except orjson.JSONDecodeError:
        return None
    return str(value["status"]) if isinstance(value, dict) and "status" in value else None


def _message(message: ChatMessage) -> dict[str, Any]:
    return {
        "sid": message.sid, "index": message.message_index, "from": message.author, "body": message.body,
        "attributes": message.attributes, "date_created": message.date_created,
    }


class Console:
    """Serves ``/console`` for one app."""

    def __init__(self, ctx: AppContext, authenticator: Authenticator, has_route: Callable[[str], bool]) -> None:
        self.ctx = ctx
        self.authenticator = authenticator
        self.request_log = RequestLog()
        self.capabilities = {name: has_route(pattern) for name, pattern in AGENT_ROUTES.items()}
        self._files: dict[str, tuple[bytes, str, str]] | None = None
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "/session"): self.get_session,
            ("POST", "/logout"): self.logout,
            ("GET", "/flows"): self.list_flows,
            ("GET", "/channels"): self.list_channels,
            ("GET", "/requests"): self.list_requests,
            ("GET", "/faults"): self.list_faults,
            ("POST", "/reset"): self.reset,
        }

    @property
    def files(self) -> dict[str, tuple[bytes, str, str]]:
        if self._files is None:
            self._files = _static_files()
        return self._files

    # -- dispatch ----------------------------------------------------------------------

    async def handle(self, request: Request, send: Send) -> Response | None:
        """The response to a ``/console`` request, or None when it was streamed already."""
        path = request.path
        if not path.startswith(API + "/"):
            return self.page(request)
        if request.method == "POST" and path == API + "/login":
            return await self.login(request)
        session = await sessions.verify(self.ctx.store, sessions.read_cookie(request.headers.get("cookie")))
        if session is None:
            raise NotLoggedIn("Log in to the console first")
        request.account_sid = session.account_sid
        if request.method not in ("GET", "HEAD") and not sessions.csrf_ok(
            session, request.headers.get(sessions.CSRF_HEADER)
        ):
            raise ConsoleError("Missing or invalid CSRF token")
        handler = self.routes.get((request.method, path[len(API):]))
        if handler is not None:
            return await handler(request, session)
        match = _CHANNEL_PATH.match(path)
        if match is not None:
            sid, rest = match["sid"], match["rest"] or ""
            if not is_sid(sid, "CH"):
                raise NotFound(path)
            if request.method == "GET" and rest == "":
                return await self.fetch_channel(session, sid)
            if request.method == "GET" and rest == "/timeline":
                return await self.channel_timeline(session, sid)
            if request.method == "GET" and rest == "/stream":
                await self.stream(request, send, session, sid)
                return None
            if request.method == "POST" and rest == "/messages":
                return await self.reply(request, session, sid)
            if request.method == "POST" and rest == "/end":
                return await self.end_chat(session, sid)
            if request.method == "POST" and rest in AGENT_ACTIONS:
                return await self.agent_action(request, session, sid, rest)
        match = _FAULT_PATH.match(path)
        if match is not None and request.method in ("POST", "DELETE"):
            return await self.change_fault(request, session, match["family"])
        raise NotFound(path)

    def page(self, request: Request) -> Response:
        """The single page (any path the front end routes) and its static files."""
        if request.method not in ("GET", "HEAD"):
            raise NotFound(request.path)
        path = request.path
        if path.startswith(PREFIX + "/static/"):
            found = self.files.get(path[len(PREFIX + "/static/"):])
            if found is None:
                raise NotFound(path)
            body, content_type, etag = found
            headers = {**SECURITY_HEADERS, "ETag": etag, "Cache-Control": "no-cache"}
            if request.headers.get("if-none-match") == etag:
                return Response(304, b"", headers, None)
            return Response(200, body, headers, content_type)
        body, content_type, _ = self.files["index.html"]
        return Response(200, body, {**SECURITY_HEADERS, "Cache-Control": "no-store"}, content_type)

    # -- session -----------------------------------------------------------------------

    def _secure(self, request: Request) -> bool:
        return self.ctx.base_url(request).startswith("https://")

    async def login(self, request: Request) -> Response:
        """Check Account SID + auth token, or API key SID + secret, with the API's own
        Authenticator; set the session cookie."""
        origin = request.headers.get("origin")
        if origin is not None and origin != self.ctx.base_url(request):
            raise ConsoleError("Cross-origin login refused")
        body = await request.json_object(MAX_BODY)
        sid, secret = str(body.get("sid", "")).strip(), str(body.get("secret", ""))
        if not sid or not secret:
            raise InvalidParameter("Enter an Account SID or API key SID and its secret")
        header = "Basic " + base64.b64encode(f"{sid}:{secret}".encode()).decode()
        try:
            principal = await self.authenticator.authenticate(header)
        except Unauthorized:
            raise NotLoggedIn("Those credentials match no account or API key") from None
        credential = await self.ctx.store.find_credential(sid)
        if credential is None:  # deleted between the two reads
            raise NotLoggedIn("Those credentials match no account or API key")
        request.account_sid = principal.account_sid
        cookie = sessions.issue(self.ctx.store, sid, credential.secret_hash)
        verified = await sessions.verify(self.ctx.store, cookie)
        assert verified is not None
        return json_response(
            self._session_json(verified),
            headers={"Set-Cookie": sessions.cookie_header(cookie, self._secure(request)), "Cache-Control": "no-store"},
        )

    def _session_json(self, session: sessions.Session) -> dict[str, Any]:
        return {
            "account_sid": session.account_sid,
            "credential_sid": session.credential_sid,
            "expires": session.expires,
            "csrf_token": session.csrf,
            "capabilities": self.capabilities,
            "fault_families": list(FAMILIES),
        }

    async def get_session(self, request: Request, session: sessions.Session) -> Response:
        """Who is logged in, and the CSRF token the page sends with state changes."""
        return json_response(self._session_json(session), headers={"Cache-Control": "no-store"})

    async def logout(self, request: Request, session: sessions.Session) -> Response:
        """Clear the cookie (the cookie is the whole session: nothing else to delete)."""
        return json_response(
            {"logged_out": True}, headers={"Set-Cookie": sessions.cookie_header("", self._secure(request), 0)}
        )

    # -- reads -------------------------------------------------------------------------

    async def list_flows(self, request: Request, session: sessions.Session) -> Response:
        """The account's Flex Flows, oldest first (accounts have a handful)."""
        after = _int(request.query.get("after"), 0)
        flows, more = await self.ctx.store.list_flex_flows(session.account_sid, None, Window(PAGE_SIZE, after=after))
        return json_response({
            "flows": [{
                "sid": f.sid, "friendly_name": f.friendly_name, "chat_service_sid": f.chat_service_sid,
                "channel_type": f.channel_type, "enabled": f.enabled, "integration_type": f.integration_type,
                "integration": mask_params({k: str(v) for k, v in f.integration.items()}),
                "long_lived": f.long_lived, "date_created": f.date_created, "seq": f.seq,
            } for f in flows],
            "next_after": flows[-1].seq if more and flows else None,
        })

    async def list_channels(self, request: Request, session: sessions.Session) -> Response:
        """One page of channels, newest first: ``before=<seq>`` for older ones,
        ``after=<seq>`` for newer ones."""
        before = request.query.get("before")
        after = request.query.get("after")
        rows, older, newer = await self.ctx.store.read(channel_page(
            session.account_sid, PAGE_SIZE, _int(before, 0) if before else None, _int(after, 0) if after else None
        ))
        return json_response({"channels": [_channel(row) for row in rows], "older": older, "newer": newer})

    async def fetch_channel(self, session: sessions.Session, sid: str) -> Response:
        """One channel and the newest messages of its transcript."""
        row = await self.ctx.store.read(find_channel(session.account_sid, sid))
        if row is None:
            raise NotFound(f"/console/api/channels/{sid}")
        messages = await self.ctx.store.read(transcript_tail(session.account_sid, sid, 200))
        return json_response({"channel": _channel(row), "messages": [_message(m) for m in messages]})

    async def channel_timeline(self, session: sessions.Session, sid: str) -> Response:
        """Messages and the webhook events they raised, with each delivery attempt, the
        task moves and Studio executions; each item's ``position`` is its place in the
        channel's timeline (domain/agent.timeline_key: finer than ``date_created``)."""
        if await self.ctx.store.read(find_channel(session.account_sid, sid)) is None:
            raise NotFound(f"/console/api/channels/{sid}")
        timed_messages, timed_events = await self.ctx.store.read(timeline(session.account_sid, sid, 200))
        moves = await self.ctx.store.read(taskrouter.channel_task_events(session.account_sid, sid))
        executions = await self.ctx.store.read(studio.executions_of_channel(session.account_sid, sid))
        messages = [(key, _message(m)) for key, m in timed_messages]
        tasks = [
            (agent.timeline_key("task", m.date_created, m.created_us, m.seq),
             {"task_sid": m.task_sid, "from_status": m.from_status, "to_status": m.to_status,
              "reason": m.reason, "date_created": m.date_created})
            for m in moves
        ]
        runs = [
            (agent.timeline_key("execution", e.date_created, e.created_us, e.seq),
             {"sid": e.sid, "flow_sid": e.flow_sid, "status": e.status, "date_created": e.date_created})
            for e in executions
        ]
        for position, (_, item) in enumerate(sorted([*messages, *timed_events, *tasks, *runs], key=itemgetter(0))):
            item["position"] = position
        return json_response({
            "messages": [item for _, item in messages],
            "events": [item for _, item in timed_events],
            "tasks": [item for _, item in tasks],
            "executions": [item for _, item in runs],
            "capabilities": self.capabilities,
        })

    async def list_requests(self, request: Request, session: sessions.Session) -> Response:
        """The account's recent API calls served by this process, newest first."""
        return json_response({"requests": self.request_log.recent(session.account_sid)})

    async def list_faults(self, request: Request, session: sessions.Session) -> Response:
        """Every family's fault rule of the account (all zero where none is set)."""
        stored = {rule.family: rule for rule in await self.ctx.store.read(read_faults(session.account_sid))}
        rules = [stored.get(family) or FaultRule(session.account_sid, family) for family in FAMILIES]
        base = self.ctx.base_url(request)
        return json_response({"faults": [rule.to_wire(base) for rule in rules]})

    # -- changes -----------------------------------------------------------------------

    async def reply(self, request: Request, session: sessions.Session, sid: str) -> Response:
        """A message from the agent in the channel, through Chat's ``create_message``,
        with the channel's webhooks (onMessageSent) as an SDK message would raise them."""
        row = await self.ctx.store.read(find_channel(session.account_sid, sid))
        if row is None:
            raise NotFound(f"/console/api/channels/{sid}")
        body = await request.json_object(MAX_BODY)
        text = str(body.get("body", ""))
        author = str(body.get("from", "")).strip() or "agent"
        if not text.strip():
            raise InvalidParameter("Write a message first")
        # As the agent's Flex UI sent it: Source=SDK, the channel's webhooks whatever the headers.
        message = await self.ctx.store.write(agent.send_message(session.account_sid, sid, author, text))
        return json_response(_message(message), 201)

    async def agent_action(self, request: Request, session: sessions.Session, sid: str, action: str) -> Response:
        """The agent's buttons: accept the channel's task, Send to Flex, wrap up, complete."""
        row = await self.ctx.store.read(find_channel(session.account_sid, sid))
        if row is None:
            raise NotFound(f"/console/api/channels/{sid}")
        body = await request.json_object(MAX_BODY)
        task_sid = row[6]
        if action == "/sendtoflex":
            await self.ctx.store.write(agent.send_to_flex(session.account_sid, sid))
        elif task_sid is None:
            raise InvalidParameter("This channel has no task: Send to Flex first, or wait for the customer's message")
        elif action == "/accept":
            name = str(body.get("from", "")).strip() or "agent"
            await self.ctx.store.write(agent.accept_task(session.account_sid, task_sid, name))
        elif action == "/wrapup":
            await self.ctx.store.write(agent.wrap_up(session.account_sid, task_sid))
        else:
            await self.ctx.store.write(agent.complete(session.account_sid, task_sid))
        updated = await self.ctx.store.read(find_channel(session.account_sid, sid))
        assert updated is not None
        return json_response({"channel": _channel(updated)})

    async def end_chat(self, session: sessions.Session, sid: str) -> Response:
        """The agent's End chat (domain/agent.end_chat, as the control API's): INACTIVE,
        the Flex channel closed, onChannelUpdated, an assigned task moved to wrapping."""
        if await self.ctx.store.read(find_channel(session.account_sid, sid)) is None:
            raise NotFound(f"/console/api/channels/{sid}")
        await self.ctx.store.write(agent.end_chat(session.account_sid, sid))
        updated = await self.ctx.store.read(find_channel(session.account_sid, sid))
        assert updated is not None
        return json_response({"channel": _channel(updated)})

    async def change_fault(self, request: Request, session: sessions.Session, family: str) -> Response:
        """Switch one family's faults on (POST, the control API's parameters as JSON) or off."""
        if family not in FAMILIES:
            raise InvalidParameter(f"Invalid Family: {family!r} is not one of {', '.join(FAMILIES)}")
        faults = self.ctx.faults
        if request.method == "DELETE":
            await faults.clear(session.account_sid, family)
            return json_response({"family": family, "cleared": True})
        body = await request.json_object(MAX_BODY)
        current = next(
            (r for r in await self.ctx.store.read(read_faults(session.account_sid)) if r.family == family),
            FaultRule(session.account_sid, family),
        )
        rule = updated_rule(current, {str(k): str(v) for k, v in body.items()})
        stored = await faults.put(rule)
        return json_response(stored.to_wire(self.ctx.base_url(request)))

    async def reset(self, request: Request, session: sessions.Session) -> Response:
        """Delete everything the account owns except the account and its credentials.
        The body must repeat the Account SID: the confirmation the page asks for."""
        body = await request.json_object(MAX_BODY)
        if body.get("confirm") != session.account_sid:
            raise InvalidParameter("Type the Account SID to confirm the reset")
        deleted = await self.ctx.store.write(reset_account(session.account_sid))
        await self.ctx.faults.reload()
        self.request_log.clear(session.account_sid)
        return json_response({"deleted": deleted})

    # -- the live transcript -----------------------------------------------------------

    async def stream(self, request: Request, send: Send, session: sessions.Session, sid: str) -> None:
        """Server-sent events: each new message of the channel as ``event: message`` with
        its index as the event id. Polls the store by message index every POLL_SECONDS,
        so a message written by any process shows up; one indexed read per poll."""
        row = await self.ctx.store.read(find_channel(session.account_sid, sid))
        if row is None:
            raise NotFound(request.path)
        last = _int(request.headers.get("last-event-id") or request.query.get("after"), -1)
        await send({
            "type": "http.response.start", "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-store"),
                (b"x-accel-buffering", b"no"),
                *((name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()),
            ],
        })
        gone = asyncio.Event()

        async def watch() -> None:
            await request.disconnected()
            gone.set()

        watcher = asyncio.get_running_loop().create_task(watch())
        started = checked = beat = time.monotonic()
        try:
            await send({"type": "http.response.body", "body": b"retry: 1000\n\n", "more_body": True})
            while not gone.is_set():
                now = time.monotonic()
                if now - started > STREAM_SECONDS:
                    break
                if now - checked > RECHECK_SECONDS:
                    checked = now
                    cookie = sessions.read_cookie(request.headers.get("cookie"))
                    if await sessions.verify(self.ctx.store, cookie) is None:
                        break
                messages = await self.ctx.store.read(transcript_after(session.account_sid, sid, last, 100))
                chunks = []
                for message in messages:
                    last = message.message_index
                    data = orjson.dumps(_message(message)).decode()
                    chunks.append(f"id: {last}\nevent: message\ndata: {data}\n\n")
                if not chunks and now - beat > HEARTBEAT_SECONDS:
                    chunks.append(": keep-alive\n\n")
                if chunks:
                    beat = now
                    await send({"type": "http.response.body", "body": "".join(chunks).encode(), "more_body": True})
                if len(messages) < 100:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(POLL_SECONDS):  # not wait_for: see DeliveryWorker._run
                            await gone.wait()
            if not gone.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away mid-write
        except Exception as error:
            # The answer has started: no error body can follow. End the stream (the
            # browser reconnects) and say why in the server's log.
            log.warning("console stream of %s ended: %s: %s", sid, error.__class__.__name__, error)
            if not gone.is_set():
                with contextlib.suppress(Exception):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            await asyncio.wait({watcher})  # not `await`: a cancel of this stream must not be swallowed


def _int(raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidParameter(f"Invalid number: {raw!r}") from None


def _channel(row: Row) -> dict[str, Any]:
    (seq, sid, flow_sid, service_sid, identity, friendly_name, task_sid, active, date_created,
     attributes, messages_count) = row
    return {
        "seq": seq, "sid": sid, "flex_flow_sid": flow_sid, "chat_service_sid": service_sid, "identity": identity,
        "friendly_name": friendly_name, "task_sid": task_sid, "open": bool(active), "date_created": date_created,
        "status": _status(attributes), "attributes": attributes, "messages_count": messages_count or 0,
    }
