"""Studio executions (keyed by FlowSid, no Flow resource) through the unmodified official
client over HTTP on both engines, raw HTTP for errors, and the ``start_execution`` script
that a chat channel's studio webhook runs."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from flexchat.domain import studio
from flexchat.testing import ServerProcess

from .conftest import Api, add_account
from .test_taskrouter import Direct


@pytest.fixture
def database(server: ServerProcess) -> Iterator[Direct]:
    """The server's database, to run the script the studio webhook runs."""
    opened = Direct(server.database_url)
    try:
        yield opened
    finally:
        opened.close()


SID = {prefix: re.compile(rf"^{prefix}[0-9a-f]{{32}}$") for prefix in ("FN", "FC", "FW")}


def flow_sid() -> str:
    return "FW" + secrets.token_hex(16)


def test_execution_round_trip(twilio_client: Client, server: ServerProcess) -> None:
    flow = flow_sid()
    executions = twilio_client.studio.v2.flows(flow).executions
    created = executions.create(to="+15550100", from_="+15550199", parameters=json.dumps({"name": "Zeke"}))
    assert SID["FN"].match(created.sid) and SID["FC"].match(created.contact_sid)
    assert (created.flow_sid, created.account_sid, created.status) == (flow, twilio_client.username, "active")
    assert (created.contact_channel_address, created.flow_version, created.context) == ("+15550100", 1, {})
    assert created.initiated_by is None
    url = f"{server.base_url}/v2/Flows/{flow}/Executions/{created.sid}"
    assert created.url == url
    assert created.links == {"steps": f"{url}/Steps", "execution_context": f"{url}/Context"}

    context = executions(created.sid).execution_context().fetch()
    assert (context.execution_sid, context.flow_sid, context.url) == (created.sid, flow, f"{url}/Context")
    assert context.context["trigger"] == {"request": {"to": "+15550100", "from": "+15550199",
                                                      "parameters": {"name": "Zeke"}}}
    assert context.context["flow"]["data"] == {"name": "Zeke"}
    assert context.context["flow"]["channel"] == {"address": "+15550199"}
    assert context.context["contact"] == {"channel": {"address": "+15550100"}}
    assert executions(created.sid).steps.list() == []

    fetched = executions(created.sid).fetch()
    assert (fetched.sid, fetched.status, fetched.contact_sid) == (created.sid, "active", created.contact_sid)
    ended = executions(created.sid).update(status="ended")
    assert ended.status == "ended"
    assert executions(created.sid).update(status="ended").status == "ended"  # stays ended
    # The same contact keeps its Contact sid on the flow; another contact gets its own.
    again = executions.create(to="+15550100", from_="+15550199")
    assert again.contact_sid == created.contact_sid
    assert executions(again.sid).execution_context().fetch().context["flow"]["data"] == {}
    assert executions.create(to="+15550101", from_="+15550199").contact_sid != created.contact_sid
    # Newest first.
    assert [e.sid for e in executions.list()][1:] == [again.sid, created.sid]
    assert executions(created.sid).delete() is True
    with pytest.raises(TwilioRestException) as excinfo:
        executions(created.sid).fetch()
    assert (excinfo.value.status, excinfo.value.code) == (404, 20404)


def test_execution_list_filters_and_pages(twilio_client: Client, api: Api) -> None:
    flow = flow_sid()
    executions = twilio_client.studio.v2.flows(flow).executions
    made = [executions.create(to=f"+1555010{i}", from_="+15550199") for i in range(5)]
    executions(made[1].sid).update(status="ended")
    twilio_client.studio.v2.flows(flow_sid()).executions.create(to="+1", from_="+2")  # another flow

    newest_first = [e.sid for e in reversed(made)]
    assert [e.sid for e in executions.list()] == newest_first
    assert [e.sid for e in executions.list(page_size=2)] == newest_first
    now = datetime.now(UTC)
    assert [e.sid for e in executions.list(date_created_from=now - timedelta(minutes=5))] == newest_first
    assert executions.list(date_created_from=now + timedelta(minutes=5)) == []
    assert [e.sid for e in executions.list(date_created_to=now + timedelta(minutes=5))] == newest_first
    assert executions.list(date_created_to=now - timedelta(minutes=5)) == []
    assert [e.sid for e in executions.list(status="ended")] == [made[1].sid]

    base = f"/v2/Flows/{flow}/Executions"
    page = api.get(f"{base}?PageSize=2&status=active").json()
    assert page["meta"]["key"] == "executions"
    assert "status=active" in page["meta"]["next_page_url"]
    seen = [e["sid"] for e in page["executions"]]
    while page["meta"]["next_page_url"]:
        page = api.get(page["meta"]["next_page_url"]).json()
        seen += [e["sid"] for e in page["executions"]]
    assert seen == [s for s in newest_first if s != made[1].sid]
    back: list[str] = []
    while page["meta"]["previous_page_url"]:
        page = api.get(page["meta"]["previous_page_url"]).json()
        back = [e["sid"] for e in page["executions"]] + back
    assert back == seen[:2]
    # A token is bound to its flow (and filters).
    token = api.get(f"{base}?PageSize=1").json()["meta"]["next_page_url"].split("PageToken=")[1]
    for url in (f"/v2/Flows/{flow_sid()}/Executions?PageSize=1&PageToken={token}",
                f"{base}?PageSize=1&status=ended&PageToken={token}"):
        response = api.get(url)
        assert (response.status_code, response.json()["code"]) == (400, 20001)
    steps = api.get(f"{base}/{made[0].sid}/Steps").json()
    assert steps["steps"] == [] and steps["meta"]["key"] == "steps" and steps["meta"]["next_page_url"] is None


