"""Overload figures (issue 12): what admitted requests' latency does while an account is
refused over its concurrency limit.

Per engine, on a fresh database, one ``flexchat serve`` worker with a per-account limit
(``--limit``, default 8), for two operations (a 50-row Flex Flow list and a Flex Flow
create):

1. unloaded: a probe (one keep-alive connection, one request at a time) for
   ``--seconds``; its p50 / p99 (for information);
2. at the limit: wrk keeps ``limit - 1`` requests of the same account in flight beside
   the probe, so the account is exactly at its limit and nothing is refused: the
   baseline, the latency the admitted requests have without any excess load;
3. overloaded: wrk sends for the same account on ``--connections`` (default 64) at once,
   far over the limit, while the probe runs again; the probe's admitted (2xx) requests'
   p50 / p99, how many of its and wrk's requests were refused with 429, and any 5xx.
   Twice: clients that honour ``Retry-After`` (a refused connection waits
   ``--backoff-ms``, default 1000, before its next request: what Twilio's 429 asks) and a
   hostile flood (a refused connection retries at once, so the process never idles);
4. recovery: as soon as wrk stops, how long until the probe's next request succeeds.

The target: admitted p99 under overload <= 2 x the p99 at the limit (the refusals must
not slow down what is admitted; the unloaded p99 of one request at a time is shown too,
but requests admitted up to the limit share the process with each other, whatever the
excess load does). Latency is measured by
the probe only, since wrk's percentiles mix refusals with admissions. The client shares
this machine's two cores with the server, so the figures are relative, not absolute.
Under the hostile flood the process spends all its time answering 429s; an admitted
request then waits behind every connection's refusal on the one event loop, which no
concurrency limit can prevent (docs/scaling.md).

On SQLite, reads run on the event loop without yielding, so a list request is never in
flight beside another of its process and the limit meets only writes; on PostgreSQL
every query yields and both operations meet it. Results go to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flexchat.testing import add_account, run_server
from run import (
    DEFAULT_POSTGRES_URL,
    LUA_DIR,
    RESULTS_DIR,
    ensure_wrk,
    log,
    postgres_available,
    postgres_database,
)

TARGET_RATIO = 2.0
FLOWS = 50


def flow_form() -> str:
    return (
        "FriendlyName=Bench&ChatServiceSid=IS" + secrets.token_hex(16) + "&ChannelType=web"
        "&IntegrationType=studio&Integration.FlowSid=FW" + secrets.token_hex(16)
    )


OPERATIONS = {
    "list": ("GET", "/v1/FlexFlows?PageSize=50", ""),
    "create": ("POST", "/v1/FlexFlows", "make"),
}


def probe(port: int, auth: str, method: str, path: str, seconds: float) -> list[tuple[int, float]]:
    """Requests one at a time for ``seconds``: (status, latency in ms) each."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}
    out: list[tuple[int, float]] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            body = flow_form() if method == "POST" else None
            started = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            out.append((response.status, (time.perf_counter() - started) * 1000))
    finally:
        conn.close()
    return out


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextlib.contextmanager
def flood(
    port: int, auth: str, method: str, path: str, body: str, seconds: float, connections: int, backoff_ms: int
) -> Iterator[dict[str, Any]]:
    """wrk on the account for ``seconds`` in the background; its counts after the block."""
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
        "-s", str(LUA_DIR / "overload.lua"), "-H", f"Authorization: {auth}",
        f"http://127.0.0.1:{port}{path}", "--", method, path, body, str(backoff_ms),
    ]
    result: dict[str, Any] = {}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield result
    finally:
        stdout, stderr = process.communicate(timeout=seconds + 60)
        for line in stdout.splitlines():
            if line.startswith("BENCH_RESULT "):
                result.update(json.loads(line.removeprefix("BENCH_RESULT ")))
        if not result:
            raise RuntimeError(f"wrk printed no result: {stdout}\n{stderr}")


def summary(samples: list[tuple[int, float]]) -> dict[str, Any]:
    admitted = [ms for status, ms in samples if status < 300]
    return {
        "requests": len(samples),
        "admitted": len(admitted),
        "refused": sum(1 for status, _ in samples if status == 429),
        "server_errors": sum(1 for status, _ in samples if status >= 500),
        "p50_ms": statistics.median(admitted) if admitted else float("nan"),
        "p99_ms": percentile(admitted, 0.99),
    }


