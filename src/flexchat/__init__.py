"""flexchat: a self-hosted, wire-compatible Twilio Flex API v1 chat channels service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "create_app"]

if TYPE_CHECKING:
    from .app import create_app


def __getattr__(name: str) -> Any:
    # Importing flexchat (e.g. as a pytest plugin) must not import the server stack.
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
