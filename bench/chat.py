"""The conversation's figures (issue 8), each a ratio measured side by side in one run.

On a fresh database per engine, with one ``flexchat serve`` worker:

1. message list (PageSize=50, a channel with 200 messages) against the Flex channel list
   (PageSize=50, 200 channels): target >= 0.9;
2. message create with a webhook on (the channel's webhook filters onMessageSent and the
   request carries X-Twilio-Webhook-Enabled, so each create writes an outbox row that is
   delivered to a local receiver) against message create on a channel with none:
   target >= 0.8;
3. under that sustained create load, the outbox: its pending depth sampled every 100 ms
   (it must drain, not grow), the time to drain after the load stops, and the delivery
   latency p50 / p99 under it: a probe thread posts a message with the header to the
   same channel every 20 ms while wrk runs, and each probe's latency is the receiver's
   arrival of its webhook minus the moment the probe's request was sent (so it holds the
   create itself, the wake-up, the claim and the send; one clock, one machine);
4. what the event's own write costs a create, delivery aside: the same two creates, in
   interleaved rounds, on a second server started on the same database once the first
   has stopped, with ``FLEXCHAT_WEBHOOK_SENDER=none`` (it writes each event to the outbox
   in the message's transaction, as the target requires, and sends none; nothing else
   runs meanwhile). No delivery at all can make figure 2 better than this ratio.

Read and write figures run in interleaved rounds (``BENCH_ROUNDS``, default 3), best
round kept. All traffic stays on 127.0.0.1. Run by ``make bench`` after bench/run.py.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing
import os
import signal
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flexchat.testing import free_port, run_server
from run import DEFAULT_POSTGRES_URL, Wrk, ensure_wrk, log, postgres_available, postgres_database

TARGET_MESSAGE_LIST = 0.9
TARGET_CREATE_WITH_WEBHOOK = 0.8
FILL = 200


def _receive(port: int, out_path: str) -> None:
    """A minimal HTTP receiver (own process): answers 200 at once, notes each request's
    arrival time and idempotency token, writes them to ``out_path`` on SIGTERM."""
    arrivals: list[tuple[str, str, float]] = []

    class Receiver(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while b"\r\n\r\n" in self.buffer:
                head, _, rest = self.buffer.partition(b"\r\n\r\n")
                headers = dict(
                    line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line
                )
                lowered = {k.strip().lower(): v.strip() for k, v in headers.items()}
                length = int(lowered.get(b"content-length", b"0"))
                if len(rest) < length:
                    return
                body, self.buffer = rest[:length], rest[length:]
                token = lowered.get(b"i-twilio-idempotency-token", b"").decode()
                message = parse_qs(body.decode()).get("MessageSid", [""])[0]
                arrivals.append((token, message, time.time() * 1000))
                self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        server = await loop.create_server(Receiver, "127.0.0.1", port)
        await stop.wait()
        server.close()

    asyncio.run(serve())
    Path(out_path).write_text(json.dumps(arrivals))


@contextlib.contextmanager
def receiver() -> Iterator[tuple[str, list[tuple[str, str, float]]]]:
    """A receiver process on a free port; yields its URL and, after the block, its arrivals."""
    port = free_port()
    out = tempfile.NamedTemporaryFile(suffix=".json", delete=False)  # noqa: SIM115
    out.close()
    process = multiprocessing.Process(target=_receive, args=(port, out.name), daemon=True)
    process.start()
    arrivals: list[tuple[str, str, float]] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/events", arrivals
    finally:
        assert process.pid is not None
        os.kill(process.pid, signal.SIGTERM)
        process.join(10)
        arrivals.extend((token, sid, at) for token, sid, at in json.loads(Path(out.name).read_text() or "[]"))
        os.unlink(out.name)


class Setup:
    """An account's flows and channels for the figures, made through the API."""

    def __init__(self, base: str, auth: tuple[str, str], hook_url: str) -> None:
        self.base, self.session = base, requests.Session()
        self.session.auth = auth
        service = "IS" + os.urandom(16).hex()
        flow = self.post("/v1/FlexFlows", FriendlyName="bench", ChatServiceSid=service, ChannelType="web",
                         IntegrationType="task", **{"Integration.WorkspaceSid": "WS" + os.urandom(16).hex(),
                                                    "Integration.WorkflowSid": "WW" + os.urandom(16).hex()})
        channels = [
            self.post("/v1/Channels", FlexFlowSid=flow["sid"], Identity=f"bench-{n}",
                      ChatUserFriendlyName="Bench", ChatFriendlyName="Bench")["sid"]
            for n in range(FILL)
        ]
        self.service, self.quiet, self.hooked = service, channels[0], channels[1]
        self.post(f"/v2/Services/{service}/Channels/{self.hooked}/Webhooks", Type="webhook",
                  **{"Configuration.Url": hook_url, "Configuration.Method": "POST",
                     "Configuration.Filters": "onMessageSent", "Configuration.RetryCount": "1"})
        for n in range(FILL):
            self.post(self.messages(self.quiet), From="customer", Body=f"message {n}")

    def post(self, path: str, **data: str) -> dict[str, Any]:
        response = self.session.post(self.base + path, data=data, timeout=30)
        response.raise_for_status()
        return dict(response.json())

    def messages(self, channel: str) -> str:
        return f"/v2/Services/{self.service}/Channels/{channel}/Messages"


