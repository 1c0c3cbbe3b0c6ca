"""A sender process of the worker's own: webhook requests sent off the API's event loop.

Why: an HTTP request costs the client far more CPU (about 140 µs with aiohttp, plus
signing) than the outbox row that asked for it; sent from the API's loop, a busy channel
with a webhook served half the messages per second that one without served. In a
process of its own the sending runs on another core, and the API process keeps only
what needs its database: claiming, recording, settling (docs/architecture.md).

The worker (:class:`ProcessSender`) starts ``python -m flexchat.delivery.sender_process``
with one end of a socket pair; frames are a 4-byte length and an orjson list each way:
a :class:`~.sending.Job` out, its :class:`~.sending.Outcome` back, matched by a number.
The child runs :class:`~.sending.HttpSender` (the same code the inline sender runs) with
the same settings (passed as ``FLEXCHAT_*`` variables). It ends when the socket closes,
so it never outlives its API process, even one killed with SIGKILL; one that dies is
started again at the next send, and what it held comes back as retryable outcomes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import orjson

from ..settings import Settings
from .sending import HttpSender, Job, Outcome

log = logging.getLogger("flexchat.delivery")

# An answer not back this long after the request's own timeout is given up on.
ANSWER_MARGIN = 5.0
# How long a closing sender may finish its requests before it is killed.
CLOSE_GRACE = 5.0
SENDER_GONE = "the webhook sender process exited before answering"


def _frame(value: list[Any]) -> bytes:
    body = orjson.dumps(value)
    return len(body).to_bytes(4, "big") + body


async def _read_frame(reader: asyncio.StreamReader) -> list[Any]:
    size = int.from_bytes(await reader.readexactly(4), "big")
    value: list[Any] = orjson.loads(await reader.readexactly(size))
    return value


class ProcessSender:
    """Sends jobs through a sender process, started with the first job (and again when it
    died): a server whose channels have no webhooks never pays its ~45 MiB."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Outcome]] = {}
        self._next = 0
        self._lock = asyncio.Lock()
        self._closed = False

    async def open(self) -> None:
        """Ready to send; the process itself is started by the first :meth:`send`."""
        self._closed = False

    async def _start(self) -> None:
        async with self._lock:
            if self._writer is None and not self._closed:
                await self._spawn()
                if self._closed:  # closed while it started: end it as close() would have
                    await self.close()

    async def _spawn(self) -> None:
        parent, child = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, **self.settings.to_environ()}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "flexchat.delivery.sender_process", str(child.fileno()),
                pass_fds=(child.fileno(),), env=env, stdin=asyncio.subprocess.DEVNULL,
            )
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        reader, self._writer = await asyncio.open_unix_connection(sock=parent)
        self._reader = asyncio.create_task(self._read(reader, self._writer), name="flexchat-sender-answers")

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                number, status, error, start, retry, signature = await _read_frame(reader)
                future = self._pending.pop(number, None)
                if future is not None and not future.done():
                    future.set_result(Outcome(status, error, start, retry, signature))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            # The process is gone (or closing): what it held is retried, the next send starts another.
            if self._writer is writer:
                self._writer = None
                writer.close()
                if not self._closed:
                    log.warning("the webhook sender process exited; it is started again at the next send")
            pending, self._pending = self._pending, {}
            for future in pending.values():
                if not future.done():
                    future.set_result(Outcome(error=SENDER_GONE, retry=True))

    async def send(self, job: Job) -> Outcome:
        """Send ``job`` through the sender process; what came of it."""
        writer = self._writer
        if writer is None:
            try:
                await self._start()
            except OSError as error:
                return Outcome(error=f"the webhook sender process cannot start: {error}", retry=True)
            writer = self._writer
            if writer is None:
                return Outcome(error=SENDER_GONE, retry=True)
        self._next += 1
        number = self._next
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending[number] = future
        try:
            writer.write(_frame([
                number, job.account_sid, job.method, job.url, job.params, job.attempt, job.token,
                job.idempotency_token,
            ]))
            await writer.drain()
            async with asyncio.timeout(self.settings.webhook_timeout + ANSWER_MARGIN):
                return await future
        except TimeoutError:
            return Outcome(error="the webhook sender process did not answer", retry=True)
        except (ConnectionError, RuntimeError):
            return Outcome(error=SENDER_GONE, retry=True)
        finally:
            self._pending.pop(number, None)

    async def close(self) -> None:
        """End the sender process: it finishes what it holds, briefly, then exits."""
        self._closed = True
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            try:
                async with asyncio.timeout(CLOSE_GRACE):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        reader, self._reader = self._reader, None
        if reader is not None:
            await asyncio.wait({reader})


# -- the child -------------------------------------------------------------------------------


async def _serve(fd: int, settings: Settings) -> None:
    sender = HttpSender(settings)
    await sender.open()
    reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=fd))
    in_flight: set[asyncio.Task[None]] = set()

    async def one(number: int, job: Job) -> None:
        try:
            outcome = await sender.send(job)
        except Exception as error:  # a bug: reported as an attempt that can be retried
            log.exception("webhook send failed unexpectedly")
            outcome = Outcome(error=f"internal error: {error.__class__.__name__}", retry=True)
        with contextlib.suppress(ConnectionError, RuntimeError):
            writer.write(_frame([
                number, outcome.status_code, outcome.error, outcome.response_start, outcome.retry, outcome.signature,
            ]))

    try:
        while True:
            number, *fields = await _read_frame(reader)
            task = asyncio.create_task(one(number, Job(*fields)))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the worker closed its end: finish what is under way, then stop
    if in_flight:
        await asyncio.wait(in_flight, timeout=settings.webhook_timeout)
    await sender.close()
    writer.close()


def main(argv: list[str] | None = None) -> None:
    """The sender process: serve jobs on the socket whose descriptor is the argument."""
    args = sys.argv[1:] if argv is None else argv
    # Ctrl-C reaches the whole process group: the API process decides when this one
    # stops (by closing the socket), so it finishes what it holds instead.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = Settings.load()
    logging.basicConfig(level=settings.log_level.upper(), format="flexchat webhook sender: %(message)s")
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(int(args[0]), settings))
    else:
        uvloop.run(_serve(int(args[0]), settings))


if __name__ == "__main__":
    main()
