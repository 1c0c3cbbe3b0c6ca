"""The console in headless Chromium (Debian's ``chromium`` package, driven by Playwright
from PyPI; no browser download): log in, page through channels, open a conversation,
reply as the agent, end the chat, toggle a fault. A screenshot of each page goes to
tests/artifacts/console/ (gitignored) for a person to look at.

Skipped with the reason where chromium or playwright is missing; under CI=true a missing
one fails instead.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Account, Api, add_account, seed_channels
from tests.test_console import start_receiver

CHROMIUM = os.environ.get("FLEXCHAT_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "console"


def off_loop(function: Callable[..., Any], *args: Any) -> Any:
    """Run a helper that uses asyncio.run away from Playwright's thread, whose sync API
    keeps an event loop running there."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


@pytest.fixture
def account(server: Any) -> Account:
    """A fresh account (the shared fixture's, made off Playwright's event loop)."""
    return off_loop(add_account, server.database_url)  # type: ignore[no-any-return]


def _missing() -> str | None:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        return f"chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def browser(server: Any) -> Iterator[Any]:
    """One Chromium per engine. It asks for ``server`` so that the engine's database and
    server are set up before Playwright's event loop runs on this thread, and the browser
    is closed before the next engine's are (their set-up calls asyncio.run, which refuses
    to run beside a running loop: the PostgreSQL runs were skipped, or failed under CI)."""
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests cannot run under CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Belt and braces: nothing here may fetch a browser.
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        yield opened
    finally:
        context.close()
    # No script error and no CSP violation on any page the test visited (401s before
    # login are expected network answers, reported as console errors: left out).
    assert [e for e in errors if "401" not in e] == []


