"""Credentials as Twilio manages them: API keys (IAM ``/v1/Keys``) and auth token
rotation (Accounts ``/v1/AuthTokens``), over raw HTTP, through the official client and
with the CLI, on both engines."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
from email.utils import parsedate_to_datetime
from typing import Any

import asyncpg
import pytest
import requests

from flexchat.domain.credentials import create_key
from flexchat.settings import Settings
from flexchat.store import create_store
from flexchat.store.sqlite import database_path
from flexchat.testing import ServerProcess

from .conftest import Account, Api, add_account
from .test_cli import flexchat

KEY_FIELDS = {"sid", "friendly_name", "date_created", "date_updated", "policy"}
LISTED_KEY_FIELDS = {"sid", "friendly_name", "date_created", "date_updated", "flags"}
NO_FLOW = "FO" + "0" * 32


def add_key(
    database_url: str, account_sid: str, key_type: str = "standard", name: str | None = None
) -> tuple[str, str]:
    """A key written straight into the database (``main`` keys are made only this way
    and by the CLI, as Twilio makes them only in its Console)."""

    async def create() -> tuple[str, str]:
        store = create_store(Settings(database_url=database_url))
        await store.open()
        try:
            new = await store.write(create_key(account_sid, name, key_type))
            return new.key.sid, new.secret
        finally:
            await store.close()

    return asyncio.run(create())


def stored_auth_token(database_url: str, account_sid: str) -> str | None:
    """The ``accounts.auth_token`` text that signs the account's webhooks."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_path(database_url))
        try:
            row = conn.execute("SELECT auth_token FROM accounts WHERE sid = ?", (account_sid,)).fetchone()
        finally:
            conn.close()
        return row[0] if row else None

    async def fetch() -> str | None:
        conn = await asyncpg.connect(database_url)
        try:
            value = await conn.fetchval("SELECT auth_token FROM accounts WHERE sid = $1", account_sid)
            return str(value) if value is not None else None
        finally:
            await conn.close()

    return asyncio.run(fetch())


def error_code(response: requests.Response) -> tuple[int, int]:
    return response.status_code, int(response.json()["code"])


# -- API keys over raw HTTP -------------------------------------------------------------


def test_key_lifecycle_raw_http(server: ServerProcess, api: Api, account: Account) -> None:
    created = api.post("/v1/Keys", {"AccountSid": account.sid, "FriendlyName": "ci"})
    assert created.status_code == 201, created.text
    key = created.json()
    assert set(key) == KEY_FIELDS | {"secret"}
    assert re.fullmatch(r"SK[0-9a-f]{32}", key["sid"]) and re.fullmatch(r"[0-9a-f]{32}", key["secret"])
    assert key["friendly_name"] == "ci" and key["policy"] is None
    # IAM writes RFC 2822 dates with +0000.
    assert key["date_created"].endswith(" +0000") and parsedate_to_datetime(key["date_created"])

    # The key authenticates for the account on every product.
    as_key = Api(server.base_url, (key["sid"], key["secret"]))
    assert as_key.get("/v1/FlexFlows").status_code == 200

    fetched = api.get(f"/v1/Keys/{key['sid']}")
    assert fetched.status_code == 200 and set(fetched.json()) == KEY_FIELDS  # no secret, ever again
    assert fetched.json()["sid"] == key["sid"]

    listed = api.get("/v1/Keys", params={"AccountSid": account.sid}).json()
    assert [k["sid"] for k in listed["keys"]] == [key["sid"]]
    assert set(listed["keys"][0]) == LISTED_KEY_FIELDS and listed["keys"][0]["flags"] == ["rest_api", "signing"]
    assert listed["meta"]["key"] == "keys"
    assert f"AccountSid={account.sid}" in listed["meta"]["url"]

    renamed = api.post(f"/v1/Keys/{key['sid']}", {"FriendlyName": "renamed"})
    assert renamed.status_code == 200 and renamed.json()["friendly_name"] == "renamed"
    assert "secret" not in renamed.json()

    assert api.delete(f"/v1/Keys/{key['sid']}").status_code == 204
    # Revoked at once on the process that deleted it, though the key was just used here.
    assert error_code(as_key.get("/v1/FlexFlows")) == (401, 20003)
    assert error_code(api.get(f"/v1/Keys/{key['sid']}")) == (404, 20404)
    assert error_code(api.delete(f"/v1/Keys/{key['sid']}")) == (404, 20404)
    assert api.get("/v1/Keys", params={"AccountSid": account.sid}).json()["keys"] == []


