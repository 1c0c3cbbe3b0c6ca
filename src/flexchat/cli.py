"""The ``flexchat`` command: serve, account create / token, api-key create / list / delete, seed."""

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
from .domain import credentials
from .paging import Window
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
    _credential_commands(commands, account, with_database)

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
        if args.command == "account" and args.action == "create":
            return _print_json(_with_store(settings, lambda store: create_account(store, args.friendly_name)))
        if args.command in ("account", "api-key"):
            return _print_json(_with_store(settings, lambda store: credential_command(store, args)))
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


# -- credentials: API keys and auth token rotation, as the IAM and Accounts APIs have them --


def _credential_commands(
    commands: Any, account: Any, with_database: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
) -> None:
    token = account.add_parser("token", help="rotate the auth token (a secondary token, then promote)")
    token_actions = token.add_subparsers(dest="token_action", required=True)
    for name, text in (
        ("secondary-create", "create a secondary auth token (replacing any); prints it, shown only now"),
        ("promote", "make the secondary token the primary; the old primary stops working"),
        ("secondary-delete", "delete the secondary auth token"),
    ):
        with_database(token_actions.add_parser(name, help=text)).add_argument(
            "--account-sid", dest="key_account_sid", required=True
        )

    api_key = commands.add_parser("api-key", help="manage API keys").add_subparsers(dest="action", required=True)
    key_create = with_database(api_key.add_parser("create", help="create an API key; prints its Sid and secret"))
    key_create.add_argument("--account-sid", dest="key_account_sid", required=True)
    key_create.add_argument("--friendly-name", dest="friendly_name")
    key_create.add_argument(
        "--main", action="store_true", help="a main key: may also manage keys and tokens (Twilio's Console-only kind)"
    )
    key_list = with_database(api_key.add_parser("list", help="list an account's API keys (never their secrets)"))
    key_list.add_argument("--account-sid", dest="key_account_sid", required=True)
    key_delete = with_database(api_key.add_parser("delete", help="delete an API key; it stops working at once"))
    key_delete.add_argument("--account-sid", dest="key_account_sid", required=True)
    key_delete.add_argument("sid", help="the key's Sid, SK...")


async def credential_command(store: Store, args: argparse.Namespace) -> Any:
    """``account token ...`` and ``api-key ...`` on the database itself."""
    account_sid: str = args.key_account_sid
    if not account_sid.startswith("AC") or await store.find_credential(account_sid) is None:
        raise ValueError(f"no account {account_sid}")
    if args.command == "api-key":
        if args.action == "create":
            return await create_api_key(store, account_sid, args.friendly_name, "main" if args.main else "standard")
        if args.action == "list":
            return await list_api_keys(store, account_sid)
        if not await store.write(credentials.delete_key(account_sid, args.sid)):
            raise ValueError(f"no API key {args.sid} in account {account_sid}")
        return {"deleted": args.sid}
    if args.token_action == "secondary-create":
        change = await store.write(credentials.create_secondary_token(account_sid))
        assert change is not None  # the account exists
        return {"account_sid": account_sid, "secondary_auth_token": change.token}
    if args.token_action == "promote":
        change = await store.write(credentials.promote_secondary_token(account_sid))
        if change is None:
            raise ValueError(f"account {account_sid} has no secondary auth token to promote")
        return {"account_sid": account_sid, "auth_token": change.token}
    if not await store.write(credentials.delete_secondary_token(account_sid)):
        raise ValueError(f"account {account_sid} has no secondary auth token")
    return {"account_sid": account_sid, "secondary_auth_token": None}


async def create_api_key(
    store: Store, account_sid: str, friendly_name: str | None, key_type: str = "standard"
) -> dict[str, str]:
    """A new API key of an existing account and its secret (shown once)."""
    new = await store.write(credentials.create_key(account_sid, friendly_name, key_type))
    return {"sid": new.key.sid, "secret": new.secret, "account_sid": account_sid, "key_type": key_type}


async def list_api_keys(store: Store, account_sid: str) -> list[dict[str, Any]]:
    """Every key of the account, oldest first, without secrets."""
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
        "access_log": settings.access_log,
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
