"""Every example of docs/clients/ runs, as printed, against a real ``flexchat serve``.

The Node.js ones (twilio-node, twilio-cli) use the packages ``tests/node_clients.py``
installs from npm into ``.cache/node``. Where node, npm, curl or jq are missing they skip
and say why; under ``CI=true`` that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flexchat.testing import ServerProcess, run_server

from . import node_clients

PAGES = Path(__file__).parents[1] / "docs" / "clients"
SID = re.compile(r"\b(AC|FO|CH|SK|US)[0-9a-f]{32}\b")


def blocks(page: str, language: str) -> list[tuple[str, str]]:
    """The fenced code blocks of ``docs/clients/<page>`` in ``language``: (info, code) each."""
    text = (PAGES / page).read_text(encoding="utf-8")
    found = [
        (info.strip(), code)
        for lang, info, code in re.findall(r"^```(\w+)([^\n]*)\n(.*?)^```", text, re.S | re.M)
        if lang == language
    ]
    assert found, f"docs/clients/{page} lost its {language} example"
    return found


def unavailable(reason: str) -> None:
    """Skip with ``reason``; under CI=true, where everything must run, fail instead."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed; the example needs it")


@pytest.fixture(scope="module")
def doc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the pages' examples, on SQLite: they test the clients, not the engines."""
    with run_server(f"sqlite:///{tmp_path_factory.mktemp('clients') / 'flexchat.db'}") as server:
        yield server


@pytest.fixture
def credentials(doc_server: ServerProcess) -> dict[str, str]:
    """The variables `flexchat serve` tells a newcomer to export, for a fresh account."""
    sid, token = doc_server.create_account("docs")
    return {"TWILIO_ACCOUNT_SID": sid, "TWILIO_AUTH_TOKEN": token, "FLEXCHAT_URL": doc_server.base_url}


@pytest.fixture(scope="session")
def node_modules() -> Path:
    try:
        return node_clients.install()
    except node_clients.Unavailable as error:
        unavailable(str(error))
        raise  # unreachable: unavailable() raises


def without_twilio_host_overrides() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in ("TWILIO_EDGE", "TWILIO_REGION")}


def run(command: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> str:
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_python_page(credentials: dict[str, str], doc_server: ServerProcess, tmp_path: Path) -> None:
    first, with_key = blocks("python.md", "python")
    env = {**without_twilio_host_overrides(), **credentials}
    out = run([sys.executable, "-c", first[1]], env, tmp_path)
    lines = SID.sub(r"\1...", out).splitlines()
    assert lines == ["created CH...", "fetched True", "listed True", "error 404 20404", "deleted CH..."]

    key = json.loads(
        run(
            [sys.executable, "-m", "flexchat.cli", "api-key", "create", "--database", doc_server.database_url,
             "--account-sid", credentials["TWILIO_ACCOUNT_SID"]],
            env, tmp_path,
        )
    )
    keyed = {**env, "TWILIO_API_KEY": key["sid"], "TWILIO_API_SECRET": key["secret"]}
    assert run([sys.executable, "-c", with_key[1]], keyed, tmp_path) == "1 flows\n"


def test_node_page(credentials: dict[str, str], node_modules: Path, tmp_path: Path) -> None:
    ((_, code),) = blocks("node.md", "js")
    script = tmp_path / "channels.js"
    script.write_text(code)
    out = run(["node", str(script)], node_clients.node_env(node_modules, **credentials), tmp_path)
    assert SID.sub(r"\1...", out).splitlines() == ["3 channels", "fetched true", "error 404 20404", "removed FO..."]


def test_twilio_cli_page(credentials: dict[str, str], node_modules: Path, tmp_path: Path) -> None:
    need("jq")
    ((info, hook),) = blocks("twilio-cli.md", "js")
    (tmp_path / info.removeprefix("file=")).write_text(hook)
    ((_, commands),) = blocks("twilio-cli.md", "sh")
    env = node_clients.node_env(
        node_modules,
        **credentials,
        # twilio-cli keeps its configuration under HOME; a scratch one leaves the user's alone.
        HOME=str(tmp_path),
        TWILIO_SKIP_NEW_VERSION_CHECK="true",
    )
    out = run(["bash", "-euo", "pipefail", "-c", commands], env, tmp_path)
    flow = json.loads((tmp_path / "flow.json").read_text())[0]
    assert flow["friendlyName"] == "Website chat" and flow["url"].startswith(credentials["FLEXCHAT_URL"])
    lines = SID.sub(r"\1...", out).split("\n")
    assert re.fullmatch(r"SID\s+Flex Flow SID", lines[0].strip()), out
    assert re.fullmatch(r"CH\.\.\.\s+FO\.\.\.", lines[1].strip()), out
    assert lines[2:] == ["1", ""], out


def test_twilio_cli_hook_leaves_other_hosts_alone(node_modules: Path, tmp_path: Path) -> None:
    # The hook must not redirect what is not the Flex API: a request for another Twilio
    # host still goes to that host.
    ((_, hook),) = blocks("twilio-cli.md", "js")
    (tmp_path / "flexchat-hook.js").write_text(hook)
    # A stand-in adapter records each URL as it would go out, after every interceptor.
    probe = (
        'const axios = require("axios");'
        "const seen = [];"
        "const adapter = async (c) => { seen.push(c.url); return {data: '', status: 200, headers: {}, config: c}; };"
        "Promise.all(["
        ' "https://flex-api.twilio.com/v1/Channels",'
        ' "https://flex-api.sydney.au1.twilio.com/v1/FlexFlows?PageSize=5",'
        ' "https://api.twilio.com/2010-04-01/Accounts.json",'
        "].map((url) => axios({url, adapter}))).then(() => console.log(JSON.stringify(seen)));"
    )
    env = node_clients.node_env(
        node_modules, FLEXCHAT_URL="http://127.0.0.1:9/", NODE_OPTIONS=f"--require {tmp_path / 'flexchat-hook.js'}"
    )
    seen = json.loads(run(["node", "-e", probe], env, tmp_path))
    assert sorted(seen) == sorted([
        "http://127.0.0.1:9/v1/Channels",
        "http://127.0.0.1:9/v1/FlexFlows?PageSize=5",
        "https://api.twilio.com/2010-04-01/Accounts.json",
    ])


def test_curl_page(credentials: dict[str, str], tmp_path: Path) -> None:
    need("curl", "jq")
    ((_, commands),) = blocks("curl.md", "sh")
    ((_, printed),) = blocks("curl.md", "text")
    out = run(["bash", "-euo", "pipefail", "-c", commands], {**os.environ, **credentials}, tmp_path)
    assert SID.sub(r"\1...", out).replace("\r", "") == printed


def test_without_node_the_examples_skip_with_a_reason_and_fail_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no node, no npm
    with pytest.raises(node_clients.Unavailable, match=r"^node is not installed") as missing:
        node_clients.install()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match=r"^node is not installed"):
        unavailable(str(missing.value))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"^CI=true: node is not installed"):
        unavailable(str(missing.value))