def test_key_list_pages(api: Api, account: Account) -> None:
    sids = [api.post("/v1/Keys", {"AccountSid": account.sid, "FriendlyName": f"k{n}"}).json()["sid"] for n in range(5)]
    seen: list[str] = []
    url: str | None = f"/v1/Keys?AccountSid={account.sid}&PageSize=2"
    while url:
        page = api.get(url).json()
        seen += [k["sid"] for k in page["keys"]]
        url = page["meta"]["next_page_url"]
    assert seen == sids


def test_key_parameters_are_checked(api: Api, account: Account) -> None:
    assert error_code(api.post("/v1/Keys", {"FriendlyName": "x"})) == (400, 20001)  # AccountSid required
    assert error_code(api.get("/v1/Keys")) == (400, 20001)
    assert error_code(api.post("/v1/Keys", {"AccountSid": account.sid, "FriendlyName": "x" * 65})) == (400, 20001)
    restricted = api.post(
        "/v1/Keys", {"AccountSid": account.sid, "KeyType": "restricted", "Policy": '{"allow": ["/twilio/x"]}'}
    )
    assert error_code(restricted) == (400, 20001) and "not supported" in restricted.json()["message"]
    assert error_code(api.post("/v1/Keys", {"AccountSid": account.sid, "KeyType": "gold"})) == (400, 20001)
    assert error_code(api.get("/v1/Keys/SKnot-a-sid")) == (404, 20404)
    assert api.get("/v1/Keys", params={"AccountSid": account.sid}).json()["keys"] == []


def test_keys_of_another_account_are_invisible(server: ServerProcess, api: Api, account: Account) -> None:
    other = add_account(server.database_url)
    theirs = Api(server.base_url, other.auth).post("/v1/Keys", {"AccountSid": other.sid}).json()
    assert error_code(api.get(f"/v1/Keys/{theirs['sid']}")) == (404, 20404)
    assert error_code(api.post(f"/v1/Keys/{theirs['sid']}", {"FriendlyName": "mine"})) == (404, 20404)
    assert error_code(api.delete(f"/v1/Keys/{theirs['sid']}")) == (404, 20404)
    # Naming the other account is refused as credentials scoped to the wrong account.
    assert error_code(api.get("/v1/Keys", params={"AccountSid": other.sid})) == (401, 20003)
    assert error_code(api.post("/v1/Keys", {"AccountSid": other.sid})) == (401, 20003)
    # Their key still works for them only.
    as_theirs = Api(server.base_url, (theirs["sid"], theirs["secret"]))
    assert as_theirs.get("/v1/FlexFlows").status_code == 200
    flow = api.create_flow()
    assert error_code(as_theirs.get(f"/v1/FlexFlows/{flow['sid']}")) == (404, 20404)


