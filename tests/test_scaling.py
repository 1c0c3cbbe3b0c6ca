"""Horizontal scale: several API processes on one database agree on everything.

The races here are real: threads released together by a barrier send creates for the
same Identities through different processes, so only the database's constraints can
keep the answers consistent.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from flexchat.testing import ServerProcess, run_server

from .conftest import Account, Api, add_account
from .load import Outcome, create_channel, distinct, run_threads, session, walk_channels
from .postgres import fresh_database

THREADS = 8
CREATES_PER_THREAD = 200
SHARED_IDENTITIES = 40


def test_two_processes_on_one_postgresql_database_agree() -> None:
    with fresh_database("postgresql") as url, run_server(url) as first, run_server(url) as second:
        account = add_account(url)
        servers = (first, second)
        api = Api(first.base_url, account.auth)
        # Two flows on one chat service: an Identity must get one chat user across both.
        chat_service = api.create_flow()["chat_service_sid"]
        flows = [api.create_flow(ChatServiceSid=chat_service)["sid"] for _ in range(2)]

        def creates(thread: int) -> list[Outcome]:
            sessions = [session(account.auth) for _ in servers]
            outcomes = []
            for n in range(CREATES_PER_THREAD):
                # Every other create reuses one of a few Identities that all threads share:
                # each (flow, shared Identity) is raced by four threads, through both servers.
                identity = f"shared-{n // 2 % SHARED_IDENTITIES}" if n % 2 else f"own-{thread}-{n}"
                k = (thread + n) % 2
                outcomes.append(create_channel(sessions[k], servers[k].base_url, flows[thread % 2], identity))
            return outcomes

        outcomes = run_threads(THREADS, creates)

        assert len(outcomes) == THREADS * CREATES_PER_THREAD
        assert [o for o in outcomes if o.status != 201] == []
        by_pair: dict[tuple[str, str], set[str]] = defaultdict(set)
        users: dict[str, set[str]] = defaultdict(set)
        for o in outcomes:
            by_pair[o.request["FlexFlowSid"], o.request["Identity"]].add(o.body["sid"])
            users[o.request["Identity"]].add(o.body["user_sid"])
        # One channel per (flow, Identity), however many creates raced for it.
        assert all(len(sids) == 1 for sids in by_pair.values())
        # One chat user per Identity on the chat service, and no two Identities share one.
        assert all(len(user_sids) == 1 for user_sids in users.values())
        assert distinct([next(iter(user_sids)) for user_sids in users.values()])
        created = {next(iter(sids)) for sids in by_pair.values()}
        own = THREADS * CREATES_PER_THREAD // 2
        assert len(created) == own + 2 * SHARED_IDENTITIES

        # A complete walk through the process that did not mint the first token.
        first_page = session(account.auth).get(f"{first.base_url}/v1/Channels?PageSize=50", timeout=30).json()
        rest = walk_channels(second, account.auth, start=first_page["meta"]["next_page_url"])
        walked = [c["sid"] for c in first_page["flex_chat_channels"] + rest]
        assert distinct(walked)
        assert set(walked) == created
        assert walked == [c["sid"] for c in walk_channels(second, account.auth, page_size=1000)]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(str(request.param), tmp_path) as url:
        yield url


def worker_pids(server: ServerProcess) -> list[int]:
    """The worker processes the HTTP server spawned for ``server`` (not its resource tracker)."""
    assert server.process is not None
    workers = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            # The parent pid is the second field after the parenthesised command name.
            if int(stat.rsplit(")", 1)[1].split()[1]) == server.process.pid and b"spawn_main" in cmdline:
                workers.append(int(entry))
    return workers


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts worker processes through /proc")
def test_two_workers_write_at_once(empty_database: str) -> None:
    with run_server(empty_database, extra_args=["--workers", "2"]) as server:
        assert len(worker_pids(server)) == 2
        account = add_account(empty_database)
        flow = Api(server.base_url, account.auth).create_flow()["sid"]

        def creates(thread: int) -> list[Outcome]:
            s = session(account.auth)
            return [create_channel(s, server.base_url, flow, f"w-{thread}-{n % 25}") for n in range(50)]

        outcomes = run_threads(THREADS, creates)

        # On SQLite the workers queue for the write lock: nobody gets a 503.
        assert [o.body for o in outcomes if o.status != 201] == []
        walked = [c["sid"] for c in walk_channels(server, account.auth, page_size=7)]
        assert distinct(walked)
        assert set(walked) == {o.body["sid"] for o in outcomes}
        assert len(walked) == THREADS * 25


@contextlib.contextmanager
def two_servers(database: str) -> Iterator[tuple[tuple[ServerProcess, ServerProcess], Account]]:
    """Two ``flexchat serve`` processes on one database, and an account in it."""
    with run_server(database) as first, run_server(database) as second:
        yield (first, second), add_account(database)


def chat_channel_paths(api: Api, count: int) -> list[str]:
    """A chat service with ``count`` channels, made through ``api``: the channels' paths."""
    service = api.post("/v2/Services", {"FriendlyName": "support"}).json()["sid"]
    return [
        f"/v2/Services/{service}/Channels/"
        + api.post(f"/v2/Services/{service}/Channels", {"FriendlyName": f"chat {n}"}).json()["sid"]
        for n in range(count)
    ]


