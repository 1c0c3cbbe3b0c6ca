"""One frozen settings object, built once from ``FLEXCHAT_*`` variables and CLI flags.

Precedence: command-line flag, then environment variable, then default. Everything that
reads configuration takes a :class:`Settings`; nothing reads the environment itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

DEFAULT_DATABASE_URL = "sqlite:///flexchat.db"


class SettingsError(ValueError):
    """A configuration value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """Server configuration. Field ``x`` is read from ``FLEXCHAT_X``."""

    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = DEFAULT_DATABASE_URL
    workers: int = 1
    # Absolute base for every URL the server emits (url, meta URLs); None = from request.
    public_url: str | None = None
    # Honour X-Forwarded-Proto/-Host only when a trusted proxy sets them.
    trust_proxy: bool = False
    max_body_bytes: int = 1_048_576
    # Seconds a request may wait for the database before it gets a 503.
    db_timeout: float = 5.0
    db_pool_size: int = 10
    # Bootstrap credentials: serve makes sure this account exists with this token.
    account_sid: str | None = None
    auth_token: str | None = None
    log_level: str = "info"
    # One line per request, written by the app (never by the server): "text" or "json".
    access_log: bool = True
    access_log_format: str = "text"
    # Seconds between reloads of the fault rules; a change made through another process
    # applies here within this time.
    faults_refresh: float = 1.0
    # Webhook delivery (docs/webhooks.md): seconds one attempt may take, requests in
    # flight per process, the first retry's delay (doubling after each retry), how often
    # to look for events other processes wrote, and the destinations allowed (comma-
    # separated host names, *.suffix names, IP addresses or CIDRs; unset = any).
    webhook_timeout: float = 5.0
    webhook_concurrency: int = 32
    webhook_retry_backoff: float = 1.0
    webhook_poll_interval: float = 0.25
    webhook_allowed_hosts: str | None = None
    # Where the requests are sent from: "process", a sender process beside each API
    # process (the API's loop keeps only the database work; docs/webhooks.md),
    # "inline", the API process's own event loop (the in-process double's choice), or
    # "none": this process writes events to the outbox and sends none, leaving them to
    # the processes of the same database that do (API-only processes beside delivering
    # ones).
    webhook_sender: str = "process"
    # /readyz calls the outbox stuck (the process is not ready) when this process's
    # delivery worker has not looked for due events for this many seconds, or an event has
    # been due this long while the worker had room and nobody claimed it. 0 = no check.
    webhook_stuck_seconds: float = 60.0
    # Overload (limits.py): requests in flight per account and per process; 0 = no limit.
    # Both are per process: with N processes the totals are N times these.
    max_concurrent_requests_per_account: int = 100
    max_concurrent_requests: int = 1000
    # Seconds a refusal waits once an account (or the process) has been refused more
    # times in a second than its limit: a client that never backs off is slowed down
    # instead of keeping the process busy with 429s (limits.py). 0 = answer at once.
    refusal_delay: float = 0.1
    # How long a process trusts a verified credential: the most a revoked key or a
    # promoted-away token keeps working on another process (auth.py).
    auth_cache_seconds: float = 0.5

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``) and explicit overrides.

        ``overrides`` holds already-typed values (CLI flags); ``None`` values are ignored so
        that an absent flag falls through to the environment.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get("FLEXCHAT_" + field.name.upper())
            if raw is not None and raw != "":
                values[field.name] = _coerce(field.name, field.type, raw)
        for name, value in (overrides or {}).items():
            if value is not None:
                values[name] = value
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Reject values that cannot work, with a message naming the setting."""
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be 0..65535, not {self.port}")
        if self.workers < 1:
            raise SettingsError(f"workers must be at least 1, not {self.workers}")
        if self.max_body_bytes < 1024:
            raise SettingsError("max_body_bytes must be at least 1024")
        if self.db_timeout <= 0:
            raise SettingsError("db_timeout must be positive")
        if self.db_pool_size < 1:
            raise SettingsError("db_pool_size must be at least 1")
        if self.max_concurrent_requests_per_account < 0 or self.max_concurrent_requests < 0:
            raise SettingsError("concurrency limits must be 0 (off) or positive")
        if not 0 <= self.refusal_delay <= 10:
            raise SettingsError("refusal_delay must be from 0 to 10 seconds")
        if not 0 <= self.auth_cache_seconds <= 1:
            raise SettingsError("auth_cache_seconds must be between 0 and 1")
        if self.public_url is not None and not self.public_url.startswith(("http://", "https://")):
            raise SettingsError("public_url must start with http:// or https://")
        if self.webhook_timeout <= 0:
            raise SettingsError("webhook_timeout must be positive")
        if self.webhook_concurrency < 1:
            raise SettingsError("webhook_concurrency must be at least 1")
        if self.webhook_retry_backoff < 0:
            raise SettingsError("webhook_retry_backoff must not be negative")
        if self.webhook_stuck_seconds < 0:
            raise SettingsError("webhook_stuck_seconds must not be negative")
        if self.webhook_poll_interval <= 0:
            raise SettingsError("webhook_poll_interval must be positive")
        if self.webhook_sender not in ("process", "inline", "none"):
            raise SettingsError(f"webhook_sender must be process, inline or none, not {self.webhook_sender!r}")
        if self.webhook_allowed_hosts is not None:
            from .delivery.destinations import AllowList

            try:
                AllowList.parse(self.webhook_allowed_hosts)
            except ValueError as error:
                raise SettingsError(f"webhook_allowed_hosts: {error}") from None
        if self.access_log_format not in ("text", "json"):
            raise SettingsError(f"access_log_format must be text or json, not {self.access_log_format!r}")
        if not 0.05 <= self.faults_refresh <= 3600:
            raise SettingsError("faults_refresh must be from 0.05 to 3600 seconds")
        # An Account Sid alone is fine (seed, api-key create and account rotate-token act on
        # it); a token alone names no account. serve checks the pair (check_bootstrap).
        if self.auth_token is not None and self.account_sid is None:
            raise SettingsError("FLEXCHAT_AUTH_TOKEN needs FLEXCHAT_ACCOUNT_SID: the token of which account?")

    def check_bootstrap(self) -> None:
        """For ``serve``: the bootstrap account needs both its Sid and its token."""
        if (self.account_sid is None) != (self.auth_token is None):
            raise SettingsError(
                "FLEXCHAT_ACCOUNT_SID and FLEXCHAT_AUTH_TOKEN go together: serve makes sure that account "
                "exists with that token"
            )

    def to_environ(self) -> dict[str, str]:
        """These settings as ``FLEXCHAT_*`` variables, for worker processes to reload."""
        out: dict[str, str] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None:
                out["FLEXCHAT_" + field.name.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
        return out

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed."""
        return replace(self, **changes)


