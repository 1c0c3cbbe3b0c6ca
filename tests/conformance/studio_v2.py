"""Studio v2 (twilio_studio_v2.json): a flow's Executions, with their Context and Steps.
Flows themselves, and the spec's other paths, are out of scope: an execution names a
flow flexchat does not keep."""

from __future__ import annotations

import json
import secrets

from ..helpers.conformance import MAX_EXAMPLES, Exercise, Resources, Table

_EXECUTIONS = "/v2/Flows/{FlowSid}/Executions"
OPERATIONS = (
    ("GET", _EXECUTIONS),
    ("POST", _EXECUTIONS),
    ("GET", f"{_EXECUTIONS}/{{Sid}}"),
    ("POST", f"{_EXECUTIONS}/{{Sid}}"),
    ("DELETE", f"{_EXECUTIONS}/{{Sid}}"),
    ("GET", f"{_EXECUTIONS}/{{ExecutionSid}}/Context"),
    ("GET", f"{_EXECUTIONS}/{{ExecutionSid}}/Steps"),
)


def scenario(x: Exercise) -> None:
    """Every execution operation's success path, every page of the list both ways; an
    execution's context holds the parameters it was started with, and it has no steps."""
    base = f"/v2/Flows/FW{'6' * 32}/Executions"
    execution = f"{_EXECUTIONS}/{{Sid}}"
    assert x.do("GET", _EXECUTIONS, base)["executions"] == []
    started = [
        x.do("POST", _EXECUTIONS, base, {"To": f"+1555010{i}", "From": "+15550199", "Parameters": json.dumps({"i": i})})
        for i in range(3)
    ]
    x.do("GET", execution, f"{base}/{started[0]['sid']}")
    x.do("POST", execution, f"{base}/{started[0]['sid']}", {"Status": "ended"})
    x.every_page(_EXECUTIONS, f"{base}?PageSize=2", "executions", 3)
    context = x.do("GET", f"{_EXECUTIONS}/{{ExecutionSid}}/Context", f"{base}/{started[1]['sid']}/Context")
    assert context["context"]["flow"]["data"] == {"i": 1}
    assert x.do("GET", f"{_EXECUTIONS}/{{ExecutionSid}}/Steps", f"{base}/{started[1]['sid']}/Steps")["steps"] == []
    x.do("DELETE", execution, f"{base}/{started[2]['sid']}")


class World(Resources):
    """An execution of a flow, so generated path Sids can be swapped for ones that exist."""

    def __init__(self, base_url: str, auth: tuple[str, str]) -> None:
        super().__init__(base_url, auth)
        self.flow_sid = "FW" + secrets.token_hex(16)
        self.execution_sid = ""
        self.renew("")

    def renew(self, path: str) -> None:
        """A new execution of the same flow (a delete removed the last one)."""
        self.execution_sid = self.post(f"/v2/Flows/{self.flow_sid}/Executions", {"To": "+1", "From": "+2"})["sid"]

    def path_parameters(self, path: str) -> dict[str, str]:
        """The flow, and the execution as ``ExecutionSid`` or ``Sid``."""
        values = {"FlowSid": self.flow_sid, "ExecutionSid": self.execution_sid, "Sid": self.execution_sid}
        return {name: value for name, value in values.items() if "{" + name + "}" in path}


TABLE = Table(
    name="studio_v2",
    spec_name="twilio_studio_v2.json",
    host="https://studio.twilio.com",
    operations=OPERATIONS,
    scenario=scenario,
    world=World,
    examples=max(MAX_EXAMPLES // 4, 5),
)
