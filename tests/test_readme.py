"""The README's example runs as written against a real server."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from flexchat.testing import ServerProcess

README = Path(__file__).parents[1] / "README.md"


def test_readme_example_pages_through_channels(server: ServerProcess, account: object) -> None:
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert code is not None, "README lost its python example"
    result = subprocess.run(
        [sys.executable, "-c", code.group(1)],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "TWILIO_ACCOUNT_SID": account.sid,  # type: ignore[attr-defined]
            "TWILIO_AUTH_TOKEN": account.auth_token,  # type: ignore[attr-defined]
            "FLEXCHAT_URL": server.base_url,
        },
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    pages = [ast.literal_eval(line) for line in lines[:-1]]
    assert [len(page) for page in pages] == [5, 5, 2]
    assert len({sid for page in pages for sid in page}) == 12
    assert lines[-1] == "12 channels"