def shot(page: Any, name: str, engine: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{engine}-{name}.png"), full_page=True)


def login(page: Any, base_url: str, account: Account) -> None:
    page.goto(f"{base_url}/console")
    page.get_by_label("Account SID or API key SID").fill(account.sid)
    page.get_by_label("Auth token or API key secret").fill(account.auth_token)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Channels").wait_for()


def test_login_refuses_a_wrong_secret(page: Any, server: Any, account: Account, engine: str) -> None:
    page.goto(f"{server.base_url}/console")
    shot(page, "login", engine)
    page.get_by_label("Account SID or API key SID").fill(account.sid)
    page.get_by_label("Auth token or API key secret").fill("0" * 32)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("alert").get_by_text("match no account").wait_for()


def test_console_end_to_end(page: Any, server: Any, account: Account, api: Api, engine: str) -> None:
    # The receiver answers 1.5 s late, so its deliveries settle after the page's last
    # reason to read the timeline (the message): the page must read it again by itself.
    url, received, httpd = start_receiver(delay=1.5)
    try:
        off_loop(seed_channels, server.database_url, account, 1, 60)
        flow = api.create_flow(IntegrationType="external", **{"Integration.Url": url})
        channel = api.create_channel(flow["sid"], "alice").json()
        sid = channel["sid"]
        chat = f"/v2/Services/{flow['chat_service_sid']}/Channels/{sid}"
        # A Studio flow answers the customer first: their message starts an execution.
        studio_flow = "FW" + "c" * 32
        assert api.post(f"{chat}/Webhooks", {"Type": "studio", "Configuration.FlowSid": studio_flow}).status_code == 201
        api.post(f"{chat}/Messages", {"From": "alice", "Body": "I need help"},
                 headers={"X-Twilio-Webhook-Enabled": "true"})

        from playwright.sync_api import expect

        login(page, server.base_url, account)
        rows = page.locator("table[aria-label=Channels] tbody tr")
        expect(rows).to_have_count(50)
        assert rows.first.get_attribute("data-sid") == sid  # newest first
        shot(page, "channels", engine)
        # Page through with the buttons, then back.
        page.get_by_role("button", name="Older →").click()
        expect(rows).to_have_count(11)
        page.get_by_role("button", name="← Newer").click()
        expect(rows).to_have_count(50)
        # Keyboard: j/k move the selection, / filters, Enter opens.
        page.keyboard.press("j")
        page.keyboard.press("j")
        page.keyboard.press("k")
        expect(rows.nth(1)).to_have_class("sel")
        page.keyboard.press("/")
        page.keyboard.type("alice")
        page.keyboard.press("Escape")
        expect(rows).to_have_count(1)
        page.keyboard.press("Enter")
        page.get_by_role("heading", name="Chat with alice").wait_for()
        page.get_by_role("log").get_by_text("I need help").wait_for()
        page.locator(".live.on").wait_for()

        # A message written through the API shows up live (SSE).
        api.post(f"/v2/Services/{flow['chat_service_sid']}/Channels/{sid}/Messages",
                 {"From": "alice", "Body": "Are you there?"})
        page.get_by_role("log").get_by_text("Are you there?").wait_for(timeout=5000)

        # Hand the chat to Flex (Studio's widget: its webhook goes) and accept the task as
        # the agent; the header shows the new task.
        page.get_by_role("button", name="Send to Flex").click()
        page.get_by_text("Send to Flex: done").wait_for()
        page.get_by_role("button", name="Accept task").click()
        page.get_by_text("Accept task: done").wait_for()
        task_sid = api.get(f"/v1/Channels/{sid}").json()["task_sid"]
        assert task_sid is not None
        expect(page.locator("[data-task-sid]")).to_have_text(task_sid)

        # Reply as the agent.
        page.keyboard.press("r")
        page.keyboard.type("Hello Alice, Ann here")
        page.keyboard.press("Enter")
        page.get_by_role("log").get_by_text("Hello Alice, Ann here").wait_for()
        # Its onMessageSent event to the flow's webhook is in the timeline (outbox), and the
        # local receiver gets it as an agent's message (Source=SDK).
        page.locator("[data-event=onMessageSent]").first.wait_for()
        deadline = time.monotonic() + 15
        while not any(r.get("Body") == "Hello Alice, Ann here" for r in received):
            assert time.monotonic() < deadline, f"the reply never reached the receiver: {received}"
            time.sleep(0.1)
        reply = next(r for r in received if r.get("Body") == "Hello Alice, Ann here")
        assert reply["Source"] == "SDK" and reply["_signature"]
        # The timeline shows the delivery: where it went, its state (read again until it
        # settles), and, opened, the request's parameters, each attempt's signature and
        # the receiver's answer.
        delivered = page.locator("[data-event=onMessageSent]").filter(has_text="Hello Alice").first
        delivered.locator(".pill.delivered").wait_for(timeout=10000)
        assert url in delivered.inner_text()
        delivered.locator("summary").click()
        details = delivered.locator("details").inner_text()
        assert f"X-Twilio-Signature: {reply['_signature']}" in details and "200" in details
        assert '"Source": "SDK"' in details
        # Wrap up: the timeline shows each move of the task, and Studio's execution.
        page.get_by_role("button", name="Wrap up").click()
        page.get_by_text("Wrap up: done").wait_for()
        for status in ("pending", "reserved", "assigned", "wrapping"):
            page.locator(f"[data-task={status}]").first.wait_for()
        timeline = api.get(f"/flexchat/v1/Channels/{sid}/Timeline").json()["timeline"]
        moves = [e["to_status"] for e in timeline if e["type"] == "task"]
        assert moves == ["pending", "reserved", "assigned", "wrapping"]
        (execution,) = [e for e in timeline if e["type"] == "execution"]
        expect(page.locator("[data-execution]")).to_have_count(1)
        assert studio_flow in page.locator(f"[data-execution={execution['sid']}]").inner_text()
        shot(page, "conversation", engine)

        # End the chat.
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="End chat").click()
        page.locator(".pill.INACTIVE").wait_for()
        attributes = api.get(f"/v2/Services/{flow['chat_service_sid']}/Channels/{sid}").json()["attributes"]
        assert "INACTIVE" in attributes
        shot(page, "conversation-ended", engine)
        # Esc goes back to the channels.
        page.keyboard.press("Escape")
        page.get_by_role("heading", name="Channels").wait_for()

        # Flows page.
        page.keyboard.press("g")
        page.keyboard.press("f")
        page.get_by_role("heading", name="Flex Flows").wait_for()
        shot(page, "flows", engine)

        # Toggle a fault and see the API answer with it.
        page.keyboard.press("g")
        page.keyboard.press("x")
        page.get_by_role("heading", name="Faults").wait_for()
        page.get_by_label("flex ErrorRate").fill("1")
        page.locator("[data-apply=flex]").click()
        page.get_by_role("status").get_by_text("saved").wait_for()
        answer = api.get("/v1/FlexFlows")
        assert answer.status_code == 500 and answer.headers["x-flexchat-fault"] == "error-rate"
        shot(page, "faults", engine)
        page.locator("[data-off=flex]").click()
        page.get_by_role("status").get_by_text("off").wait_for()
        assert api.get("/v1/FlexFlows").status_code == 200

        # The request log shows the API calls, secrets masked.
        api.get("/v1/Channels?PageSize=3&AuthToken=hunter2")
        page.keyboard.press("g")
        page.keyboard.press("l")
        page.get_by_role("heading", name="Request log").wait_for()
        log = page.locator("table[aria-label=Requests]").inner_text()
        assert "AuthToken=***" in log and "hunter2" not in log
        shot(page, "requests", engine)

        # Reset the account, confirmed by typing its sid.
        page.keyboard.press("g")
        page.keyboard.press("a")
        page.get_by_label("Type the Account SID to confirm").fill(account.sid)
        page.get_by_role("button", name="Reset").click()
        page.get_by_text("channels: 61").wait_for()
        assert api.get("/v1/Channels").json()["flex_chat_channels"] == []
        shot(page, "account", engine)

        # Log out: the console asks for credentials again.
        page.get_by_role("button", name="Log out").click()
        page.get_by_role("button", name="Log in").wait_for()
    finally:
        httpd.shutdown()
