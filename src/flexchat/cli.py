"""The ``flexchat`` command: serve, account create, api-key create, seed."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from . import __version__
from .auth import hash_secret, new_secret
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
    return parser


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


def serve(settings: Settings) -> int:
    """Bootstrap the database, print how to reach the server, and run it."""
    from .server import serve as run_server

    created = _with_store(settings, lambda store: bootstrap(store, settings))
    base = settings.public_url or f"http://{settings.host}:{settings.port}"
    print(f"flexchat {__version__} on {settings.database_url}", flush=True)
    if created:
        print("Created the first account; its credentials are shown only now:", flush=True)
        print(json.dumps(created), flush=True)
    print(f"API:           {base}/v1/Channels (HTTP Basic: Account Sid + Auth Token)", flush=True)
    print(f'twilio-python: client.flex_api.base_url = "{base}"', flush=True)
    run_server(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
