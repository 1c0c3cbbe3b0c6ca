"""The Node.js clients of the docs' examples (twilio-node, twilio-cli), installed from the
npm registry into a cache directory outside the tracked files: by ``make clients``
(``python -m tests.node_clients``) or by the ``node_clients`` fixture on first use.

Without node or npm, or when the install fails, the tests that need them skip and say
why; under ``CI=true`` that is a failure instead, as for PostgreSQL.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
CACHE = Path(os.environ.get("FLEXCHAT_CACHE_DIR", ROOT / ".cache"))
NODE_DIR = CACHE / "node"
# Exact versions: the pages say which versions they were run with.
PACKAGES = {"twilio": "6.2.0", "twilio-cli": "6.2.4"}


class Unavailable(RuntimeError):
    """Node, npm or the packages cannot be had here; the message says why."""


def install(quiet: bool = True) -> Path:
    """Install PACKAGES into NODE_DIR unless they already are; returns its node_modules."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise Unavailable(f"{tool} is not installed (the Node.js examples need node and npm on PATH)")
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    stamp = NODE_DIR / "installed.json"
    # Several test processes (pytest -n) may get here at once: one installs, the others wait.
    with open(NODE_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and json.loads(stamp.read_text()) == PACKAGES:
            return NODE_DIR / "node_modules"
        (NODE_DIR / "package.json").write_text(
            json.dumps({"private": True, "description": "flexchat docs' Node.js clients", "dependencies": PACKAGES})
        )
        command = ["npm", "install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"]
        try:
            done = subprocess.run(
                command, cwd=NODE_DIR, capture_output=quiet, text=True, timeout=600, check=False
            )
        except subprocess.TimeoutExpired:
            raise Unavailable("npm install of the Node.js clients took over 10 minutes") from None
        if done.returncode != 0:
            raise Unavailable(f"npm install {' '.join(PACKAGES)} failed: {(done.stderr or '')[-1000:]}")
        stamp.write_text(json.dumps(PACKAGES))
    return NODE_DIR / "node_modules"


def node_env(node_modules: Path, **extra: str) -> dict[str, str]:
    """An environment where ``require("twilio")`` and the ``twilio`` command resolve to the cache."""
    env = {key: value for key, value in os.environ.items() if key not in ("TWILIO_EDGE", "TWILIO_REGION")}
    env["NODE_PATH"] = str(node_modules)
    env["PATH"] = f"{node_modules / '.bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


if __name__ == "__main__":
    if sys.argv[1:] != ["install"]:
        sys.exit("usage: python -m tests.node_clients install")
    try:
        print(install(quiet=False))
    except Unavailable as error:
        sys.exit(f"tests.node_clients: {error}")
