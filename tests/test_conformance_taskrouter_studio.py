"""TaskRouter (twilio_taskrouter_v1.json) and Studio (twilio_studio_v2.json): every
operation flexchat implements, its responses validated against the spec over HTTP and in
process, and requests generated from the specs (no 5xx, 2xx bodies valid).

These two products keep their own scenario here; tests/conformance/ holds the tables of
Flex and Chat (folding these in as tables is the next step, see tests/conformance/__init__.py).
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
from collections import Counter
from typing import Any

import pytest
import requests

from flexchat.testing import InProcessFlexchat, ServerProcess

from .conftest import Account
from .helpers.conformance import MAX_EXAMPLES, Call, Spec, check_response, load_spec

PRODUCT_SPECS = {"taskrouter": "twilio_taskrouter_v1.json", "studio": "twilio_studio_v2.json"}
# The TaskRouter and Studio operations flexchat implements (the specs' others are out of scope).
PRODUCT_OPERATIONS = {
    "taskrouter": [
        (method, path)
        for path, methods in (
            ("/v1/Workspaces", ("GET", "POST")),
            ("/v1/Workspaces/{Sid}", ("GET", "POST", "DELETE")),
            ("/v1/Workspaces/{WorkspaceSid}/Workflows", ("GET", "POST")),
            ("/v1/Workspaces/{WorkspaceSid}/Workflows/{Sid}", ("GET", "POST", "DELETE")),
            ("/v1/Workspaces/{WorkspaceSid}/TaskChannels", ("GET", "POST")),
            ("/v1/Workspaces/{WorkspaceSid}/TaskChannels/{Sid}", ("GET", "POST", "DELETE")),
            ("/v1/Workspaces/{WorkspaceSid}/Tasks", ("GET", "POST")),
            ("/v1/Workspaces/{WorkspaceSid}/Tasks/{Sid}", ("GET", "POST", "DELETE")),
        )
        for method in methods
    ],
    "studio": [
        ("GET", "/v2/Flows/{FlowSid}/Executions"),
        ("POST", "/v2/Flows/{FlowSid}/Executions"),
        ("GET", "/v2/Flows/{FlowSid}/Executions/{Sid}"),
        ("POST", "/v2/Flows/{FlowSid}/Executions/{Sid}"),
        ("DELETE", "/v2/Flows/{FlowSid}/Executions/{Sid}"),
        ("GET", "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Context"),
        ("GET", "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps"),
    ],
}
PRODUCT_CONFIGURATION = json.dumps(
    {"task_routing": {"filters": [{"expression": "language == 'fr'", "targets": [{"queue": "WQ" + "4" * 32}]}],
                      "default_filter": {"queue": "WQ" + "5" * 32}}}
)


@pytest.fixture(scope="module")
def product_specs() -> dict[str, Spec]:
    return {product: load_spec(name, required_in_ci=False) for product, name in PRODUCT_SPECS.items()}


def test_taskrouter_and_studio_operations_conform_over_http(
    product_specs: dict[str, Spec], server: ServerProcess, account: Account
) -> None:
    session = requests.Session()
    session.auth = account.auth

    def over_http(method: str, target: str, data: dict[str, Any] | None) -> tuple[int, bytes]:
        url = target if target.startswith("http") else server.base_url + target
        response = session.request(method, url, data=data, timeout=30)
        return response.status_code, response.content

    every_product_operation(product_specs, over_http)


def test_taskrouter_and_studio_operations_conform_in_process(product_specs: dict[str, Spec]) -> None:
    with InProcessFlexchat() as instance:

        def in_process(method: str, target: str, data: dict[str, Any] | None) -> tuple[int, bytes]:
            host = "https://studio.twilio.com" if target.startswith("/v2/") else "https://taskrouter.twilio.com"
            url = target if target.startswith("http") else host + target
            response = instance.request(method, url, data=data, auth=instance.auth)
            return response.status, response.body

        every_product_operation(product_specs, in_process)


def every_product_operation(specs: dict[str, Spec], call: Call) -> None:
    """Every TaskRouter and Studio operation's success path, every page of each list in
    both directions; each response validated against its product's spec."""
    seen: Counter[tuple[str, str]] = Counter()

    def do(method: str, path: str, target: str, data: dict[str, Any] | None = None) -> Any:
        status, body = call(method, target, data)
        check_response(specs["studio" if path.startswith("/v2/") else "taskrouter"], method, path, status, body)
        seen[(method, path)] += 1
        return json.loads(body) if body else None

    def walk(path: str, target: str, key: str) -> list[str]:
        page = do("GET", path, target)
        sids = [item["sid"] for item in page[key]]
        while page["meta"]["next_page_url"]:
            page = do("GET", path, page["meta"]["next_page_url"])
            sids += [item["sid"] for item in page[key]]
        assert len(sids) == len(set(sids))
        while page["meta"]["previous_page_url"]:
            page = do("GET", path, page["meta"]["previous_page_url"])
        assert not sids or page[key][0]["sid"] == sids[0]
        return sids

    workspaces = "/v1/Workspaces"
    one = "/v1/Workspaces/{Sid}"
    assert do("GET", workspaces, workspaces)["workspaces"] == []
    workspace = do("POST", workspaces, workspaces, {
        "FriendlyName": "conformance", "EventCallbackUrl": "https://example.com/events",
        "PrioritizeQueueOrder": "LIFO", "Template": "FIFO",
    })
    spare = do("POST", workspaces, workspaces, {"FriendlyName": "spare", "MultiTaskEnabled": "false"})
    do("GET", one, f"{workspaces}/{workspace['sid']}")
    do("POST", one, f"{workspaces}/{spare['sid']}", {"FriendlyName": "spare 2", "EventsFilter": "task.created"})
    assert len(walk(workspaces, f"{workspaces}?PageSize=1", "workspaces")) == 2

    ws = f"{workspaces}/{workspace['sid']}"
    flows, flow = "/v1/Workspaces/{WorkspaceSid}/Workflows", "/v1/Workspaces/{WorkspaceSid}/Workflows/{Sid}"
    workflow = do("POST", flows, f"{ws}/Workflows", {
        "FriendlyName": "French", "Configuration": PRODUCT_CONFIGURATION,
        "AssignmentCallbackUrl": "https://example.com/assign", "TaskReservationTimeout": "30",
    })
    do("GET", flow, f"{ws}/Workflows/{workflow['sid']}")
    do("POST", flow, f"{ws}/Workflows/{workflow['sid']}", {"FriendlyName": "Français"})
    assert len(walk(flows, f"{ws}/Workflows?PageSize=1", "workflows")) == 2

    channels, channel = "/v1/Workspaces/{WorkspaceSid}/TaskChannels", "/v1/Workspaces/{WorkspaceSid}/TaskChannels/{Sid}"
    made = do("POST", channels, f"{ws}/TaskChannels", {"FriendlyName": "Fax", "UniqueName": "fax",
                                                       "ChannelOptimizedRouting": "true"})
    do("GET", channel, f"{ws}/TaskChannels/fax")
    do("POST", channel, f"{ws}/TaskChannels/{made['sid']}", {"FriendlyName": "Telefax"})
    assert len(walk(channels, f"{ws}/TaskChannels?PageSize=4", "channels")) == 7

    tasks, task_path = "/v1/Workspaces/{WorkspaceSid}/Tasks", "/v1/Workspaces/{WorkspaceSid}/Tasks/{Sid}"
    created = [
        do("POST", tasks, f"{ws}/Tasks", {
            "WorkflowSid": workflow["sid"], "Attributes": json.dumps({"language": language}), "Priority": str(i),
            "TaskChannel": "chat", "Timeout": "3600",
        })
        for i, language in enumerate(("fr", "en", "fr"))
    ]
    do("GET", task_path, f"{ws}/Tasks/{created[0]['sid']}")
    do("POST", task_path, f"{ws}/Tasks/{created[0]['sid']}", {"AssignmentStatus": "canceled", "Reason": "test"})
    do("POST", task_path, f"{ws}/Tasks/{created[1]['sid']}", {"Attributes": "{}", "Priority": "7"})
    assert len(walk(tasks, f"{ws}/Tasks?PageSize=2", "tasks")) == 3
    assert len(walk(tasks, f"{ws}/Tasks?PageSize=1&Ordering=Priority:desc&AssignmentStatus=pending", "tasks")) == 2
    do("DELETE", task_path, f"{ws}/Tasks/{created[2]['sid']}")
    do("DELETE", channel, f"{ws}/TaskChannels/fax")
    do("DELETE", flow, f"{ws}/Workflows/{workflow['sid']}")
    do("DELETE", one, f"{workspaces}/{spare['sid']}")

    base = f"/v2/Flows/FW{'6' * 32}/Executions"
    executions, execution_path = "/v2/Flows/{FlowSid}/Executions", "/v2/Flows/{FlowSid}/Executions/{Sid}"
    assert do("GET", executions, base)["executions"] == []
    started = [do("POST", executions, base, {"To": f"+1555010{i}", "From": "+15550199",
                                             "Parameters": json.dumps({"i": i})}) for i in range(3)]
    do("GET", execution_path, f"{base}/{started[0]['sid']}")
    do("POST", execution_path, f"{base}/{started[0]['sid']}", {"Status": "ended"})
    assert len(walk(executions, f"{base}?PageSize=2", "executions")) == 3
    context = do("GET", "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Context", f"{base}/{started[1]['sid']}/Context")
    assert context["context"]["flow"]["data"] == {"i": 1}
    assert do("GET", "/v2/Flows/{FlowSid}/Executions/{ExecutionSid}/Steps", f"{base}/{started[1]['sid']}/Steps")[
        "steps"
    ] == []
    do("DELETE", execution_path, f"{base}/{started[2]['sid']}")
    assert set(seen) == {op for ops in PRODUCT_OPERATIONS.values() for op in ops}


