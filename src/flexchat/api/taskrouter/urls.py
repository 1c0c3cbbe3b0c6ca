"""TaskRouter v1 routes (taskrouter.twilio.com)."""

from __future__ import annotations

from ...routing import Route
from . import task_channels, tasks, workflows, workspaces

WORKSPACE = "/v1/Workspaces/{WorkspaceSid}"


def routes() -> list[Route]:
    """Every TaskRouter path and method flexchat serves."""
    return [
        Route("/v1/Workspaces", {"GET": workspaces.list_workspaces, "POST": workspaces.create_workspace}),
        Route(
            "/v1/Workspaces/{Sid}",
            {
                "GET": workspaces.fetch_workspace,
                "POST": workspaces.update_workspace,
                "DELETE": workspaces.delete_workspace,
            },
        ),
        Route(f"{WORKSPACE}/Workflows", {"GET": workflows.list_workflows, "POST": workflows.create_workflow}),
        Route(
            f"{WORKSPACE}/Workflows/{{Sid}}",
            {
                "GET": workflows.fetch_workflow,
                "POST": workflows.update_workflow,
                "DELETE": workflows.delete_workflow,
            },
        ),
        Route(
            f"{WORKSPACE}/TaskChannels",
            {"GET": task_channels.list_task_channels, "POST": task_channels.create_task_channel},
        ),
        Route(
            f"{WORKSPACE}/TaskChannels/{{Sid}}",
            {
                "GET": task_channels.fetch_task_channel,
                "POST": task_channels.update_task_channel,
                "DELETE": task_channels.delete_task_channel,
            },
        ),
        Route(f"{WORKSPACE}/Tasks", {"GET": tasks.list_tasks, "POST": tasks.create_task}),
        Route(
            f"{WORKSPACE}/Tasks/{{Sid}}",
            {"GET": tasks.fetch_task, "POST": tasks.update_task, "DELETE": tasks.delete_task},
        ),
    ]
