"""``make bench``: flexchat's benchmark suite and performance budget (docs/benchmarks.md).

For each engine (SQLite, and PostgreSQL where its store exists and a server answers) it
starts flexchat itself on every HTTP server of the run (``--servers``, default granian,
which ``flexchat serve`` runs on, and uvicorn, which it ran on before; see
``bench/servers.py``), measures resident memory on an empty database, seeds 1,000,000
channels with ``flexchat seed``, walks every page once (checking the count, sampling
Sids, keeping a PageToken about half-way in and every page's token), and then drives
load with wrk from a separate process, 32 connections, ~10 s per figure:

1. list, first page, PageSize=50;
2. list, a page ~10,000 pages deep (PageSize=50 with a real PA token ~500,000 rows in);
3. list with PageSize=1000;
4. fetch by Sid (random Sids from the whole data set);
5. list, random pages (PageSize=50 from random tokens: rows no cache holds; no target);
6. the ceilings: ``bench/ceiling.py``, a bare ASGI app on each server with flexchat's
   options, answering with the bytes of a real 50-channel page (and the same with
   flexchat's nine headers, for information); the fastest is the ceiling of every ratio;
7. Prism (``@stoplight/prism-cli``, installed with npm into a cache folder on first use)
   mocking the official spec (``../shared/reference/twilio_flex_v1.json``): the same list
   and fetch requests, when node and the spec are there;
8. create (unique Identities; afterwards the server is SIGKILLed and every 201 must be
   in the database), on each server in turn.

The read figures (1-7) run in interleaved rounds (``--rounds``, default 3), every server
in every round, and the best round of each is kept; then list and fetch again with 2
workers on each server. It prints the servers side by side (each figure, its ratio to
the fastest ceiling), flexchat as multiples of Prism, the memory with 0 and with
1,000,000 channels, the targets met or missed on each server, and every figure with its
latencies; the raw figures go to ``bench/results/``.

All traffic goes to 127.0.0.1. ``BENCH_CHANNELS=N`` shrinks the data set for a quick
run, ``BENCH_DURATION`` and ``BENCH_ROUNDS`` the time, ``BENCH_SERVERS`` the servers;
``BENCH_POSTGRES_URL`` names the PostgreSQL server (default: the local one).
``--profile DIR`` records the server with py-spy during each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import http.client
import json
import os
import platform
import random
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flexchat.sids import mint_sid
from flexchat.testing import ServerProcess, free_port
from servers import CHOSEN, SERVERS

ROOT = Path(__file__).resolve().parents[1]
LUA_DIR = ROOT / "bench" / "lua"
RESULTS_DIR = ROOT / "bench" / "results"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DATABASE = "flexchat_bench"
FLOWS = 10
CEILING_HEADERS = "ceiling, flexchat's headers"
SID_SAMPLE = 10_000
PRISM = "prism"
# Prism (Stoplight's mock server) on the official spec: the only public stand-in for
# the API. npm installs it into a cache folder on first use.
PRISM_PACKAGE = "@stoplight/prism-cli@5.16.0"
PRISM_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "flexchat-bench" / "prism-5.16.0"
# The spec where the conformance tests read it (FLEXCHAT_REFERENCE_DIR, else ../shared/reference).
REFERENCE_DIR = Path(os.environ.get("FLEXCHAT_REFERENCE_DIR") or ROOT.parent / "shared" / "reference")
PRISM_SPEC = Path(os.environ.get("BENCH_PRISM_SPEC") or REFERENCE_DIR / "twilio_flex_v1.json")

# The budget (issue 4): ratios measured side by side in one run, one worker.
TARGET_LIST = {"sqlite": 0.25, "postgresql": 0.15}
TARGET_DEEP = 0.9
TARGET_FETCH = {"sqlite": 0.3}
TARGET_CREATE = {"sqlite": 0.05}
TARGET_WORKERS = 1.5
TARGET_MEMORY = 1.1
TARGET_PRISM = 10.0


def log(message: str) -> None:
    """Progress on stderr, so stdout carries only the table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- wrk ---------------------------------------------------------------------------------


@dataclass
class Figure:
    """One wrk run: what was measured and what wrk reported."""

    engine: str
    name: str
    workers: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    items: int = 0  # channels per response, for channels/s
    created: int = 0
    note: str = ""
    server: str = CHOSEN  # the HTTP server (or "prism") that answered
    cpu_us: float = 0.0  # CPU time (user + system) of the server's processes per request

    @property
    def items_per_second(self) -> float:
        return self.rps * self.items


