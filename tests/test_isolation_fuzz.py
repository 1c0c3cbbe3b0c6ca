"""Isolation, fuzzed: a hypothesis state machine drives several accounts through every
resource of every product this server has, and after each step checks that no response
to one account carries another account's Sids or names, that another account's Sid is a
404 on fetch, update and delete (and changes nothing), and that another account's page
token is a 400.

Covered: Flex (FlexFlows, Channels, WebChannels, Configuration), Chat v2 (Services,
Channels, Users, Members, Messages, channel Webhooks), TaskRouter (Workspaces,
Workflows, TaskChannels, Tasks), Studio (Executions), IAM keys and Accounts token
rotation; the control API (``/flexchat/v1``: webhook Deliveries, Faults, the agent's
operations on tasks and channels, a channel's Timeline) and the console (``/console/api``:
its flows, channels, transcripts, timelines, agent buttons, faults, the request log and
the account reset), logged in with each account's own cookie and CSRF token.
Products are :class:`Resource` entries in :data:`RESOURCES` (a nested one names its
parent; a create that lacks the parent makes it first; a read-only one, such as the
deliveries the other resources' webhooks raise, is *discovered* from its list),
:class:`Action` entries in :data:`ACTIONS` (an operation on one of those resources'
items, tried by its owner and by another account), plus the account-wide operations in
the rules below; a resource that lands later adds its entries and every rule covers it.
Each account's names carry its own random tag and every Sid a response shows is
attributed to the account that saw it, so a leak of either kind is caught wherever it
appears in a body.

Runs on both engines. ``FLEXCHAT_FUZZ_STEPS`` sets the number of steps per engine
(default 1,000, as runs of up to fifty; hypothesis makes some runs short, so the count is
approximate and the test reports it); e.g. ``FLEXCHAT_FUZZ_STEPS=5000`` for a long run.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from flexchat.faults import FAMILIES
from flexchat.testing import ServerProcess

from .conftest import add_account

STEPS_PER_RUN = 50
STEPS = int(os.environ.get("FLEXCHAT_FUZZ_STEPS", "1000"))
ACCOUNTS = 3
SID = re.compile(r"\b[A-Z]{2}[0-9a-f]{32}\b")


@dataclass
class Tenant:
    """One account as the test knows it: credentials, its tag, and what it owns."""

    sid: str
    auth: tuple[str, str]
    tag: str
    # Resource name -> Sids created and not deleted / deleted.
    live: dict[str, list[str]] = field(default_factory=dict)
    deleted: dict[str, list[str]] = field(default_factory=dict)
    # Sid -> the collection it was made in (nested resources live under a parent).
    paths: dict[str, str] = field(default_factory=dict)
    # Every Sid any response to this account showed: this account's by definition.
    seen: set[str] = field(default_factory=set)
    # Every Sid this account itself sent (another's, when it intruded): its own request
    # log shows them, which is no leak.
    sent: set[str] = field(default_factory=set)
    # Fault family -> the LatencyMs this account set (the rest are 0).
    faults: dict[str, int] = field(default_factory=dict)
    # The console, logged in with this account's token: a cookie jar of its own, and the
    # CSRF token; None until first used and after the token changes.
    console: tuple[requests.Session, str] | None = None


FormFn = Callable[[Tenant], "dict[str, str] | None"]


@dataclass(frozen=True)
class Resource:
    """A resource with a collection (list, create) and instances (fetch, update?, delete).

    ``collection`` is the list's path for a tenant (a nested resource's names its
    parent: the tenant's first one), or None while the tenant has no parent for it.
    """

    name: str
    collection: Callable[[Tenant], str | None]
    list_key: str
    create: FormFn  # the create form for a tenant, or None when it cannot make one yet
    update: FormFn | None = None
    deletable: bool = True
    # What must exist first (a Flex Flow for a channel, a chat channel for a message):
    # a create that lacks it makes the parent instead.
    parent: str | None = None
    # Extra query parameters of the list (IAM's AccountSid).
    list_query: Callable[[Tenant], dict[str, str]] = lambda tenant: {}
    # The field naming an item (the control API's deliveries have ``id``).
    id_key: str = "sid"
    # Read-only: items come from the list (the deliveries other resources' changes
    # raise), never from a create; the instance answers GET only (405 otherwise).
    discovered: bool = False
    # The :class:`Action` whose run raises such items, for an account that has none yet.
    raised_by: str | None = None


def _name(tenant: Tenant, what: str) -> str:
    return f"{what} {tenant.tag} {secrets.token_hex(3)}"


def _flow_form(tenant: Tenant) -> dict[str, str]:
    return {
        "FriendlyName": _name(tenant, "flow"),
        "ChatServiceSid": "IS" + secrets.token_hex(16),
        "ChannelType": "web",
        "IntegrationType": "studio",
        "Integration.FlowSid": "FW" + secrets.token_hex(16),
    }


def _some_flow(tenant: Tenant) -> str | None:
    flows = tenant.live.get("flex_flows", [])
    return flows[0] if flows else None


def _fixed(path: str) -> Callable[[Tenant], str | None]:
    return lambda tenant: path


def _under(parent: str, child: str) -> Callable[[Tenant], str | None]:
    """The collection ``child`` under the tenant's first live ``parent`` resource."""

    def collection(tenant: Tenant) -> str | None:
        parents = tenant.live.get(parent, [])
        return f"{tenant.paths[parents[0]]}/{parents[0]}/{child}" if parents else None

    return collection


