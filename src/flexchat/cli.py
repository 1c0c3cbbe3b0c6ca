"""The ``flexchat`` command: serve, account create, api-key create, seed, faults."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from . import __version__
from .auth import hash_secret, new_secret
from .errors import InvalidParameter
from .faults import FAMILIES, FaultRule, check_family, clear_faults, list_faults, put_fault, updated_rule
from .settings import Settings, SettingsError
from .store import Store, create_store

T = TypeVar("T")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flexchat", description="Twilio Flex API v1 chat channels, self-hosted.")
    parser.add_argument("--version", action="version", version=f"flexchat {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_database(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument("--database", dest="database_url", help="sqlite:///PATH (default) or postgresql://...")
        return sub

    serve = with_database(commands.add_parser("serve", help="run the API server"))
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--workers", type=int, help="worker processes (default 1)")
    serve.add_argument("--public-url", dest="public_url", help="absolute base URL for every URL in responses")
    serve.add_argument(
        "--trust-proxy",
        dest="trust_proxy",
        action="store_const",
        const=True,
        help="honour X-Forwarded-Proto and X-Forwarded-Host",
    )
    serve.add_argument(
        "--db-timeout",
        dest="db_timeout",
        type=float,
        help="seconds to wait for the database before answering 503 (default 5)",
    )
    serve.add_argument("--log-level", dest="log_level", help="debug, info, warning, error")
    serve.add_argument(
        "--no-access-log", dest="access_log", action="store_const", const=False, help="do not log every request"
    )
    serve.add_argument(
        "--access-log", dest="access_log", action="store_const", const=True,
        help="log every request, one line each on stdout (the default)",
    )
    serve.add_argument(
        "--access-log-format", dest="access_log_format", choices=("text", "json"),
        help="access log lines as text (default) or JSON lines",
    )
    serve.add_argument(
        "--faults-refresh", dest="faults_refresh", type=float,
        help="seconds between reloads of the fault rules from the database (default 1)",
    )

    account = commands.add_parser("account", help="manage accounts").add_subparsers(dest="action", required=True)
    create = with_database(account.add_parser("create", help="create an account; prints its Sid and Auth Token"))
    create.add_argument("--friendly-name", dest="friendly_name")

    api_key = commands.add_parser("api-key", help="manage API keys").add_subparsers(dest="action", required=True)
    key_create = with_database(api_key.add_parser("create", help="create an API key; prints its Sid and secret"))
    key_create.add_argument("--account-sid", dest="key_account_sid", required=True)
    key_create.add_argument("--friendly-name", dest="friendly_name")

    seed = with_database(commands.add_parser("seed", help="bulk-insert Flex Flows and channels"))
    seed.add_argument("--account-sid", dest="seed_account_sid", required=True)
    seed.add_argument("--flows", type=int, default=10)
    seed.add_argument("--channels", type=int, default=1000)
    seed.add_argument("--quiet", action="store_true", help="no progress bar")

    faults = commands.add_parser(
        "faults", help="switch faults on and off, straight in the database (servers apply them within a second)"
    ).add_subparsers(dest="action", required=True)
    for name, text in (
        ("set", "set faults of one family (only the options given change)"),
        ("clear", "switch faults off: one family, or all of the account's"),
        ("list", "show the account's fault rules"),
    ):
        sub = with_database(faults.add_parser(name, help=text))
        sub.add_argument("--account-sid", dest="fault_account_sid", required=True)
        if name != "list":
            sub.add_argument("--family", required=name == "set", help=" | ".join(FAMILIES))
        if name == "set":
            for option, wire in FAULT_OPTIONS.items():
                sub.add_argument(f"--{option}", dest=wire, metavar="VALUE", help=f"the control API's {wire}")
    return parser


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
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flexchat`` console script."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.load({k: v for k, v in vars(args).items() if k in SETTING_NAMES})
    except SettingsError as error:
        print(f"flexchat: {error}", file=sys.stderr)
        return 2
    try:
        if args.command == "serve":
            return serve(settings)
        if args.command == "account":
            return _print_json(_with_store(settings, lambda store: create_account(store, args.friendly_name)))
        if args.command == "api-key":
            return _print_json(
                _with_store(settings, lambda store: create_api_key(store, args.key_account_sid, args.friendly_name))
            )
        if args.command == "seed":
            _with_store(settings, lambda store: seed(store, args))
            return 0
        if args.command == "faults":
            return _print_json(_with_store(settings, lambda store: faults_command(store, args)))
    except InvalidParameter as error:
        print(f"flexchat: {error.message}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError, OSError) as error:
        print(f"flexchat: {error}", file=sys.stderr)
        return 1
    return 2


def _print_json(value: Any) -> int:
    print(json.dumps(value))
    return 0


def _with_store(settings: Settings, action: Callable[[Store], Awaitable[T]]) -> T:
    async def run() -> T:
        store = create_store(settings)
        await store.open()
        try:
            return await action(store)
        finally:
            await store.close()

    return asyncio.run(run())


async def create_account(store: Store, friendly_name: str | None) -> dict[str, str]:
    """A new account and its Auth Token (shown once; only its hash is stored)."""
    token = new_secret()
    sid = await store.create_account(friendly_name, hash_secret(token))
    return {"sid": sid, "auth_token": token}


async def create_api_key(store: Store, account_sid: str, friendly_name: str | None) -> dict[str, str]:
    """A new API key of an existing account and its secret (shown once)."""
    if await store.find_credential(account_sid) is None or not account_sid.startswith("AC"):
        raise ValueError(f"no account {account_sid}")
    secret = new_secret()
    sid = await store.create_api_key(account_sid, hash_secret(secret), friendly_name)
    return {"sid": sid, "secret": secret, "account_sid": account_sid}


async def bootstrap(store: Store, settings: Settings) -> dict[str, str] | None:
    """Make sure an account exists; returns new credentials when it had to create some."""
    if settings.account_sid and settings.auth_token:
        await store.ensure_account(settings.account_sid, hash_secret(settings.auth_token), "bootstrap")
        return None
    if await store.count_accounts() == 0:
        return await create_account(store, "first account")
    return None


async def seed(store: Store, args: argparse.Namespace) -> None:
    """Fill the store for benchmarks and demos, with a progress bar on stderr."""
    if await store.find_credential(args.seed_account_sid) is None:
        raise ValueError(f"no account {args.seed_account_sid}")

    def progress(done: int, total: int) -> None:
        if not args.quiet:
            width = 40
            filled = width * done // max(total, 1)
            sys.stderr.write(f"\rseeding [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    await store.seed(args.seed_account_sid, args.flows, args.channels, progress)


def _rule_json(rule: FaultRule) -> dict[str, Any]:
    wire = rule.to_wire("")
    del wire["url"]
    return wire


async def faults_command(store: Store, args: argparse.Namespace) -> Any:
    """``faults set / clear / list`` on the database; prints what the account has afterwards.

    Straight in the database rather than through the control API: an operator on the
    server needs no account credentials, and it works with no server running. Servers
    pick changes up within ``faults_refresh`` seconds.
    """
    account_sid = args.fault_account_sid
    if not account_sid.startswith("AC") or await store.find_credential(account_sid) is None:
        raise ValueError(f"no account {account_sid}")
    family = check_family(args.family) if getattr(args, "family", None) is not None else None
    if args.action == "set":
        assert family is not None  # --family is required for set
        form = {wire: getattr(args, wire) for wire in FAULT_OPTIONS.values() if getattr(args, wire) is not None}
        current = next((r for r in await store.read(list_faults(account_sid)) if r.family == family), None)
        await store.write(put_fault(updated_rule(current or FaultRule(account_sid, family), form)))
    elif args.action == "clear":
        await store.write(clear_faults(account_sid, family))
    return [_rule_json(rule) for rule in await store.read(list_faults(account_sid))]


def serve(settings: Settings) -> int:
    """Bootstrap the database, print how to reach the server, and run it."""
    import uvicorn

    created = _with_store(settings, lambda store: bootstrap(store, settings))
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    print(f"flexchat {__version__} on {settings.database_url}", flush=True)
    if created:
        print("Created the first account; its credentials are shown only now:", flush=True)
        print(json.dumps(created), flush=True)
    print(f"API:           {base}/v1/Channels (HTTP Basic: Account Sid + Auth Token)", flush=True)
    print(f'twilio-python: client.flex_api.base_url = "{base}"', flush=True)
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "log_level": settings.log_level,
        # The app writes the access log itself (access_log.py): one line per request
        # whatever the server, so the server's own must stay off.
        "access_log": False,
        "server_header": False,
        # Forwarded headers are honoured by AppContext.base_url, and only with --trust-proxy;
        # uvicorn's own handling would trust any loopback peer.
        "proxy_headers": False,
    }
    if settings.workers == 1:
        from .app import create_app

        uvicorn.run(create_app(settings), **common)
    else:
        # Workers are separate processes: they rebuild the same settings from FLEXCHAT_*.
        os.environ.update(settings.to_environ())
        uvicorn.run("flexchat.app:app_from_environment", factory=True, workers=settings.workers, **common)
    return 0


if __name__ == "__main__":
    sys.exit(main())
