"""A fresh clone as a newcomer gets it: only the tracked files, no ``../shared`` beside it,
no ``.venv``. ``make run`` must install only what serving needs, and the conformance tests
must run after the documented ``make reference``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def unavailable(reason: str) -> None:
    """Skip with ``reason``; under CI=true, where everything must run, fail instead."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def fresh_clone(into: Path) -> Path:
    """The tracked files of this working tree (uncommitted edits included) in ``into/flexchat``."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        unavailable("not a git checkout: cannot tell the tracked files")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode()
    clone = into / "flexchat"
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    assert not (clone.parent / "shared").exists()
    return clone


def make_dry_run(clone: Path, target: str) -> list[str]:
    """The commands ``make TARGET`` would run in ``clone``."""
    # Not the settings of a make this suite may run under (`make test`).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", target], cwd=clone, env=env, capture_output=True, text=True,
        check=True, timeout=60,
    )
    return done.stdout.splitlines()


def test_make_run_installs_only_what_serving_needs(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path)
    run = make_dry_run(clone, "run")
    assert [line for line in run if "pip install" in line] == [
        ".venv/bin/python -m pip install --quiet --upgrade pip",
        ".venv/bin/python -m pip install --quiet -e .",
    ]
    assert run[-1] == ".venv/bin/flexchat serve "
    test = make_dry_run(clone, "test")
    assert ".venv/bin/python -m pip install --quiet -e '.[dev]'" in test
    assert test[-1].startswith(".venv/bin/python -m pytest")


@pytest.mark.slow
def test_conformance_runs_in_a_fresh_clone_after_make_reference(tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        unavailable("npm is not installed: `make reference` fetches the spec with it")
    clone = fresh_clone(tmp_path)
    # Without CI: the first run must show the skip a newcomer sees (CI=true makes it a failure).
    env = {key: value for key, value in os.environ.items() if key not in ("FLEXCHAT_REFERENCE_DIR", "CI")}
    env["FLEXCHAT_CONFORMANCE_EXAMPLES"] = "2"
    pytest_args = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs",
        "tests/test_conformance.py", "-k", "in_process or the_validator_catches",
    ]

    before = subprocess.run(pytest_args, cwd=clone, env=env, capture_output=True, text=True, timeout=300)
    # Flex v1, Chat v2 and its channel resources, TaskRouter v1, Studio v2 in process, and
    # the validator check.
    assert "6 skipped" in before.stdout, before.stdout + before.stderr
    assert "run `make reference`" in before.stdout and "@twilio/cli-core" in before.stdout, before.stdout

    fetched = subprocess.run(["make", "reference"], cwd=clone, env=env, capture_output=True, text=True, timeout=300)
    output = fetched.stdout + fetched.stderr
    # A checksum that does not match is a real failure; npm unable to reach its registry is not ours.
    if fetched.returncode != 0 and "sha256sum" not in output and "FAILED" not in output:
        unavailable(f"`make reference` could not fetch @twilio/cli-core from npm: {output[-500:]}")
    assert fetched.returncode == 0, output
    assert (clone / ".cache" / "twilio-api" / "twilio_flex_v1.json").is_file()

    after = subprocess.run(pytest_args, cwd=clone, env=env, capture_output=True, text=True, timeout=300)
    assert after.returncode == 0, after.stdout + after.stderr
    assert "6 passed" in after.stdout and "skipped" not in after.stdout, after.stdout
