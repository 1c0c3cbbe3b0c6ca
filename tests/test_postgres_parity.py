"""Values at the edges of what each engine stores behave alike on both.

Length: neither the spec nor the API limits the length of an Identity, a ChatUniqueName
or a FriendlyName (only the 1 MB body does). SQLite indexes any length; a PostgreSQL
btree entry must fit in about 2.7 kB, so the PostgreSQL store indexes these values by
their hash. A value far past that size must still be created, deduplicated, refused as
a duplicate and found by filter, exactly as a short one is.

NUL: PostgreSQL text cannot hold it. Writes refuse it on both engines; values that only
look something up (a filter, a Basic-auth user name) must find nothing, not fail.
"""

from __future__ import annotations

import secrets
from typing import Any

import requests

from flexchat.testing import ServerProcess

from .conftest import Api

LONG = 10_000


def long_text(prefix: str) -> str:
    return prefix + secrets.token_hex(LONG // 2)


def test_a_long_identity_gets_one_channel_and_one_chat_user(api: Api, flow: dict[str, Any]) -> None:
    identity = long_text("id-")
    first = api.create_channel(flow["sid"], identity)
    assert first.status_code == 201, first.text
    again = api.create_channel(flow["sid"], identity)
    assert again.status_code == 201
    assert again.json()["sid"] == first.json()["sid"]

    # The same Identity on another flow of the chat service: a new channel, the same user.
    other_flow = api.create_flow(ChatServiceSid=flow["chat_service_sid"])
    other = api.create_channel(other_flow["sid"], identity)
    assert other.status_code == 201
    assert other.json()["sid"] != first.json()["sid"]
    assert other.json()["user_sid"] == first.json()["user_sid"]

    # Identities that share a long prefix are different people.
    near = api.create_channel(flow["sid"], identity[:-1] + ("0" if identity[-1] != "0" else "1"))
    assert near.status_code == 201
    assert near.json()["user_sid"] != first.json()["user_sid"]


def test_a_long_chat_unique_name_is_unique_on_its_chat_service(api: Api, flow: dict[str, Any]) -> None:
    name = long_text("room-")
    assert api.create_channel(flow["sid"], "ann", ChatUniqueName=name).status_code == 201
    taken = api.create_channel(flow["sid"], "bob", ChatUniqueName=name)
    assert taken.status_code == 409
    assert taken.json()["code"] == 45208
    assert api.create_channel(flow["sid"], "cy", ChatUniqueName=name[:-1]).status_code == 201


def test_a_long_friendly_name_is_found_by_its_filter(api: Api) -> None:
    name = long_text("flow-")
    created = [api.create_flow(FriendlyName=name)["sid"] for _ in range(3)]
    api.create_flow(FriendlyName=name[:-1])
    response = api.get("/v1/FlexFlows", params={"FriendlyName": name, "PageSize": 2})
    assert response.status_code == 200
    page = response.json()
    found = [f["sid"] for f in page["flex_flows"]]
    rest = api.get(page["meta"]["next_page_url"]).json()["flex_flows"]
    assert found + [f["sid"] for f in rest] == created


def test_a_filter_with_nul_finds_nothing(api: Api) -> None:
    api.create_flow(FriendlyName="a")
    response = api.get("/v1/FlexFlows", params={"FriendlyName": "a\x00"})
    assert response.status_code == 200, response.text
    assert response.json()["flex_flows"] == []


def test_a_user_name_with_nul_is_unauthorized(server: ServerProcess) -> None:
    for user in ("AC\x00" + "0" * 31, "SK\x00"):
        response = requests.get(server.base_url + "/v1/Channels", auth=(user, "secret"), timeout=30)
        assert response.status_code == 401, response.text
        assert response.json()["code"] == 20003


def test_a_value_with_nul_is_refused_on_create(api: Api, flow: dict[str, Any]) -> None:
    response = api.create_channel(flow["sid"], "a\x00b")
    assert response.status_code == 400
    assert response.json()["code"] == 20001
