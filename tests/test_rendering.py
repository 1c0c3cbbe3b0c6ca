"""The hand-written JSON of a channel list page is byte for byte what orjson writes."""

from __future__ import annotations

import orjson

from flexchat.api.flex.channels import channel_to_wire, channels_json
from flexchat.models import Channel
from flexchat.sids import mint_sid


def channels(account_sid: str) -> list[Channel]:
    return [
        Channel(
            mint_sid("CH"),
            account_sid,
            mint_sid("FO"),
            mint_sid("US"),
            task,
            "2026-11-25T12:00:00Z",
            "2026-11-25T12:00:01Z",
            seq,
        )
        for seq, task in enumerate([None, mint_sid("WT"), None], start=1)
    ]


def test_channels_json_equals_orjson_of_the_wire_dicts() -> None:
    account_sid = mint_sid("AC")
    items = channels(account_sid)
    for base in ("http://127.0.0.1:8080", "https://chat.example.com/prefix", "http://[::1]:9000"):
        expected = orjson.dumps([channel_to_wire(c, base) for c in items])[1:-1].decode()
        assert channels_json(items, base, account_sid) == expected
    assert channels_json([], "http://h", account_sid) == ""


def test_channels_json_declines_what_would_need_escaping() -> None:
    account_sid = mint_sid("AC")
    items = channels(account_sid)
    assert channels_json(items, 'http://evil"host', account_sid) is None
    assert channels_json(items, "http://h\\x", account_sid) is None
    assert channels_json(items, "http://h\n", account_sid) is None