def run_engine(engine: str, url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    env = {"FLEXCHAT_MAX_CONCURRENT_REQUESTS_PER_ACCOUNT": str(args.limit)}
    rows = []
    with run_server(url, env=env) as server:
        sid, token = add_account(url, "overload")
        auth = "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        for _ in range(FLOWS):  # the list returns a full page
            conn.request("POST", "/v1/FlexFlows", body=flow_form(),
                         headers={"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"})
            response = conn.getresponse()
            response.read()
            assert response.status == 201, response.status
        conn.close()
        for name, (method, path, body_kind) in OPERATIONS.items():
            body = flow_form() if body_kind else ""
            probe(server.port, auth, method, path, 1.0)  # warm up
            alone = summary(probe(server.port, auth, method, path, args.seconds))
            at_limit = overloaded(server.port, auth, engine, name, method, path, body, alone, alone,
                                  "at the limit", 0, args, args.limit - 1)
            rows.append(at_limit)
            for clients, backoff_ms in (("Retry-After", args.backoff_ms), ("flood", 0)):
                rows.append(overloaded(server.port, auth, engine, name, method, path, body, alone,
                                       at_limit["overloaded"], clients, backoff_ms, args, args.connections))
    return rows


def overloaded(
    port: int, auth: str, engine: str, name: str, method: str, path: str, body: str, unloaded: dict[str, Any],
    baseline: dict[str, Any], clients: str, backoff_ms: int, args: argparse.Namespace, connections: int,
) -> dict[str, Any]:
    """One loaded run beside the probe, and the recovery after it."""
    with flood(port, auth, method, path, body, args.seconds + 2, connections, backoff_ms) as wrk:
        time.sleep(1.0)
        loaded = summary(probe(port, auth, method, path, args.seconds))
    # Recovery: the load is over; the next request must be served.
    started = time.monotonic()
    while True:
        status = probe(port, auth, method, path, 0.001)[0][0]
        if status < 300:
            break
    recovery_ms = (time.monotonic() - started) * 1000
    ratio = loaded["p99_ms"] / baseline["p99_ms"]
    row = {
        "engine": engine, "operation": name, "clients": clients, "limit": args.limit,
        "connections": connections, "unloaded": unloaded, "overloaded": loaded, "wrk": wrk,
        "recovery_ms": recovery_ms, "p99_ratio": ratio,
    }
    log(f"{engine:10} {name:6} {clients:12} unloaded p99 {unloaded['p99_ms']:6.2f} ms | admitted p99 "
        f"{loaded['p99_ms']:6.2f} ms ({ratio:.2f}x), probe refused {loaded['refused']}/{loaded['requests']},"
        f" wrk refused {wrk['refused']}/{wrk['requests']}, 5xx {wrk['server_errors'] + loaded['server_errors']}")
    return row


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"\nOverload: one account at and over its limit ({rows[0]['limit']} in flight); target: admitted p99"
          f" under overload <= {TARGET_RATIO:g} x the p99 at the limit\n")
    print("| engine | operation | load | connections | unloaded p50 / p99 ms | admitted p50 / p99 ms |"
          " p99 / at limit | refused (wrk) | 5xx | recovery ms | target |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        u, o, w = r["unloaded"], r["overloaded"], r["wrk"]
        refused = f"{w['refused'] / max(w['requests'], 1):.0%} of {w['requests']}"
        met = "" if r["clients"] == "at the limit" else "met" if r["p99_ratio"] <= TARGET_RATIO else "MISSED"
        print(f"| {r['engine']} | {r['operation']} | {r['clients']} | {r['connections']} | "
              f"{u['p50_ms']:.2f} / {u['p99_ms']:.2f} | "
              f"{o['p50_ms']:.2f} / {o['p99_ms']:.2f} | {r['p99_ratio']:.2f} | {refused} | "
              f"{w['server_errors'] + o['server_errors']} | {r['recovery_ms']:.1f} | {met} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--backoff-ms", dest="backoff_ms", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_DURATION", 8)))
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    args = parser.parse_args()
    ensure_wrk()
    rows: list[dict[str, Any]] = []
    for engine in args.engines.split(","):
        if engine == "sqlite":
            with tempfile.TemporaryDirectory(prefix="flexchat-overload-") as directory:
                rows += run_engine(engine, f"sqlite:///{directory}/flexchat.db", args)
        else:
            why = postgres_available(args.postgres_url)
            if why:
                log(f"postgresql skipped: {why}")
                continue
            with postgres_database(args.postgres_url, keep=False) as url:
                rows += run_engine(engine, url, args)
    print_table(rows)
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"overload-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(rows, indent=2))
    log(f"raw figures in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