def _channel_form(tenant: Tenant) -> dict[str, str] | None:
    flow = _some_flow(tenant)
    if flow is None:
        return None
    identity = f"{tenant.tag}-{secrets.token_hex(4)}"
    return {
        "FlexFlowSid": flow,
        "Identity": identity,
        "ChatUserFriendlyName": _name(tenant, "user"),
        "ChatFriendlyName": _name(tenant, "chat"),
    }


def _web_channel_form(tenant: Tenant) -> dict[str, str] | None:
    flow = _some_flow(tenant)
    if flow is None:
        return None
    return {
        "FlexFlowSid": flow,
        "Identity": f"{tenant.tag}-{secrets.token_hex(4)}",
        "CustomerFriendlyName": _name(tenant, "customer"),
        "ChatFriendlyName": _name(tenant, "web chat"),
    }


def _identity(tenant: Tenant) -> str:
    return f"{tenant.tag}-{secrets.token_hex(4)}"


def _workflow_configuration() -> str:
    return json.dumps({"task_routing": {"filters": [], "default_filter": {"queue": "WQ" + secrets.token_hex(16)}}})


def _task_form(tenant: Tenant) -> dict[str, str] | None:
    workflows = tenant.live.get("workflows", [])
    if not workflows:
        return None
    return {"WorkflowSid": workflows[0], "Attributes": json.dumps({"customer": tenant.tag})}