def test_a_standard_key_cannot_manage_keys_or_tokens(server: ServerProcess, api: Api, account: Account) -> None:
    standard = api.post("/v1/Keys", {"AccountSid": account.sid}).json()
    as_standard = Api(server.base_url, (standard["sid"], standard["secret"]))
    assert as_standard.get("/v1/FlexFlows").status_code == 200
    refused = [
        as_standard.get("/v1/Keys", params={"AccountSid": account.sid}),
        as_standard.post("/v1/Keys", {"AccountSid": account.sid}),
        as_standard.get(f"/v1/Keys/{standard['sid']}"),
        as_standard.post(f"/v1/Keys/{standard['sid']}", {"FriendlyName": "x"}),
        as_standard.delete(f"/v1/Keys/{standard['sid']}"),
        as_standard.post("/v1/AuthTokens/Secondary"),
        as_standard.delete("/v1/AuthTokens/Secondary"),
        as_standard.post("/v1/AuthTokens/Promote"),
    ]
    assert [error_code(r) for r in refused] == [(401, 20003)] * len(refused)
    assert refused[0].headers["WWW-Authenticate"] == 'Basic realm="Twilio API"'
    # A main key (made by the CLI, as Twilio makes them in the Console) may.
    main_sid, main_secret = add_key(server.database_url, account.sid, "main")
    as_main = Api(server.base_url, (main_sid, main_secret))
    listed = as_main.get("/v1/Keys", params={"AccountSid": account.sid})
    assert listed.status_code == 200
    assert {k["sid"] for k in listed.json()["keys"]} == {standard["sid"], main_sid}
    assert as_main.delete(f"/v1/Keys/{standard['sid']}").status_code == 204
    assert error_code(as_standard.get("/v1/FlexFlows")) == (401, 20003)


# -- API keys through the official client -----------------------------------------------


@pytest.fixture
def client(server: ServerProcess, account: Account) -> Any:
    from twilio.rest import Client

    client = Client(account.sid, account.auth_token)
    client.flex_api.base_url = server.base_url
    client.iam.base_url = server.base_url
    client.accounts.base_url = server.base_url
    return client


def test_keys_through_the_official_client(server: ServerProcess, client: Any, account: Account) -> None:
    from twilio.base.exceptions import TwilioRestException
    from twilio.rest import Client

    new = client.iam.v1.new_api_key.create(account_sid=account.sid, friendly_name="from python")
    assert new.sid.startswith("SK") and new.secret and new.friendly_name == "from python"
    assert new.date_created is not None  # parsed from RFC 2822

    listed = client.iam.v1.get_api_keys.list(account_sid=account.sid)
    assert [k.sid for k in listed] == [new.sid] and listed[0].flags == ["rest_api", "signing"]

    fetched = client.iam.v1.api_key(new.sid).fetch()
    assert fetched.friendly_name == "from python"
    assert client.iam.v1.api_key(new.sid).update(friendly_name="renamed").friendly_name == "renamed"

    # Twilio's pattern: Client(key_sid, key_secret, account_sid).
    as_key = Client(new.sid, new.secret, account.sid)
    as_key.flex_api.base_url = server.base_url
    assert as_key.flex_api.v1.flex_flow.list() == []

    assert client.iam.v1.api_key(new.sid).delete() is True
    with pytest.raises(TwilioRestException) as refused:
        as_key.flex_api.v1.flex_flow(NO_FLOW).fetch()  # a list would lose the error body
    assert (refused.value.status, refused.value.code) == (401, 20003)
    with pytest.raises(TwilioRestException) as gone:
        client.iam.v1.api_key(new.sid).fetch()
    assert gone.value.status == 404


# -- auth token rotation ------------------------------------------------------------------