class ProductWorld:
    """A workspace with a workflow, a task channel and a task, and a flow's execution, so
    generated path Sids can be swapped for ones that exist."""

    def __init__(self, base_url: str, auth: tuple[str, str]) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.auth = auth
        self.flow_sid = "FW" + secrets.token_hex(16)
        self.sids: dict[str, str] = {}
        self.renew()

    def post(self, path: str, data: dict[str, str]) -> str:
        response = self.session.post(self.base_url + path, data=data, timeout=30)
        assert response.status_code == 201, response.text
        return str(response.json()["sid"])

    def renew(self) -> None:
        workspace = self.post("/v1/Workspaces", {"FriendlyName": "conformance"})
        ws = f"/v1/Workspaces/{workspace}"
        workflow = self.post(f"{ws}/Workflows", {"FriendlyName": "w", "Configuration": PRODUCT_CONFIGURATION})
        self.sids = {
            "WorkspaceSid": workspace,
            "Workflows": workflow,
            "TaskChannels": self.post(f"{ws}/TaskChannels", {"FriendlyName": "c", "UniqueName": secrets.token_hex(4)}),
            "Tasks": self.post(f"{ws}/Tasks", {"WorkflowSid": workflow}),
            "FlowSid": self.flow_sid,
            "Executions": self.post(f"/v2/Flows/{self.flow_sid}/Executions", {"To": "+1", "From": "+2"}),
        }

    def path_parameters(self, path: str) -> dict[str, str]:
        """Real values for the path's parameters."""
        values = {name: self.sids[name] for name in ("WorkspaceSid", "FlowSid") if f"{{{name}}}" in path}
        if "{ExecutionSid}" in path:
            values["ExecutionSid"] = self.sids["Executions"]
        if path.endswith("{Sid}"):
            kind = path.rsplit("/", 2)[-2]
            values["Sid"] = self.sids["WorkspaceSid"] if kind == "Workspaces" else self.sids[kind]
        return values