RESOURCES: list[Resource] = [
    # Flex v1
    Resource(
        "flex_flows", _fixed("/v1/FlexFlows"), "flex_flows", _flow_form,
        update=lambda tenant: {"FriendlyName": _name(tenant, "renamed flow")},
    ),
    Resource("channels", _fixed("/v1/Channels"), "flex_chat_channels", _channel_form, parent="flex_flows"),
    Resource(
        "web_channels", _fixed("/v1/WebChannels"), "flex_chat_channels", _web_channel_form,
        update=lambda tenant: {"PostEngagementData": json.dumps({"who": tenant.tag})}, parent="flex_flows",
    ),
    # Chat v2. Services and channels are parents: never deleted here (their children
    # would go with them); another account's DELETE of them is still tried.
    Resource(
        "chat_services", _fixed("/v2/Services"), "services",
        lambda tenant: {"FriendlyName": _name(tenant, "service")},
        update=lambda tenant: {"FriendlyName": _name(tenant, "renamed service")}, deletable=False,
    ),
    Resource(
        "chat_channels", _under("chat_services", "Channels"), "channels",
        lambda tenant: {"FriendlyName": _name(tenant, "channel"), "UniqueName": _identity(tenant)},
        update=lambda tenant: {"FriendlyName": _name(tenant, "renamed channel")}, deletable=False,
        parent="chat_services",
    ),
    Resource(
        "chat_users", _under("chat_services", "Users"), "users",
        lambda tenant: {"Identity": _identity(tenant), "FriendlyName": _name(tenant, "chat user")},
        update=lambda tenant: {"FriendlyName": _name(tenant, "renamed user")}, parent="chat_services",
    ),
    Resource(
        "chat_members", _under("chat_channels", "Members"), "members",
        lambda tenant: {"Identity": _identity(tenant)},
        update=lambda tenant: {"Attributes": json.dumps({"who": tenant.tag})}, parent="chat_channels",
    ),
    Resource(
        "chat_messages", _under("chat_channels", "Messages"), "messages",
        lambda tenant: {"Body": _name(tenant, "hello"), "From": _identity(tenant)},
        update=lambda tenant: {"Body": _name(tenant, "edited")}, parent="chat_channels",
    ),
    Resource(
        "chat_webhooks", _under("chat_channels", "Webhooks"), "webhooks",
        lambda tenant: {
            "Type": "webhook", "Configuration.Url": f"http://127.0.0.1:9/{tenant.tag}",
            "Configuration.Filters": "onMessageSent", "Configuration.RetryCount": "0",
        },
        update=lambda tenant: {"Configuration.Url": f"http://127.0.0.1:9/{tenant.tag}/{secrets.token_hex(2)}"},
        parent="chat_channels",
    ),
    # TaskRouter v1 (workspaces are parents, never deleted here).
    Resource(
        "workspaces", _fixed("/v1/Workspaces"), "workspaces",
        lambda tenant: {"FriendlyName": _name(tenant, "workspace")},
        update=lambda tenant: {"FriendlyName": _name(tenant, "renamed workspace")}, deletable=False,
    ),
    Resource(
        "task_channels", _under("workspaces", "TaskChannels"), "channels",
        lambda tenant: {"FriendlyName": _name(tenant, "task channel"), "UniqueName": _identity(tenant)},
        update=lambda tenant: {"FriendlyName": _name(tenant, "renamed task channel")}, parent="workspaces",
    ),
    Resource(
        "workflows", _under("workspaces", "Workflows"), "workflows",
        lambda tenant: {"FriendlyName": _name(tenant, "workflow"), "Configuration": _workflow_configuration()},
        update=lambda tenant: {"FriendlyName": _name(tenant, "renamed workflow")}, deletable=False,
        parent="workspaces",
    ),
    Resource(
        "tasks", _under("workspaces", "Tasks"), "tasks", _task_form,
        update=lambda tenant: {"Attributes": json.dumps({"customer": tenant.tag, "n": secrets.randbelow(9)})},
        parent="workflows",
    ),
    # Studio v2: executions of a flow whose Sid the account makes up (one per account).
    Resource(
        "executions", lambda tenant: f"/v2/Flows/FW{tenant.sid[2:]}/Executions", "executions",
        lambda tenant: {"To": f"+1555{secrets.randbelow(10**7):07d}", "From": _identity(tenant)},
        update=lambda tenant: {"Status": "ended"},
    ),
    # IAM v1
    Resource(
        "keys", _fixed("/v1/Keys"), "keys",
        lambda tenant: {"AccountSid": tenant.sid, "FriendlyName": f"key {tenant.tag}"[:64]},
        update=lambda tenant: {"FriendlyName": f"renamed {tenant.tag}"},
        list_query=lambda tenant: {"AccountSid": tenant.sid},
    ),
    # The control API: the webhook events the changes above raised (a Chat webhook's
    # onMessageSent, a Flex channel's Studio webhook), each with its attempts.
    Resource(
        "deliveries", _fixed("/flexchat/v1/Deliveries"), "deliveries", lambda tenant: None, deletable=False,
        id_key="id", discovered=True, raised_by="agent message",
    ),
]
BY_NAME = {resource.name: resource for resource in RESOURCES}
DISCOVERED = [resource for resource in RESOURCES if resource.discovered]


@dataclass(frozen=True)
class Action:
    """An operation on one item of a resource, beyond fetch/update/delete: the control
    API's agent operations and Timeline, the console's pages and buttons. Its owner may
    get a 2xx or a 400 (a task move the task's state does not allow); anyone else, 404."""

    name: str
    resources: tuple[str, ...]
    method: str
    path: Callable[[str], str]  # from the item's Sid
    form: Callable[[Tenant], dict[str, str]] = lambda tenant: {}
    console: bool = False  # through the console's session (JSON bodies), not the API's Basic auth


_FLEX_CHANNELS = ("channels", "web_channels")
_CHAT_CHANNELS = ("channels", "web_channels", "chat_channels")


def _console_channel_path(rest: str) -> Callable[[str], str]:
    return lambda sid: f"/console/api/channels/{sid}/{rest}"


def _agent(tenant: Tenant) -> dict[str, str]:
    return {"Agent": f"agent-{tenant.tag}"}


