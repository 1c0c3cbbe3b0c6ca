"""The console's HTTP side: sessions, CSRF, and each endpoint against a real server."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests

from flexchat.domain.credentials import create_key
from flexchat.settings import Settings
from flexchat.store import create_store
from flexchat.store.queries.console import CHANNELS_ABOVE, CHANNELS_BELOW
from flexchat.store.sql import Statement
from flexchat.testing import run_server
from tests.conftest import Account, Api, add_account, seed_channels
from tests.postgres import fresh_database

CONSOLE_API = "/console/api"


class Console:
    """A browser-like client of the console: the cookie jar and the CSRF token."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.csrf = ""

    def login(self, sid: str, secret: str) -> requests.Response:
        response = self.http.post(
            f"{self.base_url}{CONSOLE_API}/login", json={"sid": sid, "secret": secret}, timeout=30
        )
        if response.status_code == 200:
            self.csrf = response.json()["csrf_token"]
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(f"{self.base_url}{CONSOLE_API}{path}", timeout=30, **kwargs)

    def send(self, method: str, path: str, body: Any = None, csrf: str | None = None) -> requests.Response:
        headers = {"X-CSRF-Token": self.csrf if csrf is None else csrf}
        return self.http.request(
            method, f"{self.base_url}{CONSOLE_API}{path}", json=body, headers=headers, timeout=30
        )


def add_api_key(database_url: str, account: Account) -> tuple[str, str]:
    """An API key of ``account`` written straight into the database: its sid and secret."""

    async def create() -> tuple[str, str]:
        store = create_store(Settings(database_url=database_url))
        await store.open()
        try:
            made = await store.write(create_key(account.sid, "console test"))
            return made.key.sid, made.secret
        finally:
            await store.close()

    return asyncio.run(create())


def logged_in(server: Any, account: Account) -> Console:
    console = Console(server.base_url)
    assert console.login(account.sid, account.auth_token).status_code == 200
    return console


def test_page_and_static_files_with_csp(server: Any) -> None:
    page = requests.get(f"{server.base_url}/console", timeout=30)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "access-control-allow-origin" not in page.headers
    assert "<script" in page.text and "<script>" not in page.text  # no inline script
    script = requests.get(f"{server.base_url}/console/static/console.js", timeout=30)
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    again = requests.get(
        f"{server.base_url}/console/static/console.js", headers={"If-None-Match": script.headers["etag"]}, timeout=30
    )
    assert again.status_code == 304
    assert requests.get(f"{server.base_url}/console/static/nope.js", timeout=30).status_code == 404


def test_login_cookie_flags_and_wrong_secret(server: Any, account: Account) -> None:
    console = Console(server.base_url)
    refused = console.login(account.sid, "0" * 32)
    assert refused.status_code == 401
    assert "www-authenticate" not in refused.headers  # no browser Basic dialog
    response = console.login(account.sid, account.auth_token)
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert account.auth_token not in cookie and account.auth_token not in response.text
    session = console.get("/session").json()
    assert session["account_sid"] == account.sid and session["csrf_token"] == console.csrf


def test_api_key_login(server: Any, api: Api, account: Account) -> None:
    key_sid, secret = add_api_key(server.database_url, account)
    console = Console(server.base_url)
    assert console.login(key_sid, secret).status_code == 200
    assert console.get("/session").json()["account_sid"] == account.sid


def test_refused_without_session_or_csrf(server: Any, account: Account, api: Api) -> None:
    anonymous = Console(server.base_url)
    assert anonymous.get("/channels").status_code == 401
    assert anonymous.send("POST", "/reset", {"confirm": account.sid}).status_code == 401
    forged = Console(server.base_url)
    forged.http.cookies.set("flexchat_console", "QUMxMjN8MXw5OTk5OTk5OTk5.bad", path="/console")
    assert forged.get("/channels").status_code == 401
    console = logged_in(server, account)
    flow = api.create_flow()
    channel = api.create_channel(flow["sid"], "alice").json()
    for method, path, body in [
        ("POST", "/reset", {"confirm": account.sid}),
        ("POST", f"/channels/{channel['sid']}/messages", {"body": "hi"}),
        ("POST", f"/channels/{channel['sid']}/end", None),
        ("POST", "/faults/chat", {"ErrorRate": "1"}),
        ("DELETE", "/faults/chat", None),
        ("POST", "/logout", None),
    ]:
        assert console.send(method, path, body, csrf="").status_code == 403, path
        assert console.send(method, path, body, csrf="x" * 43).status_code == 403, path
    # Nothing happened: the channel is still there and open, no message.
    detail = console.get(f"/channels/{channel['sid']}").json()
    assert detail["channel"]["open"] and detail["messages"] == []
    # Another origin cannot log a browser in.
    cross = requests.post(
        f"{server.base_url}{CONSOLE_API}/login", json={"sid": account.sid, "secret": account.auth_token},
        headers={"Origin": "https://evil.example"}, timeout=30,
    )
    assert cross.status_code == 403


