"""flexchat's own routes (``/flexchat/v1/...``), authenticated like the API."""

from __future__ import annotations

from ...routing import CONTROL, Route
from . import faults


def routes() -> list[Route]:
    """Every control path and method."""
    return [
        Route("/flexchat/v1/Faults", {"GET": faults.list_faults, "DELETE": faults.delete_faults}, CONTROL),
        Route(
            "/flexchat/v1/Faults/{Family}",
            {"GET": faults.fetch_fault, "POST": faults.update_fault, "DELETE": faults.delete_fault},
            CONTROL,
        ),
    ]
