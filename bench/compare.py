"""Before/after: the read figures of ``bench/run.py`` for several git revisions of
``src/``, side by side in one run, each as a ratio to the ceiling measured alongside.

    python bench/compare.py --database sqlite:////tmp/bench.db --account AC... --token ... REV [REV ...]

The database must already hold the account and its seeded channels (``bench/run.py
--keep-db DIR`` leaves one, with the account in ``DIR/flexchat-bench-sqlite.account``).
Each revision's ``src/`` is exported with ``git archive`` and put first on PYTHONPATH
of its ``flexchat serve``; rounds interleave the revisions, and the best of each figure
is kept, as in ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

from run import ROOT, Bench, Client, Figure, Wrk, ceiling_server, data_file, log, walk


def export(revision: str, directory: str) -> str:
    """``src/`` of ``revision`` under ``directory``; the path to put on PYTHONPATH."""
    target = os.path.join(directory, revision.replace("/", "_"))
    os.makedirs(target, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", target], input=archive.stdout, check=True)
    return os.path.join(target, "src")


def revisions_parser(doc: str | None, duration: float, rounds: int) -> argparse.ArgumentParser:
    """The options of a bench that measures git revisions against a seeded database: the
    revisions, the database and its account, and how long and how many rounds (the
    defaults differ per bench). ``doc``'s first paragraph is the description."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    parser.add_argument("revisions", nargs="+")
    parser.add_argument("--database", required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--duration", type=float, default=duration)
    parser.add_argument("--rounds", type=int, default=rounds)
    return parser


def main() -> int:
    """Measure every revision and print one table."""
    parser = revisions_parser(__doc__, duration=5, rounds=2)
    parser.add_argument("--channels", type=int, default=1_000_000)
    args = parser.parse_args()
    wrk = Wrk(args.duration, 32, 2)
    best: dict[tuple[str, str], Figure] = {}
    with tempfile.TemporaryDirectory(prefix="flexchat-compare-") as directory:
        paths = {revision: export(revision, directory) for revision in args.revisions}
        bench = Bench("sqlite", args.database, args.account, args.token)
        with bench.server() as server:
            walked = walk(Client(server.base_url, bench.auth), args.channels)
            first_page = Client(server.base_url, bench.auth).request("GET", "/v1/Channels")[1]
        with ceiling_server(first_page) as (port, _), data_file(walked.sids) as sids, \
                data_file(walked.tokens) as tokens:
            for _ in range(args.rounds):
                figure = wrk.figure("-", "ceiling", 1, f"http://127.0.0.1:{port}/v1/Channels", auth=bench.auth)
                if ("ceiling", "") not in best or figure.rps > best["ceiling", ""].rps:
                    best["ceiling", ""] = figure
                for revision, path in paths.items():
                    os.environ["PYTHONPATH"] = path
                    with bench.server() as server:
                        base = server.base_url
                        for name, url, script, extra, items in [
                            ("list", base + "/v1/Channels?PageSize=50", "list.lua", (), 50),
                            ("list deep", base + walked.deep_path, "list.lua", (), 50),
                            ("list PageSize=1000", base + "/v1/Channels?PageSize=1000", "list.lua", (), 1000),
                            ("fetch", base + "/v1/Channels/x", "fetch.lua", (sids,), 1),
                            ("list random pages", base + "/v1/Channels", "pages.lua", (tokens,), 50),
                        ]:
                            figure = wrk.figure(revision, name, 1, url, script, bench.auth, extra, items)
                            if (name, revision) not in best or figure.rps > best[name, revision].rps:
                                best[name, revision] = figure
    os.environ.pop("PYTHONPATH", None)
    ceiling = best["ceiling", ""].rps
    names = ["list", "list deep", "list PageSize=1000", "fetch", "list random pages"]
    print(f"ceiling {ceiling:,.0f} req/s (best of {args.rounds}); each cell: req/s (x ceiling)\n")
    print("| revision | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for revision in args.revisions:
        cells = [f"{best[n, revision].rps:,.0f} ({best[n, revision].rps / ceiling:.3f})" for n in names]
        print(f"| {revision} | " + " | ".join(cells) + " |")
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
