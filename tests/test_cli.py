"""The ``flexchat`` command as an operator uses it."""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from flexchat import cli
from flexchat.settings import Settings, SettingsError, redact_url, setting_environ_name
from flexchat.sids import mint_sid
from flexchat.testing import free_port, run_server

from .postgres import postgres_database

PASSWORD = "s3cretpw"
# Every subcommand, with the arguments it needs to get as far as the database.
COMMANDS = [
    ["serve"],
    ["account", "create"],
    ["account", "list"],
    ["account", "rotate-token", "--account-sid", "AC" + "0" * 32],
    ["api-key", "create", "--account-sid", "AC" + "0" * 32],
    ["api-key", "list", "--account-sid", "AC" + "0" * 32],
    ["api-key", "delete", "--account-sid", "AC" + "0" * 32, "SK" + "0" * 32],
    ["account", "token", "secondary-create", "--account-sid", "AC" + "0" * 32],
    ["account", "token", "promote", "--account-sid", "AC" + "0" * 32],
    ["account", "token", "secondary-delete", "--account-sid", "AC" + "0" * 32],
    ["seed", "--account-sid", "AC" + "0" * 32, "--channels", "5"],
    ["faults", "set", "--account-sid", "AC" + "0" * 32, "--family", "flex", "--error-rate", "0"],
    ["faults", "clear", "--account-sid", "AC" + "0" * 32],
    ["faults", "list", "--account-sid", "AC" + "0" * 32],
    ["deliveries", "list", "--account-sid", "AC" + "0" * 32],
    ["agent", "accept", "--account-sid", "AC" + "0" * 32, "--agent", "a", "WT" + "0" * 32],
    ["agent", "reply", "--account-sid", "AC" + "0" * 32, "--agent", "a", "CH" + "0" * 32, "hello"],
    *(
        ["agent", action, "--account-sid", "AC" + "0" * 32, prefix + "0" * 32]
        for action, prefix in (
            ("send-to-flex", "CH"), ("wrap-up", "WT"), ("complete", "WT"), ("end-chat", "CH"), ("timeline", "CH"),
        )
    ),
]


def words(command: list[str]) -> tuple[str, ...]:
    """The command's words, before its first option."""
    return tuple(itertools.takewhile(lambda word: not word.startswith("-"), command))


