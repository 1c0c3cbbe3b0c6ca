"""The ASGI layer driven directly: what no HTTP client can easily send."""

from __future__ import annotations

import asyncio
import base64
import secrets
from typing import Any

from flexchat.app import create_app
from flexchat.auth import hash_secret
from flexchat.settings import Settings
from flexchat.sids import mint_sid


async def call(
    app: Any, method: str, path: str, messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]]
) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": headers,
        "scheme": "http",
        "server": ("127.0.0.1", 8080),
    }
    await app(scope, receive, send)
    return sent


def test_truncated_body_creates_nothing_and_sends_nothing() -> None:
    async def scenario() -> None:
        app = create_app(Settings(database_url="sqlite:///:memory:"))
        await app.startup()
        sid, token = mint_sid("AC"), secrets.token_hex(16)
        await app.store.ensure_account(sid, hash_secret(token), None)
        auth = (b"authorization", b"Basic " + base64.b64encode(f"{sid}:{token}".encode()))
        form = (b"content-type", b"application/x-www-form-urlencoded")
        body = b"FriendlyName=a&ChatServiceSid=IS" + b"a" * 32 + b"&ChannelType=web&Integration.FlowSid=FW" + b"b" * 32
        sent = await call(
            app, "POST", "/v1/FlexFlows", [{"type": "http.request", "body": body, "more_body": True}], [auth, form]
        )
        assert sent == []
        listed = await call(app, "GET", "/v1/FlexFlows", [], [auth])
        assert listed[0]["status"] == 200 and b'"flex_flows":[]' in listed[1]["body"]
        await app.shutdown()

    asyncio.run(scenario())
