"""``flexchat seed``: bulk data, run as the command a person types, against the
database a running server uses; everything it wrote is then read through the API."""

from __future__ import annotations

import errno
import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flexchat.settings import redact_url
from flexchat.sids import is_sid, mint_sid
from flexchat.testing import add_account

from .conftest import Account, Api


def flexchat_seed(database_url: str, account_sid: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flexchat.cli", "seed", "--database", database_url, "--account-sid", account_sid, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def walk(api: Api, path: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every item of a list, following next_page_url; and the meta of every page, with
    the number of items that page held under ``"count"``."""
    items: list[dict[str, Any]] = []
    metas: list[dict[str, Any]] = []
    url: str | None = path
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.text
        page = response.json()
        page_items = page[page["meta"]["key"]]
        metas.append({**page["meta"], "count": len(page_items)})
        items.extend(page_items)
        url = page["meta"]["next_page_url"]
    return items, metas


def test_seed_fills_the_account_with_valid_channels_and_flows(database_url: str, account: Account, api: Api) -> None:
    done = flexchat_seed(database_url, account.sid, "--flows", "3", "--channels", "260")
    assert done.returncode == 0, done.stderr
    # Not a terminal (a pipe): plain lines on stderr, no bar redrawn with "\r", ending at
    # the total (flows + channels); the summary on stdout.
    assert "\r" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith("flexchat: database ")
    assert re.fullmatch(r"seeding: 263/263 rows \(100%\), [\d.]+ s", lines[-1]), done.stderr
    assert re.fullmatch(
        rf"seeded 3 Flex Flows and 260 channels into {account.sid} in [\d.]+ s \([\d,]+ rows/s\); "
        rf"database {re.escape(redact_url(database_url))}.*\n",
        done.stdout,
    ), done.stdout

    flows, _ = walk(api, "/v1/FlexFlows?PageSize=2")
    assert len(flows) == 3
    flow_sids = {flow["sid"] for flow in flows}
    assert all(is_sid(sid, "FO") for sid in flow_sids)

    channels, metas = walk(api, "/v1/Channels?PageSize=50")
    assert len(channels) == 260
    assert [meta["count"] for meta in metas] == [50, 50, 50, 50, 50, 10]
    assert [meta["page"] for meta in metas] == [0, 1, 2, 3, 4, 5]
    assert metas[-1]["next_page_url"] is None
    sids = [channel["sid"] for channel in channels]
    assert len(set(sids)) == 260
    assert all(is_sid(sid, "CH") for sid in sids)
    for channel in channels:
        assert channel["account_sid"] == account.sid
        assert channel["flex_flow_sid"] in flow_sids
        assert is_sid(channel["user_sid"], "US")
        assert channel["url"].endswith("/v1/Channels/" + channel["sid"])
    # Each Identity has one chat user and one channel per flow.
    users: dict[str, set[str]] = {}
    for channel in channels:
        users.setdefault(channel["user_sid"], set()).add(channel["flex_flow_sid"])
    assert len(users) == 87  # ceil(260 / 3)
    assert all(len(flows_of_user) <= 3 for flows_of_user in users.values())

    # A seeded channel is fetched like any other, and its page tokens walk back too.
    fetched = api.get(f"/v1/Channels/{sids[123]}")
    assert fetched.status_code == 200
    assert fetched.json() == channels[123]
    previous = metas[-1]["previous_page_url"]
    assert previous is not None
    token = parse_qs(urlsplit(previous).query)["PageToken"][0]
    assert token.startswith("PB")
    back = api.get(previous).json()
    assert [c["sid"] for c in back["flex_chat_channels"]] == sids[200:250]


def test_seed_with_a_larger_page_size_and_quiet(database_url: str, account: Account, api: Api) -> None:
    done = flexchat_seed(database_url, account.sid, "--flows", "1", "--channels", "2500", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith(f"seeded 1 Flex Flows and 2,500 channels into {account.sid}")
    channels, metas = walk(api, "/v1/Channels?PageSize=1000")
    assert len(channels) == 2500
    assert [meta["count"] for meta in metas] == [1000, 1000, 500]
    assert len({channel["sid"] for channel in channels}) == 2500


def test_seed_leaves_other_accounts_alone(database_url: str, account: Account, api: Api, server: Any) -> None:
    from .conftest import add_account

    other = add_account(server.database_url)
    done = flexchat_seed(database_url, other.sid, "--flows", "2", "--channels", "10", "--quiet")
    assert done.returncode == 0, done.stderr
    assert api.get("/v1/Channels").json()["flex_chat_channels"] == []
    assert api.get("/v1/FlexFlows").json()["flex_flows"] == []


def test_seed_refuses_an_unknown_account(database_url: str) -> None:
    unknown = mint_sid("AC")
    done = flexchat_seed(database_url, unknown, "--channels", "5")
    assert done.returncode == 1
    assert f"no account {unknown} in {redact_url(database_url)}" in done.stderr
    assert done.stdout == ""


def test_seed_in_a_pipe_writes_a_line_per_tenth_and_a_summary(tmp_path: Path) -> None:
    # 45,001 rows in batches of 20,000 (seeding.BATCH): progress at 44%, 88% and 100%,
    # each figure once (a batch of chat users ends where the channels before it did).
    # Output, not storage, is under test: SQLite alone (test_seed_fills... covers both engines).
    database_url = f"sqlite:///{tmp_path / 'pipe.db'}"
    account = Account(*add_account(database_url))
    done = flexchat_seed(database_url, account.sid, "--flows", "1", "--channels", "45000")
    assert done.returncode == 0, done.stderr
    progress = [re.sub(r", [\d.]+ s$", "", line) for line in done.stderr.splitlines()[1:]]
    assert progress == [
        "seeding: 20,001/45,001 rows (44%)",
        "seeding: 40,001/45,001 rows (88%)",
        "seeding: 45,001/45,001 rows (100%)",
    ]
    assert done.stdout.startswith(f"seeded 1 Flex Flows and 45,000 channels into {account.sid} in ")


def test_seed_on_a_terminal_draws_a_bar(tmp_path: Path) -> None:
    # stderr on a pseudo-terminal, as when a person runs the command: tqdm's bar, redrawn
    # in place, and the summary still on stdout.
    database_url = f"sqlite:///{tmp_path / 'tty.db'}"
    account = Account(*add_account(database_url))
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 24 rows, 100 columns
    process = subprocess.Popen(
        [sys.executable, "-m", "flexchat.cli", "seed", "--database", database_url, "--account-sid", account.sid,
         "--flows", "1", "--channels", "45000"],
        stdout=subprocess.PIPE, stderr=terminal, text=True,
    )
    os.close(terminal)
    drawn = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError as error:  # EIO: the command closed the terminal's last descriptor
            assert error.errno == errno.EIO
            break
        if not chunk:
            break
        drawn += chunk
    os.close(controller)
    stdout, _ = process.communicate(timeout=120)
    assert process.returncode == 0, drawn
    text = drawn.decode()
    assert "\r" in text and re.search(r"seeding: 100%\|[^|]*\| 45\.0k/45\.0k", text), text
    assert "seeding: 20,001/45,001" not in text  # not the plain lines meant for pipes
    assert stdout.startswith(f"seeded 1 Flex Flows and 45,000 channels into {account.sid} in ")