def test_a_process_lists_messages_as_another_changed_them(empty_database: str) -> None:
    """Each process keeps the messages it listed as JSON (rendered.py), by row number and
    the channel's stamp; an edit or a delete through another process shows on this one's
    next page, in either order."""
    with two_servers(empty_database) as ((first, second), account):
        writer, reader = Api(first.base_url, account.auth), Api(second.base_url, account.auth)
        service = writer.post("/v2/Services", {"FriendlyName": "support"}).json()["sid"]
        channel = writer.post(f"/v2/Services/{service}/Channels", {"UniqueName": "room"}).json()["sid"]
        path = f"/v2/Services/{service}/Channels/{channel}/Messages"
        sids = [writer.post(path, {"Body": f"message {n}", "From": "ann"}).json()["sid"] for n in range(5)]

        def bodies(order: str, ref: str = channel) -> list[str]:
            page = reader.get(f"/v2/Services/{service}/Channels/{ref}/Messages?Order={order}")
            assert page.status_code == 200, page.text
            return [item["body"] for item in page.json()["messages"]]

        before = [f"message {n}" for n in range(5)]
        assert bodies("asc") == before and bodies("desc") == before[::-1]
        assert writer.post(f"{path}/{sids[2]}", {"Body": "edited"}).status_code == 200
        assert bodies("asc") == ["message 0", "message 1", "edited", "message 3", "message 4"]
        assert bodies("desc", "room")[2] == "edited"  # by unique name too
        assert writer.delete(f"{path}/{sids[0]}").status_code == 204
        assert bodies("asc") == ["message 1", "edited", "message 3", "message 4"]


def test_a_process_lists_what_another_changed(empty_database: str) -> None:
    """Each process keeps the channels it listed (store/channel_cache.py); a channel
    another process links to a task, lets go of its task, deletes or creates shows on
    this one's next page as it is in the database."""
    with two_servers(empty_database) as ((first, second), account):
        writer, reader = Api(first.base_url, account.auth), Api(second.base_url, account.auth)
        workspace = "WS" + "1" * 32
        flow = writer.create_flow(
            IntegrationType="task", **{"Integration.WorkspaceSid": workspace,
                                       "Integration.WorkflowSid": "WW" + "2" * 32,
                                       "Integration.CreationOnMessage": "true"},
            LongLived="true",
        )
        channel = writer.create_channel(flow["sid"], "lee").json()
        others = [writer.create_channel(flow["sid"], f"other-{n}").json()["sid"] for n in range(3)]

        def listed() -> dict[str, str | None]:
            page = reader.get("/v1/Channels?PageSize=10")
            assert page.status_code == 200, page.text
            return {item["sid"]: item["task_sid"] for item in page.json()["flex_chat_channels"]}

        assert listed() == {channel["sid"]: None, **dict.fromkeys(others)}
        # The customer's first message opens the channel's task (through the first process).
        said = writer.post(
            f"/v2/Services/{flow['chat_service_sid']}/Channels/{channel['sid']}/Messages",
            {"From": "lee", "Body": "hello"},
        )
        assert said.status_code == 201, said.text
        task_sid = writer.get(f"/v1/Channels/{channel['sid']}").json()["task_sid"]
        assert task_sid is not None and listed()[channel["sid"]] == task_sid
        # Its end lets go of it: the channel is long-lived.
        ended = writer.post(f"/v1/Workspaces/{workspace}/Tasks/{task_sid}", {"AssignmentStatus": "canceled"})
        assert ended.status_code == 200, ended.text
        assert listed()[channel["sid"]] is None
        # Deleted and created elsewhere.
        assert writer.delete(f"/v1/Channels/{others[0]}").status_code == 204
        newest = writer.create_channel(flow["sid"], "newcomer").json()["sid"]
        assert list(listed()) == [channel["sid"], *others[1:], newest]