def test_logout_and_rotated_token_end_the_session(server: Any, account: Account) -> None:
    console = logged_in(server, account)
    response = console.send("POST", "/logout")
    assert response.status_code == 200 and "Max-Age=0" in response.headers["set-cookie"]
    assert console.get("/session").status_code == 401


def test_another_account_sees_nothing(server: Any, account: Account, api: Api) -> None:
    from tests.conftest import add_account

    flow = api.create_flow()
    channel = api.create_channel(flow["sid"], "alice").json()
    other = logged_in(server, add_account(server.database_url))
    assert other.get("/channels").json()["channels"] == []
    assert other.get(f"/channels/{channel['sid']}").status_code == 404
    assert other.send("POST", f"/channels/{channel['sid']}/messages", {"body": "x"}).status_code == 404


def test_channels_pages_newest_first(server: Any, account: Account) -> None:
    seed_channels(server.database_url, account, 2, 120)
    console = logged_in(server, account)
    first = console.get("/channels").json()
    assert len(first["channels"]) == 50 and first["newer"] is None and first["older"] is not None
    seqs = [c["seq"] for c in first["channels"]]
    assert seqs == sorted(seqs, reverse=True)
    second = console.get(f"/channels?before={first['older']}").json()
    third = console.get(f"/channels?before={second['older']}").json()
    assert len(third["channels"]) == 20 and third["older"] is None
    back = console.get(f"/channels?after={second['newer']}").json()
    assert [c["sid"] for c in back["channels"]] == [c["sid"] for c in first["channels"]]
    assert back["newer"] is None
    sids = {c["sid"] for page in (first, second, third) for c in page["channels"]}
    assert len(sids) == 120


def channel_page_plan(database_url: str, statement: Statement, *args: Any) -> str:
    """The engine's plan of one of the channel page's statements, as text."""
    if database_url.startswith("sqlite:"):
        with sqlite3.connect(database_url[len("sqlite:///"):]) as conn:
            return "\n".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + statement.sqlite, args))

    async def explain() -> str:
        import asyncpg

        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("ANALYZE channels; ANALYZE chat_channels")  # as autovacuum would have
            return "\n".join(row[0] for row in await conn.fetch("EXPLAIN " + statement.postgres, *args))
        finally:
            await conn.close()

    return asyncio.run(explain())


@pytest.mark.slow
def test_channel_pages_stay_fast_on_100000_channels(engine: str, tmp_path: Path) -> None:
    """The channels page of an account with 100,000 channels: the first, a middle and the
    last page each answer in milliseconds, because each is one walk of
    ``channels_by_account`` (account_sid, seq) from a row number, with no count, scan or
    sort whose cost grows with the account."""
    with fresh_database(engine, tmp_path) as url, run_server(url) as server:
        account = add_account(url)
        seed_channels(url, account, 2, 100_000)
        console = logged_in(server, account)

        def best_of_five(query: str) -> tuple[float, dict[str, Any]]:
            best, data = float("inf"), {}
            for _ in range(5):
                started = time.perf_counter()
                response = console.get("/channels" + query)
                best = min(best, time.perf_counter() - started)
                assert response.status_code == 200, response.text
                data = response.json()
            return best, data

        top_time, top = best_of_five("")
        top_seq = top["channels"][0]["seq"]
        middle_time, middle = best_of_five(f"?before={top_seq - 50_000}")
        _, oldest = best_of_five("?after=0")  # the oldest 50, walking up from the start
        first_seq = oldest["channels"][-1]["seq"]
        assert top_seq - first_seq == 99_999  # one account's rows, numbered in a row
        last_time, last = best_of_five(f"?before={first_seq + 50}")
        assert [c["sid"] for c in last["channels"]] == [c["sid"] for c in oldest["channels"]]
        assert len(top["channels"]) == len(middle["channels"]) == len(last["channels"]) == 50
        assert top["newer"] is None and middle["newer"] is not None and middle["older"] is not None
        assert last["older"] is None and last["newer"] is not None
        # Generous for a loaded 2-core machine: a page is ~1 ms of query and a few of HTTP.
        assert max(top_time, middle_time, last_time) < 0.1, (top_time, middle_time, last_time)

        for statement, args in ((CHANNELS_BELOW, (account.sid, top_seq - 50_000, 51)),
                                (CHANNELS_ABOVE, (account.sid, first_seq, 51))):
            plan = channel_page_plan(url, statement, *args)
            if engine == "sqlite":
                assert "SEARCH c USING INDEX channels_by_account (account_sid=? AND seq" in plan, plan
                assert "SCAN" not in plan and "TEMP B-TREE" not in plan, plan
            else:
                assert "Index Scan" in plan and "channels_by_account" in plan, plan
                assert "Seq Scan" not in plan and "Sort" not in plan, plan