def test_token_rotation_raw_http(server: ServerProcess, api: Api, account: Account) -> None:
    # Nothing to delete or promote yet.
    assert error_code(api.delete("/v1/AuthTokens/Secondary")) == (404, 20404)
    assert error_code(api.post("/v1/AuthTokens/Promote")) == (400, 20001)

    created = api.post("/v1/AuthTokens/Secondary", {"SuppressEmailNotification": "true"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"account_sid", "secondary_auth_token", "date_created", "date_updated", "url"}
    assert body["account_sid"] == account.sid and body["url"] == f"{server.base_url}/v1/AuthTokens/Secondary"
    secondary = body["secondary_auth_token"]
    assert re.fullmatch(r"[0-9a-f]{32}", secondary)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["date_created"])

    # Until promotion both tokens work.
    as_secondary = Api(server.base_url, (account.sid, secondary))
    assert api.get("/v1/FlexFlows").status_code == 200
    assert as_secondary.get("/v1/FlexFlows").status_code == 200

    promoted = as_secondary.post("/v1/AuthTokens/Promote")
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["auth_token"] == secondary and promoted.json()["account_sid"] == account.sid
    assert set(promoted.json()) == {"account_sid", "auth_token", "date_created", "date_updated", "url"}
    # The old primary fails at once; the promoted token is the primary now.
    assert error_code(api.get("/v1/FlexFlows")) == (401, 20003)
    assert as_secondary.get("/v1/FlexFlows").status_code == 200
    # Webhooks are signed with the promoted token from now on.
    assert stored_auth_token(server.database_url, account.sid) == secondary
    assert error_code(as_secondary.post("/v1/AuthTokens/Promote")) == (400, 20001)

    # A secondary that is deleted stops working; the primary stays.
    another = as_secondary.post("/v1/AuthTokens/Secondary").json()["secondary_auth_token"]
    as_another = Api(server.base_url, (account.sid, another))
    assert as_another.get("/v1/FlexFlows").status_code == 200
    deleted = as_secondary.delete("/v1/AuthTokens/Secondary", params={"SuppressEmailNotification": "true"})
    assert deleted.status_code == 204
    assert error_code(as_another.get("/v1/FlexFlows")) == (401, 20003)
    assert as_secondary.get("/v1/FlexFlows").status_code == 200


def test_a_new_secondary_replaces_the_previous_one(server: ServerProcess, api: Api, account: Account) -> None:
    first = api.post("/v1/AuthTokens/Secondary").json()["secondary_auth_token"]
    second = api.post("/v1/AuthTokens/Secondary").json()["secondary_auth_token"]
    assert first != second
    assert error_code(Api(server.base_url, (account.sid, first)).get("/v1/FlexFlows")) == (401, 20003)
    assert Api(server.base_url, (account.sid, second)).get("/v1/FlexFlows").status_code == 200


def test_token_rotation_through_the_official_client(server: ServerProcess, client: Any, account: Account) -> None:
    from twilio.base.exceptions import TwilioRestException
    from twilio.rest import Client

    secondary = client.accounts.v1.secondary_auth_token().create()
    assert secondary.account_sid == account.sid and secondary.secondary_auth_token
    rotated = Client(account.sid, secondary.secondary_auth_token)
    rotated.flex_api.base_url = rotated.accounts.base_url = server.base_url
    assert rotated.flex_api.v1.flex_flow.list() == []
    assert client.flex_api.v1.flex_flow.list() == []

    promotion = rotated.accounts.v1.auth_token_promotion().update()
    assert promotion.auth_token == secondary.secondary_auth_token
    with pytest.raises(TwilioRestException) as refused:
        client.flex_api.v1.flex_flow(NO_FLOW).fetch()
    assert (refused.value.status, refused.value.code) == (401, 20003)

    rotated.accounts.v1.secondary_auth_token().create()
    assert rotated.accounts.v1.secondary_auth_token().delete() is True


# -- the CLI -------------------------------------------------------------------------------


