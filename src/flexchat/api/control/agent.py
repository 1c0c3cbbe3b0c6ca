"""Playing the agent, in flexchat's own namespace (``/flexchat/v1/...``), with the
account's credentials: accept a task, reply, Send to Flex, wrap up, complete, end the chat
(domain/agent.py). Responses use the products' own representations."""

from __future__ import annotations

from ...context import AppContext
from ...delivery.reads import timeline_to_wire
from ...domain import agent
from ...http import Request, Response, json_response
from ...params import Param, parse, sid, text
from ..chat.channels import channel_to_wire
from ..chat.messages import message_to_wire
from ..common import path_sid

ACCEPT_PARAMS = (Param("Agent", "agent", required=True),)
MOVE_PARAMS = (Param("Reason", "reason"),)
MESSAGE_PARAMS = (Param("Agent", "agent", required=True), Param("Body", "body", text, required=True))
SEND_TO_FLEX_PARAMS = (
    Param("WorkspaceSid", "workspace_sid", sid("WS")),
    Param("WorkflowSid", "workflow_sid", sid("WW")),
)


async def _form(request: Request, ctx: AppContext, params: tuple[Param, ...]) -> dict[str, str]:
    return parse(await request.form(ctx.settings.max_body_bytes), params)


async def accept_task(request: Request, ctx: AppContext) -> Response:
    """``POST /flexchat/v1/Tasks/{Sid}/Accept``: the agent (``Agent``) takes the task and joins its chat."""
    values = await _form(request, ctx, ACCEPT_PARAMS)
    task = await ctx.store.write(agent.accept_task(request.account_sid, path_sid(request, "WT"), values["agent"]))
    return json_response(agent.task_to_wire(task))


async def wrap_up_task(request: Request, ctx: AppContext) -> Response:
    """``POST /flexchat/v1/Tasks/{Sid}/WrapUp``: the task moves to ``wrapping``."""
    values = await _form(request, ctx, MOVE_PARAMS)
    task = await ctx.store.write(agent.wrap_up(request.account_sid, path_sid(request, "WT"), values.get("reason")))
    return json_response(agent.task_to_wire(task))


async def complete_task(request: Request, ctx: AppContext) -> Response:
    """``POST /flexchat/v1/Tasks/{Sid}/Complete``: the task is completed; the janitor acts."""
    values = await _form(request, ctx, MOVE_PARAMS)
    task = await ctx.store.write(agent.complete(request.account_sid, path_sid(request, "WT"), values.get("reason")))
    return json_response(agent.task_to_wire(task))


async def create_agent_message(request: Request, ctx: AppContext) -> Response:
    """``POST /flexchat/v1/Channels/{Sid}/Messages``: the agent's reply (``Source=SDK``)."""
    values = await _form(request, ctx, MESSAGE_PARAMS)
    message = await ctx.store.write(
        agent.send_message(request.account_sid, path_sid(request, "CH"), values["agent"], values["body"])
    )
    return json_response(message_to_wire(message, ctx.base_url(request)), 201)


async def send_to_flex(request: Request, ctx: AppContext) -> Response:
    """``POST /flexchat/v1/Channels/{Sid}/SendToFlex``: Studio hands the chat to Flex."""
    values = await _form(request, ctx, SEND_TO_FLEX_PARAMS)
    task_sid = await ctx.store.write(
        agent.send_to_flex(
            request.account_sid, path_sid(request, "CH"), values.get("workspace_sid"), values.get("workflow_sid")
        )
    )
    return json_response({"channel_sid": request.path_params["Sid"], "task_sid": task_sid})


async def end_chat(request: Request, ctx: AppContext) -> Response:
    """``POST /flexchat/v1/Channels/{Sid}/End``: the agent ends the chat (``INACTIVE``)."""
    channel = await ctx.store.write(agent.end_chat(request.account_sid, path_sid(request, "CH")))
    return json_response(channel_to_wire(channel, ctx.base_url(request), None))


async def fetch_channel_timeline(request: Request, ctx: AppContext) -> Response:
    """``GET /flexchat/v1/Channels/{Sid}/Timeline``: the chat's messages, deliveries (with
    their attempts), task moves and Studio executions, in order."""
    entries = await ctx.store.read(agent.timeline(request.account_sid, path_sid(request, "CH")))
    return json_response({"channel_sid": request.path_params["Sid"], "timeline": timeline_to_wire(entries)})
