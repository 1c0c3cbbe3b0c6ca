"""The machinery of the conformance suite (tests/test_conformance.py), written once for
every product: a product is a table (tests/conformance/*.py) naming Twilio's OpenAPI
file, the operations flexchat implements, a scenario through them and a ``World`` of
real resources for generated requests.

- spec loading, from ``REFERENCE_DIR`` (tests/conftest.py: FLEXCHAT_REFERENCE_DIR, else
  ``../shared/reference``, else ``.cache/twilio-api``); a missing file skips with how to
  get it, or fails where the product is required and CI=true;
- response validation: the OpenAPI 3.0 response schema as JSON Schema (``nullable`` as a
  type), with ``date-time`` and ``uri`` checked strictly;
- transports: the same scenario over real HTTP and in process;
- generation: schemathesis requests (positive and negative) to a running server, no 5xx,
  every 2xx body schema-valid, every other body Twilio's error, counted in a summary report.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import os
import re
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import jsonschema
import pytest
import requests

from flexchat.testing import InProcessFlexchat, ServerProcess

from ..conftest import REFERENCE_CANDIDATES, REFERENCE_DIR, Account

Spec = dict[str, Any]
Operation = tuple[str, str]
# (method, target, form) -> (status, body): one request, however it travels.
Call = Callable[[str, str, "dict[str, Any] | None"], "tuple[int, bytes]"]

# Examples per operation and generation mode (positive, negative); a table may take a share.
MAX_EXAMPLES = int(os.environ.get("FLEXCHAT_CONFORMANCE_EXAMPLES", "40"))


# -- the spec --------------------------------------------------------------------------------


@functools.cache
def _read_spec(name: str) -> Spec:
    return dict(json.loads((REFERENCE_DIR / name).read_text(encoding="utf-8")))


def load_spec(name: str, required_in_ci: bool) -> Spec:
    """Twilio's OpenAPI file ``name`` from REFERENCE_DIR, read once per process.

    Absent, the test skips and says how to get it; with CI=true a required spec fails
    the test instead, so CI cannot pass by skipping.
    """
    if not (REFERENCE_DIR / name).is_file():
        looked = " nor ".join(str(path) for path in REFERENCE_CANDIDATES)
        reason = (
            f"Twilio's OpenAPI spec {name} is not in {looked}: run `make reference` "
            "(fetches it from the npm package @twilio/cli-core 9.0.0 into .cache/twilio-api), "
            "or set FLEXCHAT_REFERENCE_DIR to a directory holding it"
        )
        if required_in_ci and os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true requires the conformance tests to run: " + reason)
        pytest.skip(reason)
    return _read_spec(name)


@functools.cache
def _schemathesis_schema(name: str) -> Any:
    import schemathesis

    # A copy: schemathesis may resolve references in place, the validators read the original.
    return schemathesis.openapi.from_dict(copy.deepcopy(_read_spec(name)))


# -- OpenAPI 3.0 schemas as JSON Schema ------------------------------------------------------


def to_json_schema(node: Any, spec: Spec) -> Any:
    """An OpenAPI 3.0 schema object as plain JSON Schema: refs inlined, ``nullable`` as a type."""
    if isinstance(node, list):
        return [to_json_schema(item, spec) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/components/schemas/")
        resolved = to_json_schema(spec["components"]["schemas"][name], spec)
        return {"anyOf": [resolved, {"type": "null"}]} if node.get("nullable") else resolved
    out = {key: to_json_schema(value, spec) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


# RFC 3986 authority: userinfo, a reg-name, IPv4 or [IP literal], and an all-digit port.
_AUTHORITY = re.compile(r"(?:[\w.~!$&'()*+,;=:%-]*@)?(?:[\w.~!$&'()*+,;=%-]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?", re.ASCII)


def _is_uri(value: object) -> bool:
    """An absolute URI (what format "uri" means), checked as strictly as its syntax allows."""
    if not isinstance(value, str):
        return True
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return (
        re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme) is not None
        and _AUTHORITY.fullmatch(parts.netloc) is not None
        and bool(parts.netloc)
        and not any(c.isspace() or ord(c) > 126 for c in value)
    )


# jsonschema checks these formats only with optional packages installed: check them here.
FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("date-time")(_is_date_time)
FORMATS.checks("uri")(_is_uri)


def response_validator(spec: Spec, method: str, path: str, status: int) -> jsonschema.protocols.Validator | None:
    """A validator of the JSON body the spec documents for this status; None for no body."""
    responses = spec["paths"][path][method.lower()]["responses"]
    documented = responses.get(str(status))
    if documented is None:
        raise AssertionError(f"{method} {path} answered {status}; the spec documents only {sorted(responses)}")
    content = documented.get("content")
    if not content:
        return None
    schema = to_json_schema(content["application/json"]["schema"], spec)
    return jsonschema.Draft4Validator(schema, format_checker=FORMATS)


def check_response(spec: Spec, method: str, path: str, status: int, body: bytes) -> None:
    """Fail unless ``status`` is a documented 2xx and ``body`` matches its schema."""
    assert 200 <= status < 300, f"{method} {path}: {status} {body[:500]!r}"
    validator = response_validator(spec, method, path, status)
    if validator is None:
        assert body == b"", f"{method} {path}: {status} must have no body, got {body[:200]!r}"
        return
    errors = sorted(validator.iter_errors(json.loads(body)), key=lambda e: list(e.path))
    assert not errors, f"{method} {path} {status}: " + "; ".join(
        f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:5]
    )


# -- transports ------------------------------------------------------------------------------


def over_http(base_url: str, auth: tuple[str, str]) -> Call:
    """Requests to a running ``flexchat serve``; absolute targets (meta URLs) as they are."""
    session = requests.Session()
    session.auth = auth

    def call(method: str, target: str, data: dict[str, Any] | None) -> tuple[int, bytes]:
        url = target if target.startswith("http") else base_url + target
        response = session.request(method, url, data=data, timeout=30)
        return response.status_code, response.content

    return call


def in_process(instance: InProcessFlexchat, host: str) -> Call:
    """Requests handed to an in-process flexchat, relative targets sent to ``host``
    (routes go by path, so one host serves every product's setup requests too)."""

    def call(method: str, target: str, data: dict[str, Any] | None) -> tuple[int, bytes]:
        url = target if target.startswith("http") else host + target
        response = instance.request(method, url, data=data, auth=instance.auth)
        return response.status, response.body

    return call


# -- the scenario: every operation's success path --------------------------------------------


class Exercise:
    """What a product's scenario drives: ``do`` sends a request of one of the product's
    operations and validates its response; ``create`` sets up what it needs elsewhere."""

    def __init__(self, spec: Spec, call: Call) -> None:
        self.spec = spec
        self.call = call
        self.seen: Counter[Operation] = Counter()

    def do(self, method: str, path: str, target: str, data: dict[str, Any] | None = None) -> Any:
        """``target`` answered as the spec documents ``method path``; the body decoded."""
        status, body = self.call(method, target, data)
        check_response(self.spec, method, path, status, body)
        self.seen[(method, path)] += 1
        return json.loads(body) if body else None

    def create(self, target: str, data: dict[str, Any]) -> Any:
        """A POST that must answer 201 (a resource the scenario needs, not under test)."""
        status, body = self.call("POST", target, data)
        assert status == 201, body
        return json.loads(body)

    def every_page(self, path: str, target: str, key: str, total: int) -> None:
        """Every page of a list, forwards then back, through the URLs the server emits:
        ``total`` distinct items, and the way back ends where the way forth began."""
        page = self.do("GET", path, target)
        sids = [_item_sid(item) for item in page[key]]
        while page["meta"]["next_page_url"]:
            page = self.do("GET", path, page["meta"]["next_page_url"])
            sids += [_item_sid(item) for item in page[key]]
        assert len(sids) == len(set(sids)) == total, (path, sids)
        while page["meta"]["previous_page_url"]:
            page = self.do("GET", path, page["meta"]["previous_page_url"])
        assert _item_sid(page[key][0]) == sids[0]


def _item_sid(item: dict[str, Any]) -> str:
    # User Channels have no sid of their own: their channel_sid names them.
    return str(item.get("sid") or item["channel_sid"])


# -- generated requests ----------------------------------------------------------------------


class World(Protocol):
    """Real resources on the server, so a generated request can be sent again naming them
    and reach the operation's success path with generated input."""

    def path_parameters(self, path: str) -> dict[str, str]:
        """Values naming real resources for the path's parameters (none: sent once as generated)."""

    def fix_body(self, method: str, path: str, body: dict[str, Any]) -> bool:
        """Mend a generated form that cannot succeed as it is; True if it was, to send it again."""

    def renew(self, path: str) -> None:
        """Make again what a successful DELETE of ``path`` removed."""


class Resources:
    """The base of a product's World: an authenticated session on the server and the
    requests a world makes its resources with; generated forms go as they are."""

    def __init__(self, base_url: str, auth: tuple[str, str]) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.auth = auth

    def request(self, method: str, path: str, data: dict[str, Any] | None, expected: int) -> dict[str, Any]:
        """The body of a request that must answer ``expected``."""
        response = self.session.request(method, self.base_url + path, data=data, timeout=30)
        assert response.status_code == expected, response.text
        return dict(response.json())

    def post(self, path: str, data: dict[str, Any]) -> dict[str, Any]:
        """A resource created (201)."""
        return self.request("POST", path, data, 201)

    def get(self, path: str) -> dict[str, Any]:
        """A resource fetched (200)."""
        return self.request("GET", path, None, 200)

    def fix_body(self, method: str, path: str, body: dict[str, Any]) -> bool:
        """Nothing to mend unless a product's world says otherwise."""
        return False


@dataclass(frozen=True)
class Table:
    """One product's part of the suite: plug a new product in by adding one of these to
    ``tests/conformance/__init__.py TABLES``."""

    name: str  # test ids
    spec_name: str  # Twilio's OpenAPI file, in REFERENCE_DIR
    host: str  # the in-process requests' host
    operations: tuple[Operation, ...]
    scenario: Callable[[Exercise], None]  # through every operation, with ``Exercise.do``
    world: Callable[[str, tuple[str, str]], World]  # (base_url, auth) -> World
    examples: int = MAX_EXAMPLES  # per operation and generation mode
    required_in_ci: bool = False  # CI=true fails instead of skipping without the spec

    def spec(self) -> Spec:
        """The table's spec (skips, or fails under CI=true, when it is absent)."""
        return load_spec(self.spec_name, self.required_in_ci)

    def run_scenario(self, call: Call) -> None:
        """The scenario over ``call``; it must have gone through every operation of the table."""
        exercise = Exercise(self.spec(), call)
        self.scenario(exercise)
        assert set(exercise.seen) == set(self.operations)


@dataclass
class ConformanceReport:
    """What the generated requests did, per spec and engine: printed in the terminal summary."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    successes: Counter[tuple[str, str]] = field(default_factory=Counter)
    statuses: dict[tuple[str, str], Counter[int]] = field(default_factory=dict)
    seconds: dict[tuple[str, str], float] = field(default_factory=dict)
    operations: dict[str, set[Operation]] = field(default_factory=dict)

    def add(self, spec_name: str, engine: str, operation: Operation, statuses: Counter[int], seconds: float) -> None:
        """One operation's generated requests."""
        key = (spec_name, engine)
        self.requests[key] += sum(statuses.values())
        self.successes[key] += sum(n for status, n in statuses.items() if 200 <= status < 300)
        self.statuses.setdefault(key, Counter()).update(statuses)
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds
        self.operations.setdefault(spec_name, set()).add(operation)

    def lines(self) -> list[str]:
        """One line per spec and engine."""
        out = []
        for spec_name, engine in sorted(self.requests):
            key = (spec_name, engine)
            statuses = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses[key].items()))
            out.append(
                f"flexchat conformance [{engine}]: {self.requests[key]} generated requests for "
                f"{len(self.operations[spec_name])} operations of {spec_name} in {self.seconds[key]:.1f}s; "
                f"{self.successes[key]} 2xx bodies schema-valid, no 5xx (statuses {statuses})"
            )
        return out


