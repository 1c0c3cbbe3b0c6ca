"""The access log: one line per request, written by the app itself.

The app writes it, not the ASGI server, so it is the same under uvicorn or any other
server, carries what only the app knows (the route, the account, the request id the
response's ``Twilio-Request-Id`` shows, the fault that shaped the answer), and there is
exactly one line per request: ``flexchat serve`` turns the server's own access log off.

Lines go straight to a stream (stdout by default), one ``write`` and ``flush`` each,
not through :mod:`logging`: a ``logging`` call with a stream handler was measured at
6.5 us, the direct write at 0.7 us (docs/operations.md), on a request of ~120 us.
A line is one ``write`` of well under ``PIPE_BUF`` bytes (the target is cut at
``MAX_TARGET``), so worker processes sharing stdout never interleave within a line.

Never in a line: the Authorization header, or the value of any query parameter whose
name suggests a secret (``AuthToken``, ``Password``, ``Secret``, ...), which shows as
``***``. Bodies are not logged at all.
"""

from __future__ import annotations

import re
import sys
import time
from typing import IO, Any
from urllib.parse import unquote_plus

import orjson

from .http import Request

FORMATS = ("text", "json")
MASK = "***"
# Parameter names whose values are never logged. Broad on purpose: a false positive
# costs a masked value in a log line, a false negative leaks a credential.
SECRET_NAME = re.compile(r"token|password|passwd|secret|signature|credential|auth|api_?key|private", re.IGNORECASE)
# Names that match SECRET_NAME but hold none: a page token is a signed list position.
NOT_SECRET = frozenset({"pagetoken"})
# What any secret name contains, lower case: a cheap first look at the whole query.
_HINT = re.compile(r"tok|pass|secret|sig|cred|auth|key|priv")
MAX_TARGET = 2048
# A client controls the path: control characters, quotes and backslashes are escaped so
# a request cannot forge a second log line or break the quoted field.
_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(32), 127)} | {ord('"'): '\\"', ord("\\"): "\\\\"}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\]')


def _escaped(text: str) -> str:
    # str.translate with a dict costs ~1 us even when nothing changes; the search, 0.1 us.
    return text.translate(_ESCAPES) if _UNSAFE.search(text) else text


def is_secret_name(name: str) -> bool:
    """Whether a parameter of this name holds a secret whose value must not be shown."""
    return SECRET_NAME.search(name) is not None and name.lower() not in NOT_SECRET


def mask_query(query: str) -> str:
    """``query`` with the value of every secret-looking parameter replaced by ``***``."""
    if not query or ("%" not in query and "+" not in query and _HINT.search(query.lower()) is None):
        # Nothing could be a secret's name (an escaped name takes the long way): the
        # common case, at a third of the cost of looking at each name.
        return query
    pairs = query.split("&")
    changed = False
    for index, pair in enumerate(pairs):
        name, sep, _ = pair.partition("=")
        if sep and is_secret_name(unquote_plus(name)):
            pairs[index] = f"{name}={MASK}"
            changed = True
    return "&".join(pairs) if changed else query


def mask_params(params: dict[str, str]) -> dict[str, str]:
    """A copy of decoded parameters with secret values masked (for request logs that
    show parameters, e.g. the console's)."""
    return {name: MASK if is_secret_name(name) else value for name, value in params.items()}


def request_target(request: Request) -> str:
    """Path and query as the client sent them (undecoded), secrets masked, cut to MAX_TARGET."""
    scope = request.scope
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else str(scope["path"])
    query = scope.get("query_string", b"").decode("latin-1")
    target = path + "?" + mask_query(query) if query else path
    if len(target) > MAX_TARGET:
        target = target[:MAX_TARGET] + "..."
    return target


class AccessLog:
    """Writes one line per request to ``stream``, as text or as JSON lines."""

    def __init__(self, fmt: str = "text", stream: IO[str] | None = None, trust_proxy: bool = False) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"access log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        self.json = fmt == "json"
        self.stream = stream if stream is not None else sys.stdout
        self.trust_proxy = trust_proxy
        self._second = -1
        self._stamp = ""

    def _time(self) -> str:
        # Formatting the date costs ~1.4 us; it changes once a second.
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._stamp}.{int((now - second) * 1000):03d}Z"

    def _remote(self, request: Request) -> str:
        if self.trust_proxy:
            forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
            if forwarded:
                return forwarded
        client = request.scope.get("client")
        return str(client[0]) if client else "-"

    def write(self, request: Request, status: int, seconds: float, request_id: str, route: str) -> None:
        """Log one finished request (``status`` 499: the client left before its answer)."""
        target = request_target(request)
        if self.json:
            entry: dict[str, Any] = {
                "time": self._time(),
                "remote": self._remote(request),
                "account_sid": request.account_sid or None,
                "method": request.method,
                "target": target,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "request_id": request_id,
            }
            if request.fault:
                entry["fault"] = request.fault
            line = orjson.dumps(entry).decode() + "\n"
        else:
            fault = f' fault="{request.fault}"' if request.fault else ""
            line = (
                f'{_escaped(self._remote(request))} {request.account_sid or "-"} [{self._time()}]'
                f' "{_escaped(request.method)} {_escaped(target)}"'
                f" {status} {seconds * 1000:.2f}ms {request_id}{fault}\n"
            )
        try:
            self.stream.write(line)
            self.stream.flush()
        except (OSError, ValueError):
            # A closed or broken log stream must not fail requests; the answer was sent.
            pass
