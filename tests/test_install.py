"""Installing flexchat as docs/testing.md says, into a new virtual environment: from git
with the ``testing`` extra, and from a source directory. The installed copy, not this
source tree, then serves the CLI, its migrations and the in-process twilio client.

Slow (a venv and the dependencies from pip's cache, ~15 s on an idle machine): marked ``slow``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

CHECK_TESTING = """
from flexchat.testing import twilio_client
client = twilio_client()
flow = client.flex_api.v1.flex_flow.create(
    friendly_name="x", chat_service_sid="IS" + "0" * 32, channel_type="web",
    integration_type="external", integration_url="https://example.com",
)
print(len(client.flex_api.v1.flex_flow.list()), "flow")
"""


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def run(command: list[str], cwd: Path, timeout: float = 600) -> str:
    # No PYTHONPATH and a directory outside the source tree: only the installed copy is importable.
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.slow
def test_install_from_git_and_from_a_source_directory(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        unavailable("not a git checkout: nothing to install from git")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    env_dir = tmp_path / "venv"
    # No pip of its own: this suite's pip installs into it (--python), which saves seeding
    # the venv with Python's bundled pip and upgrading it, as the README tells users to
    # (pip before 24.1, e.g. Python 3.11's bundled 23.2, refuses "name @ git+file:///...").
    venv.create(env_dir, with_pip=False)
    python = str(env_dir / "bin" / "python")
    flexchat = str(env_dir / "bin" / "flexchat")
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--disable-pip-version-check"]

    # As docs/testing.md shows it, at the commit this tree is on.
    run([*pip, f"flexchat[testing] @ git+file://{ROOT}@{head.stdout.strip()}"], tmp_path)
    assert run([flexchat, "--version"], tmp_path).startswith("flexchat ")
    assert run([python, "-c", CHECK_TESTING], tmp_path) == "1 flow\n"
    plugin = run([python, "-c", "from importlib.metadata import entry_points; "
                  "print([e.value for e in entry_points(group='pytest11') if e.name == 'flexchat'])"], tmp_path)
    assert plugin.strip() == "['flexchat.pytest_plugin']"
    where = run([python, "-c", "import flexchat; print(flexchat.__file__)"], tmp_path)
    assert str(env_dir) in where and str(ROOT) not in where

    # From a source directory (this working tree, uncommitted edits included), over it.
    run([*pip, "--no-deps", "--force-reinstall", f"{ROOT}[testing]"], tmp_path)  # the form docs/testing.md shows
    created = run(
        [flexchat, "account", "create", "--database", "sqlite:///installed.db", "--format", "shell"], tmp_path
    )
    assert created.startswith("export TWILIO_ACCOUNT_SID=AC")
    assert (tmp_path / "installed.db").is_file()  # the packaged migrations built it
    assert run([python, "-c", CHECK_TESTING], tmp_path) == "1 flow\n"
