"""Helpers for test suites: a real ``flexchat serve`` process, and (below) the
in-process drop-in for the official twilio client."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

from .sids import mint_sid


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A running ``flexchat serve`` and the credentials of the account it was started with."""

    base_url: str
    account_sid: str
    auth_token: str
    database_url: str
    port: int
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        """Start the process and wait until it answers HTTP."""
        # A file, not a pipe: a pipe nobody reads would block a chatty server.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flexchat.cli", "serve", *self.args],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"flexchat serve exited with {self.process.returncode}: {self.output()[-2000:]}")
            try:
                urllib.request.urlopen(self.base_url + "/v1/Channels", timeout=1)
            except urllib.error.HTTPError:
                return  # 401 without credentials: it is up
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"flexchat serve did not answer on {self.base_url} within {timeout}s")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Stop the process (SIGTERM by default; SIGKILL to simulate a crash)."""
        if self.process is None or self.process.poll() is not None:
            return
        if self.process.pid and sig == signal.SIGKILL:
            # With --workers the children must die too, as in a real crash.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def output(self) -> str:
        """What the server printed so far."""
        if self.log is None:
            return ""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    @property
    def auth(self) -> tuple[str, str]:
        return (self.account_sid, self.auth_token)


@contextlib.contextmanager
def run_server(
    database_url: str,
    *,
    port: int | None = None,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> Iterator[ServerProcess]:
    """A ``flexchat serve`` on 127.0.0.1 for the duration of the block.

    The account it is started with comes from FLEXCHAT_ACCOUNT_SID/AUTH_TOKEN, minted here.
    """
    port = port or free_port()
    account_sid, auth_token = mint_sid("AC"), secrets.token_hex(16)
    full_env = {
        **os.environ,
        **(env or {}),
        "FLEXCHAT_ACCOUNT_SID": account_sid,
        "FLEXCHAT_AUTH_TOKEN": auth_token,
        "FLEXCHAT_ACCESS_LOG": "false",
    }
    args = ["--host", "127.0.0.1", "--port", str(port), "--database", database_url, *extra_args]
    server = ServerProcess(
        f"http://127.0.0.1:{port}", account_sid, auth_token, database_url, port, args, full_env
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