class SummaryPlugin:
    """Prints the report at the end of the run (in the process that ran the tests)."""

    def __init__(self, report: ConformanceReport) -> None:
        self.report = report

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines = self.report.lines()
        if lines:
            terminalreporter.write_sep("-", "conformance to Twilio's OpenAPI specs")
            for line in lines:
                terminalreporter.write_line(line)


def send_generated_requests(
    table: Table,
    method: str,
    path: str,
    server: ServerProcess,
    account: Account,
    engine: str,
    report: ConformanceReport,
    record_property: Callable[[str, object], None],
) -> None:
    """schemathesis requests for one operation, positive then negative, each sent as
    generated, then (if the world says how) naming real resources and with a mended form:
    no 5xx, every response as the spec says, every 2xx body schema-valid, every other
    body Twilio's error, some 2xx."""
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

    spec = table.spec()
    operation = _schemathesis_schema(table.spec_name)[path][method]
    world = table.world(server.base_url, account.auth)
    session = requests.Session()
    authorization = "Basic " + base64.b64encode(f"{account.sid}:{account.auth_token}".encode()).decode()
    statuses: Counter[int] = Counter()
    started = time.perf_counter()

    def send(case: Any) -> None:
        response = case.call(base_url=server.base_url, session=session, headers={"Authorization": authorization})
        statuses[response.status_code] += 1
        case.validate_response(
            response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
        )
        if 200 <= response.status_code < 300:
            check_response(spec, method, path, response.status_code, response.content)
            if method == "DELETE":
                world.renew(path)
        elif "twilio-request-id" not in response.headers:  # names as received, lower case
            # Not flexchat's answer but the HTTP server's, to a request HTTP does not allow
            # (negative generation sends headers such as "Content-Length: Ne}bJf$38*+"):
            # a bare 400, as any front server gives before the API sees the request.
            assert response.status_code == 400 and not response.content, (response.status_code, response.text)
        else:
            # The specs document no error bodies; Twilio's are always these four keys.
            assert set(response.json()) == {"code", "message", "more_info", "status"}, response.text

    def run(mode: GenerationMode) -> None:
        @settings(
            max_examples=table.examples,
            deadline=None,
            # The same examples on every run: an operation whose valid inputs are rare
            # (POST /v1/Workspaces) must not pass or fail by the draw ("some 2xx" below).
            derandomize=True,
            database=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def each(case: Any) -> None:
            # As generated: random Sids mostly name nothing (404, 400), which must be answered well too.
            send(case)
            # Then with path parameters that name real resources, so success paths see generated input.
            real = world.path_parameters(path)
            if real:
                case.path_parameters = {**(case.path_parameters or {}), **real}
                send(case)
            if isinstance(case.body, dict) and world.fix_body(method, path, case.body):
                send(case)

        each()

    try:
        run(GenerationMode.POSITIVE)
        run(GenerationMode.NEGATIVE)
    finally:
        sent = sum(statuses.values())
        report.add(table.spec_name, engine, (method, path), statuses, time.perf_counter() - started)
        record_property("generated_requests", sent)
        if os.environ.get("PYTEST_XDIST_WORKER"):
            # Workers' terminal summaries are not shown; warnings are.
            warnings.warn(f"{method} {path} [{engine}]: {sent} generated requests", stacklevel=1)
    successes = sum(n for status, n in statuses.items() if 200 <= status < 300)
    assert successes > 0, f"no generated request to {method} {path} succeeded: {dict(statuses)}"
    assert not any(status >= 500 for status in statuses)


def operations_of(tables: list[Table]) -> Iterator[Any]:
    """One pytest param per (table, method, path), for the generated tests."""
    for table in tables:
        for method, path in table.operations:
            yield pytest.param(table, method, path, id=f"{table.name} {method} {path}")