@dataclass
class Wrk:
    """How every load run is driven."""

    duration: float
    connections: int
    threads: int

    def run(self, url: str, script: str, auth: str | None = None, args: tuple[str, ...] = ()) -> dict[str, Any]:
        """Run wrk once; the figures its report script printed."""
        command = [
            "wrk", f"-t{self.threads}", f"-c{self.connections}", f"-d{self.duration:g}s", "--timeout", "10s",
            "-s", str(LUA_DIR / script),
        ]
        if auth:
            command += ["-H", f"Authorization: {auth}"]
        command += [url]
        if args:
            command += ["--", *args]
        env = {**os.environ, "BENCH_LUA_DIR": str(LUA_DIR)}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=self.duration + 60)
        for line in done.stdout.splitlines():
            if line.startswith("BENCH_RESULT "):
                result: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
                return result
        raise RuntimeError(f"wrk printed no result (exit {done.returncode}): {done.stdout}\n{done.stderr}")

    def figure(
        self, engine: str, name: str, workers: int, url: str, script: str = "list.lua",
        auth: str | None = None, args: tuple[str, ...] = (), items: int = 0, server: str = CHOSEN,
    ) -> Figure:
        """Run wrk and turn its report into a :class:`Figure`."""
        raw = self.run(url, script, auth, args)
        seconds = raw["duration_us"] / 1e6
        errors = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
        figure = Figure(
            engine, name, workers, raw["requests"] / seconds, raw["p50_us"] / 1000, raw["p99_us"] / 1000,
            raw["requests"], errors, items, raw["created"], server=server,
        )
        log(f"{engine:10} {server:11} {name:27} w={workers} {figure.rps:9.0f} req/s  p50 {figure.p50_ms:6.2f} ms"
            f"  p99 {figure.p99_ms:6.2f} ms  errors {errors}")
        return figure


def ensure_wrk() -> None:
    """wrk from Debian's packages; the Makefile installs it, this only checks."""
    if shutil.which("wrk") is None:
        raise SystemExit("bench: wrk is not installed (apt-get install -y wrk; `make bench` does it)")


# -- processes ---------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (the server's worker processes)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by ``pid`` and its descendants."""
    ticks = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError), open(f"/proc/{member}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, in MiB: the sum of their
    proportional set sizes (Pss), so that the pages a forked worker shares with its
    supervisor (granian forks, uvicorn spawns) count once, not once per process."""
    total_kib = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError), open(f"/proc/{member}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    total_kib += int(line.split()[1])
                    break
    return total_kib / 1024


@dataclass
class Bench:
    """One engine's database, the bench account, and the servers started on it."""

    engine: str
    database_url: str
    account_sid: str = field(default_factory=lambda: mint_sid("AC"))
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))

    @property
    def auth(self) -> str:
        return "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()

    @contextlib.contextmanager
    def server(self, workers: int = 1, server: str = CHOSEN) -> Iterator[ServerProcess]:
        """flexchat on ``server`` and a free port (``flexchat serve`` itself for the chosen
        server, ``bench/servers.py`` for the others); the bench account is bootstrapped
        from the environment."""
        port = free_port()
        env = {
            **os.environ,
            "FLEXCHAT_ACCOUNT_SID": self.account_sid,
            "FLEXCHAT_AUTH_TOKEN": self.auth_token,
            "FLEXCHAT_ACCESS_LOG": "false",
            "FLEXCHAT_LOG_LEVEL": "warning",
        }
        args = ["--host", "127.0.0.1", "--port", str(port), "--database", self.database_url, "--workers", str(workers)]
        process = ServerProcess(f"http://127.0.0.1:{port}", self.account_sid, self.auth_token,
                                self.database_url, port, args, env)
        if server != CHOSEN:
            process.command = [sys.executable, str(ROOT / "bench" / "servers.py"), server]
        process.start(timeout=60)
        try:
            yield process
        finally:
            process.stop()

    def seed(self, channels: int) -> float:
        """``flexchat seed`` (progress bar on stderr); the seconds it took."""
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "flexchat.cli", "seed", "--database", self.database_url,
             "--account-sid", self.account_sid, "--flows", str(FLOWS), "--channels", str(channels)],
            check=True,
        )
        return time.perf_counter() - started


class Client:
    """A keep-alive HTTP client for the set-up requests (not the measured load)."""

    def __init__(self, base_url: str, auth: str) -> None:
        parts = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
        self.auth = auth

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        headers = {"Authorization": self.auth}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body, headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def get_json(self, path: str) -> dict[str, Any]:
        status, body = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
        result: dict[str, Any] = json.loads(body)
        return result


