"""A sender process of the worker's own: webhook requests sent off the API's event loop.

Why: an HTTP request costs the client far more CPU (about 140 µs with aiohttp, plus
signing) than the outbox row that asked for it; sent from the API's loop, a busy channel
with a webhook served half the messages per second that one without served. In a
process of its own the sending runs on another core, and the API process keeps only
what needs its database: claiming, recording, settling (docs/architecture.md).

The worker (:class:`ProcessSender`) starts ``python -m flexchat.delivery.sender_process``
with one end of a socket pair; frames are a 4-byte length and an orjson list each way:
a batch of numbered :class:`~.sending.Job` out, a batch of their
:class:`~.sending.Outcome` back (those finished in one pass of the child's loop), matched
by number.
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
from .sending import HttpSender, Job, Outcome, OutcomeCallback, crashed

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
        self._on_outcome: OutcomeCallback | None = None
        # Sent, not answered yet: the job numbers.
        self._pending: set[int] = set()
        # Submitted while the process was starting: sent once it is up.
        self._waiting: list[tuple[int, Job]] = []
        self._starting: asyncio.Task[None] | None = None
        self._closed = False

    async def open(self, on_outcome: OutcomeCallback) -> None:
        """Ready to send, outcomes to ``on_outcome``; the process itself is started by
        the first :meth:`submit`."""
        self._on_outcome = on_outcome
        self._closed = False

    def submit(self, jobs: list[tuple[int, Job]]) -> None:
        """Send ``jobs`` to the sender process in one frame (starting it first if needed)."""
        writer = self._writer
        if writer is None:
            self._waiting += jobs
            if self._starting is None:
                self._starting = asyncio.create_task(self._start(), name="flexchat-sender-start")
            return
        numbers = [number for number, _ in jobs]
        self._pending.update(numbers)
        # An answer that never comes (a wedged process) is given up on, retryable.
        asyncio.get_running_loop().call_later(self.settings.webhook_timeout + ANSWER_MARGIN, self._expire, numbers)
        # A process that is gone: _read answers what it held.
        with contextlib.suppress(ConnectionError, RuntimeError):
            writer.write(_frame([
                [number, job.account_sid, job.method, job.url, job.params, job.attempt, job.token,
                 job.idempotency_token]
                for number, job in jobs
            ]))

    def _answer(self, number: int, outcome: Outcome) -> None:
        assert self._on_outcome is not None
        self._on_outcome(number, outcome)

    def _expire(self, numbers: list[int]) -> None:
        for number in numbers:
            if number in self._pending:
                self._pending.discard(number)
                self._answer(number, Outcome(error="the webhook sender process did not answer", retry=True))

    async def _start(self) -> None:
        failed = Outcome(error=SENDER_GONE, retry=True)
        try:
            if not self._closed:
                await self._spawn()
        except Exception as error:  # answered below: the worker never waits on a job forever
            failed = Outcome(error=f"the webhook sender process cannot start: {error}", retry=True)
        finally:
            self._starting = None
        waiting, self._waiting = self._waiting, []
        if self._closed:  # closed while it started: end it as close() would have
            await self.close()
        if self._writer is None:
            for number, _ in waiting:
                self._answer(number, failed)
        elif waiting:
            self.submit(waiting)

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
                for number, status, error, start, retry, signature in await _read_frame(reader):
                    if number in self._pending:
                        self._pending.discard(number)
                        self._answer(number, Outcome(status, error, start, retry, signature))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            # The process is gone (or closing): what it held is retried, the next submit starts another.
            if self._writer is writer:
                self._writer = None
                writer.close()
                if not self._closed:
                    log.warning("the webhook sender process exited; it is started again at the next send")
            pending, self._pending = self._pending, set()
            for number in pending:
                self._answer(number, Outcome(error=SENDER_GONE, retry=True))

    async def close(self) -> None:
        """End the sender process: it finishes what it holds, briefly, then exits."""
        self._closed = True
        starting = self._starting
        if starting is not None:  # it closes what it started once it sees _closed
            await asyncio.wait({starting})
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
    loop = asyncio.get_running_loop()
    in_flight: set[asyncio.Task[None]] = set()
    # Outcomes finished since the last frame: all sent back in one, once per loop pass.
    answers: list[list[Any]] = []

    def flush() -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            writer.write(_frame(answers))
        answers.clear()

    async def one(number: int, job: Job) -> None:
        try:
            outcome = await sender.send(job)
        except Exception as error:
            outcome = crashed(error)
        if not answers:
            loop.call_soon(flush)
        answers.append([
            number, outcome.status_code, outcome.error, outcome.response_start, outcome.retry, outcome.signature,
        ])

    try:
        while True:
            for number, *fields in await _read_frame(reader):
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