def test_execution_errors(api: Api) -> None:
    flow = flow_sid()
    base = f"/v2/Flows/{flow}/Executions"
    for data in ({"To": "+1"}, {"From": "+1"}, {"To": "+1", "From": "+2", "Parameters": "nope"},
                 {"To": "+1", "From": "+2", "Parameters": "[1]"},
                 {"To": "+1", "From": "+2", "Parameters": '{"a":' * 300 + "1" + "}" * 300},
                 {"To": "+1", "From": "+2", "Parameters": '{"a":' * 5000 + "1" + "}" * 5000}):
        response = api.post(base, data)
        assert (response.status_code, response.json()["code"]) == (400, 20001), data
    created = api.post(base, {"To": "+1", "From": "+2"}).json()
    for data in ({}, {"Status": "active"}, {"Status": "paused"}):
        response = api.post(f"{base}/{created['sid']}", data)
        assert (response.status_code, response.json()["code"]) == (400, 20001), data
    for query in ("status=paused", "DateCreatedFrom=yesterday", "DateCreatedTo=2024-13-01T00:00:00Z", "PageSize=0"):
        response = api.get(f"{base}?{query}")
        assert (response.status_code, response.json()["code"]) == (400, 20001), query
    missing = "FN" + "0" * 32
    for path in (f"{base}/{missing}", f"{base}/{missing}/Context", f"{base}/{missing}/Steps", f"{base}/nope",
                 "/v2/Flows/nope/Executions", f"/v2/Flows/{flow_sid()}/Executions/{created['sid']}",
                 f"{base}/{created['sid']}/Steps/FT{'0' * 32}"):
        response = api.get(path)
        assert (response.status_code, response.json()["code"]) == (404, 20404), path
    assert api.delete(f"{base}/{missing}").status_code == 404
    assert api.post(f"{base}/{missing}", {"Status": "ended"}).status_code == 404


def test_another_accounts_executions_are_not_found(server: ServerProcess, api: Api) -> None:
    flow = flow_sid()
    base = f"/v2/Flows/{flow}/Executions"
    created = api.post(base, {"To": "+1", "From": "+2"}).json()
    intruder = Api(server.base_url, add_account(server.database_url).auth)
    for path in (f"{base}/{created['sid']}", f"{base}/{created['sid']}/Context", f"{base}/{created['sid']}/Steps"):
        assert intruder.get(path).status_code == 404, path
    assert intruder.post(f"{base}/{created['sid']}", {"Status": "ended"}).status_code == 404
    assert intruder.delete(f"{base}/{created['sid']}").status_code == 404
    assert intruder.get(base).json()["executions"] == []
    assert api.get(f"{base}/{created['sid']}").json()["status"] == "active"


def test_start_execution_records_the_studio_trigger(api: Api, account: Any, database: Direct) -> None:
    """What the lead's studio webhook runs: the trigger context as Studio has it."""
    flow = flow_sid()
    message = {"ChannelSid": "CH" + "1" * 32, "Body": "hello", "From": "alice", "InstanceSid": "IS" + "2" * 32,
               "ChannelAttributes": '{"status": "ACTIVE"}', "MessageSid": "IM" + "3" * 32}
    execution = database.write(studio.start_execution(account.sid, flow, "alice", {"message": message}))
    assert (execution.status, execution.flow_sid, execution.initiated_by) == ("active", flow, "IM" + "3" * 32)
    context = api.get(f"/v2/Flows/{flow}/Executions/{execution.sid}/Context").json()["context"]
    assert context["trigger"] == {"message": message}
    assert context["contact"] == {"channel": {"address": "alice"}}
    fetched = api.get(f"/v2/Flows/{flow}/Executions/{execution.sid}").json()
    assert (fetched["contact_channel_address"], fetched["contact_sid"]) == ("alice", execution.contact_sid)
    second = database.write(studio.start_execution(account.sid, flow, "alice", {"message": {"ChannelSid": "CH1"}}))
    assert (second.contact_sid, second.initiated_by) == (execution.contact_sid, "CH1")
    assert [e["sid"] for e in api.get(f"/v2/Flows/{flow}/Executions").json()["executions"]] == [
        second.sid, execution.sid,
    ]
    # The executions' part of the channel's timeline (REST-created ones belong to no channel).
    api.post(f"/v2/Flows/{flow}/Executions", {"To": "alice", "From": "bot"})
    assert [e.sid for e in database.read(studio.executions_of_channel(account.sid, "CH" + "1" * 32))] == [
        execution.sid
    ]
    assert [e.sid for e in database.read(studio.executions_of_channel(account.sid, "CH1"))] == [second.sid]
    assert database.read(studio.executions_of_channel("AC" + "0" * 32, "CH1")) == []
