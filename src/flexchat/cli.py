"""The ``flexchat`` command: serve, account create/list/rotate-token/token, api-key create/list/delete,
seed, faults, deliveries list.

What every command holds to, so that a newcomer can trust it:

- it says which database it uses (a SQLite path made absolute), on stderr, so that the
  data it prints on stdout stays machine-readable;
- a secret is never printed except the one it was asked to mint: database passwords are
  masked in the banner and in every error (``redact_url`` / ``_Masker``);
- a command that only reads or looks an account up never creates a database: it checks
  first that the database is there and holds flexchat's tables (``_require_database``);
- every failure is one ``flexchat: ...`` line and a non-zero exit, never a traceback;
- ``--help`` shows each option's default and its ``FLEXCHAT_*`` variable, taken from
  :class:`Settings` so the two cannot drift apart.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import os
import shlex
import socket
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import IO, Any, TypeVar
from urllib.parse import quote

from . import __version__
from .auth import CACHE_SECONDS, hash_secret, new_secret
from .delivery.reads import timeline_to_wire
from .domain import agent, credentials
from .domain.accounts import list_accounts
from .errors import InvalidParameter, TwilioError
from .faults import FAMILIES, FaultRule, check_family, clear_faults, list_faults, put_fault, updated_rule
from .paging import Window
from .settings import Settings, SettingsError, redact_url, setting_environ_name, url_secrets
from .sids import is_sid
from .store import Store, create_store

T = TypeVar("T")

DEFAULTS = Settings()
# How many accounts the serve banner names before it says "and N more".
BANNER_ACCOUNTS = 5
# Without a terminal, seed writes a progress line per tenth done, or after this many seconds.
PLAIN_PROGRESS_SECONDS = 10.0


class CommandError(Exception):
    """A failure to report as one line (``flexchat: message``) and exit status ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# -- the parser ----------------------------------------------------------------------


def _shown_default(name: str) -> str:
    value = getattr(DEFAULTS, name)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _setting(
    parser: argparse.ArgumentParser,
    flag: str,
    name: str,
    text: str,
    *,
    default: str | None = None,
    env: str | None = None,
    **kwargs: Any,
) -> None:
    """An option backed by Settings field ``name``: its help names the default and variable."""
    shown = default if default is not None else _shown_default(name)
    env = env or setting_environ_name(name)
    parser.add_argument(flag, dest=name, help=f"{text} [default: {shown}; env: {env}]", **kwargs)


def _database_option(parser: argparse.ArgumentParser) -> None:
    _setting(
        parser, "--database", "database_url",
        "sqlite:///PATH (relative to the current directory), sqlite:////ABSOLUTE/PATH, "
        "sqlite:///:memory: or postgresql://USER[:PASSWORD]@HOST:PORT/DB",
        metavar="URL",
    )


def _account_option(parser: argparse.ArgumentParser, what: str) -> None:
    # Settings.account_sid doubles as serve's bootstrap account: one variable, one meaning
    # ("the account flexchat acts for"), so FLEXCHAT_ACCOUNT_SID works for every command.
    parser.add_argument(
        "--account-sid", dest="account_sid", metavar="AC...",
        help=f"{what} [required unless set by env: {setting_environ_name('account_sid')}]",
    )


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=("json", "shell"), default="json",
        help="json: one JSON object on stdout (for scripts); shell: export lines to paste or "
        'eval "$(...)" [default: json]',
    )


