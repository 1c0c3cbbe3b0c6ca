"""One frozen settings object, built once from ``FLEXCHAT_*`` variables and CLI flags.

Precedence: command-line flag, then environment variable, then default. Everything that
reads configuration takes a :class:`Settings`; nothing reads the environment itself.
"""

from __future__ import annotations

import os
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
    access_log: bool = True
    # Overload (limits.py): requests in flight per account and per process; 0 = no limit.
    # Both are per process: with N processes the totals are N times these.
    max_concurrent_requests_per_account: int = 100
    max_concurrent_requests: int = 1000
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
        if not 0 <= self.auth_cache_seconds <= 1:
            raise SettingsError("auth_cache_seconds must be between 0 and 1")
        if self.public_url is not None and not self.public_url.startswith(("http://", "https://")):
            raise SettingsError("public_url must start with http:// or https://")
        if (self.account_sid is None) != (self.auth_token is None):
            raise SettingsError("FLEXCHAT_ACCOUNT_SID and FLEXCHAT_AUTH_TOKEN go together")

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
