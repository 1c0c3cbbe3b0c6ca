"""What endpoints need besides the request: the store, the settings, URL building,
and the operations parts (metrics, faults, readiness checks) other modules extend."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .http import Request
from .rendered import RenderedRows
from .settings import Settings
from .store import Store

if TYPE_CHECKING:
    from .faults import Faults
    from .metrics import Metrics
    from .operations import ReadinessCheck

# A Host value that is safe to echo into URLs: a name, IPv4 or [IPv6] address and an
# optional port. Anything else ("[[[", "a:b:c") would make the emitted URLs invalid URIs.
_HOST_RE = re.compile(r"(?:[A-Za-z0-9.\-_~]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")


@dataclass
class AppContext:
    """Shared by every request of one application instance."""

    settings: Settings
    store: Store
    metrics: Metrics
    faults: Faults
    # The readiness checks of /readyz, in order; modules append theirs (the outbox's
    # "not stuck") when the app is assembled.
    readiness_checks: list[ReadinessCheck] = field(default_factory=list)
    # Called with an Account Sid after its keys or tokens changed: this process stops
    # trusting what it remembered of them at once (auth.Authenticator.forget).
    forget_credentials: Callable[[str], None] = field(default=lambda account_sid: None)
    # The Chat message list's rendered messages (api/chat/messages.py), this process's.
    rendered_messages: RenderedRows = field(default_factory=RenderedRows)

    def base_url(self, request: Request) -> str:
        """The absolute base of the URLs this response contains, without trailing slash.

        The configured public URL wins; otherwise the request's own scheme and Host, and
        X-Forwarded-Proto/-Host only when the settings say a trusted proxy sets them.
        """
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        headers = request.headers
        scheme = str(request.scope.get("scheme", "http"))
        host = headers.get("host")
        if self.settings.trust_proxy:
            proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
            if proto in ("http", "https"):
                scheme = proto
            host = headers.get("x-forwarded-host", "").split(",")[0].strip() or host
        if not host or not _HOST_RE.fullmatch(host):
            server = request.scope.get("server") or ("127.0.0.1", 80)
            address = f"[{server[0]}]" if ":" in str(server[0]) else server[0]
            host = f"{address}:{server[1]}"
        return f"{scheme}://{host}"