PRODUCT_CASES = [(product, method, path) for product, ops in PRODUCT_OPERATIONS.items() for method, path in ops]


@pytest.mark.parametrize(("product", "method", "path"), PRODUCT_CASES, ids=[f"{m} {p}" for _, m, p in PRODUCT_CASES])
def test_generated_taskrouter_and_studio_requests_conform(
    product: str,
    method: str,
    path: str,
    product_specs: dict[str, Spec],
    server: ServerProcess,
    account: Account,
) -> None:
    """Requests generated from TaskRouter's and Studio's specs: never a 5xx, every 2xx
    body valid; each case also sent with path Sids that exist."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error

    spec = product_specs[product]
    operation = schemathesis.openapi.from_dict(copy.deepcopy(spec))[path][method]
    world = ProductWorld(server.base_url, account.auth)
    session = requests.Session()
    authorization = "Basic " + base64.b64encode(f"{account.sid}:{account.auth_token}".encode()).decode()
    statuses: Counter[int] = Counter()

    def send(case: Any) -> None:
        response = case.call(base_url=server.base_url, session=session, headers={"Authorization": authorization})
        statuses[response.status_code] += 1
        case.validate_response(response, checks=[not_a_server_error])
        if 200 <= response.status_code < 300:
            check_response(spec, method, path, response.status_code, response.content)
            if method == "DELETE":
                world.renew()
        else:
            assert set(response.json()) == {"code", "message", "more_info", "status"}, response.text

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @settings(
            max_examples=max(MAX_EXAMPLES // 4, 5),
            deadline=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def each(case: Any) -> None:
            send(case)
            if "{" in path:
                case.path_parameters = {**(case.path_parameters or {}), **world.path_parameters(path)}
                send(case)
            if path.endswith("/Workflows") and method == "POST" and isinstance(case.body, dict):
                # A generated Configuration is almost never a routing document.
                case.body["Configuration"] = PRODUCT_CONFIGURATION
                send(case)

        each()
    assert not any(status >= 500 for status in statuses)
    assert any(200 <= status < 300 for status in statuses), f"no generated request succeeded: {dict(statuses)}"