def start_receiver(delay: float = 0.0) -> tuple[str, list[dict[str, Any]], Any]:
    """A local HTTP receiver recording the webhooks it gets; it answers each ``delay``
    seconds after recording it."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs

    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            received.append({k: v[0] for k, v in form.items()} | {"_signature": self.headers.get("x-twilio-signature")})
            time.sleep(delay)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/hook", received, httpd


def test_conversation_reply_stream_timeline_and_end(server: Any, account: Account, api: Api) -> None:
    url, _received, httpd = start_receiver()
    try:
        flow = api.create_flow(IntegrationType="external", **{"Integration.Url": url})
        channel = api.create_channel(flow["sid"], "alice").json()
        sid = channel["sid"]
        console = logged_in(server, account)
        detail = console.get(f"/channels/{sid}").json()
        assert detail["channel"]["open"] and detail["channel"]["identity"] == "alice"
        # The live stream: opened before the message, it carries it.
        lines: list[str] = []

        def listen() -> None:
            with console.http.get(f"{server.base_url}{CONSOLE_API}/channels/{sid}/stream?after=-1",
                                  stream=True, timeout=30) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                for line in response.iter_lines(decode_unicode=True):
                    lines.append(line)
                    if line.startswith("data:") and "from the agent" in line:
                        return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        time.sleep(0.3)
        reply = console.send("POST", f"/channels/{sid}/messages", {"body": "hello from the agent", "from": "Ann"})
        assert reply.status_code == 201, reply.text
        assert reply.json()["from"] == "Ann"
        listener.join(10)
        assert any(line == "event: message" for line in lines), lines
        assert any(line.startswith("id: 0") for line in lines), lines
        # Through Chat's create_message: the API sees the message.
        chat = api.get(f"/v2/Services/{flow['chat_service_sid']}/Channels/{sid}/Messages").json()
        assert [m["body"] for m in chat["messages"]] == ["hello from the agent"]
        # The timeline shows the onMessageSent event for the flow's webhook (delivery is the
        # delivery worker's; the outbox row is what this build writes).
        timeline = console.get(f"/channels/{sid}/timeline").json()
        sent = [e for e in timeline["events"] if e["event_type"] == "onMessageSent"]
        assert sent and sent[0]["url"] == url and sent[0]["params"]["Body"] == "hello from the agent"
        assert [m["body"] for m in timeline["messages"]] == ["hello from the agent"]
        # End the chat: status INACTIVE, Flex channel closed.
        ended = console.send("POST", f"/channels/{sid}/end")
        assert ended.status_code == 200
        assert ended.json()["channel"]["status"] == "INACTIVE" and not ended.json()["channel"]["open"]
        attributes = api.get(f"/v2/Services/{flow['chat_service_sid']}/Channels/{sid}").json()["attributes"]
        assert "INACTIVE" in attributes
    finally:
        httpd.shutdown()


def wait_for_delivery(console: Console, sid: str, url: str) -> dict[str, Any]:
    """The channel's first event to ``url`` once the delivery worker has settled it."""
    deadline = time.monotonic() + 15
    while True:
        events = console.get(f"/channels/{sid}/timeline").json()["events"]
        settled = [e for e in events if e["url"] == url and e["state"] != "pending"]
        if settled:
            return dict(settled[0])
        assert time.monotonic() < deadline, f"never delivered: {events}"
        time.sleep(0.1)