def test_cli_manages_keys_and_tokens(server: ServerProcess, account: Account) -> None:
    url = server.database_url

    def run(*args: str) -> Any:
        result = flexchat(*args, "--database", url, "--account-sid", account.sid)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    standard = run("api-key", "create", "--friendly-name", "deploy")
    main = run("api-key", "create", "--main")
    assert (standard["key_type"], main["key_type"]) == ("standard", "main")
    listed = run("api-key", "list")
    assert [k["sid"] for k in listed] == [standard["sid"], main["sid"]]
    assert all("secret" not in k for k in listed) and listed[0]["friendly_name"] == "deploy"
    as_main = Api(server.base_url, (main["sid"], main["secret"]))
    assert as_main.get("/v1/Keys", params={"AccountSid": account.sid}).status_code == 200

    as_standard = Api(server.base_url, (standard["sid"], standard["secret"]))
    assert as_standard.get("/v1/FlexFlows").status_code == 200
    assert run("api-key", "delete", standard["sid"]) == {"deleted": standard["sid"]}
    # Another process (the server) stops accepting it within its cache time (0.5 s).
    assert poll_until_refused(as_standard) < 1.0
    missing = flexchat("api-key", "delete", standard["sid"], "--database", url, "--account-sid", account.sid)
    assert missing.returncode == 1 and "no API key" in missing.stderr

    secondary = run("account", "token", "secondary-create")["secondary_auth_token"]
    as_secondary = Api(server.base_url, (account.sid, secondary))
    assert as_secondary.get("/v1/FlexFlows").status_code == 200
    assert run("account", "token", "promote") == {"account_sid": account.sid, "auth_token": secondary}
    assert poll_until_refused(Api(server.base_url, account.auth)) < 1.0
    assert as_secondary.get("/v1/FlexFlows").status_code == 200
    again = flexchat("account", "token", "promote", "--database", url, "--account-sid", account.sid)
    assert again.returncode == 1 and "no secondary" in again.stderr
    run("account", "token", "secondary-create")
    assert run("account", "token", "secondary-delete")["secondary_auth_token"] is None


def poll_until_refused(api: Api, limit: float = 5.0) -> float:
    """Seconds until ``api``'s credentials get 401 / 20003 (at most ``limit``)."""
    import time

    started = time.monotonic()
    while time.monotonic() - started < limit:
        response = api.get("/v1/FlexFlows")
        if response.status_code == 401:
            assert response.json()["code"] == 20003
            return time.monotonic() - started
        assert response.status_code == 200
        time.sleep(0.01)
    return limit


# -- conformance to the official descriptions ----------------------------------------------


def test_responses_conform_to_the_iam_and_accounts_specs(server: ServerProcess, api: Api, account: Account) -> None:
    """Every success body, validated with jsonschema against the spec's response schema."""
    from .conftest import REFERENCE_DIR
    from .helpers.conformance import check_response

    specs = {}
    for name in ("twilio_iam_v1.json", "twilio_accounts_v1.json"):
        path = REFERENCE_DIR / name
        if not path.is_file():
            reason = f"Twilio's OpenAPI spec is not at {path}: `make reference` or FLEXCHAT_REFERENCE_DIR"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail("CI=true requires the conformance tests to run: " + reason)
            pytest.skip(reason)
        specs[name] = json.loads(path.read_text(encoding="utf-8"))
    iam, accounts = specs["twilio_iam_v1.json"], specs["twilio_accounts_v1.json"]

    def check(spec: dict[str, Any], method: str, path: str, response: requests.Response) -> Any:
        check_response(spec, method, path, response.status_code, response.content)
        return response.json() if response.content else None

    key = check(iam, "POST", "/v1/Keys", api.post("/v1/Keys", {"AccountSid": account.sid, "FriendlyName": "c"}))
    api.post("/v1/Keys", {"AccountSid": account.sid})
    check(iam, "GET", "/v1/Keys", api.get("/v1/Keys", params={"AccountSid": account.sid, "PageSize": 1}))
    check(iam, "GET", "/v1/Keys/{Sid}", api.get(f"/v1/Keys/{key['sid']}"))
    check(iam, "POST", "/v1/Keys/{Sid}", api.post(f"/v1/Keys/{key['sid']}", {"FriendlyName": "d"}))
    check(iam, "DELETE", "/v1/Keys/{Sid}", api.delete(f"/v1/Keys/{key['sid']}"))
    secondary = check(accounts, "POST", "/v1/AuthTokens/Secondary", api.post("/v1/AuthTokens/Secondary"))
    check(accounts, "DELETE", "/v1/AuthTokens/Secondary", api.delete("/v1/AuthTokens/Secondary"))
    secondary = check(accounts, "POST", "/v1/AuthTokens/Secondary", api.post("/v1/AuthTokens/Secondary"))
    rotated = Api(server.base_url, (account.sid, secondary["secondary_auth_token"]))
    check(accounts, "POST", "/v1/AuthTokens/Promote", rotated.post("/v1/AuthTokens/Promote"))