def _command(
    commands: Any, name: str, summary: str, description: str, run: Callable[[Settings, argparse.Namespace], int]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=summary, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.set_defaults(run=run)
    return parser


SERVE_EPILOG = f"""\
Every option above can be set by its FLEXCHAT_* variable instead; a flag wins over its variable.
Variables without a flag:
  FLEXCHAT_ACCOUNT_SID and FLEXCHAT_AUTH_TOKEN  make sure exactly this account exists with this
                                                token (CI, containers) [default: none]
  FLEXCHAT_MAX_BODY_BYTES  largest request body accepted [default: {DEFAULTS.max_body_bytes}]
  FLEXCHAT_DB_POOL_SIZE    PostgreSQL connections per process [default: {DEFAULTS.db_pool_size}]
  FLEXCHAT_MAX_CONCURRENT_REQUESTS_PER_ACCOUNT
                                  one account's requests in flight per process, beyond which
                                  a 429 (0: no limit) [default: {DEFAULTS.max_concurrent_requests_per_account}]
  FLEXCHAT_MAX_CONCURRENT_REQUESTS
                                  all requests in flight per process, beyond which a 429
                                  (0: no limit) [default: {DEFAULTS.max_concurrent_requests}]
  FLEXCHAT_REFUSAL_DELAY          seconds a 429 of the limits above waits once an account has
                                  been refused more often in a second than its limit: a
                                  client that never backs off is slowed, not served 429s at
                                  full speed (0: answer at once) [default: {DEFAULTS.refusal_delay:g}]
  FLEXCHAT_WEBHOOK_STUCK_SECONDS  /readyz fails when the delivery worker has not looked for due
                                  webhooks, or one has been due and unclaimed while it had
                                  room, this long (0: no check) [default: {DEFAULTS.webhook_stuck_seconds:g}]
  FLEXCHAT_AUTH_CACHE_SECONDS     how long a process trusts a verified credential: the most a
                                  deleted key or replaced token keeps working, 0 to 1
                                  [default: {DEFAULTS.auth_cache_seconds:g}] (docs/scaling.md)
  FLEXCHAT_WEBHOOK_TIMEOUT        seconds one webhook attempt may take [default: {DEFAULTS.webhook_timeout:g}]
  FLEXCHAT_WEBHOOK_CONCURRENCY    webhook requests in flight per process [default: {DEFAULTS.webhook_concurrency}]
  FLEXCHAT_WEBHOOK_RETRY_BACKOFF  seconds before a webhook's first retry, doubling
                                  [default: {DEFAULTS.webhook_retry_backoff:g}]
  FLEXCHAT_WEBHOOK_POLL_INTERVAL  seconds between looks for events other processes wrote
                                  [default: {DEFAULTS.webhook_poll_interval:g}]
  FLEXCHAT_WEBHOOK_ALLOWED_HOSTS  webhook destinations allowed: names, *.suffixes, IPs, CIDRs
                                  [default: any http(s) URL] (docs/webhooks.md)
  FLEXCHAT_WEBHOOK_SENDER         where webhooks are sent from: process (a sender process
                                  beside each API process), inline, or none (this process
                                  leaves its events to others on the same database)
                                  [default: {DEFAULTS.webhook_sender}]

On an empty database serve creates a first account and prints its Auth Token once.
Lost it? flexchat account rotate-token --account-sid AC... gives the account a new one."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flexchat",
        description="Twilio Flex API v1 chat channels (/v1/Channels, /v1/FlexFlows), self-hosted.",
        epilog="Run `flexchat COMMAND --help` for a command's options, their defaults and variables.",
    )
    parser.add_argument("--version", action="version", version=f"flexchat {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = _command(
        commands, "serve", "run the API server",
        "Run the API server. On a database with no account it creates one and prints its\n"
        "credentials once; on a restart it names the accounts it has (never their secrets).",
        run_serve,
    )
    serve.epilog = SERVE_EPILOG
    _setting(serve, "--host", "host", "interface to listen on", metavar="HOST")
    _setting(serve, "--port", "port", "TCP port to listen on", type=int, metavar="PORT")
    _database_option(serve)
    _setting(serve, "--workers", "workers", "worker processes", type=int, metavar="N")
    _setting(
        serve, "--public-url", "public_url",
        "absolute base URL for every URL in responses, e.g. behind a proxy",
        default="none: URLs name the host each request was sent to", metavar="URL",
    )
    _setting(
        serve, "--trust-proxy", "trust_proxy", "honour X-Forwarded-Proto and X-Forwarded-Host",
        action="store_const", const=True,
    )
    _setting(
        serve, "--db-timeout", "db_timeout", "seconds a request waits for the database before a 503",
        type=float, metavar="SECONDS",
    )
    _setting(serve, "--log-level", "log_level", "debug, info, warning or error", metavar="LEVEL")
    _setting(
        serve, "--no-access-log", "access_log", "do not log every request",
        action="store_const", const=False, default="access log on", env="FLEXCHAT_ACCESS_LOG=false",
    )
    serve.add_argument(
        "--access-log", dest="access_log", action="store_const", const=True,
        help="log every request, one line each on stdout [default: on; env: FLEXCHAT_ACCESS_LOG=true]",
    )
    _setting(
        serve, "--access-log-format", "access_log_format", "access log lines as text or JSON lines",
        choices=("text", "json"),
    )
    _setting(
        serve, "--faults-refresh", "faults_refresh", "seconds between reloads of the fault rules from the database",
        type=float, metavar="SECONDS",
    )

    account = commands.add_parser(
        "account", help="create, list and rotate the token of accounts",
        description="Accounts: each has an Account Sid and an Auth Token, used as HTTP Basic credentials.",
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    create = _command(
        account, "create", "create an account; prints its Sid and Auth Token",
        "Create an account and print its Account Sid and Auth Token. The token is shown only\n"
        "now: flexchat checks API calls against its hash, and keeps the token itself to sign\n"
        "the account's webhooks (docs/webhooks.md). Creates the database if it does not exist yet.",
        run_account_create,
    )
    _database_option(create)
    create.add_argument("--friendly-name", dest="friendly_name", metavar="NAME", help="a label [default: none]")
    _format_option(create)

    listing = _command(
        account, "list", "list the accounts (Sids and names, never secrets)",
        "List the accounts of a database: Account Sid, then friendly name, tab-separated.",
        run_account_list,
    )
    _database_option(listing)

    rotate = _command(
        account, "rotate-token", "give an account a new Auth Token (the old one stops working)",
        "Give an existing account a new Auth Token and print it: the way back in when a token\n"
        "is lost or leaked. The old token stops working at once for new processes, and within\n"
        f"{CACHE_SECONDS:g} seconds for a running server (its credential cache). API keys are not affected.\n"
        "Webhooks are signed with the new token from then on; an account whose token flexchat\n"
        "never kept (created before it signed webhooks) needs this before its webhooks go out.",
        run_account_rotate_token,
    )
    _database_option(rotate)
    _account_option(rotate, "the account to give a new token")
    _format_option(rotate)

    api_key = commands.add_parser(
        "api-key", help="create, list and delete API keys",
        description="API keys: an SK... Sid and a secret that act for their account in HTTP Basic.",
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    key_create = _command(
        api_key, "create", "create an API key of an account; prints its Sid and secret",
        "Create an API key of an existing account and print its Sid and secret (shown only now).",
        run_api_key_create,
    )
    _database_option(key_create)
    _account_option(key_create, "the account the key acts for")
    key_create.add_argument("--friendly-name", dest="friendly_name", metavar="NAME", help="a label [default: none]")
    key_create.add_argument(
        "--main", action="store_true",
        help="a main key, which may also manage keys and tokens (/v1/Keys, /v1/AuthTokens), as Twilio's "
        "Console-made Main keys; API-made keys are standard [default: standard]",
    )
    _format_option(key_create)
    _credential_commands(account, api_key)

    deliveries = commands.add_parser(
        "deliveries", help="read webhook deliveries and their attempts",
        description="Webhook deliveries (docs/webhooks.md): the outbox events of an account, each with\n"
        "every attempt (time, status, duration, the start of the answer, the error).",
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    deliveries_list = _command(
        deliveries, "list", "an account's webhook events with their attempts, newest first",
        "Print an account's most recent webhook events, newest first, one JSON object per line\n"
        "with its attempts. Reads the database directly (servers need not run).",
        run_deliveries_list,
    )
    _database_option(deliveries_list)
    _account_option(deliveries_list, "the account whose deliveries to show")
    deliveries_list.add_argument("--channel", dest="channel_sid", metavar="CH...", help="only this channel's "
                                 "[default: all]")
    deliveries_list.add_argument(
        "--state", choices=("pending", "delivered", "failed", "recorded"), help="only events in this state "
        "[default: all]"
    )
    deliveries_list.add_argument("--limit", type=int, default=50, metavar="N", help="at most N [default: 50]")

    seed = _command(
        commands, "seed", "bulk-insert Flex Flows and channels into an account",
        "Bulk-insert Flex Flows and channels into an existing account, for benchmarks and demos.\n"
        "Progress goes to stderr (a bar on a terminal, a line per tenth otherwise), the summary\n"
        "to stdout.",
        run_seed,
    )
    _database_option(seed)
    _account_option(seed, "the account to fill")
    seed.add_argument("--flows", type=int, default=10, metavar="N", help="Flex Flows to create [default: 10]")
    seed.add_argument(
        "--channels", type=int, default=1000, metavar="N", help="channels to create, spread over the flows "
        "[default: 1000]"
    )
    seed.add_argument("--quiet", action="store_true", help="no progress on stderr [default: progress shown]")

    agent_commands = commands.add_parser(
        "agent", help="play the agent: accept, reply, send to Flex, wrap up, complete, end the chat",
        description="Play the agent, straight in the database (docs/compatibility.md, \"Flex's orchestration\"):\n"
        "what an agent did in Flex's UI. Webhooks these raise are sent by the running servers.",
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text, needs in AGENT_ACTIONS:
        sub = _command(agent_commands, name, text, text[0].upper() + text[1:] + ".", run_agent)
        _database_option(sub)
        _account_option(sub, "the account the task or channel belongs to")
        for option in needs:
            if option == "agent":
                sub.add_argument(
                    "--agent", default="agent", metavar="NAME", help="the agent's identity [default: agent]"
                )
            else:
                sub.add_argument(option, metavar=option.upper(), help=AGENT_OPTIONS[option])

    faults = commands.add_parser(
        "faults", help="switch faults on and off (straight in the database; servers apply them within a second)",
        description="Faults on demand (docs/operations.md): error rates, 429 bursts, latency and dropped\n"
        "webhook deliveries per account and route family.",
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (
        ("set", "set faults of one family (only the options given change)"),
        ("clear", "switch faults off: one family, or all of the account's"),
        ("list", "show the account's fault rules"),
    ):
        sub = _command(faults, name, text, text[0].upper() + text[1:] + ".", run_faults)
        _database_option(sub)
        _account_option(sub, "the account whose faults to change or show")
        if name != "list":
            sub.add_argument(
                "--family", required=name == "set", help=f"{' | '.join(FAMILIES)} [default: all, for clear]"
            )
        if name == "set":
            for option, wire in FAULT_OPTIONS.items():
                sub.add_argument(
                    f"--{option}", dest=wire, metavar="VALUE", help=f"the control API's {wire} [default: unchanged]"
                )
    return parser


# `agent` actions: name, help, the options each needs.
AGENT_ACTIONS = (
    ("accept", "accept a task as a named agent: assigned, and the agent joins its chat", ("task", "agent")),
    ("reply", "send a message as the agent (Source=SDK: the channel's webhooks fire)", ("channel", "agent", "body")),
    ("send-to-flex", "Studio's Send to Flex: the channel's task is made, the studio webhook removed", ("channel",)),
    ("wrap-up", "wrap up the task (wrapping)", ("task",)),
    ("complete", "complete the task; a janitor-enabled flow's chat ends", ("task",)),
    ("end-chat", "end the chat (INACTIVE; an assigned task moves to wrapping)", ("channel",)),
    ("timeline", "the chat's messages, deliveries, task moves and executions, in order", ("channel",)),
)
AGENT_OPTIONS = {
    "task": "the task's WT... sid",
    "channel": "the chat channel's CH... sid",
    "body": "the message text",
}

# `faults set` options and the control API parameters they stand for.
FAULT_OPTIONS = {
    "error-rate": "ErrorRate",
    "error-status": "ErrorStatus",
    "throttle-rate": "ThrottleRate",
    "throttle-burst": "ThrottleBurst",
    "latency-ms": "LatencyMs",
    "drop-delivery-rate": "DropDeliveryRate",
}

SETTING_NAMES = {
    "host",
    "port",
    "database_url",
    "workers",
    "public_url",
    "trust_proxy",
    "db_timeout",
    "log_level",
    "access_log",
    "access_log_format",
    "faults_refresh",
    "account_sid",
}


# -- entry point -----------------------------------------------------------------------


class _Masker:
    """Hides every secret flexchat was given (database passwords, the bootstrap token) in a
    message, whatever code wrote it: driver errors may quote a URL or a DSN."""

    def __init__(self, args: argparse.Namespace, environ: dict[str, str] | os._Environ[str]) -> None:
        urls = [getattr(args, "database_url", None), environ.get(setting_environ_name("database_url"))]
        found = [secret for url in urls if url for secret in url_secrets(url)]
        token = environ.get(setting_environ_name("auth_token"))
        if token:
            found.append(token)
        # Longest first, so a secret that contains another is hidden whole.
        self.secrets = sorted(set(found), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flexchat`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    mask = _Masker(args, os.environ)
    try:
        settings = Settings.load({k: v for k, v in vars(args).items() if k in SETTING_NAMES})
        result: int = args.run(settings, args)
        return result
    except SettingsError as error:
        _fail(mask(str(error)))
        return 2
    except CommandError as error:
        _fail(mask(str(error)))
        return error.code
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    except Exception as error:  # the promise is one line, never a traceback
        _fail(mask(f"{error}" or type(error).__name__))
        return 1


def _note(message: str) -> None:
    """A line for the person at the terminal (stderr), apart from the command's data (stdout)."""
    print(f"flexchat: {message}", file=sys.stderr, flush=True)


_fail = _note  # errors are such lines too; the exit status tells them apart


def describe_database(url: str) -> str:
    """The database as a person should read it: password masked, a SQLite path made absolute."""
    if url.startswith("sqlite:"):
        from .store.sqlite import database_path

        path = database_path(url)
        if not path:
            return f"{url} (a private temporary database, gone when the process ends)"
        return f"{url} ({os.path.abspath(path)})"
    return redact_url(url)


def _with_store(settings: Settings, action: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        store = create_store(settings)
        try:
            await store.open()
        except Exception as error:
            # Name the database, which the driver's message may not (a bare OSError for a
            # SQLite directory that cannot be made, say); main() masks any password in it.
            text = str(error) or type(error).__name__
            if redact_url(settings.database_url) not in text:
                text = f"cannot open {describe_database(settings.database_url)}: {text}"
            raise CommandError(text) from None
        try:
            return await action(store)
        finally:
            await store.close()

    return asyncio.run(run())


def _require_database(settings: Settings) -> None:
    """Refuse, without creating anything, a database that is absent or not flexchat's.

    For commands that read or act on existing accounts: opening the store would create
    the SQLite file and every table in it (a migration), leaving an empty database behind
    a typo in ``--database`` or a command run from the wrong directory.
    """
    url = settings.database_url
    where = describe_database(url)
    hint = (
        "create it with `flexchat serve` or `flexchat account create`, or point --database / "
        "FLEXCHAT_DATABASE_URL at the right one"
    )
    if url.startswith("sqlite:"):
        from .store.sqlite import database_path

        path = database_path(url)
        if not path:
            raise CommandError(f"{where} is new and empty: it has no accounts")
        if not os.path.isfile(path):
            raise CommandError(f"no database at {os.path.abspath(path)} ({url}): {hint}")
        try:
            # mode=ro: this look must not write, not even a journal.
            conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True)
            try:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error as error:
            raise CommandError(f"{where} is not a flexchat database ({error})") from None
        if version == 0:
            raise CommandError(f"{where} has no flexchat tables: {hint}")
    elif url.startswith(("postgresql:", "postgres:", "postgresql+asyncpg:")):
        if not asyncio.run(_postgres_has_schema(settings)):
            raise CommandError(f"{where} has no flexchat tables: {hint}")
    else:
        create_store(settings)  # raises the "unsupported database URL" error


async def _postgres_has_schema(settings: Settings) -> bool:
    import asyncpg  # type: ignore[import-untyped]

    from .store.postgres import asyncpg_dsn

    try:
        conn = await asyncpg.connect(asyncpg_dsn(settings.database_url), timeout=settings.db_timeout)
    except Exception as error:
        raise CommandError(f"cannot connect to {redact_url(settings.database_url)}: {error}") from None
    try:
        return bool(await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"))
    finally:
        await conn.close()


def _account_sid(settings: Settings) -> str:
    sid = settings.account_sid
    if not sid:
        raise CommandError("which account? pass --account-sid AC... or set FLEXCHAT_ACCOUNT_SID", code=2)
    if not is_sid(sid, "AC"):
        raise CommandError(f"{sid!r} is not an Account Sid (AC followed by 32 hex digits)", code=2)
    return sid


async def _check_account(store: Store, sid: str, settings: Settings) -> None:
    credential = await store.find_credential(sid)
    if credential is None or credential.account_sid != sid:
        raise CommandError(
            f"no account {sid} in {describe_database(settings.database_url)}; "
            "`flexchat account list` shows the ones there"
        )


def _print_credentials(values: dict[str, str], exports: dict[str, str], form: str) -> None:
    if form == "shell":
        print(shell_exports(exports), flush=True)
    else:
        print(json.dumps(values), flush=True)


def shell_exports(values: dict[str, str]) -> str:
    """``export NAME=value`` lines, quoted for any POSIX shell, to paste or ``eval``."""
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in values.items())


def account_exports(sid: str, token: str) -> dict[str, str]:
    """The variables the official clients and the README read for an account."""
    return {"TWILIO_ACCOUNT_SID": sid, "TWILIO_AUTH_TOKEN": token}


# -- account and api-key -----------------------------------------------------------------


def run_account_create(settings: Settings, args: argparse.Namespace) -> int:
    """``flexchat account create``."""
    _note(f"database {describe_database(settings.database_url)}")
    created = _with_store(settings, lambda store: create_account(store, args.friendly_name))
    _print_credentials(created, account_exports(created["sid"], created["auth_token"]), args.format)
    return 0


def run_account_list(settings: Settings, args: argparse.Namespace) -> int:
    """``flexchat account list``."""
    _note(f"database {describe_database(settings.database_url)}")
    _require_database(settings)

    async def listing(store: Store) -> Sequence[tuple[str, str | None]]:
        return await store.read(list_accounts(await store.count_accounts()))

    for sid, name in _with_store(settings, listing):
        print(f"{sid}\t{name or ''}")
    return 0


def run_account_rotate_token(settings: Settings, args: argparse.Namespace) -> int:
    """``flexchat account rotate-token``."""
    sid = _account_sid(settings)
    _note(f"database {describe_database(settings.database_url)}")
    _require_database(settings)
    token = _with_store(settings, lambda store: rotate_auth_token(store, sid, settings))
    _print_credentials({"sid": sid, "auth_token": token}, account_exports(sid, token), args.format)
    return 0


def run_deliveries_list(settings: Settings, args: argparse.Namespace) -> int:
    """``flexchat deliveries list``."""
    sid = _account_sid(settings)
    if args.limit < 1:
        raise CommandError("--limit must be at least 1", code=2)
    _note(f"database {describe_database(settings.database_url)}")
    _require_database(settings)
    for line in _with_store(settings, lambda store: list_deliveries(store, sid, args, settings)):
        print(json.dumps(line))
    return 0


async def list_deliveries(
    store: Store, account_sid: str, args: argparse.Namespace, settings: Settings
) -> list[dict[str, Any]]:
    """The account's most recent webhook events (newest first), each with its attempts."""
    from .delivery import reads
    from .paging import Window

    await _check_account(store, account_sid, settings)
    events, _ = await store.read(
        reads.list_deliveries(account_sid, args.channel_sid, args.state, Window(args.limit), newest_first=True)
    )
    lines = []
    for event in events:
        found = await store.read(reads.fetch_delivery(event.account_sid, event.seq))
        if found is not None:
            lines.append(reads.delivery_to_wire(found[0], None, found[1]))
    return lines


def run_api_key_create(settings: Settings, args: argparse.Namespace) -> int:
    """``flexchat api-key create``."""
    sid = _account_sid(settings)
    _note(f"database {describe_database(settings.database_url)}")
    _require_database(settings)

    key_type = "main" if args.main else "standard"
    key = _with_store(settings, lambda store: create_api_key(store, sid, args.friendly_name, settings, key_type))
    # The names twilio-cli reads for a key; twilio-python takes them as Client(key, secret, account_sid).
    exports = {"TWILIO_ACCOUNT_SID": sid, "TWILIO_API_KEY": key["sid"], "TWILIO_API_SECRET": key["secret"]}
    _print_credentials(key, exports, args.format)
    return 0


async def create_account(store: Store, friendly_name: str | None) -> dict[str, str]:
    """A new account and its Auth Token (shown once; kept to sign the account's webhooks,
    see docs/webhooks.md)."""
    token = new_secret()
    sid = await store.create_account(friendly_name, hash_secret(token), token)
    return {"sid": sid, "auth_token": token}


async def rotate_auth_token(store: Store, sid: str, settings: Settings) -> str:
    """A new Auth Token for the existing account ``sid``; the old one stops working."""
    await _check_account(store, sid, settings)
    token = new_secret()
    # ensure_account only replaces the token (hash and signing copy) of an existing
    # account (its name stays).
    await store.ensure_account(sid, hash_secret(token), None, token)
    return token


async def create_api_key(
    store: Store, account_sid: str, friendly_name: str | None, settings: Settings, key_type: str = "standard"
) -> dict[str, str]:
    """A new API key of the existing account ``account_sid`` and its secret (shown once)."""
    await _check_account(store, account_sid, settings)
    new = await store.write(credentials.create_key(account_sid, friendly_name, key_type))
    return {"sid": new.key.sid, "secret": new.secret, "account_sid": account_sid, "key_type": key_type}


# -- API key listing and deletion, auth token rotation (as the IAM and Accounts APIs) -----


def _credential_commands(account: Any, api_key: Any) -> None:
    key_list = _command(
        api_key, "list", "list an account's API keys (never their secrets)",
        "List an account's API keys as JSON: Sid, friendly name, type (standard or main), date.",
        run_api_key_list,
    )
    _database_option(key_list)
    _account_option(key_list, "the account whose keys to list")
    key_delete = _command(
        api_key, "delete", "delete an API key; it stops working",
        "Delete an API key. It stops working at once for new processes, and within\n"
        "FLEXCHAT_AUTH_CACHE_SECONDS (0.5 s) for running servers.",
        run_api_key_delete,
    )
    _database_option(key_delete)
    _account_option(key_delete, "the account the key belongs to")
    key_delete.add_argument("sid", metavar="SK...", help="the key's Sid")

    token = account.add_parser(
        "token", help="rotate the Auth Token without downtime: a secondary token, then promote",
        description="Auth token rotation as Twilio's /v1/AuthTokens: create a secondary token, move clients\n"
        "to it (both work meanwhile), then promote it (the old primary stops working) or delete it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).add_subparsers(dest="token_action", required=True, metavar="ACTION")
    for name, text in (
        ("secondary-create", "create a secondary Auth Token (replacing any); prints it, shown only now"),
        ("promote", "make the secondary token the primary; the old primary stops working"),
        ("secondary-delete", "delete the secondary Auth Token; it stops working"),
    ):
        sub = _command(token, name, text, text[0].upper() + text[1:] + ".", run_account_token)
        _database_option(sub)
        _account_option(sub, "the account whose token to rotate")


def run_api_key_list(settings: Settings, args: argparse.Namespace) -> int:
    """``flexchat api-key list``."""
    sid = _account_sid(settings)
    _note(f"database {describe_database(settings.database_url)}")
    _require_database(settings)
    print(json.dumps(_with_store(settings, lambda store: list_api_keys(store, sid, settings))))
    return 0


def run_api_key_delete(settings: Settings, args: argparse.Namespace) -> int:
    """``flexchat api-key delete SK...``."""
    sid = _account_sid(settings)
    _note(f"database {describe_database(settings.database_url)}")
    _require_database(settings)

    async def delete(store: Store) -> bool:
        await _check_account(store, sid, settings)
        return await store.write(credentials.delete_key(sid, args.sid))

    if not is_sid(args.sid, "SK") or not _with_store(settings, delete):
        raise CommandError(f"no API key {args.sid} in account {sid}")
    print(json.dumps({"deleted": args.sid}))
    return 0


def run_account_token(settings: Settings, args: argparse.Namespace) -> int:
    """``flexchat account token secondary-create / promote / secondary-delete``."""
    sid = _account_sid(settings)
    _note(f"database {describe_database(settings.database_url)}")
    _require_database(settings)

    async def act(store: Store) -> dict[str, str | None]:
        await _check_account(store, sid, settings)
        if args.token_action == "secondary-create":
            change = await store.write(credentials.create_secondary_token(sid))
            assert change is not None  # the account exists
            return {"account_sid": sid, "secondary_auth_token": change.token}
        if args.token_action == "promote":
            change = await store.write(credentials.promote_secondary_token(sid))
            if change is None:
                raise CommandError(f"account {sid} has no secondary auth token to promote")
            return {"account_sid": sid, "auth_token": change.token}
        if not await store.write(credentials.delete_secondary_token(sid)):
            raise CommandError(f"account {sid} has no secondary auth token")
        return {"account_sid": sid, "secondary_auth_token": None}

    print(json.dumps(_with_store(settings, act)))
    return 0


async def list_api_keys(store: Store, account_sid: str, settings: Settings) -> list[dict[str, Any]]:
    """Every key of the account, oldest first, without secrets."""
    await _check_account(store, account_sid, settings)
    out: list[dict[str, Any]] = []
    window = Window(1000)
    while True:
        keys, more = await store.read(credentials.list_keys(account_sid, window))
        out.extend(
            {"sid": k.sid, "friendly_name": k.friendly_name, "key_type": k.key_type, "date_created": k.date_created}
            for k in keys
        )
        if not more:
            return out
        window = Window(1000, after=keys[-1].seq)


# -- seed ----------------------------------------------------------------------------------


class SeedProgress:
    """What ``seed`` shows while it works, on ``stream`` (stderr).

    On a terminal, a tqdm bar (rate, elapsed, time left). Anywhere else (a pipe, a CI log,
    a file) redrawing with ``\\r`` makes a mess, so it writes plain lines: one each time
    another tenth is done or ``PLAIN_PROGRESS_SECONDS`` passed, whichever comes first.
    """

    def __init__(self, stream: IO[str], enabled: bool = True, interactive: bool | None = None) -> None:
        self.stream = stream
        self.enabled = enabled
        self.interactive = stream.isatty() if interactive is None else interactive
        self.started = time.monotonic()
        self.done = 0
        self._bar: Any = None
        self._tenths = 0
        self._last_line = self.started

    def __call__(self, done: int, total: int) -> None:
        # The store reports after each batch; a batch of chat users ends where the
        # channels before it did, and drawing the same figure twice says nothing new.
        if not self.enabled or done <= self.done:
            return
        step, self.done = done - self.done, done
        if self.interactive:
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(
                    total=total, desc="seeding", unit=" rows", unit_scale=True, file=self.stream, dynamic_ncols=True
                )
            self._bar.update(step)
            return
        now = time.monotonic()
        tenths = done * 10 // max(total, 1)
        if tenths > self._tenths or now - self._last_line >= PLAIN_PROGRESS_SECONDS:
            self._tenths, self._last_line = tenths, now
            percent = done * 100 // max(total, 1)
            print(
                f"seeding: {done:,}/{total:,} rows ({percent}%), {now - self.started:.1f} s",
                file=self.stream, flush=True,
            )

    def close(self) -> None:
        """End the bar (its last line stays on screen)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def run_agent(settings: Settings, args: argparse.Namespace) -> int:
    """``flexchat agent ...``: one of the agent's operations (domain/agent.py) on the
    database; prints what it changed as JSON."""
    sid = _account_sid(settings)
    _note(f"database {describe_database(settings.database_url)}")
    _require_database(settings)

    async def act(store: Store) -> Any:
        await _check_account(store, sid, settings)
        if args.action == "accept":
            return agent.task_to_wire(await store.write(agent.accept_task(sid, args.task, args.agent)))
        if args.action == "wrap-up":
            return agent.task_to_wire(await store.write(agent.wrap_up(sid, args.task)))
        if args.action == "complete":
            return agent.task_to_wire(await store.write(agent.complete(sid, args.task)))
        if args.action == "reply":
            message = await store.write(agent.send_message(sid, args.channel, args.agent, args.body))
            return {"sid": message.sid, "index": message.message_index, "from": message.author, "body": message.body}
        if args.action == "send-to-flex":
            return {"channel_sid": args.channel, "task_sid": await store.write(agent.send_to_flex(sid, args.channel))}
        if args.action == "end-chat":
            channel = await store.write(agent.end_chat(sid, args.channel))
            return {"channel_sid": channel.sid, "attributes": json.loads(channel.attributes)}
        return timeline_to_wire(await store.read(agent.timeline(sid, args.channel)))

    try:
        result = _with_store(settings, act)
    except TwilioError as error:  # a refused move, an unknown task or channel
        raise CommandError(error.message, code=1) from None
    print(json.dumps(result), flush=True)
    return 0


def run_faults(settings: Settings, args: argparse.Namespace) -> int:
    """``faults set / clear / list`` on the database; prints what the account has afterwards.

    Straight in the database rather than through the control API: an operator on the
    server needs no account credentials, and it works with no server running. Servers
    pick changes up within ``faults_refresh`` seconds.
    """
    sid = _account_sid(settings)
    _note(f"database {describe_database(settings.database_url)}")
    try:
        family = check_family(args.family) if getattr(args, "family", None) is not None else None
        form = {wire: getattr(args, wire) for wire in FAULT_OPTIONS.values() if getattr(args, wire, None) is not None}
        if args.action == "set":
            # Checked before anything is opened: bad input is a usage error (exit 2).
            updated_rule(FaultRule(sid, family or "*"), form)
    except InvalidParameter as error:
        raise CommandError(error.message, code=2) from None
    _require_database(settings)

    async def act(store: Store) -> list[FaultRule]:
        await _check_account(store, sid, settings)
        if args.action == "set":
            assert family is not None  # --family is required for set
            current = next((r for r in await store.read(list_faults(sid)) if r.family == family), None)
            await store.write(put_fault(updated_rule(current or FaultRule(sid, family), form)))
        elif args.action == "clear":
            await store.write(clear_faults(sid, family))
        return await store.read(list_faults(sid))

    rules = _with_store(settings, act)
    print(json.dumps([{k: v for k, v in rule.to_wire("").items() if k != "url"} for rule in rules]), flush=True)
    return 0


def run_seed(settings: Settings, args: argparse.Namespace) -> int:
    """``flexchat seed``."""
    sid = _account_sid(settings)
    if args.flows < 1 or args.channels < 0:
        raise CommandError("seed needs --flows 1 or more and --channels 0 or more", code=2)
    where = describe_database(settings.database_url)
    if not args.quiet:
        _note(f"database {where}")
    _require_database(settings)
    progress = SeedProgress(sys.stderr, enabled=not args.quiet)
    started = time.monotonic()
    try:
        _with_store(settings, lambda store: seed(store, sid, args.flows, args.channels, progress, settings))
    finally:
        progress.close()
    seconds = time.monotonic() - started
    rows = args.flows + args.channels
    print(
        f"seeded {args.flows:,} Flex Flows and {args.channels:,} channels into {sid} in {seconds:.1f} s "
        f"({rows / max(seconds, 1e-9):,.0f} rows/s); database {where}",
        flush=True,
    )
    return 0


async def seed(
    store: Store, account_sid: str, flows: int, channels: int, progress: SeedProgress, settings: Settings
) -> None:
    """Fill an existing account for benchmarks and demos."""
    await _check_account(store, account_sid, settings)
    await store.seed(account_sid, flows, channels, progress)


# -- serve -----------------------------------------------------------------------------------


async def bootstrap(store: Store, settings: Settings) -> tuple[dict[str, str] | None, list[str]]:
    """Make sure an account exists. Returns the credentials it had to create (if any) and
    the banner's lines about the accounts there (Sids and names, never a secret)."""
    if settings.account_sid and settings.auth_token:
        await store.ensure_account(
            settings.account_sid, hash_secret(settings.auth_token), "bootstrap", settings.auth_token
        )
    created = await create_account(store, "first account") if await store.count_accounts() == 0 else None
    total = await store.count_accounts()
    shown = await store.read(list_accounts(BANNER_ACCOUNTS))
    names = [f"{sid} ({name})" if name else sid for sid, name in shown]
    if total > len(shown):
        names.append(f"and {total - len(shown):,} more (flexchat account list)")
    return created, names


def check_port(host: str, port: int) -> None:
    """Fail now, before anything claims the URL, if ``host:port`` cannot be listened on.

    Bound the way uvicorn binds (SO_REUSEADDR, so a port in TIME_WAIT passes as it would
    for the server) and released at once; the server binds it again a moment later.
    """
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except socket.gaierror as error:
            raise CommandError(f"cannot listen on {host}:{port}: unknown host ({error.strerror})") from None
        except OSError as error:
            reason = error.strerror or str(error)
            if error.errno == errno.EADDRINUSE:
                reason += (
                    "; another program (perhaps another flexchat) listens there: stop it, or pick "
                    "another port with --port or FLEXCHAT_PORT"
                )
            elif error.errno == errno.EACCES:
                reason += "; ports below 1024 need privileges: pick another with --port or FLEXCHAT_PORT"
            raise CommandError(f"cannot listen on {host}:{port}: {reason}") from None


def banner(
    settings: Settings, created: dict[str, str] | None, accounts: list[str]
) -> list[str]:
    """What serve prints before it starts: where, which database, which accounts, how to connect."""
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    lines = [
        f"flexchat {__version__}",
        f"database:      {describe_database(settings.database_url)}",
    ]
    if created:
        lines += [
            "Created the first account; its Auth Token is shown only now (only its hash is stored):",
            json.dumps(created),
            shell_exports({**account_exports(created["sid"], created["auth_token"]), "FLEXCHAT_URL": base}),
        ]
    else:
        lines.append(f"accounts:      {', '.join(accounts)}")
        lines.append(
            "lost a token?  flexchat account rotate-token --account-sid AC... "
            f"--database {_portable_url(settings.database_url)}"
        )
    lines += [
        f"API:           {base}/v1/Channels (HTTP Basic: Account Sid + Auth Token)",
        f'twilio-python: client.flex_api.base_url = "{base}"',
        f'twilio-node:   client.flexApi.baseUrl = "{base}"',
    ]
    return lines


def _portable_url(url: str) -> str:
    """The database URL to quote in a command: password masked, a SQLite path made absolute
    so that the command works from any directory."""
    if url.startswith("sqlite:"):
        from .store.sqlite import database_path

        path = database_path(url)
        return f"sqlite:///{os.path.abspath(path)}" if path else url
    return redact_url(url)


def run_serve(settings: Settings, args: argparse.Namespace) -> int:
    """``flexchat serve``: check the port, bootstrap the database, print the banner, serve."""
    settings.check_bootstrap()
    check_port(settings.host, settings.port)
    created, accounts = _with_store(settings, lambda store: bootstrap(store, settings))
    for line in banner(settings, created, accounts):
        print(line, flush=True)
    return launch(settings)


def launch(settings: Settings) -> int:
    """Run the HTTP server until it is stopped (server.py is the one place that knows it)."""
    from .server import serve as run_server

    run_server(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