def setting_environ_name(name: str) -> str:
    """The environment variable of setting ``name``: ``database_url`` -> ``FLEXCHAT_DATABASE_URL``."""
    return "FLEXCHAT_" + name.upper()


# scheme://user:password@host...: everything up to the last "@" of the authority is user info.
_AUTHORITY = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<authority>[^/?#]*)(?P<rest>.*)$", re.S)
_PASSWORD_PARAM = re.compile(r"(?P<key>[?&]password=)[^&#]*", re.I)


def redact_url(url: str) -> str:
    """``url`` with its password (``user:PASSWORD@`` or ``?password=``) shown as ``***``.

    For banners, messages and logs: a database URL is configuration that may be printed,
    its password never is. Works on malformed URLs too, which are the ones error messages
    quote.
    """
    found = _AUTHORITY.match(url)
    if found is None:
        return _PASSWORD_PARAM.sub(r"\g<key>***", url)
    authority = found["authority"]
    if "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        if ":" in userinfo:
            authority = userinfo.split(":", 1)[0] + ":***@" + host
    return found["scheme"] + authority + _PASSWORD_PARAM.sub(r"\g<key>***", found["rest"])


def url_secrets(url: str) -> list[str]:
    """The passwords in ``url`` as they may appear in a message: raw and percent-decoded."""
    from urllib.parse import unquote

    found = []
    match = _AUTHORITY.match(url)
    if match is not None and "@" in match["authority"]:
        userinfo = match["authority"].rsplit("@", 1)[0]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
    found.extend(m.group(0).split("=", 1)[1] for m in _PASSWORD_PARAM.finditer(url))
    return [variant for secret in found if secret for variant in {secret, unquote(secret)}]


def _coerce(name: str, type_name: Any, raw: str) -> Any:
    kind = str(type_name)
    try:
        if kind.startswith("bool"):
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
    except ValueError:
        raise SettingsError(f"FLEXCHAT_{name.upper()}={raw!r} is not a valid {kind}") from None
    return raw