# -- the 2010 API's account keys -------------------------------------------------------------


def test_keys_of_the_2010_api(server: ServerProcess, client: Any, api: Api, account: Account) -> None:
    client.api.base_url = server.base_url
    account_api = client.api.v2010.account
    new = account_api.new_keys.create(friendly_name="2010")
    assert new.sid.startswith("SK") and new.secret and new.friendly_name == "2010"
    more = [account_api.new_keys.create(friendly_name=f"k{n}").sid for n in range(2)]
    # The list pages through next_page_uri (relative), twilio-python following it.
    assert [k.sid for k in account_api.keys.list(page_size=1)] == [new.sid, *more]
    page = api.get(f"/2010-04-01/Accounts/{account.sid}/Keys.json?PageSize=2").json()
    assert set(page) == {"keys", "uri", "first_page_uri", "next_page_uri", "previous_page_uri", "page", "page_size",
                         "start", "end"}
    assert (page["start"], page["end"], page["previous_page_uri"]) == (0, 1, None)
    assert page["next_page_uri"].startswith(f"/2010-04-01/Accounts/{account.sid}/Keys.json?PageSize=2&Page=1&")
    assert set(page["keys"][0]) == {"sid", "friendly_name", "date_created", "date_updated"}

    assert account_api.keys(new.sid).fetch().friendly_name == "2010"
    assert account_api.keys(new.sid).update(friendly_name="renamed").friendly_name == "renamed"
    # The same keys as IAM's.
    assert api.get(f"/v1/Keys/{new.sid}").json()["friendly_name"] == "renamed"
    as_key = Api(server.base_url, (new.sid, new.secret))
    assert as_key.get("/v1/FlexFlows").status_code == 200
    assert account_api.keys(new.sid).delete() is True
    assert error_code(as_key.get("/v1/FlexFlows")) == (401, 20003)

    # Another account's path is a 404; a standard key may not manage keys here either.
    other = add_account(server.database_url)
    assert error_code(api.get(f"/2010-04-01/Accounts/{other.sid}/Keys.json")) == (404, 20404)
    assert error_code(api.get(f"/2010-04-01/Accounts/{other.sid}/Keys/{more[0]}.json")) == (404, 20404)
    standard = api.post("/v1/Keys", {"AccountSid": account.sid}).json()
    as_standard = Api(server.base_url, (standard["sid"], standard["secret"]))
    assert error_code(as_standard.get(f"/2010-04-01/Accounts/{account.sid}/Keys.json")) == (401, 20003)


def test_keys_and_tokens_in_process() -> None:
    """flexchat.testing's in-process client routes iam.twilio.com and accounts.twilio.com."""
    from twilio.base.exceptions import TwilioRestException

    from flexchat.testing import InProcessFlexchat, is_credentials_host, twilio_client

    assert is_credentials_host("iam.twilio.com") and is_credentials_host("accounts.au1.twilio.com")
    assert not is_credentials_host("iam.twilio.com.evil.org")
    with InProcessFlexchat() as instance:
        client = twilio_client(flexchat=instance)
        new = client.iam.v1.new_api_key.create(account_sid=instance.account_sid, friendly_name="in process")
        assert [k.sid for k in client.iam.v1.get_api_keys.list(account_sid=instance.account_sid)] == [new.sid]
        secondary = client.accounts.v1.secondary_auth_token().create().secondary_auth_token
        assert client.accounts.v1.auth_token_promotion().update().auth_token == secondary
        with pytest.raises(TwilioRestException) as refused:
            client.flex_api.v1.flex_flow(NO_FLOW).fetch()  # the old token stopped working
        assert refused.value.status == 401