ACTIONS: list[Action] = [
    # The control API (/flexchat/v1): playing the agent, and the channel's timeline.
    Action("accept", ("tasks",), "POST", lambda sid: f"/flexchat/v1/Tasks/{sid}/Accept", _agent),
    Action("wrap up", ("tasks",), "POST", lambda sid: f"/flexchat/v1/Tasks/{sid}/WrapUp"),
    Action("complete", ("tasks",), "POST", lambda sid: f"/flexchat/v1/Tasks/{sid}/Complete"),
    Action(
        "agent message", _CHAT_CHANNELS, "POST", lambda sid: f"/flexchat/v1/Channels/{sid}/Messages",
        lambda tenant: {**_agent(tenant), "Body": _name(tenant, "agent says")},
    ),
    Action("send to flex", _FLEX_CHANNELS, "POST", lambda sid: f"/flexchat/v1/Channels/{sid}/SendToFlex"),
    Action("end chat", _FLEX_CHANNELS, "POST", lambda sid: f"/flexchat/v1/Channels/{sid}/End"),
    Action("timeline", _CHAT_CHANNELS, "GET", lambda sid: f"/flexchat/v1/Channels/{sid}/Timeline"),
    # The console (/console/api), on the Flex channels it shows.
    Action("console channel", _FLEX_CHANNELS, "GET", lambda sid: f"/console/api/channels/{sid}", console=True),
    Action(
        "console timeline", _FLEX_CHANNELS, "GET", lambda sid: f"/console/api/channels/{sid}/timeline",
        console=True,
    ),
    Action(
        "console reply", _FLEX_CHANNELS, "POST", lambda sid: f"/console/api/channels/{sid}/messages",
        lambda tenant: {"body": _name(tenant, "console says"), "from": f"agent-{tenant.tag}"}, console=True,
    ),
    *(
        Action(
            f"console {button}", _FLEX_CHANNELS, "POST",
            _console_channel_path(button),
            lambda tenant: {"from": f"agent-{tenant.tag}"}, console=True,
        )
        for button in ("sendtoflex", "accept", "wrapup", "complete", "end")
    ),
]
ACTIONS_BY_NAME = {action.name: action for action in ACTIONS}