def outbox_depth(database_url: str) -> int:
    """Pending outbox rows (SQLite directly; PostgreSQL through psql-free asyncpg)."""
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(path, timeout=5)) as conn:
            return int(conn.execute("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0])
    import asyncpg  # type: ignore[import-untyped]

    async def count() -> int:
        conn = await asyncpg.connect(database_url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE state = 'pending'"))
        finally:
            await conn.close()

    return asyncio.run(count())


class Probes:
    """Messages posted at a steady pace beside the load: (message sid, ms when sent)."""

    def __init__(self, setup: Setup) -> None:
        self.setup, self.sent, self.stop = setup, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        path = self.setup.messages(self.setup.hooked)
        n = 0
        while not self.stop.wait(0.02):
            n += 1
            started = time.time() * 1000
            response = self.setup.session.post(
                self.setup.base + path, data={"From": "probe", "Body": f"probe {n}"},
                headers={"X-Twilio-Webhook-Enabled": "true"}, timeout=30,
            )
            if response.status_code == 201:
                self.sent.append((response.json()["sid"], started))

    def __enter__(self) -> Probes:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def event_write_bound(engine: str, database_url: str, setup: Setup, auth: str, wrk: Wrk, rounds: int) -> float:
    """Figure 4: creates with the header over creates without, on a server that writes
    events and sends none (the first server stopped, so no process delivers)."""
    best: dict[str, float] = {}
    with run_server(database_url, env={"FLEXCHAT_WEBHOOK_SENDER": "none"}) as server:
        for _ in range(rounds):
            for name, channel, mode in (("without", setup.quiet, "plain"), ("with", setup.hooked, "webhooks")):
                figure = wrk.figure(engine, f"create, webhook {name}, no sender", 1,
                                    server.base_url + setup.messages(channel), "message.lua", auth=auth, args=(mode,))
                best[name] = max(best.get(name, 0.0), figure.rps)
    return best["with"] / best["without"]


def run_engine(engine: str, database_url: str, wrk: Wrk, rounds: int) -> dict[str, Any]:
    """Every figure of this module on one engine."""
    with receiver() as (hook_url, arrivals), run_server(database_url) as server:
        auth = "Basic " + base64.b64encode(f"{server.account_sid}:{server.auth_token}".encode()).decode()
        setup = Setup(server.base_url, server.auth, hook_url)
        best: dict[str, float] = {}
        depth_samples: list[int] = []
        sent: list[tuple[str, float]] = []
        for _ in range(rounds):
            figures = {
                "channel list": wrk.figure(engine, "channel list", 1, server.base_url + "/v1/Channels?PageSize=50",
                                           auth=auth),
                "message list": wrk.figure(engine, "message list", 1,
                                           server.base_url + setup.messages(setup.quiet) + "?PageSize=50", auth=auth),
                "create, no webhook": wrk.figure(engine, "create, no webhook", 1,
                                                 server.base_url + setup.messages(setup.quiet), "message.lua",
                                                 auth=auth, args=("plain",)),
            }
            sampling = threading.Event()

            def sample(sampling: threading.Event = sampling) -> None:
                while not sampling.wait(0.1):
                    with contextlib.suppress(Exception):
                        depth_samples.append(outbox_depth(database_url))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            with Probes(setup) as probes:
                figures["create, webhook on"] = wrk.figure(
                    engine, "create, webhook on", 1, server.base_url + setup.messages(setup.hooked), "message.lua",
                    auth=auth, args=("webhooks",),
                )
            sent.extend(probes.sent)
            sampling.set()
            sampler.join()
            for name, figure in figures.items():
                best[name] = max(best.get(name, 0.0), figure.rps)
        drain_started = time.monotonic()
        while outbox_depth(database_url) and time.monotonic() - drain_started < 120:
            time.sleep(0.1)
        drained_after = time.monotonic() - drain_started
    write_bound = event_write_bound(engine, database_url, setup, auth, wrk, rounds)
    arrived: dict[str, float] = {}
    for _, message, at in arrivals:
        arrived[message] = min(at, arrived.get(message, at))
    latencies = sorted(arrived[sid] - started for sid, started in sent if sid in arrived)
    return {
        "engine": engine,
        "rps": best,
        "message_list_ratio": best["message list"] / best["channel list"],
        "create_with_webhook_ratio": best["create, webhook on"] / best["create, no webhook"],
        "event_write_bound": write_bound,
        "outbox_depth_max": max(depth_samples, default=0),
        "outbox_depth_last": depth_samples[-1] if depth_samples else 0,
        "drained_after_s": drained_after,
        "delivered": len(arrivals),
        "probes": len(latencies),
        "latency_p50_ms": statistics.median(latencies) if latencies else None,
        "latency_p99_ms": latencies[int(len(latencies) * 0.99) - 1] if latencies else None,
    }


def render(results: list[dict[str, Any]]) -> str:
    """The figures as a Markdown table, with the targets."""
    lines = [
        "| engine | message list / channel list | create with webhook / without | the same, events written"
        " and not sent | outbox depth max (last) | drained after | delivered | create → webhook p50 / p99 (probes) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rps = r["rps"]
        lines.append(
            f"| {r['engine']} | {rps['message list']:.0f} / {rps['channel list']:.0f} = "
            f"**{r['message_list_ratio']:.2f}** (≥ {TARGET_MESSAGE_LIST}) | {rps['create, webhook on']:.0f} / "
            f"{rps['create, no webhook']:.0f} = **{r['create_with_webhook_ratio']:.2f}** "
            f"(≥ {TARGET_CREATE_WITH_WEBHOOK}) | {r['event_write_bound']:.2f} | "
            f"{r['outbox_depth_max']} ({r['outbox_depth_last']}) | "
            f"{r['drained_after_s']:.1f} s | {r['delivered']} | "
            f"{r['latency_p50_ms'] or 0:.1f} / {r['latency_p99_ms'] or 0:.1f} ms ({r['probes']}) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the conversation figures on each engine and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args(argv)
    ensure_wrk()
    wrk = Wrk(float(os.environ.get("BENCH_DURATION", "5")), 32, 1)
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    results = []
    for engine in args.engines.split(","):
        if engine == "sqlite":
            with tempfile.TemporaryDirectory() as directory:
                results.append(run_engine(engine, f"sqlite:///{directory}/bench.db", wrk, rounds))
        else:
            admin = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
            reason = postgres_available(admin)
            if reason:
                log(f"postgresql skipped: {reason}")
                continue
            with postgres_database(admin, keep=False) as url:
                results.append(run_engine(engine, url, wrk, rounds))
    print(render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