@dataclass
class Walk:
    """What one walk over every page found."""

    channels: int
    seconds: float
    sids: list[str]
    deep_path: str
    tokens: list[str]  # the PageToken of every page after the first


def walk(client: Client, total: int) -> Walk:
    """Follow next_page_url with PageSize=1000 to the end; sample Sids, keep a half-way token."""
    path: str | None = "/v1/Channels?PageSize=1000"
    seen, sids, deep_path, tokens = 0, [], "", []
    started = time.perf_counter()
    per_page = max(1, SID_SAMPLE * 1000 // max(total, 1))
    while path:
        page = client.get_json(path)
        items = page["flex_chat_channels"]
        seen += len(items)
        sids.extend(item["sid"] for item in random.sample(items, min(per_page, len(items))))
        next_url = page["meta"]["next_page_url"]
        path = None
        if next_url:
            parts = urlsplit(next_url)
            path = f"{parts.path}?{parts.query}"
            token = parse_qs(parts.query)["PageToken"][0]
            tokens.append(token)
            if not deep_path and seen >= total // 2:
                # The same position seen through PageSize=50: page number seen / 50.
                deep_path = f"/v1/Channels?PageSize=50&Page={seen // 50}&PageToken={token}"
    return Walk(seen, time.perf_counter() - started, sids, deep_path, tokens)


@contextlib.contextmanager
def data_file(lines: list[str]) -> Iterator[str]:
    """A temporary file with one item a line, for a wrk script to read."""
    with tempfile.NamedTemporaryFile("w", prefix="flexchat-bench-", suffix=".txt") as handle:
        handle.write("\n".join(lines) + "\n")
        handle.flush()
        yield handle.name


@contextlib.contextmanager
def ceiling_server(body: bytes, *options: str, server: str = CHOSEN) -> Iterator[tuple[int, int]]:
    """``bench/ceiling.py`` answering ``body`` on ``server``; yields its port and pid."""
    port = free_port()
    with tempfile.NamedTemporaryFile(prefix="flexchat-ceiling-", suffix=".json") as handle:
        handle.write(body)
        handle.flush()
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "ceiling.py"), str(port), handle.name, *options, "--server", server],
            start_new_session=True,
        )
        try:
            answered(port)
            yield port, process.pid
        finally:
            stop_group(process)


def answered(port: int, timeout: float = 60.0) -> None:
    """Until an HTTP request to 127.0.0.1:``port`` gets any answer (granian binds in
    its worker, after the supervisor has started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answers on 127.0.0.1:{port} after {timeout}s")


def stop_group(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL after 10 s, to a process started in its own session and all
    its workers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def prism_command() -> tuple[list[str], str]:
    """The command that runs Prism on the official spec (installing it with npm into
    ``PRISM_DIR`` on first use), or why Prism cannot run here."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return [], "node and npm are not installed"
    if not PRISM_SPEC.is_file():
        return [], f"the official spec is not at {PRISM_SPEC}"
    binary = PRISM_DIR / "node_modules" / ".bin" / "prism"
    if not binary.exists():
        log(f"installing {PRISM_PACKAGE} with npm into {PRISM_DIR}")
        PRISM_DIR.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["npm", "install", "--prefix", str(PRISM_DIR), "--no-audit", "--no-fund", "--loglevel=error",
             PRISM_PACKAGE], capture_output=True, text=True, timeout=900,
        )
        if done.returncode != 0 or not binary.exists():
            return [], f"npm could not install {PRISM_PACKAGE}: {done.stderr.strip()[-300:]}"
    # Errors only: Prism logs every request at its default level, which would cost it.
    return [str(binary), "mock", "--host", "127.0.0.1", "--errors", "false", "--verboseLevel", "error",
            str(PRISM_SPEC)], ""