# A race target: (update path, update form, delete path, the parent's delete path or None).
Target = tuple[str, dict[str, str], str, str | None]


def race_updates_and_deletes(servers: tuple[ServerProcess, ...], auth: tuple[str, str], targets: list[Target]) -> None:
    """Four threads through the servers in turn: two update every target, one deletes
    every target, one deletes every target's parent (or the target itself); every answer
    must be 200, 204 or 404."""

    def work(thread: int) -> list[Outcome]:
        s = session(auth)
        base = servers[thread % len(servers)].base_url
        outcomes = []
        for update, form, delete, parent in targets:
            started = time.monotonic()
            if thread % 2:
                response = s.post(f"{base}{update}", data=form, timeout=30)
            elif thread == 0:
                response = s.delete(f"{base}{delete}", timeout=30)
            else:
                response = s.delete(f"{base}{parent or delete}", timeout=30)
            outcomes.append(Outcome(started, time.monotonic() - started, response.status_code, {}, {},
                                    {"path": update}))
        return outcomes

    outcomes = run_threads(4, work)
    failed = [(o.status, o.request["path"]) for o in outcomes if o.status not in (200, 204, 404)]
    assert failed == [], (failed, *(server.output()[-3000:] for server in servers))


def test_edits_racing_deletes_never_fail(empty_database: str) -> None:
    """A message's edit and a delete of it (or of its channel) lock the channel's row and
    the message's in one order; in the other order PostgreSQL found a deadlock and one
    side ended as a 503, or the edit lost its row and answered 500."""
    with two_servers(empty_database) as ((first, second), account):
        api = Api(first.base_url, account.auth)
        targets: list[Target] = []
        for path in chat_channel_paths(api, 6):
            for k in range(5):
                message = f"{path}/Messages/" + api.post(f"{path}/Messages", {"Body": f"m{k}"}).json()["sid"]
                targets.append((message, {"Body": "edited"}, message, path))
        race_updates_and_deletes((first, second), account.auth, targets)


def test_updates_racing_deletes_never_fail(empty_database: str) -> None:
    """An update of a channel's member or webhook, a task channel or a Studio execution,
    raced by a delete of it (or of its chat channel): a 404 where the delete won, never a
    500 (on PostgreSQL the update read the row, the delete committed, and the UPDATE's
    RETURNING had no row) or a 503 (a deadlock)."""
    with two_servers(empty_database) as ((first, second), account):
        api = Api(first.base_url, account.auth)
        targets: list[Target] = []
        for n, path in enumerate(chat_channel_paths(api, 4)):
            for k in range(4):
                member = api.post(f"{path}/Members", {"Identity": f"user-{n}-{k}"}).json()["sid"]
                targets.append((f"{path}/Members/{member}", {"Attributes": '{"k": 1}'}, f"{path}/Members/{member}",
                                path))
                webhook = api.post(f"{path}/Webhooks", {
                    "Type": "webhook", "Configuration.Url": "http://127.0.0.1:9/hook",
                }).json()["sid"]
                targets.append((f"{path}/Webhooks/{webhook}", {"Configuration.Url": "http://127.0.0.1:9/other"},
                                f"{path}/Webhooks/{webhook}", path))
        workspace = api.post("/v1/Workspaces", {"FriendlyName": "desk"}).json()["sid"]
        for k in range(8):
            task_channel = api.post(f"/v1/Workspaces/{workspace}/TaskChannels", {
                "FriendlyName": f"tc {k}", "UniqueName": f"tc-{k}",
            }).json()["sid"]
            path = f"/v1/Workspaces/{workspace}/TaskChannels/{task_channel}"
            targets.append((path, {"FriendlyName": f"renamed {k}"}, path, None))
        flow = "FW" + "0" * 32
        for k in range(8):
            execution = api.post(f"/v2/Flows/{flow}/Executions", {"To": f"+1555000{k:04d}", "From": "+15550001111"})
            path = f"/v2/Flows/{flow}/Executions/{execution.json()['sid']}"
            targets.append((path, {"Status": "ended"}, path, None))
        race_updates_and_deletes((first, second), account.auth, targets)


