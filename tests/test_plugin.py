"""flexchat's pytest plugin as a user's project meets it: loaded through the ``pytest11``
entry point of the installed package, in a directory holding nothing but a test file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "test_example.py"
GUIDE = ROOT / "docs" / "testing.md"


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in ``project`` with this interpreter (where flexchat is installed), nothing inherited."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTEST_", "FLEXCHAT_"))}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "--rootdir", str(project), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_entry_point_names_the_plugin() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("flexchat") == "flexchat.pytest_plugin"


def test_the_plugin_imports_nothing_heavy() -> None:
    heavy = ["twilio", "requests", "aiohttp", "flexchat.testing", "flexchat.app", "flexchat.store", "orjson",
             "granian", "uvicorn", "asyncpg", "schemathesis", "hypothesis"]
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import flexchat.pytest_plugin\n"
        f"print(sorted(name for name in {heavy!r} if name in sys.modules and name not in before))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_a_user_project_gets_the_fixtures_from_the_installed_package(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(EXAMPLE, project / "test_example.py")
    assert sorted(p.name for p in project.iterdir()) == ["test_example.py"]  # no conftest, no ini

    result = run_pytest(project)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"^plugins: .*flexchat-\d", output, re.MULTILINE), output
    for name in ("test_opens_one_channel_per_customer", "test_every_test_starts_empty",
                 "test_errors_are_twilio_errors", "test_async_calls", "test_over_real_http"):
        assert re.search(rf"test_example.py::{name} PASSED", output), output
    assert "5 passed" in output

    # Without the plugin the same file cannot run: the fixtures come from the entry point.
    without = run_pytest(project, "-p", "no:flexchat")
    assert without.returncode != 0
    assert "fixture 'flex_client' not found" in without.stdout


def test_the_guide_quotes_the_example_verbatim() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    example = EXAMPLE.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", guide, re.DOTALL)
    assert example in blocks, "docs/testing.md must quote docs/examples/test_example.py in full"


@pytest.mark.parametrize("fixture", ["flex_client", "flex_async_client", "flexchat_server"])
def test_the_guide_documents_every_fixture(fixture: str) -> None:
    assert f"`{fixture}`" in GUIDE.read_text(encoding="utf-8")



FAILING = """
from flexchat.testing import run_server


def test_plugin_server(flexchat_server):
    assert flexchat_server.base_url == "wrong"


def test_run_server(tmp_path):
    with run_server(f"sqlite:///{tmp_path}/x.db") as server:
        assert server.port == 0
"""


def test_a_failed_assertion_shows_no_secret(tmp_path: Path) -> None:
    # pytest prints the repr of the objects in a failed assertion: neither the fixture's
    # token nor the server's environment (a CI job's secrets, the bootstrap token) may be in it.
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_user.py").write_text(FAILING)
    secret = "ci-secret-4f1d"
    env = {**os.environ, "MY_CI_DEPLOY_KEY": secret}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(project)],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )
    output = result.stdout + result.stderr
    assert "2 failed" in output, output
    assert "ServerProcess(base_url='http://127.0.0.1:" in output and "FlexchatServer(base_url=" in output, output
    assert secret not in output and "auth_token=" not in output and "FLEXCHAT_AUTH_TOKEN" not in output, output


def test_the_reprs_mask_a_database_password() -> None:
    from flexchat.testing import InProcessFlexchat, ServerProcess

    from .postgres import postgres_database

    password = "s3cretpw"
    process = ServerProcess("http://127.0.0.1:1", "AC" + "0" * 32, "token", f"postgresql://u:{password}@h/db", 1)
    assert password not in repr(process) and "postgresql://u:***@h/db" in repr(process)
    with postgres_database() as url:
        # Trust authentication ignores the password; the URL still carries it.
        parts = urlsplit(url)
        netloc = f"{parts.username or 'postgres'}:{password}@{parts.hostname}:{parts.port or 5432}"
        with InProcessFlexchat(urlunsplit(parts._replace(netloc=netloc))) as flexchat:
            assert password not in repr(flexchat) and "postgres:***@" in repr(flexchat)