@contextlib.contextmanager
def prism_server(command: list[str]) -> Iterator[tuple[int, int]]:
    """Prism mocking the official spec on a free port; yields its port and pid."""
    port = free_port()
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen([*command, "--port", str(port)], stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            try:
                answered(port, timeout=120)
            except RuntimeError:
                output.seek(0)
                raise RuntimeError(f"Prism did not start: {output.read().decode(errors='replace')[-1000:]}") from None
            yield port, process.pid
        finally:
            stop_group(process)


@contextlib.contextmanager
def profiled(pid: int | None, directory: str | None, name: str, seconds: float) -> Iterator[None]:
    """py-spy records ``pid`` while the block runs (only with --profile)."""
    if directory is None or pid is None:
        yield
        return
    os.makedirs(directory, exist_ok=True)
    output = os.path.join(directory, f"{name}.txt")
    # The venv's bin is not on PATH under make: look beside this interpreter first.
    beside = Path(sys.executable).with_name("py-spy")
    binary = str(beside) if beside.exists() else (shutil.which("py-spy") or "py-spy")
    # --subprocesses: granian serves from a worker process under its supervisor.
    spy = subprocess.Popen(
        [binary, "record", "-p", str(pid), "--subprocesses", "-d", str(int(seconds)), "-r", "250", "-f", "raw",
         "-o", output],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        spy.wait(seconds + 30)


# -- databases ---------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_database(keep_dir: str | None) -> Iterator[str]:
    """A fresh SQLite file, removed afterwards (kept in ``keep_dir`` if given)."""
    if keep_dir:
        os.makedirs(keep_dir, exist_ok=True)
        yield f"sqlite:///{os.path.abspath(keep_dir)}/flexchat-bench.db"
        return
    with tempfile.TemporaryDirectory(prefix="flexchat-bench-") as directory:
        yield f"sqlite:///{directory}/flexchat.db"


async def _pg_execute(url: str, statement: str) -> Any:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        return await conn.fetchval(statement)
    finally:
        await conn.close()


@contextlib.contextmanager
def postgres_database(admin_url: str, keep: bool) -> Iterator[str]:
    """A fresh database ``flexchat_bench_<random>`` on the server, dropped afterwards
    (``flexchat_bench_kept``, kept for the next run, with --keep-db).

    Named per run: two people benchmarking on one server must not drop each other's.
    """
    name = f"{BENCH_DATABASE}_kept" if keep else f"{BENCH_DATABASE}_{secrets.token_hex(4)}"
    url = urlsplit(admin_url)._replace(path="/" + name).geturl()
    exists = asyncio.run(_pg_execute(admin_url, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"))
    if not exists:
        asyncio.run(_pg_execute(admin_url, f"CREATE DATABASE {name}"))
    try:
        yield url
    finally:
        if not keep:
            asyncio.run(_pg_execute(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def count_channels(database_url: str, account_sid: str) -> int:
    """Channels of the account, read straight from the database (not through the server)."""
    if database_url.startswith("sqlite:"):
        path = database_url.removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(path)) as conn:
            row = conn.execute("SELECT count(*) FROM channels WHERE account_sid = ?", (account_sid,)).fetchone()
            return int(row[0])
    statement = f"SELECT count(*) FROM channels WHERE account_sid = '{account_sid}'"
    return int(asyncio.run(_pg_execute(database_url, statement)))


def postgres_available(admin_url: str) -> str | None:
    """Why PostgreSQL cannot be benchmarked, or None if it can."""
    if not (ROOT / "src" / "flexchat" / "store" / "postgres.py").exists():
        return "no PostgreSQL store yet (src/flexchat/store/postgres.py)"
    try:
        asyncio.run(_pg_execute(admin_url, "SELECT 1"))
    except Exception as error:  # any failure means no server to use
        return f"no PostgreSQL answers at {admin_url} ({error.__class__.__name__})"
    return None


# -- one engine --------------------------------------------------------------------------


@dataclass
class EngineRun:
    """Everything measured for one engine, on every server of the run."""

    engine: str
    channels: int
    servers: list[str]
    figures: list[Figure] = field(default_factory=list)
    # "<server>:rss_0" and the like, in MiB.
    memory: dict[str, float] = field(default_factory=dict)
    seed_seconds: float = 0.0
    walk: dict[str, float] = field(default_factory=dict)
    durable: dict[str, str] = field(default_factory=dict)
    prism: str = ""  # why Prism was not measured, if it was not

    def get(self, name: str, workers: int = 1, server: str = CHOSEN) -> Figure | None:
        for figure in self.figures:
            if figure.name == name and figure.workers == workers and figure.server == server:
                return figure
        return None

    def ceiling(self) -> Figure | None:
        """The fastest raw-ASGI server of the run: every ratio is to it."""
        ceilings = [f for f in self.figures if f.name == "ceiling"]
        return max(ceilings, key=lambda f: f.rps) if ceilings else None


def keep_best(best: dict[tuple[str, str], Figure], figure: Figure) -> None:
    """Keep ``figure`` if it is the best round of its name and server so far."""
    key = (figure.name, figure.server)
    if key not in best or figure.rps > best[key].rps:
        best[key] = figure


def run_engine(
    engine: str, database_url: str, channels: int, wrk: Wrk, scenarios: set[str], profile: str | None,
    keep_dir: str | None, rounds: int, servers: list[str], prism: list[str],
) -> EngineRun:
    """The whole measurement for one engine on one fresh database, every server side by side."""
    result = EngineRun(engine, channels, servers)
    bench = Bench(engine, database_url)
    warm = Wrk(min(wrk.duration, 5), wrk.connections, wrk.threads)
    # With --keep-db the account is remembered beside the database, so a later run can
    # reuse the seeded data (and skips the 0-channel memory figure).
    marker = Path(keep_dir or tempfile.gettempdir()) / f"flexchat-bench-{engine}.account"
    seeded = False
    if keep_dir and marker.exists():
        bench.account_sid, bench.auth_token = marker.read_text().split()
        with contextlib.suppress(Exception):
            seeded = count_channels(database_url, bench.account_sid) >= channels
    if not seeded:
        # 0 channels: each server's memory after the same warm-up load as later.
        for name in servers:
            with bench.server(server=name) as server:
                assert server.process is not None
                warm.run(server.base_url + "/v1/Channels", "list.lua", bench.auth)
                result.memory[f"{name}:rss_0"] = rss_mib(server.process.pid)
                log(f"{engine}: {name}: resident memory with 0 channels: {result.memory[f'{name}:rss_0']:.1f} MiB")
        log(f"{engine}: seeding {channels:,} channels")
        result.seed_seconds = bench.seed(channels)
        log(f"{engine}: seeded in {result.seed_seconds:.1f} s")
        marker.write_text(f"{bench.account_sid} {bench.auth_token}")

    with contextlib.ExitStack() as stack:
        # Every server at once on the same database, so that rounds can interleave them.
        running = {name: stack.enter_context(bench.server(server=name)) for name in servers}
        chosen = running[servers[0]]
        client = Client(chosen.base_url, bench.auth)
        walked = walk(client, channels)
        log(f"{engine}: walked {walked.channels:,} channels with PageSize=1000 in {walked.seconds:.1f} s")
        if walked.channels < channels:
            raise RuntimeError(f"{engine}: the walk found {walked.channels} channels, expected {channels}")
        result.walk = {"channels": walked.channels, "seconds": walked.seconds}
        first_page = client.request("GET", "/v1/Channels")[1]
        flow_sid = client.get_json("/v1/FlexFlows?PageSize=1")["flex_flows"][0]["sid"]
        client.conn.close()

        pids: dict[str, int] = {}
        for name, server in running.items():
            assert server.process is not None
            pids[name] = server.process.pid
            warm.run(server.base_url + "/v1/Channels", "list.lua", bench.auth)
            result.memory[f"{name}:rss_1m"] = rss_mib(pids[name])
            log(f"{engine}: {name}: resident memory with {channels:,} channels:"
                f" {result.memory[f'{name}:rss_1m']:.1f} MiB")

        sid_file = stack.enter_context(data_file(walked.sids))
        token_file = stack.enter_context(data_file(walked.tokens))
        # (figure, server, url, script, script args, channels per response)
        reads: list[tuple[str, str, str, str, tuple[str, ...], int]] = []
        cpu_pids: dict[tuple[str, str], int] = {}  # whose CPU time each figure costs
        if "ceiling" in scenarios:
            for name in servers:
                port, cpu_pids["ceiling", name] = stack.enter_context(ceiling_server(first_page, server=name))
                reads.append(("ceiling", name, f"http://127.0.0.1:{port}/v1/Channels", "list.lua", (), 50))
            for name in servers:
                # Not a target: the same bytes with flexchat's nine headers (see ceiling.py).
                port, cpu_pids[CEILING_HEADERS, name] = stack.enter_context(
                    ceiling_server(first_page, "--flexchat-headers", server=name))
                reads.append((CEILING_HEADERS, name, f"http://127.0.0.1:{port}/v1/Channels", "list.lua", (), 50))
        for figure, path, script, args, items in [
            ("list", "/v1/Channels?PageSize=50", "list.lua", (), 50),
            ("list deep", walked.deep_path, "list.lua", (), 50),
            ("list PageSize=1000", "/v1/Channels?PageSize=1000", "list.lua", (), 1000),
            ("fetch", "/v1/Channels/x", "fetch.lua", (sid_file,), 1),
            ("list random pages", "/v1/Channels", "pages.lua", (token_file,), 50),
        ]:
            if figure not in scenarios or (figure == "list random pages" and not walked.tokens):
                continue  # random pages needs more than one page of data
            for name in servers:
                reads.append((figure, name, running[name].base_url + path, script, args, items))
        if prism and {"list", "fetch"} & scenarios:
            port, prism_pid = stack.enter_context(prism_server(prism))
            cpu_pids["list", PRISM] = cpu_pids["fetch", PRISM] = prism_pid
            base = f"http://127.0.0.1:{port}"
            # The same requests as flexchat's list and fetch (Prism answers the spec's example).
            reads.append(("list", PRISM, base + "/v1/Channels?PageSize=50", "list.lua", (), 50))
            reads.append(("fetch", PRISM, base + "/v1/Channels/x", "fetch.lua", (sid_file,), 1))
        # Interleaved rounds, best of each: on a shared machine a neighbour's burst then
        # costs one round of one figure, not the ratio between two figures.
        best: dict[tuple[str, str], Figure] = {}
        for _ in range(rounds):
            for figure, name, url, script, args, items in reads:
                spied = pids.get(name) if not figure.startswith("ceiling") else None
                cpu_pid = cpu_pids.get((figure, name), pids.get(name, 0))
                cpu_before = cpu_seconds(cpu_pid)
                with profiled(spied, profile, f"{engine}-{name}-{figure}", wrk.duration):
                    measured = wrk.figure(engine, figure, 1, url, script, bench.auth, args, items, name)
                measured.cpu_us = (cpu_seconds(cpu_pid) - cpu_before) / max(measured.requests, 1) * 1e6
                keep_best(best, measured)
        result.figures.extend(best.values())
        for name in servers:
            result.memory[f"{name}:rss_1m_after"] = rss_mib(pids[name])

        if "create" in scenarios:
            for name, server in running.items():
                before = count_channels(database_url, bench.account_sid)
                create = wrk.figure(engine, "create", 1, server.base_url + "/v1/Channels", "create.lua",
                                    bench.auth, (flow_sid, secrets.token_hex(4)), 1, name)
                result.figures.append(create)
                # Crash the server: what it answered 201 must already be on disk.
                server.stop(signal.SIGKILL)
                after = count_channels(database_url, bench.account_sid)
                ok = after - before >= create.created
                result.durable[name] = (f"{'yes' if ok else 'NO'}: {create.created:,} answered 201, "
                                        f"{after - before:,} in the database after SIGKILL")
                create.note = "durable" if ok else "LOST WRITES"
                log(f"{engine}: {name}: {result.durable[name]}")

    if {"list", "fetch"} & scenarios:
        with contextlib.ExitStack() as stack:
            running = {name: stack.enter_context(bench.server(workers=2, server=name)) for name in servers}
            sid_file = stack.enter_context(data_file(walked.sids))
            for server in running.values():
                warm.run(server.base_url + "/v1/Channels", "list.lua", bench.auth)
            two: dict[tuple[str, str], Figure] = {}
            for _ in range(rounds):
                for figure, path, script, args, items in [
                    ("list", "/v1/Channels?PageSize=50", "list.lua", (), 50),
                    ("fetch", "/v1/Channels/x", "fetch.lua", (sid_file,), 1),
                ]:
                    if figure not in scenarios:
                        continue
                    for name, server in running.items():
                        keep_best(two, wrk.figure(engine, figure, 2, server.base_url + path, script, bench.auth,
                                                  args, items, name))
            result.figures.extend(two.values())
            for name, server in running.items():
                assert server.process is not None
                result.memory[f"{name}:rss_1m_2_workers"] = rss_mib(server.process.pid)
    return result


# -- report ------------------------------------------------------------------------------


def check_targets(run: EngineRun, server: str = CHOSEN) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for every target that applies to the engine, on ``server``;
    ratios are to the fastest ceiling of the run."""
    checks: list[tuple[str, str, bool]] = []
    ceiling = run.ceiling()
    first = run.get("list", server=server)
    if ceiling and first and run.engine in TARGET_LIST:
        ratio = first.rps / ceiling.rps
        checks.append((f"list first page >= {TARGET_LIST[run.engine]} x ceiling", f"{ratio:.3f}",
                       ratio >= TARGET_LIST[run.engine]))
    deep = run.get("list deep", server=server)
    if first and deep:
        ratio = deep.rps / first.rps
        checks.append((f"deep page >= {TARGET_DEEP} x first page", f"{ratio:.2f}", ratio >= TARGET_DEEP))
    big = run.get("list PageSize=1000", server=server)
    if first and big:
        ratio = big.items_per_second / first.items_per_second
        checks.append(("PageSize=1000 channels/s >= PageSize=50 channels/s", f"{ratio:.2f}", ratio >= 1))
    fetch = run.get("fetch", server=server)
    if ceiling and fetch and run.engine in TARGET_FETCH:
        ratio = fetch.rps / ceiling.rps
        target = TARGET_FETCH[run.engine]
        checks.append((f"fetch >= {target} x ceiling", f"{ratio:.3f}", ratio >= target))
    create = run.get("create", server=server)
    if ceiling and create and run.engine in TARGET_CREATE:
        ratio = create.rps / ceiling.rps
        ok = ratio >= TARGET_CREATE[run.engine] and create.note == "durable" and create.errors == 0
        checks.append((f"create >= {TARGET_CREATE[run.engine]} x ceiling, every 201 durable",
                       f"{ratio:.3f}, {create.note or 'unchecked'}", ok))
    two = run.get("list", 2, server=server)
    if first and two:
        ratio = two.rps / first.rps
        checks.append((f"2 workers >= {TARGET_WORKERS} x 1 worker on list", f"{ratio:.2f}", ratio >= TARGET_WORKERS))
    rss_0, rss_1m = run.memory.get(f"{server}:rss_0"), run.memory.get(f"{server}:rss_1m")
    if rss_0 and rss_1m:
        ratio = rss_1m / rss_0
        checks.append((f"memory at {run.channels:,} <= {TARGET_MEMORY} x at 0", f"{ratio:.2f}", ratio <= TARGET_MEMORY))
    prism = run.get("list", server=PRISM)
    if first and prism:
        ratio = first.rps / prism.rps
        checks.append((f"list >= {TARGET_PRISM:g} x Prism's", f"{ratio:.1f}", ratio >= TARGET_PRISM))
    if server in run.durable:
        checks.append(("every 201 durable (SIGKILL after create)", run.durable[server],
                       run.durable[server].startswith("yes")))
    return checks


def render(runs: list[EngineRun], skipped: dict[str, str], wrk: Wrk) -> str:
    """The tables: every figure of every server side by side with its ratio to the fastest
    ceiling, Prism, memory, targets; then every figure with its latencies."""
    servers = runs[0].servers if runs else [CHOSEN]
    lines = [
        f"wrk -t{wrk.threads} -c{wrk.connections} -d{wrk.duration:g}s against 127.0.0.1; ratios are to the fastest"
        " ceiling measured in the same run (the ceiling row's best server).",
        "",
        "| engine | figure | workers | " + " | ".join(f"{s} req/s | x ceiling" for s in servers)
        + (f" | {servers[0]} / {servers[1]} |" if len(servers) > 1 else " |"),
        "|---|---|---:|" + "---:|---:|" * len(servers) + ("---:|" if len(servers) > 1 else ""),
    ]
    for run in runs:
        ceiling = run.ceiling()
        rows = dict.fromkeys((f.name, f.workers) for f in run.figures if f.server != PRISM)
        for name, workers in rows:
            cells = []
            for server in servers:
                f = run.get(name, workers, server)
                cells.append(f"{f.rps:,.0f} | {f.rps / ceiling.rps:.3f}" if f and ceiling else (
                    f"{f.rps:,.0f} | -" if f else "- | -"))
            line = f"| {run.engine} | {name} | {workers} | " + " | ".join(cells)
            if len(servers) > 1:
                a, b = run.get(name, workers, servers[0]), run.get(name, workers, servers[1])
                line += f" | {a.rps / b.rps:.2f}" if a and b else " | -"
            lines.append(line + " |")
    lines += ["", "| engine | figure | Prism req/s | " + " | ".join(f"{s} x Prism" for s in servers) + " |",
              "|---|---|---:|" + "---:|" * len(servers)]
    for run in runs:
        for name in ("list", "fetch"):
            prism = run.get(name, server=PRISM)
            if prism is None:
                continue
            cells = [f"{f.rps / prism.rps:.1f}" if (f := run.get(name, server=s)) else "-" for s in servers]
            lines.append(f"| {run.engine} | {name} | {prism.rps:,.0f} | " + " | ".join(cells) + " |")
        if run.prism:
            lines.append(f"| {run.engine} | skipped | {run.prism} |" + " - |" * len(servers))
    lines += ["", "| engine | server | RSS, 0 channels | RSS, N channels after warm-up | after all 1-worker runs"
              " | 2 workers (all processes) | seed | walk PageSize=1000 |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for run in runs:
        seed = f"{run.channels:,} in {run.seed_seconds:.0f} s" if run.seed_seconds else "reused"
        walked = f"{run.walk.get('channels', 0):,.0f} in {run.walk.get('seconds', 0):.1f} s" if run.walk else "-"
        for server in servers:
            def mib(key: str, memory: dict[str, float] = run.memory, server: str = server) -> str:
                value = memory.get(f"{server}:{key}")
                return f"{value:.1f} MiB" if value is not None else "-"

            lines.append(f"| {run.engine} | {server} | {mib('rss_0')} | {mib('rss_1m')} | {mib('rss_1m_after')} |"
                         f" {mib('rss_1m_2_workers')} | {seed} | {walked} |")
    lines += ["", "| engine | target | " + " | ".join(f"{s} | met" for s in servers) + " |",
              "|---|---|" + "---:|---|" * len(servers)]
    for run in runs:
        per_server = {server: {t: (m, ok) for t, m, ok in check_targets(run, server)} for server in servers}
        for target in dict.fromkeys(t for checks in per_server.values() for t in checks):
            cells = []
            for server in servers:
                measured, met = per_server[server].get(target, ("-", None))
                cells.append(f"{measured} | {'-' if met is None else 'yes' if met else 'NO'}")
            lines.append(f"| {run.engine} | {target} | " + " | ".join(cells) + " |")
    for engine, reason in skipped.items():
        lines.append(f"| {engine} | skipped | {reason} |" + " - | - |" * len(servers))
    lines += [
        "",
        "| engine | server | figure | workers | req/s | channels/s | p50 ms | p99 ms | x ceiling | CPU µs/req"
        " | errors | note |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        ceiling = run.ceiling()
        for f in run.figures:
            ratio = f"{f.rps / ceiling.rps:.3f}" if ceiling else "-"
            per_item = f"{f.items_per_second:,.0f}" if f.items > 1 else ""
            cpu = f"{f.cpu_us:.0f}" if f.cpu_us else ""
            lines.append(f"| {f.engine} | {f.server} | {f.name} | {f.workers} | {f.rps:,.0f} | {per_item} |"
                         f" {f.p50_ms:.2f} | {f.p99_ms:.2f} | {ratio} | {cpu} | {f.errors} | {f.note} |")
    return "\n".join(lines)


def machine() -> str:
    """nproc and the CPU model, for the record."""
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} CPUs, {model}, Python {platform.python_version()}, {system}"


def main(argv: list[str] | None = None) -> int:
    """Run the suite and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--scenarios",
                        default="ceiling,list,list deep,list PageSize=1000,fetch,list random pages,create",
                        help="comma-separated subset of the figures")
    parser.add_argument("--channels", type=int, default=int(os.environ.get("BENCH_CHANNELS", "1000000")))
    parser.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_DURATION", "10")))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")),
                        help="interleaved rounds of the read figures; the best of each is reported")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep-db", metavar="DIR", help="keep the databases (SQLite in DIR) and reuse them next time")
    parser.add_argument("--profile", metavar="DIR", help="py-spy record the server during each figure")
    parser.add_argument("--servers", default=os.environ.get("BENCH_SERVERS", f"{CHOSEN},uvicorn"),
                        help=f"HTTP servers to measure side by side, the first one's figures checked against the"
                             f" targets (any of {', '.join(SERVERS)})")
    parser.add_argument("--no-prism", action="store_true", help="do not measure Prism")
    args = parser.parse_args(argv)
    ensure_wrk()
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    if not servers or any(s not in SERVERS for s in servers):
        raise SystemExit(f"bench: --servers takes some of {', '.join(SERVERS)}")
    prism, prism_reason = ([], "--no-prism") if args.no_prism else prism_command()
    if prism_reason:
        log(f"Prism skipped: {prism_reason}")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    scenarios = {s.strip() for s in args.scenarios.split(",") if s.strip()}
    wrk = Wrk(args.duration, args.connections, args.threads)
    postgres_url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    runs: list[EngineRun] = []
    skipped: dict[str, str] = {}
    started = time.perf_counter()
    for engine in engines:
        database: Callable[[], contextlib.AbstractContextManager[str]]
        if engine == "sqlite":
            database = lambda: sqlite_database(args.keep_db)  # noqa: E731
        elif engine == "postgresql":
            reason = postgres_available(postgres_url)
            if reason:
                log(f"postgresql skipped: {reason}")
                skipped[engine] = reason
                continue
            database = lambda: postgres_database(postgres_url, bool(args.keep_db))  # noqa: E731
        else:
            raise SystemExit(f"bench: unknown engine {engine!r}")
        with database() as url:
            run = run_engine(engine, url, args.channels, wrk, scenarios, args.profile, args.keep_db, args.rounds,
                             servers, prism)
            run.prism = prism_reason
            runs.append(run)
    table = render(runs, skipped, wrk)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    took = time.perf_counter() - started
    header = f"flexchat benchmark, {stamp}, {args.channels:,} channels; {machine()}; took {took:.0f} s"
    print(header + "\n\n" + table)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"header": header, "table": table, "runs": [asdict(run) for run in runs],
                               "skipped": skipped}, indent=2))
    log(f"figures written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