class Isolation(RuleBasedStateMachine):
    """Several accounts on one server; the rules pick an account, a resource and a Sid."""

    base_url = ""
    database_url = ""
    # Requests per rule, across every run: the test checks the rules did run.
    counts: Counter[str] = Counter()

    def __init__(self) -> None:
        super().__init__()
        self.http = requests.Session()
        self.turn = 0
        self.tenants: list[Tenant] = []
        # (tenant index, response text, Sids the request itself named) to check.
        self.last: tuple[int, str, set[str]] | None = None

    @initialize()
    def make_accounts(self) -> None:
        for _ in range(ACCOUNTS):
            account = add_account(self.database_url)
            self.tenants.append(Tenant(account.sid, account.auth, f"t{secrets.token_hex(5)}", seen={account.sid}))

    # -- plumbing ------------------------------------------------------------------------

    def call(
        self, who: int, method: str, path: str, console: bool = False, own_log: bool = False, **kwargs: Any
    ) -> requests.Response:
        """One request as account ``who`` (with ``console``, through its console session),
        checked for leaks; ``own_log``: the response is the account's request log, which
        shows the Sids the account itself sent."""
        tenant = self.tenants[who]
        url = path if path.startswith("http") else self.base_url + path
        if console:
            http, csrf = self.console_session(who)
            response = http.request(method, url, headers={"X-CSRF-Token": csrf}, timeout=30, **kwargs)
        else:
            response = self.http.request(method, url, auth=tenant.auth, timeout=30, **kwargs)
        self.counts[sys._getframe(1).f_code.co_name] += 1
        assert response.status_code < 500, (method, path, response.status_code, response.text)
        # A 404 names the path it was sent: Sids the request named are not a leak.
        named = set(SID.findall(f"{url} {kwargs.get('data') or ''} {kwargs.get('json') or ''}"))
        tenant.sent |= named
        self.last = (who, response.text, named | tenant.sent if own_log else named)
        self.check_no_leak()
        # Whatever else this account was shown is this account's (it did not leak: checked).
        tenant.seen.update(set(SID.findall(response.text)) - named)
        return response

    def console_session(self, who: int) -> tuple[requests.Session, str]:
        """The account's console session: logged in with its current token on first use."""
        tenant = self.tenants[who]
        if tenant.console is None:
            http = requests.Session()  # a cookie jar of its own: no cookie reaches another account
            login = http.post(
                f"{self.base_url}/console/api/login", json={"sid": tenant.sid, "secret": tenant.auth[1]}, timeout=30
            )
            assert login.status_code == 200 and login.json()["account_sid"] == tenant.sid, login.text
            tenant.console = (http, login.json()["csrf_token"])
        return tenant.console

    def other(self, who: int, shift: int) -> int:
        return (who + 1 + shift % (ACCOUNTS - 1)) % ACCOUNTS

    def check_no_leak(self) -> None:
        if self.last is None:
            return
        who, text, named = self.last
        for index, tenant in enumerate(self.tenants):
            if index == who:
                continue
            assert tenant.tag not in text, f"account {who} was shown account {index}'s name: {text[:500]}"
            leaked = (tenant.seen - self.tenants[who].seen) & (set(SID.findall(text)) - named)
            assert not leaked, f"account {who} was shown account {index}'s Sids {leaked}: {text[:500]}"

    # -- rules -----------------------------------------------------------------------------

    # What the accounts made and have not deleted: (owner index, resource name, Sid).
    made = Bundle("made")

    @rule(target=made, who=st.integers(0, ACCOUNTS - 1), resource=st.sampled_from(RESOURCES))
    def create(self, who: int, resource: Resource) -> Any:
        tenant = self.tenants[who]
        collection, form = resource.collection(tenant), resource.create(tenant)
        while (collection is None or form is None) and resource.parent is not None:
            resource = BY_NAME[resource.parent]  # what it needs, first
            collection, form = resource.collection(tenant), resource.create(tenant)
        if collection is None or form is None:
            return multiple()
        response = self.call(who, "POST", collection, data=form)
        assert response.status_code in (200, 201), response.text
        sid = response.json()["sid"]
        if sid in tenant.live.setdefault(resource.name, []):
            return multiple()  # an open channel given back: already in the bundle
        tenant.live[resource.name].append(sid)
        tenant.paths[sid] = collection
        self.counts[f"made {resource.name}"] += 1
        return (who, resource.name, sid)

    @rule(item=made)
    def fetch_own(self, item: tuple[int, str, str]) -> None:
        who, name, sid = item
        if sid not in self.tenants[who].live.get(name, []):
            return  # deleted since (a consumed item can still be drawn once)
        response = self.call(who, "GET", f"{self.tenants[who].paths[sid]}/{sid}")
        assert response.status_code == 200 and response.json()[BY_NAME[name].id_key] == sid, response.text

    @rule(item=made, shift=st.integers(0, 9), method=st.sampled_from(["GET", "POST", "DELETE"]))
    def touch_another_accounts(self, item: tuple[int, str, str], shift: int, method: str) -> None:
        owner_index, name, sid = item
        if sid not in self.tenants[owner_index].live.get(name, []):
            return
        resource = BY_NAME[name]
        who = self.other(owner_index, shift)
        form = resource.update(self.tenants[who]) if resource.update is not None else {}
        path = f"{self.tenants[owner_index].paths[sid]}/{sid}"
        response = self.call(who, method, path, data=form if method == "POST" else None)
        if (method == "POST" and resource.update is None) or (method == "DELETE" and resource.discovered):
            assert response.status_code == 405, response.text  # no such operation on this resource at all
        else:
            assert (response.status_code, response.json()["code"]) == (404, 20404), response.text
        # And nothing changed for the owner.
        mine = self.call(owner_index, "GET", path)
        self.counts[f"intruded {name}"] += 1
        assert mine.status_code == 200 and self.tenants[who].tag not in mine.text

    @rule(item=made)
    def update_own(self, item: tuple[int, str, str]) -> None:
        who, name, sid = item
        resource = BY_NAME[name]
        if resource.update is None or sid not in self.tenants[who].live.get(name, []):
            return
        form = resource.update(self.tenants[who])
        assert form is not None
        response = self.call(who, "POST", f"{self.tenants[who].paths[sid]}/{sid}", data=form)
        assert response.status_code == 200, response.text

    @rule(item=consumes(made))
    def delete_own(self, item: tuple[int, str, str]) -> None:
        who, name, sid = item
        tenant, resource = self.tenants[who], BY_NAME[name]
        if not resource.deletable or sid not in tenant.live.get(name, []):
            return
        assert self.call(who, "DELETE", f"{tenant.paths[sid]}/{sid}").status_code == 204
        tenant.live[name].remove(sid)
        tenant.deleted.setdefault(name, []).append(sid)
        assert self.call(who, "GET", f"{tenant.paths[sid]}/{sid}").status_code == 404

    @rule(who=st.integers(0, ACCOUNTS - 1), resource=st.sampled_from(RESOURCES), size=st.integers(1, 3))
    def list_all(self, who: int, resource: Resource, size: int) -> None:
        """Walk the whole list: only this account's items, every live one of this kind."""
        tenant = self.tenants[who]
        collection = resource.collection(tenant)
        if collection is None:
            return
        query = {**resource.list_query(tenant), "PageSize": str(size)}
        url: str | None = f"{collection}?{urlencode(query)}"
        listed: list[str] = []
        while url:
            response = self.call(who, "GET", url)
            assert response.status_code == 200, response.text
            page = response.json()
            listed += [item[resource.id_key] for item in page[resource.list_key]]
            url = page["meta"]["next_page_url"]
        live = {sid for sid in tenant.live.get(resource.name, []) if tenant.paths[sid] == collection}
        assert live <= set(listed)
        assert not set(listed) & set(tenant.deleted.get(resource.name, [])) - live

    @rule(
        who=st.integers(0, ACCOUNTS - 1), shift=st.integers(0, 9), resource=st.sampled_from(RESOURCES),
    )
    def use_another_accounts_page_token(self, who: int, shift: int, resource: Resource) -> None:
        owner_index = self.other(who, shift)
        owner, intruder = self.tenants[owner_index], self.tenants[who]
        mine, theirs = resource.collection(intruder), resource.collection(owner)
        if mine is None or theirs is None:
            return
        query = {**resource.list_query(owner), "PageSize": "1"}
        first = self.call(owner_index, "GET", f"{theirs}?{urlencode(query)}").json()
        next_url = first["meta"]["next_page_url"]
        if next_url is None:
            return
        # The intruder's own list (its own parent, its own AccountSid) with the token.
        params = dict(parse_qsl(urlsplit(next_url).query))
        params.update(resource.list_query(intruder))
        response = self.call(who, "GET", f"{mine}?{urlencode(params)}")
        assert (response.status_code, response.json()["code"]) == (400, 20001), response.text

    @rule(target=made, who=st.integers(0, ACCOUNTS - 1), resource=st.sampled_from(RESOURCES))
    def create_another(self, who: int, resource: Resource) -> Any:
        """Creates twice as often as the other rules run: the rest need things to act on."""
        return self.create(who, resource)

    @rule(
        target=made, who=st.integers(0, ACCOUNTS - 1), resource=st.sampled_from(DISCOVERED),
        pick=st.integers(0, 49),
    )
    def discover(self, who: int, resource: Resource, pick: int) -> Any:
        """A read-only resource's item, found in the account's first page of it."""
        tenant = self.tenants[who]
        collection = resource.collection(tenant)
        assert collection is not None
        response = self.call(who, "GET", f"{collection}?PageSize=50")
        assert response.status_code == 200, response.text
        if not response.json()[resource.list_key] and resource.raised_by is not None:
            self.act_own(who, ACTIONS_BY_NAME[resource.raised_by], pick)
            response = self.call(who, "GET", f"{collection}?PageSize=50")
        known = tenant.live.setdefault(resource.name, [])
        fresh = [item[resource.id_key] for item in response.json()[resource.list_key]]
        fresh = [ident for ident in fresh if ident not in known]
        if not fresh:
            return multiple()
        ident = fresh[pick % len(fresh)]
        known.append(ident)
        tenant.paths[ident] = collection
        self.counts[f"made {resource.name}"] += 1
        return (who, resource.name, ident)

    def _target(self, who: int, action: Action, pick: int) -> tuple[str, str] | None:
        """One of the account's live items the action applies to, as (resource name,
        Sid); when it has none, it makes one (or, lacking its parents, a parent) first."""
        tenant = self.tenants[who]
        items = [(name, sid) for name in action.resources for sid in tenant.live.get(name, [])]
        if not items:
            self.create(who, BY_NAME[action.resources[pick % len(action.resources)]])
            items = [(name, sid) for name in action.resources for sid in tenant.live.get(name, [])]
        return items[pick % len(items)] if items else None

    def act(self, who: int, action: Action, sid: str) -> requests.Response:
        form = action.form(self.tenants[who])
        if action.method == "GET":
            return self.call(who, "GET", action.path(sid), console=action.console)
        if action.console:
            return self.call(who, action.method, action.path(sid), console=True, json=form)
        return self.call(who, action.method, action.path(sid), data=form)

    @rule(who=st.integers(0, ACCOUNTS - 1), action=st.sampled_from(ACTIONS), pick=st.integers(0, 99))
    def act_own(self, who: int, action: Action, pick: int) -> None:
        """The account runs a control API or console operation on one of its items."""
        target = self._target(who, action, pick)
        if target is None:
            return
        response = self.act(who, action, target[1])
        # A 400 is a move the item's state does not allow (complete before accept, Send
        # to Flex twice): the item is the owner's either way.
        assert response.status_code in (200, 201, 400), (action.name, response.text)
        self.counts[f"acted {action.name}"] += 1

    @rule(
        who=st.integers(0, ACCOUNTS - 1), action=st.sampled_from(ACTIONS), pick=st.integers(0, 99),
        shift=st.integers(0, 9),
    )
    def act_on_another_accounts(self, who: int, action: Action, pick: int, shift: int) -> None:
        """Another account runs the operation on the item: 404, and nothing changed."""
        owner_index = self.other(who, shift)
        target = self._target(owner_index, action, pick)
        if target is None:
            return
        name, sid = target
        response = self.act(who, action, sid)
        assert response.status_code == 404, (action.name, response.text)
        assert response.json()["code"] == 20404, (action.name, response.text)
        # The owner's view of the item (and, for a channel, its timeline) has nothing of the intruder's.
        owner = self.tenants[owner_index]
        mine = self.call(owner_index, "GET", f"{owner.paths[sid]}/{sid}")
        assert mine.status_code == 200 and self.tenants[who].tag not in mine.text
        if name in _CHAT_CHANNELS:
            timeline = self.call(owner_index, "GET", f"/flexchat/v1/Channels/{sid}/Timeline")
            assert timeline.status_code == 200 and self.tenants[who].tag not in timeline.text
        self.counts[f"intruded {action.name}"] += 1

    @rule(
        who=st.integers(0, ACCOUNTS - 1),
        what=st.sampled_from([
            "configuration", "promote", "rotate back", "faults", "console faults", "console reset",
        ]),
        family=st.sampled_from(FAMILIES), latency=st.integers(0, 2),
    )
    def account_wide(self, who: int, what: str, family: str, latency: int) -> None:
        """The account-wide resources: Flex's configuration, Accounts' auth tokens, the
        control API's and the console's fault rules, the console's reset."""
        if what == "configuration":
            self.configuration(who)
        elif what in ("faults", "console faults"):
            self.faults(who, family, latency, what == "console faults")
        elif what == "console reset":
            # Rare: it empties the account, and the other rules need things to act on.
            if latency == 0 and family == FAMILIES[0]:
                self.console_reset(who)
        else:
            self.rotate_token(who, what == "promote")

    @rule(who=st.integers(0, ACCOUNTS - 1), lists=st.booleans())
    def console_reads(self, who: int, lists: bool) -> None:
        """The console's lists and its request log, read by each account. A rule of their
        own: as two of account_wide's eight choices they were drawn so rarely that a run
        could end without either (the coverage check below then fails)."""
        if lists:
            self.console_lists(who)
        else:
            self.request_log(who)

    def faults(self, who: int, family: str, latency: int, console: bool) -> None:
        """Set one fault family's LatencyMs (0 to 2 ms: harmless to the other rules) and
        read every family back: each account sees its own settings only."""
        tenant = self.tenants[who]
        if console:
            written = self.call(who, "POST", f"/console/api/faults/{family}", console=True, json={"LatencyMs": latency})
        else:
            written = self.call(who, "POST", f"/flexchat/v1/Faults/{family}", data={"LatencyMs": str(latency)})
        assert written.status_code == 200 and written.json()["account_sid"] == tenant.sid, written.text
        tenant.faults[family] = latency
        for path, console_read in (("/flexchat/v1/Faults", False), ("/console/api/faults", True)):
            read = self.call(who, "GET", path, console=console_read)
            assert read.status_code == 200, read.text
            shown = {rule["family"]: rule["latency_ms"] for rule in read.json()["faults"]}
            assert shown == {name: tenant.faults.get(name, 0) for name in FAMILIES}, (shown, tenant.faults)
            assert {rule["account_sid"] for rule in read.json()["faults"]} == {tenant.sid}

    def console_lists(self, who: int) -> None:
        """The console's flows and channels: the account's own, every live one."""
        tenant = self.tenants[who]
        # Anything of another account's in either page fails the call's leak check;
        # here, that the first page (50) holds every live one of the account's.
        flows = self.call(who, "GET", "/console/api/flows", console=True).json()["flows"]
        mine = set(tenant.live.get("flex_flows", []))
        assert len(flows) == 50 or mine == {flow["sid"] for flow in flows}, (flows, mine)
        channels = self.call(who, "GET", "/console/api/channels", console=True).json()["channels"]
        mine = set(tenant.live.get("channels", [])) | set(tenant.live.get("web_channels", []))
        assert len(channels) == 50 or mine <= {channel["sid"] for channel in channels}, (channels, mine)

    def request_log(self, who: int) -> None:
        """The console's request log: the account's own calls only (the Sids it sent
        included; another's names or Sids it was never shown, never)."""
        response = self.call(who, "GET", "/console/api/requests", console=True, own_log=True)
        assert response.status_code == 200, response.text

    def console_reset(self, who: int) -> None:
        """The console's reset: everything of the account but its credentials goes; the
        other accounts' things stay (fetch_own and the invariant go on checking them)."""
        tenant = self.tenants[who]
        response = self.call(who, "POST", "/console/api/reset", console=True, json={"confirm": tenant.sid})
        assert response.status_code == 200, response.text
        for name in list(tenant.live):
            if name != "keys":
                tenant.deleted.setdefault(name, []).extend(tenant.live.pop(name))
        tenant.faults.clear()
        self.counts["console reset"] += 1

    def configuration(self, who: int) -> None:
        """Flex's per-account configuration: written and read back by its account only."""
        tenant = self.tenants[who]
        written = self.call(
            who, "POST", "/v1/Configuration", data=json.dumps({"ui_attributes": {"owner": tenant.tag}}),
            headers={"Content-Type": "application/json"},
        )
        assert written.status_code == 200, written.text
        read = self.call(who, "GET", "/v1/Configuration")
        assert read.json()["ui_attributes"] == {"owner": tenant.tag} and read.json()["account_sid"] == tenant.sid

    def rotate_token(self, who: int, promote: bool) -> None:
        """Accounts v1: a secondary token, then promoted (or deleted); the others' tokens
        are untouched (the invariant's requests use them)."""
        tenant = self.tenants[who]
        created = self.call(who, "POST", "/v1/AuthTokens/Secondary")
        assert created.status_code == 201, created.text
        if promote:
            new = created.json()["secondary_auth_token"]
            assert self.call(who, "POST", "/v1/AuthTokens/Promote").status_code == 200
            old = tenant.auth
            tenant.auth = (tenant.sid, new)
            tenant.console = None  # the session was the old token's: log in again
            stale = self.http.get(self.base_url + "/v1/FlexFlows", auth=old, timeout=30)
            assert stale.status_code == 401
        else:
            assert self.call(who, "DELETE", "/v1/AuthTokens/Secondary").status_code == 204

    @invariant()
    def every_account_still_sees_only_its_own_flows(self) -> None:
        """After every step, one account (in turn) lists exactly its own Flex Flows."""
        if not self.tenants:
            return
        self.turn = (self.turn + 1) % ACCOUNTS
        response = self.call(self.turn, "GET", "/v1/FlexFlows?PageSize=1000")
        listed = {flow["sid"] for flow in response.json()["flex_flows"]}
        assert listed == set(self.tenants[self.turn].live.get("flex_flows", []))


