"""flexchat on a named HTTP server, for ``bench/run.py`` to measure the servers side by side.

    python bench/servers.py SERVER [flexchat serve flags]

``granian`` is ``flexchat serve`` itself. The others run the same app, bootstrapped the
same way, with the options flexchat gave them when it ran on them: ``uvicorn`` is
``flexchat serve`` as it was before granian (uvloop, httptools, no access log, no Server
header, uvicorn's proxy headers off), ``uvicorn-h11`` the same with uvicorn's pure-Python
parser, ``hypercorn`` hypercorn on uvloop. Workers (``--workers``) are each server's own.
"""

from __future__ import annotations

import os
import sys
from typing import Any

SERVERS = ("granian", "uvicorn", "uvicorn-h11", "hypercorn")
# What `flexchat serve` runs on: the budget's targets are checked on it.
CHOSEN = "granian"


def serve_on(server: str, argv: list[str]) -> int:
    """Parse ``flexchat serve`` flags, bootstrap the database, and serve on ``server``."""
    from flexchat import cli
    from flexchat.app import create_app
    from flexchat.settings import Settings

    if server == CHOSEN:
        return cli.main(["serve", *argv])
    if server not in SERVERS:
        raise SystemExit(f"servers: unknown server {server!r}; one of {', '.join(SERVERS)}")
    args = cli._parser().parse_args(["serve", *argv])
    settings = Settings.load({k: v for k, v in vars(args).items() if k in cli.SETTING_NAMES})
    cli._with_store(settings, lambda store: cli.bootstrap(store, settings))
    # Worker processes rebuild the same settings from FLEXCHAT_*.
    os.environ.update(settings.to_environ())
    if server.startswith("uvicorn"):
        import uvicorn

        common: dict[str, Any] = {
            "host": settings.host, "port": settings.port, "loop": "uvloop",
            "http": "h11" if server == "uvicorn-h11" else "httptools", "lifespan": "on",
            "log_level": settings.log_level, "access_log": settings.access_log, "server_header": False,
            "proxy_headers": False,
        }
        if settings.workers == 1:
            uvicorn.run(create_app(settings), **common)
        else:
            uvicorn.run("flexchat.app:app_from_environment", factory=True, workers=settings.workers, **common)
        return 0
    from hypercorn.config import Config
    from hypercorn.run import run

    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.application_path = "flexchat.app:app_from_environment()"
    config.worker_class = "uvloop"
    # 0: serve in this process, as uvicorn does with one worker.
    config.workers = 0 if settings.workers == 1 else settings.workers
    config.loglevel = settings.log_level.upper()
    config.accesslog = "-" if settings.access_log else None
    return run(config)


if __name__ == "__main__":
    sys.exit(serve_on(sys.argv[1], sys.argv[2:]))