def test_agent_controls_and_the_timeline_of_deliveries_tasks_and_executions(
    server: Any, account: Account, api: Api
) -> None:
    """Studio answers first (an execution), Send to Flex makes the task, the agent accepts,
    wraps up and completes it: each through the console's buttons' endpoints, each shown
    in the channel's timeline beside the delivery, its signature and the answer."""
    url, received, httpd = start_receiver()
    try:
        flow = api.create_flow()  # Studio integration: the channel gets a studio webhook
        sid = api.create_channel(flow["sid"], "alice").json()["sid"]
        chat = f"/v2/Services/{flow['chat_service_sid']}/Channels/{sid}"
        hook = api.post(f"{chat}/Webhooks", {
            "Type": "webhook", "Configuration.Url": url, "Configuration.Filters": ["onMessageSent"],
        })
        assert hook.status_code == 201, hook.text
        sent = api.post(f"{chat}/Messages", {"From": "alice", "Body": "I need help"},
                        headers={"X-Twilio-Webhook-Enabled": "true"})
        assert sent.status_code == 201, sent.text
        console = logged_in(server, account)

        # Without the CSRF token nothing moves.
        for action in ("sendtoflex", "accept", "wrapup", "complete"):
            assert console.send("POST", f"/channels/{sid}/{action}", {}, csrf="").status_code == 403, action
        assert console.get(f"/channels/{sid}").json()["channel"]["task_sid"] is None
        # No task before Send to Flex: the buttons say so.
        refused = console.send("POST", f"/channels/{sid}/accept", {"from": "Ann"})
        assert refused.status_code == 400 and "Send to Flex" in refused.json()["message"]

        handed = console.send("POST", f"/channels/{sid}/sendtoflex", {})
        assert handed.status_code == 200, handed.text
        task_sid = handed.json()["channel"]["task_sid"]
        assert task_sid is not None and task_sid.startswith("WT")
        for action in ("accept", "wrapup", "complete"):
            moved = console.send("POST", f"/channels/{sid}/{action}", {"from": "Ann"})
            assert moved.status_code == 200, (action, moved.text)

        timeline = console.get(f"/channels/{sid}/timeline").json()
        moves = [t["to_status"] for t in timeline["tasks"]]
        assert moves == ["pending", "reserved", "assigned", "wrapping", "completed"]
        assert {t["task_sid"] for t in timeline["tasks"]} == {task_sid}
        assert "Ann" in timeline["tasks"][2]["reason"]
        # The customer's message started the flow's Studio execution.
        (execution,) = timeline["executions"]
        assert execution["flow_sid"] == flow["integration"]["flow_sid"] and execution["sid"].startswith("FN")
        studio_events = [e for e in timeline["events"] if e["kind"] == "studio"]
        assert [e["state"] for e in studio_events] == ["recorded"]
        # The delivery: its request, each attempt's signature and the receiver's answer.
        delivery = wait_for_delivery(console, sid, url)
        assert delivery["state"] == "delivered" and delivery["params"]["Body"] == "I need help"
        (attempt,) = delivery["delivery_attempts"]
        assert attempt["status_code"] == 200 and attempt["duration_ms"] >= 0
        (got,) = [r for r in received if r.get("Body") == "I need help"]
        assert attempt["signature"] == got["_signature"]
        # The same story as the control API tells it.
        control = api.get(f"/flexchat/v1/Channels/{sid}/Timeline").json()["timeline"]
        assert [e["to_status"] for e in control if e["type"] == "task"] == [t["to_status"] for t in timeline["tasks"]]
        assert [e["sid"] for e in control if e["type"] == "execution"] == [execution["sid"]]
        # And in its order: each item's position is its place in the control API's timeline.
        placed = sorted(
            [(m["position"], m["sid"]) for m in timeline["messages"]]
            + [(e["position"], f"EV{e['seq']:032x}") for e in timeline["events"]]
            + [(t["position"], t["to_status"]) for t in timeline["tasks"]]
            + [(x["position"], x["sid"]) for x in timeline["executions"]]
        )
        assert [position for position, _ in placed] == list(range(len(control)))
        assert [name for _, name in placed] == [
            e.get("sid") or e.get("id") or e["to_status"] for e in control
        ]
    finally:
        httpd.shutdown()


