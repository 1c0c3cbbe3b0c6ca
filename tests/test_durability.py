"""Every create answered 201 survives ``kill -9`` of the server."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from flexchat.testing import ServerProcess, run_server

from .conftest import Api


def test_sigkill_during_concurrent_creates_loses_no_acknowledged_channel(database_url: str) -> None:
    with run_server(database_url) as first:
        flow_sid = Api(first.base_url, first.auth).create_flow()["sid"]
        acknowledged: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def burst(worker: int) -> None:
            session = requests.Session()
            session.auth = first.auth
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    response = session.post(
                        first.base_url + "/v1/Channels",
                        data={
                            "FlexFlowSid": flow_sid,
                            "Identity": f"crash-{worker}-{n}",
                            "ChatUserFriendlyName": "u",
                            "ChatFriendlyName": "c",
                        },
                        timeout=5,
                    )
                except requests.RequestException:
                    return  # the server is gone
                if response.status_code == 201:
                    with lock:
                        acknowledged.append(response.json()["sid"])

        with ThreadPoolExecutor(8) as pool:
            for worker in range(8):
                pool.submit(burst, worker)
            deadline = time.monotonic() + 10
            while len(acknowledged) < 300 and time.monotonic() < deadline:
                time.sleep(0.01)
            first.stop(signal.SIGKILL)
            stop.set()
        assert len(acknowledged) >= 300, "the burst did not get going"

    # Same database, same account: a new process must find every acknowledged channel.
    restarted = ServerProcess(
        first.base_url.rsplit(":", 1)[0] + f":{first.port}",
        first.account_sid,
        first.auth_token,
        database_url,
        first.port,
        first.args,
        first.env,
    )
    restarted.start()
    try:
        api = Api(restarted.base_url, restarted.auth)
        found: set[str] = set()
        url: str | None = "/v1/Channels?PageSize=1000"
        while url:
            page = api.get(url).json()
            found.update(c["sid"] for c in page["flex_chat_channels"])
            url = page["meta"]["next_page_url"]
        missing = set(acknowledged) - found
        assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged channels were lost"
    finally:
        restarted.stop()