def test_racing_deletes_answer_204_once(empty_database: str) -> None:
    """Two DELETEs of one resource sent at once through two processes: one 204 and one 404
    (the body any unknown resource gets), and a channel's counts stay its rows. On
    PostgreSQL a delete that read the row before the other committed, with nothing it read
    locked, deleted nothing and answered 204 as well (a channel webhook, a task channel, a
    web channel); a Flex or web channel's loser answered a 404 naming its chat channel."""
    with two_servers(empty_database) as ((first, second), account):
        api = Api(first.base_url, account.auth)

        def created(path: str, form: dict[str, str]) -> str:
            response = api.post(path, form)
            assert response.status_code == 201, response.text
            return str(response.json()["sid"])

        service = created("/v2/Services", {"FriendlyName": "support"})
        chat = f"/v2/Services/{service}"
        targets: list[str] = []
        kept: list[str] = []  # channels some of whose members and messages go
        for n in range(3):
            channel = f"{chat}/Channels/" + created(f"{chat}/Channels", {"FriendlyName": f"kept {n}"})
            kept.append(channel)
            messages = [created(f"{channel}/Messages", {"Body": f"m{k}"}) for k in range(4)]
            members = [created(f"{channel}/Members", {"Identity": f"kept-{n}-{k}"}) for k in range(3)]
            webhooks = [created(f"{channel}/Webhooks", {
                "Type": "webhook", "Configuration.Url": "http://127.0.0.1:9/hook",
            }) for _ in range(2)]
            targets += [f"{channel}/Messages/{sid}" for sid in messages[:3]]
            targets += [f"{channel}/Members/{sid}" for sid in members[:2]]
            targets += [f"{channel}/Webhooks/{sid}" for sid in webhooks]
        for n in range(3):
            targets.append(f"{chat}/Users/" + created(f"{chat}/Users", {"Identity": f"user-{n}"}))
            channel = f"{chat}/Channels/" + created(f"{chat}/Channels", {"FriendlyName": f"gone {n}"})
            created(f"{channel}/Members", {"Identity": f"user-{n}"})
            created(f"{channel}/Messages", {"Body": "hello"})
            targets.append(channel)
        flow = api.create_flow()["sid"]
        for n in range(3):
            flex = api.create_channel(flow, f"flex-{n}")
            assert flex.status_code == 201, flex.text
            targets.append(f"/v1/Channels/{flex.json()['sid']}")
            targets.append("/v1/WebChannels/" + created("/v1/WebChannels", {
                "FlexFlowSid": flow, "Identity": f"web-{n}", "CustomerFriendlyName": f"Customer {n}",
                "ChatFriendlyName": f"Web chat {n}",
            }))
        workspace = "/v1/Workspaces/" + created("/v1/Workspaces", {"FriendlyName": "desk"})
        workflow = created(f"{workspace}/Workflows", {"FriendlyName": "anyone", "Configuration": json.dumps(
            {"task_routing": {"filters": [], "default_filter": {"queue": "WQ" + "0" * 32}}}
        )})
        for n in range(3):
            targets.append(f"{workspace}/Tasks/" + created(f"{workspace}/Tasks", {"WorkflowSid": workflow}))
            targets.append(f"{workspace}/TaskChannels/" + created(f"{workspace}/TaskChannels", {
                "FriendlyName": f"tc {n}", "UniqueName": f"tc-{n}",
            }))
        # Each pair is released together: a thread that ran ahead would read what the other
        # had already committed, and never race it.
        together = threading.Barrier(2)
        servers = (first, second)

        def deletes(thread: int) -> list[Outcome]:
            s = session(account.auth)
            outcomes = []
            for path in targets:
                together.wait(timeout=30)
                started = time.monotonic()
                response = s.delete(f"{servers[thread].base_url}{path}", timeout=30)
                body = response.json() if response.content else {}
                outcomes.append(Outcome(started, time.monotonic() - started, response.status_code, body, {},
                                        {"path": path}))
            return outcomes

        answers: dict[str, list[tuple[int, dict[str, object]]]] = defaultdict(list)
        for outcome in run_threads(2, deletes):
            answers[outcome.request["path"]].append((outcome.status, outcome.body))
        wrong = []
        for path in targets:
            statuses = sorted(status for status, _ in answers[path])
            unknown = api.delete(path)
            assert unknown.status_code == 404, (path, unknown.text)
            if statuses != [204, 404] or [body for status, body in answers[path] if status == 404] != [unknown.json()]:
                wrong.append((path, [(status, body.get("message")) for status, body in answers[path]]))
        assert wrong == [], (wrong, *(server.output()[-3000:] for server in servers))
        for channel in kept:
            counts = api.get(channel).json()
            members = api.get(f"{channel}/Members").json()["members"]
            messages = api.get(f"{channel}/Messages").json()["messages"]
            assert (counts["members_count"], counts["messages_count"]) == (len(members), len(messages)) == (1, 1)
