"""TaskRouter v1 (twilio_taskrouter_v1.json): Workspaces, and a workspace's Workflows,
Task Channels and Tasks. The spec's other paths (Workers, TaskQueues, Activities,
statistics, ...) are out of scope."""

from __future__ import annotations

import json
import secrets
from typing import Any

from ..helpers.conformance import MAX_EXAMPLES, Exercise, Resources, Table

_WORKSPACE = "/v1/Workspaces/{WorkspaceSid}"
OPERATIONS = (
    ("GET", "/v1/Workspaces"),
    ("POST", "/v1/Workspaces"),
    ("GET", "/v1/Workspaces/{Sid}"),
    ("POST", "/v1/Workspaces/{Sid}"),
    ("DELETE", "/v1/Workspaces/{Sid}"),
    *(
        (method, f"{_WORKSPACE}/{kind}{suffix}")
        for kind in ("Workflows", "TaskChannels", "Tasks")
        for method, suffix in (("GET", ""), ("POST", ""), ("GET", "/{Sid}"), ("POST", "/{Sid}"), ("DELETE", "/{Sid}"))
    ),
)

# A workflow's routing document: a generated Configuration is almost never one, so every
# workflow here (the scenario's, the world's, a mended generated form) is given this.
CONFIGURATION = json.dumps(
    {"task_routing": {"filters": [{"expression": "language == 'fr'", "targets": [{"queue": "WQ" + "4" * 32}]}],
                      "default_filter": {"queue": "WQ" + "5" * 32}}}
)


def scenario(x: Exercise) -> None:
    """Every workspace, workflow, task channel and task operation's success path, every
    page of each list both ways (tasks also filtered and ordered)."""
    workspaces, one = "/v1/Workspaces", "/v1/Workspaces/{Sid}"
    assert x.do("GET", workspaces, workspaces)["workspaces"] == []
    workspace = x.do("POST", workspaces, workspaces, {
        "FriendlyName": "conformance", "EventCallbackUrl": "https://example.com/events",
        "PrioritizeQueueOrder": "LIFO", "Template": "FIFO",
    })
    spare = x.do("POST", workspaces, workspaces, {"FriendlyName": "spare", "MultiTaskEnabled": "false"})
    x.do("GET", one, f"{workspaces}/{workspace['sid']}")
    x.do("POST", one, f"{workspaces}/{spare['sid']}", {"FriendlyName": "spare 2", "EventsFilter": "task.created"})
    x.every_page(workspaces, f"{workspaces}?PageSize=1", "workspaces", 2)

    ws = f"{workspaces}/{workspace['sid']}"
    flows, flow = f"{_WORKSPACE}/Workflows", f"{_WORKSPACE}/Workflows/{{Sid}}"
    workflow = x.do("POST", flows, f"{ws}/Workflows", {
        "FriendlyName": "French", "Configuration": CONFIGURATION,
        "AssignmentCallbackUrl": "https://example.com/assign", "TaskReservationTimeout": "30",
    })
    x.do("GET", flow, f"{ws}/Workflows/{workflow['sid']}")
    x.do("POST", flow, f"{ws}/Workflows/{workflow['sid']}", {"FriendlyName": "Français"})
    # The FIFO template's default workflow and ours.
    x.every_page(flows, f"{ws}/Workflows?PageSize=1", "workflows", 2)

    channels, channel = f"{_WORKSPACE}/TaskChannels", f"{_WORKSPACE}/TaskChannels/{{Sid}}"
    made = x.do("POST", channels, f"{ws}/TaskChannels", {
        "FriendlyName": "Fax", "UniqueName": "fax", "ChannelOptimizedRouting": "true",
    })
    x.do("GET", channel, f"{ws}/TaskChannels/fax")
    x.do("POST", channel, f"{ws}/TaskChannels/{made['sid']}", {"FriendlyName": "Telefax"})
    # A workspace's six default task channels and ours.
    x.every_page(channels, f"{ws}/TaskChannels?PageSize=4", "channels", 7)

    tasks, task = f"{_WORKSPACE}/Tasks", f"{_WORKSPACE}/Tasks/{{Sid}}"
    created = [
        x.do("POST", tasks, f"{ws}/Tasks", {
            "WorkflowSid": workflow["sid"], "Attributes": json.dumps({"language": language}), "Priority": str(i),
            "TaskChannel": "chat", "Timeout": "3600",
        })
        for i, language in enumerate(("fr", "en", "fr"))
    ]
    x.do("GET", task, f"{ws}/Tasks/{created[0]['sid']}")
    x.do("POST", task, f"{ws}/Tasks/{created[0]['sid']}", {"AssignmentStatus": "canceled", "Reason": "test"})
    x.do("POST", task, f"{ws}/Tasks/{created[1]['sid']}", {"Attributes": "{}", "Priority": "7"})
    x.every_page(tasks, f"{ws}/Tasks?PageSize=2", "tasks", 3)
    x.every_page(tasks, f"{ws}/Tasks?PageSize=1&Ordering=Priority:desc&AssignmentStatus=pending", "tasks", 2)

    x.do("DELETE", task, f"{ws}/Tasks/{created[2]['sid']}")
    x.do("DELETE", channel, f"{ws}/TaskChannels/fax")
    x.do("DELETE", flow, f"{ws}/Workflows/{workflow['sid']}")
    x.do("DELETE", one, f"{workspaces}/{spare['sid']}")


class World(Resources):
    """A workspace with a workflow, a task channel and a task, so generated path Sids can
    be swapped for ones that exist."""

    def __init__(self, base_url: str, auth: tuple[str, str]) -> None:
        super().__init__(base_url, auth)
        self.sids: dict[str, str] = {}
        self.renew("")

    def renew(self, path: str) -> None:
        """All of it anew, in a new workspace (a delete removed some of it)."""
        workspace = self.post("/v1/Workspaces", {"FriendlyName": "conformance"})["sid"]
        ws = f"/v1/Workspaces/{workspace}"
        workflow = self.post(f"{ws}/Workflows", {"FriendlyName": "w", "Configuration": CONFIGURATION})["sid"]
        channel = self.post(f"{ws}/TaskChannels", {"FriendlyName": "c", "UniqueName": secrets.token_hex(4)})["sid"]
        self.sids = {
            "Workspaces": workspace,
            "Workflows": workflow,
            "TaskChannels": channel,
            "Tasks": self.post(f"{ws}/Tasks", {"WorkflowSid": workflow})["sid"],
        }

    def path_parameters(self, path: str) -> dict[str, str]:
        """The real workspace, and as ``Sid`` the real resource of the path's kind."""
        values = {"WorkspaceSid": self.sids["Workspaces"]} if "{WorkspaceSid}" in path else {}
        if path.endswith("{Sid}"):
            values["Sid"] = self.sids[path.rsplit("/", 2)[-2]]
        return values

    def fix_body(self, method: str, path: str, body: dict[str, Any]) -> bool:
        """A new workflow with a routing document."""
        if (method, path) != ("POST", f"{_WORKSPACE}/Workflows"):
            return False
        body["Configuration"] = CONFIGURATION
        return True


TABLE = Table(
    name="taskrouter_v1",
    spec_name="twilio_taskrouter_v1.json",
    host="https://taskrouter.twilio.com",
    operations=OPERATIONS,
    scenario=scenario,
    world=World,
    # A quarter of the examples (at least 5): twenty operations would otherwise take long.
    examples=max(MAX_EXAMPLES // 4, 5),
)
