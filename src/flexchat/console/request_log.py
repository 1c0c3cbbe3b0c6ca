"""The console's request log: each account's recent API calls, in memory, per process.

Chosen over a table: recording costs one deque append on the API's hot path (no write,
no fsync); the raw query and body are kept and only decoded and masked
(``access_log.mask_params``) when the console asks. The price: with several API
processes each remembers the calls it served, and a restart forgets them
(docs/console.md).
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from ..access_log import mask_params
from ..http import FORM_TYPE, decode_form

PER_ACCOUNT = 200
MAX_ACCOUNTS = 1_000
MAX_BODY = 4_096


# Not frozen: built on every API request, and a frozen dataclass's __init__ costs several
# times a plain one's (see models.Channel). Nothing mutates an Entry.
@dataclass(slots=True)
class Entry:
    """One API call as it arrived and was answered."""

    time: float
    method: str
    path: str
    route: str
    status: int
    duration_ms: float
    query: bytes
    body: bytes
    fault: str

    def to_json(self) -> dict[str, Any]:
        """The console's view: parameters decoded, secrets masked."""
        params: dict[str, str] = {}
        for raw in (self.query, self.body):
            try:
                params.update(decode_form(raw, "parameters"))
            except Exception:
                params["(body)"] = f"{len(raw)} bytes, not form-encoded"
        return {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.time)) + f".{int(self.time % 1 * 1000):03d}Z",
            "method": self.method,
            "path": self.path,
            "route": self.route,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 2),
            "params": mask_params(params),
            "fault": self.fault or None,
        }


class RequestLog:
    """The last :data:`PER_ACCOUNT` calls of each of the last :data:`MAX_ACCOUNTS` accounts."""

    def __init__(self, per_account: int = PER_ACCOUNT, max_accounts: int = MAX_ACCOUNTS) -> None:
        self.per_account = per_account
        self.max_accounts = max_accounts
        self._entries: OrderedDict[str, deque[Entry]] = OrderedDict()

    def add(
        self, account_sid: str, method: str, path: str, route: str, status: int, seconds: float,
        query: bytes, body: bytes | None, content_type: str, fault: str,
    ) -> None:
        """Remember one call; only a form body is kept (JSON bodies may be large documents)."""
        entries = self._entries.get(account_sid)
        if entries is None:
            if len(self._entries) >= self.max_accounts:
                self._entries.popitem(last=False)
            entries = self._entries[account_sid] = deque(maxlen=self.per_account)
        kept = body[:MAX_BODY] if body and content_type.split(";")[0].strip().lower() in ("", FORM_TYPE) else b""
        entries.append(Entry(time.time(), method, path, route, status, seconds * 1000, query, kept, fault))

    def recent(self, account_sid: str, limit: int = PER_ACCOUNT) -> list[dict[str, Any]]:
        """The account's calls, newest first."""
        entries = self._entries.get(account_sid)
        if not entries:
            return []
        return [entry.to_json() for entry in list(reversed(entries))[:limit]]

    def clear(self, account_sid: str) -> None:
        """Forget the account's calls (reset)."""
        self._entries.pop(account_sid, None)
