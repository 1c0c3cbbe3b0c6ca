"""Studio v2 routes (studio.twilio.com)."""

from __future__ import annotations

from ...routing import Route
from . import executions

EXECUTIONS = "/v2/Flows/{FlowSid}/Executions"


def routes() -> list[Route]:
    """Every Studio path and method flexchat serves."""
    return [
        Route(EXECUTIONS, {"GET": executions.list_executions, "POST": executions.create_execution}),
        Route(
            f"{EXECUTIONS}/{{Sid}}",
            {
                "GET": executions.fetch_execution,
                "POST": executions.update_execution,
                "DELETE": executions.delete_execution,
            },
        ),
        Route(f"{EXECUTIONS}/{{ExecutionSid}}/Context", {"GET": executions.fetch_execution_context}),
        Route(f"{EXECUTIONS}/{{ExecutionSid}}/Steps", {"GET": executions.list_execution_steps}),
    ]
