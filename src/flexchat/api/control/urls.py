"""flexchat's own routes (``/flexchat/v1/...``), authenticated like the API."""

from __future__ import annotations

from ...routing import CONTROL, Route
from . import agent, faults


def routes() -> list[Route]:
    """Every control path and method."""
    return [
        Route("/flexchat/v1/Faults", {"GET": faults.list_faults, "DELETE": faults.delete_faults}, CONTROL),
        Route(
            "/flexchat/v1/Faults/{Family}",
            {"GET": faults.fetch_fault, "POST": faults.update_fault, "DELETE": faults.delete_fault},
            CONTROL,
        ),
        Route("/flexchat/v1/Tasks/{Sid}/Accept", {"POST": agent.accept_task}, CONTROL),
        Route("/flexchat/v1/Tasks/{Sid}/WrapUp", {"POST": agent.wrap_up_task}, CONTROL),
        Route("/flexchat/v1/Tasks/{Sid}/Complete", {"POST": agent.complete_task}, CONTROL),
        Route("/flexchat/v1/Channels/{Sid}/Messages", {"POST": agent.create_agent_message}, CONTROL),
        Route("/flexchat/v1/Channels/{Sid}/SendToFlex", {"POST": agent.send_to_flex}, CONTROL),
        Route("/flexchat/v1/Channels/{Sid}/End", {"POST": agent.end_chat}, CONTROL),
    ]