def test_isolation_fuzz(server: ServerProcess) -> None:
    counts: Counter[str] = Counter()
    machine = type(
        "IsolationOnServer", (Isolation,),
        {"base_url": server.base_url, "database_url": server.database_url, "counts": counts},
    )
    run_state_machine_as_test(
        machine,  # type: ignore[arg-type]
        settings=settings(
            # Hypothesis's runs average about half the maximum length.
            max_examples=max(1, 2 * STEPS // STEPS_PER_RUN),
            stateful_step_count=STEPS_PER_RUN,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
    print(f"isolation fuzz: {sum(counts.values())} requests: {dict(counts)}", file=sys.stderr)
    # Every kind of check ran (a fuzz whose rules never fire would pass vacuously).
    for name in ("create", "fetch_own", "touch_another_accounts", "update_own", "delete_own", "list_all",
                 "use_another_accounts_page_token", "configuration", "rotate_token", "discover", "act",
                 "faults", "console_lists", "request_log"):
        assert counts[name] > 0, (name, counts)
    # The control API's and the console's operations ran, by their owners and by intruders.
    for kind in ("acted", "intruded"):
        assert any(key.startswith(f"{kind} ") and key.split(" ", 1)[1] in ACTIONS_BY_NAME for key in counts), counts


@pytest.mark.parametrize("resource", [r for r in RESOURCES if not r.discovered], ids=lambda r: r.name)
def test_every_resource_is_fuzzed_with_an_owned_create(resource: Resource) -> None:
    """Each resource can be made for a tenant that has what it needs (its parents)."""
    tenant = Tenant("AC" + "0" * 32, ("", ""), "tag")
    parents = (("flex_flows", "FO"), ("chat_services", "IS"), ("chat_channels", "CH"), ("workspaces", "WS"),
               ("workflows", "WW"))
    for parent, sid in parents:
        tenant.live[parent] = [sid + "0" * 32]
    tenant.paths.update({
        "FO" + "0" * 32: "/v1/FlexFlows", "IS" + "0" * 32: "/v2/Services", "WS" + "0" * 32: "/v1/Workspaces",
        "WW" + "0" * 32: "/v1/Workspaces/WS" + "0" * 32 + "/Workflows",
        "CH" + "0" * 32: "/v2/Services/IS" + "0" * 32 + "/Channels",
    })
    assert resource.collection(tenant) is not None
    form = resource.create(tenant)
    assert form is not None and any("tag" in value or value == tenant.sid for value in form.values())
