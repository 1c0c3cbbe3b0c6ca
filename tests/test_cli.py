"""The ``flexchat`` command as an operator uses it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from flexchat.settings import Settings, SettingsError
from flexchat.testing import free_port


def flexchat(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flexchat.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_account_create_prints_credentials_that_work(database_url: str, server: object) -> None:
    result = flexchat("account", "create", "--database", database_url, "--friendly-name", "ops")
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert set(created) == {"sid", "auth_token"}
    assert re.fullmatch(r"AC[0-9a-f]{32}", created["sid"]) and re.fullmatch(r"[0-9a-f]{32}", created["auth_token"])
    response = requests.get(server.base_url + "/v1/FlexFlows", auth=(created["sid"], created["auth_token"]), timeout=10)  # type: ignore[attr-defined]
    assert response.status_code == 200


def test_api_key_for_unknown_account_fails_clearly(database_url: str) -> None:
    result = flexchat("api-key", "create", "--database", database_url, "--account-sid", "AC" + "0" * 32)
    assert result.returncode == 1 and "no account" in result.stderr


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
    with pytest.raises(SettingsError):
        Settings.load({}, {"FLEXCHAT_ACCOUNT_SID": "AC" + "0" * 32})
