"""Server CPU time per request, for git revisions of ``src/`` with the access log off and on.

    python bench/cpu_per_request.py --database sqlite:////tmp/bench.db --account AC... --token ... REV [REV ...]

While wrk drives the first list page (PageSize=50), the server's CPU time (utime +
stime from /proc) divided by the requests it served is the figure: on a machine shared
with other work it moves far less than req/s, which depends on what else got the
cores. Each revision's ``src/`` is exported as in ``compare.py``; rounds interleave the
configurations and the lowest figure of each is kept. The server's stdout (the access
log) goes to /dev/null. Used for docs/operations.md (the overhead of issue 10).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from compare import export, revisions_parser
from flexchat.testing import free_port
from run import log

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def wrk(url: str, auth: str, seconds: float) -> tuple[int, float]:
    """Requests served and req/s of one wrk run."""
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds:g}s", "-H", f"Authorization: {auth}", url],
        capture_output=True, text=True, check=True,
    ).stdout
    served = int(next(line for line in out.splitlines() if "requests in" in line).split()[0])
    rate = float(next(line for line in out.splitlines() if line.startswith("Requests/sec")).split()[1])
    return served, rate


def measure(pythonpath: str, database: str, auth: str, access_log: bool, seconds: float) -> tuple[float, float]:
    """CPU microseconds per request and req/s of one server."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": pythonpath, "FLEXCHAT_ACCESS_LOG": str(access_log).lower()}
    server = subprocess.Popen(
        [sys.executable, "-m", "flexchat.cli", "serve", "--port", str(port), "--database", database],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1/Channels?PageSize=50"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": auth}), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        wrk(url, auth, 2)  # warm-up: caches, the auth memo, uvloop's buffers
        before = cpu_seconds(server.pid)
        served, rate = wrk(url, auth, seconds)
        return (cpu_seconds(server.pid) - before) / served * 1e6, rate
    finally:
        server.terminate()
        server.wait(10)


def main() -> int:
    """Measure every revision, access log off and on, and print one table."""
    args = revisions_parser(__doc__, duration=6, rounds=3).parse_args()
    auth = "Basic " + base64.b64encode(f"{args.account}:{args.token}".encode()).decode()
    lowest: dict[tuple[str, bool], float] = {}
    fastest: dict[tuple[str, bool], float] = {}
    with tempfile.TemporaryDirectory(prefix="flexchat-cpu-") as directory:
        paths = {revision: export(revision, directory) for revision in args.revisions}
        for _ in range(args.rounds):
            for revision, path in paths.items():
                for access_log in (False, True):
                    micros, rate = measure(path, args.database, auth, access_log, args.duration)
                    state = "on " if access_log else "off"
                    log(f"{revision} access log {state} {micros:7.1f} us CPU  {rate:8.0f} req/s")
                    key = (revision, access_log)
                    lowest[key] = min(micros, lowest.get(key, micros))
                    fastest[key] = max(rate, fastest.get(key, rate))
    print("| revision | access log | us CPU per request | req/s |")
    print("|---|---|---:|---:|")
    for (revision, access_log), micros in lowest.items():
        print(f"| {revision} | {'on' if access_log else 'off'} | {micros:.1f} | {fastest[revision, access_log]:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