def test_faults_toggle_applies_to_the_api(server: Any, account: Account, api: Api) -> None:
    console = logged_in(server, account)
    on = console.send("POST", "/faults/flex", {"ErrorRate": "1", "ErrorStatus": "503"})
    assert on.status_code == 200, on.text
    answer = api.get("/v1/FlexFlows")
    assert answer.status_code == 503 and answer.headers["x-flexchat-fault"] == "error-rate"
    rules = {r["family"]: r for r in console.get("/faults").json()["faults"]}
    assert rules["flex"]["error_rate"] == 1.0
    assert console.send("POST", "/faults/flex", {"ErrorRate": "2"}).status_code == 400
    assert console.send("DELETE", "/faults/flex").status_code == 200
    assert api.get("/v1/FlexFlows").status_code == 200


def test_request_log_masks_secrets(server: Any, account: Account, api: Api) -> None:
    api.create_flow(FriendlyName="Logged")
    api.get("/v1/Channels?PageSize=5&AuthToken=hunter2")
    console = logged_in(server, account)
    entries = console.get("/requests").json()["requests"]
    assert entries[0]["path"] == "/v1/Channels" and entries[0]["params"] == {"PageSize": "5", "AuthToken": "***"}
    created = next(e for e in entries if e["method"] == "POST")
    assert created["status"] == 201 and created["params"]["FriendlyName"] == "Logged"
    assert all(not e["path"].startswith("/console") for e in entries)


def test_reset_deletes_the_accounts_data_only(server: Any, account: Account, api: Api) -> None:
    flow = api.create_flow()
    api.create_channel(flow["sid"], "alice")
    console = logged_in(server, account)
    assert console.send("POST", "/reset", {"confirm": "AC" + secrets.token_hex(16)}).status_code == 400
    done = console.send("POST", "/reset", {"confirm": account.sid})
    assert done.status_code == 200 and done.json()["deleted"]["channels"] == 1
    assert api.get("/v1/Channels").json()["flex_chat_channels"] == []
    assert api.get("/v1/FlexFlows").json()["flex_flows"] == []
    # The account and its credentials stay: still logged in, still authenticated.
    assert console.get("/session").status_code == 200
    assert api.get("/v1/FlexFlows").status_code == 200


@pytest.mark.slow
def test_console_assets_ship_in_the_wheel(tmp_path: Path) -> None:
    """`make run` and `pip install` need nothing else: the page, script and style are
    package data."""
    root = Path(__file__).resolve().parent.parent
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path), str(root)],
        check=True, timeout=300,
    )
    (wheel,) = tmp_path.glob("flexchat-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.name for p in (root / "src/flexchat/console/static").iterdir()}
    assert {f"flexchat/console/static/{name}" for name in shipped} <= names


def test_stream_resumes_after_last_event_id_and_is_the_accounts_only(
    server: Any, account: Account, api: Api
) -> None:
    from tests.conftest import add_account

    flow = api.create_flow()
    channel = api.create_channel(flow["sid"], "alice").json()
    messages = f"/v2/Services/{flow['chat_service_sid']}/Channels/{channel['sid']}/Messages"
    for n in range(3):
        assert api.post(messages, {"From": "alice", "Body": f"m{n}"}).status_code == 201
    console = logged_in(server, account)
    url = f"{server.base_url}{CONSOLE_API}/channels/{channel['sid']}/stream"
    with console.http.get(url, headers={"Last-Event-ID": "0"}, stream=True, timeout=30) as response:
        ids = []
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith("id: "):
                ids.append(int(line[4:]))
            if len(ids) == 2:
                break
    assert ids == [1, 2]
    other = logged_in(server, add_account(server.database_url))
    assert other.http.get(url, timeout=30).status_code == 404
    assert Console(server.base_url).http.get(url, timeout=30).status_code == 401


def test_flows_page_and_more(server: Any, account: Account, api: Api) -> None:
    for n in range(52):
        api.create_flow(FriendlyName=f"Flow {n}")
    console = logged_in(server, account)
    first = console.get("/flows").json()
    assert len(first["flows"]) == 50 and first["next_after"] is not None
    rest = console.get(f"/flows?after={first['next_after']}").json()
    assert [f["friendly_name"] for f in rest["flows"]] == ["Flow 50", "Flow 51"] and rest["next_after"] is None
