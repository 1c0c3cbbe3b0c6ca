"""Studio flow executions, as transaction scripts.

flexchat keeps no Studio Flow definitions and runs no widgets: an execution is a record
that a flow was triggered (by the REST API, or by a chat channel's ``studio`` webhook),
keyed by the Flow's ``FW`` sid alone, as Flex names Studio flows. Its context holds the
trigger, the flow's data and the contact, as Studio's would at the trigger widget.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from ..clock import now_us
from ..dates import now_iso
from ..errors import InvalidParameter
from ..paging import Window
from ..sids import mint_sid
from ..store.queries.studio import (
    DELETE_EXECUTION,
    END_EXECUTION,
    EXECUTION,
    FETCH_CONTACT_SID,
    FETCH_EXECUTION,
    INSERT_EXECUTION,
    LIST_CHANNEL_EXECUTIONS,
)
from ..store.sql import Paged, Script, page, paged
from .lookups import require_one
from .records import Execution

STATUSES = ("active", "ended")


def _insert(
    account_sid: str, flow_sid: str, address: str, context: dict[str, Any], initiated_by: str | None,
    channel_sid: str | None = None,
) -> Script[Execution]:
    rows = yield FETCH_CONTACT_SID(account_sid, flow_sid, address, address)
    contact_sid = rows[0][0] if rows else mint_sid("FC")
    now = now_iso()
    rows = yield INSERT_EXECUTION(
        mint_sid("FN"), account_sid, flow_sid, contact_sid, address, orjson.dumps(context).decode(),
        initiated_by, channel_sid, now, now, now_us(),
    )
    return Execution(*rows[0])


def _flow_context(flow_sid: str, address: str | None, data: dict[str, Any]) -> dict[str, Any]:
    flow: dict[str, Any] = {"flow_sid": flow_sid, "data": data, "variables": {}}
    if address is not None:
        flow["channel"] = {"address": address}
    return flow


def create_execution(
    account_sid: str, flow_sid: str, to: str, from_: str, parameters: dict[str, Any] | None = None
) -> Script[Execution]:
    """``POST /v2/Flows/{FlowSid}/Executions``: an active execution for contact ``to``;
    ``Parameters`` become ``flow.data``, as in Studio's REST API trigger."""
    data = parameters or {}
    context = {
        "trigger": {"request": {"to": to, "from": from_, "parameters": data}},
        "flow": _flow_context(flow_sid, from_, data),
        "contact": {"channel": {"address": to}},
        "widgets": {},
    }
    execution = yield from _insert(account_sid, flow_sid, to, context, None)
    return execution


def start_execution(
    account_sid: str, flow_sid: str, contact_channel_address: str, trigger_context: dict[str, Any]
) -> Script[Execution]:
    """An execution started by a trigger other than the REST API; for a chat channel's
    ``studio`` webhook ``trigger_context`` is ``{"message": {"ChannelSid", "Body", "From",
    "InstanceSid", "ChannelAttributes", ...}}`` and becomes the context's ``trigger``.
    ``initiated_by`` is the message's ``MessageSid`` (else its ``ChannelSid``), and the
    execution is listed by :func:`executions_of_channel` for that ``ChannelSid``."""
    message = trigger_context.get("message")
    initiated_by = channel_sid = None
    if isinstance(message, dict):
        channel_sid = message.get("ChannelSid") if isinstance(message.get("ChannelSid"), str) else None
        initiated_by = message.get("MessageSid") or channel_sid
    context = {
        "trigger": trigger_context,
        "flow": _flow_context(flow_sid, None, {}),
        "contact": {"channel": {"address": contact_channel_address}},
        "widgets": {},
    }
    execution = yield from _insert(
        account_sid, flow_sid, contact_channel_address, context, initiated_by, channel_sid
    )
    return execution


def executions_of_channel(account_sid: str, channel_sid: str) -> Script[list[Execution]]:
    """The executions a chat channel's messages started (any flow), oldest first: the
    executions' part of the channel's timeline."""
    rows = yield LIST_CHANNEL_EXECUTIONS(account_sid, channel_sid)
    return [Execution(*row) for row in rows]


def require_execution(account_sid: str, flow_sid: str, sid: str) -> Script[Execution]:
    """The flow's execution ``sid`` of this account, or 404."""
    execution = yield from require_one(
        FETCH_EXECUTION(sid, account_sid, flow_sid), Execution, f"/Flows/{flow_sid}/Executions/{sid}"
    )
    return execution


def update_execution(account_sid: str, flow_sid: str, sid: str, status: str) -> Script[Execution]:
    """``Status=ended`` ends an active execution (an ended one stays as it is); an
    execution is never made active again."""
    execution = yield from require_execution(account_sid, flow_sid, sid)
    if status != "ended":
        raise InvalidParameter("Invalid Status: an Execution can only be updated to ended")
    if execution.status == "ended":
        return execution
    # A delete that committed since the read leaves the UPDATE no row on PostgreSQL: a 404,
    # as if it had come first.
    ended = yield from require_one(
        END_EXECUTION(now_iso(), execution.seq, account_sid), Execution, f"/Flows/{flow_sid}/Executions/{sid}"
    )
    return ended


def delete_execution(account_sid: str, flow_sid: str, sid: str) -> Script[bool]:
    """Delete an execution; whether it existed."""
    rows = yield DELETE_EXECUTION(sid, account_sid, flow_sid)
    return bool(rows)


@dataclass(frozen=True)
class ExecutionFilters:
    """The execution list's filters (dates in the stored form: UTC, ``...Z``)."""

    status: str | None = None
    date_created_from: str | None = None
    date_created_to: str | None = None

    def shape(self) -> tuple[str, tuple[Any, ...]]:
        conditions, args = [], []
        if self.status is not None:
            conditions.append("status = ?")
            args.append(self.status)
        if self.date_created_from is not None:
            conditions.append("date_created >= ?")
            args.append(self.date_created_from)
        if self.date_created_to is not None:
            # "starting before this date-time"
            conditions.append("date_created < ?")
            args.append(self.date_created_to)
        return "".join(f" AND {c}" for c in conditions), tuple(args)


_LISTS: dict[str, Paged] = {}


def list_executions(
    account_sid: str, flow_sid: str, filters: ExecutionFilters, window: Window
) -> Script[tuple[list[Execution], bool]]:
    """One page of a flow's executions, newest first."""
    where, args = filters.shape()
    query = _LISTS.get(where)
    if query is None:
        query = _LISTS[where] = paged(
            f"SELECT {EXECUTION} FROM studio_executions WHERE account_sid = ? AND flow_sid = ?{where}"
        )
    rows, more = yield from page(query, (account_sid, flow_sid, *args), window, newest_first=True)
    return [Execution(*row) for row in rows], more


def context_of(execution: Execution) -> dict[str, Any]:
    """The execution's context object."""
    value: dict[str, Any] = json.loads(execution.context)
    return value


def parameters_object(raw: str) -> dict[str, Any]:
    """``Parameters``: a JSON object (sent as text, as the spec says)."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise InvalidParameter("Invalid Parameters: not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidParameter("Invalid Parameters: must be a JSON object")
    try:
        # The context nests Parameters a few levels down; orjson writes at most 255 levels.
        orjson.dumps({"trigger": {"request": {"parameters": value}}})
    except orjson.JSONEncodeError:
        raise InvalidParameter("Invalid Parameters: nested too deeply") from None
    return value