def flexchat(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLEXCHAT_") or k.startswith("FLEXCHAT_TEST")}
    return subprocess.run(
        [sys.executable, "-m", "flexchat.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **(env or {})},
        cwd=cwd,
    )


def with_password(url: str, password: str = PASSWORD) -> str:
    """``url`` with ``password`` for its user (trust authentication ignores it)."""
    parts = urlsplit(url)
    user = parts.username or "postgres"
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.hostname}:{parts.port or 5432}"))


def test_account_create_prints_credentials_that_work(database_url: str, server: object) -> None:
    result = flexchat("account", "create", "--database", database_url, "--friendly-name", "ops")
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert set(created) == {"sid", "auth_token"}
    assert re.fullmatch(r"AC[0-9a-f]{32}", created["sid"]) and re.fullmatch(r"[0-9a-f]{32}", created["auth_token"])
    response = requests.get(server.base_url + "/v1/FlexFlows", auth=(created["sid"], created["auth_token"]), timeout=10)  # type: ignore[attr-defined]
    assert response.status_code == 200


def test_api_key_for_unknown_account_fails_clearly(database_url: str, server: object) -> None:
    result = flexchat("api-key", "create", "--database", database_url, "--account-sid", "AC" + "0" * 32)
    assert result.returncode == 1 and "no account AC" + "0" * 32 in result.stderr
    assert redact_url(database_url) in result.stderr  # names where it looked


def serve_until_ready(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str, int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "flexchat.cli", "serve", "--port", str(port), "--no-access-log", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    lines = []
    assert process.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "Started worker" in line or process.poll() is not None:  # granian's worker is starting
            break
    # granian logs "Started worker" before the worker accepts connections: wait until it answers.
    while time.monotonic() < deadline and process.poll() is None:
        try:
            requests.get(f"http://127.0.0.1:{port}/v1/Channels", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    return process, "".join(lines), port


def test_serve_on_empty_database_creates_an_account_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    process, output, port = serve_until_ready(["--database", url])
    try:
        creds = json.loads(next(line for line in output.splitlines() if line.startswith("{")))
        assert f'client.flex_api.base_url = "http://127.0.0.1:{port}"' in output
        # The same credentials as lines to paste into a shell, with the URL the README reads.
        exports = dict(
            shlex.split(line.removeprefix("export "))[0].split("=", 1)
            for line in output.splitlines()
            if line.startswith("export ")
        )
        assert exports == {
            "TWILIO_ACCOUNT_SID": creds["sid"],
            "TWILIO_AUTH_TOKEN": creds["auth_token"],
            "FLEXCHAT_URL": f"http://127.0.0.1:{port}",
        }
        response = requests.get(
            f"http://127.0.0.1:{port}/v1/Channels", auth=(creds["sid"], creds["auth_token"]), timeout=10
        )
        assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(10)
    process, output, _ = serve_until_ready(["--database", url])
    process.terminate()
    process.wait(10)
    assert "auth_token" not in output, "credentials must be printed only when the account is created"
    assert creds["auth_token"] not in output and "export" not in output
    # On a restart the banner names the accounts there, and how to get a token back.
    assert f"accounts:      {creds['sid']} (first account)" in output
    assert f"flexchat account rotate-token --account-sid AC... --database {url}" in output


def test_serve_with_bootstrap_credentials(tmp_path: Path) -> None:
    sid, token = "AC" + "1" * 32, "secret-token"
    url = f"sqlite:///{tmp_path / 'boot.db'}"
    env = {"FLEXCHAT_ACCOUNT_SID": sid, "FLEXCHAT_AUTH_TOKEN": token, "FLEXCHAT_DATABASE_URL": url}
    process, output, port = serve_until_ready([], env)
    try:
        assert "auth_token" not in output
        assert requests.get(f"http://127.0.0.1:{port}/v1/Channels", auth=(sid, token), timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(10)
    # A new token for the same account replaces the old one.
    process, _, port = serve_until_ready([], {**env, "FLEXCHAT_AUTH_TOKEN": "rotated"})
    try:
        assert requests.get(f"http://127.0.0.1:{port}/v1/Channels", auth=(sid, token), timeout=10).status_code == 401
        assert (
            requests.get(f"http://127.0.0.1:{port}/v1/Channels", auth=(sid, "rotated"), timeout=10).status_code == 200
        )
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_finishes_the_requests_in_flight_and_exits_0(tmp_path: Path, workers: int) -> None:
    """docs/architecture.md's promise for granian: SIGTERM stops accepting, lets the
    requests in flight finish, closes the store and exits 0 (with one worker or several)."""
    url = f"sqlite:///{tmp_path / 'stop.db'}"
    # Every process reloads the fault rules every 50 ms: the one the control request
    # reaches applies them at once, the others only at their next reload (CI once sent the
    # requests to a worker that had not yet reloaded, and they were answered at once).
    args = ["--workers", str(workers), "--faults-refresh", "0.05"]
    with run_server(url, extra_args=args) as server:
        # A request that takes 1.5 s inside the app: the flex family's injected latency.
        slow = requests.post(
            f"{server.base_url}/flexchat/v1/Faults/flex", data={"LatencyMs": "1500"}, auth=server.auth, timeout=10
        )
        assert slow.status_code == 200, slow.text
        time.sleep(0.5)  # ten reloads: every worker has the rule
        with ThreadPoolExecutor(4) as pool:
            in_flight = [
                pool.submit(requests.get, f"{server.base_url}/v1/FlexFlows", auth=server.auth, timeout=20)
                for _ in range(4)
            ]
            time.sleep(0.5)  # the requests are in the app, waiting out their latency
            assert server.process is not None
            server.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            answers = [future.result() for future in in_flight]
            waited = time.monotonic() - signalled
        assert [answer.status_code for answer in answers] == [200] * 4
        assert all(answer.headers.get("X-Flexchat-Fault") == "latency" for answer in answers)
        assert waited > 0.5, waited  # they were answered after the signal, not before it
        assert server.process.wait(15) == 0, server.output()[-2000:]
        with pytest.raises(requests.ConnectionError):  # and nothing listens any more
            requests.get(f"{server.base_url}/v1/FlexFlows", auth=server.auth, timeout=2)


def test_bad_configuration_is_a_clear_error() -> None:
    result = flexchat("serve", "--workers", "0")
    assert result.returncode == 2 and "workers" in result.stderr
    result = flexchat("serve", env={"FLEXCHAT_PORT": "eighty"})
    assert result.returncode == 2 and "FLEXCHAT_PORT" in result.stderr


def test_settings_precedence_flag_over_environment_over_default() -> None:
    env = {"FLEXCHAT_PORT": "9000", "FLEXCHAT_TRUST_PROXY": "true", "FLEXCHAT_DB_TIMEOUT": "2.5"}
    settings = Settings.load({"port": 9100, "host": None}, env)
    assert (settings.port, settings.host, settings.trust_proxy, settings.db_timeout) == (9100, "127.0.0.1", True, 2.5)
    assert Settings.load({}, settings.to_environ()) == settings
    # An Account Sid alone is an account to act on (seed, api-key create); a token alone is an error.
    assert Settings.load({}, {"FLEXCHAT_ACCOUNT_SID": "AC" + "0" * 32}).account_sid == "AC" + "0" * 32
    with pytest.raises(SettingsError):
        Settings.load({}, {"FLEXCHAT_AUTH_TOKEN": "x"})
    with pytest.raises(SettingsError):
        Settings.load({}, {"FLEXCHAT_ACCOUNT_SID": "AC" + "0" * 32}).check_bootstrap()


def test_serve_needs_both_bootstrap_variables() -> None:
    result = flexchat("serve", env={"FLEXCHAT_ACCOUNT_SID": "AC" + "0" * 32})
    assert result.returncode == 2 and "FLEXCHAT_AUTH_TOKEN" in result.stderr and result.stdout == ""


# -- secrets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u:p%40ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),  # an unescaped "@" in the password
        ("postgresql://u@h/db?password=pw&sslmode=require", "postgresql://u@h/db?password=***&sslmode=require"),
        ("postgresql://u:pw@h:notaport/db", "postgresql://u:***@h:notaport/db"),
        ("postgresql://h/db", "postgresql://h/db"),
        ("sqlite:///flexchat.db", "sqlite:///flexchat.db"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def test_the_banner_never_shows_the_database_password(postgres_url: str) -> None:
    url = with_password(postgres_url)
    process, output, _ = serve_until_ready(["--database", url])
    process.terminate()
    rest, _ = process.communicate(timeout=10)
    assert "Started worker" in output, output
    assert PASSWORD not in output + rest
    assert f"database:      {redact_url(url)}" in output and ":***@" in output


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(words(c)) for c in COMMANDS])
def test_no_cli_error_shows_the_database_password(command: list[str], postgres_url: str) -> None:
    missing = with_password(postgres_url.rsplit("/", 1)[0] + "/flexchat_no_such_database")
    closed = with_password(f"postgresql://postgres@127.0.0.1:{free_port()}/db")
    urls = [missing, closed, f"mysql://root:{PASSWORD}@127.0.0.1/db", with_password(postgres_url) + "?x=%zz"]
    # Half through the flag, half through the variable: both paths reach every message.
    for n, url in enumerate(urls):
        args, env = (["--database", url], {}) if n % 2 == 0 else ([], {"FLEXCHAT_DATABASE_URL": url})
        port = ["--port", str(free_port())] if command == ["serve"] else []
        result = flexchat(*command, *args, *port, env=env)
        shown = result.stdout + result.stderr
        assert result.returncode != 0, shown
        assert PASSWORD not in shown, shown
        assert "Traceback" not in shown, shown
        assert shown.startswith("flexchat: ") or "\nflexchat: " in shown, shown


def test_errors_mask_a_percent_encoded_password() -> None:
    url = f"postgresql://postgres:{PASSWORD}%2F1@127.0.0.1:{free_port()}/db"
    result = flexchat("account", "list", "--database", url)
    assert result.returncode == 1 and PASSWORD not in result.stderr and "postgres:***@" in result.stderr


# -- which database, and no database created by a lookup -------------------------------------


@pytest.mark.parametrize("command", COMMANDS[2:], ids=[" ".join(words(c)) for c in COMMANDS[2:]])
def test_commands_in_another_directory_name_the_database_and_leave_no_file(
    command: list[str], tmp_path: Path
) -> None:
    result = flexchat(*command, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    expected = tmp_path / "flexchat.db"
    assert f"no database at {expected} (sqlite:///flexchat.db)" in result.stderr
    assert "flexchat account create" in result.stderr  # says how to make one
    assert list(tmp_path.iterdir()) == []
    # A file that is not a flexchat database (here: empty) is refused and left as it was.
    expected.touch()
    result = flexchat(*command, cwd=tmp_path)
    assert result.returncode == 1 and "has no flexchat tables" in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flexchat.db"] and expected.stat().st_size == 0


def test_a_failed_lookup_on_postgres_creates_no_tables() -> None:
    import asyncio

    import asyncpg  # type: ignore[import-untyped]

    async def tables(url: str) -> int:
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"))
        finally:
            await conn.close()

    with postgres_database() as url:
        result = flexchat("seed", "--database", url, "--account-sid", "AC" + "0" * 32)
        assert result.returncode == 1 and "has no flexchat tables" in result.stderr, result.stderr
        assert asyncio.run(tables(url)) == 0


def test_every_command_names_its_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'named.db'}"
    created = flexchat("account", "create", "--database", url)
    assert created.returncode == 0
    assert created.stderr == f"flexchat: database {url} ({tmp_path / 'named.db'})\n"
    sid = json.loads(created.stdout)["sid"]
    for command in (["account", "list"], ["account", "rotate-token", "--account-sid", sid],
                    ["api-key", "create", "--account-sid", sid], ["seed", "--account-sid", sid, "--channels", "3"]):
        result = flexchat(*command, "--database", url)
        assert result.returncode == 0, result.stderr
        assert f"flexchat: database {url} ({tmp_path / 'named.db'})" in result.stderr


# -- help and variables ----------------------------------------------------------------------


Command = tuple[tuple[str, ...], argparse.ArgumentParser]


def subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[Command]:
    """Every leaf command of ``parser``: its words and its parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from subcommands(sub, (*path, name))
    if path and not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
        yield path, parser


def test_help_of_every_command_lists_defaults_and_variables() -> None:
    settings_names = {field.name for field in fields(Settings)}
    found = dict(subcommands(cli._parser()))
    assert set(found) == {words(c) for c in COMMANDS}
    for path, parser in found.items():
        assert parser.description, path
        for action in parser._actions:
            if action.dest == "help":
                continue
            if not action.option_strings:  # a positional argument (api-key delete SK...) is required
                assert action.help and action.required, (path, action.dest)
                continue
            assert action.help and ("[default: " in action.help or "[required unless set by env: " in action.help), (
                path, action.dest)
            if action.dest in settings_names:
                assert f"env: {setting_environ_name(action.dest)}" in action.help, (path, action.dest)
    # As printed: the variables and defaults the issue found missing.
    seed = " ".join(flexchat("seed", "--help").stdout.split())  # as one line, whatever the wrapping
    assert "FLEXCHAT_ACCOUNT_SID" in seed and "[default: 10]" in seed and "[default: 1000]" in seed
    assert "SEED_ACCOUNT_SID" not in seed
    serve = " ".join(flexchat("serve", "--help").stdout.split())
    # Every setting, not a list kept by hand: a new one must reach --help (as three had not).
    named = set(re.findall(r"FLEXCHAT_[A-Z0-9_]*[A-Z0-9]", serve))
    assert {setting_environ_name(name) for name in settings_names} <= named
    assert "[default: 8080; env: FLEXCHAT_PORT]" in serve


# Variables the docs name that are not Settings fields, and what reads each.
SUITE_VARIABLES = {
    "FLEXCHAT_TEST_POSTGRES_URL": "tests/postgres.py",
    "FLEXCHAT_REFERENCE_DIR": "tests/conftest.py",
    "FLEXCHAT_CONFORMANCE_EXAMPLES": "tests/helpers/conformance.py",
    "FLEXCHAT_FUZZ_STEPS": "tests/test_isolation_fuzz.py",
    "FLEXCHAT_CHROMIUM": "tests/browser/test_console_browser.py",
    "FLEXCHAT_URL": "README.md",  # the banner's export line, read by the docs' examples
}
# A value unlike the default for every setting, as its variable would spell it.
NON_DEFAULT = {
    "host": "0.0.0.0", "port": "9001", "database_url": "sqlite:///other.db", "workers": "3",
    "public_url": "https://chat.example.com", "trust_proxy": "true", "max_body_bytes": "2048",
    "db_timeout": "2.5", "db_pool_size": "4", "account_sid": "AC" + "1" * 32, "auth_token": "t",
    "log_level": "debug", "access_log": "false", "access_log_format": "json", "faults_refresh": "2",
    "webhook_timeout": "7", "webhook_concurrency": "5", "webhook_retry_backoff": "3",
    "webhook_poll_interval": "0.5", "webhook_allowed_hosts": "example.com", "webhook_sender": "inline",
    "webhook_stuck_seconds": "30",
    "max_concurrent_requests_per_account": "7", "max_concurrent_requests": "70", "auth_cache_seconds": "0.25",
    "refusal_delay": "0",
}


def test_every_documented_variable_is_honoured() -> None:
    root = Path(__file__).parents[1]
    documented = {
        name
        for page in [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
        for name in re.findall(r"FLEXCHAT_[A-Z0-9_]+", page.read_text(encoding="utf-8"))
        if not name.endswith("_")  # a family, as in FLEXCHAT_WEBHOOK_*
    }
    by_variable = {setting_environ_name(field.name): field.name for field in fields(Settings)}
    assert set(NON_DEFAULT) == set(by_variable.values()), "a new setting needs a value here"
    # Each setting's variable changes that setting, and only it.
    for variable, name in by_variable.items():
        loaded = Settings.load({}, {variable: NON_DEFAULT[name], "FLEXCHAT_ACCOUNT_SID": "AC" + "1" * 32})
        assert getattr(loaded, name) != getattr(cli.DEFAULTS, name), variable
    # The others are the test suite's (or the examples'), each read where the table says.
    for variable in sorted(documented - set(by_variable)):
        assert variable in SUITE_VARIABLES, f"{variable} is documented but nothing reads it"
        assert variable in (root / SUITE_VARIABLES[variable]).read_text(encoding="utf-8"), variable


def test_account_sid_and_database_from_the_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    sid = json.loads(flexchat("account", "create", env={"FLEXCHAT_DATABASE_URL": url}).stdout)["sid"]
    env = {"FLEXCHAT_DATABASE_URL": url, "FLEXCHAT_ACCOUNT_SID": sid}
    seeded = flexchat("seed", "--flows", "2", "--channels", "7", env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert seeded.stdout.startswith(f"seeded 2 Flex Flows and 7 channels into {sid} in ")
    key = flexchat("api-key", "create", env=env)
    assert key.returncode == 0 and json.loads(key.stdout)["account_sid"] == sid
    assert flexchat("account", "rotate-token", env=env).returncode == 0
    # A flag wins over its variable.
    other = flexchat("seed", "--account-sid", mint_sid("AC"), env=env)
    assert other.returncode == 1 and "no account" in other.stderr
    missing = flexchat("seed", env={"FLEXCHAT_DATABASE_URL": url})
    assert missing.returncode == 2 and "--account-sid" in missing.stderr and "FLEXCHAT_ACCOUNT_SID" in missing.stderr
    malformed = flexchat("seed", env={**env, "FLEXCHAT_ACCOUNT_SID": "ACnope"})
    assert malformed.returncode == 2 and "not an Account Sid" in malformed.stderr


# -- credentials ------------------------------------------------------------------------------


def exported(text: str) -> dict[str, str]:
    """What ``eval`` of export lines would set, read by a real shell."""
    done = subprocess.run(
        ["bash", "-c", f"{text}\nenv -0"], capture_output=True, text=True, check=True, env={"PATH": os.environ["PATH"]}
    )
    pairs = (item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)
    return {key: value for key, value in pairs if key.startswith("TWILIO_")}


def test_credentials_as_export_lines(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shell.db'}"
    account = flexchat("account", "create", "--database", url, "--format", "shell")
    assert account.returncode == 0
    variables = exported(account.stdout)
    assert set(variables) == {"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"}
    sid = variables["TWILIO_ACCOUNT_SID"]
    key = flexchat("api-key", "create", "--database", url, "--account-sid", sid, "--format", "shell")
    assert set(exported(key.stdout)) == {"TWILIO_ACCOUNT_SID", "TWILIO_API_KEY", "TWILIO_API_SECRET"}
    listed = flexchat("account", "list", "--database", url)
    assert listed.stdout == f"{sid}\t\n"


def test_rotate_token_gives_working_credentials_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rotate.db'}"
    old = json.loads(flexchat("account", "create", "--database", url, "--friendly-name", "ops").stdout)
    rotated = flexchat("account", "rotate-token", "--database", url, "--account-sid", old["sid"])
    assert rotated.returncode == 0, rotated.stderr
    new = json.loads(rotated.stdout)
    assert new["sid"] == old["sid"] and new["auth_token"] != old["auth_token"]
    process, _, port = serve_until_ready(["--database", url])
    try:
        base = f"http://127.0.0.1:{port}/v1/Channels"
        assert requests.get(base, auth=(old["sid"], old["auth_token"]), timeout=10).status_code == 401
        assert requests.get(base, auth=(new["sid"], new["auth_token"]), timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(10)
    assert flexchat("account", "list", "--database", url).stdout == f"{old['sid']}\tops\n"  # name kept
    unknown = flexchat("account", "rotate-token", "--database", url, "--account-sid", mint_sid("AC"))
    assert unknown.returncode == 1 and "no account" in unknown.stderr
    key_sid = json.loads(flexchat("api-key", "create", "--database", url, "--account-sid", old["sid"]).stdout)["sid"]
    not_account = flexchat("account", "rotate-token", "--database", url, "--account-sid", key_sid)
    assert not_account.returncode == 2 and "not an Account Sid" in not_account.stderr


# -- serve: the port ----------------------------------------------------------------------------


def test_a_taken_port_is_a_clear_error_before_any_banner(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = flexchat("serve", "--port", str(port), "--database", f"sqlite:///{tmp_path / 'x.db'}")
    assert result.returncode == 1
    assert result.stdout == ""  # no banner announced a URL nobody serves
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # nor was a first account created, its token shown to nobody


# -- seed's progress ------------------------------------------------------------------------------


def test_seed_progress_without_a_terminal_is_plain_lines() -> None:
    out = io.StringIO()
    progress = cli.SeedProgress(out)
    assert not progress.interactive
    for done in (10, 10, 20_010, 20_010, 40_010, 60_010, 80_010, 100_010):
        progress(done, 100_010)
    progress.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert [re.sub(r", [\d.]+ s$", "", line) for line in lines] == [
        "seeding: 20,010/100,010 rows (20%)",
        "seeding: 40,010/100,010 rows (40%)",
        "seeding: 60,010/100,010 rows (60%)",
        "seeding: 80,010/100,010 rows (80%)",
        "seeding: 100,010/100,010 rows (100%)",
    ]


def test_seed_progress_on_a_terminal_is_a_bar() -> None:
    out = io.StringIO()
    progress = cli.SeedProgress(out, interactive=True)
    for done in (10, 20_010, 20_010, 40_010):
        progress(done, 40_010)
    progress.close()
    drawn = out.getvalue()
    assert "\r" in drawn and "seeding: 100%|" in drawn and "40.0k/40.0k" in drawn
    quiet = io.StringIO()
    silent = cli.SeedProgress(quiet, enabled=False, interactive=True)
    silent(5, 5)
    silent.close()
    assert quiet.getvalue() == ""


def test_a_database_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    url = f"sqlite:///{blocker}/flexchat.db"  # its directory cannot be made: a file is in the way
    for command in (["serve", "--port", str(free_port())], ["account", "create"]):
        result = flexchat(*command, "--database", url)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert f"flexchat: cannot open {url} ({blocker}/flexchat.db): " in result.stderr, result.stderr
        assert "Uvicorn" not in result.stdout + result.stderr
